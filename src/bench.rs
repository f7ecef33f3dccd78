//! `gradscope bench`: time whole training steps (forward, loss, backward, statistics, update) of the
//! configurations of docs/DESIGN.md §Performance on the GPU engine, side by side in one run.

use web_time::Instant;

use serde::Serialize;

use crate::gpu::program::{
    BUSY_WORKGROUPS, FOUR_ROWS, ONE_ROW, ROWS_PER_INVOCATION, StackPath, TWO_ROWS,
};
use crate::gpu::{Engine, EngineError, EngineOptions, GpuContext};
use crate::model::{Activation, Arch, Cell, Init, NetConfig, Task};

/// Which set of configurations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Suite {
    /// Tiny versions that run on a software adapter in seconds.
    Quick,
    /// The configurations S, M, L, deep and rnn of docs/DESIGN.md §Performance.
    Full,
    /// The lessons as the window trains them: the default preset (a 20-layer sigmoid MLP of width 64,
    /// batch 128), the default net switched to a recurrent one over 100 steps (32 units, batch 16), the
    /// LSTM lesson (preset `lstm-adding`: 200 steps, 32 units, batch 32) and the two norm lessons
    /// (`layernorm-tanh`: 50 layers of 64, batch 64; `batchnorm-explodes`: the same with batch 128).
    Lessons,
}

/// One configuration of the benchmark.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// Short name (S, M, L, deep, rnn).
    pub name: &'static str,
    /// The network.
    pub cfg: NetConfig,
}

fn mlp(depth: usize, width: usize, batch: usize) -> NetConfig {
    NetConfig {
        depth,
        width,
        batch,
        activation: Activation::Relu,
        init: Init::HeNormal,
        lr: 1e-3,
        ..NetConfig::default()
    }
}

fn rnn(steps: usize, hidden: usize, batch: usize) -> NetConfig {
    NetConfig {
        arch: Arch::Rnn,
        depth: steps,
        width: hidden,
        batch,
        activation: Activation::Tanh,
        init: Init::XavierNormal,
        task: Task::Adding,
        lr: 1e-3,
        ..NetConfig::default()
    }
}

fn lstm(steps: usize, hidden: usize, batch: usize) -> NetConfig {
    NetConfig {
        cell: Cell::Lstm,
        ..rnn(steps, hidden, batch)
    }
}

/// The configurations of a suite.
pub fn configs(suite: Suite) -> Vec<BenchConfig> {
    match suite {
        Suite::Full => vec![
            BenchConfig {
                name: "S",
                cfg: mlp(32, 64, 256),
            },
            BenchConfig {
                name: "M",
                cfg: mlp(64, 256, 512),
            },
            BenchConfig {
                name: "L",
                cfg: mlp(64, 1024, 1024),
            },
            BenchConfig {
                name: "deep",
                cfg: mlp(512, 128, 256),
            },
            BenchConfig {
                name: "rnn",
                cfg: rnn(300, 128, 64),
            },
            BenchConfig {
                name: "lstm",
                cfg: lstm(300, 128, 64),
            },
        ],
        Suite::Lessons => vec![
            BenchConfig {
                name: "preset",
                cfg: crate::model::Preset::builtin(crate::model::DEFAULT_PRESET)
                    .map(|p| p.config())
                    .unwrap_or_default(),
            },
            BenchConfig {
                name: "rnn-lesson",
                cfg: NetConfig {
                    arch: Arch::Rnn,
                    depth: 100,
                    width: 32,
                    batch: 16,
                    task: Task::default_for(Arch::Rnn),
                    ..NetConfig::default()
                },
            },
            BenchConfig {
                name: "lstm-lesson",
                cfg: crate::model::Preset::builtin("lstm-adding")
                    .map(|p| p.config())
                    .unwrap_or_default(),
            },
            BenchConfig {
                name: "layernorm",
                cfg: crate::model::Preset::builtin("layernorm-tanh")
                    .map(|p| p.config())
                    .unwrap_or_default(),
            },
            BenchConfig {
                name: "batchnorm",
                cfg: crate::model::Preset::builtin("batchnorm-explodes")
                    .map(|p| p.config())
                    .unwrap_or_default(),
            },
        ],
        Suite::Quick => vec![
            BenchConfig {
                name: "S-quick",
                cfg: mlp(8, 32, 64),
            },
            BenchConfig {
                name: "M-quick",
                cfg: mlp(16, 64, 64),
            },
            BenchConfig {
                name: "deep-quick",
                cfg: mlp(64, 16, 32),
            },
            BenchConfig {
                name: "rnn-quick",
                cfg: rnn(50, 16, 8),
            },
            BenchConfig {
                name: "lstm-quick",
                cfg: lstm(50, 16, 8),
            },
        ],
    }
}

