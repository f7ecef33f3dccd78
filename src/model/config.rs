//! The network configuration, its validation, and the preset files that fill it.

use serde::{Deserialize, Serialize};

use super::{Activation, Init};

/// Network architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    /// A deep multilayer perceptron: `depth` hidden layers of `width` units.
    Mlp,
    /// A vanilla recurrent net unrolled over `depth` time steps with `width` hidden units.
    Rnn,
}

/// Parameter update rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Optimizer {
    /// Plain gradient descent.
    Sgd,
    /// Heavy-ball momentum, coefficient [`MOMENTUM`].
    Momentum,
    /// Adam with β1 = 0.9, β2 = 0.999, ε = 1e-8.
    Adam,
}

/// Momentum coefficient of [`Optimizer::Momentum`]. Keep in sync with `shaders/update.wgsl`.
pub const MOMENTUM: f64 = 0.9;
/// Adam's β1. Keep in sync with `shaders/update.wgsl`.
pub const ADAM_BETA1: f64 = 0.9;
/// Adam's β2. Keep in sync with `shaders/update.wgsl`.
pub const ADAM_BETA2: f64 = 0.999;
/// Adam's ε. Keep in sync with `shaders/update.wgsl`.
pub const ADAM_EPS: f64 = 1e-8;

/// The learning task (and with it the loss).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// MLP: regress the outputs of a fixed random teacher net (mean squared error).
    Teacher,
    /// MLP: classify points of a three-armed 2-D spiral (softmax cross-entropy).
    Spiral,
    /// RNN: the adding problem; output the sum of the two marked values among T (mean squared error).
    Adding,
    /// RNN: recall the sign of the first input after T steps (softmax cross-entropy).
    Memory,
}

impl Task {
    /// Whether the task belongs to the architecture.
    pub fn fits(self, arch: Arch) -> bool {
        matches!(
            (self, arch),
            (Task::Teacher | Task::Spiral, Arch::Mlp) | (Task::Adding | Task::Memory, Arch::Rnn)
        )
    }

    /// The default task of an architecture.
    pub fn default_for(arch: Arch) -> Task {
        match arch {
            Arch::Mlp => Task::Teacher,
            Arch::Rnn => Task::Adding,
        }
    }
}

/// Largest MLP depth.
pub const MAX_MLP_DEPTH: usize = 1024;
/// Largest number of unrolled RNN time steps.
pub const MAX_RNN_STEPS: usize = 2000;
/// Largest width (hidden units).
pub const MAX_WIDTH: usize = 1024;
/// Largest batch.
pub const MAX_BATCH: usize = 4096;
/// Largest learning rate.
pub const MAX_LR: f64 = 100.0;
/// Largest init gain.
pub const MAX_GAIN: f64 = 100.0;
/// Largest spectral radius W_h may be rescaled to at init.
pub const MAX_SPECTRAL_RADIUS: f64 = 100.0;

/// One network and its training setup: everything needed to reproduce a run bit for bit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetConfig {
    /// MLP or RNN.
    pub arch: Arch,
    /// Hidden layers (MLP) or unrolled time steps (RNN).
    pub depth: usize,
    /// Units per hidden layer (MLP) or hidden size (RNN).
    pub width: usize,
    /// Hidden activation.
    pub activation: Activation,
    /// Weight init scheme of the hidden layers.
    pub init: Init,
    /// Multiplies the init scale.
    pub gain: f64,
    /// Residual connections `a_l = f(z_l) + a_{l-1}` for l >= 2 (MLP only).
    pub residual: bool,
    /// Standard deviation of the initial biases (0: biases start at zero).
    pub bias_std: f64,
    /// Samples per batch (the training set is one fixed batch).
    pub batch: usize,
    /// Learning rate.
    pub lr: f64,
    /// Update rule.
    pub optimizer: Optimizer,
    /// Global-norm gradient clipping threshold; `None` is off.
    pub clip: Option<f64>,
    /// Seed of the data and the initial weights.
    pub seed: u64,
    /// Learning task.
    pub task: Task,
    /// RNN only: at init, W_h is rescaled so its spectral radius (largest |eigenvalue|) equals this value;
    /// `None` keeps the init scheme's scale. Absent in older configs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spectral_radius: Option<f64>,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            arch: Arch::Mlp,
            depth: 20,
            width: 64,
            activation: Activation::Sigmoid,
            init: Init::XavierNormal,
            gain: 1.0,
            residual: false,
            bias_std: 0.0,
            batch: 128,
            lr: 0.1,
            optimizer: Optimizer::Sgd,
            clip: None,
            seed: 1,
            task: Task::Teacher,
            spectral_radius: None,
        }
    }
}

/// A configuration value out of its allowed range, or values that do not fit together.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// One field is out of range.
    #[error("{field} = {value} is out of range: {allowed}")]
    OutOfRange {
        /// The field name as the CLI and preset files spell it.
        field: &'static str,
        /// The offending value.
        value: String,
        /// The allowed range, in words.
        allowed: String,
    },
    /// Two fields contradict each other.
    #[error("{0}")]
    Inconsistent(String),
}

fn out_of_range(field: &'static str, value: impl ToString, allowed: impl ToString) -> ConfigError {
    ConfigError::OutOfRange {
        field,
        value: value.to_string(),
        allowed: allowed.to_string(),
    }
}

