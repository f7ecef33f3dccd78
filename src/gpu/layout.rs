//! Where everything lives in the engine's one f32 storage buffer (the memory map), the parameter record and
//! the kernels; the dispatches of one step are in [`super::program`]. Pure arithmetic: no GPU calls.

#[cfg(doc)]
use crate::model::Params;
use crate::model::{Arch, Cell, NetConfig, Optimizer};

/// "No buffer" in a parameter record. Keep in sync with `NONE` in shaders/common.wgsl.
pub const NONE: u32 = u32::MAX;
/// Accumulate into the output. Keep in sync with shaders/common.wgsl.
pub const FLAG_ACCUMULATE: u32 = 1;
/// Compute per-unit statistics (colreduce). Keep in sync with shaders/common.wgsl.
pub const FLAG_STATS: u32 = 2;
/// Clip by the global norm (update). Keep in sync with shaders/common.wgsl.
pub const FLAG_CLIP: u32 = 4;
/// Residual connections in the fused stack. Keep in sync with shaders/common.wgsl.
pub const FLAG_RESIDUAL: u32 = 8;
/// The fused stack and the batched weight gradients run a recurrent net. Keep in sync with
/// shaders/common.wgsl.
pub const FLAG_RECURRENT: u32 = 16;
/// The loss kernel also computes the head's gradients. Keep in sync with shaders/common.wgsl.
pub const FLAG_HEAD: u32 = 32;
/// colreduce first brings per-(layer, slice) scales to one per layer. Keep in sync with
/// shaders/common.wgsl.
pub const FLAG_RESCALE: u32 = 64;
/// stack_rows.wgsl, wgrad.wgsl `main_direct`, gated.wgsl: the width is a multiple of 4, so every row and
/// weight they read starts on a vec4 (`program::vec4_rows`). Keep in sync with shaders/common.wgsl.
pub const FLAG_WIDE: u32 = 128;
/// stack_rows.wgsl: the input width is a multiple of 4, so x's rows and W_in's rows start on a vec4.
/// Keep in sync with shaders/common.wgsl.
pub const FLAG_WIDE_IN: u32 = 256;
/// An MLP's bias gradients come from the per-unit statistics pass (colreduce4.wgsl, which reads every ŝ
/// already), so the weight gradients (wgrad.wgsl `main_direct`) leave out the bias column. Keep in sync
/// with shaders/common.wgsl.
pub const FLAG_BIAS: u32 = 512;
/// The loss kernel also counts the training step (a bare step without clipping, where `layer_stats` does
/// not run: `program::without_statistics`). Keep in sync with shaders/common.wgsl.
pub const FLAG_COUNT: u32 = 1024;
/// stack_rows.wgsl `rows_backward` in a bare step (`program::without_statistics`): ĝ is stored only where
/// the kernel itself (a residual net's next layer down) or the next chunk down reads it; nothing else
/// reads it before the next complete step rewrites it. Keep in sync with shaders/common.wgsl.
pub const FLAG_BARE: u32 = 2048;
/// Values per weight matrix in the statistics block's update norms (`[log2 Σ ΔW², log2 Σ W², -, -]`,
/// shaders/update.wgsl `update_norms`, NORMS_STRIDE there).
pub const UPDATE_NORMS_STRIDE: usize = 4;
/// Values per `sumsq_partial` workgroup in the global norm's partials (`[max |g|, Σ (g/max)², -, -]`,
/// shaders/reduce.wgsl, GPART_STRIDE there): a vec4 each, as [`UPDATE_NORMS_STRIDE`].
pub const GPART_STRIDE: usize = 4;
/// Output tile edges of the matmul pipelines: 16 (shaders/matmul_small.wgsl), 32 and 64 (TILE in
/// shaders/matmul.wgsl) and 128 (shaders/matmul_wide.wgsl), set by src/gpu/shaders.rs.
pub const MATMUL_TILES: [u32; 4] = [16, 32, 64, 128];
/// Threads per workgroup of the 1-D kernels (colreduce uses 64).
pub const WORKGROUP_SIZE: u32 = 256;
/// Units per workgroup of colreduce. Keep in sync with UNITS in shaders/colreduce.wgsl.
pub const COLREDUCE_UNITS: u32 = 16;
/// Units per workgroup of the per-row path's four-unit statistics. Keep in sync with CR4_UNITS in
/// shaders/colreduce4.wgsl.
pub const COLREDUCE4_UNITS: u32 = 32;
/// Workgroups of the first global-norm reduction. Keep in sync with shaders/reduce.wgsl.
pub const SUMSQ_GROUPS: u32 = 256;
/// Bytes between parameter records in the uniform buffer (a multiple of every adapter's
/// `min_uniform_buffer_offset_alignment`).
pub const RECORD_STRIDE: u64 = 256;
/// f32 values per layer record in the statistics block: log2 scale, log2 Σ (scaled ∂L/∂W)², Σ ŝ²,
/// log2 Σ a², #saturated, #dead, log2 Σ ĝ², K (the slope shift: ĝ's scale is the layer's minus K),
/// log2 Σ |f'|, then 3 values of padding. Keep in sync with LAYER_RECORD in shaders/common.wgsl.
pub const LAYER_RECORD: usize = 12;
/// f32 values per layer of the histograms region: [f(z) bins, δ bins, exact zeros of δ], each histogram
/// `HIST_BINS + 2` values. Keep in sync with HIST_RECORD in shaders/hist.wgsl.
pub const HIST_RECORD: usize = 2 * (crate::stats::HIST_BINS + 2) + 1;
/// f32 partial sums per unit that the column reductions leave for `layer_stats`: [Σ ŝ², log2 Σ a²,
/// #saturated, dead, log2 Σ ĝ², log2 Σ |f'|]. Keep in sync with UPART in shaders/common.wgsl.
pub const UPART: usize = 6;
/// f32 values before the layer records in the statistics block: [loss, step count, global gradient norm
/// as (M, r) with norm = M · r, 4 × padding].
pub const STATS_HEADER: usize = 8;
/// Largest workgroup count per dimension every adapter allows.
pub const MAX_GROUPS: u32 = 65_535;

