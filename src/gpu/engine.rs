//! The GPU training engine: built once per network shape from a validated [`NetConfig`]; `step(n)` records
//! n whole training steps into one compute pass and one submission; statistics come back through rotating
//! staging buffers without stalling the caller.

use std::sync::Arc;

use super::layout::{
    Dispatch, DispatchParams, HIST_RECORD, Kernel, LAYER_RECORD, Layout, NONE, RECORD_STRIDE,
    STATS_HEADER,
};
use super::program::{
    BUSY_WORKGROUPS, GATE_RECORD, Resolved, RowShape, SOFTWARE_BUSY_WORKGROUPS, StackPath,
    gated_misfit, gated_rows_fit, normed_misfit, resolve_for, rows_per_invocation,
    step_dispatches_with, without_statistics,
};
use super::readback::{PolledMap, StatsRing};
use super::shaders::{KernelBuild, Pipelines, uses_activation};
use crate::model::Cell;
use crate::model::{Activation, ConfigError, Dataset, NetConfig, Params};
use crate::stats::{RawGates, RawLayer, RawLedger, StepStats};

/// A device, its queue, the adapter's name and the compiled pipelines: what every engine on one device
/// shares. The window passes eframe's device here.
#[derive(Clone)]
pub struct GpuContext {
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// `name (backend, type)` of the adapter.
    pub adapter: String,
    /// Whether the adapter is a software rasterizer.
    pub software: bool,
    /// The driver and its version (the tuner's cache is per adapter and driver).
    pub driver: String,
    /// lavapipe's worker threads, where the adapter is lavapipe and `LP_NUM_THREADS` names them
    /// ([`super::device::lavapipe_threads`]).
    pub lavapipe_threads: Option<u32>,
    /// Whether [`Engine::wait_stats`] polls and yields instead of sleeping: on a software adapter, unless
    /// `GRADSCOPE_SPIN_WAIT` is `off`.
    pub spin_wait: bool,
    /// Compiled kernels.
    pub pipelines: Arc<Pipelines>,
}

impl GpuContext {
    /// Compiles the kernels on `device` as suits it ([`KernelBuild::for_device`]).
    pub fn new(device: wgpu::Device, queue: wgpu::Queue, info: &wgpu::AdapterInfo) -> GpuContext {
        let build = KernelBuild::for_device(info, device.features());
        GpuContext::with_build(device, queue, info, build)
    }

    /// [`GpuContext::new`] with the kernels built as the caller says (`build.lanes` needs a device with
    /// subgroups of 8 lanes and a CPU adapter's lockstep lanes; tests compare the builds).
    pub fn with_build(
        device: wgpu::Device,
        queue: wgpu::Queue,
        info: &wgpu::AdapterInfo,
        build: KernelBuild,
    ) -> GpuContext {
        let software = info.device_type == wgpu::DeviceType::Cpu;
        let settle = software && cfg!(not(target_arch = "wasm32"));
        let pipelines = Arc::new(Pipelines::new(&device, &queue, build, settle));
        GpuContext {
            device,
            queue,
            adapter: super::device::describe(info),
            software,
            driver: format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_string(),
            lavapipe_threads: super::device::lavapipe_threads(info),
            spin_wait: spin_wait(software),
            pipelines,
        }
    }
}

/// Set to `off` to make [`Engine::wait_stats`] sleep on a software adapter too.
pub const SPIN_WAIT_ENV: &str = "GRADSCOPE_SPIN_WAIT";

/// Whether [`Engine::wait_stats`] waits by polling and yielding the CPU in a loop instead of sleeping:
/// on a software adapter, unless [`SPIN_WAIT_ENV`] is `off`.
///
/// On lavapipe the GPU is the CPU's own threads, and every dispatch is handed from the driver's queue
/// thread to its worker threads and back, each time a wake-up. On a virtual machine a wake-up that
/// finds its core idle waits for the host to resume that core (tens of µs each, several per dispatch
/// in a slow hour). A thread that yields in a loop keeps one core from going idle, and gives way at
/// once to any thread that can run, as a CPU framework's worker threads spin briefly before they sleep.
/// docs/DESIGN.md, "Waiting on lavapipe".
pub fn spin_wait(software: bool) -> bool {
    software && std::env::var(SPIN_WAIT_ENV).map_or(true, |v| v.trim() != "off")
}

/// Why an engine could not be built or read.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The network does not fit a limit of this adapter.
    #[error(
        "this network needs {needed} but the adapter's {limit} is {allowed}: reduce depth, width or batch, or use a bigger GPU"
    )]
    TooLarge {
        /// The wgpu limit's name.
        limit: &'static str,
        /// What the network needs.
        needed: String,
        /// What the adapter allows.
        allowed: String,
    },
    /// An engine option (or [`ENGINE_ENV`]) is not understood.
    #[error("{0}")]
    Options(String),
    /// Reading back from the GPU failed.
    #[error("reading results back from the GPU failed: {0}")]
    Readback(String),
}

/// log2 of an empty sum in the statistics kernels. Keep in sync with NO_TERM in shaders/common.wgsl.
const NO_TERM: f32 = -3.0e38;

#[derive(Clone, Copy)]
struct Rec {
    kernel: Kernel,
    groups: [u32; 3],
    offset: u32,
    /// The activation its record names (the net's, or linear for the head) where its kernel evaluates
    /// one, else `NONE`: the pipeline built for it runs the dispatch where the build has one.
    act: u32,
}

/// Where a population's nets sit in the engine's buffers: net n's state starts at `n · mem` in the state
/// buffer and at `n · maxes` in the maxima buffer (`nets = 1`: both strides 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NetStrides {
    nets: u32,
    mem: u32,
    maxes: u32,
}

impl NetStrides {
    const ONE: NetStrides = NetStrides {
        nets: 1,
        mem: 0,
        maxes: 0,
    };

    fn new(nets: usize, lay: &Layout) -> NetStrides {
        if nets <= 1 {
            return NetStrides::ONE;
        }
        NetStrides {
            nets: nets as u32,
            // 64 values (256 bytes) apart: each net's state starts on a cache line
            mem: lay.total.next_multiple_of(64) as u32,
            maxes: lay.maxes_len() as u32,
        }
    }

    /// f32 values of the state buffer.
    fn mem_len(self, lay: &Layout) -> u64 {
        if self.nets <= 1 {
            lay.total as u64
        } else {
            u64::from(self.nets) * u64::from(self.mem)
        }
    }
}

/// One net of a population: its configuration, initial weights and data.
struct Member {
    cfg: NetConfig,
    template: Params,
    data: Dataset,
}

