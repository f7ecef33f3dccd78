//! The step of a gated recurrent cell (LSTM, GRU): shaders/gated.wgsl's persistent forward and backward
//! (in chunks of steps where the loop budget asks for it), the loss with the head's gradients, the per-step
//! statistics, the weight gradients summed over time, then the shared statistics, norm and update.

use super::{Program, StackPath, chunk_dispatches, gated_rows_fit, layers_within, summed_chunks};
use crate::gpu::layout::{
    Dispatch, DispatchParams, FLAG_HEAD, FLAG_WIDE, Kernel, LAYER_RECORD, Layout, STATS_HEADER,
};
use crate::model::{Cell, NetConfig};

/// Invocations per workgroup of the forward, backward and statistics kernels (GW in gated.wgsl): small,
/// so that small batches still spread over several workgroups (a CPU adapter's cores).
const GATED_GROUP: u32 = 64;
/// Invocations per workgroup of `gated_wgrad`.
pub const GATED_WGRAD_GROUP: usize = 64;
/// Values per step in the gate record of the statistics block.
pub const GATE_RECORD: usize = 8;

/// Batch rows per workgroup of the gated kernels: a workgroup of 64 invocations holds `rows × H`
/// (row, unit) pairs, at least one row.
pub fn gated_rows(width: usize, batch: usize) -> u32 {
    (GATED_GROUP as usize / width.max(1)).clamp(1, batch.max(1)) as u32
}

/// Workgroups of `gated_wgrad`: one invocation per block of 4 × 4 entries of `[W_h | W_x | b]`, the
/// columns of W_h and of `W_x | b` blocked apart (also the weight-gradient partial slots per step).
pub fn gated_wgrad_groups(cfg: &NetConfig) -> usize {
    let (g, w, d_in) = (cfg.cell.gates(), cfg.width, cfg.d_in());
    let blocks = (g * w).div_ceil(4) * (w.div_ceil(4) + (d_in + 1).div_ceil(4));
    blocks.div_ceil(GATED_WGRAD_GROUP)
}

/// Workgroups of `gated_wgrad_rows` (8 invocations, each 4 rows × 16 columns of `[W_h | W_x | b]`): the
/// row blocks of 32, and the column groups of 16 of W_h and then of `W_x | b`. The first `x × (W_h's
/// groups)` write a weight-gradient partial per step.
pub fn gated_wgrad_rows_groups(lay: &Layout) -> [u32; 3] {
    let (g, w, d_in) = (lay.gates, lay.width, lay.d_in);
    [
        (g * w).div_ceil(32) as u32,
        (w.div_ceil(16) + (d_in + 1).div_ceil(16)) as u32,
        1,
    ]
}

/// Whether a recurrent cell's weight gradients run `gated_wgrad_rows`: with the per-row forward and
/// backward (`rows`), where the layout has a partial-sum slot per step for each of its W_h workgroups.
/// A vanilla RNN is a cell of one gate: on the per-row path (H a multiple of 4) it takes the same kernel.
pub fn gated_wgrad_rows_fit(lay: &Layout, rows: bool) -> bool {
    let [x, _, _] = gated_wgrad_rows_groups(lay);
    rows && (x as usize) * lay.width.div_ceil(16) <= lay.partials_per_layer
}