/// The per-dispatch parameter record. Keep in sync with `struct Params` in shaders/common.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[allow(missing_docs)]
pub struct DispatchParams {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub mode: u32,
    pub a_off: u32,
    pub a_si: u32,
    pub a_sk: u32,
    pub b_off: u32,
    pub b_sk: u32,
    pub b_sj: u32,
    pub c_off: u32,
    pub ldc: u32,
    pub add_off: u32,
    pub add_si: u32,
    pub add_sj: u32,
    pub z_off: u32,
    pub res_off: u32,
    pub g_off: u32,
    pub act: u32,
    pub flags: u32,
    pub scale_idx: u32,
    pub m_above: u32,
    pub m_out: u32,
    pub part_off: u32,
    pub x_off: u32,
    pub d_in: u32,
    pub ust_off: u32,
    pub upart_off: u32,
    pub count: u32,
    pub aux_off: u32,
    pub aux2_off: u32,
    pub loss_kind: u32,
    pub lr: f32,
    pub clip: f32,
    pub optimizer: u32,
    pub step_off: u32,
    pub k_base: u32,
    pub rows: u32,
    pub layers: u32,
    pub d_out: u32,
    pub w_in: u32,
    pub w_rec: u32,
    pub w_step: u32,
    pub b_first: u32,
    pub b_rec: u32,
    pub w_head: u32,
    pub b_head: u32,
    pub x_step: u32,
    pub sscale_off: u32,
    pub gw_head: u32,
    pub gb_head: u32,
    pub gw_in: u32,
    pub gw_rec: u32,
    pub gb_first: u32,
    pub gb_rec: u32,
    pub top_off: u32,
    pub l_from: u32,
    pub l_to: u32,
    pub splits: u32,
    pub split_off: u32,
    pub net_stride: u32,
    pub max_stride: u32,
    pub zn: u32,
}

impl DispatchParams {
    /// Every offset NONE, every count 0.
    pub(crate) fn none() -> Self {
        DispatchParams {
            add_off: NONE,
            z_off: NONE,
            res_off: NONE,
            g_off: NONE,
            m_above: NONE,
            m_out: NONE,
            part_off: NONE,
            step_off: NONE,
            ..Default::default()
        }
    }
}

