//! The trainability map: a grid of networks around one base configuration, two of its settings swept along
//! the axes, every net trained at once in population engines ([`Engine::population`]) and measured by one
//! metric; with the mean-field order-to-chaos line and depth-scale band ([`crate::theory::phase`]) in the
//! grid's coordinates. docs/DESIGN.md §Trainability map has the definitions.
//!
//! Nets that share a training program (a gain × bias-std grid: all of them) go into one population;
//! an axis that changes the program (depth, width, learning rate) makes one population per value. A
//! population larger than [`MAX_ENGINE_BYTES`] or the adapter's limits is split into several, checked before
//! anything is allocated.

use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::gpu::{Engine, EngineError, EngineOptions, GpuContext};
use crate::model::{Arch, ConfigError, NetConfig, Norm};
use crate::stats::{StepStats, json_num};
use crate::theory::mean_field::hidden_sigma_w2;
use crate::theory::phase::{
    TRAINABLE_DEPTH_SCALES, bisect_steps, critical_sigma_w2, depth_scale_band, phase_point,
};

/// Largest number of cells along one axis.
pub const MAX_AXIS_CELLS: usize = 64;
/// Largest number of training steps of a sweep.
pub const MAX_SWEEP_STEPS: u32 = 100_000;
/// Largest state buffer of one population engine: bigger populations are split (the adapter's own limits
/// may be lower).
pub const MAX_ENGINE_BYTES: u64 = 512 << 20;

/// A setting a sweep axis varies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum SweepParam {
    /// The init gain g (σ_w ∝ g).
    Gain,
    /// The standard deviation of the initial biases σ_b.
    BiasStd,
    /// Layers (time steps); rounded to whole layers.
    Depth,
    /// The learning rate.
    Lr,
    /// Units per layer; rounded to whole units.
    Width,
}

impl SweepParam {
    /// Every parameter.
    pub const ALL: [SweepParam; 5] = [
        SweepParam::Gain,
        SweepParam::BiasStd,
        SweepParam::Depth,
        SweepParam::Lr,
        SweepParam::Width,
    ];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            SweepParam::Gain => "gain",
            SweepParam::BiasStd => "bias-std",
            SweepParam::Depth => "depth",
            SweepParam::Lr => "lr",
            SweepParam::Width => "width",
        }
    }

    /// The axis title of a figure.
    pub fn label(self) -> &'static str {
        match self {
            SweepParam::Gain => "weight gain g (σ_w scales with g)",
            SweepParam::BiasStd => "bias std σ_b",
            SweepParam::Depth => "depth (layers)",
            SweepParam::Lr => "learning rate",
            SweepParam::Width => "width (units)",
        }
    }

    /// Whether the values are whole numbers.
    pub fn is_integer(self) -> bool {
        matches!(self, SweepParam::Depth | SweepParam::Width)
    }

    /// The value of this setting in `cfg`.
    pub fn get(self, cfg: &NetConfig) -> f64 {
        match self {
            SweepParam::Gain => cfg.gain,
            SweepParam::BiasStd => cfg.bias_std,
            SweepParam::Depth => cfg.depth as f64,
            SweepParam::Lr => cfg.lr,
            SweepParam::Width => cfg.width as f64,
        }
    }

    /// `cfg` with this setting at `v`.
    pub fn set(self, cfg: &NetConfig, v: f64) -> NetConfig {
        let mut c = cfg.clone();
        match self {
            SweepParam::Gain => c.gain = v,
            SweepParam::BiasStd => c.bias_std = v,
            SweepParam::Depth => c.depth = v.round().max(0.0) as usize,
            SweepParam::Lr => c.lr = v,
            SweepParam::Width => c.width = v.round().max(0.0) as usize,
        }
        c
    }
}

/// One axis: `cells` values from `from` to `to`, evenly spaced (`AXIS:FROM:TO:N` on the command line).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Axis {
    /// The setting.
    pub param: SweepParam,
    /// First value.
    pub from: f64,
    /// Last value.
    pub to: f64,
    /// Number of values (2..=[`MAX_AXIS_CELLS`]).
    pub cells: usize,
}