/// The GPU engine for one network shape: one network, or a population of independent networks of the same
/// shape and training setup (each with its own initial weights and data) trained together: every dispatch
/// covers all nets, the net's index in the grid's z (see `Params.zn` in shaders/common.wgsl).
pub struct Engine {
    ctx: GpuContext,
    cfg: NetConfig,
    template: Params,
    data: Dataset,
    /// Nets 1.. of a population (net 0 is `cfg`, `template`, `data`).
    rest: Vec<Member>,
    strides: NetStrides,
    lay: Layout,
    mem: wgpu::Buffer,
    uniforms: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    train: Vec<Rec>,
    /// `train` without the statistics nobody reads: every step of a submission but the last
    train_bare: Vec<Rec>,
    compute: Vec<Rec>,
    ring: StatsRing,
    updates: u64,
    /// Updates before the last gradient recorded.
    last_step: u64,
    /// Whether each step also histograms every layer (see [`Engine::set_histograms`]).
    histograms: bool,
    latest: Option<StepStats>,
    timer: Option<Timer>,
    opts: EngineOptions,
    gpu_ms_per_step: Option<f64>,
}

/// Tuning options of the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineOptions {
    /// Each matmul uses the largest tile (128, 64, 32, 16) of at least `min_tile` that still gives at
    /// least this many workgroups; 0 forces the largest tiles everywhere, `u32::MAX` the smallest allowed.
    /// On a CPU adapter the default ([`BUSY_WORKGROUPS`]) becomes [`SOFTWARE_BUSY_WORKGROUPS`].
    pub busy_workgroups: u32,
    /// The smallest matmul tile allowed (16, 32, 64 or 128; default 32).
    pub min_tile: u32,
    /// Fused stack (persistent RNN) or one dispatch per layer.
    pub stack: StackPath,
    /// Loop iterations one invocation may run, splitting the fused kernels into chunks of layers (time
    /// steps); `None`: the adapter's own bound (see `loop_budget`). Tests set a small one to exercise the
    /// chunk boundaries on small nets.
    pub loop_budget: Option<u64>,
}

/// The environment variable that forces an engine path: `layered`, `rows` (`rows:4`, `rows:4x16`, `rows:2`,
/// `rows:1`), `fused`, `fused:<rows per workgroup>` or `auto` (the default).
pub const ENGINE_ENV: &str = "GRADSCOPE_ENGINE";

impl EngineOptions {
    /// The options made concrete for an adapter (`software`: a CPU adapter): the path `Auto` takes there
    /// ([`StackPath::for_adapter`]), the adapter's loop budget unless one was set, and on a CPU adapter
    /// the default tile policy's [`SOFTWARE_BUSY_WORKGROUPS`] in place of [`BUSY_WORKGROUPS`].
    pub fn for_adapter(self, software: bool) -> EngineOptions {
        let busy_workgroups = if software && self.busy_workgroups == BUSY_WORKGROUPS {
            SOFTWARE_BUSY_WORKGROUPS
        } else {
            self.busy_workgroups
        };
        EngineOptions {
            stack: self.stack.for_adapter(software),
            loop_budget: Some(self.loop_budget.unwrap_or_else(|| loop_budget(software))),
            busy_workgroups,
            ..self
        }
    }

    /// The loop budget the program splits the fused kernels by (none where unset).
    fn budget(&self) -> u64 {
        self.loop_budget.unwrap_or(u64::MAX)
    }

    /// The defaults, with the path forced by [`ENGINE_ENV`] when it is set.
    pub fn from_env() -> Result<EngineOptions, EngineError> {
        let mut opts = EngineOptions::default();
        if let Ok(v) = std::env::var(ENGINE_ENV) {
            opts.stack = parse_stack_path(&v).ok_or_else(|| {
                EngineError::Options(format!(
                    "{ENGINE_ENV}={v:?}: expected auto, layered, rows, rows:4, rows:4x16, rows:2, rows:1, fused or fused:<rows per workgroup>"
                ))
            })?;
        }
        Ok(opts)
    }
}

/// Parses `auto`, `layered`, `rows`, `rows:4`, `rows:4x16`, `rows:2`, `rows:1`, `fused` or `fused:<rows>` (rows
/// 1..=65535).
pub fn parse_stack_path(s: &str) -> Option<StackPath> {
    match s.trim() {
        "auto" => Some(StackPath::Auto),
        "layered" => Some(StackPath::Layered),
        "fused" => Some(StackPath::Fused(0)),
        "rows" => Some(StackPath::Rows),
        other => {
            if let Some(shape) = RowShape::ALL.into_iter().find(|r| r.name() == other) {
                return Some(StackPath::RowsOf(shape));
            }
            let rows: u32 = other.strip_prefix("fused:")?.parse().ok()?;
            (1..=65_535)
                .contains(&rows)
                .then_some(StackPath::Fused(rows))
        }
    }
}

/// The 16 x 16 one-output-per-thread tiles (more workgroups for small layers) are opt-in (`min_tile: 16`)
/// until they have been measured on a GPU: `gradscope bench` on an H200 measured the 32/64 tiles. On a
/// software rasterizer each workgroup runs on a CPU thread, where they only add barriers.
impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            busy_workgroups: BUSY_WORKGROUPS,
            min_tile: 32,
            stack: StackPath::Auto,
            loop_budget: None,
        }
    }
}

/// GPU timestamps at the start and end of a compute pass (where the adapter has TIMESTAMP_QUERY).
struct Timer {
    queries: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    readback: wgpu::Buffer,
    period_ns: f64,
}

impl Timer {
    fn new(ctx: &GpuContext) -> Option<Timer> {
        if !ctx
            .device
            .features()
            .contains(wgpu::Features::TIMESTAMP_QUERY)
        {
            return None;
        }
        let queries = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("gradscope pass timestamps"),
            ty: wgpu::QueryType::Timestamp,
            count: 2,
        });
        // QUERY_RESOLVE | COPY_SRC: timestamps are resolved here, then copied to a mappable buffer
        let resolve = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("gradscope timestamps"),
            size: 16,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readback = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("gradscope timestamp readback"),
            size: 16,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Some(Timer {
            queries,
            resolve,
            readback,
            period_ns: f64::from(ctx.queue.get_timestamp_period()),
        })
    }
}

/// Maps a `MAP_READ` buffer, waits for it, hands its bytes to `read` and unmaps it (tests, dumps, bench).
fn map_blocking<T>(
    device: &wgpu::Device,
    buffer: &wgpu::Buffer,
    read: impl FnOnce(&[u8]) -> T,
) -> Result<T, EngineError> {
    let err = |e: &dyn std::fmt::Display| EngineError::Readback(e.to_string());
    let (tx, rx) = std::sync::mpsc::channel();
    buffer.map_async(wgpu::MapMode::Read, .., move |r| {
        let _ = tx.send(r);
    });
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| err(&e))?;
    // recv, not the poll, proves the callback ran: another thread's poll may be the one that runs it
    rx.recv().map_err(|e| err(&e))?.map_err(|e| err(&e))?;
    let out = {
        let view = buffer.get_mapped_range(..).map_err(|e| err(&e))?;
        read(&view)
    };
    buffer.unmap();
    Ok(out)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The dispatch sequences of an engine, as records into its parameter buffer.