/// The compute kernels (one pipeline each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// shaders/matmul_small.wgsl: 16 x 16 output tiles, one output per thread (the smallest layers)
    Matmul16,
    /// shaders/matmul.wgsl with 32 x 32 output tiles (small layers: more workgroups)
    Matmul32,
    /// shaders/matmul.wgsl with 64 x 64 output tiles
    Matmul64,
    /// shaders/matmul_wide.wgsl: 128 x 128 output tiles, 8 x 8 outputs per thread, prefetched vec4 loads
    /// (wide layers on large GPUs)
    Matmul128,
    /// shaders/colreduce.wgsl
    ColReduce,
    /// shaders/colreduce.wgsl with one batch slice per unit (module colreduce1), for the per-row path
    ColReduceRows,
    /// shaders/colreduce4.wgsl: the per-row path's statistics four units per invocation (widths that are a
    /// multiple of 4)
    ColReduceRows4,
    /// shaders/colreduce4.wgsl `rows4_packed`: the same for widths below 32, a workgroup's units running
    /// on across layers
    ColReduceRows4Packed,
    /// shaders/colreduce4.wgsl `rows4_bare`: `ColReduceRows4` without the statistics (the rescale and the
    /// bias gradients), for a training step whose statistics nobody reads
    ColReduceRows4Bare,
    /// shaders/colreduce4.wgsl `rows4_packed_bare`: `ColReduceRows4Packed` without the statistics
    ColReduceRows4PackedBare,
    /// shaders/loss.wgsl
    Loss,
    /// shaders/reduce.wgsl `layer_stats`
    LayerStats,
    /// shaders/reduce.wgsl `sumsq_partial`
    SumsqPartial,
    /// shaders/update.wgsl
    Update,
    /// shaders/update.wgsl `update_norms`: the global gradient norm from `SumsqPartial`'s partials, and per
    /// weight matrix the norms of the update and the weights
    UpdateNorms,
    /// shaders/update.wgsl `update_bare`: `UpdateNorms` in mode 2 without the norms (the update alone), for
    /// a training step whose statistics nobody reads
    UpdateBare,
    /// shaders/hist.wgsl `histograms`: per layer, the histograms of f(z) and log10 |δ| (when asked for)
    Histograms,
    /// shaders/stack.wgsl `stack_forward`: every layer (time step) and the head, one workgroup per row slice
    StackForward,
    /// shaders/stack.wgsl `stack_backward`: the δ chain of every layer (time step), per row slice
    StackBackward,
    /// shaders/wgrad.wgsl: weight and bias gradients of every layer (or summed over time)
    WeightGrads,
    /// shaders/wgrad.wgsl `main_bare`: `WeightGrads` without the partial sums of squares, for a training
    /// step whose statistics nobody reads
    WeightGradsBare,
    /// shaders/wgrad.wgsl `main_direct` on the vec4 view (module wgrad4): the same, for CPU adapters
    WeightGradsDirect,
    /// shaders/wgrad.wgsl `main_direct_bare`: `WeightGradsDirect` without the per-layer partial sums of
    /// squares, for a training step whose statistics nobody reads
    WeightGradsDirectBare,
    /// shaders/wgrad.wgsl `wgrad_sum`: an RNN's weight-gradient splits added into its gradients
    WeightGradSum,
    /// shaders/stack_rows.wgsl `rows_forward`: the forward of every layer, one invocation per row
    RowsForward,
    /// shaders/stack_rows.wgsl `rows_backward`: the δ chain of every layer, one invocation per row
    RowsBackward,
    /// `rows_forward` with one row per invocation, sixteen units at a time (module stack_rows1)
    RowsForward1,
    /// `rows_backward` with one row per invocation, sixteen units at a time (module stack_rows1)
    RowsBackward1,
    /// `rows_forward` with two rows per invocation sharing the weights' loads, sixteen units at a time
    /// (module stack_rows2)
    RowsForward2,
    /// `rows_backward` with two rows per invocation, sixteen units at a time (module stack_rows2)
    RowsBackward2,
    /// `rows_forward` with four rows per invocation sharing the weights' loads, sixteen units at a time
    /// (module stack_rows4)
    RowsForward4,
    /// `rows_backward` with four rows per invocation, sixteen units at a time (module stack_rows4)
    RowsBackward4,
    /// shaders/gated.wgsl `gated_forward`: an LSTM's or GRU's steps, one workgroup per slice of rows
    GatedForward,
    /// shaders/gated.wgsl `gated_backward`: backpropagation through time of a gated cell
    GatedBackward,
    /// shaders/gated.wgsl `gated_stats`: one scale per step, per-unit and gate statistics
    GatedStats,
    /// shaders/gated.wgsl `gated_stats_bare`: `GatedStats` without the statistics (the step's scale and
    /// the rescale), for a training step whose statistics nobody reads
    GatedStatsBare,
    /// shaders/gated.wgsl `gated_wgrad`: a gated cell's weight and bias gradients summed over time
    GatedWgrad,
    /// shaders/gated_rows.wgsl `gated_rows_forward` (module stack_rows1): a gated cell's steps, one
    /// invocation per batch row and no barrier (CPU adapters, H a multiple of 4)
    GatedRowsForward,
    /// shaders/gated_rows.wgsl `gated_rows_backward`: its backpropagation through time, one invocation per
    /// batch row
    GatedRowsBackward,
    /// shaders/gated_rows.wgsl `gated_wgrad_rows`: its weight and bias gradients, 8-invocation workgroups of
    /// 4 × 16 blocks whose columns the lanes share
    GatedWgradRows,
    /// shaders/gated_rows.wgsl `gated_wgrad_rows_bare`: `GatedWgradRows` without the per-step partial sums
    /// of squares, for a training step whose statistics nobody reads
    GatedWgradRowsBare,
    /// shaders/gated.wgsl `gated_stats_rows`: `gated_stats` for the per-row kernels, 8 invocations per
    /// step, each rescaling the values it reads (no barrier)
    GatedStatsRows,
    /// shaders/gated.wgsl `gated_stats_rows_bare`: `GatedStatsRows` without the statistics (the step's
    /// scale and the rescale), for a training step whose statistics nobody reads
    GatedStatsRowsBare,
    /// shaders/normed.wgsl `normed_forward`: a normalized MLP's layers, the whole batch in one workgroup
    NormedForward,
    /// shaders/normed.wgsl `normed_backward`: its δ chain through the norms
    NormedBackward,
    /// shaders/normed.wgsl `normed_stats`: per-unit statistics and the bias, gain and shift gradients
    NormedStats,
    /// shaders/normed.wgsl `normed_stats_bare`: `NormedStats` without the statistics (the rescale and the
    /// norm's gradients), for a training step whose statistics nobody reads
    NormedStatsBare,
    /// shaders/normed.wgsl `normed_wgrad`: the weight gradients of every layer
    NormedWgrad,
    /// shaders/normed.wgsl `normed_wgrad_bare`: `NormedWgrad` without the partial sums of squares, for a
    /// training step whose statistics nobody reads
    NormedWgradBare,
}