/// The measurement of one configuration.
#[derive(Clone, Debug, Serialize)]
pub struct BenchResult {
    /// Configuration name.
    pub config: String,
    /// The engine variant that ran it ([`VARIANTS`]; `default` unless `--variants`).
    pub variant: String,
    /// The path the variant resolved to for this network: `fused:<rows per workgroup>` or `layered`.
    pub path: String,
    /// The network, one line.
    pub summary: String,
    /// Adapter that ran it.
    pub adapter: String,
    /// Whether the kernels shared loads across subgroup lanes (`gpu::shaders::lane_sharing`).
    pub lanes: bool,
    /// lavapipe's worker threads (`LP_NUM_THREADS`) where the adapter is lavapipe and the variable is set
    /// (the `gradscope` command sets it: `gpu::device::LAVAPIPE_THREADS_PER_CORE`).
    pub driver_threads: Option<u32>,
    /// Median wall-clock milliseconds per step (submit to results back, divided by steps per submission).
    pub median_ms: f64,
    /// 95th percentile of the same.
    pub p95_ms: f64,
    /// Median GPU milliseconds per step from timestamp queries, where the adapter has them.
    pub gpu_ms: Option<f64>,
    /// Floating-point operations per step divided by the median time.
    pub gflops: f64,
    /// Compute dispatches per step.
    pub dispatches_per_step: usize,
    /// Queue submissions per step.
    pub submissions_per_step: f64,
    /// Training steps recorded per submission.
    pub steps_per_submit: u32,
    /// GPU memory the network holds, MiB.
    pub gpu_mib: f64,
    /// Why it did not run (e.g. over the adapter's limits).
    pub skipped: Option<String>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// The engine variants `bench --variants` times: the fused stack / persistent RNN with several batch rows
/// per workgroup, and the layered path with each matmul tile policy (the largest tile that still gives
/// [`BUSY_WORKGROUPS`] workgroups, from a smallest tile; or one tile everywhere). One run on a new adapter
/// prints them side by side, so the default can be chosen from measurements.
pub const VARIANTS: [(&str, EngineOptions); 17] = [
    ("default", variant(BUSY_WORKGROUPS, 32, StackPath::Auto)),
    ("rows", variant(BUSY_WORKGROUPS, 32, StackPath::Rows)),
    (
        "rows:4",
        variant(BUSY_WORKGROUPS, 32, StackPath::RowsOf(ROWS_PER_INVOCATION)),
    ),
    (
        "rows:4x16",
        variant(BUSY_WORKGROUPS, 32, StackPath::RowsOf(FOUR_ROWS)),
    ),
    (
        "rows:2",
        variant(BUSY_WORKGROUPS, 32, StackPath::RowsOf(TWO_ROWS)),
    ),
    (
        "rows:1",
        variant(BUSY_WORKGROUPS, 32, StackPath::RowsOf(ONE_ROW)),
    ),
    (
        "fused-r1",
        variant(BUSY_WORKGROUPS, 32, StackPath::Fused(1)),
    ),
    (
        "fused-r4",
        variant(BUSY_WORKGROUPS, 32, StackPath::Fused(4)),
    ),
    (
        "fused-r16",
        variant(BUSY_WORKGROUPS, 32, StackPath::Fused(16)),
    ),
    (
        "fused-r64",
        variant(BUSY_WORKGROUPS, 32, StackPath::Fused(64)),
    ),
    ("layered", variant(BUSY_WORKGROUPS, 32, StackPath::Layered)),
    (
        "lay-small",
        variant(BUSY_WORKGROUPS, 16, StackPath::Layered),
    ),
    ("lay-tile16", variant(u32::MAX, 16, StackPath::Layered)),
    ("lay-tile32", variant(u32::MAX, 32, StackPath::Layered)),
    ("lay-tile64", variant(0, 64, StackPath::Layered)),
    (
        "lay-wide",
        variant(crate::gpu::tuner::WIDE_TILE_BUSY, 32, StackPath::Layered),
    ),
    ("lay-tile128", variant(0, 128, StackPath::Layered)),
];

const fn variant(busy_workgroups: u32, min_tile: u32, stack: StackPath) -> EngineOptions {
    EngineOptions {
        busy_workgroups,
        min_tile,
        stack,
        loop_budget: None,
    }
}

/// `adapter: NAME`, with lavapipe's worker threads where they are set: the first line of `bench`'s
/// tables.
pub fn adapter_line(ctx: &GpuContext) -> String {
    let threads = crate::gpu::device::threads_text(ctx.lavapipe_threads);
    format!("adapter: {}{threads}", ctx.adapter)
}

/// A result with nothing measured yet.
fn blank(ctx: &GpuContext, b: &BenchConfig, variant: &str, steps_per_submit: u32) -> BenchResult {
    BenchResult {
        config: b.name.to_string(),
        variant: variant.to_string(),
        path: String::new(),
        summary: b.cfg.summary(),
        adapter: ctx.adapter.clone(),
        lanes: ctx.pipelines.build().lanes,
        driver_threads: ctx.lavapipe_threads,
        median_ms: f64::NAN,
        p95_ms: f64::NAN,
        gpu_ms: None,
        gflops: f64::NAN,
        dispatches_per_step: 0,
        submissions_per_step: 1.0 / f64::from(steps_per_submit),
        steps_per_submit,
        gpu_mib: 0.0,
        skipped: None,
    }
}

/// Runs one configuration on one engine variant: a warm-up step, then timed submissions of
/// `steps_per_submit` steps each until `max_rounds` rounds or `budget_secs` seconds (at least 3 rounds).
pub fn run_one(
    ctx: &GpuContext,
    b: &BenchConfig,
    (variant, opts): (&str, EngineOptions),
    max_rounds: usize,
    steps_per_submit: u32,
    budget_secs: f64,
) -> BenchResult {
    let mut result = blank(ctx, b, variant, steps_per_submit);
    let mut engine = match Engine::with_options(ctx, &b.cfg, opts) {
        Ok(e) => e,
        Err(e) => {
            result.skipped = Some(e.to_string());
            return result;
        }
    };
    result.dispatches_per_step = engine.dispatches_per_step();
    result.path = engine.path_name();
    result.gpu_mib = engine.gpu_bytes() as f64 / (1024.0 * 1024.0);
    // warm-up (pipeline caches, first touch of memory)
    if let Err(e) = engine.step_timed(1) {
        result.skipped = Some(e.to_string());
        return result;
    }
    let start = Instant::now();
    let mut wall = Vec::with_capacity(max_rounds);
    let mut gpu = Vec::new();
    while wall.len() < max_rounds && (wall.len() < 3 || start.elapsed().as_secs_f64() < budget_secs)
    {
        let t0 = Instant::now();
        match engine.step_timed(steps_per_submit) {
            Ok(g) => {
                wall.push(t0.elapsed().as_secs_f64() * 1e3 / f64::from(steps_per_submit));
                if let Some(g) = g {
                    gpu.push(g / f64::from(steps_per_submit));
                }
            }
            Err(e) => {
                result.skipped = Some(e.to_string());
                return result;
            }
        }
        // keep the weights from diverging over long runs: the timing does not depend on their values
        if engine.updates() > 200 {
            engine.reset();
        }
    }
    wall.sort_by(f64::total_cmp);
    gpu.sort_by(f64::total_cmp);
    result.median_ms = percentile(&wall, 0.5);
    result.p95_ms = percentile(&wall, 0.95);
    result.gpu_ms = (!gpu.is_empty()).then(|| percentile(&gpu, 0.5));
    result.gflops = b.cfg.flops_per_step() / (result.median_ms * 1e-3) / 1e9;
    result
}

/// Runs a whole suite on the default engine (or, with `variants`, on every one of [`VARIANTS`], config by
/// config), handing each result to `report` as soon as it is measured.
pub fn run_suite(
    ctx: &GpuContext,
    suite: Suite,
    variants: bool,
    mut report: impl FnMut(&BenchResult),
) -> Vec<BenchResult> {
    let (rounds, steps, budget_secs) = match suite {
        Suite::Quick | Suite::Lessons => (60, 10, 1.5),
        Suite::Full => (30, 10, 4.0),
    };
    // the default run honours GRADSCOPE_ENGINE (an unknown value skips every row with the reason)
    let default = match EngineOptions::from_env() {
        Ok(opts) => ("default", opts),
        Err(e) => {
            let mut out = Vec::new();
            for b in &configs(suite) {
                let mut r = blank(ctx, b, "default", 1);
                r.skipped = Some(e.to_string());
                report(&r);
                out.push(r);
            }
            return out;
        }
    };
    let chosen: Vec<(&str, EngineOptions)> = if variants {
        VARIANTS.to_vec()
    } else {
        vec![default]
    };
    let mut out = Vec::new();
    for b in &configs(suite) {
        for &variant in &chosen {
            let r = run_one(ctx, b, variant, rounds, steps, budget_secs);
            report(&r);
            out.push(r);
        }
    }
    out
}

/// The header line of [`row`].
pub fn header() -> String {
    format!(
        "{:<11} {:<10} {:<9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>11} {:>9}",
        "config",
        "variant",
        "path",
        "ms/step",
        "p95 ms",
        "gpu ms",
        "GFLOP/s",
        "disp/step",
        "submit/step",
        "GPU MiB"
    )
}

/// One line of the results table.
pub fn row(r: &BenchResult) -> String {
    if let Some(why) = &r.skipped {
        return format!("{:<11} {:<10} skipped: {why}", r.config, r.variant);
    }
    let gpu = r.gpu_ms.map_or("-".to_string(), |g| format!("{g:.3}"));
    format!(
        "{:<11} {:<10} {:<9} {:>9.3} {:>9.3} {:>9} {:>9.1} {:>10} {:>11.2} {:>9.1}",
        r.config,
        r.variant,
        r.path,
        r.median_ms,
        r.p95_ms,
        gpu,
        r.gflops,
        r.dispatches_per_step,
        r.submissions_per_step,
        r.gpu_mib
    )
}

/// A plain-text table of results.
pub fn table(results: &[BenchResult]) -> String {
    let mut out = String::new();
    if let Some(r) = results.first() {
        let lanes = if r.lanes {
            " · loads shared across subgroup lanes"
        } else {
            ""
        };
        let threads = crate::gpu::device::threads_text(r.driver_threads);
        out.push_str(&format!("adapter: {}{threads}{lanes}\n", r.adapter));
    }
    out.push_str(&header());
    out.push('\n');
    for r in results {
        out.push_str(&row(r));
        out.push('\n');
    }
    out
}

/// Steps per [`Engine::step`] call in a soak; the statistics are read back after each.
pub const SOAK_CHUNK: u32 = 500;

/// One reading of a soak.
#[derive(Clone, Debug, Serialize)]
pub struct SoakSample {
    /// Updates applied so far.
    pub step: u64,
    /// Seconds since the soak started (after the engine was built).
    pub elapsed_s: f64,
    /// Wall-clock milliseconds per step since the previous reading (NaN at the first).
    pub ms_per_step: f64,
    /// Host resident memory, KiB (`VmRSS` of `/proc/self/status`; `None` where there is none).
    pub rss_kib: Option<u64>,
    /// GPU memory the engine holds, bytes ([`Engine::gpu_bytes`]).
    pub gpu_bytes: u64,
    /// The loss at this step (NaN or infinite once training diverged).
    pub loss: Option<f64>,
}

/// A soak's readings and their summary.
#[derive(Clone, Debug, Serialize)]
pub struct SoakReport {
    /// The network, one line.
    pub summary: String,
    /// Every reading, the first at step 0.
    pub samples: Vec<SoakSample>,
}

/// Host resident memory of this process in KiB (`VmRSS` in `/proc/self/status`), where there is one.
pub fn host_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// `bench --soak N`: trains the default preset for `steps` steps on the GPU engine in chunks of
/// [`SOAK_CHUNK`] (the statistics read back after each, as the window does) and hands `report` a
/// reading of host and GPU memory at the start, every tenth of the run (the middle among them) and the
/// end. Both should stay flat: a leak shows as growth between the readings.
pub fn soak(
    ctx: &GpuContext,
    steps: u64,
    mut report: impl FnMut(&SoakSample),
) -> anyhow::Result<SoakReport> {
    let cfg = crate::model::Preset::builtin(crate::model::DEFAULT_PRESET)?.config();
    let mut engine = Engine::new(ctx, &cfg)?;
    let start = Instant::now();
    let mut samples: Vec<SoakSample> = Vec::new();
    let mut take = |engine: &mut Engine, loss: Option<f64>, samples: &mut Vec<SoakSample>| {
        let elapsed_s = start.elapsed().as_secs_f64();
        let ms_per_step = samples.last().map_or(f64::NAN, |p: &SoakSample| {
            let n = engine.updates().saturating_sub(p.step);
            if n == 0 {
                f64::NAN
            } else {
                (elapsed_s - p.elapsed_s) * 1e3 / n as f64
            }
        });
        let s = SoakSample {
            step: engine.updates(),
            elapsed_s,
            ms_per_step,
            rss_kib: host_rss_kib(),
            gpu_bytes: engine.gpu_bytes(),
            loss,
        };
        report(&s);
        samples.push(s);
    };
    engine.compute();
    let first = engine.wait_stats()?;
    take(&mut engine, first.loss, &mut samples);
    let every = steps.div_ceil(10).max(1);
    for at in crate::cli::report_steps(steps, every).skip(1) {
        let mut loss = None;
        while engine.updates() < at {
            let n = u32::try_from(at - engine.updates())
                .unwrap_or(u32::MAX)
                .min(SOAK_CHUNK);
            engine.step(n);
            loss = engine.wait_stats()?.loss;
        }
        take(&mut engine, loss, &mut samples);
    }
    Ok(SoakReport {
        summary: cfg.summary(),
        samples,
    })
}

/// The header line of [`soak_row`].
pub fn soak_header() -> String {
    format!(
        "{:>10} {:>9} {:>9} {:>12} {:>12} {:>12}",
        "step", "seconds", "ms/step", "host RSS MiB", "GPU MiB", "loss"
    )
}

/// One line of a soak's table.
pub fn soak_row(s: &SoakSample) -> String {
    let mib = |b: f64| b / (1024.0 * 1024.0);
    let rss = s.rss_kib.map_or("-".to_string(), |k| {
        format!("{:.1}", mib(k as f64 * 1024.0))
    });
    let ms = if s.ms_per_step.is_finite() {
        format!("{:.3}", s.ms_per_step)
    } else {
        "-".to_string()
    };
    let loss = s.loss.map_or("-".to_string(), |l| format!("{l:.6}"));
    format!(
        "{:>10} {:>9.1} {:>9} {:>12} {:>12.2} {:>12}",
        s.step,
        s.elapsed_s,
        ms,
        rss,
        mib(s.gpu_bytes as f64),
        loss
    )
}

impl std::fmt::Display for SoakReport {
    /// One paragraph: steps, rate, and host and GPU memory at the start, middle and end.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (Some(first), Some(last)) = (self.samples.first(), self.samples.last()) else {
            return write!(f, "soak: no readings");
        };
        let middle = &self.samples[self.samples.len() / 2];
        let steps = last.step - first.step;
        let rate = if steps > 0 {
            last.elapsed_s * 1e3 / steps as f64
        } else {
            f64::NAN
        };
        let rss = |s: &SoakSample| {
            s.rss_kib
                .map_or("-".to_string(), |k| format!("{:.1}", k as f64 / 1024.0))
        };
        let gpu = |s: &SoakSample| format!("{:.2}", s.gpu_bytes as f64 / (1024.0 * 1024.0));
        write!(
            f,
            "soak of {}: {steps} steps in {:.1} s ({rate:.3} ms/step); host RSS MiB at steps {}/{}/{}: {}/{}/{}; GPU MiB: {}/{}/{}",
            self.summary,
            last.elapsed_s,
            first.step,
            middle.step,
            last.step,
            rss(first),
            rss(middle),
            rss(last),
            gpu(first),
            gpu(middle),
            gpu(last)
        )
    }
}