impl Axis {
    /// The i-th value (rounded for whole-number settings).
    pub fn value(&self, i: usize) -> f64 {
        let t = i as f64 / (self.cells.max(2) - 1) as f64;
        let v = self.from + t * (self.to - self.from);
        if self.param.is_integer() {
            v.round()
        } else {
            v
        }
    }

    /// Every value.
    pub fn values(&self) -> Vec<f64> {
        (0..self.cells).map(|i| self.value(i)).collect()
    }

    /// The distance between neighbouring values.
    pub fn step(&self) -> f64 {
        (self.to - self.from) / (self.cells.max(2) - 1) as f64
    }

    fn check(&self) -> Result<(), SweepError> {
        let bad = |why: String| SweepError::Axis(format!("{}: {why}", self.param.name()));
        if !(2..=MAX_AXIS_CELLS).contains(&self.cells) {
            return Err(bad(format!(
                "{} cells; an axis has 2..={MAX_AXIS_CELLS}",
                self.cells
            )));
        }
        if !(self.from.is_finite() && self.to.is_finite()) || self.from >= self.to {
            return Err(bad(format!(
                "the range {}..{} must run from a smaller to a larger finite value",
                self.from, self.to
            )));
        }
        if self.param.is_integer() {
            let v = self.values();
            if v.windows(2).any(|w| w[0] == w[1]) {
                return Err(bad(format!(
                    "{} cells between {} and {} repeat whole numbers; use fewer cells",
                    self.cells, self.from, self.to
                )));
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for Axis {
    type Err = SweepError;

    /// `AXIS:FROM:TO:N`, e.g. `gain:0.5:3:24`.
    fn from_str(s: &str) -> Result<Axis, SweepError> {
        let parts: Vec<&str> = s.split(':').collect();
        let [name, from, to, cells] = parts[..] else {
            return Err(SweepError::Axis(format!(
                "'{s}' is not AXIS:FROM:TO:N (e.g. gain:0.5:3:24)"
            )));
        };
        let param = SweepParam::ALL
            .into_iter()
            .find(|p| p.name() == name.trim())
            .ok_or_else(|| {
                SweepError::Axis(format!(
                    "unknown axis '{name}': use one of {}",
                    SweepParam::ALL.map(SweepParam::name).join(", ")
                ))
            })?;
        let num = |v: &str| {
            v.trim()
                .parse::<f64>()
                .map_err(|_| SweepError::Axis(format!("'{v}' in '{s}' is not a number")))
        };
        let cells = cells
            .trim()
            .parse::<usize>()
            .map_err(|_| SweepError::Axis(format!("'{cells}' in '{s}' is not a cell count")))?;
        let axis = Axis {
            param,
            from: num(from)?,
            to: num(to)?,
            cells,
        };
        axis.check()?;
        Ok(axis)
    }
}

impl std::fmt::Display for Axis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}",
            self.param.name(),
            self.from,
            self.to,
            self.cells
        )
    }
}

/// What a cell of the map shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// log10 of ‖δ_1‖/‖δ_L‖ after the steps (at init with 0 steps): below 0 the gradient vanishes
    /// towards the input, above 0 it explodes.
    #[default]
    GradRatio,
    /// The loss after the steps relative to the initial loss.
    Loss,
    /// The fraction of non-finite values (NaN, ±∞) among the loss and every unit's mean |δ| after the
    /// steps.
    Nonfinite,
}

impl Metric {
    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::GradRatio => "grad-ratio",
            Metric::Loss => "loss",
            Metric::Nonfinite => "nonfinite",
        }
    }

    /// The colour bar's title.
    pub fn label(self) -> &'static str {
        match self {
            Metric::GradRatio => "log10 ||δ_1|| / ||δ_L||",
            Metric::Loss => "log10 loss / initial loss",
            Metric::Nonfinite => "non-finite fraction",
        }
    }
}