/// Upper bounds of the loop iterations one invocation of a gated kernel runs: `(fixed, per step)`.
pub fn gated_loop_costs(kernel: Kernel, lay: &Layout, rows: u32) -> (u64, u64) {
    let q = |n: usize| n.div_ceil(4) as u64 + 3;
    let (w, g, b) = (lay.width, lay.gates, lay.batch as u64);
    let per_thread = (u64::from(rows) * w as u64).div_ceil(u64::from(GATED_GROUP));
    let row_loops = u64::from(rows).div_ceil(u64::from(GATED_GROUP));
    match kernel {
        Kernel::GatedForward => (
            (u64::from(rows) * lay.d_out as u64).div_ceil(u64::from(GATED_GROUP)) * (2 + q(w)) + 4,
            2 + per_thread * (g as u64 * (2 + q(lay.d_in)) + q(w) + 8),
        ),
        Kernel::GatedBackward => {
            let quads = (u64::from(rows) * w.div_ceil(4) as u64).div_ceil(u64::from(GATED_GROUP));
            (
                2 * row_loops + 4,
                4 + row_loops + quads * ((g * w).max(lay.d_out) as u64 + 12) + per_thread * 10,
            )
        }
        // gated_rows.wgsl, per step: each block of four units (of every gate) loads the bias and the
        // input's d_in columns (four-iteration loops each) and runs the recurrent sum: H / 4 iterations
        // for each of four slots without lanes sharing the weights, one outer iteration per 32 of H (and
        // 8 inner) with; the backward's first pass takes sixteen units a block against the G·H errors
        // above (the head's d_out at the top), its second four. The bound takes both builds.
        Kernel::GatedRowsForward => {
            let h = w as u64;
            (
                (lay.d_out as u64) * (h / 4 + 4) + 8,
                4 + h.div_ceil(4) * (8 + 5 * lay.d_in as u64 + h + 9 * h.div_ceil(32)),
            )
        }
        Kernel::GatedRowsBackward => {
            let (h, gh) = (w as u64, (g * w) as u64);
            (
                8 + h.div_ceil(16) * 4 * lay.d_out as u64,
                4 + h.div_ceil(16) * (6 + gh + 9 * gh.div_ceil(32)) + h.div_ceil(4),
            )
        }
        // per step: the batch loop, the 4 x 4 sums of squares, the reduction's six levels
        Kernel::GatedWgrad => (24, b + 30),
        // per step: the batch loop, the scaling and the block's two passes, the eight partial sums
        Kernel::GatedWgradRows => (40, b + 60),
        // one invocation of eight per unit, each over the batch with its rescale
        Kernel::GatedStatsRows => (b + (w as u64).div_ceil(8) * b * (2 * g as u64 + 4) + 40, 0),
        Kernel::GatedStats => (
            b + (b * w as u64).div_ceil(64) * (g as u64 + 1)
                + (w as u64).div_ceil(64) * b * (g as u64 + 2)
                + 60,
            0,
        ),
        _ => (0, 0),
    }
}

/// Steps per dispatch of a gated kernel within `budget`; `None` if not even one fits.
pub fn gated_chunk_len(kernel: Kernel, lay: &Layout, rows: u32, budget: u64) -> Option<usize> {
    // one invocation carries these passes alone: on any adapter a dispatch is bounded (see
    // HARDWARE_LOOP_BUDGET), so a long sequence or a deep net becomes several dispatches, never one that
    // runs for seconds
    layers_within(
        gated_loop_costs(kernel, lay, rows),
        lay.depth,
        budget.min(super::HARDWARE_LOOP_BUDGET),
    )
}

/// The forward, backward, weight-gradient and statistics kernels of a gated cell: the per-row ones where
/// `rows` ([`gated_rows_fit`]; the weight gradients also where the layout has their partial-sum slots,
/// [`gated_wgrad_rows_fit`]), else the workgroup ones.
pub fn gated_kernels(lay: &Layout, rows: bool) -> [Kernel; 4] {
    let wgrad = if gated_wgrad_rows_fit(lay, rows) {
        Kernel::GatedWgradRows
    } else {
        Kernel::GatedWgrad
    };
    if rows {
        [
            Kernel::GatedRowsForward,
            Kernel::GatedRowsBackward,
            wgrad,
            Kernel::GatedStatsRows,
        ]
    } else {
        [
            Kernel::GatedForward,
            Kernel::GatedBackward,
            wgrad,
            Kernel::GatedStats,
        ]
    }
}

/// The gated kernel (on `path`) whose loops do not fit `budget` even for one step, if any.
pub fn gated_misfit(cfg: &NetConfig, lay: &Layout, path: StackPath, budget: u64) -> Option<Kernel> {
    let rows = gated_rows(cfg.width, cfg.batch);
    gated_kernels(lay, gated_rows_fit(cfg, path))
        .into_iter()
        .find(|&k| gated_chunk_len(k, lay, rows, budget).is_none())
}