struct Records {
    /// Every parameter record, in buffer order.
    all: Vec<DispatchParams>,
    /// A training step.
    train: Vec<Rec>,
    /// A training step whose statistics nobody reads ([`without_statistics`]): every step of a run but
    /// its last. Where a dispatch's parameters are unchanged it shares the training step's record.
    train_bare: Vec<Rec>,
    /// A gradient without update.
    compute: Vec<Rec>,
}

/// Dispatch records for `cfg`: the train step (complete and bare) and the gradient-only step.
fn records(
    cfg: &NetConfig,
    lay: &Layout,
    opts: EngineOptions,
    strides: NetStrides,
    histograms: bool,
) -> Records {
    let mut all = Vec::new();
    let list = |update: bool| -> Vec<Dispatch> {
        let mut list = step_dispatches_with(
            cfg,
            lay,
            update,
            opts.busy_workgroups,
            opts.min_tile,
            opts.stack,
            opts.budget(),
        );
        if histograms
            && let Some(h) = super::program::histogram_dispatch(cfg, lay)
            && let Some(at) = list.iter().position(|d| d.kernel == Kernel::LayerStats)
        {
            list.insert(at + 1, h);
        }
        list
    };
    // the record of dispatch d at `offset`
    let rec_at = |d: &Dispatch, offset: u32| -> Rec {
        Rec {
            kernel: d.kernel,
            groups: [d.groups[0], d.groups[1], d.groups[2] * strides.nets],
            offset,
            act: if uses_activation(d.kernel) {
                d.params.act
            } else {
                NONE
            },
        }
    };
    // dispatch d with a parameter record of its own
    let rec = |d: &Dispatch, all: &mut Vec<DispatchParams>| -> Rec {
        let offset = (all.len() as u64 * RECORD_STRIDE) as u32;
        all.push(DispatchParams {
            zn: d.groups[2],
            net_stride: strides.mem,
            max_stride: strides.maxes,
            ..d.params
        });
        rec_at(d, offset)
    };
    let full = list(true);
    let train: Vec<Rec> = full.iter().map(|d| rec(d, &mut all)).collect();
    let train_bare = full
        .iter()
        .zip(&train)
        .filter_map(|(d, r)| {
            let bare = without_statistics(*d, cfg.clip.is_some())?;
            // zn (the grid's z per net) is the same: a bare dispatch keeps its z
            Some(if bare.params == d.params {
                rec_at(&bare, r.offset)
            } else {
                rec(&bare, &mut all)
            })
        })
        .collect();
    let compute = list(false).iter().map(|d| rec(d, &mut all)).collect();
    Records {
        all,
        train,
        train_bare,
        compute,
    }
}

fn record_bytes(recs: &[DispatchParams], capacity: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; capacity * RECORD_STRIDE as usize];
    for (i, r) in recs.iter().enumerate() {
        let at = i * RECORD_STRIDE as usize;
        let b = bytemuck::bytes_of(r);
        bytes[at..at + b.len()].copy_from_slice(b);
    }
    bytes
}

/// Records the uniform buffer must hold for any activation/lr/clip of this shape: the larger of the
/// sequences with clipping on and off (a bare step's kernels differ with it).
fn record_capacity(cfg: &NetConfig, lay: &Layout, opts: EngineOptions) -> usize {
    [Some(1.0), None]
        .into_iter()
        .map(|clip| {
            let c = NetConfig {
                clip,
                ..cfg.clone()
            };
            records(&c, lay, opts, NetStrides::ONE, true).all.len()
        })
        .max()
        .unwrap_or(0)
}

/// The loop iterations one invocation may run on an adapter: lavapipe (the software adapter this engine
/// meets) silently ends every loop of an invocation after 65535 iterations in all, so long fused stacks
/// run there in chunks of layers; hardware has no such bound.
fn loop_budget(software: bool) -> u64 {
    if software {
        super::program::SOFTWARE_LOOP_BUDGET
    } else {
        u64::MAX
    }
}

/// Checks that the network `cfg` (laid out as `lay`, run with `opts` as [`EngineOptions::for_adapter`]
/// makes them: on a CPU adapter the fused kernels run in more, shorter dispatches) fits the adapter's
/// `limits`; needs nothing but the
/// configuration, so it runs before anything is allocated. The one place the engine's limits live.
pub fn check_limits(
    cfg: &NetConfig,
    lay: &Layout,
    limits: &wgpu::Limits,
    opts: EngineOptions,
) -> Result<(), EngineError> {
    check_population_limits(cfg, lay, limits, opts, 1)
}

/// [`check_limits`] for a population of `nets` nets of this shape in one engine ([`Engine::population`]).
pub fn check_population_limits(
    cfg: &NetConfig,
    lay: &Layout,
    limits: &wgpu::Limits,
    opts: EngineOptions,
    nets: usize,
) -> Result<(), EngineError> {
    let strides = NetStrides::new(nets, lay);
    let mem_bytes = strides.mem_len(lay) * 4;
    if mem_bytes > limits.max_storage_buffer_binding_size {
        return Err(EngineError::TooLarge {
            limit: "max_storage_buffer_binding_size",
            needed: format!("a {} storage buffer", mib(mem_bytes)),
            allowed: mib(limits.max_storage_buffer_binding_size),
        });
    }
    if mem_bytes > limits.max_buffer_size {
        return Err(EngineError::TooLarge {
            limit: "max_buffer_size",
            needed: format!("a {} buffer", mib(mem_bytes)),
            allowed: mib(limits.max_buffer_size),
        });
    }
    if strides.mem_len(lay) >= u64::from(u32::MAX) {
        return Err(EngineError::TooLarge {
            limit: "32-bit index range",
            needed: format!("{} values", strides.mem_len(lay)),
            allowed: format!("{}", u32::MAX),
        });
    }
    // every dispatch's z count times the nets (the net's index is in the grid's z)
    let max_z = records(cfg, lay, opts, strides, true)
        .train
        .iter()
        .map(|r| r.groups[2])
        .max()
        .unwrap_or(1);
    if max_z > limits.max_compute_workgroups_per_dimension {
        return Err(EngineError::TooLarge {
            limit: "max_compute_workgroups_per_dimension",
            needed: format!("{max_z} workgroups in z ({nets} nets)"),
            allowed: limits.max_compute_workgroups_per_dimension.to_string(),
        });
    }
    if limits.max_compute_invocations_per_workgroup < 256
        || limits.max_compute_workgroup_size_x < 256
    {
        return Err(EngineError::TooLarge {
            limit: "max_compute_invocations_per_workgroup",
            needed: "256 invocations per workgroup".into(),
            allowed: limits.max_compute_invocations_per_workgroup.to_string(),
        });
    }
    if (cfg.depth as u32) > limits.max_compute_workgroups_per_dimension {
        return Err(EngineError::TooLarge {
            limit: "max_compute_workgroups_per_dimension",
            needed: format!("{} workgroups", cfg.depth),
            allowed: limits.max_compute_workgroups_per_dimension.to_string(),
        });
    }
    let misfit = if cfg.cell.is_gated() {
        gated_misfit(cfg, lay, opts.stack, opts.budget())
    } else if cfg.norm != crate::model::Norm::None {
        normed_misfit(cfg, lay, opts.budget(), opts.busy_workgroups)
    } else {
        None
    };
    if let Some(kernel) = misfit {
        let budget = opts.budget().min(super::program::HARDWARE_LOOP_BUDGET);
        let why = if budget < super::program::HARDWARE_LOOP_BUDGET {
            "loop bound per invocation of a software adapter (it ends longer loops)"
        } else {
            "bound on one invocation's work per dispatch (longer ones risk the driver's watchdog)"
        };
        return Err(EngineError::TooLarge {
            limit: why,
            needed: format!(
                "more loop iterations than that for a single layer (time step) of {kernel:?} (one workgroup takes a whole slice of the batch)"
            ),
            allowed: format!("{budget} iterations"),
        });
    }
    let uniform_bytes = record_capacity(cfg, lay, opts) as u64 * RECORD_STRIDE;
    if uniform_bytes > limits.max_buffer_size {
        return Err(EngineError::TooLarge {
            limit: "max_buffer_size",
            needed: format!("a {} parameter buffer", mib(uniform_bytes)),
            allowed: mib(limits.max_buffer_size),
        });
    }
    Ok(())
}

