//! The training program: the dispatches (kernel, parameter record, workgroup counts) that make up one
//! training step over the memory map of [`Layout`], one function per phase: forward, head and loss,
//! backward, statistics, update. Pure arithmetic: no GPU calls, so it is unit-tested.

use super::layout::{
    COLREDUCE_UNITS, COLREDUCE4_UNITS, Dispatch, DispatchParams, FLAG_ACCUMULATE, FLAG_BARE,
    FLAG_BIAS, FLAG_CLIP, FLAG_COUNT, FLAG_HEAD, FLAG_RECURRENT, FLAG_RESCALE, FLAG_RESIDUAL,
    FLAG_STATS, FLAG_WIDE, FLAG_WIDE_IN, Kernel, Layout, MATMUL_TILES, MAX_GROUPS, NONE,
    STATS_HEADER, SUMSQ_GROUPS, UPART, WORKGROUP_SIZE,
};
use crate::model::{Activation, Arch, NetConfig, Optimizer};

/// Workgroups a GPU wants busy before bigger tiles pay off (about the multiprocessors of a large GPU).
pub const BUSY_WORKGROUPS: u32 = 128;
/// The same on a CPU adapter, whose few cores each run a workgroup at a time: the larger tiles read fewer
/// values per multiply-add. Measured on lavapipe (2 cores, `bench --variants`, layered MLPs of 4 layers):
/// at 512 wide and 256 rows the 128-workgroup policy's 32 x 32 tiles took 997 ms per step, 64 x 64 tiles
/// 402 ms and 128 x 128 tiles 422 ms; at 384 wide and 128 rows 226 ms against 171 (64) and 183 (128).
pub const SOFTWARE_BUSY_WORKGROUPS: u32 = 8;

/// The matmul pipeline for an `m x n` output: the largest tile that still gives the GPU at least `busy`
/// workgroups (`busy = 0`: always the largest; `u32::MAX`: always the smallest).
fn matmul_dispatch(p: DispatchParams, busy: u32, min_tile: u32) -> Dispatch {
    let tile = MATMUL_TILES
        .iter()
        .rev()
        .copied()
        .filter(|t| *t >= min_tile)
        .find(|t| p.m.div_ceil(*t) * p.n.div_ceil(*t) >= busy)
        .unwrap_or(min_tile.clamp(MATMUL_TILES[0], MATMUL_TILES[MATMUL_TILES.len() - 1]));
    let kernel = match tile {
        16 => Kernel::Matmul16,
        32 => Kernel::Matmul32,
        64 => Kernel::Matmul64,
        _ => Kernel::Matmul128,
    };
    Dispatch {
        kernel,
        groups: [p.n.div_ceil(tile), p.m.div_ceil(tile), 1],
        params: p,
    }
}

/// Widest layer the fused stack (and the persistent RNN) takes by default: one workgroup of 256 threads
/// then computes at least one output per thread per row. Wider nets take the layered path, whose tiled
/// matmuls fill a GPU better.
pub const FUSED_MAX_WIDTH: usize = 256;

/// Invocations per workgroup of stack_rows.wgsl: one SIMD vector of a software adapter (which spreads
/// workgroups over its cores; the kernel has no barrier).
pub const ROWS_GROUP: u32 = 8;
/// The shape of the per-row kernels (stack_rows.wgsl): how many batch rows an invocation carries (RPI
/// there) and how many units of a row a block holds (ROW16 there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RowShape {
    /// Four rows, four units at a time (module stack_rows): any width, any adapter.
    FourOfFour,
    /// One row, sixteen units at a time (module stack_rows1); widths that are a multiple of 4.
    One,
    /// Two rows of sixteen-unit blocks (module stack_rows2).
    Two,
    /// Four rows of sixteen-unit blocks (module stack_rows4).
    Four,
}

impl RowShape {
    /// Every shape, the portable one first.
    pub const ALL: [RowShape; 4] = [
        RowShape::FourOfFour,
        RowShape::One,
        RowShape::Two,
        RowShape::Four,
    ];

    /// Batch rows per invocation.
    pub fn rows(self) -> u32 {
        match self {
            RowShape::FourOfFour | RowShape::Four => 4,
            RowShape::One => 1,
            RowShape::Two => 2,
        }
    }

    /// Whether a block holds sixteen units of one row (the shapes for lane-sharing CPU adapters, widths
    /// that are a multiple of 4), not four units of four rows.
    pub fn sixteen(self) -> bool {
        self != RowShape::FourOfFour
    }

    /// The shape's forward and backward kernels.
    pub fn kernels(self) -> (Kernel, Kernel) {
        match self {
            RowShape::FourOfFour => (Kernel::RowsForward, Kernel::RowsBackward),
            RowShape::One => (Kernel::RowsForward1, Kernel::RowsBackward1),
            RowShape::Two => (Kernel::RowsForward2, Kernel::RowsBackward2),
            RowShape::Four => (Kernel::RowsForward4, Kernel::RowsBackward4),
        }
    }

    /// The shape whose forward or backward kernel `kernel` is.
    pub fn of_kernel(kernel: Kernel) -> Option<RowShape> {
        RowShape::ALL.into_iter().find(|s| {
            let (f, b) = s.kernels();
            kernel == f || kernel == b
        })
    }

    /// The name `GRADSCOPE_ENGINE`, the tuner's cache and `bench` use: `rows:4`, `rows:1`, `rows:2`,
    /// `rows:4x16`.
    pub fn name(self) -> &'static str {
        match self {
            RowShape::FourOfFour => "rows:4",
            RowShape::One => "rows:1",
            RowShape::Two => "rows:2",
            RowShape::Four => "rows:4x16",
        }
    }
}

/// Batch rows each invocation of stack_rows.wgsl carries by default (module stack_rows): four rows, four
/// units at a time.
pub const ROWS_PER_INVOCATION: RowShape = RowShape::FourOfFour;
/// The other shape of stack_rows.wgsl (module stack_rows1): one row per invocation, sixteen units at a
/// time, for widths that are a multiple of 4.
pub const ONE_ROW: RowShape = RowShape::One;
/// [`ONE_ROW`]'s shape with a second row per invocation (module stack_rows2): the two rows take every
/// weight value the lanes load, so a subgroup loads the weights once per sixteen rows instead of eight;
/// half as many invocations share the batch. Widths that are a multiple of 4.
pub const TWO_ROWS: RowShape = RowShape::Two;
/// [`TWO_ROWS`] with two more rows (module stack_rows4): a subgroup loads the weights once per 32 rows,
/// with 64 accumulators per invocation; a quarter as many invocations as [`ONE_ROW`].
pub const FOUR_ROWS: RowShape = RowShape::Four;

/// The shape of the per-row stack for `cfg` ([`StackPath::Rows`]) on a device that shares loads across
/// 8-lane subgroups (`lanes`, [`super::shaders::lane_sharing`]): where the width is a multiple of 4, four
/// rows of sixteen-unit blocks for a batch of at least [`FOUR_ROWS_MIN_BATCH`] rows, two for one of at least
/// [`TWO_ROWS_MIN_BATCH`] (not a gated cell, whose kernels take one) and one for smaller ones; four rows of
/// four-unit blocks for other widths (one row without lane sharing would load every weight sixteen times
/// over). Measured on lavapipe (2 cores; CPU time per step, one row against four-unit blocks): 0.53 for the
/// quick RNN, 0.65 for the 100-step RNN lesson, 0.81 to 0.88 for MLPs of width 32 to 64; width 16 took
/// 1.1x the CPU time but ran on both cores where four rows used one; two rows against one: the forward
/// 0.75-0.78 and the backward 0.82-0.93 of the time for MLPs of batch 32 to 64, both 1.9-2.1x for the
/// quick RNN's batch of 8; four rows against two: the step 0.88-0.90 (S-quick), 0.95-0.97 (M-quick) and
/// the default preset's forward 0.85-0.93 (batch 64 to 128), but 1.4-1.9x for batch 32 or less, which
/// leaves one workgroup or fewer (docs/DESIGN.md, Performance).
pub fn rows_per_invocation(cfg: &NetConfig, lanes: bool) -> RowShape {
    if !(lanes && one_row_fits(cfg)) {
        ROWS_PER_INVOCATION
    } else if cfg.cell.is_gated() || cfg.batch < TWO_ROWS_MIN_BATCH {
        ONE_ROW
    } else if cfg.batch < FOUR_ROWS_MIN_BATCH {
        TWO_ROWS
    } else {
        FOUR_ROWS
    }
}

/// The smallest batch [`rows_per_invocation`] gives [`TWO_ROWS`]: two workgroups of [`ROWS_GROUP`]
/// invocations (a core each on a 2-core machine); smaller batches leave lanes idle.
pub const TWO_ROWS_MIN_BATCH: usize = 32;

/// The smallest batch [`rows_per_invocation`] gives [`FOUR_ROWS`]: again two workgroups.
pub const FOUR_ROWS_MIN_BATCH: usize = 64;