/// A whole sweep: the two axes, the training steps and the metric (the base configuration lives beside
/// it).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepSpec {
    /// The horizontal axis.
    pub x: Axis,
    /// The vertical axis.
    pub y: Axis,
    /// Training steps before the metric is read (0: at init).
    pub steps: u32,
    /// What the cells show.
    pub metric: Metric,
}

impl Default for SweepSpec {
    fn default() -> Self {
        SweepSpec::edge_of_chaos()
    }
}

impl SweepSpec {
    /// The classic map: gain 0.5..3 by bias std 0..0.5, 24 × 24, at init.
    pub fn edge_of_chaos() -> SweepSpec {
        SweepSpec {
            x: Axis {
                param: SweepParam::Gain,
                from: 0.5,
                to: 3.0,
                cells: 24,
            },
            y: Axis {
                param: SweepParam::BiasStd,
                from: 0.0,
                to: 0.5,
                cells: 24,
            },
            steps: 0,
            metric: Metric::GradRatio,
        }
    }

    /// Checks the axes, the steps and every cell's configuration.
    pub fn check(&self, base: &NetConfig) -> Result<(), SweepError> {
        self.x.check()?;
        self.y.check()?;
        if self.x.param == self.y.param {
            return Err(SweepError::Axis(format!(
                "both axes sweep {}; choose two different settings",
                self.x.param.name()
            )));
        }
        if self.steps > MAX_SWEEP_STEPS {
            return Err(SweepError::Axis(format!(
                "{} steps; a sweep runs at most {MAX_SWEEP_STEPS}",
                self.steps
            )));
        }
        for iy in [0, self.y.cells - 1] {
            for ix in [0, self.x.cells - 1] {
                self.cell_config(base, ix, iy)
                    .validate()
                    .map_err(|e| SweepError::Cell {
                        x: self.x.value(ix),
                        y: self.y.value(iy),
                        source: e,
                    })?;
            }
        }
        Ok(())
    }

    /// The configuration of cell (ix, iy).
    pub fn cell_config(&self, base: &NetConfig, ix: usize, iy: usize) -> NetConfig {
        let c = self.x.param.set(base, self.x.value(ix));
        self.y.param.set(&c, self.y.value(iy))
    }

    /// Nets in the grid.
    pub fn nets(&self) -> usize {
        self.x.cells * self.y.cells
    }
}

/// A sweep that cannot run.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// An axis is malformed or out of range.
    #[error("sweep axis {0}")]
    Axis(String),
    /// A corner of the grid is not a valid network.
    #[error("the sweep's cell at x = {x}, y = {y} is not a valid network: {source}")]
    Cell {
        /// The cell's x value.
        x: f64,
        /// The cell's y value.
        y: f64,
        /// Why.
        source: ConfigError,
    },
    /// The engine refused (adapter limits) or failed.
    #[error("{0}")]
    Engine(#[from] EngineError),
    /// The user stopped it.
    #[error("the sweep was cancelled")]
    Cancelled,
}

/// One cell's measurements.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepCell {
    /// Column (x index).
    pub ix: usize,
    /// Row (y index).
    pub iy: usize,
    /// The x setting's value.
    pub x: f64,
    /// The y setting's value.
    pub y: f64,
    /// The selected metric (null where undefined: an exact zero gradient at one end).
    #[serde(serialize_with = "json_num::opt")]
    pub value: Option<f64>,
    /// log10 ‖δ_1‖/‖δ_L‖ at init.
    #[serde(serialize_with = "json_num::opt")]
    pub log10_grad_ratio_init: Option<f64>,
    /// log10 ‖δ_1‖/‖δ_L‖ after the steps.
    #[serde(serialize_with = "json_num::opt")]
    pub log10_grad_ratio: Option<f64>,
    /// The loss at init.
    #[serde(serialize_with = "json_num::opt")]
    pub loss_init: Option<f64>,
    /// The loss after the steps.
    #[serde(serialize_with = "json_num::opt")]
    pub loss: Option<f64>,
    /// Loss after the steps / loss at init.
    #[serde(serialize_with = "json_num::opt")]
    pub loss_ratio: Option<f64>,
    /// Non-finite fraction after the steps.
    #[serde(serialize_with = "json_num::f64")]
    pub nonfinite_fraction: f64,
}