/// GPU time of one kernel in one configuration's step (`bench --profile`).
#[derive(Clone, Debug, Serialize)]
pub struct ProfileRow {
    /// Configuration name.
    pub config: String,
    /// The path the step ran (`rows`, `fused:<rows>`, `layered`).
    pub path: String,
    /// The kernel (its `Kernel` name).
    pub kernel: String,
    /// Its dispatches per step.
    pub dispatches: usize,
    /// Its GPU milliseconds per step (the median of the profiled steps), each dispatch timed in its own
    /// compute pass (so the sum is above a step's time where passes would overlap).
    pub ms: f64,
}

/// Per kernel, the GPU time of a step of every configuration of `suite` on the default engine, from
/// timestamps around each dispatch; `None` where the adapter has no timestamps. The complete step's
/// kernels come first, then the `...Bare` kernels that replace some of them in a step whose statistics
/// nobody reads (every step of a run but its last).
pub fn profile(ctx: &GpuContext, suite: Suite) -> Result<Option<Vec<ProfileRow>>, EngineError> {
    let opts = EngineOptions::from_env()?;
    let mut out = Vec::new();
    for b in &configs(suite) {
        let mut engine = Engine::with_options(ctx, &b.cfg, opts)?;
        engine.step_timed(1)?;
        // complete steps and bare ones (every step of a run but its last) alternately
        let mut runs = [Vec::new(), Vec::new()];
        for _ in 0..5 {
            for (bare, r) in runs.iter_mut().enumerate() {
                match engine.profile_step(bare == 1)? {
                    Some(t) => r.push(t),
                    None => return Ok(None),
                }
            }
        }
        // the complete step's kernels, then those only a bare step runs (its `...Bare` kernels)
        let mut kernels: Vec<(String, usize)> = Vec::new();
        for (which, r) in runs.iter().enumerate() {
            for (k, _) in &r[0] {
                let name = format!("{k:?}");
                if !kernels.iter().any(|(n, _)| *n == name) {
                    kernels.push((name, which));
                }
            }
        }
        for (name, which) in kernels {
            let runs = &runs[which];
            let mut per_run: Vec<f64> = runs
                .iter()
                .map(|r| {
                    r.iter()
                        .filter(|(k, _)| format!("{k:?}") == name)
                        .map(|(_, ms)| ms)
                        .sum()
                })
                .collect();
            per_run.sort_by(f64::total_cmp);
            out.push(ProfileRow {
                config: b.name.to_string(),
                path: engine.path_name(),
                dispatches: runs[0]
                    .iter()
                    .filter(|(k, _)| format!("{k:?}") == name)
                    .count(),
                kernel: name,
                ms: percentile(&per_run, 0.5),
            });
        }
    }
    Ok(Some(out))
}