impl Program<'_> {
    /// Forward, loss, backward, statistics and weight gradients of a gated cell.
    pub(super) fn gated(&self) -> Vec<Dispatch> {
        let cfg = self.cfg;
        let lay = self.lay;
        let (b, w, t_n) = (lay.batch as u32, lay.width as u32, lay.depth);
        let rows = gated_rows(lay.width, lay.batch);
        let head_w = lay.tensor_offsets.len() - 2;
        let stats_units = lay.stats + STATS_HEADER + LAYER_RECORD * t_n;
        let gate_records = stats_units + t_n * lay.width;
        let rec = DispatchParams {
            m: b,
            n: w,
            k: lay.gates as u32,
            mode: match cfg.cell {
                Cell::Lstm => 1,
                _ => 2,
            },
            d_in: lay.d_in as u32,
            d_out: lay.d_out as u32,
            layers: t_n as u32,
            rows,
            w_in: lay.param(0),
            w_rec: lay.param(1),
            b_first: lay.param(2),
            w_head: lay.param(head_w),
            b_head: lay.param(head_w + 1),
            gw_in: lay.grad(0),
            gw_rec: lay.grad(1),
            gb_first: lay.grad(2),
            x_off: lay.x as u32,
            x_step: b * lay.d_in as u32,
            z_off: lay.z as u32,
            c_off: lay.a as u32,
            res_off: lay.cell_aux as u32,
            g_off: lay.g as u32,
            a_off: lay.s as u32,
            top_off: lay.cell_err as u32,
            b_off: lay.dy as u32,
            add_off: lay.yhat as u32,
            sscale_off: lay.sscales as u32,
            ust_off: stats_units as u32,
            upart_off: lay.upart as u32,
            aux2_off: gate_records as u32,
            split_off: (gate_records + GATE_RECORD * t_n) as u32,
            part_off: lay.wparts as u32,
            count: lay.partials_per_layer as u32,
            // H a multiple of 4: every row of W_h, h, ĝ and the blocks' errors starts on a vec4
            flags: if super::vec4_rows(lay).0 {
                FLAG_WIDE
            } else {
                0
            },
            ..self.base
        };
        let slices = b.div_ceil(rows);
        // the per-row kernels: one invocation per batch row, 8-invocation workgroups
        let row_groups = b.div_ceil(crate::gpu::shaders::SUBGROUP_LANES);
        let chunked = |kernel: Kernel, groups: [u32; 3], top_down: bool| -> Vec<Dispatch> {
            let len = gated_chunk_len(kernel, lay, rows, self.budget).unwrap_or(1);
            // the weight gradients' later chunks add to the first
            if matches!(kernel, Kernel::GatedWgrad | Kernel::GatedWgradRows) {
                summed_chunks(kernel, groups, rec, t_n, len)
            } else {
                chunk_dispatches(kernel, groups, rec, t_n, len, top_down)
            }
        };
        let [fwd, bwd, wgrad, stats] = gated_kernels(lay, self.gated_rows);
        let groups = if self.gated_rows {
            [row_groups, 1, 1]
        } else {
            [slices, 1, 1]
        };
        let mut out = chunked(fwd, groups, false);
        out.push(Dispatch {
            kernel: Kernel::Loss,
            groups: [1, 1, 1],
            params: DispatchParams {
                k: w,
                flags: FLAG_HEAD,
                top_off: lay.at(lay.a, t_n),
                gw_head: lay.grad(head_w),
                gb_head: lay.grad(head_w + 1),
                ..self.loss_params()
            },
        });
        out.extend(chunked(bwd, groups, true));
        out.push(Dispatch {
            kernel: stats,
            groups: [t_n as u32, 1, 1],
            params: rec,
        });
        let wgrad_groups = if wgrad == Kernel::GatedWgradRows {
            gated_wgrad_rows_groups(lay)
        } else {
            [gated_wgrad_groups(cfg) as u32, 1, 1]
        };
        out.extend(chunked(wgrad, wgrad_groups, false));
        out
    }
}
