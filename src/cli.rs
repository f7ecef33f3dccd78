//! Command-line CONFIG flags of every subcommand that builds a network (docs/DESIGN.md §Interfaces), and their
//! resolution into a validated [`NetConfig`]: the preset (or the default preset) first, then each flag.

use clap::Args;

use crate::model::{
    Activation, Arch, Cell, DEFAULT_PRESET, Init, NetConfig, NetworkOverlay, Norm, Optimizer,
    Preset, Task, TrainingOverlay,
};

/// Which engine computes the statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineKind {
    /// WGSL compute shaders through wgpu.
    #[default]
    Gpu,
    /// The CPU f64 reference.
    Cpu,
}

/// GPU backend choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendArg {
    /// Vulkan (Linux, Windows, Android).
    Vulkan,
    /// Metal (macOS).
    Metal,
    /// Direct3D 12 (Windows).
    Dx12,
}

/// The CONFIG flags (docs/DESIGN.md §Interfaces).
#[derive(Args, Clone, Debug, Default)]
pub struct ConfigArgs {
    /// A built-in preset name (see `gradscope presets`) or a path to a preset .toml file
    #[arg(long, value_name = "NAME|FILE.toml")]
    pub preset: Option<String>,
    /// Architecture: mlp, or rnn (depth = unrolled time steps, width = hidden size)
    #[arg(long, value_enum)]
    pub arch: Option<Arch>,
    /// Hidden layers (mlp, 1..=1024) or time steps (rnn, 1..=2000)
    #[arg(long)]
    pub depth: Option<usize>,
    /// Units per layer (1..=1024)
    #[arg(long)]
    pub width: Option<usize>,
    /// Hidden activation
    #[arg(long, value_enum)]
    pub activation: Option<Activation>,
    /// Weight init scheme
    #[arg(long, value_enum)]
    pub init: Option<Init>,
    /// Multiplies the init scale (> 0)
    #[arg(long, allow_negative_numbers = true)]
    pub gain: Option<f64>,
    /// Residual connections a_l = f(z_l) + a_{l-1} (mlp)
    #[arg(long)]
    pub residual: bool,
    /// Standard deviation of the initial biases (default 0)
    #[arg(long, allow_negative_numbers = true)]
    pub bias_std: Option<f64>,
    /// rnn: rescale W_h at init to this spectral radius (largest |eigenvalue|; 0: keep the init's scale)
    #[arg(long, allow_negative_numbers = true)]
    pub spectral_radius: Option<f64>,
    /// rnn: the recurrent cell (vanilla, lstm, gru)
    #[arg(long, value_enum)]
    pub cell: Option<Cell>,
    /// lstm, gru: bias of the keep gate (lstm forget, gru update) at init (default 1)
    #[arg(long, allow_negative_numbers = true)]
    pub forget_bias: Option<f64>,
    /// mlp: normalize every hidden pre-activation (none, layer, batch)
    #[arg(long, value_enum)]
    pub norm: Option<Norm>,
    /// Samples in the (fixed) training batch (1..=4096)
    #[arg(long)]
    pub batch: Option<usize>,
    /// Learning rate (> 0)
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// Update rule
    #[arg(long, value_enum)]
    pub optimizer: Option<Optimizer>,
    /// Clip the global gradient norm to this value (0: off)
    #[arg(long, allow_negative_numbers = true)]
    pub clip: Option<f64>,
    /// Seed of data and initial weights
    #[arg(long)]
    pub seed: Option<u64>,
    /// Task: teacher or spiral (mlp), adding or memory (rnn)
    #[arg(long, value_enum)]
    pub task: Option<Task>,
    /// Engine: gpu (default) or cpu (the f64 reference)
    #[arg(long, value_enum, default_value = "gpu")]
    pub engine: EngineKind,
    /// Use the GPU adapter whose name contains this text (also WGPU_ADAPTER_NAME)
    #[arg(long)]
    pub adapter: Option<String>,
    /// GPU backend
    #[arg(long, value_enum)]
    pub backend: Option<BackendArg>,
}