/// The trainability-map benchmark of a suite: the base net, the grid and the training steps. Full: a
/// 24 × 24 gain × bias-std grid of depth-30 width-64 tanh nets (batch 16), 100 steps; quick: 8 × 8 of
/// the same nets, 10 steps.
pub fn sweep_bench_config(suite: Suite) -> (NetConfig, crate::sweep::SweepSpec) {
    let base = NetConfig {
        depth: 30,
        width: 64,
        batch: 16,
        activation: Activation::Tanh,
        init: Init::XavierNormal,
        lr: 0.01,
        ..NetConfig::default()
    };
    let mut spec = crate::sweep::SweepSpec::edge_of_chaos();
    match suite {
        Suite::Full => spec.steps = 100,
        Suite::Quick | Suite::Lessons => {
            spec.x.cells = 8;
            spec.y.cells = 8;
            spec.steps = 10;
        }
    }
    (base, spec)
}

/// What `gradscope bench --sweep` measured.
#[derive(Clone, Debug, Serialize)]
pub struct SweepBenchResult {
    /// `sweep-24x24` or `sweep-8x8`.
    pub config: String,
    /// The adapter.
    pub adapter: String,
    /// Nets in the grid.
    pub nets: usize,
    /// Training steps of every net.
    pub steps: u32,
    /// Population engines (a grid larger than one engine's memory is split).
    pub engines: usize,
    /// Dispatches per training step, all engines together.
    pub dispatches_per_step: usize,
    /// GPU memory of the largest engine, MiB.
    pub gpu_mib: f64,
    /// Seconds of the sweep at init (the gradient ratio of every net).
    pub init_secs: f64,
    /// Seconds of the sweep with training (the gradient at init, the steps, the gradient after them).
    pub train_secs: f64,
    /// Milliseconds per training step of the whole grid: (train − init) / steps.
    pub grid_ms_per_step: f64,
    /// The same per net.
    pub net_ms_per_step: f64,
    /// Milliseconds per step of one net on its own engine (the median of a few nets of the grid), for
    /// comparison: one engine per net would take this × nets per grid step.
    pub single_net_ms_per_step: f64,
}