impl Kernel {
    /// The kernels shaped for CPU adapters (the per-row path): built on native targets only. In a browser
    /// the software adapter is SwiftShader, whose shader compiler exhausted memory on them (over 11 GB
    /// for the page's GPU process), so the browser runs its CPU adapter on the fused path instead.
    pub const CPU_ONLY: [Kernel; 21] = [
        Kernel::RowsForward,
        Kernel::RowsBackward,
        Kernel::RowsForward1,
        Kernel::RowsBackward1,
        Kernel::RowsForward2,
        Kernel::RowsBackward2,
        Kernel::RowsForward4,
        Kernel::RowsBackward4,
        Kernel::WeightGradsDirect,
        Kernel::WeightGradsDirectBare,
        Kernel::ColReduceRows,
        Kernel::ColReduceRows4,
        Kernel::ColReduceRows4Packed,
        Kernel::ColReduceRows4Bare,
        Kernel::ColReduceRows4PackedBare,
        Kernel::GatedRowsForward,
        Kernel::GatedRowsBackward,
        Kernel::GatedWgradRows,
        Kernel::GatedWgradRowsBare,
        Kernel::GatedStatsRows,
        Kernel::GatedStatsRowsBare,
    ];

    /// Whether this build compiles the kernel (see [`Kernel::CPU_ONLY`]).
    pub fn built(self) -> bool {
        !(cfg!(target_arch = "wasm32") && Kernel::CPU_ONLY.contains(&self))
    }

    /// Every kernel.
    pub const ALL: [Kernel; 49] = [
        Kernel::Matmul16,
        Kernel::Matmul32,
        Kernel::Matmul64,
        Kernel::Matmul128,
        Kernel::ColReduce,
        Kernel::ColReduceRows,
        Kernel::ColReduceRows4,
        Kernel::ColReduceRows4Packed,
        Kernel::ColReduceRows4Bare,
        Kernel::ColReduceRows4PackedBare,
        Kernel::Loss,
        Kernel::LayerStats,
        Kernel::SumsqPartial,
        Kernel::Update,
        Kernel::UpdateNorms,
        Kernel::UpdateBare,
        Kernel::Histograms,
        Kernel::StackForward,
        Kernel::StackBackward,
        Kernel::WeightGrads,
        Kernel::WeightGradsBare,
        Kernel::WeightGradsDirect,
        Kernel::WeightGradsDirectBare,
        Kernel::WeightGradSum,
        Kernel::RowsForward,
        Kernel::RowsBackward,
        Kernel::RowsForward1,
        Kernel::RowsBackward1,
        Kernel::RowsForward2,
        Kernel::RowsBackward2,
        Kernel::RowsForward4,
        Kernel::RowsBackward4,
        Kernel::GatedForward,
        Kernel::GatedBackward,
        Kernel::GatedStats,
        Kernel::GatedStatsBare,
        Kernel::GatedWgrad,
        Kernel::GatedRowsForward,
        Kernel::GatedRowsBackward,
        Kernel::GatedWgradRows,
        Kernel::GatedWgradRowsBare,
        Kernel::GatedStatsRows,
        Kernel::GatedStatsRowsBare,
        Kernel::NormedForward,
        Kernel::NormedBackward,
        Kernel::NormedStats,
        Kernel::NormedStatsBare,
        Kernel::NormedWgrad,
        Kernel::NormedWgradBare,
    ];
}

/// One dispatch: kernel, parameter record and workgroup counts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dispatch {
    /// Which kernel.
    pub kernel: Kernel,
    /// Its parameters.
    pub params: DispatchParams,
    /// Workgroups in x, y, z.
    pub groups: [u32; 3],
}