/// The theory drawn over the map, in the grid's (x, y) coordinates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TheoryLines {
    /// χ₁ = 1: the order-to-chaos line.
    pub critical: Vec<[f64; 2]>,
    /// The ordered edge of the trainable band, depth = 6·ξ_c.
    pub band_ordered: Vec<[f64; 2]>,
    /// The chaotic edge of the trainable band, depth = 6·ξ_c.
    pub band_chaotic: Vec<[f64; 2]>,
    /// Where the mean-field recursion from the actual input ([`crate::theory::mean_field::predict`])
    /// gives ‖δ_1‖ = ‖δ_L‖ at the base's depth: the finite-depth edge, which departs from χ₁ = 1 where
    /// the pre-activations reach their fixed point slowly (no bias: q_l falls to q* = 0 like 1/l).
    #[serde(default)]
    pub finite_depth: Vec<[f64; 2]>,
    /// Why there are no lines, or what they assume.
    pub note: String,
}

/// A finished sweep.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepResult {
    /// What was swept.
    pub spec: SweepSpec,
    /// The configuration every cell starts from.
    pub base: NetConfig,
    /// The adapter that trained the nets.
    pub adapter: String,
    /// Population engines used (one unless the grid changes the program or is split to fit).
    pub engines: usize,
    /// Dispatches per training step of all engines together.
    pub dispatches_per_step: usize,
    /// Bytes of GPU memory of the largest engine (they run one after another).
    pub gpu_bytes: u64,
    /// Wall-clock seconds of the whole sweep.
    pub seconds: f64,
    /// Row by row (iy, then ix).
    pub cells: Vec<SweepCell>,
    /// Theory over the map.
    pub theory: TheoryLines,
}

impl SweepResult {
    /// Cell (ix, iy).
    pub fn cell(&self, ix: usize, iy: usize) -> Option<&SweepCell> {
        self.cells.get(iy * self.spec.x.cells + ix)
    }

    /// The range of the finite metric values.
    pub fn value_range(&self) -> Option<(f64, f64)> {
        let v: Vec<f64> = self
            .cells
            .iter()
            .filter_map(|c| c.value)
            .filter(|v| v.is_finite())
            .collect();
        (!v.is_empty()).then(|| {
            (
                v.iter().copied().fold(f64::INFINITY, f64::min),
                v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            )
        })
    }

    /// Along each row, where the metric crosses 0 (the gradient ratio crosses 1), linearly interpolated
    /// in x between the first pair of neighbours whose values straddle 0: `(row's y, crossing x)`.
    pub fn zero_crossings(&self) -> Vec<(f64, Option<f64>)> {
        (0..self.spec.y.cells)
            .map(|iy| {
                let row: Vec<&SweepCell> = (0..self.spec.x.cells)
                    .filter_map(|ix| self.cell(ix, iy))
                    .collect();
                let y = self.spec.y.value(iy);
                let cross = row.windows(2).find_map(|w| {
                    let (a, b) = (w[0].value?, w[1].value?);
                    (a.is_finite() && b.is_finite() && a.signum() != b.signum())
                        .then(|| w[0].x + (w[1].x - w[0].x) * a / (a - b))
                });
                (y, cross)
            })
            .collect()
    }
}

/// log10 ‖δ_1‖/‖δ_L‖ of a statistics record (`‖δ‖` over the batch and units of a layer; every layer has
/// the same size, so the ratio of rms values). NaN where either end is not finite.
pub fn log10_grad_ratio(stats: &StepStats) -> Option<f64> {
    let (first, last) = (stats.layers.first()?, stats.layers.last()?);
    if first.is_nonfinite() || last.is_nonfinite() {
        return Some(f64::NAN);
    }
    Some(first.log10_delta_rms? - last.log10_delta_rms?)
}

