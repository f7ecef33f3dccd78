//! The network configuration, its validation, and the preset files that fill it.

use serde::{Deserialize, Serialize};

use super::{Activation, Init};

/// Network architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    /// A deep multilayer perceptron: `depth` hidden layers of `width` units.
    Mlp,
    /// A recurrent net (cell: vanilla, LSTM or GRU) unrolled over `depth` time steps with `width` hidden
    /// units.
    Rnn,
}

/// The recurrent cell of an RNN (docs/DESIGN.md §Equations gives each one's equations and gate order).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Cell {
    /// `h_t = f(W_x x_t + W_h h_{t-1} + b)`.
    #[default]
    Vanilla,
    /// Long short-term memory: input, forget, candidate and output gates and a cell state `c_t`.
    Lstm,
    /// Gated recurrent unit: reset, update and candidate.
    Gru,
}

impl Cell {
    /// All cells, in menu order.
    pub const ALL: [Cell; 3] = [Cell::Vanilla, Cell::Lstm, Cell::Gru];

    /// The name the CLI, presets and config strings use.
    pub fn name(self) -> &'static str {
        match self {
            Cell::Vanilla => "vanilla",
            Cell::Lstm => "lstm",
            Cell::Gru => "gru",
        }
    }

    /// Blocks of `width` rows stacked in W_x, W_h and b: 1, 4 (i, f, g, o) or 3 (r, z, n).
    pub const fn gates(self) -> usize {
        match self {
            Cell::Vanilla => 1,
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }

    /// Names of the blocks in order (the candidate uses the config's activation, the others a sigmoid).
    pub fn gate_names(self) -> &'static [&'static str] {
        match self {
            Cell::Vanilla => &["f"],
            Cell::Lstm => &["input", "forget", "candidate", "output"],
            Cell::Gru => &["reset", "update", "candidate"],
        }
    }

    /// Index of the gate whose high value keeps the old state: LSTM forget, GRU update.
    pub fn keep_gate(self) -> Option<usize> {
        match self {
            Cell::Vanilla => None,
            Cell::Lstm => Some(1),
            Cell::Gru => Some(1),
        }
    }

    /// Index of the candidate block (the config's activation).
    pub fn candidate(self) -> usize {
        match self {
            Cell::Vanilla => 0,
            Cell::Lstm => 2,
            Cell::Gru => 2,
        }
    }

    /// Whether this is a gated cell (LSTM or GRU).
    pub fn is_gated(self) -> bool {
        self != Cell::Vanilla
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Normalization of the MLP's hidden pre-activations (docs/DESIGN.md §Equations).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Norm {
    /// No normalization.
    #[default]
    None,
    /// LayerNorm: each sample's pre-activation normalized over the layer's units, then γ ⊙ ẑ + β.
    Layer,
    /// BatchNorm (training mode): each unit's pre-activation normalized over the batch, then γ ⊙ ẑ + β.
    Batch,
}

impl Norm {
    /// All norms, in menu order.
    pub const ALL: [Norm; 3] = [Norm::None, Norm::Layer, Norm::Batch];

    /// The name the CLI, presets and config strings use.
    pub fn name(self) -> &'static str {
        match self {
            Norm::None => "none",
            Norm::Layer => "layer",
            Norm::Batch => "batch",
        }
    }

    /// The name figures and the panel show: "none", "LayerNorm", "BatchNorm".
    pub fn label(self) -> &'static str {
        match self {
            Norm::None => "none",
            Norm::Layer => "LayerNorm",
            Norm::Batch => "BatchNorm",
        }
    }
}

impl std::fmt::Display for Norm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// ε added to the variance in LayerNorm and BatchNorm.
pub const NORM_EPS: f64 = 1e-5;

fn is_no_norm(n: &Norm) -> bool {
    *n == Norm::None
}

/// Default bias of the keep gate (LSTM forget gate, GRU update gate) at init (Jozefowicz et al. 2015).
pub const DEFAULT_FORGET_BIAS: f64 = 1.0;
/// Largest |forget bias|.
pub const MAX_FORGET_BIAS: f64 = 20.0;

fn default_forget_bias() -> f64 {
    DEFAULT_FORGET_BIAS
}

fn is_default_forget_bias(v: &f64) -> bool {
    *v == DEFAULT_FORGET_BIAS
}