/// Offsets (in f32 elements) of every region of the storage buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// Layers (MLP) or time steps (RNN).
    pub depth: usize,
    /// Units per layer.
    pub width: usize,
    /// Samples.
    pub batch: usize,
    /// Inputs per sample (per step).
    pub d_in: usize,
    /// Outputs per sample.
    pub d_out: usize,
    /// Number of parameters.
    pub n_params: usize,
    /// Offset of each parameter tensor inside the parameter region.
    pub tensor_offsets: Vec<usize>,
    /// Parameters.
    pub params: usize,
    /// Gradients.
    pub grads: usize,
    /// Optimizer slot 1 (momentum velocity, Adam m).
    pub opt1: usize,
    /// Optimizer slot 2 (Adam v).
    pub opt2: usize,
    /// Inputs.
    pub x: usize,
    /// Targets.
    pub y: usize,
    /// RNN input projection `x W_xᵀ + b` for all steps.
    pub proj: usize,
    /// Blocks per step of the recurrent cell ([`crate::model::Cell::gates`]; 1 for MLPs and vanilla
    /// RNNs): the pre-activation region `z` and the error region `s` hold `gates × width` per row.
    pub gates: usize,
    /// Gated cells: LSTM c_t, GRU `h_{t-1} W_hnᵀ` per step, `T x B x W` (empty otherwise).
    pub cell_aux: usize,
    /// Gated cells: LSTM ∂L/∂c_t (scaled), GRU the candidate's input-side error, `T x B x W`. A normalized
    /// MLP keeps ∂L/∂u (scaled) here, and ẑ in `cell_aux`.
    pub cell_err: usize,
    /// A normalized MLP: each layer's per-group mean and 1/σ, and the backward's group means.
    pub norm_stats: usize,
    /// Pre-activations z per layer.
    pub z: usize,
    /// Layer outputs a_l (h_t) per layer.
    pub a: usize,
    /// Scaled ĝ per layer (the error before f'; the statistics read it to keep saturated units' magnitudes
    /// in the log domain, and residual nets add it to the layer below).
    pub g: usize,
    /// Scaled δ (ŝ) per layer.
    pub s: usize,
    /// Network output.
    pub yhat: usize,
    /// ∂L/∂ŷ.
    pub dy: usize,
    /// log2 scale per layer (index 1..=L; L+1 is a fixed zero for the head).
    pub scales: usize,
    /// The fused path's log2 scale per (layer, row slice): `(L + 1) x slices` (at most one slice per row).
    pub sscales: usize,
    /// The fused RNN's weight-gradient partial sums, one `W x (W + d_in + 1)` block per split of the time
    /// steps (empty with one split).
    pub wsplit: usize,
    /// Splits of the time steps in the fused RNN's weight gradient ([`rnn_weight_grad_splits`]).
    pub wsplits: usize,
    /// Weight-gradient partial sums, `partials_per_layer` per layer.
    pub wparts: usize,
    /// Partial sums slots per layer.
    pub partials_per_layer: usize,
    /// Per-unit partials (4 per unit per layer).
    pub upart: usize,
    /// Global-norm partials: (max |g|, Σ (g/max)²) per workgroup, [`GPART_STRIDE`] values apart.
    pub gparts: usize,
    /// Global gradient norm as (M, r), norm = M · r (no overflow of the squares).
    pub gnorm: usize,
    /// The weight matrices of [`crate::model::weight_tensors`] as u32 pairs (offset in the parameter
    /// vector, length), stored bit for bit in the f32 memory, for `update_norms`.
    pub wtable: usize,
    /// Number of those weight matrices.
    pub n_weights: usize,
    /// Where in memory the update norms start: per weight matrix [log2 Σ ΔW², log2 Σ W²], the last part
    /// of the statistics block.
    pub update_norms: usize,
    /// Where in memory the per-layer histograms start (`HIST_RECORD` values per layer), in the statistics
    /// block.
    pub hist: usize,
    /// The statistics block (read back): header, layer records, per-unit mean |ŝ|.
    pub stats: usize,
    /// Length of the statistics block.
    pub stats_len: usize,
    /// Total f32 elements.
    pub total: usize,
}

/// Lengths of the parameter tensors in [`Params`] order (MLP `w_1, b_1, .., w_out, b_out`; RNN `w_x, w_h,
/// b, w_out, b_out`), from the configuration alone.
pub fn param_lens(cfg: &NetConfig) -> Vec<usize> {
    let (w, d_in, d_out) = (cfg.width, cfg.d_in(), cfg.d_out());
    let mut lens = Vec::new();
    match cfg.arch {
        Arch::Mlp => {
            for l in 1..=cfg.depth {
                lens.push(w * if l == 1 { d_in } else { w });
                if cfg.norm != crate::model::Norm::Batch {
                    lens.push(w);
                }
                if cfg.norm != crate::model::Norm::None {
                    lens.extend([w, w]);
                }
            }
        }
        Arch::Rnn => {
            let g = cfg.cell.gates();
            lens.extend([g * w * d_in, g * w * w, g * w]);
        }
    }
    lens.extend([d_out * w, d_out]);
    lens
}

/// Most splits of an RNN's time steps in the weight-gradient kernel.
pub const MAX_WGRAD_SPLITS: usize = 32;