impl NetConfig {
    /// Checks every field; the error names the field, the value and the allowed range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let max_depth = match self.arch {
            Arch::Mlp => MAX_MLP_DEPTH,
            Arch::Rnn => MAX_RNN_STEPS,
        };
        if !(1..=max_depth).contains(&self.depth) {
            let what = match self.arch {
                Arch::Mlp => "layers for an mlp",
                Arch::Rnn => "time steps for an rnn",
            };
            return Err(out_of_range(
                "depth",
                self.depth,
                format!("1..={max_depth} {what}"),
            ));
        }
        if !(1..=MAX_WIDTH).contains(&self.width) {
            return Err(out_of_range(
                "width",
                self.width,
                format!("1..={MAX_WIDTH}"),
            ));
        }
        if !(1..=MAX_BATCH).contains(&self.batch) {
            return Err(out_of_range(
                "batch",
                self.batch,
                format!("1..={MAX_BATCH}"),
            ));
        }
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= MAX_LR) {
            return Err(out_of_range(
                "lr",
                self.lr,
                format!("a finite number in (0, {MAX_LR}]"),
            ));
        }
        if !(self.gain.is_finite() && self.gain > 0.0 && self.gain <= MAX_GAIN) {
            return Err(out_of_range(
                "gain",
                self.gain,
                format!("a finite number in (0, {MAX_GAIN}]"),
            ));
        }
        if !(self.bias_std.is_finite() && (0.0..=10.0).contains(&self.bias_std)) {
            return Err(out_of_range(
                "bias-std",
                self.bias_std,
                "a finite number in [0, 10]",
            ));
        }
        if let Some(clip) = self.clip
            && !(clip.is_finite() && clip > 0.0)
        {
            return Err(out_of_range(
                "clip",
                clip,
                "a finite number > 0 (leave it out to turn clipping off)",
            ));
        }
        if let Some(rho) = self.spectral_radius {
            if !(rho.is_finite() && rho > 0.0 && rho <= MAX_SPECTRAL_RADIUS) {
                return Err(out_of_range(
                    "spectral-radius",
                    rho,
                    format!(
                        "a finite number in (0, {MAX_SPECTRAL_RADIUS}] (leave it out to keep the init's scale)"
                    ),
                ));
            }
            if self.arch != Arch::Rnn {
                return Err(ConfigError::Inconsistent(
                    "spectral-radius rescales the recurrent matrix W_h of an rnn; an mlp has none (leave it out)".into(),
                ));
            }
        }
        if !self.task.fits(self.arch) {
            let allowed = match self.arch {
                Arch::Mlp => "teacher or spiral",
                Arch::Rnn => "adding or memory",
            };
            return Err(ConfigError::Inconsistent(format!(
                "task {:?} does not fit arch {:?}: use {allowed}",
                self.task, self.arch
            )));
        }
        if self.residual && self.arch == Arch::Rnn {
            return Err(ConfigError::Inconsistent(
                "residual connections are for the mlp; an rnn has none (turn residual off)".into(),
            ));
        }
        Ok(())
    }

    /// Input dimension, set by the task.
    pub fn d_in(&self) -> usize {
        match self.task {
            Task::Teacher => super::task::TEACHER_D_IN,
            Task::Spiral => 2,
            Task::Adding => 2,
            Task::Memory => 1,
        }
    }

    /// Output dimension, set by the task.
    pub fn d_out(&self) -> usize {
        match self.task {
            Task::Teacher => super::task::TEACHER_D_OUT,
            Task::Spiral => super::task::SPIRAL_CLASSES,
            Task::Adding => 1,
            Task::Memory => 2,
        }
    }

    /// The loss the task uses.
    pub fn loss(&self) -> LossKind {
        match self.task {
            Task::Teacher | Task::Adding => LossKind::Mse,
            Task::Spiral | Task::Memory => LossKind::CrossEntropy,
        }
    }

    /// Floating-point operations of one training step, about 6·B·(weights) (forward 2, backward 4).
    pub fn flops_per_step(&self) -> f64 {
        let (b, w, d) = (self.batch as f64, self.width as f64, self.depth as f64);
        let (i, o) = (self.d_in() as f64, self.d_out() as f64);
        match self.arch {
            Arch::Mlp => 6.0 * b * (i * w + (d - 1.0) * w * w + w * o),
            Arch::Rnn => 6.0 * b * d * (i * w + w * w) + 6.0 * b * w * o,
        }
    }

    /// A one-line summary for captions and logs.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{:?} depth {} width {} {} init {} gain {} batch {} lr {} {:?} task {:?} seed {}",
            self.arch,
            self.depth,
            self.width,
            self.activation,
            self.init,
            self.gain,
            self.batch,
            self.lr,
            self.optimizer,
            self.task,
            self.seed
        )
        .to_lowercase();
        if self.residual {
            s.push_str(" residual");
        }
        if let Some(c) = self.clip {
            s.push_str(&format!(" clip {c}"));
        }
        if self.bias_std > 0.0 {
            s.push_str(&format!(" bias-std {}", self.bias_std));
        }
        if let Some(rho) = self.spectral_radius {
            s.push_str(&format!(" spectral-radius {rho}"));
        }
        s
    }
}

/// The loss a task trains with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossKind {
    /// `(1/(2B)) Σ ||ŷ - y||²`.
    Mse,
    /// Mean softmax cross-entropy against one-hot targets.
    CrossEntropy,
}

impl LossKind {
    /// Shader id. Keep in sync with `shaders/loss.wgsl`.
    pub fn shader_id(self) -> u32 {
        match self {
            LossKind::Mse => 0,
            LossKind::CrossEntropy => 1,
        }
    }
}