fn is_vanilla(c: &Cell) -> bool {
    *c == Cell::Vanilla
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

impl Arch {
    /// Largest depth: hidden layers of an MLP ([`MAX_MLP_DEPTH`]), unrolled time steps of an RNN
    /// ([`MAX_RNN_STEPS`]).
    pub const fn max_depth(self) -> usize {
        match self {
            Arch::Mlp => MAX_MLP_DEPTH,
            Arch::Rnn => MAX_RNN_STEPS,
        }
    }

    /// The depths this architecture allows, `1..=max_depth`.
    pub const fn depth_range(self) -> std::ops::RangeInclusive<usize> {
        1..=self.max_depth()
    }

    /// What one unit of depth is, in the plural: "layers" or "time steps".
    pub const fn depth_unit(self) -> &'static str {
        match self {
            Arch::Mlp => "layers",
            Arch::Rnn => "time steps",
        }
    }
}
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
    /// RNN only: the recurrent cell. Absent in older configs (vanilla).
    #[serde(default, skip_serializing_if = "is_vanilla")]
    pub cell: Cell,
    /// LSTM and GRU: the bias of the keep gate (LSTM forget, GRU update) at init, added to the drawn biases.
    #[serde(
        default = "default_forget_bias",
        skip_serializing_if = "is_default_forget_bias"
    )]
    pub forget_bias: f64,
    /// MLP only: normalization of every hidden layer's pre-activation. Absent in older configs (none).
    #[serde(default, skip_serializing_if = "is_no_norm")]
    pub norm: Norm,
}

impl NetConfig {
    /// True where `other` runs the same training program as `self`: every field equal except those that
    /// only set the initial state (init, gain, bias std, spectral radius, forget bias, seed). Such nets can
    /// train together in one population engine.
    pub fn same_program(&self, other: &NetConfig) -> bool {
        let initial_state_of_self = NetConfig {
            init: self.init,
            gain: self.gain,
            bias_std: self.bias_std,
            spectral_radius: self.spectral_radius,
            forget_bias: self.forget_bias,
            seed: self.seed,
            ..other.clone()
        };
        *self == initial_state_of_self
    }
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
            cell: Cell::Vanilla,
            forget_bias: DEFAULT_FORGET_BIAS,
            norm: Norm::None,
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

/// What it takes to go from one configuration to another (see [`NetConfig::change_from`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigChange {
    /// The configurations are equal: nothing to do.
    Unchanged,
    /// Only the activation differs: the network keeps its initial weights (a fair comparison) and
    /// restarts from step 0 with the new activation.
    Activation,
    /// Only the learning rate and/or the clipping threshold differ: set in place, training goes on.
    Training,
    /// Anything else differs (shapes, init, data, seed or the update rule, whose state lives with the
    /// network): a new network from step 0.
    Rebuild,
}

impl NetConfig {
    /// Switches the architecture and makes the fields that depend on it fit: a task of the new
    /// architecture (its default unless the current one fits), residual connections only for the MLP,
    /// the W_h spectral radius only for the RNN, and the depth clamped to the architecture's
    /// [`Arch::max_depth`]. Every other field is kept. The one rule for the window's architecture switch
    /// and for presets and CLI flags (which then apply the keys they give explicitly).
    pub fn set_arch(&mut self, arch: Arch) {
        self.arch = arch;
        if !self.task.fits(arch) {
            self.task = Task::default_for(arch);
        }
        match arch {
            Arch::Mlp => {
                self.spectral_radius = None;
                self.cell = Cell::Vanilla;
            }
            Arch::Rnn => {
                self.residual = false;
                self.norm = Norm::None;
            }
        }
        self.depth = self.depth.clamp(1, arch.max_depth());
    }

