//! The training program: the dispatches (kernel, parameter record, workgroup counts) that make up one
//! training step over the memory map of [`Layout`], one function per phase: forward, head and loss,
//! backward, statistics, update. Pure arithmetic: no GPU calls, so it is unit-tested.

use super::layout::{
    COLREDUCE_UNITS, Dispatch, DispatchParams, FLAG_ACCUMULATE, FLAG_CLIP, FLAG_STATS, Kernel,
    Layout, MATMUL_TILES, MAX_GROUPS, NONE, STATS_HEADER, SUMSQ_GROUPS, WORKGROUP_SIZE,
};
use crate::model::{Activation, Arch, NetConfig, Optimizer};

/// Workgroups a GPU wants busy before bigger tiles pay off (about the multiprocessors of a large GPU).
pub const BUSY_WORKGROUPS: u32 = 128;

/// The matmul pipeline for an `m x n` output: the largest tile that still gives the GPU at least `busy`
/// workgroups (`busy = 0`: always the largest; `u32::MAX`: always the smallest).
fn matmul_dispatch(p: DispatchParams, busy: u32, min_tile: u32) -> Dispatch {
    let tile = MATMUL_TILES
        .iter()
        .rev()
        .copied()
        .filter(|t| *t >= min_tile)
        .find(|t| p.m.div_ceil(*t) * p.n.div_ceil(*t) >= busy)
        .unwrap_or(min_tile.clamp(MATMUL_TILES[0], MATMUL_TILES[2]));
    let kernel = match tile {
        16 => Kernel::Matmul16,
        32 => Kernel::Matmul32,
        _ => Kernel::Matmul64,
    };
    Dispatch {
        kernel,
        groups: [p.n.div_ceil(tile), p.m.div_ceil(tile), 1],
        params: p,
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

/// Builds the dispatch list of one step: forward, loss, backward, statistics and (with `update`) the
/// optimizer step.
pub fn step_dispatches(cfg: &NetConfig, lay: &Layout, update: bool) -> Vec<Dispatch> {
    step_dispatches_with(cfg, lay, update, BUSY_WORKGROUPS, MATMUL_TILES[0])
}

/// [`step_dispatches`] with the matmul tile policy: the largest tile of at least `min_tile` that still
/// gives `busy` workgroups.
pub fn step_dispatches_with(
    cfg: &NetConfig,
    lay: &Layout,
    update: bool,
    busy: u32,
    min_tile: u32,
) -> Vec<Dispatch> {
    let program = Program {
        cfg,
        lay,
        busy,
        min_tile,
        base: DispatchParams {
            aux_off: lay.scales as u32,
            act: cfg.activation.shader_id(),
            k_base: lay.slope_slots() as u32,
            ..DispatchParams::none()
        },
    };
    let mut out = program.forward();
    out.extend(program.head_and_loss());
    out.extend(program.backward());
    out.extend(program.statistics(update));
    if update {
        out.extend(program.update());
    }
    out
}

/// One network's step, phase by phase.
struct Program<'a> {
    cfg: &'a NetConfig,
    lay: &'a Layout,
    busy: u32,
    min_tile: u32,
    /// The fields every record shares (scales, slope slots, activation); the rest are NONE.
    base: DispatchParams,
}

impl Program<'_> {
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
        let cfg = self.cfg;
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
                params: DispatchParams {
                    m: b,
                    n: d_out,
                    a_off: lay.yhat as u32,
                    b_off: lay.y as u32,
                    c_off: lay.dy as u32,
                    count: (l_n + 2) as u32,
                    aux2_off: lay.stats as u32,
                    loss_kind: cfg.loss().shader_id(),
                    ..base
                },
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
                upart_off: (lay.upart + (l - 1) * lay.width * 4) as u32,
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
        // ---- statistics per layer (and the step counter)
        out.push(Dispatch {
            kernel: Kernel::LayerStats,
            groups: [l_n as u32, 1, 1],
            params: DispatchParams {
                m: lay.partials_per_layer as u32,
                n: w,
                part_off: lay.wparts as u32,
                upart_off: lay.upart as u32,
                c_off: (lay.stats + STATS_HEADER) as u32,
                step_off: if update { (lay.stats + 1) as u32 } else { NONE },
                ..base
            },
        });
        // ---- global gradient norm (before clipping): for the clip and for the statistics block
        out.push(Dispatch {
            kernel: Kernel::SumsqPartial,
            groups: [SUMSQ_GROUPS, 1, 1],
            params: DispatchParams {
                a_off: lay.grads as u32,
                count: lay.n_params as u32,
                part_off: lay.gparts as u32,
                ..base
            },
        });
        out.push(Dispatch {
            kernel: Kernel::SumsqFinal,
            groups: [1, 1, 1],
            params: DispatchParams {
                part_off: lay.gparts as u32,
                c_off: lay.gnorm as u32,
                aux2_off: (lay.stats + 2) as u32,
                ..base
            },
        });
        out
    }

    /// The optimizer step over every parameter.
    fn update(&self) -> Vec<Dispatch> {
        let cfg = self.cfg;
        let lay = self.lay;
        let base = self.base;
        let mut out = Vec::new();
        let flags = if cfg.clip.is_some() { FLAG_CLIP } else { 0 };
        out.push(Dispatch {
            kernel: Kernel::Update,
            groups: linear_groups(lay.n_params),
            params: DispatchParams {
                a_off: lay.params as u32,
                b_off: lay.grads as u32,
                c_off: lay.opt1 as u32,
                add_off: lay.opt2 as u32,
                count: lay.n_params as u32,
                flags,
                lr: cfg.lr as f32,
                clip: cfg.clip.unwrap_or(0.0) as f32,
                optimizer: match cfg.optimizer {
                    Optimizer::Sgd => 0,
                    Optimizer::Momentum => 1,
                    Optimizer::Adam => 2,
                },
                step_off: (lay.stats + 1) as u32,
                aux2_off: lay.gnorm as u32,
                ..base
            },
        });
        out
    }
}