/// The non-finite fraction of a statistics record: of the loss and every unit's mean |δ|.
pub fn nonfinite_fraction(stats: &StepStats) -> f64 {
    let units = stats.layers.iter().flat_map(|l| &l.log10_mean_abs_delta);
    let (mut bad, mut all) = (0usize, 0usize);
    for v in units {
        all += 1;
        bad += usize::from(v.is_some_and(|v| !v.is_finite()));
    }
    all += 1;
    bad += usize::from(!stats.loss.is_some_and(f64::is_finite));
    bad as f64 / all as f64
}

fn measure(spec: &SweepSpec, ix: usize, iy: usize, init: &StepStats, end: &StepStats) -> SweepCell {
    let ratio0 = log10_grad_ratio(init);
    let ratio = log10_grad_ratio(end);
    let loss_ratio = match (init.loss, end.loss) {
        (Some(a), Some(b)) if a > 0.0 => Some(b / a),
        _ => None,
    };
    let nonfinite = nonfinite_fraction(end);
    let value = match spec.metric {
        Metric::GradRatio => ratio,
        Metric::Loss => loss_ratio.map(|r| if r > 0.0 { r.log10() } else { f64::NAN }),
        Metric::Nonfinite => Some(nonfinite),
    };
    SweepCell {
        ix,
        iy,
        x: spec.x.value(ix),
        y: spec.y.value(iy),
        value,
        log10_grad_ratio_init: ratio0,
        log10_grad_ratio: ratio,
        loss_init: init.loss,
        loss: end.loss,
        loss_ratio,
        nonfinite_fraction: nonfinite,
    }
}

/// Progress of a running sweep: nets finished, of all nets.
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize);

/// Steps between progress reports (and cancellation checks) of a long sweep.
const STEPS_PER_REPORT: u32 = 10;

/// The nets of one population engine: (ix, iy, configuration) of each.
type Population = Vec<(usize, usize, NetConfig)>;

/// The populations of a sweep: cells grouped by training program, in grid order, each group split so that
/// one engine stays within `max_bytes` and the adapter's limits.
fn populations(
    ctx: &GpuContext,
    spec: &SweepSpec,
    base: &NetConfig,
    opts: EngineOptions,
    max_bytes: u64,
) -> Result<Vec<Population>, SweepError> {
    let mut groups: Vec<Population> = Vec::new();
    for iy in 0..spec.y.cells {
        for ix in 0..spec.x.cells {
            let cfg = spec.cell_config(base, ix, iy);
            cfg.validate().map_err(|e| SweepError::Cell {
                x: spec.x.value(ix),
                y: spec.y.value(iy),
                source: e,
            })?;
            match groups.iter_mut().find(|g| g[0].2.same_program(&cfg)) {
                Some(g) => g.push((ix, iy, cfg)),
                None => groups.push(vec![(ix, iy, cfg)]),
            }
        }
    }
    let mut out = Vec::new();
    for group in groups {
        let cfg = &group[0].2;
        // one net must fit on its own (the message then says what to shrink); then as many as fit
        crate::gpu::check_engine_limits(ctx, cfg, opts, 1)?;
        let mut per = group.len();
        while per > 1
            && (crate::gpu::population_bytes(ctx, cfg, opts, per) > max_bytes
                || crate::gpu::check_engine_limits(ctx, cfg, opts, per).is_err())
        {
            per = per.div_ceil(2);
        }
        out.extend(group.chunks(per).map(<[_]>::to_vec));
    }
    Ok(out)
}