/// Splits of the time steps over which the fused RNN's weight gradient is summed in parallel (grid z of
/// shaders/wgrad.wgsl, then shaders/wgrad.wgsl `wgrad_sum`): as many as [`MAX_WGRAD_SPLITS`] and the
/// steps allow, and no more partial sums than the input-projection region the fused path does without
/// (`T x B x W` values), so the fused path never needs more memory.
pub fn rnn_weight_grad_splits(steps: usize, batch: usize, width: usize, d_in: usize) -> usize {
    let cols = width + d_in + 1;
    MAX_WGRAD_SPLITS
        .min(steps)
        .min(steps * batch * width / (width * cols).max(1))
        .max(1)
}

fn align(x: usize) -> usize {
    x.div_ceil(64) * 64
}

impl Layout {
    /// Lays out a network from its configuration alone (nothing is allocated but the offsets, so the
    /// adapter's limits can be checked before any weights or data are generated).
    pub fn new(cfg: &NetConfig) -> Layout {
        Layout::build(cfg, true, false)
    }

    /// [`Layout::new`] for the fused path, which computes an RNN's input projection inline: no region for
    /// it (T·B·W values less).
    pub fn fused(cfg: &NetConfig) -> Layout {
        Layout::build(cfg, false, false)
    }

    /// [`Layout::fused`] for the per-row path: its weight gradient (`main_direct` in shaders/wgrad.wgsl)
    /// writes a partial sum per subgroup of 8 lanes where the device has them (no workgroup barrier), so
    /// every layer has room for 8 slots per 32 × 32 tile.
    pub fn rows(cfg: &NetConfig) -> Layout {
        Layout::build(cfg, false, true)
    }

    /// [`Layout::new`] for a gated cell on a device with 8-lane subgroups: `gated_wgrad` (shaders/gated.wgsl)
    /// then writes a partial sum per subgroup instead of per workgroup (no workgroup barrier in its loop
    /// over the steps), so every step has room for a slot per subgroup.
    pub fn gated_lanes(cfg: &NetConfig) -> Layout {
        Layout::build(cfg, true, true)
    }

    fn build(cfg: &NetConfig, projection: bool, lane_slots: bool) -> Layout {
        let (l_n, w, b) = (cfg.depth, cfg.width, cfg.batch);
        let (d_in, d_out) = (cfg.d_in(), cfg.d_out());
        let steps = if cfg.arch == Arch::Rnn { l_n } else { 1 };
        let gated = cfg.cell.is_gated();
        let normed = cfg.norm != crate::model::Norm::None;
        let gates = cfg.cell.gates();
        let mut tensor_offsets = Vec::new();
        let mut off = 0;
        for len in param_lens(cfg) {
            tensor_offsets.push(off);
            off += len;
        }
        let n_params = off;
        let bw = b * w;
        let fan_in_max = w.max(d_in);
        // one slot per workgroup of the weight-gradient matmul, at the smallest tile size
        let smallest = MATMUL_TILES[0] as usize;
        let partials_per_layer = if gated {
            let slots = if lane_slots {
                crate::gpu::program::GATED_WGRAD_GROUP
                    / crate::gpu::shaders::SUBGROUP_LANES as usize
            } else {
                1
            };
            crate::gpu::program::gated_wgrad_groups(cfg) * slots
        } else if normed {
            crate::gpu::program::normed_wgrad_groups(cfg)
        } else if lane_slots {
            let tile = crate::gpu::program::WGRAD_TILE as usize;
            let lanes = crate::gpu::shaders::SUBGROUP_LANES as usize
                * w.div_ceil(tile)
                * fan_in_max.div_ceil(tile);
            lanes.max(w.div_ceil(smallest) * fan_in_max.div_ceil(smallest))
        } else {
            w.div_ceil(smallest) * fan_in_max.div_ceil(smallest)
        };
        let mut cur = 0;
        let mut take = |n: usize| {
            let at = cur;
            cur += align(n.max(1));
            at
        };
        let params_off = take(n_params);
        let grads = take(n_params);
        let opt1 = take(if cfg.optimizer == Optimizer::Sgd {
            0
        } else {
            n_params
        });
        let opt2 = take(if cfg.optimizer == Optimizer::Adam {
            n_params
        } else {
            0
        });
        let x = take(steps * b * d_in);
        let y = take(b * d_out);
        let proj = take(if cfg.arch == Arch::Rnn && projection && !gated {
            l_n * bw
        } else {
            0
        });
        let z = take(l_n * bw * gates);
        let a = take(l_n * bw);
        let g = take(l_n * bw);
        let s = take(l_n * bw * gates);
        let cell_aux = take(if gated || normed { l_n * bw } else { 0 });
        let cell_err = take(if gated || normed { l_n * bw } else { 0 });
        let norm_stats = take(if normed {
            crate::gpu::program::norm_stats_len(cfg)
        } else {
            0
        });
        let yhat = take(b * d_out);
        let dy = take(b * d_out);
        let scales = take(l_n + 2);
        let sscales = take((l_n + 1) * b);
        let wsplits = if cfg.arch == Arch::Rnn && !gated {
            rnn_weight_grad_splits(l_n, b, w, d_in)
        } else {
            1
        };
        let wsplit = take(if wsplits > 1 {
            wsplits * w * (w + d_in + 1)
        } else {
            0
        });
        let wparts = take(l_n * partials_per_layer);
        let upart = take(l_n * w * UPART);
        let gparts = take(GPART_STRIDE * SUMSQ_GROUPS as usize);
        let gnorm = take(2);
        let mut stats_len = STATS_HEADER + LAYER_RECORD * l_n + l_n * w;
        if gated {
            // the gate records, and the LSTM's per-unit mean |∂L/∂c_t|
            stats_len += crate::gpu::program::GATE_RECORD * l_n;
            if cfg.cell == Cell::Lstm {
                stats_len += l_n * w;
            }
        }
        let weights = crate::model::weight_tensors(cfg);
        let n_weights = weights.len();
        let wtable = take(2 * n_weights);
        // a vec4 per matrix (two values used): on the vec4 view a scalar store rewrites its whole vec4, so
        // two workgroups' pairs must not share one
        stats_len = stats_len.next_multiple_of(UPDATE_NORMS_STRIDE);
        let update_rel = stats_len;
        stats_len += UPDATE_NORMS_STRIDE * n_weights;
        let hist_rel = stats_len;
        stats_len += HIST_RECORD * l_n;
        let stats = take(stats_len);
        Layout {
            depth: l_n,
            width: w,
            batch: b,
            d_in,
            d_out,
            n_params,
            wtable,
            n_weights,
            update_norms: stats + update_rel,
            hist: stats + hist_rel,
            tensor_offsets,
            params: params_off,
            grads,
            opt1,
            opt2,
            x,
            y,
            proj,
            gates,
            cell_aux,
            cell_err,
            norm_stats,
            z,
            a,
            g,
            s,
            yhat,
            dy,
            scales,
            sscales,
            wsplit,
            wsplits,
            wparts,
            partials_per_layer,
            upart,
            gparts,
            gnorm,
            stats,
            stats_len,
            total: cur,
        }
    }