/// Whether a gated cell runs its forward and backward one invocation per batch row
/// (shaders/gated_rows.wgsl) on `path`: where the per-row path takes one row per invocation (CPU adapters
/// with 8-lane subgroups, [`rows_per_invocation`]) and the width is a multiple of 4. On lavapipe the
/// workgroup kernels' barrier per step cost more than the step's work (docs/DESIGN.md, Performance).
pub fn gated_rows_fit(cfg: &NetConfig, path: StackPath) -> bool {
    cfg.cell.is_gated()
        && matches!(path, StackPath::RowsOf(ONE_ROW | TWO_ROWS | FOUR_ROWS))
        && one_row_fits(cfg)
        && Kernel::GatedRowsForward.built()
}

/// Whether `cfg` can run one row per invocation (stack_rows1 reads every operand row in vec4s): a width
/// that is a multiple of 4.
pub fn one_row_fits(cfg: &NetConfig) -> bool {
    cfg.width.is_multiple_of(4)
}
/// Output tile edge of wgrad.wgsl (WT there).
pub const WGRAD_TILE: u32 = 32;

mod gated;
mod normed;
pub use gated::{
    GATE_RECORD, GATED_WGRAD_GROUP, gated_chunk_len, gated_loop_costs, gated_misfit, gated_rows,
    gated_wgrad_groups,
};
use gated::{gated_wgrad_rows_fit, gated_wgrad_rows_groups};
pub use normed::{norm_stats_len, normed_chunk_len, normed_misfit, normed_wgrad_groups};

/// How a step runs its layers (time steps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackPath {
    /// The fused stack where the width is at most [`FUSED_MAX_WIDTH`], the layered path beyond.
    Auto,
    /// One dispatch per layer (time step) and phase, tiled matmuls.
    Layered,
    /// The fused stack (MLP) or persistent RNN with this many batch rows per workgroup (0: [`default_rows`]),
    /// the invocations of a workgroup spread over the units (the shape for GPUs).
    Fused(u32),
    /// The fused stack or persistent RNN with one invocation per batch row carried through every layer in
    /// registers (the shape for CPU adapters such as lavapipe: the weight loads are uniform, the
    /// multiply-adds vectorise across rows). An engine runs it with the rows per invocation that
    /// [`rows_per_invocation`] gives for its net and device; [`resolve`] alone takes four.
    Rows,
    /// [`StackPath::Rows`] in this shape (the sixteen-unit shapes need a width that is a multiple of 4;
    /// other widths take [`ROWS_PER_INVOCATION`]).
    RowsOf(RowShape),
}

impl StackPath {
    /// `Auto` made concrete for an adapter (`software`: a CPU adapter). On a software adapter the per-row
    /// stack wins for every net it can run (measured on lavapipe, `bench` with `GRADSCOPE_ENGINE`: 1.4 to
    /// 4x ahead of the layered path from 8 x 32 to 256 x 256 batch x width); the tuner refines this per
    /// shape class.
    /// Where the per-row kernels are not built (the browser, [`Kernel::CPU_ONLY`]), `Auto` and `Rows` run
    /// the fused stack.
    pub fn for_adapter(self, software: bool) -> StackPath {
        match self {
            StackPath::Auto | StackPath::Rows | StackPath::RowsOf(_)
                if !Kernel::RowsForward.built() =>
            {
                StackPath::Auto
            }
            StackPath::Auto if software => StackPath::Rows,
            other => other,
        }
    }
}

/// How a configuration runs under a path (after [`StackPath::for_adapter`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// One dispatch per layer and phase.
    Layered,
    /// Lanes over units, this many rows per workgroup.
    Fused(u32),
    /// One invocation per row or per few rows (the shape).
    Rows(RowShape),
    /// A gated cell's own kernels (shaders/gated.wgsl), whatever the path asked for.
    Gated,
    /// A normalized MLP's own kernels (shaders/normed.wgsl), whatever the path asked for.
    Normed,
}

/// Batch rows per workgroup of the fused stack: enough rows that a workgroup of 256 threads has one
/// output each per layer, no more than the batch.
pub fn default_rows(width: usize, batch: usize) -> u32 {
    256usize.div_ceil(width.max(1)).clamp(1, batch.max(1)) as u32
}

/// What `path` resolves to for `cfg`: wider nets than [`FUSED_MAX_WIDTH`] take the layered path under
/// `Auto` and `Rows` (whose invocations hold a row of at most that many units).
pub fn resolve(cfg: &NetConfig, path: StackPath) -> Resolved {
    if cfg.cell.is_gated() {
        return Resolved::Gated;
    }
    if cfg.norm != crate::model::Norm::None {
        return Resolved::Normed;
    }
    let wide = cfg.width > FUSED_MAX_WIDTH;
    let rows = match path {
        StackPath::Layered => return Resolved::Layered,
        StackPath::Auto | StackPath::Rows | StackPath::RowsOf(_) if wide => {
            return Resolved::Layered;
        }
        StackPath::Rows => return Resolved::Rows(ROWS_PER_INVOCATION),
        StackPath::RowsOf(r) if r.sixteen() && one_row_fits(cfg) => {
            return Resolved::Rows(r);
        }
        StackPath::RowsOf(_) => return Resolved::Rows(ROWS_PER_INVOCATION),
        StackPath::Auto | StackPath::Fused(0) => default_rows(cfg.width, cfg.batch),
        StackPath::Fused(r) => r,
    };
    Resolved::Fused(rows.clamp(1, cfg.batch.max(1) as u32))
}

/// [`resolve`], and the layered path where the fused kernels' loops would not fit `loop_budget`.
pub fn resolve_for(cfg: &NetConfig, lay: &Layout, path: StackPath, loop_budget: u64) -> Resolved {
    match resolve(cfg, path) {
        Resolved::Fused(r) if !fused_fits(cfg, lay, None, r, loop_budget) => Resolved::Layered,
        Resolved::Rows(r) if !fused_fits(cfg, lay, Some(r), 1, loop_budget) => Resolved::Layered,
        r => r,
    }
}

/// Workgroups for `count` threads of `WORKGROUP_SIZE`, folded into y when x would exceed [`MAX_GROUPS`].
/// Keep the index arithmetic in sync with shaders/update.wgsl.
pub fn linear_groups(count: usize) -> [u32; 3] {
    let groups = count.div_ceil(WORKGROUP_SIZE as usize) as u32;
    if groups <= MAX_GROUPS {
        [groups.max(1), 1, 1]
    } else {
        [MAX_GROUPS, groups.div_ceil(MAX_GROUPS), 1]
    }
}

/// Whether the engine can histogram `cfg`'s layers: MLPs (with or without a norm) and vanilla RNNs, not
/// gated cells (their error splits over the gates).
pub fn histograms_supported(cfg: &NetConfig) -> bool {
    !cfg.cell.is_gated()
}

/// The dispatch that histograms every layer's f(z) and log10 |δ| (shaders/hist.wgsl), to run after
/// `layer_stats`; `None` where [`histograms_supported`] is false.
pub fn histogram_dispatch(cfg: &NetConfig, lay: &Layout) -> Option<Dispatch> {
    let (lo, hi) = crate::stats::act_hist_range(cfg.activation);
    let normed = cfg.norm != crate::model::Norm::None;
    // a normalized layer's activation sees u = γ ⊙ ẑ + β: ẑ, and where γ and β are
    let (z_off, vectors) = if normed {
        (lay.cell_aux as u32, normed::normed_vectors(cfg, lay))
    } else {
        (lay.z as u32, DispatchParams::none())
    };
    histograms_supported(cfg).then(|| Dispatch {
        kernel: Kernel::Histograms,
        groups: [lay.depth as u32, 1, 1],
        params: DispatchParams {
            m: lay.batch as u32,
            n: lay.width as u32,
            mode: if normed { vectors.mode } else { 0 },
            b_first: vectors.b_first,
            b_rec: vectors.b_rec,
            w_step: vectors.w_step,
            z_off,
            a_off: lay.s as u32,
            g_off: lay.g as u32,
            c_off: (lay.stats + STATS_HEADER) as u32,
            part_off: lay.hist as u32,
            act: cfg.activation.shader_id(),
            // the range in the record's two f32 fields (hist.wgsl has no learning rate or clip)
            lr: lo as f32,
            clip: hi as f32,
            ..DispatchParams::none()
        },
    })
}

/// Builds the dispatch list of one step: forward, loss, backward, statistics and (with `update`) the
/// optimizer step.
pub fn step_dispatches(cfg: &NetConfig, lay: &Layout, update: bool) -> Vec<Dispatch> {
    step_dispatches_with(
        cfg,
        lay,
        update,
        BUSY_WORKGROUPS,
        MATMUL_TILES[0],
        StackPath::Auto,
        u64::MAX,
    )
}

