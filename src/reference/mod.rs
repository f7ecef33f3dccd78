//! The CPU f64 reference: forward, loss, backward (MLP with and without residual, RNN by backpropagation
//! through time), update (sgd, momentum, adam, global-norm clipping) and the statistics record. It is the
//! oracle every other number is checked against; it favours clarity over speed.

mod gated;
pub mod jacobian;
mod linalg;

use crate::model::{
    ADAM_BETA1, ADAM_BETA2, ADAM_EPS, Activation, Arch, ConfigError, Dataset, LossKind, MOMENTUM,
    NORM_EPS, NetConfig, Norm, Optimizer, Params, Slope, ldexp,
};
use crate::stats::{RawLayer, RawLedger, StepStats, frexp_exponent};
pub use linalg::{matmul_nn, matmul_nt, matmul_tn};

/// The label the reference puts in [`StepStats::adapter`].
pub const REFERENCE_ADAPTER: &str = "cpu reference (f64)";

/// Largest number of activation entries (depth × width × batch) the reference accepts; beyond this it would
/// take minutes per step and gigabytes of memory.
pub const MAX_REFERENCE_ENTRIES: usize = 1 << 27;

/// Everything one forward and backward pass computed.
#[derive(Clone, Debug)]
pub struct Pass {
    /// The loss.
    pub loss: f64,
    /// Gradients in the order of [`Params::tensors`].
    pub grads: Vec<Vec<f64>>,
    /// True δ_l = ∂L/∂z_l per layer (per time step; for a gated cell ∂L/∂h_t), each `B x width`; may
    /// underflow f64 to 0 where the statistics do not.
    pub deltas: Vec<Vec<f64>>,
    /// LSTM only: the true ∂L/∂c_t per time step, each `B x width` (empty otherwise).
    pub cell_deltas: Vec<Vec<f64>>,
    /// Normalized MLP only: the true ∂L/∂u_l per layer (u = γ ⊙ ẑ + β, what the activation sees), each
    /// `B x width` (empty otherwise).
    pub norm_deltas: Vec<Vec<f64>>,
    /// Raw statistics per layer (per time step), input to output.
    pub raw: Vec<RawLayer>,
    /// The activation's output f(z_l) per layer (time step; before a residual add; f(u_l) with a norm),
    /// each `B x width`: MLPs and vanilla RNNs (empty for gated cells).
    pub act_out: Vec<Vec<f64>>,
    /// The network output `B x d_out`.
    pub output: Vec<f64>,
}

/// The CPU reference engine: parameters in f64, optimizer state, and the fixed dataset.
#[derive(Clone, Debug)]
pub struct Reference {
    cfg: NetConfig,
    data: Dataset,
    params: Vec<Vec<f64>>,
    template: Params,
    opt_m: Vec<Vec<f64>>,
    opt_v: Vec<Vec<f64>>,
    updates: u64,
}

/// Error building the reference engine.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Too big for the CPU reference.
    #[error(
        "depth × width × batch = {0} is too large for the CPU reference (at most {MAX_REFERENCE_ENTRIES}); use --engine gpu or a smaller net"
    )]
    TooLarge(usize),
}

impl Reference {
    /// Builds the engine from a config: data and initial weights from the seed.
    pub fn new(cfg: &NetConfig) -> Result<Reference, ReferenceError> {
        cfg.validate()?;
        let entries = cfg.depth * cfg.width * cfg.batch;
        if entries > MAX_REFERENCE_ENTRIES {
            return Err(ReferenceError::TooLarge(entries));
        }
        Ok(Reference::from_parts(
            cfg.clone(),
            Dataset::generate(cfg),
            &Params::init(cfg),
        ))
    }