    /// Offset of the `l`-th (1-based) layer's `B x W` block inside a per-layer region.
    pub(crate) fn at(&self, region: usize, l: usize) -> u32 {
        (region + (l - 1) * self.batch * self.width) as u32
    }

    /// Offset of parameter tensor `i` in the parameter region.
    pub fn param(&self, i: usize) -> u32 {
        (self.params + self.tensor_offsets[i]) as u32
    }

    /// Offset of gradient tensor `i`.
    pub fn grad(&self, i: usize) -> u32 {
        (self.grads + self.tensor_offsets[i]) as u32
    }

    /// Index in the atomic `maxes` buffer of the slope-exponent slot of layer 0; layer l's is this + l.
    /// Slots 0..=L+1 hold the per-layer max |ĝ| bit patterns.
    pub fn slope_slots(&self) -> usize {
        self.depth + 2
    }

    /// Length of the atomic `maxes` buffer in u32 words.
    pub fn maxes_len(&self) -> usize {
        self.slope_slots() + self.depth + 1
    }

    /// The weight table `update_norms` reads: (offset in the parameter vector, length) per weight matrix
    /// of [`crate::model::weight_tensors`], as u32.
    pub fn weight_table(&self, cfg: &NetConfig) -> Vec<u32> {
        let lens = param_lens(cfg);
        crate::model::weight_tensors(cfg)
            .into_iter()
            .flat_map(|(i, _)| [self.tensor_offsets[i] as u32, lens[i] as u32])
            .collect()
    }