/// Times the trainability map of `suite`: the grid at init, the grid trained, and single-net engines of
/// the same shape for comparison.
pub fn sweep_bench(
    ctx: &GpuContext,
    suite: Suite,
) -> Result<SweepBenchResult, crate::sweep::SweepError> {
    use std::sync::atomic::AtomicBool;
    let (base, spec) = sweep_bench_config(suite);
    let never = AtomicBool::new(false);
    // GRADSCOPE_ENGINE forces a path, as for the suite
    let opts = EngineOptions::from_env()?;
    let at_init = crate::sweep::SweepSpec { steps: 0, ..spec };
    // warm-up (pipelines, allocations), then the two timed sweeps
    crate::sweep::run(
        ctx,
        &crate::sweep::SweepSpec {
            x: crate::sweep::Axis { cells: 2, ..spec.x },
            y: crate::sweep::Axis { cells: 2, ..spec.y },
            ..at_init
        },
        &base,
        opts,
        &mut |_, _| {},
        &never,
    )?;
    let init = crate::sweep::run(ctx, &at_init, &base, opts, &mut |_, _| {}, &never)?;
    let trained = crate::sweep::run(ctx, &spec, &base, opts, &mut |_, _| {}, &never)?;
    let grid_ms = (trained.seconds - init.seconds).max(0.0) * 1e3 / f64::from(spec.steps.max(1));
    // single nets: a few cells along the diagonal, each timed over a few steps after one warm-up step
    let mut single = Vec::new();
    for k in 0..4 {
        let cfg = spec.cell_config(
            &base,
            k * (spec.x.cells - 1) / 3,
            k * (spec.y.cells - 1) / 3,
        );
        let mut e = Engine::new(ctx, &cfg)?;
        e.step(1);
        e.wait_stats()?;
        let n = 10;
        let t = Instant::now();
        e.step(n);
        e.wait_stats()?;
        single.push(t.elapsed().as_secs_f64() * 1e3 / f64::from(n));
    }
    let nets = spec.nets();
    Ok(SweepBenchResult {
        config: format!("sweep-{}x{}", spec.x.cells, spec.y.cells),
        adapter: ctx.adapter.clone(),
        nets,
        steps: spec.steps,
        engines: trained.engines,
        dispatches_per_step: trained.dispatches_per_step,
        gpu_mib: trained.gpu_bytes as f64 / (1024.0 * 1024.0),
        init_secs: init.seconds,
        train_secs: trained.seconds,
        grid_ms_per_step: grid_ms,
        net_ms_per_step: grid_ms / nets as f64,
        single_net_ms_per_step: {
            single.sort_by(f64::total_cmp);
            percentile(&single, 0.5)
        },
    })
}