    /// Builds the engine from explicit data and parameters (e.g. reloaded from a dump).
    pub fn from_parts(cfg: NetConfig, data: Dataset, params: &Params) -> Reference {
        let p: Vec<Vec<f64>> = params
            .tensors
            .iter()
            .map(|t| t.data.iter().map(|&v| f64::from(v)).collect())
            .collect();
        let zeros: Vec<Vec<f64>> = p.iter().map(|t| vec![0.0; t.len()]).collect();
        Reference {
            cfg,
            data,
            params: p,
            template: params.clone(),
            opt_m: zeros.clone(),
            opt_v: zeros,
            updates: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &NetConfig {
        &self.cfg
    }

    /// The dataset.
    pub fn data(&self) -> &Dataset {
        &self.data
    }

    /// Updates applied so far.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// Current parameters in f64, in the order of [`Params::tensors`].
    pub fn params(&self) -> &[Vec<f64>] {
        &self.params
    }

    /// Mutable parameters (tests perturb them for finite differences).
    pub fn params_mut(&mut self) -> &mut [Vec<f64>] {
        &mut self.params
    }

    /// Current parameters rounded to f32, with names and shapes.
    pub fn params_f32(&self) -> Params {
        let flat: Vec<f32> = self.params.iter().flatten().map(|&v| v as f32).collect();
        self.template.with_flat(&flat)
    }

    /// Changes the activation, keeping weights, data and optimizer state.
    pub fn set_activation(&mut self, act: Activation) {
        self.cfg.activation = act;
    }

    /// An RNN's inputs at time step t (1-based), `B x d_in`, in f64.
    fn step_input(&self, t: usize) -> Vec<f64> {
        let n = self.cfg.batch * self.data.d_in;
        self.data.x[(t - 1) * n..t * n]
            .iter()
            .map(|&v| f64::from(v))
            .collect()
    }

    /// Forward and backward at the current parameters.
    pub fn pass(&self) -> Pass {
        match self.cfg.arch {
            Arch::Mlp => self.pass_mlp(),
            Arch::Rnn if self.cfg.cell.is_gated() => self.pass_gated(),
            Arch::Rnn => self.pass_rnn(),
        }
    }

    /// The loss only, at the current parameters.
    pub fn loss(&self) -> f64 {
        self.pass().loss
    }

    /// Statistics of the gradient at the current parameters.
    pub fn stats(&self) -> StepStats {
        let pass = self.pass();
        self.stats_of(&pass)
    }

    /// The statistics record of a pass computed at the current parameters.
    pub fn stats_of(&self, pass: &Pass) -> StepStats {
        StepStats::from_raw(
            self.updates,
            pass.loss,
            "cpu",
            REFERENCE_ADAPTER,
            &pass.raw,
            self.cfg.batch,
            self.cfg.width,
        )
        .with_grad_norm(global_norm(&pass.grads), self.cfg.clip)
        .with_update_norms(self.update_norms(&pass.grads))
    }

    /// Per layer (time step), the histograms of f(z) and log10 |δ| of a pass at the current parameters:
    /// MLPs and vanilla RNNs (`None` for gated cells).
    pub fn histograms(&self, pass: &Pass) -> Option<Vec<crate::stats::LayerHistogram>> {
        (!pass.act_out.is_empty()).then(|| {
            pass.act_out
                .iter()
                .zip(&pass.deltas)
                .map(|(fz, d)| crate::stats::LayerHistogram::of(self.cfg.activation, fz, d))
                .collect()
        })
    }

    /// One training step: computes the gradient, applies the update, returns the pass (computed before the
    /// update).
    pub fn step(&mut self) -> Pass {
        let pass = self.pass();
        self.apply_update(&pass.grads);
        pass
    }

    /// Applies one optimizer update with the given gradients (clipped first if the config clips).
    pub fn apply_update(&mut self, grads: &[Vec<f64>]) {
        let step = self.update_of(grads);
        for (p, d) in self.params.iter_mut().zip(&step.delta) {
            p.iter_mut().zip(d).for_each(|(p, d)| *p += d);
        }
        self.opt_m = step.m;
        self.opt_v = step.v;
        self.updates += 1;
    }

    /// The update the optimizer makes with `grads` (clipped first if the config clips) at the current
    /// parameters and optimizer state, without applying it.
    fn update_of(&self, grads: &[Vec<f64>]) -> OptimizerStep {
        let mut g: Vec<Vec<f64>> = grads.to_vec();
        if let Some(clip) = self.cfg.clip {
            clip_global_norm(&mut g, clip);
        }
        let lr = self.cfg.lr;
        let t = (self.updates + 1) as i32;
        let mut step = OptimizerStep {
            delta: g.iter().map(|t| vec![0.0; t.len()]).collect(),
            m: self.opt_m.clone(),
            v: self.opt_v.clone(),
        };
        for (i, gt) in g.iter().enumerate() {
            for (j, &gj) in gt.iter().enumerate() {
                step.delta[i][j] = match self.cfg.optimizer {
                    Optimizer::Sgd => -(lr * gj),
                    Optimizer::Momentum => {
                        let v = &mut step.m[i][j];
                        *v = MOMENTUM * *v + gj;
                        -(lr * *v)
                    }
                    Optimizer::Adam => {
                        let m = &mut step.m[i][j];
                        *m = ADAM_BETA1 * *m + (1.0 - ADAM_BETA1) * gj;
                        let v = &mut step.v[i][j];
                        *v = ADAM_BETA2 * *v + (1.0 - ADAM_BETA2) * gj * gj;
                        let mh = step.m[i][j] / (1.0 - ADAM_BETA1.powi(t));
                        let vh = step.v[i][j] / (1.0 - ADAM_BETA2.powi(t));
                        -(lr * mh / (vh.sqrt() + ADAM_EPS))
                    }
                };
            }
        }
        step
    }

    /// Per weight matrix (name, log2 ‖ΔW‖², log2 ‖W‖²) of the update `grads` make.
    fn update_norms(&self, grads: &[Vec<f64>]) -> Vec<(String, f64, f64)> {
        let step = self.update_of(grads);
        let log2_sumsq = |v: &[f64]| log2_sum_exp2(v.iter().map(|x| 2.0 * x.abs().log2()));
        crate::model::weight_tensors(&self.cfg)
            .into_iter()
            .map(|(i, name)| {
                (
                    name,
                    log2_sumsq(&step.delta[i]),
                    log2_sumsq(&self.params[i]),
                )
            })
            .collect()
    }

    fn pass_mlp(&self) -> Pass {
        let cfg = &self.cfg;
        let (b, w, l_n) = (cfg.batch, cfg.width, cfg.depth);
        let act = cfg.activation;
        let d_in = self.data.d_in;
        let d_out = self.data.d_out;
        let normed = cfg.norm != Norm::None;
        // tensors per layer: w_l, b_l; with LayerNorm w_l, b_l, gamma_l, beta_l; with BatchNorm w_l,
        // gamma_l, beta_l (the batch mean would cancel a bias)
        let has_bias = cfg.norm != Norm::Batch;
        let per = match cfg.norm {
            Norm::None => 2,
            Norm::Layer => 4,
            Norm::Batch => 3,
        };
        let gamma_at = |l: usize| per * (l - 1) + 1 + usize::from(has_bias);
        let wt = |l: usize| &self.params[per * (l - 1)];
        let (w_out, b_out) = (&self.params[per * l_n], &self.params[per * l_n + 1]);

        // forward: a[0] = x, a[l] for l = 1..L; z[l-1] is z_l. With a norm, u_l = γ ⊙ norm(z_l) + β is what
        // the activation sees (zhat and inv_std kept for the backward); without one, u_l = z_l.
        let mut a: Vec<Vec<f64>> = vec![self.data.x.iter().map(|&v| f64::from(v)).collect()];
        let mut z: Vec<Vec<f64>> = Vec::with_capacity(l_n);
        let mut u: Vec<Vec<f64>> = Vec::with_capacity(l_n);
        let mut normalized: Vec<Normalized> = Vec::with_capacity(l_n);
        for l in 1..=l_n {
            let k = if l == 1 { d_in } else { w };
            let mut zl = matmul_nt(&a[l - 1], wt(l), b, k, w);
            if has_bias {
                add_bias(&mut zl, &self.params[per * (l - 1) + 1]);
            }
            let ul = if normed {
                let nz = normalize(&zl, b, w, cfg.norm);
                let (gamma, beta) = (&self.params[gamma_at(l)], &self.params[gamma_at(l) + 1]);
                let ul: Vec<f64> = nz
                    .zhat
                    .iter()
                    .enumerate()
                    .map(|(i, v)| gamma[i % w] * v + beta[i % w])
                    .collect();
                normalized.push(nz);
                ul
            } else {
                zl.clone()
            };
            let mut al: Vec<f64> = ul.iter().map(|&v| act.f(v)).collect();
            if cfg.residual && l >= 2 {
                al.iter_mut().zip(&a[l - 1]).for_each(|(x, p)| *x += p);
            }
            z.push(zl);
            u.push(ul);
            a.push(al);
        }
        let mut out = matmul_nt(&a[l_n], w_out, b, w, d_out);
        add_bias(&mut out, b_out);
        let (loss, dy) = loss_and_grad(&out, &self.data.y, b, d_out, self.data.loss);

        // backward in the scaled domain
        let mut grads: Vec<Vec<f64>> = self.params.iter().map(|p| vec![0.0; p.len()]).collect();
        grads[per * l_n] = matmul_tn(&dy, &a[l_n], b, d_out, w);
        grads[per * l_n + 1] = col_sums(&dy, b, d_out);
        let mut g = matmul_nn(&dy, w_out, b, d_out, w); // ĝ_L, scale 2^0
        // σ: the log2 scale of ĝ (true ∂L/∂a = 2^σ ĝ); ŝ = ĝ ⊙ f'(u) 2^-K has scale σ + K
        let mut sigma = 0i64;
        let mut raw = vec![RawLayer::default(); l_n];
        let mut deltas = vec![Vec::new(); l_n];
        let mut norm_deltas = vec![Vec::new(); if normed { l_n } else { 0 }];
        for l in (1..=l_n).rev() {
            let (su, k_l, slopes) = scaled_delta(&g, &u[l - 1], act);
            if normed {
                norm_deltas[l - 1] = su.iter().map(|v| ldexp(*v, sigma + k_l)).collect();
            }
            let log2_scale = sigma + k_l;
            // δ_l = ∂L/∂z_l: through the norm's backward where there is one (linear: the scale carries)
            let s = if normed {
                let at = gamma_at(l);
                let nz = &normalized[l - 1];
                let gamma = &self.params[at];
                let mut dgamma = vec![0.0; w];
                let mut dbeta = vec![0.0; w];
                for (i, v) in su.iter().enumerate() {
                    dgamma[i % w] += v * nz.zhat[i];
                    dbeta[i % w] += v;
                }
                grads[at] = dgamma.iter().map(|v| ldexp(*v, log2_scale)).collect();
                grads[at + 1] = dbeta.iter().map(|v| ldexp(*v, log2_scale)).collect();
                let dzhat: Vec<f64> = su
                    .iter()
                    .enumerate()
                    .map(|(i, v)| v * gamma[i % w])
                    .collect();
                normalize_backward(&dzhat, nz, b, w, cfg.norm)
            } else {
                su.clone()
            };
            let k = if l == 1 { d_in } else { w };
            let dw_scaled = matmul_tn(&s, &a[l - 1], b, w, k);
            grads[per * (l - 1)] = dw_scaled.iter().map(|v| ldexp(*v, log2_scale)).collect();
            if has_bias {
                grads[per * (l - 1) + 1] = col_sums(&s, b, w)
                    .into_iter()
                    .map(|v| ldexp(v, log2_scale))
                    .collect();
            }
            raw[l - 1] = raw_layer(
                log2_scale,
                &dw_scaled,
                &s,
                &g,
                k_l,
                &u[l - 1],
                &slopes,
                &a[l],
                act,
                b,
                w,
            );
            if normed {
                // the norm mixes units: the per-unit mean comes from δ itself
                raw[l - 1].log2_mean_abs_delta_scaled = log2_mean_abs(&s, b, w);
            }
            deltas[l - 1] = s.iter().map(|v| ldexp(*v, log2_scale)).collect();
            if l >= 2 {
                let mut next = matmul_nn(&s, wt(l), b, w, w);
                if cfg.residual {
                    // back to ĝ's scale σ before adding the skip path's gradient
                    next.iter_mut()
                        .zip(&g)
                        .for_each(|(x, gv)| *x = ldexp(*x, k_l) + gv);
                } else {
                    sigma += k_l;
                }
                sigma += i64::from(rescale_below(&g, &mut next));
                g = next;
            }
        }
        Pass {
            loss,
            grads,
            deltas,
            cell_deltas: Vec::new(),
            act_out: u
                .iter()
                .map(|ul| ul.iter().map(|&v| act.f(v)).collect())
                .collect(),
            norm_deltas,
            raw,
            output: out,
        }
    }

    fn pass_rnn(&self) -> Pass {
        let cfg = &self.cfg;
        let (b, h_n, t_n) = (cfg.batch, cfg.width, cfg.depth);
        let act = cfg.activation;
        let (d_in, d_out) = (self.data.d_in, self.data.d_out);
        let (w_x, w_h, bias, w_out, b_out) = (
            &self.params[0],
            &self.params[1],
            &self.params[2],
            &self.params[3],
            &self.params[4],
        );

        // forward: h[0] = 0, h[t] for t = 1..T; z[t-1] is z_t
        let mut h: Vec<Vec<f64>> = vec![vec![0.0; b * h_n]];
        let mut z: Vec<Vec<f64>> = Vec::with_capacity(t_n);
        for t in 1..=t_n {
            let mut zt = matmul_nt(&self.step_input(t), w_x, b, d_in, h_n);
            let rec = matmul_nt(&h[t - 1], w_h, b, h_n, h_n);
            zt.iter_mut().zip(&rec).for_each(|(a, r)| *a += r);
            add_bias(&mut zt, bias);
            h.push(zt.iter().map(|&v| act.f(v)).collect());
            z.push(zt);
        }
        let mut out = matmul_nt(&h[t_n], w_out, b, h_n, d_out);
        add_bias(&mut out, b_out);
        let (loss, dy) = loss_and_grad(&out, &self.data.y, b, d_out, self.data.loss);

        let mut grads: Vec<Vec<f64>> = self.params.iter().map(|p| vec![0.0; p.len()]).collect();
        grads[3] = matmul_tn(&dy, &h[t_n], b, d_out, h_n);
        grads[4] = col_sums(&dy, b, d_out);
        let mut g = matmul_nn(&dy, w_out, b, d_out, h_n);
        let mut sigma = 0i64;
        let mut raw = vec![RawLayer::default(); t_n];
        let mut deltas = vec![Vec::new(); t_n];
        for t in (1..=t_n).rev() {
            let (s, k_t, slopes) = scaled_delta(&g, &z[t - 1], act);
            let log2_scale = sigma + k_t;
            let dwh_scaled = matmul_tn(&s, &h[t - 1], b, h_n, h_n);
            let dwx_scaled = matmul_tn(&s, &self.step_input(t), b, h_n, d_in);
            add_scaled(&mut grads[1], &dwh_scaled, log2_scale);
            add_scaled(&mut grads[0], &dwx_scaled, log2_scale);
            add_scaled(&mut grads[2], &col_sums(&s, b, h_n), log2_scale);
            raw[t - 1] = raw_layer(
                log2_scale,
                &dwh_scaled,
                &s,
                &g,
                k_t,
                &z[t - 1],
                &slopes,
                &h[t],
                act,
                b,
                h_n,
            );
            deltas[t - 1] = s.iter().map(|v| ldexp(*v, log2_scale)).collect();
            if t >= 2 {
                let mut next = matmul_nn(&s, w_h, b, h_n, h_n);
                sigma += k_t + i64::from(rescale_below(&g, &mut next));
                g = next;
            }
        }
        Pass {
            loss,
            grads,
            deltas,
            cell_deltas: Vec::new(),
            act_out: h[1..].to_vec(),
            norm_deltas: Vec::new(),
            raw,
            output: out,
        }
    }
}

/// One optimizer step, not yet applied: the update and the optimizer state after it.
struct OptimizerStep {
    delta: Vec<Vec<f64>>,
    m: Vec<Vec<f64>>,
    v: Vec<Vec<f64>>,
}

/// One layer's normalization: ẑ and 1/√(σ² + ε) per row (LayerNorm) or per unit (BatchNorm).
#[derive(Clone, Debug)]
struct Normalized {
    zhat: Vec<f64>,
    inv_std: Vec<f64>,
}

/// The groups a norm averages over in a `b x w` matrix: their count, their size, and the index of value
/// `i` of group `g` (a row for LayerNorm, a unit for BatchNorm).
fn groups(b: usize, w: usize, norm: Norm) -> (usize, usize, impl Fn(usize, usize) -> usize) {
    let batch = norm == Norm::Batch;
    let (count, size) = if batch { (w, b) } else { (b, w) };
    (
        count,
        size,
        move |g: usize, i: usize| {
            if batch { i * w + g } else { g * w + i }
        },
    )
}

/// LayerNorm (each row over its `w` units) or BatchNorm (each unit over the `b` rows) of `z` (`b x w`),
/// with the biased variance and ε = [`NORM_EPS`].
fn normalize(z: &[f64], b: usize, w: usize, norm: Norm) -> Normalized {
    let (count, n, at) = groups(b, w, norm);
    let mut zhat = vec![0.0; b * w];
    let mut inv_std = vec![0.0; count];
    for g in 0..count {
        let mean = (0..n).map(|i| z[at(g, i)]).sum::<f64>() / n as f64;
        let var = (0..n).map(|i| (z[at(g, i)] - mean).powi(2)).sum::<f64>() / n as f64;
        let inv = 1.0 / (var + NORM_EPS).sqrt();
        inv_std[g] = inv;
        for i in 0..n {
            zhat[at(g, i)] = (z[at(g, i)] - mean) * inv;
        }
    }
    Normalized { zhat, inv_std }
}

/// The norm's backward: from ∂L/∂ẑ to ∂L/∂z, per group (row or unit) of n values:
/// `inv_std · (dẑ − mean(dẑ) − ẑ ⊙ mean(dẑ ⊙ ẑ))`. Linear in dẑ, so a scaled dẑ gives the same scale.
fn normalize_backward(dzhat: &[f64], nz: &Normalized, b: usize, w: usize, norm: Norm) -> Vec<f64> {
    let (count, n, at) = groups(b, w, norm);
    let mut dz = vec![0.0; b * w];
    for g in 0..count {
        let m1 = (0..n).map(|i| dzhat[at(g, i)]).sum::<f64>() / n as f64;
        let m2 = (0..n)
            .map(|i| dzhat[at(g, i)] * nz.zhat[at(g, i)])
            .sum::<f64>()
            / n as f64;
        for i in 0..n {
            let k = at(g, i);
            dz[k] = nz.inv_std[g] * (dzhat[k] - m1 - nz.zhat[k] * m2);
        }
    }
    dz
}

/// log2 mean_b |v[b, u]| per unit in the log domain (−∞ for an exact zero, NaN for NaN).
fn log2_mean_abs(v: &[f64], b: usize, h: usize) -> Vec<f64> {
    (0..h)
        .map(|u| log2_sum_exp2((0..b).map(|bi| v[bi * h + u].abs().log2())) - (b as f64).log2())
        .collect()
}

/// `ŝ = ĝ ⊙ f'(z) · 2^-K`, K and the slopes (for the statistics): the error of one layer in the scaled domain. K is the frexp exponent of
/// the layer's largest |f'(z)| (at most 0), so a layer whose every unit is saturated far below the float
/// range still has a representable ŝ; each slope is taken as mantissa · 2^exponent
/// ([`Activation::slope`]) so the product never passes through an underflowed f'(z). The GPU's backward
/// epilogue does the same in f32.
fn scaled_delta(g: &[f64], z: &[f64], act: Activation) -> (Vec<f64>, i64, Vec<Slope>) {
    let slopes: Vec<Slope> = z.iter().map(|&zv| act.slope(zv)).collect();
    let k = slopes
        .iter()
        .filter_map(|s| s.frexp_exponent())
        .max()
        .map_or(0, |e| e.min(0));
    let s = g
        .iter()
        .zip(&slopes)
        .map(|(gv, sl)| gv * sl.scaled(-k))
        .collect();
    (s, k, slopes)
}

/// The backward's rescaling step (docs/DESIGN.md §Numerics; the GPU's dX epilogue does the same): the running
/// gradient `next` of the layer below is divided by 2^e, e the frexp exponent of max |ĝ| of the layer
/// above, so it stays near 1 however far the true values fall. Returns e (the scale grows by it).
fn rescale_below(g_above: &[f64], next: &mut [f64]) -> i32 {
    let e = frexp_exponent(max_abs(g_above));
    let inv = 2f64.powi(-e);
    next.iter_mut().for_each(|x| *x *= inv);
    e
}

/// Scales all gradients so their global L2 norm is at most `clip` (direction kept). Returns the norm before.
pub fn clip_global_norm(grads: &mut [Vec<f64>], clip: f64) -> f64 {
    let norm = global_norm(grads);
    if norm > clip {
        let f = clip / norm;
        grads.iter_mut().flatten().for_each(|g| *g *= f);
    }
    norm
}

/// The global L2 norm of all gradients without overflow or underflow in the squares: the sum of
/// (g / max|g|)², times max|g| (the GPU computes it the same way in f32). NaN if any gradient is NaN.
pub fn global_norm(grads: &[Vec<f64>]) -> f64 {
    let mx = grads.iter().flatten().fold(0.0f64, |m, g| {
        if g.is_nan() || m.is_nan() {
            f64::NAN
        } else {
            m.max(g.abs())
        }
    });
    if mx == 0.0 || !mx.is_finite() {
        return mx;
    }
    let sum: f64 = grads
        .iter()
        .flatten()
        .map(|g| {
            let r = g / mx;
            r * r
        })
        .sum();
    mx * sum.sqrt()
}

/// Loss and ∂L/∂ŷ (docs/DESIGN.md §Equations): mse = (1/(2B)) Σ ||ŷ - y||², or mean softmax cross-entropy.
pub fn loss_and_grad(
    out: &[f64],
    y: &[f32],
    b: usize,
    d_out: usize,
    kind: LossKind,
) -> (f64, Vec<f64>) {
    let mut dy = vec![0.0; b * d_out];
    let mut loss = 0.0;
    let inv_b = 1.0 / b as f64;
    for s in 0..b {
        let row = &out[s * d_out..(s + 1) * d_out];
        let target = &y[s * d_out..(s + 1) * d_out];
        match kind {
            LossKind::Mse => {
                for o in 0..d_out {
                    let diff = row[o] - f64::from(target[o]);
                    loss += 0.5 * diff * diff * inv_b;
                    dy[s * d_out + o] = diff * inv_b;
                }
            }
            LossKind::CrossEntropy => {
                let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = row.iter().map(|v| (v - max).exp()).sum();
                let log_sum = sum.ln() + max;
                for o in 0..d_out {
                    let p = (row[o] - log_sum).exp();
                    let yo = f64::from(target[o]);
                    loss -= yo * (row[o] - log_sum) * inv_b;
                    dy[s * d_out + o] = (p - yo) * inv_b;
                }
            }
        }
    }
    (loss, dy)
}

/// The raw statistics of one layer. `s` is ŝ (scale `log2_scale`), `g` is ĝ (scale `log2_scale − k`),
/// `slopes` the split f'(z) of [`scaled_delta`].
/// Per-unit mean |ŝ| is accumulated in the log domain from ĝ and the split slope, so a unit whose every
/// |ŝ| underflows (saturated far beyond the float range) keeps its true magnitude.
#[allow(clippy::too_many_arguments)]
fn raw_layer(
    log2_scale: i64,
    dw_scaled: &[f64],
    s: &[f64],
    g: &[f64],
    k: i64,
    z: &[f64],
    slopes: &[Slope],
    a: &[f64],
    act: Activation,
    b: usize,
    w: usize,
) -> RawLayer {
    // per unit: running (max log2 term, Σ 2^(term − max)) of |ŝ| = |ĝ| |f'| 2^-k
    let mut acc = vec![(f64::NEG_INFINITY, 0.0f64); w];
    let mut any_nan = vec![false; w];
    let mut any_live = vec![false; w];
    let mut saturated = 0usize;
    for bi in 0..b {
        for u in 0..w {
            let i = bi * w + u;
            let slope = slopes[i];
            any_live[u] |= !act.is_exact_zero_slope(z[i]);
            saturated += usize::from(act.is_saturated_slope(slope));
            let term = g[i].abs().log2() + slope.log2_abs() - k as f64;
            if term.is_nan() {
                any_nan[u] = true;
            } else if term > f64::NEG_INFINITY {
                let (mx, sum) = &mut acc[u];
                if term > *mx {
                    *sum = *sum * (*mx - term).exp2() + 1.0;
                    *mx = term;
                } else {
                    *sum += (term - *mx).exp2();
                }
            }
        }
    }
    let log2_mean = acc
        .iter()
        .zip(&any_nan)
        .map(|(&(mx, sum), &nan)| {
            if nan {
                f64::NAN
            } else if mx == f64::NEG_INFINITY {
                f64::NEG_INFINITY
            } else {
                mx + sum.log2() - (b as f64).log2()
            }
        })
        .collect();
    let ledger = RawLedger {
        log2_grad_out_sumsq_scaled: log2_sum_exp2(g.iter().map(|v| 2.0 * v.abs().log2())),
        slope_shift: k as f64,
        log2_slope_sum: log2_sum_exp2(slopes.iter().map(|sl| sl.log2_abs())),
    };
    RawLayer {
        ledger: Some(ledger),
        log2_scale: log2_scale as f64,
        grad_w_sumsq_scaled: dw_scaled.iter().map(|v| v * v).sum(),
        delta_sumsq_scaled: s.iter().map(|v| v * v).sum(),
        log2_mean_abs_delta_scaled: log2_mean,
        act_sumsq: a.iter().map(|v| v * v).sum(),
        saturated_count: saturated as f64,
        dead_units: any_live.iter().filter(|l| !**l).count() as f64,
        gates: None,
    }
}

/// log2 Σ 2^x over terms of any magnitude (−∞ for none or all −∞, NaN if any term is NaN).
fn log2_sum_exp2(terms: impl Iterator<Item = f64> + Clone) -> f64 {
    let mx = terms.clone().fold(f64::NEG_INFINITY, f64::max);
    if terms.clone().any(f64::is_nan) {
        return f64::NAN;
    }
    if mx == f64::NEG_INFINITY {
        return mx;
    }
    mx + terms.map(|t| (t - mx).exp2()).sum::<f64>().log2()
}

fn add_bias(m: &mut [f64], bias: &[f64]) {
    let n = bias.len();
    m.chunks_mut(n)
        .for_each(|row| row.iter_mut().zip(bias).for_each(|(x, b)| *x += b));
}

fn add_scaled(acc: &mut [f64], v: &[f64], log2_scale: i64) {
    acc.iter_mut()
        .zip(v)
        .for_each(|(a, x)| *a += ldexp(*x, log2_scale));
}

fn col_sums(m: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut out = vec![0.0; cols];
    for r in 0..rows {
        out.iter_mut()
            .zip(&m[r * cols..(r + 1) * cols])
            .for_each(|(o, v)| *o += v);
    }
    out
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| {
        if x.abs() > m || x.is_nan() {
            x.abs()
        } else {
            m
        }
    })
}