    /// Offset of the per-unit log2 mean |ŝ| of layer `l` (1-based) in the statistics block.
    pub fn unit_stats(&self, l: usize) -> usize {
        self.stats + STATS_HEADER + LAYER_RECORD * self.depth + (l - 1) * self.width
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::program::{BUSY_WORKGROUPS, StackPath, step_dispatches, step_dispatches_with};
    use crate::model::Params;

    /// The fused path holds no more GPU memory than the layered one for the benchmark's networks: the
    /// per-slice scales it adds are paid for by the dispatch records it saves (and, for an RNN, by the
    /// input-projection region it does without).
    #[test]
    fn the_fused_path_needs_no_more_memory() {
        for b in crate::bench::configs(crate::bench::Suite::Full)
            .into_iter()
            .chain(crate::bench::configs(crate::bench::Suite::Quick))
        {
            let cfg = &b.cfg;
            let bytes = |lay: &Layout, path| {
                let records: usize = [true, false]
                    .iter()
                    .map(|&u| {
                        step_dispatches_with(cfg, lay, u, BUSY_WORKGROUPS, 32, path, u64::MAX).len()
                    })
                    .sum();
                lay.total * 4 + records * RECORD_STRIDE as usize
            };
            let layered = bytes(&Layout::new(cfg), StackPath::Layered);
            let fused = bytes(&Layout::fused(cfg), StackPath::Fused(0));
            if cfg.width <= crate::gpu::program::FUSED_MAX_WIDTH {
                assert!(fused <= layered, "{}: {fused} > {layered} bytes", b.name);
            }
        }
    }

    #[test]
    fn record_fits_its_stride() {
        assert!(std::mem::size_of::<DispatchParams>() as u64 <= RECORD_STRIDE);
    }

    #[test]
    fn regions_do_not_overlap_and_dispatch_counts_are_small() {
        let cfg = NetConfig {
            depth: 10,
            width: 32,
            batch: 16,
            residual: true,
            ..NetConfig::default()
        };
        let params = Params::init(&cfg);
        let lay = Layout::new(&cfg);
        let lens: Vec<usize> = params.tensors.iter().map(|t| t.data.len()).collect();
        assert_eq!(lens, param_lens(&cfg));
        let rnn = NetConfig {
            arch: Arch::Rnn,
            task: crate::model::Task::Adding,
            ..cfg.clone()
        };
        let rnn_lens: Vec<usize> = Params::init(&rnn)
            .tensors
            .iter()
            .map(|t| t.data.len())
            .collect();
        assert_eq!(rnn_lens, param_lens(&rnn));
        assert!(lay.grads >= lay.params + lay.n_params);
        assert!(lay.stats + lay.stats_len <= lay.total);
        let layered = step_dispatches_with(
            &cfg,
            &lay,
            true,
            BUSY_WORKGROUPS,
            MATMUL_TILES[0],
            StackPath::Layered,
            u64::MAX,
        );
        // forward L + head + loss + 3 head grads + (dW, colreduce) per layer + dX for l >= 2 + stats,
        // which also sum this small gradient's squares for the global norm (no sumsq_partial) + update
        // norms, which apply the update to these small matrices (no update dispatch of its own)
        assert_eq!(layered.len(), 10 + 1 + 1 + 3 + 2 * 10 + 9 + 1 + 1);
        assert!(!layered.iter().any(|d| d.kernel == Kernel::Update));
        assert!(!layered.iter().any(|d| d.kernel == Kernel::SumsqPartial));
        let stats = layered
            .iter()
            .find(|d| d.kernel == Kernel::LayerStats)
            .unwrap();
        assert_eq!(stats.groups[0], 10 + 1);
        assert_eq!((stats.params.count, stats.params.layers), (0, 10));
        assert_eq!(stats.params.k, lay.n_params as u32);
        let norms = layered
            .iter()
            .find(|d| d.kernel == Kernel::UpdateNorms)
            .unwrap();
        assert_eq!(
            (norms.params.mode, norms.params.n),
            (2, lay.n_weights as u32)
        );
        // a gradient without update: only its norms
        let without = step_dispatches(&cfg, &lay, false);
        let norms = without
            .iter()
            .find(|d| d.kernel == Kernel::UpdateNorms)
            .unwrap();
        assert_eq!(norms.params.mode, 1);
        // a matrix past UPDATE_IN_NORMS_MAX keeps the update's own dispatch
        let wide = NetConfig {
            depth: 2,
            width: 300,
            ..cfg.clone()
        };
        let wide_lay = Layout::new(&wide);
        let d = step_dispatches(&wide, &wide_lay, true);
        let norms = d.iter().find(|d| d.kernel == Kernel::UpdateNorms).unwrap();
        assert_eq!(norms.params.mode, 0);
        assert_eq!(d.last().unwrap().kernel, Kernel::Update);
        // and a gradient past NORM_IN_STATS_MAX keeps sumsq_partial, whose partials layer_stats combines
        let wider = NetConfig {
            depth: 3,
            width: 300,
            ..cfg.clone()
        };
        let wider_lay = Layout::new(&wider);
        let d = step_dispatches(&wider, &wider_lay, true);
        let sums = d.iter().find(|d| d.kernel == Kernel::SumsqPartial).unwrap();
        let stats = d.iter().find(|d| d.kernel == Kernel::LayerStats).unwrap();
        assert_eq!(stats.groups[0], 3);
        assert_eq!(stats.params.count, sums.groups[0]);
        // the fused stack and the persistent RNN: a dispatch count independent of depth and time
        for depth in [1, 2, 10, 500] {
            for width in [1, 16, 100, 256] {
                for batch in [1, 7, 64] {
                    for arch in [Arch::Mlp, Arch::Rnn] {
                        let c = NetConfig {
                            arch,
                            depth,
                            width,
                            batch,
                            residual: arch == Arch::Mlp && depth > 1,
                            task: if arch == Arch::Rnn {
                                crate::model::Task::Adding
                            } else {
                                crate::model::Task::Teacher
                            },
                            ..NetConfig::default()
                        };
                        let l = Layout::new(&c);
                        let d = step_dispatches(&c, &l, true);
                        assert!(d.len() <= 12, "{}: {} dispatches", c.summary(), d.len());
                        assert!(
                            d.iter().any(|d| d.kernel == Kernel::StackForward),
                            "{}: not fused",
                            c.summary()
                        );
                    }
                }
            }
        }
    }
}
