//! The step of an MLP with LayerNorm or BatchNorm (shaders/normed.wgsl): one workgroup carries the whole
//! batch through the layers (the norm couples it), in chunks of layers where the loop budget asks for it;
//! then the loss with the head's gradients, per-layer statistics with the bias, gain and shift gradients,
//! the weight gradients of every layer in one dispatch, and the shared statistics, norm and update.

use super::{Program, SOFTWARE_BUSY_WORKGROUPS, chunk_dispatches, layers_within};
use crate::gpu::layout::{
    Dispatch, DispatchParams, FLAG_HEAD, FLAG_RESIDUAL, Kernel, LAYER_RECORD, Layout, STATS_HEADER,
};
use crate::model::{NetConfig, Norm};

/// Invocations per workgroup of the forward and backward kernels (NW in normed.wgsl).
const NORMED_GROUP: u64 = 256;

/// Workgroups per layer of `normed_wgrad`: one invocation per block of 4 × 4 entries of W_l (also the
/// weight-gradient partial slots per layer).
/// The parameter record's fields that place each layer's vectors of a normalized MLP: its first vector
/// (`b_first`, `b_rec + (l−2)·w_step`: b_l under LayerNorm, γ_l under BatchNorm, which has no bias), the
/// norm in `mode` (1 LayerNorm, 2 BatchNorm) and the stride between layers. Tensors per layer: w_l, b_l,
/// γ_l, β_l (LayerNorm) or w_l, γ_l, β_l (BatchNorm); layer 2's start the stride every later one repeats.
pub fn normed_vectors(cfg: &NetConfig, lay: &Layout) -> DispatchParams {
    let w = lay.width as u32;
    let per = if cfg.norm == Norm::Batch { 3 } else { 4 };
    let t_brec = if lay.depth >= 2 { per + 1 } else { 1 };
    DispatchParams {
        mode: match cfg.norm {
            Norm::Batch => 2,
            _ => 1,
        },
        b_first: lay.param(1),
        b_rec: lay.param(t_brec),
        w_step: w * w + (per as u32 - 1) * w,
        ..DispatchParams::none()
    }
}

pub fn normed_wgrad_groups(cfg: &NetConfig) -> usize {
    let fan = cfg.width.max(cfg.d_in());
    (cfg.width.div_ceil(4) * fan.div_ceil(4)).div_ceil(64)
}

/// Batch rows per workgroup of the forward and backward: LayerNorm's rows are independent, so a slice
/// of them; BatchNorm couples the batch: all of it in one. On a GPU (`busy` above
/// [`SOFTWARE_BUSY_WORKGROUPS`]) a LayerNorm slice is a 256-invocation workgroup's worth of units (and at
/// least two slices where the batch allows). On a CPU adapter it is one slice per core of the host (which
/// lavapipe runs a thread on): there every barrier between a layer's phases suspends and resumes each
/// subgroup of the workgroup, so the fewest slices that keep every core busy cost least
/// (`layernorm-tanh` on 2 cores: 16 slices of 4 rows 204-211 ms a step, 8 slices 128-131, 2 slices
/// 101-105). The per-slice scales are combined exactly, so every value is the same at any slicing.
pub fn normed_rows(cfg: &NetConfig, busy: u32) -> u32 {
    let b = cfg.batch.max(1);
    if cfg.norm == Norm::Batch {
        return b as u32;
    }
    if busy <= SOFTWARE_BUSY_WORKGROUPS {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        return b.div_ceil(cores) as u32;
    }
    (NORMED_GROUP as usize / cfg.width.max(1))
        .min(b.div_ceil(2))
        .clamp(1, b) as u32
}

/// Values of the norm statistics region: (mean, 1/σ) per group and layer, and the backward's two group
/// means, with max(B, W) groups.
pub fn norm_stats_len(cfg: &NetConfig) -> usize {
    let g = cfg.batch.max(cfg.width);
    2 * g * cfg.depth + 2 * g
}

/// Upper bounds of the loop iterations one invocation of a normed kernel runs: `(fixed, per layer)`.
pub fn normed_loop_costs(kernel: Kernel, lay: &Layout, rows: u32) -> (u64, u64) {
    let q = |n: usize| n.div_ceil(4) as u64 + 3;
    let (w, b) = (lay.width as u64, lay.batch as u64);
    let rows = u64::from(rows);
    let pairs = (rows * w).div_ceil(NORMED_GROUP);
    // a slice's groups: its rows of w units (LayerNorm) or every unit over the rows (BatchNorm)
    let (groups, size) = (rows.max(w).div_ceil(NORMED_GROUP), rows.max(w));
    let fan = lay.width.max(lay.d_in);
    match kernel {
        Kernel::NormedForward => (
            (rows * lay.d_out as u64).div_ceil(NORMED_GROUP) * (q(lay.width) + 2) + 4,
            pairs * (q(fan) + 4) + groups * (2 * size + 2) + 6,
        ),
        Kernel::NormedBackward => (
            4,
            pairs * (q(lay.width).max(q(lay.d_out)) + 6) + groups * (size + 2) + 8,
        ),
        Kernel::NormedStats => (
            b + (b * w).div_ceil(64) * 4 + w.div_ceil(64) * (b + 2) + 4,
            0,
        ),
        Kernel::NormedWgrad => (b + 30, 0),
        _ => (0, 0),
    }
}