/// [`step_dispatches`] with the matmul tile policy: the largest tile of at least `min_tile` that still
/// gives `busy` workgroups.
pub fn step_dispatches_with(
    cfg: &NetConfig,
    lay: &Layout,
    update: bool,
    busy: u32,
    min_tile: u32,
    path: StackPath,
    loop_budget: u64,
) -> Vec<Dispatch> {
    let program = Program {
        cfg,
        lay,
        budget: loop_budget,
        busy,
        min_tile,
        gated_rows: gated_rows_fit(cfg, path),
        base: DispatchParams {
            aux_off: lay.scales as u32,
            act: cfg.activation.shader_id(),
            k_base: lay.slope_slots() as u32,
            ..DispatchParams::none()
        },
    };
    let resolved = resolve_for(cfg, lay, path, loop_budget);
    let mut out = if resolved == Resolved::Gated || resolved == Resolved::Normed {
        let mut out = if resolved == Resolved::Gated {
            program.gated()
        } else {
            program.normed()
        };
        out.extend(program.statistics(update));
        out
    } else if resolved != Resolved::Layered {
        let rows = match resolved {
            Resolved::Fused(r) => r,
            _ => 1,
        };
        let per_row = match resolved {
            Resolved::Rows(r) => Some(r),
            _ => None,
        };
        let fused = program.fused(rows, per_row);
        let mut out = fused.forward_and_loss();
        out.extend(fused.backward());
        out.extend(fused.gradients());
        out.extend(program.statistics(update));
        out
    } else {
        let mut out = program.forward();
        out.extend(program.head_and_loss());
        out.extend(program.backward());
        out.extend(program.statistics(update));
        out
    };
    if update {
        out.extend(program.update());
        // where a bare step counts itself (`without_statistics`: the loss kernel, for layer_stats)
        for d in out.iter_mut().filter(|d| d.kernel == Kernel::Loss) {
            d.params.step_off = (lay.stats + 1) as u32;
        }
    }
    out
}

/// One dispatch of a training step as a step whose statistics nobody reads runs it: of a run of steps
/// recorded together, only the last one's statistics are read back (the window shows them, `bench`
/// times the run), so the others skip the per-unit and per-layer statistics, the update norms and the
/// histograms. What the update needs stays: the rescale of the errors to one power of two per layer
/// (step), the bias gradients, the layer scales, the weight gradients, the step count, the clearing of the
/// slope-exponent slots for the next forward, and the global norm where the update clips (`clip`).
/// Every other kernel runs as it is, and a skipped statistic is written afresh by the run's last step
/// before it is read, so the weights and the statistics read back are the same bit for bit as with every
/// step complete. `None`: the dispatch is left out.
pub fn without_statistics(d: Dispatch, clip: bool) -> Option<Dispatch> {
    // the same dispatch with other flags
    let with_flags = |flags: u32| Dispatch {
        params: DispatchParams { flags, ..d.params },
        ..d
    };
    let kernel = match d.kernel {
        Kernel::Histograms => return None,
        // the global norm's partials: read by the clip and the statistics only
        Kernel::SumsqPartial if !clip => return None,
        // without the clip's global norm, layer_stats' remaining work moves: the loss kernel counts the
        // step (FLAG_COUNT: before the update reads the count) and the update kernels clear the
        // slope-exponent slots (they run after every reader of them)
        Kernel::LayerStats if !clip => return None,
        Kernel::Loss if !clip && d.params.step_off != NONE => {
            return Some(with_flags(d.params.flags | FLAG_COUNT));
        }
        // mode 2 applies the update (a separate `Update` dispatch does otherwise: these are then norms)
        Kernel::UpdateNorms if d.params.mode == 2 => Kernel::UpdateBare,
        Kernel::UpdateNorms => return None,
        Kernel::ColReduceRows4 => Kernel::ColReduceRows4Bare,
        Kernel::ColReduceRows4Packed => Kernel::ColReduceRows4PackedBare,
        Kernel::GatedStats => Kernel::GatedStatsBare,
        Kernel::GatedStatsRows => Kernel::GatedStatsRowsBare,
        Kernel::WeightGrads => Kernel::WeightGradsBare,
        Kernel::WeightGradsDirect => Kernel::WeightGradsDirectBare,
        Kernel::GatedWgradRows => Kernel::GatedWgradRowsBare,
        Kernel::NormedStats => Kernel::NormedStatsBare,
        Kernel::NormedWgrad => Kernel::NormedWgradBare,
        Kernel::RowsBackward
        | Kernel::RowsBackward1
        | Kernel::RowsBackward2
        | Kernel::RowsBackward4 => {
            return Some(with_flags(d.params.flags | FLAG_BARE));
        }
        Kernel::ColReduce | Kernel::ColReduceRows => {
            return Some(with_flags(d.params.flags & !FLAG_STATS));
        }
        k => k,
    };
    Some(Dispatch { kernel, ..d })
}

/// Parameters of the largest gradient whose global norm `layer_stats` sums itself.
pub const NORM_IN_STATS_MAX: usize = 1 << 17;

/// [`NORM_IN_STATS_MAX`] on adapters that want many workgroups (GPUs, `busy` above
/// [`SOFTWARE_BUSY_WORKGROUPS`]): there one workgroup's serial share must stay short.
pub const NORM_IN_STATS_MAX_GPU: usize = 1 << 14;

/// Whether the global norm's sum of squares runs in `layer_stats`' extra workgroup (shaders/reduce.wgsl,
/// `stats_norm`) instead of a `sumsq_partial` dispatch before it: where the gradient has at most
/// [`NORM_IN_STATS_MAX`] values ([`NORM_IN_STATS_MAX_GPU`] where the tile policy's `busy` asks for a
/// GPU's many workgroups), which one workgroup sums in about the time a dispatch costs on lavapipe
/// (25-40 µs before any work) while the other workgroups form the layers' records.
pub fn norm_in_stats(lay: &Layout, busy: u32) -> bool {
    let max = if busy <= SOFTWARE_BUSY_WORKGROUPS {
        NORM_IN_STATS_MAX
    } else {
        NORM_IN_STATS_MAX_GPU
    };
    lay.n_params <= max
}

/// Parameters of the largest weight matrix for which `update_norms` also applies the update.
pub const UPDATE_IN_NORMS_MAX: usize = 1 << 16;

/// Whether the optimizer step runs inside `update_norms` (shaders/update.wgsl, mode 2): where every weight
/// matrix has at most [`UPDATE_IN_NORMS_MAX`] parameters and starts on a multiple of 4 (a workgroup's
/// range then starts on a vec4 of the vec4 view, where a scalar store rewrites its whole vec4: two
/// workgroups must not share one). `update_norms` gives each matrix one workgroup
/// and already reads everything the step reads, so for small matrices writing the step there costs less
/// than a second pass over the parameters in a dispatch of its own (on lavapipe every dispatch costs
/// 25-40 µs before any work: the driver hands it to its worker threads and waits); a large matrix would
/// leave a GPU's other multiprocessors idle while one workgroup walks it.
pub fn update_in_norms(cfg: &NetConfig, lay: &Layout) -> bool {
    lay.weight_table(cfg)
        .chunks(2)
        .all(|e| e[0] % 4 == 0 && e[1] as usize <= UPDATE_IN_NORMS_MAX)
}

/// Loop iterations one invocation may run on a software adapter before lavapipe silently ends its loops
/// (65535 in all, shared by every loop of the invocation), less a margin for the estimates below.
pub const SOFTWARE_LOOP_BUDGET: u64 = 60_000;

/// Loop iterations one invocation of a gated-cell or normalized-MLP kernel may run in one dispatch on any
/// adapter: those kernels give one invocation a whole slice of rows (all of the batch, for a norm), so a
/// long sequence or a deep, wide net is split into dispatches of at most this much serial work (a few ms
/// on a GPU) rather than one that a driver's watchdog would end; a single step or layer past it is refused
/// with a message before anything is allocated.
pub const HARDWARE_LOOP_BUDGET: u64 = 4_000_000;

/// Upper bounds of the loop iterations one invocation of a fused kernel runs: `(fixed, per layer or step)`.
/// They follow the loops of the kernels (four products per iteration in the inner loops).
fn loop_costs(kernel: Kernel, lay: &Layout, rows: u32) -> (u64, u64) {
    let q = |n: usize| n.div_ceil(4) as u64 + 3;
    let (w, d_in, d_out, b) = (lay.width, lay.d_in, lay.d_out, lay.batch as u64);
    let w64 = w as u64;
    let per_thread = (u64::from(rows) * w64).div_ceil(256);
    // stack_rows.wgsl: a product loop over n values runs n / 4 times with vec4 loads, else n times, plus
    // one outer iteration per 32 values where the lanes share the weights (lanes.wgsl); each block of 4
    // units adds its own short loops (stores and slopes of 4 rows)
    let (wide, wide_in) = vec4_rows(lay);
    let over = |n: usize, vec4: bool| {
        if vec4 {
            let q = n as u64 / 4;
            q + q.div_ceil(8)
        } else {
            n as u64
        }
    };
    let blocks = w.div_ceil(4) as u64;
    // the sixteen-unit shapes run a block loop per 16 units (fewer product-loop iterations), but each of a
    // block's four slots runs its short loops (slopes, maxima: 5 iterations) for every row of the
    // invocation, and a slot past the width repeats the last: for a narrow net and four rows that is more
    // than the four-unit blocks' bound; and the backward's state of the layer above (`state_above`, 21
    // iterations per 4 units) is read once per row
    let sixteen_rows = RowShape::of_kernel(kernel)
        .filter(|s| s.sixteen())
        .map_or(0, |s| u64::from(s.rows()));
    let blocks16 = w.div_ceil(16) as u64;
    match kernel {
        Kernel::RowsForward
        | Kernel::RowsForward1
        | Kernel::RowsForward2
        | Kernel::RowsForward4 => (
            600 + d_out as u64 * (2 + over(w, wide)),
            2 + (blocks * 60).max(blocks16 * (20 * sixteen_rows + 40))
                + blocks * (over(d_in, wide_in) + over(w, wide)),
        ),
        Kernel::RowsBackward
        | Kernel::RowsBackward1
        | Kernel::RowsBackward2
        | Kernel::RowsBackward4 => (
            600 + blocks
                * if sixteen_rows == 0 {
                    20
                } else {
                    21 * sixteen_rows
                },
            2 + (blocks * 70).max(blocks16 * (20 * sixteen_rows + 50))
                + blocks * over(w, wide).max(d_out as u64),
        ),
        Kernel::StackForward => (
            (u64::from(rows) * d_out as u64).div_ceil(256) * (2 + q(w)),
            4 + per_thread * (2 + q(d_in) + q(w)),
        ),
        Kernel::StackBackward => (4 + per_thread, 4 + per_thread * (2 + q(w).max(q(d_out)))),
        Kernel::WeightGrads => (40, 80 + b.div_ceil(16) * 28),
        // per step: the batch once (columns of a_{l-1}, an outer iteration per 8 rows) and once per other
        // column of the invocation's sixteen (x and the bias: at most d_in + 1), then the partial sums
        Kernel::WeightGradsDirect => (
            40,
            100 + b.div_ceil(8) + b * (1 + (d_in as u64 + 1).min(16)),
        ),
        Kernel::GatedWgradRows => gated_loop_costs(kernel, lay, rows),
        _ => (0, 0),
    }
}

