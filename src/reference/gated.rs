//! The gated recurrent cells (LSTM, GRU) in f64: forward over the unrolled steps and backpropagation
//! through time in the scaled domain, with the per-step statistics of the gates and of the cell path.
//! Equations and gate order: docs/DESIGN.md §Equations.

use super::{
    Pass, Reference, add_bias, add_scaled, col_sums, log2_mean_abs, loss_and_grad, matmul_nn,
    matmul_nt, matmul_tn, max_abs,
};
use crate::model::{Activation, Cell, ldexp};
use crate::stats::{RawGates, RawLayer, frexp_exponent};

/// One time step of the forward pass, kept for the backward.
struct StepState {
    /// Pre-activations of every block, `B x G·H` (GRU candidate: `x W_xnᵀ + b_n + r ⊙ (h W_hnᵀ)`).
    pre: Vec<f64>,
    /// Block values: sigmoid of the gates, the activation of the candidate, `B x G·H`.
    val: Vec<f64>,
    /// LSTM: the cell state c_t; GRU: `h_{t-1} W_hnᵀ` (what the reset gate multiplies), `B x H`.
    aux: Vec<f64>,
}

impl Reference {
    /// Forward and backward of an LSTM or GRU (`cfg.cell`).
    pub(super) fn pass_gated(&self) -> Pass {
        let cfg = &self.cfg;
        let cell = cfg.cell;
        let (b, h_n, t_n) = (cfg.batch, cfg.width, cfg.depth);
        let g_n = cell.gates();
        let gh = g_n * h_n;
        let act = cfg.activation;
        let sig = Activation::Sigmoid;
        let cand = cell.candidate();
        let (d_in, d_out) = (self.data.d_in, self.data.d_out);
        let (w_x, w_h, bias, w_out, b_out) = (
            &self.params[0],
            &self.params[1],
            &self.params[2],
            &self.params[3],
            &self.params[4],
        );
        let block = |u: usize, gate: usize| gate * h_n + u;

        // ---- forward: h[0] = c[0] = 0
        let mut h: Vec<Vec<f64>> = vec![vec![0.0; b * h_n]];
        let mut c_prev = vec![0.0; b * h_n];
        let mut steps: Vec<StepState> = Vec::with_capacity(t_n);
        for t in 1..=t_n {
            let mut px = matmul_nt(&self.step_input(t), w_x, b, d_in, gh);
            add_bias(&mut px, bias);
            let ph = matmul_nt(&h[t - 1], w_h, b, h_n, gh);
            let mut pre = vec![0.0; b * gh];
            let mut val = vec![0.0; b * gh];
            let mut aux = vec![0.0; b * h_n];
            let mut ht = vec![0.0; b * h_n];
            for bi in 0..b {
                let row = bi * gh;
                for u in 0..h_n {
                    let i = bi * h_n + u;
                    match cell {
                        Cell::Lstm => {
                            for gate in 0..4 {
                                let k = row + block(u, gate);
                                pre[k] = px[k] + ph[k];
                                val[k] = if gate == cand {
                                    act.f(pre[k])
                                } else {
                                    sig.f(pre[k])
                                };
                            }
                            let (ig, fg, gg, og) = (
                                val[row + block(u, 0)],
                                val[row + block(u, 1)],
                                val[row + block(u, 2)],
                                val[row + block(u, 3)],
                            );
                            aux[i] = fg * c_prev[i] + ig * gg;
                            ht[i] = og * act.f(aux[i]);
                        }
                        Cell::Gru => {
                            for gate in 0..2 {
                                let k = row + block(u, gate);
                                pre[k] = px[k] + ph[k];
                                val[k] = sig.f(pre[k]);
                            }
                            let r = val[row + block(u, 0)];
                            let z = val[row + block(u, 1)];
                            let kn = row + block(u, 2);
                            aux[i] = ph[kn];
                            pre[kn] = px[kn] + r * ph[kn];
                            val[kn] = act.f(pre[kn]);
                            ht[i] = (1.0 - z) * val[kn] + z * h[t - 1][i];
                        }
                        Cell::Vanilla => unreachable!("the vanilla cell has its own pass"),
                    }
                }
            }
            if cell == Cell::Lstm {
                c_prev = aux.clone();
            }
            steps.push(StepState { pre, val, aux });
            h.push(ht);
        }
        let mut out = matmul_nt(&h[t_n], w_out, b, h_n, d_out);
        add_bias(&mut out, b_out);
        let (loss, dy) = loss_and_grad(&out, &self.data.y, b, d_out, self.data.loss);

        // ---- backward through time in the scaled domain: the true ∂L/∂h_t, ∂L/∂c_t and the blocks'
        // errors are 2^sigma times ĝ, ĉ, â (one power-of-two scale per step, carried as an integer)
        let mut grads: Vec<Vec<f64>> = self.params.iter().map(|p| vec![0.0; p.len()]).collect();
        grads[3] = matmul_tn(&dy, &h[t_n], b, d_out, h_n);
        grads[4] = col_sums(&dy, b, d_out);
        let mut g = matmul_nn(&dy, w_out, b, d_out, h_n);
        let mut c_in = vec![0.0; b * h_n];
        let mut sigma = 0i64;
        let mut raw = vec![RawLayer::default(); t_n];
        let mut deltas = vec![Vec::new(); t_n];
        let mut cell_deltas = vec![Vec::new(); if cell == Cell::Lstm { t_n } else { 0 }];
        for t in (1..=t_n).rev() {
            let st = &steps[t - 1];
            // errors of the blocks' pre-activations: ax (what W_x and b see) and ah (what W_h sees)
            let mut ax = vec![0.0; b * gh];
            let mut ah = vec![0.0; b * gh];
            let mut c_tot = vec![0.0; b * h_n];
            // what the step hands down besides W_hᵀ â: GRU ĝ ⊙ z to ∂L/∂h_{t-1}, LSTM ĉ ⊙ f to ∂L/∂c_{t-1}
            let mut carry_h = vec![0.0; b * h_n];
            let mut carry_c = vec![0.0; b * h_n];
            for bi in 0..b {
                let row = bi * gh;
                for u in 0..h_n {
                    let i = bi * h_n + u;
                    let gi = g[i];
                    let k = |gate: usize| row + block(u, gate);
                    match cell {
                        Cell::Lstm => {
                            let (ig, fg, gg, og) =
                                (st.val[k(0)], st.val[k(1)], st.val[k(2)], st.val[k(3)]);
                            let c = st.aux[i];
                            let c_before = if t >= 2 { steps[t - 2].aux[i] } else { 0.0 };
                            let dc = c_in[i] + gi * og * act.df(c);
                            c_tot[i] = dc;
                            ax[k(0)] = dc * gg * sig.df(st.pre[k(0)]);
                            ax[k(1)] = dc * c_before * sig.df(st.pre[k(1)]);
                            ax[k(2)] = dc * ig * act.df(st.pre[k(2)]);
                            ax[k(3)] = gi * act.f(c) * sig.df(st.pre[k(3)]);
                            for gate in 0..4 {
                                ah[k(gate)] = ax[k(gate)];
                            }
                            carry_c[i] = dc * fg;
                        }
                        Cell::Gru => {
                            let (r, z, n) = (st.val[k(0)], st.val[k(1)], st.val[k(2)]);
                            let an = gi * (1.0 - z) * act.df(st.pre[k(2)]);
                            ax[k(2)] = an;
                            ah[k(2)] = an * r;
                            ax[k(0)] = an * st.aux[i] * sig.df(st.pre[k(0)]);
                            ax[k(1)] = gi * (h[t - 1][i] - n) * sig.df(st.pre[k(1)]);
                            ah[k(0)] = ax[k(0)];
                            ah[k(1)] = ax[k(1)];
                            carry_h[i] = gi * z;
                        }
                        Cell::Vanilla => unreachable!(),
                    }
                }
            }
            let dwh_scaled = matmul_tn(&ah, &h[t - 1], b, gh, h_n);
            let dwx_scaled = matmul_tn(&ax, &self.step_input(t), b, gh, d_in);
            add_scaled(&mut grads[1], &dwh_scaled, sigma);
            add_scaled(&mut grads[0], &dwx_scaled, sigma);
            add_scaled(&mut grads[2], &col_sums(&ax, b, gh), sigma);

            // statistics of step t
            let mut saturated = vec![0.0; g_n];
            let mut keep_sum = 0.0;
            let mut live = vec![false; h_n];
            for bi in 0..b {
                for (u, unit_live) in live.iter_mut().enumerate() {
                    for (gate, count) in saturated.iter_mut().enumerate() {
                        let a = st.pre[bi * gh + block(u, gate)];
                        let f = if gate == cand { act } else { sig };
                        *count += f64::from(u8::from(f.is_saturated(a)));
                    }
                    *unit_live |= !act.is_exact_zero_slope(st.pre[bi * gh + block(u, cand)]);
                    if let Some(keep) = cell.keep_gate() {
                        keep_sum += st.val[bi * gh + block(u, keep)];
                    }
                }
            }
            let lstm = cell == Cell::Lstm;
            raw[t - 1] = RawLayer {
                log2_scale: sigma as f64,
                ledger: None,
                grad_w_sumsq_scaled: dwh_scaled.iter().map(|v| v * v).sum(),
                delta_sumsq_scaled: g.iter().map(|v| v * v).sum(),
                log2_mean_abs_delta_scaled: log2_mean_abs(&g, b, h_n),
                act_sumsq: h[t].iter().map(|v| v * v).sum(),
                saturated_count: saturated.iter().sum(),
                dead_units: live.iter().filter(|l| !**l).count() as f64,
                gates: Some(RawGates {
                    keep_sum,
                    saturated,
                    cell_sumsq_scaled: if lstm {
                        c_tot.iter().map(|v| v * v).sum()
                    } else {
                        0.0
                    },
                    log2_mean_abs_cell_scaled: if lstm {
                        log2_mean_abs(&c_tot, b, h_n)
                    } else {
                        Vec::new()
                    },
                }),
            };
            deltas[t - 1] = g.iter().map(|v| ldexp(*v, sigma)).collect();
            if lstm {
                cell_deltas[t - 1] = c_tot.iter().map(|v| ldexp(*v, sigma)).collect();
            }
            if t >= 2 {
                let mut next = matmul_nn(&ah, w_h, b, gh, h_n);
                next.iter_mut().zip(&carry_h).for_each(|(x, c)| *x += c);
                // one power of two for both paths, from their largest magnitude
                let e = frexp_exponent(max_abs(&next).max(max_abs(&carry_c)));
                let inv = 2f64.powi(-e);
                g = next.iter().map(|v| v * inv).collect();
                c_in = carry_c.iter().map(|v| v * inv).collect();
                sigma += i64::from(e);
            }
        }
        Pass {
            loss,
            grads,
            deltas,
            cell_deltas,
            norm_deltas: Vec::new(),
            act_out: Vec::new(),
            raw,
            output: out,
        }
    }
}