/// Layers per dispatch of a normed kernel within `budget`; `None` if not even one fits.
pub fn normed_chunk_len(kernel: Kernel, lay: &Layout, rows: u32, budget: u64) -> Option<usize> {
    // one invocation carries these passes alone: on any adapter a dispatch is bounded (see
    // HARDWARE_LOOP_BUDGET), so a long sequence or a deep net becomes several dispatches, never one that
    // runs for seconds
    layers_within(
        normed_loop_costs(kernel, lay, rows),
        lay.depth,
        budget.min(super::HARDWARE_LOOP_BUDGET),
    )
}

/// The normed kernel whose loops do not fit `budget` even for one layer, if any (`busy`: as `normed_rows` takes it).
pub fn normed_misfit(cfg: &NetConfig, lay: &Layout, budget: u64, busy: u32) -> Option<Kernel> {
    let rows = normed_rows(cfg, busy);
    [
        Kernel::NormedForward,
        Kernel::NormedBackward,
        Kernel::NormedStats,
        Kernel::NormedWgrad,
    ]
    .into_iter()
    .find(|&k| normed_chunk_len(k, lay, rows, budget).is_none())
}

impl Program<'_> {
    /// Forward, loss, backward, statistics and weight gradients of a normalized MLP.
    pub(super) fn normed(&self) -> Vec<Dispatch> {
        let cfg = self.cfg;
        let lay = self.lay;
        let (b, w, l_n) = (lay.batch as u32, lay.width as u32, lay.depth);
        let head_w = lay.tensor_offsets.len() - 2;
        let per = if cfg.norm == Norm::Batch { 3 } else { 4 };
        let (t_rec, t_brec) = if l_n >= 2 { (per, per + 1) } else { (0, 1) };
        let nv = normed_vectors(cfg, lay);
        let rec = DispatchParams {
            m: b,
            n: w,
            mode: nv.mode,
            rows: normed_rows(cfg, self.busy),
            sscale_off: lay.sscales as u32,
            d_in: lay.d_in as u32,
            d_out: lay.d_out as u32,
            layers: l_n as u32,
            w_in: lay.param(0),
            b_first: nv.b_first,
            w_rec: lay.param(t_rec),
            b_rec: nv.b_rec,
            w_step: nv.w_step,
            w_head: lay.param(head_w),
            b_head: lay.param(head_w + 1),
            gw_in: lay.grad(0),
            gb_first: lay.grad(1),
            gw_rec: lay.grad(t_rec),
            gb_rec: lay.grad(t_brec),
            x_off: lay.x as u32,
            z_off: lay.z as u32,
            c_off: lay.a as u32,
            res_off: lay.cell_aux as u32,
            g_off: lay.g as u32,
            a_off: lay.s as u32,
            top_off: lay.cell_err as u32,
            b_off: lay.dy as u32,
            add_off: lay.yhat as u32,
            part_off: lay.norm_stats as u32,
            ust_off: (lay.stats + STATS_HEADER + LAYER_RECORD * l_n) as u32,
            upart_off: lay.upart as u32,
            ldc: lay.wparts as u32,
            count: lay.partials_per_layer as u32,
            flags: if cfg.residual { FLAG_RESIDUAL } else { 0 },
            ..self.base
        };
        let slices = b.div_ceil(rec.rows);
        let chunked = |kernel: Kernel, top_down: bool| -> Vec<Dispatch> {
            let len = normed_chunk_len(kernel, lay, rec.rows, self.budget).unwrap_or(1);
            chunk_dispatches(kernel, [slices, 1, 1], rec, l_n, len, top_down)
        };
        let mut out = chunked(Kernel::NormedForward, false);
        out.push(Dispatch {
            kernel: Kernel::Loss,
            groups: [1, 1, 1],
            params: DispatchParams {
                k: w,
                flags: FLAG_HEAD,
                top_off: lay.at(lay.a, l_n),
                gw_head: lay.grad(head_w),
                gb_head: lay.grad(head_w + 1),
                ..self.loss_params()
            },
        });
        out.extend(chunked(Kernel::NormedBackward, true));
        out.push(Dispatch {
            kernel: Kernel::NormedStats,
            groups: [l_n as u32, 1, 1],
            params: rec,
        });
        out.push(Dispatch {
            kernel: Kernel::NormedWgrad,
            groups: [normed_wgrad_groups(cfg) as u32, l_n as u32, 1],
            params: rec,
        });
        out
    }
}