/// Whether the kernels on the vec4 view may read the state's rows with vec4 loads (`FLAG_WIDE`: stack_rows,
/// wgrad `main_direct`, the gated cells; `FLAG_WIDE_IN`: stack_rows' input x and W_in): the width (the input
/// width) is a multiple of 4. Every region of the layout starts on a multiple of 64 values, and every
/// parameter tensor before the head's bias is a multiple of `width` values long, so then every row and
/// weight row those kernels read starts on a vec4 (a test checks the records).
pub fn vec4_rows(lay: &Layout) -> (bool, bool) {
    (lay.width.is_multiple_of(4), lay.d_in.is_multiple_of(4))
}

/// Layers (steps) per dispatch of `kernel` within `budget`; `None` if not even one fits.
fn chunk_len(kernel: Kernel, lay: &Layout, rows: u32, budget: u64) -> Option<usize> {
    layers_within(loop_costs(kernel, lay, rows), lay.depth, budget)
}

/// Layers (steps) of `depth` one dispatch may cover within `budget`, for a kernel whose invocation runs
/// `fixed + per × layers` loop iterations (`per` = 0: all of them once `fixed` fits); `None` if not even
/// one fits. An unbounded budget covers every layer.
fn layers_within((fixed, per): (u64, u64), depth: usize, budget: u64) -> Option<usize> {
    if budget == u64::MAX {
        return Some(depth);
    }
    let room = budget.checked_sub(fixed)?;
    if per == 0 {
        return Some(depth);
    }
    let n = (room / per) as usize;
    (n >= 1).then_some(n.min(depth))
}

/// The layer ranges `l_from..=l_to` of `len` layers each, bottom first.
fn chunks(depth: usize, len: usize) -> Vec<(u32, u32)> {
    (1..=depth)
        .step_by(len.max(1))
        .map(|from| (from as u32, (from + len - 1).min(depth) as u32))
        .collect()
}

/// One dispatch of `kernel` per chunk of `len` layers (time steps) of `depth`, bottom first (top first with
/// `top_down`), each with its `l_from..=l_to` in the record `rec`.
fn chunk_dispatches(
    kernel: Kernel,
    groups: [u32; 3],
    rec: DispatchParams,
    depth: usize,
    len: usize,
    top_down: bool,
) -> Vec<Dispatch> {
    let mut ranges = chunks(depth, len);
    if top_down {
        ranges.reverse();
    }
    ranges
        .into_iter()
        .map(|(l_from, l_to)| Dispatch {
            kernel,
            groups,
            params: DispatchParams {
                l_from,
                l_to,
                ..rec
            },
        })
        .collect()
}

/// [`chunk_dispatches`] bottom first for a kernel that sums over the steps (a recurrent cell's weight
/// gradients): every chunk after the first adds to what the ones before left (FLAG_ACCUMULATE).
fn summed_chunks(
    kernel: Kernel,
    groups: [u32; 3],
    rec: DispatchParams,
    depth: usize,
    len: usize,
) -> Vec<Dispatch> {
    let mut out = chunk_dispatches(kernel, groups, rec, depth, len, false);
    out.iter_mut()
        .skip(1)
        .for_each(|d| d.params.flags |= FLAG_ACCUMULATE);
    out
}

/// The weight-gradient kernel of a fused path (`per_row`: the per-row path's shape): staged
/// tiles on GPUs, direct vec4 reads for the per-row path of CPU adapters where the width allows them, and
/// for an RNN on one row per invocation the recurrent cells' per-row kernel as a cell of one gate
/// (shaders/gated_rows.wgsl, `gated_wgrad_rows`: it keeps a step's columns in registers across the batch,
/// where `main_direct` reloads them per 4 x 16 block).
fn wgrad_kernel(lay: &Layout, per_row: Option<RowShape>, recurrent: bool) -> Kernel {
    match per_row {
        Some(shape)
            if shape.sixteen()
                && recurrent
                && vec4_rows(lay).0
                && gated_wgrad_rows_fit(lay, true) =>
        {
            Kernel::GatedWgradRows
        }
        Some(_) if vec4_rows(lay).0 => Kernel::WeightGradsDirect,
        _ => Kernel::WeightGrads,
    }
}

/// Whether the fused path (`per_row`: the per-row kernels of that shape) fits an
/// invocation's loop budget for this network (else the layered path runs).
fn fused_fits(
    cfg: &NetConfig,
    lay: &Layout,
    per_row: Option<RowShape>,
    rows: u32,
    budget: u64,
) -> bool {
    let (fwd, bwd) = if per_row.is_some() {
        (Kernel::RowsForward, Kernel::RowsBackward)
    } else {
        (Kernel::StackForward, Kernel::StackBackward)
    };
    let wgrad = wgrad_kernel(lay, per_row, cfg.arch == Arch::Rnn);
    chunk_len(fwd, lay, rows, budget).is_some()
        && chunk_len(bwd, lay, rows, budget).is_some()
        && chunk_len(wgrad, lay, rows, budget).is_some()
}