    /// How `self` differs from `old`, the configuration running now: what applying `self` takes.
    pub fn change_from(&self, old: &NetConfig) -> ConfigChange {
        // destructured so that a new field must be classified here before this compiles
        let NetConfig {
            arch,
            depth,
            width,
            activation,
            init,
            gain,
            residual,
            bias_std,
            batch,
            lr,
            optimizer,
            clip,
            seed,
            task,
            spectral_radius,
            cell,
            forget_bias,
            norm,
        } = self;
        let same_network = *arch == old.arch
            && *depth == old.depth
            && *width == old.width
            && *init == old.init
            && *gain == old.gain
            && *residual == old.residual
            && *bias_std == old.bias_std
            && *batch == old.batch
            && *optimizer == old.optimizer
            && *seed == old.seed
            && *task == old.task
            && *spectral_radius == old.spectral_radius
            && *cell == old.cell
            && *forget_bias == old.forget_bias
            && *norm == old.norm;
        let same_activation = *activation == old.activation;
        let same_training = *lr == old.lr && *clip == old.clip;
        match (same_network, same_activation, same_training) {
            (true, true, true) => ConfigChange::Unchanged,
            (true, false, true) => ConfigChange::Activation,
            (true, true, false) => ConfigChange::Training,
            _ => ConfigChange::Rebuild,
        }
    }