/// The options made concrete for the adapter and the memory map `cfg` runs with: needs nothing but the
/// configuration, so every limit can be checked before any weights or data are generated.
fn plan(ctx: &GpuContext, cfg: &NetConfig, opts: EngineOptions) -> (EngineOptions, Layout) {
    let mut opts = opts.for_adapter(ctx.software);
    if opts.stack == StackPath::Rows {
        let lanes = ctx.pipelines.build().lanes;
        opts.stack = StackPath::RowsOf(rows_per_invocation(cfg, lanes));
    }
    // the fused path needs no RNN input-projection region
    let full = Layout::new(cfg);
    let lay = match resolve_for(cfg, &full, opts.stack, opts.budget()) {
        Resolved::Gated if ctx.pipelines.build().lanes => Layout::gated_lanes(cfg),
        Resolved::Layered | Resolved::Gated | Resolved::Normed => full,
        Resolved::Rows(_) => Layout::rows(cfg),
        Resolved::Fused(_) => Layout::fused(cfg),
    };
    (opts, lay)
}

/// Checks, before anything is allocated, that a population of `nets` nets like `cfg` fits the adapter of
/// `ctx` ([`Engine::population`] runs the same check); returns the bytes of its state buffer.
pub fn check_engine_limits(
    ctx: &GpuContext,
    cfg: &NetConfig,
    opts: EngineOptions,
    nets: usize,
) -> Result<u64, EngineError> {
    cfg.validate()?;
    let (opts, lay) = plan(ctx, cfg, opts);
    check_population_limits(cfg, &lay, &ctx.device.limits(), opts, nets)?;
    Ok(NetStrides::new(nets, &lay).mem_len(&lay) * 4)
}

/// The bytes of the state buffer of a population of `nets` nets like `cfg` (whether or not it fits).
pub fn population_bytes(
    ctx: &GpuContext,
    cfg: &NetConfig,
    opts: EngineOptions,
    nets: usize,
) -> u64 {
    let (_, lay) = plan(ctx, cfg, opts);
    NetStrides::new(nets, &lay).mem_len(&lay) * 4
}

/// The most dispatches recorded into one submission: [`Engine::step`] splits longer runs into several
/// submissions (command memory grows with the dispatches recorded, and a driver may time out on a very
/// long one), waiting for older ones so that at most [`MAX_IN_FLIGHT`] are queued.
pub const MAX_DISPATCHES_PER_SUBMIT: usize = 4096;
/// Submissions of one [`Engine::step`] call allowed in flight at once.
pub const MAX_IN_FLIGHT: usize = 2;

impl Engine {
    /// Builds the engine: checks the adapter's limits before allocating anything, uploads data and the
    /// initial weights (the same bits as the CPU reference).
    pub fn new(ctx: &GpuContext, cfg: &NetConfig) -> Result<Engine, EngineError> {
        Engine::with_options(ctx, cfg, EngineOptions::from_env()?)
    }

    /// [`Engine::new`] with tuning options.
    pub fn with_options(
        ctx: &GpuContext,
        cfg: &NetConfig,
        opts: EngineOptions,
    ) -> Result<Engine, EngineError> {
        Engine::population(ctx, std::slice::from_ref(cfg), opts)
    }

    /// A population: the nets `cfgs` trained together in one engine, every dispatch covering all of them.
    /// They must share the training program ([`NetConfig::same_program`]: shape, activation, task,
    /// optimizer, learning rate, clipping) and may differ in what only sets the initial state (init, gain,
    /// bias std, spectral radius, forget bias, seed). Net 0 is the engine's [`Engine::config`]; the other
    /// accessors name a net. Limits are checked for all nets before anything is allocated.
    pub fn population(
        ctx: &GpuContext,
        cfgs: &[NetConfig],
        opts: EngineOptions,
    ) -> Result<Engine, EngineError> {
        let Some(cfg) = cfgs.first() else {
            return Err(EngineError::Options(
                "a population needs at least one net".into(),
            ));
        };
        for other in cfgs {
            other.validate()?;
            if !cfg.same_program(other) {
                return Err(EngineError::Options(
                    "the nets of a population must share shape, activation, task and training settings; they may differ in init, gain, bias std, spectral radius, forget bias and seed".into(),
                ));
            }
        }
        let (opts, lay) = plan(ctx, cfg, opts);
        check_population_limits(cfg, &lay, &ctx.device.limits(), opts, cfgs.len())?;
        let strides = NetStrides::new(cfgs.len(), &lay);
        let capacity = record_capacity(cfg, &lay, opts);
        let uniform_bytes = capacity as u64 * RECORD_STRIDE;
        let mem_bytes = strides.mem_len(&lay) * 4;
        let template = Params::init(cfg);
        let data = Dataset::generate(cfg);
        let rest = cfgs[1..]
            .iter()
            .map(|c| Member {
                cfg: c.clone(),
                template: Params::init(c),
                data: Dataset::generate(c),
            })
            .collect();
        let device = &ctx.device;
        // STORAGE: every kernel reads and writes it; COPY_SRC: statistics and tensors are read back;
        // COPY_DST: parameters and data are uploaded and regions cleared on reset.
        let mem = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("gradscope state"),
            size: mem_bytes,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        // one atomic max per layer plus the head's slot, reset by the loss kernel every step; then one
        // slope-exponent slot per layer, written by the forward pass and cleared by layer_stats
        // (and by the update kernels, which a bare step ends with)
        let maxes = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("gradscope maxima"),
            size: (lay.maxes_len() * 4) as u64 * u64::from(strides.nets),
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        // UNIFORM with dynamic offsets: one record per dispatch; COPY_DST: rewritten when the activation,
        // learning rate or clipping changes
        let uniforms = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("gradscope dispatch records"),
            size: uniform_bytes,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind_group = ctx.pipelines.bind_group(device, &mem, &maxes, &uniforms);
        let ring = StatsRing::new(device, (lay.stats_len * 4) as u64);
        let mut engine = Engine {
            ctx: ctx.clone(),
            cfg: cfg.clone(),
            template,
            data,
            rest,
            strides,
            lay,
            mem,
            uniforms,
            bind_group,
            train: Vec::new(),
            train_bare: Vec::new(),
            compute: Vec::new(),
            ring,
            updates: 0,
            last_step: 0,
            histograms: false,
            latest: None,
            timer: Timer::new(ctx),
            opts,
            gpu_ms_per_step: None,
        };
        engine.write_records();
        engine.reset();
        Ok(engine)
    }