impl Fused<'_> {
    /// Every layer (time step) and the head (in chunks of layers where the loop budget asks for it), then
    /// the loss, ∂L/∂ŷ and the head's gradients.
    fn forward_and_loss(&self) -> Vec<Dispatch> {
        let mut out = self.stack_pass(false);
        out.push(Dispatch {
            kernel: Kernel::Loss,
            groups: [1, 1, 1],
            params: self.loss,
        });
        out
    }

    /// The δ chain of every layer (time step), per row slice, top chunk first.
    fn backward(&self) -> Vec<Dispatch> {
        self.stack_pass(true)
    }

    /// The forward (or `backward`) pass of the stack: the per-row or per-slice kernel, one dispatch per
    /// chunk of layers, in the pass's order.
    fn stack_pass(&self, backward: bool) -> Vec<Dispatch> {
        let kernel = match (self.per_row.map(RowShape::kernels), backward) {
            (Some((forward, _)), false) => forward,
            (Some((_, back)), true) => back,
            (None, false) => Kernel::StackForward,
            (None, true) => Kernel::StackBackward,
        };
        let groups = match self.per_row {
            Some(shape) => [
                (self.lay.batch as u32).div_ceil(ROWS_GROUP * shape.rows()),
                1,
                1,
            ],
            None => [self.slices, 1, 1],
        };
        self.chunked(kernel, groups, backward)
    }

    /// One dispatch of a stack kernel per chunk of layers that fits the loop budget, bottom first (top
    /// first with `top_down`).
    fn chunked(&self, kernel: Kernel, groups: [u32; 3], top_down: bool) -> Vec<Dispatch> {
        let len = chunk_len(kernel, self.lay, self.stack.rows, self.budget).unwrap_or(1);
        chunk_dispatches(kernel, groups, self.stack, self.lay.depth, len, top_down)
    }

    /// The per-unit statistics of every layer in one dispatch (which first brings the per-slice scales to
    /// one per layer), then the weight and bias gradients of every layer in one more (an RNN's summed over
    /// time, in chunks of steps where the loop budget asks for it).
    fn gradients(&self) -> Vec<Dispatch> {
        let lay = self.lay;
        let (w, d_in, l_n) = (lay.width as u32, lay.d_in as u32, lay.depth as u32);
        // four units per invocation where every row of the per-row path's blocks starts at a multiple of 4
        // (the layout's regions do; the width and the per-unit statistics' offset must)
        let four =
            self.per_row.is_some() && w.is_multiple_of(4) && lay.unit_stats(1).is_multiple_of(4);
        // an MLP's bias gradients then come from the statistics pass, which reads every ŝ anyway: the
        // weight gradients' grid loses the bias column (a tile of its own where the width is a multiple
        // of 32)
        let bias_in_stats = four && !self.recurrent;
        // below 32 units a workgroup's units run on into the next layers (every lane busy)
        let packed = four && w < COLREDUCE4_UNITS;
        let stats = Dispatch {
            kernel: if packed {
                Kernel::ColReduceRows4Packed
            } else if four {
                Kernel::ColReduceRows4
            } else if self.per_row.is_some() {
                Kernel::ColReduceRows
            } else {
                Kernel::ColReduce
            },
            groups: if packed {
                [(l_n * w).div_ceil(COLREDUCE4_UNITS), 1, 1]
            } else if four {
                [w.div_ceil(COLREDUCE4_UNITS), l_n, 1]
            } else {
                [w.div_ceil(COLREDUCE_UNITS), l_n, 1]
            },
            params: DispatchParams {
                m: lay.batch as u32,
                n: w,
                a_off: lay.s as u32,
                b_off: lay.g as u32,
                ldc: w,
                z_off: lay.z as u32,
                c_off: lay.a as u32,
                scale_idx: 1,
                ust_off: lay.unit_stats(1) as u32,
                upart_off: lay.upart as u32,
                // per slice scales to one per layer; the per-row backward leaves the layer's scale to this
                // pass even for a batch of one (the fused one writes it itself when it has one slice)
                flags: if self.slices > 1 || self.per_row.is_some() {
                    FLAG_STATS | FLAG_RESCALE
                } else {
                    FLAG_STATS
                } | if bias_in_stats { FLAG_BIAS } else { 0 },
                gb_first: self.stack.gb_first,
                gb_rec: self.stack.gb_rec,
                w_step: self.stack.w_step,
                rows: self.stack.rows,
                // the layers colreduce4's packed grid covers
                layers: l_n,
                sscale_off: self.stack.sscale_off,
                g_off: NONE,
                res_off: NONE,
                act: self.stack.act,
                aux_off: self.stack.aux_off,
                k_base: self.stack.k_base,
                ..DispatchParams::none()
            },
        };
        let mut out = vec![stats];
        let kernel = wgrad_kernel(lay, self.per_row, self.recurrent);
        if kernel == Kernel::GatedWgradRows {
            // one gate: the error rows are ŝ (H per row), W_h | W_x | b as the stack's record has them;
            // chunked as the gated cells chunk it (bounded on any adapter)
            let params = DispatchParams {
                k: 1,
                mode: 0,
                part_off: lay.wparts as u32,
                count: lay.partials_per_layer as u32,
                ..self.stack
            };
            let len = gated_chunk_len(kernel, lay, 1, self.budget).unwrap_or(1);
            out.extend(summed_chunks(
                kernel,
                gated_wgrad_rows_groups(lay),
                params,
                lay.depth,
                len,
            ));
            return out;
        }
        let bias_col = u32::from(!bias_in_stats);
        let cols = if self.recurrent {
            w + d_in + 1
        } else if l_n >= 2 {
            (w + bias_col).max(d_in + bias_col)
        } else {
            d_in + bias_col
        };
        // an RNN's steps split over several workgroups per tile (its one W_h has few tiles), their sums
        // then added up by wgrad_sum; an MLP's grid holds the layers
        let splits = if self.recurrent {
            lay.wsplits as u32
        } else {
            1
        };
        let grads = DispatchParams {
            part_off: lay.wparts as u32,
            count: lay.partials_per_layer as u32,
            splits,
            split_off: lay.wsplit as u32,
            flags: self.stack.flags | if bias_in_stats { FLAG_BIAS } else { 0 },
            ..self.stack
        };
        let layers = if self.recurrent { splits } else { l_n };
        let groups = [cols.div_ceil(WGRAD_TILE), w.div_ceil(WGRAD_TILE), layers];
        let len = chunk_len(kernel, lay, 1, self.budget).unwrap_or(1);
        let ranges = if self.recurrent {
            chunks(lay.depth, len)
        } else {
            vec![(1, l_n)]
        };
        for (i, (l_from, l_to)) in ranges.into_iter().rev().enumerate() {
            let params = DispatchParams {
                l_from,
                l_to,
                flags: grads.flags | if i > 0 { FLAG_ACCUMULATE } else { 0 },
                ..grads
            };
            out.push(Dispatch {
                kernel,
                groups,
                params,
            });
            if splits > 1 {
                out.push(Dispatch {
                    kernel: Kernel::WeightGradSum,
                    groups: linear_groups(lay.width * cols as usize),
                    params,
                });
            }
        }
        out
    }
}

/// One network's step, phase by phase.
struct Program<'a> {
    cfg: &'a NetConfig,
    lay: &'a Layout,
    budget: u64,
    busy: u32,
    min_tile: u32,
    /// A gated cell's forward and backward one invocation per batch row (shaders/gated_rows.wgsl):
    /// where the per-row path runs one row per invocation ([`gated_rows_fit`]).
    gated_rows: bool,
    /// The fields every record shares (scales, slope slots, activation); the rest are NONE.
    base: DispatchParams,
}

/// The fused path's step: the parameter record every stack kernel shares, and the slices.
struct Fused<'a> {
    lay: &'a Layout,
    /// Loop iterations an invocation may run ([`SOFTWARE_LOOP_BUDGET`] on software adapters).
    budget: u64,
    /// The per-row kernels (stack_rows.wgsl) in this shape; `None`: the per-slice kernels (stack.wgsl).
    per_row: Option<RowShape>,
    /// Batch row slices (workgroups of the stack kernels).
    slices: u32,
    recurrent: bool,
    stack: DispatchParams,
    loss: DispatchParams,
}