/// Trains the grid: every population's nets together, the metric read at init and after the steps.
/// `progress` hears (nets done, all nets); `cancel` stops it between reports.
pub fn run(
    ctx: &GpuContext,
    spec: &SweepSpec,
    base: &NetConfig,
    opts: EngineOptions,
    progress: Progress<'_>,
    cancel: &AtomicBool,
) -> Result<SweepResult, SweepError> {
    spec.check(base)?;
    let started = std::time::Instant::now();
    let pops = populations(ctx, spec, base, opts, MAX_ENGINE_BYTES)?;
    let total = spec.nets();
    let (mut done, mut dispatches, mut gpu_bytes) = (0usize, 0usize, 0u64);
    let mut cells: Vec<Option<SweepCell>> = vec![None; total];
    // work units for the progress bar: each net counts steps + 1 (the gradient at init)
    let per_net = spec.steps as usize + 1;
    progress(0, total * per_net);
    for pop in &pops {
        let cfgs: Vec<NetConfig> = pop.iter().map(|(_, _, c)| c.clone()).collect();
        let mut engine = Engine::population(ctx, &cfgs, opts)?;
        dispatches += engine.dispatches_per_step();
        gpu_bytes = gpu_bytes.max(engine.gpu_bytes());
        engine.compute();
        engine.wait_stats()?;
        let init = engine.read_net_stats()?;
        let mut left = spec.steps;
        let mut work = done * per_net + pop.len();
        progress(work, total * per_net);
        while left > 0 {
            if cancel.load(Ordering::Relaxed) {
                return Err(SweepError::Cancelled);
            }
            let n = left.min(STEPS_PER_REPORT);
            engine.step(n);
            engine.wait_stats()?;
            left -= n;
            work += pop.len() * n as usize;
            progress(work, total * per_net);
        }
        let end = if spec.steps > 0 {
            engine.compute();
            engine.wait_stats()?;
            engine.read_net_stats()?
        } else {
            init.clone()
        };
        for (((ix, iy, _), a), b) in pop.iter().zip(&init).zip(&end) {
            cells[iy * spec.x.cells + ix] = Some(measure(spec, *ix, *iy, a, b));
        }
        done += pop.len();
        progress(done * per_net, total * per_net);
        if cancel.load(Ordering::Relaxed) && done < total {
            return Err(SweepError::Cancelled);
        }
    }
    Ok(SweepResult {
        spec: *spec,
        base: base.clone(),
        adapter: ctx.adapter.clone(),
        engines: pops.len(),
        dispatches_per_step: dispatches,
        gpu_bytes,
        seconds: started.elapsed().as_secs_f64(),
        cells: cells.into_iter().flatten().collect(),
        theory: theory_lines(spec, base),
    })
}

/// Samples along an axis for the theory lines.
const LINE_SAMPLES: usize = 48;