    fn write_records(&mut self) {
        let recs = records(
            &self.cfg,
            &self.lay,
            self.opts,
            self.strides,
            self.histograms,
        );
        let capacity = (self.uniforms.size() / RECORD_STRIDE) as usize;
        self.ctx
            .queue
            .write_buffer(&self.uniforms, 0, &record_bytes(&recs.all, capacity));
        // the pipelines of every dispatch (built at a kernel's first request: here, not in a step)
        for r in recs
            .train
            .iter()
            .chain(&recs.train_bare)
            .chain(&recs.compute)
        {
            self.ctx.pipelines.get_for(r.kernel, r.act);
        }
        self.train = recs.train;
        self.train_bare = recs.train_bare;
        self.compute = recs.compute;
    }

    /// The configuration (activation, lr and clip reflect the latest changes).
    pub fn config(&self) -> &NetConfig {
        &self.cfg
    }

    /// The adapter's description.
    pub fn adapter(&self) -> &str {
        &self.ctx.adapter
    }

    /// The dataset.
    pub fn data(&self) -> &Dataset {
        &self.data
    }

    /// Updates applied since the last reset.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// The path the step runs: `fused:<rows per workgroup>`, `rows:<rows per invocation>`, `layered`,
    /// `gated` (a gated cell's workgroup kernels), `gated:rows` (its per-row kernels) or `normed`.
    pub fn path_name(&self) -> String {
        match resolve_for(&self.cfg, &self.lay, self.opts.stack, self.opts.budget()) {
            Resolved::Fused(rows) => format!("fused:{rows}"),
            Resolved::Rows(r) => r.name().to_string(),
            Resolved::Layered => "layered".into(),
            Resolved::Gated if gated_rows_fit(&self.cfg, self.opts.stack) => "gated:rows".into(),
            Resolved::Gated => "gated".into(),
            Resolved::Normed => "normed".into(),
        }
    }

    /// Dispatches per training step.
    pub fn dispatches_per_step(&self) -> usize {
        self.train.len()
    }

    /// Bytes of GPU memory this network holds (state, records, readback).
    pub fn gpu_bytes(&self) -> u64 {
        self.mem.size() + self.uniforms.size() + self.ring.gpu_bytes()
    }