impl Program<'_> {
    /// The fused stack (MLP) or persistent RNN with `rows` batch rows per workgroup.
    /// `per_row`: the per-row kernels of this shape.
    fn fused(&self, rows: u32, per_row: Option<RowShape>) -> Fused<'_> {
        let cfg = self.cfg;
        let lay = self.lay;
        let (b, w, l_n) = (lay.batch as u32, lay.width as u32, lay.depth);
        let recurrent = cfg.arch == Arch::Rnn;
        let head_w = lay.tensor_offsets.len() - 2;
        let head_b = head_w + 1;
        // parameter (and gradient) tensor indices: input weight, first recurrent weight, first bias, bias of
        // layer 2, and the stride between layers (MLP W_l, b_l pairs; an RNN shares one W_h and one b)
        let (t_in, t_rec, t_b1, t_brec, step) = if recurrent {
            (0, 1, 2, 2, 0)
        } else if l_n >= 2 {
            (0, 2, 1, 3, w * w + w)
        } else {
            (0, 0, 1, 1, 0)
        };
        let mut flags = 0;
        if cfg.residual {
            flags |= FLAG_RESIDUAL;
        }
        if recurrent {
            flags |= FLAG_RECURRENT;
        }
        if per_row.is_some() {
            let (wide, wide_in) = vec4_rows(lay);
            if wide {
                flags |= FLAG_WIDE;
            }
            if wide_in {
                flags |= FLAG_WIDE_IN;
            }
        }
        let stack = DispatchParams {
            m: b,
            n: w,
            d_in: lay.d_in as u32,
            d_out: lay.d_out as u32,
            layers: l_n as u32,
            rows,
            w_in: lay.param(t_in),
            w_rec: lay.param(t_rec),
            w_step: step,
            b_first: lay.param(t_b1),
            b_rec: lay.param(t_brec),
            w_head: lay.param(head_w),
            b_head: lay.param(head_b),
            gw_in: lay.grad(t_in),
            gw_rec: lay.grad(t_rec),
            gb_first: lay.grad(t_b1),
            gb_rec: lay.grad(t_brec),
            x_off: lay.x as u32,
            x_step: if recurrent { b * lay.d_in as u32 } else { 0 },
            sscale_off: lay.sscales as u32,
            z_off: lay.z as u32,
            c_off: lay.a as u32,
            add_off: lay.yhat as u32,
            a_off: lay.s as u32,
            g_off: lay.g as u32,
            b_off: lay.dy as u32,
            flags,
            ..self.base
        };
        let loss = DispatchParams {
            k: w,
            flags: FLAG_HEAD,
            top_off: lay.at(lay.a, l_n),
            gw_head: lay.grad(head_w),
            gb_head: lay.grad(head_b),
            ..self.loss_params()
        };
        Fused {
            lay,
            budget: self.budget,
            per_row,
            slices: if per_row.is_some() {
                b
            } else {
                b.div_ceil(rows)
            },
            recurrent,
            stack,
            loss,
        }
    }

    /// The loss kernel's record: ŷ and the targets in, ∂L/∂ŷ and the loss out, the rescaling maxima reset.
    fn loss_params(&self) -> DispatchParams {
        let lay = self.lay;
        DispatchParams {
            m: lay.batch as u32,
            n: lay.d_out as u32,
            a_off: lay.yhat as u32,
            b_off: lay.y as u32,
            c_off: lay.dy as u32,
            count: (lay.depth + 2) as u32,
            aux2_off: lay.stats as u32,
            loss_kind: self.cfg.loss().shader_id(),
            ..self.base
        }
    }

    fn mm(&self, p: DispatchParams) -> Dispatch {
        matmul_dispatch(p, self.busy, self.min_tile)
    }

    fn colreduce(&self, p: DispatchParams) -> Dispatch {
        Dispatch {
            kernel: Kernel::ColReduce,
            groups: [p.n.div_ceil(COLREDUCE_UNITS), 1, 1],
            params: p,
        }
    }

    /// The layers (MLP) or the input projection and the time steps (RNN), input to output.
    fn forward(&self) -> Vec<Dispatch> {
        let cfg = self.cfg;
        let lay = self.lay;
        let base = self.base;
        let b = lay.batch as u32;
        let w = lay.width as u32;
        let l_n = lay.depth;
        let d_in = lay.d_in as u32;
        let linear = Activation::Linear.shader_id();
        let mut out = Vec::new();
        // ---- forward
        match cfg.arch {
            Arch::Mlp => {
                for l in 1..=l_n {
                    let (a_off, k) = if l == 1 {
                        (lay.x as u32, d_in)
                    } else {
                        (lay.at(lay.a, l - 1), w)
                    };
                    out.push(self.mm(DispatchParams {
                        mode: 0,
                        m: b,
                        n: w,
                        k,
                        a_off,
                        a_si: k,
                        a_sk: 1,
                        b_off: lay.param(2 * (l - 1)),
                        b_sk: 1,
                        b_sj: k,
                        c_off: lay.at(lay.a, l),
                        ldc: w,
                        add_off: lay.param(2 * (l - 1) + 1),
                        add_si: 0,
                        add_sj: 1,
                        z_off: lay.at(lay.z, l),
                        m_out: l as u32,
                        res_off: if cfg.residual && l >= 2 {
                            lay.at(lay.a, l - 1)
                        } else {
                            NONE
                        },
                        ..base
                    }));
                }
            }
            Arch::Rnn => {
                // input projection for all steps at once, in row chunks that fit the dispatch limit
                let rows = lay.depth as u32 * b;
                let chunk = MAX_GROUPS * MATMUL_TILES[0];
                let mut r0 = 0;
                while r0 < rows {
                    let m = chunk.min(rows - r0);
                    out.push(self.mm(DispatchParams {
                        mode: 0,
                        m,
                        n: w,
                        k: d_in,
                        a_off: lay.x as u32 + r0 * d_in,
                        a_si: d_in,
                        a_sk: 1,
                        b_off: lay.param(0),
                        b_sk: 1,
                        b_sj: d_in,
                        c_off: lay.proj as u32 + r0 * w,
                        ldc: w,
                        add_off: lay.param(2),
                        add_si: 0,
                        add_sj: 1,
                        act: linear,
                        ..base
                    }));
                    r0 += m;
                }
                for t in 1..=l_n {
                    out.push(self.mm(DispatchParams {
                        mode: 0,
                        m: b,
                        n: w,
                        k: if t == 1 { 0 } else { w },
                        a_off: if t == 1 {
                            lay.a as u32
                        } else {
                            lay.at(lay.a, t - 1)
                        },
                        a_si: w,
                        a_sk: 1,
                        b_off: lay.param(1),
                        b_sk: 1,
                        b_sj: w,
                        c_off: lay.at(lay.a, t),
                        ldc: w,
                        add_off: lay.at(lay.proj, t),
                        add_si: w,
                        add_sj: 1,
                        z_off: lay.at(lay.z, t),
                        m_out: t as u32,
                        ..base
                    }));
                }
            }
        }
        out
    }

    /// The linear head, the loss and ∂L/∂ŷ.
    fn head_and_loss(&self) -> Vec<Dispatch> {
        let lay = self.lay;
        let base = self.base;
        let b = lay.batch as u32;
        let w = lay.width as u32;
        let l_n = lay.depth;
        let d_out = lay.d_out as u32;
        let linear = Activation::Linear.shader_id();
        let head_w = lay.tensor_offsets.len() - 2;
        let head_b = head_w + 1;
        let top = lay.at(lay.a, l_n);
        vec![
            // head: ŷ = a_L W_outᵀ + b_out
            self.mm(DispatchParams {
                mode: 0,
                m: b,
                n: d_out,
                k: w,
                a_off: top,
                a_si: w,
                a_sk: 1,
                b_off: lay.param(head_w),
                b_sk: 1,
                b_sj: w,
                c_off: lay.yhat as u32,
                ldc: d_out,
                add_off: lay.param(head_b),
                add_si: 0,
                add_sj: 1,
                act: linear,
                ..base
            }),
            // loss, ∂L/∂ŷ, and the reset of the rescaling maxima
            Dispatch {
                kernel: Kernel::Loss,
                groups: [1, 1, 1],
                params: self.loss_params(),
            },
        ]
    }

    /// The head's gradients, then δ, dW and db of every layer (time step), top first.
    fn backward(&self) -> Vec<Dispatch> {
        let cfg = self.cfg;
        let lay = self.lay;
        let base = self.base;
        let b = lay.batch as u32;
        let w = lay.width as u32;
        let l_n = lay.depth;
        let d_in = lay.d_in as u32;
        let d_out = lay.d_out as u32;
        let head_w = lay.tensor_offsets.len() - 2;
        let head_b = head_w + 1;
        let head_scale = (l_n + 1) as u32;
        let top = lay.at(lay.a, l_n);
        let mut out = Vec::new();
        // head gradients: dW_out = dyᵀ a_L, db_out = Σ dy, and ĝ_L = dy W_out -> ŝ_L
        out.push(self.mm(DispatchParams {
            mode: 2,
            m: d_out,
            n: w,
            k: b,
            a_off: lay.dy as u32,
            a_si: 1,
            a_sk: d_out,
            b_off: top,
            b_sk: w,
            b_sj: 1,
            c_off: lay.grad(head_w),
            ldc: w,
            scale_idx: head_scale,
            ..base
        }));
        out.push(self.colreduce(DispatchParams {
            m: b,
            n: d_out,
            a_off: lay.dy as u32,
            ldc: d_out,
            g_off: lay.grad(head_b),
            scale_idx: head_scale,
            ..base
        }));
        out.push(self.mm(DispatchParams {
            mode: 1,
            m: b,
            n: w,
            k: d_out,
            a_off: lay.dy as u32,
            a_si: d_out,
            a_sk: 1,
            b_off: lay.param(head_w),
            b_sk: w,
            b_sj: 1,
            c_off: lay.at(lay.s, l_n),
            ldc: w,
            z_off: lay.at(lay.z, l_n),
            g_off: lay.at(lay.g, l_n),
            m_out: l_n as u32,
            ..base
        }));

        // ---- backward through the layers (time steps), top first
        for l in (1..=l_n).rev() {
            let s_l = lay.at(lay.s, l);
            let stats_base = DispatchParams {
                m: b,
                n: w,
                a_off: s_l,
                b_off: lay.at(lay.g, l),
                ldc: w,
                z_off: lay.at(lay.z, l),
                c_off: lay.at(lay.a, l),
                scale_idx: l as u32,
                ust_off: lay.unit_stats(l) as u32,
                upart_off: (lay.upart + (l - 1) * lay.width * UPART) as u32,
                ..base
            };
            let part_off = (lay.wparts + (l - 1) * lay.partials_per_layer) as u32;
            match cfg.arch {
                Arch::Mlp => {
                    let (prev, k) = if l == 1 {
                        (lay.x as u32, d_in)
                    } else {
                        (lay.at(lay.a, l - 1), w)
                    };
                    out.push(self.mm(DispatchParams {
                        mode: 2,
                        m: w,
                        n: k,
                        k: b,
                        a_off: s_l,
                        a_si: 1,
                        a_sk: w,
                        b_off: prev,
                        b_sk: k,
                        b_sj: 1,
                        c_off: lay.grad(2 * (l - 1)),
                        ldc: k,
                        scale_idx: l as u32,
                        part_off,
                        ..base
                    }));
                    out.push(self.colreduce(DispatchParams {
                        g_off: lay.grad(2 * (l - 1) + 1),
                        flags: FLAG_STATS,
                        ..stats_base
                    }));
                }
                Arch::Rnn => {
                    let acc = if l == l_n { 0 } else { FLAG_ACCUMULATE };
                    if l >= 2 {
                        // this step's contribution to ∂L/∂W_h: ŝ_tᵀ h_{t-1}
                        out.push(self.mm(DispatchParams {
                            mode: 2,
                            m: w,
                            n: w,
                            k: b,
                            a_off: s_l,
                            a_si: 1,
                            a_sk: w,
                            b_off: lay.at(lay.a, l - 1),
                            b_sk: w,
                            b_sj: 1,
                            c_off: lay.grad(1),
                            ldc: w,
                            scale_idx: l as u32,
                            part_off,
                            flags: acc,
                            ..base
                        }));
                    }
                    out.push(self.colreduce(DispatchParams {
                        g_off: lay.grad(2),
                        res_off: lay.grad(0),
                        x_off: (lay.x + (l - 1) * lay.batch * lay.d_in) as u32,
                        d_in,
                        flags: FLAG_STATS | acc,
                        ..stats_base
                    }));
                }
            }
            if l >= 2 {
                let w_idx = if cfg.arch == Arch::Rnn {
                    1
                } else {
                    2 * (l - 1)
                };
                out.push(self.mm(DispatchParams {
                    mode: 1,
                    m: b,
                    n: w,
                    k: w,
                    a_off: s_l,
                    a_si: w,
                    a_sk: 1,
                    b_off: lay.param(w_idx),
                    b_sk: w,
                    b_sj: 1,
                    c_off: lay.at(lay.s, l - 1),
                    ldc: w,
                    z_off: lay.at(lay.z, l - 1),
                    g_off: lay.at(lay.g, l - 1),
                    res_off: if cfg.residual { lay.at(lay.g, l) } else { NONE },
                    m_above: l as u32,
                    m_out: (l - 1) as u32,
                    ..base
                }));
            }
        }
        // An RNN with T = 1 has no step contributing to ∂L/∂W_h: it stays exactly zero (zeroed on reset).

        out
    }

    /// The per-layer statistics records and the global gradient norm (before clipping).
    fn statistics(&self, update: bool) -> Vec<Dispatch> {
        let lay = self.lay;
        let base = self.base;
        let w = lay.width as u32;
        let l_n = lay.depth;
        let mut out = Vec::new();
        // ---- global gradient norm (before clipping): for the clip and for the statistics block; one
        // workgroup per 64k parameters (at most SUMSQ_GROUPS) sums its share, and layer_stats combines them
        let groups = (lay.n_params.div_ceil(1 << 16) as u32).clamp(1, SUMSQ_GROUPS);
        // a small gradient's sum of squares in layer_stats' own extra workgroup instead
        let in_stats = norm_in_stats(lay, self.busy);
        if !in_stats {
            out.push(Dispatch {
                kernel: Kernel::SumsqPartial,
                groups: [groups, 1, 1],
                params: DispatchParams {
                    a_off: lay.grads as u32,
                    count: lay.n_params as u32,
                    part_off: lay.gparts as u32,
                    ..base
                },
            });
        }
        // ---- statistics per layer, the step counter and the global norm from its partials
        out.push(Dispatch {
            kernel: Kernel::LayerStats,
            groups: [l_n as u32 + u32::from(in_stats), 1, 1],
            params: DispatchParams {
                a_off: lay.grads as u32,
                k: lay.n_params as u32,
                layers: l_n as u32,
                m: lay.partials_per_layer as u32,
                n: w,
                part_off: lay.wparts as u32,
                upart_off: lay.upart as u32,
                c_off: (lay.stats + STATS_HEADER) as u32,
                step_off: if update { (lay.stats + 1) as u32 } else { NONE },
                res_off: lay.gparts as u32,
                count: if in_stats { 0 } else { groups },
                aux2_off: lay.gnorm as u32,
                ust_off: (lay.stats + 2) as u32,
                ..base
            },
        });
        // ---- the update this gradient makes, per weight matrix (the update ratio ‖ΔW‖/‖W‖)
        out.push(Dispatch {
            kernel: Kernel::UpdateNorms,
            groups: [1, lay.n_weights as u32, 1],
            params: DispatchParams {
                // 2: the update too (`update` then dispatches nothing), 1: a gradient without update
                mode: match (update, update_in_norms(self.cfg, lay)) {
                    (false, _) => 1,
                    (true, true) => 2,
                    (true, false) => 0,
                },
                n: lay.n_weights as u32,
                res_off: lay.wtable as u32,
                part_off: lay.update_norms as u32,
                ..self.optimizer_params()
            },
        });
        out
    }

    /// The parameter record of the optimizer's kernels (the step and the update norms).
    fn optimizer_params(&self) -> DispatchParams {
        let cfg = self.cfg;
        let lay = self.lay;
        DispatchParams {
            a_off: lay.params as u32,
            b_off: lay.grads as u32,
            c_off: lay.opt1 as u32,
            add_off: lay.opt2 as u32,
            count: lay.n_params as u32,
            flags: if cfg.clip.is_some() { FLAG_CLIP } else { 0 },
            lr: cfg.lr as f32,
            clip: cfg.clip.unwrap_or(0.0) as f32,
            optimizer: match cfg.optimizer {
                Optimizer::Sgd => 0,
                Optimizer::Momentum => 1,
                Optimizer::Adam => 2,
            },
            step_off: (lay.stats + 1) as u32,
            aux2_off: lay.gnorm as u32,
            // the slope-exponent slots the update kernels clear (shaders/update.wgsl)
            layers: lay.depth as u32,
            ..self.base
        }
    }

    /// The optimizer step over every parameter, four per invocation (shaders/update.wgsl); nothing where
    /// `update_norms` applies it ([`update_in_norms`]).
    fn update(&self) -> Vec<Dispatch> {
        if update_in_norms(self.cfg, self.lay) {
            return Vec::new();
        }
        vec![Dispatch {
            kernel: Kernel::Update,
            groups: linear_groups(self.lay.n_params.div_ceil(4)),
            params: self.optimizer_params(),
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each per-row kernel belongs to exactly one shape, and the shape of a shape's kernels is that shape.
    #[test]
    fn row_shapes_and_their_kernels_map_one_to_one() {
        for shape in RowShape::ALL {
            let (f, b) = shape.kernels();
            assert_ne!(f, b);
            assert_eq!(RowShape::of_kernel(f), Some(shape));
            assert_eq!(RowShape::of_kernel(b), Some(shape));
        }
        assert_eq!(RowShape::of_kernel(Kernel::StackForward), None);
        assert_eq!(RowShape::of_kernel(Kernel::WeightGradsDirect), None);
    }

    /// FLAG_WIDE (FLAG_WIDE_IN) lets stack_rows.wgsl and wgrad.wgsl `main_direct` read vec4s: every offset
    /// they read rows from, and every row stride, must then be a multiple of 4.
    #[test]
    fn vec4_flags_are_set_only_where_every_row_starts_on_a_vec4() {
        use crate::model::Task;
        let mut seen = [false; 2];
        for arch in [Arch::Mlp, Arch::Rnn] {
            for task in [Task::Teacher, Task::Spiral, Task::Adding, Task::Memory] {
                for width in [4, 7, 8, 12, 30, 32, 64] {
                    for (depth, batch, residual) in [(1, 5, false), (3, 8, true), (6, 33, false)] {
                        let cfg = NetConfig {
                            arch,
                            task,
                            width,
                            depth,
                            batch,
                            residual,
                            ..NetConfig::default()
                        };
                        let lay = Layout::fused(&cfg);
                        let d = step_dispatches_with(
                            &cfg,
                            &lay,
                            true,
                            BUSY_WORKGROUPS,
                            16,
                            StackPath::Rows,
                            u64::MAX,
                        );
                        let fwd = d.iter().find(|d| d.kernel == Kernel::RowsForward).unwrap();
                        let p = fwd.params;
                        let aligned = |v: &[u32]| v.iter().all(|x| x % 4 == 0);
                        let wide = p.flags & FLAG_WIDE != 0;
                        let wide_in = p.flags & FLAG_WIDE_IN != 0;
                        assert_eq!(wide, width % 4 == 0, "{}", cfg.summary());
                        if wide {
                            seen[0] = true;
                            assert!(
                                aligned(&[
                                    p.n, p.c_off, p.z_off, p.a_off, p.g_off, p.w_rec, p.w_step,
                                    p.w_head, p.b_first, p.b_rec
                                ]),
                                "{}: {p:?}",
                                cfg.summary()
                            );
                            let direct = d.iter().any(|d| d.kernel == Kernel::WeightGradsDirect);
                            assert!(direct, "{}", cfg.summary());
                        }
                        if wide_in {
                            seen[1] = true;
                            assert!(
                                aligned(&[p.d_in, p.x_off, p.x_step, p.w_in]),
                                "{}: {p:?}",
                                cfg.summary()
                            );
                        }
                    }
                }
            }
        }
        assert_eq!(seen, [true, true]);
        // the gated cells' records: W_x, W_h, b and every per-step region
        for cell in [crate::model::Cell::Lstm, crate::model::Cell::Gru] {
            for width in [5, 8, 12, 30, 32] {
                let cfg = NetConfig {
                    arch: Arch::Rnn,
                    cell,
                    task: Task::Adding,
                    width,
                    depth: 7,
                    batch: 3,
                    ..NetConfig::default()
                };
                let lay = Layout::new(&cfg);
                let d = step_dispatches(&cfg, &lay, true);
                let p = d
                    .iter()
                    .find(|d| d.kernel == Kernel::GatedWgrad)
                    .unwrap()
                    .params;
                assert_eq!(
                    p.flags & FLAG_WIDE != 0,
                    width % 4 == 0,
                    "{}",
                    cfg.summary()
                );
                if width % 4 == 0 {
                    assert!(
                        [p.n, p.w_rec, p.z_off, p.c_off, p.g_off, p.a_off, p.top_off]
                            .iter()
                            .all(|x| x % 4 == 0),
                        "{}: {p:?}",
                        cfg.summary()
                    );
                }
            }
        }
    }

    /// An RNN of `cell` on the adding task.
    fn rnn_net(cell: crate::model::Cell, depth: usize, width: usize, batch: usize) -> NetConfig {
        NetConfig {
            arch: Arch::Rnn,
            cell,
            depth,
            width,
            batch,
            task: crate::model::Task::Adding,
            ..NetConfig::default()
        }
    }

    /// A gated cell takes the per-row kernels exactly where the per-row path runs one row per invocation and H
    /// is a multiple of 4, and on the layout of lane-sharing devices always the per-row weight gradients.
    #[test]
    fn gated_cells_take_the_per_row_kernels_where_one_row_fits() {
        use crate::model::Cell;
        for cell in [Cell::Lstm, Cell::Gru] {
            for (width, batch, depth) in [
                (4, 3, 5),
                (8, 6, 12),
                (12, 5, 7),
                (32, 32, 200),
                (40, 9, 3),
                (300, 2, 4),
            ] {
                let cfg = rnn_net(cell, depth, width, batch);
                let lay = Layout::gated_lanes(&cfg);
                let dispatches = |path| {
                    step_dispatches_with(&cfg, &lay, true, BUSY_WORKGROUPS, 32, path, u64::MAX)
                };
                let kernels = |path| {
                    dispatches(path)
                        .into_iter()
                        .map(|d| d.kernel)
                        .collect::<Vec<_>>()
                };
                let rows = kernels(StackPath::RowsOf(ONE_ROW));
                for k in [
                    Kernel::GatedRowsForward,
                    Kernel::GatedRowsBackward,
                    Kernel::GatedWgradRows,
                    Kernel::GatedStatsRows,
                ] {
                    assert!(rows.contains(&k), "{}: {k:?} in {rows:?}", cfg.summary());
                }
                let groups = dispatches(StackPath::RowsOf(ONE_ROW))
                    .into_iter()
                    .find(|d| d.kernel == Kernel::GatedWgradRows)
                    .unwrap()
                    .groups;
                let slots = (groups[0] as usize) * width.div_ceil(16);
                assert!(slots <= lay.partials_per_layer, "{}", cfg.summary());
                for path in [
                    StackPath::Auto,
                    StackPath::Fused(0),
                    StackPath::RowsOf(ROWS_PER_INVOCATION),
                ] {
                    let k = kernels(path);
                    assert!(
                        k.contains(&Kernel::GatedForward) && k.contains(&Kernel::GatedWgrad),
                        "{}: {path:?} {k:?}",
                        cfg.summary()
                    );
                }
            }
        }
    }

    /// A vanilla RNN on one row per invocation takes the per-row weight gradients of a one-gate cell in
    /// place of main_direct and its split sums (in chunks of steps under a loop budget, the later ones
    /// adding up); four rows per invocation, or a width that is not a multiple of 4, keep main_direct.
    #[test]
    fn a_vanilla_rnn_on_one_row_takes_the_cells_per_row_weight_gradients() {
        for (width, batch, depth) in [
            (4, 1, 900),
            (8, 6, 12),
            (16, 8, 50),
            (32, 16, 100),
            (40, 9, 3),
        ] {
            let cfg = rnn_net(crate::model::Cell::Vanilla, depth, width, batch);
            let lay = Layout::rows(&cfg);
            let dispatches = |path, budget| {
                step_dispatches_with(&cfg, &lay, true, BUSY_WORKGROUPS, 32, path, budget)
            };
            let one = dispatches(StackPath::RowsOf(ONE_ROW), u64::MAX);
            let kernels: Vec<_> = one.iter().map(|d| d.kernel).collect();
            assert!(
                kernels.contains(&Kernel::GatedWgradRows),
                "{}: {kernels:?}",
                cfg.summary()
            );
            assert!(!kernels.contains(&Kernel::WeightGradsDirect), "{kernels:?}");
            assert!(!kernels.contains(&Kernel::WeightGradSum), "{kernels:?}");
            let grads = one
                .iter()
                .find(|d| d.kernel == Kernel::GatedWgradRows)
                .unwrap();
            assert_eq!(
                (grads.params.k, grads.params.l_from, grads.params.l_to),
                (1, 1, depth as u32)
            );
            let slots = (grads.groups[0] as usize) * width.div_ceil(16);
            assert!(slots <= lay.partials_per_layer, "{}", cfg.summary());
            // under the software budget: chunks that cover the steps once, all but the first accumulating
            let chunked: Vec<_> = dispatches(StackPath::RowsOf(ONE_ROW), 2_000)
                .into_iter()
                .filter(|d| d.kernel == Kernel::GatedWgradRows)
                .collect();
            let mut next = 1;
            for (i, d) in chunked.iter().enumerate() {
                assert_eq!(d.params.l_from, next, "{}", cfg.summary());
                assert_eq!(d.params.flags & FLAG_ACCUMULATE != 0, i > 0);
                next = d.params.l_to + 1;
            }
            assert_eq!(next, depth as u32 + 1);
            let four: Vec<_> = dispatches(StackPath::RowsOf(ROWS_PER_INVOCATION), u64::MAX)
                .into_iter()
                .map(|d| d.kernel)
                .collect();
            assert!(four.contains(&Kernel::WeightGradsDirect), "{four:?}");
        }
        let odd = NetConfig {
            arch: Arch::Rnn,
            width: 7,
            ..NetConfig::default()
        };
        let lay = Layout::rows(&odd);
        let kernels: Vec<_> = step_dispatches_with(
            &odd,
            &lay,
            true,
            BUSY_WORKGROUPS,
            32,
            StackPath::RowsOf(ONE_ROW),
            u64::MAX,
        )
        .into_iter()
        .map(|d| d.kernel)
        .collect();
        assert!(!kernels.contains(&Kernel::GatedWgradRows), "{kernels:?}");
    }

    /// The nets people teach with (the quick bench's shapes) step in 7 dispatches on a CPU adapter with
    /// lane sharing: forward, loss, backward, statistics, weight gradients, records (with the global
    /// norm) and update norms (with the update); a width whose matrices do not start on a vec4 keeps the
    /// update's own dispatch.
    #[test]
    fn small_nets_step_in_seven_dispatches() {
        use crate::model::Cell;
        let mlp = |depth, width, batch| NetConfig {
            depth,
            width,
            batch,
            ..NetConfig::default()
        };
        for cfg in [
            mlp(8, 32, 64),
            mlp(16, 64, 64),
            mlp(64, 16, 32),
            mlp(20, 64, 128),
            rnn_net(Cell::Vanilla, 50, 16, 8),
            rnn_net(Cell::Vanilla, 100, 32, 16),
            rnn_net(Cell::Lstm, 50, 16, 8),
        ] {
            let lay = if cfg.cell.is_gated() {
                Layout::gated_lanes(&cfg)
            } else {
                Layout::rows(&cfg)
            };
            let d = step_dispatches_with(
                &cfg,
                &lay,
                true,
                SOFTWARE_BUSY_WORKGROUPS,
                32,
                StackPath::RowsOf(ONE_ROW),
                u64::MAX,
            );
            let kernels: Vec<_> = d.iter().map(|d| d.kernel).collect();
            assert_eq!(d.len(), 7, "{}: {kernels:?}", cfg.summary());
            for k in [Kernel::SumsqPartial, Kernel::Update, Kernel::WeightGradSum] {
                assert!(!kernels.contains(&k), "{}: {kernels:?}", cfg.summary());
            }
        }
        let odd = mlp(4, 10, 8);
        let lay = Layout::rows(&odd);
        assert!(!update_in_norms(&odd, &lay));
        let d = step_dispatches_with(
            &odd,
            &lay,
            true,
            SOFTWARE_BUSY_WORKGROUPS,
            32,
            StackPath::RowsOf(ONE_ROW),
            u64::MAX,
        );
        assert_eq!(d.last().unwrap().kernel, Kernel::Update);
    }

    #[test]
    fn chunks_cover_every_layer_once_in_order() {
        for depth in [1, 2, 7, 64, 1000] {
            for len in [1, 2, 3, 63, 64, 5000] {
                let c = chunks(depth, len);
                assert_eq!(c.first().map(|r| r.0), Some(1));
                assert_eq!(c.last().map(|r| r.1), Some(depth as u32));
                for w in c.windows(2) {
                    assert_eq!(w[0].1 + 1, w[1].0, "{depth} {len}: {c:?}");
                }
                assert!(c.iter().all(|(a, b)| a <= b && b - a < len as u32));
            }
        }
    }

    #[test]
    fn the_loop_budget_splits_long_stacks_and_falls_back_where_nothing_fits() {
        let deep = NetConfig {
            depth: 1000,
            width: 256,
            batch: 64,
            ..NetConfig::default()
        };
        let lay = Layout::new(&deep);
        // on hardware (no budget) one dispatch each; under lavapipe's budget chunks of layers, every
        // chunk's estimated loop iterations within it
        assert_eq!(
            chunk_len(Kernel::RowsForward, &lay, 1, u64::MAX),
            Some(1000)
        );
        let len = chunk_len(Kernel::RowsForward, &lay, 1, SOFTWARE_LOOP_BUDGET).unwrap();
        assert!(len < 1000);
        let (fixed, per) = loop_costs(Kernel::RowsForward, &lay, 1);
        assert!(fixed + per * len as u64 <= SOFTWARE_LOOP_BUDGET);
        let d = step_dispatches_with(
            &deep,
            &lay,
            true,
            BUSY_WORKGROUPS,
            32,
            StackPath::Rows,
            SOFTWARE_LOOP_BUDGET,
        );
        let fwd = d.iter().filter(|d| d.kernel == Kernel::RowsForward).count();
        assert_eq!(fwd, 1000usize.div_ceil(len));
        // a budget too small for even one layer: the layered path
        assert_eq!(
            resolve_for(&deep, &lay, StackPath::Rows, 100),
            Resolved::Layered
        );
        assert_eq!(
            resolve_for(&deep, &lay, StackPath::Rows, u64::MAX),
            Resolved::Rows(ROWS_PER_INVOCATION)
        );
        // wider than the fused stack takes by default
        let wide = NetConfig {
            width: 512,
            ..deep.clone()
        };
        assert_eq!(
            resolve_for(&wide, &Layout::new(&wide), StackPath::Auto, u64::MAX),
            Resolved::Layered
        );
    }
}