impl ConfigArgs {
    /// The preset (default if none), then every flag given, validated.
    pub fn resolve(&self) -> anyhow::Result<NetConfig> {
        let preset = Preset::resolve(self.preset.as_deref().unwrap_or(DEFAULT_PRESET))?;
        let mut cfg = preset.config();
        NetworkOverlay {
            arch: self.arch,
            depth: self.depth,
            width: self.width,
            activation: self.activation,
            init: self.init,
            gain: self.gain,
            residual: self.residual.then_some(true),
            bias_std: self.bias_std,
            spectral_radius: self.spectral_radius,
            cell: self.cell,
            forget_bias: self.forget_bias,
            norm: self.norm,
        }
        .apply(&mut cfg);
        TrainingOverlay {
            batch: self.batch,
            lr: self.lr,
            optimizer: self.optimizer,
            clip: self.clip,
            seed: self.seed,
            task: self.task,
        }
        .apply(&mut cfg);
        cfg.validate()?;
        Ok(cfg)
    }
}

/// Most training steps one command runs (`--steps`): a billion steps are hours even for a tiny net on a
/// fast GPU; more is refused with a message naming the flag and the range rather than half-run.
pub const MAX_STEPS: u64 = 1_000_000_000;

/// Parses `--steps`: a whole number in `0..=`[`MAX_STEPS`].
pub fn parse_steps(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if n <= MAX_STEPS => Ok(n),
        _ => Err(format!(
            "'{s}' is out of range: the number of training steps must be a whole number in 0..={MAX_STEPS}"
        )),
    }
}

/// The steps at which statistics are reported: 0, K, 2K, ... and N (N once, even where K divides it),
/// streamed: nothing is allocated up front, so any `steps` and `every` are fine. `every` 0 counts as 1.
pub fn report_steps(steps: u64, every: u64) -> impl Iterator<Item = u64> {
    let every = every.max(1);
    let last = (!steps.is_multiple_of(every)).then_some(steps);
    std::iter::successors(Some(0), move |&at: &u64| {
        at.checked_add(every).filter(|&next| next <= steps)
    })
    .chain(last)
}

/// `steps` split into counts for an engine that takes a `u32` per call ([`crate::gpu::Engine::step`]):
/// whole chunks of at most `u32::MAX` that add up to `steps` exactly, never one count truncated to fit.
pub fn step_chunks(steps: u64) -> impl Iterator<Item = u32> {
    let max = u64::from(u32::MAX);
    let full = steps / max;
    let rest = u32::try_from(steps % max).unwrap_or(u32::MAX);
    (0..full)
        .map(|_| u32::MAX)
        .chain((rest > 0).then_some(rest))
}

/// The ids of the [`ConfigArgs`] flags that choose where the network runs rather than what it is.
const DEVICE_FLAG_IDS: &[&str] = &["engine", "adapter", "backend"];

impl ConfigArgs {
    /// The network flags (every CONFIG flag except `--engine`, `--adapter` and `--backend`) that were given
    /// on the command line, as `--name`, in the order they are declared. Read from the parsed arguments of
    /// a command that flattens [`ConfigArgs`], so a flag added to this struct is counted without a list to
    /// keep in step. A flag given with the default's value counts as given; one left out does not.
    pub fn network_flags_given(matches: &clap::ArgMatches) -> Vec<String> {
        let cmd = <ConfigArgs as Args>::augment_args(clap::Command::new("config"));
        let present: Vec<&str> = matches.ids().map(clap::Id::as_str).collect();
        cmd.get_arguments()
            .filter(|a| {
                let id = a.get_id().as_str();
                !DEVICE_FLAG_IDS.contains(&id)
                    && present.contains(&id)
                    && matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
            })
            .map(|a| format!("--{}", a.get_long().unwrap_or(a.get_id().as_str())))
            .collect()
    }
}

impl ConfigArgs {
    /// The GPU adapter options these flags ask for.
    pub fn gpu_options(&self) -> crate::gpu::GpuOptions {
        crate::gpu::GpuOptions {
            adapter: self.adapter.clone(),
            backend: self.backend.map(|b| match b {
                BackendArg::Vulkan => wgpu::Backend::Vulkan,
                BackendArg::Metal => wgpu::Backend::Metal,
                BackendArg::Dx12 => wgpu::Backend::Dx12,
            }),
        }
    }

    /// Opens the GPU these flags ask for and compiles the kernels.
    pub fn open_gpu(&self) -> anyhow::Result<crate::gpu::GpuContext> {
        let gpu = crate::gpu::Gpu::new(&self.gpu_options())?;
        Ok(crate::gpu::GpuContext::new(
            gpu.device, gpu.queue, &gpu.info,
        ))
    }
}