    /// Back to the initial weights, zero optimizer state and step count; keeps the current activation.
    pub fn reset(&mut self) {
        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("reset"),
            });
        enc.clear_buffer(&self.mem, 0, None);
        self.ctx.queue.submit([enc.finish()]);
        let q = &self.ctx.queue;
        let no_terms = vec![NO_TERM; self.lay.depth * self.lay.partials_per_layer];
        let wtable: Vec<f32> = self
            .lay
            .weight_table(&self.cfg)
            .into_iter()
            .map(f32::from_bits)
            .collect();
        let members = std::iter::once((&self.template, &self.data))
            .chain(self.rest.iter().map(|m| (&m.template, &m.data)));
        for (net, (template, data)) in members.enumerate() {
            let at = |offset: usize| ((offset + net * self.strides.mem as usize) * 4) as u64;
            q.write_buffer(
                &self.mem,
                at(self.lay.params),
                bytemuck::cast_slice(&template.flat()),
            );
            q.write_buffer(&self.mem, at(self.lay.x), bytemuck::cast_slice(&data.x));
            q.write_buffer(&self.mem, at(self.lay.y), bytemuck::cast_slice(&data.y));
            q.write_buffer(
                &self.mem,
                at(self.lay.wtable),
                bytemuck::cast_slice(&wtable),
            );
            // weight-gradient partials are log2 sums: slots no workgroup writes (smaller grids, the RNN's
            // first step) must read as "no term", not as log2 = 0
            q.write_buffer(
                &self.mem,
                at(self.lay.wparts),
                bytemuck::cast_slice(&no_terms),
            );
        }
        self.updates = 0;
        self.last_step = 0;
        self.latest = None;
    }

    /// Changes the activation without touching buffers or weights (the comparison stays fair).
    pub fn set_activation(&mut self, act: Activation) {
        self.cfg.activation = act;
        for m in &mut self.rest {
            m.cfg.activation = act;
        }
        self.write_records();
    }

    /// Turns the per-layer histograms of f(z) and log10 |δ| on or off for the steps submitted from now on
    /// (one more dispatch per step; MLPs and vanilla RNNs: for gated cells it stays off).
    /// Returns whether they are on.
    pub fn set_histograms(&mut self, on: bool) -> bool {
        let on = on && super::program::histograms_supported(&self.cfg);
        if on != self.histograms {
            self.histograms = on;
            self.write_records();
        }
        on
    }

    /// Changes learning rate and clipping (validated like the config).
    pub fn set_training(&mut self, lr: f64, clip: Option<f64>) -> Result<(), ConfigError> {
        let cfg = NetConfig {
            lr,
            clip,
            ..self.cfg.clone()
        };
        cfg.validate()?;
        self.cfg = cfg;
        for m in &mut self.rest {
            m.cfg.lr = lr;
            m.cfg.clip = clip;
        }
        self.write_records();
        Ok(())
    }

    fn record(&self, pass: &mut wgpu::ComputePass<'_>, recs: &[Rec]) {
        let mut current: Option<(Kernel, u32)> = None;
        for r in recs {
            if current != Some((r.kernel, r.act)) {
                pass.set_pipeline(&self.ctx.pipelines.get_for(r.kernel, r.act));
                current = Some((r.kernel, r.act));
            }
            pass.set_bind_group(0, &self.bind_group, &[r.offset]);
            pass.dispatch_workgroups(r.groups[0], r.groups[1], r.groups[2]);
        }
    }

    fn submit(&mut self, recs_times: u32, update: bool) {
        self.submit_timed(recs_times, update, false);
    }

    /// Steps per submission for this network ([`MAX_DISPATCHES_PER_SUBMIT`]).
    fn steps_per_submit(&self) -> u32 {
        let per_step = self.train.len().max(1);
        u32::try_from((MAX_DISPATCHES_PER_SUBMIT / per_step).max(1)).unwrap_or(u32::MAX)
    }

    /// Runs `recs_times` steps (or one gradient without update) in submissions of at most
    /// [`Engine::steps_per_submit`] steps; only the last one reads statistics back (and is timed).
    fn submit_timed(&mut self, recs_times: u32, update: bool, timed: bool) {
        let chunk = self.steps_per_submit();
        let mut left = recs_times;
        let mut in_flight = std::collections::VecDeque::new();
        while left > chunk {
            in_flight.push_back(self.submit_chunk(chunk, update, false, false));
            left -= chunk;
            if in_flight.len() >= MAX_IN_FLIGHT
                && let Some(oldest) = in_flight.pop_front()
            {
                // bound the queued command memory; a failed wait only means we queue more
                let _ = self.ctx.device.poll(wgpu::PollType::Wait {
                    submission_index: Some(oldest),
                    timeout: None,
                });
            }
        }
        self.submit_chunk(left, update, timed, true);
    }

    fn submit_chunk(
        &mut self,
        recs_times: u32,
        update: bool,
        timed: bool,
        read_stats: bool,
    ) -> wgpu::SubmissionIndex {
        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("steps"),
            });
        // timestamps around the pass: for step_timed, and for the statistics block of a training
        // submission (the window's GPU time per step)
        let timer = self
            .timer
            .as_ref()
            .filter(|_| timed || (read_stats && update));
        {
            let timestamp_writes = timer.map(|t| wgpu::ComputePassTimestampWrites {
                query_set: &t.queries,
                beginning_of_pass_write_index: Some(0),
                end_of_pass_write_index: Some(1),
            });
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("train"),
                timestamp_writes,
            });
            if update {
                // only the last step's statistics are read: the steps before it skip theirs
                let bare = recs_times - u32::from(read_stats);
                for _ in 0..bare {
                    self.record(&mut pass, &self.train_bare);
                }
                for _ in bare..recs_times {
                    self.record(&mut pass, &self.train);
                }
            } else {
                for _ in 0..recs_times {
                    self.record(&mut pass, &self.compute);
                }
            }
        }
        if let Some(t) = timer {
            enc.resolve_query_set(&t.queries, 0..2, &t.resolve, 0);
            if timed {
                enc.copy_buffer_to_buffer(&t.resolve, 0, &t.readback, 0, Some(16));
            }
        }
        // the statistics of the last gradient: computed after (updates - 1) updates when training
        let label = if update {
            self.updates + u64::from(recs_times) - 1
        } else {
            self.updates
        };
        let slot = if read_stats {
            self.ring
                .record(&mut enc, &self.mem, (self.lay.stats * 4) as u64)
        } else {
            None
        };
        let timed_steps = match (slot, timer) {
            (Some(slot), Some(t)) if update => {
                self.ring.record_timestamps(&mut enc, &t.resolve, slot);
                Some(recs_times)
            }
            _ => None,
        };
        let index = self.ctx.queue.submit([enc.finish()]);
        self.last_step = label;
        if update {
            self.updates += u64::from(recs_times);
        }
        if let Some(slot) = slot {
            self.ring.submitted(slot, label, timed_steps);
        }
        index
    }

    /// Records `n` training steps (forward, loss, backward, statistics, update), one compute pass per
    /// submission and at most [`MAX_DISPATCHES_PER_SUBMIT`] dispatches each (a short run is one
    /// submission and returns at once; a long one waits for older submissions so that GPU command memory
    /// stays bounded). The statistics of the last step arrive via [`Engine::poll_stats`]; the steps
    /// before it skip theirs ([`without_statistics`]), which changes no weight.
    pub fn step(&mut self, n: u32) {
        if n > 0 {
            self.submit(n, true);
        }
    }

    /// Runs `n` training steps in one submission and waits for them; returns the GPU time of the pass in
    /// milliseconds from timestamp queries, or `None` where the adapter has no timestamps.
    pub fn step_timed(&mut self, n: u32) -> Result<Option<f64>, EngineError> {
        self.submit_timed(n.max(1), true, true);
        let stats = self.wait_stats();
        let Some(t) = &self.timer else {
            return stats.map(|_| None);
        };
        let ticks: Vec<u64> = map_blocking(&self.ctx.device, &t.readback, |bytes| {
            bytemuck::cast_slice::<u8, u64>(bytes).to_vec()
        })?;
        stats?;
        Ok(Some(
            ticks[1].saturating_sub(ticks[0]) as f64 * t.period_ns / 1e6,
        ))
    }

    /// One training step with every dispatch in its own timed compute pass: per dispatch, its kernel and
    /// GPU milliseconds (`None` where the adapter has no timestamps). The weights are updated as by
    /// [`Engine::step`]; `bench --profile` prints the sums per kernel.
    ///
    /// With `bare`, the step is one whose statistics nobody reads (every step of a run but its last: see
    /// [`without_statistics`]); its statistics are then not written.
    pub fn profile_step(&mut self, bare: bool) -> Result<Option<Vec<(Kernel, f64)>>, EngineError> {
        let Some(t) = &self.timer else {
            return Ok(None);
        };
        let period_ns = t.period_ns;
        let device = &self.ctx.device;
        let recs = if bare { &self.train_bare } else { &self.train };
        let n = recs.len() as u32;
        let queries = device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("gradscope profile"),
            ty: wgpu::QueryType::Timestamp,
            count: 2 * n,
        });
        let bytes = u64::from(16 * n);
        let resolve = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("gradscope profile timestamps"),
            size: bytes,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readback = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("gradscope profile readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("profile"),
        });
        for (i, r) in recs.iter().enumerate() {
            let i = i as u32;
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("profiled dispatch"),
                timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                    query_set: &queries,
                    beginning_of_pass_write_index: Some(2 * i),
                    end_of_pass_write_index: Some(2 * i + 1),
                }),
            });
            pass.set_pipeline(&self.ctx.pipelines.get_for(r.kernel, r.act));
            pass.set_bind_group(0, &self.bind_group, &[r.offset]);
            pass.dispatch_workgroups(r.groups[0], r.groups[1], r.groups[2]);
        }
        enc.resolve_query_set(&queries, 0..2 * n, &resolve, 0);
        enc.copy_buffer_to_buffer(&resolve, 0, &readback, 0, Some(bytes));
        self.ctx.queue.submit([enc.finish()]);
        // the update is submitted: counted whether or not the timestamps come back
        let timed = map_blocking(device, &readback, |b| {
            bytemuck::cast_slice::<u8, u64>(b).to_vec()
        })
        .map(|ticks: Vec<u64>| {
            recs.iter()
                .enumerate()
                .map(|(i, r)| {
                    let dt = ticks[2 * i + 1].saturating_sub(ticks[2 * i]);
                    (r.kernel, dt as f64 * period_ns / 1e6)
                })
                .collect()
        });
        self.updates += 1;
        Ok(Some(timed?))
    }

    /// Whether the adapter gives GPU timestamps.
    pub fn has_timestamps(&self) -> bool {
        self.timer.is_some()
    }

    /// Computes the gradient and statistics at the current weights without updating them.
    pub fn compute(&mut self) {
        self.submit(1, false);
    }

    /// Non-blocking: the newest statistics that have arrived since the last call (or `None`).
    pub fn poll_stats(&mut self) -> Option<StepStats> {
        let _ = self.ctx.device.poll(wgpu::PollType::Poll);
        self.collect();
        self.latest.take()
    }

    /// Blocks until every submitted readback has arrived; returns the newest statistics.
    pub fn wait_stats(&mut self) -> Result<StepStats, EngineError> {
        // Another thread polling the same device may be the one that runs our map callbacks, so wait until
        // no slot is pending rather than trusting one poll.
        while self.ring.any_pending() {
            let poll = if self.ctx.spin_wait {
                wgpu::PollType::Poll
            } else {
                wgpu::PollType::wait_indefinitely()
            };
            self.ctx
                .device
                .poll(poll)
                .map_err(|e| EngineError::Readback(e.to_string()))?;
            std::thread::yield_now();
        }
        self.collect();
        self.latest
            .take()
            .ok_or_else(|| EngineError::Readback("no statistics were requested".into()))
    }

    fn collect(&mut self) {
        if let Some(a) = self.ring.take_newest() {
            self.latest = Some(self.parse_stats(&a.values, a.step));
            if let (Some((steps, t0, t1)), Some(t)) = (a.timed, &self.timer) {
                let ms = t1.saturating_sub(t0) as f64 * t.period_ns / 1e6;
                self.gpu_ms_per_step = Some(ms / f64::from(steps.max(1)));
            }
        }
    }

    /// GPU milliseconds per training step of the newest training submission whose statistics arrived,
    /// from timestamps around its pass (`None` until then, or where the adapter has no timestamps).
    pub fn gpu_ms_per_step(&self) -> Option<f64> {
        self.gpu_ms_per_step
    }

    fn parse_stats(&self, block: &[f32], step: u64) -> StepStats {
        let (l_n, w) = (self.lay.depth, self.lay.width);
        let cell = self.cfg.cell;
        let gate_records = STATS_HEADER + LAYER_RECORD * l_n + l_n * w;
        let cell_units = gate_records + GATE_RECORD * l_n;
        let raw: Vec<RawLayer> = (0..l_n)
            .map(|l| {
                let r =
                    &block[STATS_HEADER + LAYER_RECORD * l..STATS_HEADER + LAYER_RECORD * (l + 1)];
                let units = STATS_HEADER + LAYER_RECORD * l_n + l * w;
                let gates = cell.is_gated().then(|| {
                    let g = &block[gate_records + GATE_RECORD * l..];
                    RawGates {
                        keep_sum: f64::from(g[0]),
                        saturated: (0..cell.gates()).map(|k| f64::from(g[1 + k])).collect(),
                        // log2 of a sum of squares of any magnitude (NO_TERM for 0)
                        cell_sumsq_scaled: f64::from(g[5]).exp2(),
                        log2_mean_abs_cell_scaled: if cell == Cell::Lstm {
                            block[cell_units + l * w..cell_units + (l + 1) * w]
                                .iter()
                                .map(|&v| f64::from(v))
                                .collect()
                        } else {
                            Vec::new()
                        },
                    }
                });
                RawLayer {
                    log2_scale: f64::from(r[0]),
                    // sums of squares of any magnitude arrive as log2 (NO_TERM, -3e38, for 0)
                    grad_w_sumsq_scaled: f64::from(r[1]).exp2(),
                    delta_sumsq_scaled: f64::from(r[2]),
                    act_sumsq: f64::from(r[3]).exp2(),
                    saturated_count: f64::from(r[4]),
                    dead_units: f64::from(r[5]),
                    log2_mean_abs_delta_scaled: block[units..units + w]
                        .iter()
                        .map(|&v| f64::from(v))
                        .collect(),
                    ledger: (!cell.is_gated()).then(|| RawLedger {
                        log2_grad_out_sumsq_scaled: log2_of_sum(r[6]),
                        slope_shift: f64::from(r[7]),
                        log2_slope_sum: log2_of_sum(r[8]),
                    }),
                    gates,
                }
            })
            .collect();
        StepStats::from_raw(
            step,
            f64::from(block[0]),
            "gpu",
            &self.ctx.adapter,
            &raw,
            self.lay.batch,
            w,
        )
        .with_grad_norm(f64::from(block[2]) * f64::from(block[3]), self.cfg.clip)
        .with_histograms(if self.histograms {
            let at = self.lay.hist - self.lay.stats;
            let len = crate::stats::HIST_BINS + 2;
            let range = crate::stats::act_hist_range(self.cfg.activation);
            (0..l_n)
                .map(|l| {
                    let r = &block[at + HIST_RECORD * l..at + HIST_RECORD * (l + 1)];
                    // counts below 2^24 are exact in f32 (the engine's limits keep batch × width there)
                    let counts = |v: &[f32]| v.iter().map(|&c| c as u64).collect();
                    crate::stats::LayerHistogram {
                        act_range: range,
                        act: counts(&r[..len]),
                        delta: counts(&r[len..2 * len]),
                        delta_zeros: r[2 * len] as u64,
                    }
                })
                .collect()
        } else {
            Vec::new()
        })
        .with_update_norms(
            crate::model::weight_tensors(&self.cfg)
                .into_iter()
                .enumerate()
                .map(|(j, (_, name))| {
                    let at = self.lay.update_norms - self.lay.stats
                        + crate::gpu::layout::UPDATE_NORMS_STRIDE * j;
                    (name, log2_of_sum(block[at]), log2_of_sum(block[at + 1]))
                })
                .collect(),
        )
    }

    /// Blocking read of `len` f32 values at `offset` of net 0 (tests, dumps, the CLI).
    fn read(&self, offset: usize, len: usize) -> Result<Vec<f32>, EngineError> {
        self.read_net(0, offset, len)
    }

    /// Blocking read of `len` f32 values at `offset` of net `net`.
    fn read_net(&self, net: usize, offset: usize, len: usize) -> Result<Vec<f32>, EngineError> {
        let mut values = self.read_regions(&[offset + net * self.strides.mem as usize], len)?;
        values.truncate(len);
        Ok(values)
    }

    /// Blocking read of `len` f32 values at each of `offsets`, one after another, through one staging
    /// buffer and one submission.
    fn read_regions(&self, offsets: &[usize], len: usize) -> Result<Vec<f32>, EngineError> {
        let staging = self.copy_regions(offsets, len);
        map_blocking(&self.ctx.device, &staging, |b| {
            bytemuck::cast_slice::<u8, f32>(b).to_vec()
        })
    }

    /// Starts reading the current parameters back without waiting (the browser cannot block on the
    /// GPU): [`PendingParams::poll`] hands them over on a later frame.
    pub fn request_params(&self) -> PendingParams {
        let len = self.lay.n_params;
        let staging = self.copy_regions(&[self.lay.params], len);
        PendingParams {
            device: self.ctx.device.clone(),
            map: PolledMap::read(&staging),
            staging,
            len,
            template: self.template.clone(),
        }
    }

    /// Copies `len` f32 values at each of `offsets` into a new `MAP_READ` buffer and submits the copy.
    fn copy_regions(&self, offsets: &[usize], len: usize) -> wgpu::Buffer {
        let len = len.max(1);
        let bytes = (len * offsets.len().max(1) * 4) as u64;
        let staging = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("gradscope readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("read"),
            });
        for (i, offset) in offsets.iter().enumerate() {
            enc.copy_buffer_to_buffer(
                &self.mem,
                (offset * 4) as u64,
                &staging,
                (i * len * 4) as u64,
                Some((len * 4) as u64),
            );
        }
        self.ctx.queue.submit([enc.finish()]);
        staging
    }

    /// Current parameters (blocking).
    pub fn read_params(&self) -> Result<Params, EngineError> {
        self.read_net_params(0)
    }

    /// Gradients of the last computed step (blocking), true f32 values, in parameter order.
    pub fn read_grads(&self) -> Result<Params, EngineError> {
        self.read_net_grads(0)
    }

    /// Nets in this engine (1 unless built by [`Engine::population`]).
    pub fn nets(&self) -> usize {
        self.strides.nets as usize
    }

    /// The configuration of net `net` of a population (`None` past the last net).
    pub fn net_config(&self, net: usize) -> Option<&NetConfig> {
        match net {
            0 => Some(&self.cfg),
            n => self.rest.get(n - 1).map(|m| &m.cfg),
        }
    }

    /// Current parameters of net `net` (blocking).
    pub fn read_net_params(&self, net: usize) -> Result<Params, EngineError> {
        Ok(self
            .template
            .with_flat(&self.read_net(net, self.lay.params, self.lay.n_params)?))
    }

    /// Gradients of net `net`'s last computed step (blocking).
    pub fn read_net_grads(&self, net: usize) -> Result<Params, EngineError> {
        Ok(self
            .template
            .with_flat(&self.read_net(net, self.lay.grads, self.lay.n_params)?))
    }

    /// The statistics of every net's last computed step, net by net (blocking: one copy per net into one
    /// staging buffer). Labelled with the engine's update count, as [`Engine::wait_stats`] labels a
    /// gradient computed without an update and a training step's as the updates before it.
    pub fn read_net_stats(&self) -> Result<Vec<StepStats>, EngineError> {
        let len = self.lay.stats_len;
        let offsets: Vec<usize> = (0..self.nets())
            .map(|net| self.lay.stats + net * self.strides.mem as usize)
            .collect();
        let values = self.read_regions(&offsets, len)?;
        Ok(values
            .chunks(len)
            .map(|block| self.parse_stats(block, self.last_step))
            .collect())
    }

    /// True δ per layer (time step) of the last computed step, `δ = ŝ · 2^scale` rounded to f32 (may
    /// underflow where the statistics do not).
    pub fn read_deltas(&self) -> Result<Vec<Vec<f32>>, EngineError> {
        // a gated cell's per-step error is ∂L/∂h_t (ĝ); the others' is ŝ
        let region = if self.cfg.cell.is_gated() {
            self.lay.g
        } else {
            self.lay.s
        };
        self.read_scaled(region)
    }

    /// LSTM only: the true ∂L/∂c_t per time step of the last computed step (empty for other nets).
    pub fn read_cell_deltas(&self) -> Result<Vec<Vec<f32>>, EngineError> {
        if self.cfg.cell != Cell::Lstm {
            return Ok(Vec::new());
        }
        self.read_scaled(self.lay.cell_err)
    }

    /// A per-layer `B x W` region of scaled values times each layer's scale, rounded to f32.
    fn read_scaled(&self, region: usize) -> Result<Vec<Vec<f32>>, EngineError> {
        let bw = self.lay.batch * self.lay.width;
        let s = self.read(region, self.lay.depth * bw)?;
        let scales = self.read(self.lay.scales, self.lay.depth + 2)?;
        Ok((0..self.lay.depth)
            .map(|l| {
                let scale = 2f64.powf(f64::from(scales[l + 1]));
                s[l * bw..(l + 1) * bw]
                    .iter()
                    .map(|&v| (f64::from(v) * scale) as f32)
                    .collect()
            })
            .collect())
    }

    /// The loss of the last computed step (blocking).
    pub fn read_loss(&self) -> Result<f64, EngineError> {
        Ok(f64::from(self.read(self.lay.stats, 1)?[0]))
    }

    /// The network output `B x d_out` of the last computed step (blocking).
    pub fn read_output(&self) -> Result<Vec<f32>, EngineError> {
        self.read(self.lay.yhat, self.lay.batch * self.lay.d_out)
    }
}