    /// Checks every field; the error names the field, the value and the allowed range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.arch.depth_range().contains(&self.depth) {
            let arch = match self.arch {
                Arch::Mlp => "an mlp",
                Arch::Rnn => "an rnn",
            };
            return Err(out_of_range(
                "depth",
                self.depth,
                format!(
                    "1..={} {} for {arch}",
                    self.arch.max_depth(),
                    self.arch.depth_unit()
                ),
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
        if !(self.forget_bias.is_finite() && self.forget_bias.abs() <= MAX_FORGET_BIAS) {
            return Err(out_of_range(
                "forget-bias",
                self.forget_bias,
                format!("a finite number in [-{MAX_FORGET_BIAS}, {MAX_FORGET_BIAS}]"),
            ));
        }
        if self.norm != Norm::None && self.arch != Arch::Mlp {
            return Err(ConfigError::Inconsistent(format!(
                "norm {} normalizes an mlp's hidden layers; an rnn has none here (leave --norm out)",
                self.norm
            )));
        }
        if self.cell != Cell::Vanilla && self.arch != Arch::Rnn {
            return Err(ConfigError::Inconsistent(format!(
                "cell {} is a recurrent cell; an mlp has none (use --arch rnn, or leave --cell out)",
                self.cell
            )));
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
            Arch::Rnn => {
                let g = self.cell.gates() as f64;
                6.0 * b * d * g * (i * w + w * w) + 6.0 * b * w * o
            }
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
        if self.cell.is_gated() {
            s.push_str(&format!(
                " cell {} forget-bias {}",
                self.cell, self.forget_bias
            ));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rnn() -> NetConfig {
        NetConfig {
            arch: Arch::Rnn,
            task: Task::Memory,
            depth: 1500,
            spectral_radius: Some(1.5),
            ..NetConfig::default()
        }
    }

    #[test]
    fn max_depth_per_arch() {
        assert_eq!(Arch::Mlp.max_depth(), MAX_MLP_DEPTH);
        assert_eq!(Arch::Rnn.max_depth(), MAX_RNN_STEPS);
        assert_eq!(Arch::Rnn.depth_range(), 1..=MAX_RNN_STEPS);
        let too_deep = NetConfig {
            depth: MAX_MLP_DEPTH + 1,
            ..NetConfig::default()
        };
        let msg = too_deep.validate().unwrap_err().to_string();
        assert!(msg.contains("1..=1024 layers for an mlp"), "{msg}");
        let msg = NetConfig {
            depth: MAX_RNN_STEPS + 1,
            ..rnn()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(msg.contains("1..=2000 time steps for an rnn"), "{msg}");
    }

    #[test]
    fn set_arch_to_rnn_drops_residual_and_picks_an_rnn_task() {
        let mut cfg = NetConfig {
            residual: true,
            task: Task::Spiral,
            depth: 30,
            ..NetConfig::default()
        };
        cfg.set_arch(Arch::Rnn);
        assert_eq!(cfg.arch, Arch::Rnn);
        assert!(!cfg.residual);
        assert_eq!(cfg.task, Task::Adding);
        assert_eq!(cfg.depth, 30, "a depth that fits is kept");
        assert_eq!(cfg.spectral_radius, None);
        assert!(cfg.validate().is_ok());
    }

    #[test]
    fn set_arch_to_mlp_clamps_depth_and_drops_spectral_radius() {
        let mut cfg = rnn();
        cfg.set_arch(Arch::Mlp);
        assert_eq!(cfg.depth, MAX_MLP_DEPTH);
        assert_eq!(cfg.spectral_radius, None);
        assert_eq!(cfg.task, Task::Teacher);
        assert!(cfg.validate().is_ok());
    }

    #[test]
    fn set_arch_to_the_same_arch_keeps_a_valid_config() {
        let mut cfg = rnn();
        cfg.set_arch(Arch::Rnn);
        assert_eq!(
            cfg,
            rnn(),
            "a task that fits stays (memory, not the default adding)"
        );
        let mut mlp = NetConfig {
            residual: true,
            task: Task::Spiral,
            ..NetConfig::default()
        };
        let before = mlp.clone();
        mlp.set_arch(Arch::Mlp);
        assert_eq!(mlp, before);
    }

    #[test]
    fn presets_and_flags_switch_arch_by_the_same_rule_and_explicit_keys_win() {
        use crate::model::NetworkOverlay;
        let overlay = |arch, f: &dyn Fn(&mut NetworkOverlay)| {
            let mut o = NetworkOverlay {
                arch: Some(arch),
                ..NetworkOverlay::default()
            };
            f(&mut o);
            o
        };
        // the same result as the window's switch
        let mut by_overlay = rnn();
        overlay(Arch::Mlp, &|_| {}).apply(&mut by_overlay);
        let mut by_switch = rnn();
        by_switch.set_arch(Arch::Mlp);
        assert_eq!(by_overlay, by_switch);
        assert_eq!(by_overlay.depth, MAX_MLP_DEPTH);
        // a depth given explicitly is not clamped: validation names it
        let mut cfg = rnn();
        overlay(Arch::Mlp, &|o| o.depth = Some(1500)).apply(&mut cfg);
        assert_eq!(cfg.depth, 1500);
        assert!(cfg.validate().is_err());
        // residual given explicitly for an rnn stays, and validation refuses it
        let mut cfg = NetConfig::default();
        overlay(Arch::Rnn, &|o| o.residual = Some(true)).apply(&mut cfg);
        assert!(cfg.residual && cfg.validate().is_err());
        // a spectral radius given with the switch to rnn applies
        let mut cfg = NetConfig::default();
        overlay(Arch::Rnn, &|o| o.spectral_radius = Some(0.9)).apply(&mut cfg);
        assert_eq!(cfg.spectral_radius, Some(0.9));
        assert_eq!(cfg.task, Task::Adding);
        assert!(cfg.validate().is_ok());
    }

    #[test]
    fn change_from_classifies_every_field() {
        let old = NetConfig::default();
        let change = |f: &dyn Fn(&mut NetConfig)| {
            let mut new = old.clone();
            f(&mut new);
            new.change_from(&old)
        };
        assert_eq!(old.change_from(&old), ConfigChange::Unchanged);
        assert_eq!(
            change(&|c| c.activation = Activation::Relu),
            ConfigChange::Activation
        );
        assert_eq!(change(&|c| c.lr = 0.5), ConfigChange::Training);
        assert_eq!(change(&|c| c.clip = Some(1.0)), ConfigChange::Training);
        assert_eq!(
            change(&|c| {
                c.lr = 0.5;
                c.clip = Some(1.0);
            }),
            ConfigChange::Training
        );
        type Edit<'a> = &'a dyn Fn(&mut NetConfig);
        let rebuilds: [(&str, Edit<'_>); 13] = [
            ("arch", &|c| c.set_arch(Arch::Rnn)),
            ("depth", &|c| c.depth = 7),
            ("width", &|c| c.width = 7),
            ("init", &|c| c.init = Init::HeNormal),
            ("gain", &|c| c.gain = 2.0),
            ("residual", &|c| c.residual = true),
            ("bias-std", &|c| c.bias_std = 0.5),
            ("batch", &|c| c.batch = 7),
            ("optimizer", &|c| c.optimizer = Optimizer::Adam),
            ("seed", &|c| c.seed = 7),
            ("task", &|c| c.task = Task::Spiral),
            ("spectral-radius", &|c| c.spectral_radius = Some(1.0)),
            ("activation and lr", &|c| {
                c.activation = Activation::Tanh;
                c.lr = 0.5;
            }),
        ];
        for (what, f) in rebuilds {
            assert_eq!(change(f), ConfigChange::Rebuild, "{what}");
        }
    }
}