/// The mean-field lines of `spec` around `base` in grid coordinates: drawn for a plain MLP (no residual
/// connections, no norm) when one axis is the gain and the other the bias std or the depth.
pub fn theory_lines(spec: &SweepSpec, base: &NetConfig) -> TheoryLines {
    let none = |why: &str| TheoryLines {
        note: why.to_string(),
        ..TheoryLines::default()
    };
    if base.arch != Arch::Mlp || base.residual || base.norm != Norm::None {
        return none(
            "no mean-field lines: they are drawn for plain MLPs (no residual connections, no norm)",
        );
    }
    let (gain_axis, other, gain_is_x) = match (spec.x.param, spec.y.param) {
        (SweepParam::Gain, _) => (spec.x, spec.y, true),
        (_, SweepParam::Gain) => (spec.y, spec.x, false),
        _ => return none("no mean-field lines: they need the gain on one axis"),
    };
    let act = base.activation;
    // σ_w² = gain² · unit, the init's variance at gain 1
    let unit = hidden_sigma_w2(&NetConfig {
        gain: 1.0,
        ..base.clone()
    });
    let to_gain = |w2: f64| (w2 / unit).sqrt();
    let (w2_lo, w2_hi) = (
        unit * (0.5 * gain_axis.from).powi(2),
        unit * (2.0 * gain_axis.to).powi(2),
    );
    let orient = |g: f64, o: f64| if gain_is_x { [g, o] } else { [o, g] };
    let samples = |a: &Axis| -> Vec<f64> {
        (0..LINE_SAMPLES)
            .map(|i| a.from + (a.to - a.from) * i as f64 / (LINE_SAMPLES - 1) as f64)
            .collect()
    };
    let mut lines = TheoryLines {
        note: format!(
            "mean field at init (Poole et al. 2016, Schoenholz et al. 2017): χ₁ = 1 and depth = {TRAINABLE_DEPTH_SCALES}·ξ_c; exact for infinitely wide nets with Gaussian weights"
        ),
        ..TheoryLines::default()
    };
    match other.param {
        SweepParam::BiasStd => {
            for sb in samples(&other) {
                let sb2 = sb * sb;
                if let Some(w2) = critical_sigma_w2(act, sb2, w2_lo, w2_hi) {
                    lines.critical.push(orient(to_gain(w2), sb));
                }
                let (lo, hi) = depth_scale_band(
                    act,
                    sb2,
                    base.depth as f64,
                    TRAINABLE_DEPTH_SCALES,
                    w2_lo,
                    w2_hi,
                );
                if let Some(w2) = lo {
                    lines.band_ordered.push(orient(to_gain(w2), sb));
                }
                if let Some(w2) = hi {
                    lines.band_chaotic.push(orient(to_gain(w2), sb));
                }
                let ratio = |g: f64| {
                    let cfg = NetConfig {
                        gain: g,
                        bias_std: sb,
                        ..base.clone()
                    };
                    crate::theory::mean_field::predict(&cfg)
                        .ok()
                        .and_then(|p| p.layers.first().and_then(|l| l.log10_delta_rel))
                        .unwrap_or(f64::NAN)
                };
                let (g_lo, g_hi) = (0.5 * gain_axis.from, 2.0 * gain_axis.to);
                if let Some(g) =
                    bisect_steps(g_lo.max(1e-3), g_hi.min(crate::model::MAX_GAIN), 30, ratio)
                {
                    lines.finite_depth.push(orient(g, sb));
                }
            }
        }
        SweepParam::Depth => {
            let sb2 = base.bias_std * base.bias_std;
            if let Some(w2) = critical_sigma_w2(act, sb2, w2_lo, w2_hi) {
                let g = to_gain(w2);
                lines.critical = vec![orient(g, other.from), orient(g, other.to)];
            }
            for g in samples(&gain_axis) {
                let xi = phase_point(act, unit * g * g, sb2).xi_c;
                let depth = TRAINABLE_DEPTH_SCALES * xi;
                if depth.is_finite() && depth <= other.to * 2.0 {
                    let side = if chi_side(act, unit * g * g, sb2) {
                        &mut lines.band_chaotic
                    } else {
                        &mut lines.band_ordered
                    };
                    side.push(orient(g, depth));
                }
            }
        }
        _ => {
            return none(
                "no mean-field lines: they are drawn over gain × bias std or gain × depth",
            );
        }
    }
    lines
}

/// Whether (σ_w², σ_b²) is on the chaotic side (χ₁ > 1).
fn chi_side(act: crate::model::Activation, w2: f64, sb2: f64) -> bool {
    crate::theory::phase::chi1(act, w2, sb2) > 1.0
}

/// The x of a theory line at height `y` when the line runs along the y axis (its points ordered in y),
/// linearly interpolated; `None` outside it or when the gain is on the y axis.
pub fn theory_at(line: &[[f64; 2]], spec: &SweepSpec, y: f64) -> Option<f64> {
    if spec.x.param != SweepParam::Gain {
        return None;
    }
    line.windows(2).find_map(|w| {
        let ([xa, ya], [xb, yb]) = (w[0], w[1]);
        ((ya - y) * (yb - y) <= 0.0 && ya != yb).then(|| xa + (xb - xa) * (y - ya) / (yb - ya))
    })
}