/// A log2 sum from the statistics block as f64: the shaders' NO_TERM (log2 of an exact zero) as −∞.
fn log2_of_sum(v: f32) -> f64 {
    if v <= NO_TERM {
        f64::NEG_INFINITY
    } else {
        f64::from(v)
    }
}

/// Parameters on their way back from the GPU ([`Engine::request_params`]).
pub struct PendingParams {
    device: wgpu::Device,
    staging: wgpu::Buffer,
    map: PolledMap,
    len: usize,
    template: Params,
}

impl PendingParams {
    /// Never blocks: the parameters once the copy has arrived (or why it failed), `None` before.
    pub fn poll(&self) -> Option<Result<Params, EngineError>> {
        // natively the callback runs inside a device poll; in the browser, from its event loop
        let _ = self.device.poll(wgpu::PollType::Poll);
        let mapped = self.map.take()?;
        let read = mapped.map_err(EngineError::Readback).and_then(|()| {
            let values = {
                let view = self
                    .staging
                    .get_mapped_range(..)
                    .map_err(|e| EngineError::Readback(e.to_string()))?;
                let mut values = bytemuck::cast_slice::<u8, f32>(&view).to_vec();
                values.truncate(self.len);
                values
            };
            self.staging.unmap();
            Ok(values)
        });
        Some(read.map(|values| self.template.with_flat(&values)))
    }
}
