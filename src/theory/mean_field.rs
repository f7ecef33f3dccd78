//! Mean-field theory of signal propagation at initialisation (Poole et al. 2016, Schoenholz et al. 2017):
//! how the variance of the pre-activations moves forward and how the backward signal scales per layer, for
//! the configured activation, init, gain, width and bias variance.
//!
//! Conventions (the equations of docs/DESIGN.md §Equations):
//! - σ_w² = n·Var(w) for a hidden `n x n` layer, with Var(w) from [`crate::model::Init::weight_variance`]
//!   (fan-in = fan-out = width); σ_b² = `bias_std²`.
//! - First layer: q_1 = σ_w1²·E\[x²\] + σ_b² with σ_w1² = d_in·Var(w_1) (fan-in d_in, fan-out width) and E\[x²\]
//!   the mean square input entry: exactly 1 for the teacher task (x ~ N(0, 1)), otherwise measured on the
//!   task's (deterministic, seeded) data. The per-sample spread of ‖x‖² around that mean is ignored.
//! - Forward: q_{l+1} = σ_w²·E\[f(z)²\] + σ_b², z ~ N(0, q_l).
//! - Backward: χ_l = σ_w²·E\[f'(z)²\], z ~ N(0, q_l). In a plain net E\[δ_l²\] = χ_l·E\[δ_{l+1}²\], so the predicted
//!   log10 rms δ_l relative to the top layer is ½·Σ_{k=l}^{L-1} log10 χ_k.
//! - Residual nets (a_l = f(z_l) + a_{l-1} for l >= 2): the plain recursion does not apply. With g_l = ∂L/∂a_l,
//!   g_{l-1} = W_l^T δ_l + g_l, and the cross term vanishes in mean field (W_l has mean zero), so
//!   E\[g_{l-1}²\] = (1 + χ_l)·E\[g_l²\] and E\[δ_l²\] = E\[f'(z_l)²\]·E\[g_l²\]. Forward, the second moment of a_l
//!   accumulates: Q_l = E\[f(z_l)²\] + Q_{l-1} + 2·E\[f(z_l)\]·m_{l-1} with m_l = E\[f(z_l)\] + m_{l-1} the mean of
//!   a_l's entries, and q_{l+1} = σ_w²·Q_l + σ_b². [`predict`] returns this residual variant
//!   ([`Regime::Residual`], [`Prediction::approximate`] set). It is an approximation: it drops the coupling
//!   through the mean of a_l across units (rectifiers' a_l grow a large positive mean, which makes z_{l+1}
//!   a per-unit offset, and then W_l^T δ_l and g_l align). Measured on width-256 nets at init it holds for
//!   sigmoid and tanh to ~1%, while for ReLU + he-normal the gradient grows ~2.3x per layer, not the
//!   predicted 2x: the view should say the line departs there.
//! - RNN (z_t = W_x x_t + W_h h_{t-1} + b): the same recursion over time steps with σ_h² = n·Var(w_h) (or ρ²
//!   when `spectral_radius` rescales W_h: for iid or orthogonal W_h, ρ ≈ σ_h), input term σ_x²·E\[x_t²\] at
//!   each step. It treats the shared W_h as fresh at every step (the untied-weights assumption), which is
//!   where it is least reliable; [`super::spectral::spectral_decay_line`] is the exact linear-RNN readout.
//!
//! Expectations E_{z~N(0,q)}\[g(z)\] come from [`super::quadrature::expectation`]: Gauss-Hermite for smooth
//! activations on a narrow Gaussian, composite Gauss-Legendre panels elsewhere (accuracy in that module).

use serde::Serialize;

use super::quadrature::expectation;
use crate::model::{Activation, Arch, ConfigError, Dataset, NetConfig, Task};
use crate::stats::StepStats;

/// An error of the theory computations.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TheoryError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A gated cell: the mean-field recursion here is for the MLP and the vanilla RNN.
    #[error(
        "mean-field theory here covers the MLP and the vanilla RNN; an {} has none (the Cell path view draws the running product of its keep gates instead)",
        .0.name().to_uppercase()
    )]
    GatedCell(crate::model::Cell),
    /// A normalized MLP: the recursion here has no norm layers.
    #[error(
        "the mean-field recursion here has no norm layers (norm {0}); the Layer norms view says which theory holds"
    )]
    Normalized(crate::model::Norm),
}

/// E\[f(z)\], z ~ N(0, q).
pub fn mean(act: Activation, q: f64) -> f64 {
    expectation(act, q, |z| act.f(z))
}

/// E\[f(z)²\], z ~ N(0, q).
pub fn second_moment(act: Activation, q: f64) -> f64 {
    expectation(act, q, |z| act.f(z).powi(2))
}

/// E\[f'(z)²\], z ~ N(0, q).
pub fn derivative_second_moment(act: Activation, q: f64) -> f64 {
    expectation(act, q, |z| act.df(z).powi(2))
}

/// The backward factor χ = σ_w²·E\[f'(z)²\], z ~ N(0, q).
pub fn chi(act: Activation, sigma_w2: f64, q: f64) -> f64 {
    sigma_w2 * derivative_second_moment(act, q)
}

/// σ_w² = n·Var(w) of a hidden `width x width` layer (for the RNN: of W_h, or ρ² when
/// `spectral_radius` rescales it).
pub fn hidden_sigma_w2(cfg: &NetConfig) -> f64 {
    if cfg.arch == Arch::Rnn
        && let Some(rho) = cfg.spectral_radius
    {
        return rho * rho;
    }
    cfg.width as f64 * cfg.init.weight_variance(cfg.width, cfg.width, cfg.gain)
}

/// σ_w1² = d_in·Var(w_1) of the input layer (for the RNN: of W_x).
pub fn input_sigma_w2(cfg: &NetConfig) -> f64 {
    let d_in = cfg.d_in();
    d_in as f64 * cfg.init.weight_variance(d_in, cfg.width, cfg.gain)
}

/// Mean square input entry E\[x²\], per time step for the RNN (length `depth`), one value for the MLP:
/// exactly 1 for the teacher task (x ~ N(0, 1)), otherwise measured on the task's seeded data.
pub fn input_mean_square(cfg: &NetConfig) -> Vec<f64> {
    if cfg.task == Task::Teacher {
        return vec![1.0];
    }
    let data = Dataset::generate(cfg);
    let per_step = data.batch * data.d_in;
    data.x
        .chunks(per_step.max(1))
        .map(|c| c.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / c.len().max(1) as f64)
        .collect()
}

/// Which recursion a [`Prediction`] used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Regime {
    /// Plain MLP: E\[δ_l²\] = χ_l·E\[δ_{l+1}²\].
    Plain,
    /// Residual MLP: E\[g_{l-1}²\] = (1 + χ_l)·E\[g_l²\], E\[δ_l²\] = E\[f'(z_l)²\]·E\[g_l²\].
    Residual,
    /// RNN over time steps, untied-weights assumption.
    Recurrent,
}

/// Where the prediction is expected to hold less well; the app shows these beside the theory line.
pub mod notes {
    /// Always true of the theory.
    pub const AT_INIT: &str = "Mean-field theory describes random weights at init in the wide limit; after training it departs.";
    /// Narrow nets.
    pub const NARROW: &str = "Narrow net (width < 128): finite-width fluctuations make the measured factors scatter around the line.";
    /// Residual nets.
    pub const RESIDUAL: &str = "Residual net: the plain χ recursion does not apply; the line uses the residual \
         variant E[g_(l-1)²] = (1 + χ_l)·E[g_l²], an approximation that drops the growing mean of the \
         activations (close for tanh and sigmoid; ReLU's gradient grows faster than the line).";
    /// RNNs.
    pub const RECURRENT: &str = "RNN: the same W_h at every step breaks the independence the mean-field \
         line assumes; ρ^k from W_h's spectral radius is the exact rate for a linear RNN.";
}

/// The prediction for one layer (one time step for the RNN).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerPrediction {
    /// 1-based layer index (time step), input to output, as in [`crate::stats::LayerStats::index`].
    pub index: usize,
    /// Pre-activation variance q_l.
    pub q: f64,
    /// χ_l = σ_w²·E\[f'(z)²\], z ~ N(0, q_l): the local backward factor of this layer.
    pub chi: f64,
    /// Predicted E\[δ_l²\] / E\[δ_{l+1}²\] (χ_l for a plain net); `None` for the top layer. Compare with
    /// [`measured_factors`].
    pub factor: Option<f64>,
    /// Predicted log10 rms δ_l minus log10 rms δ_L (0 at the top); `None` where the prediction is an exact 0.
    pub log10_delta_rel: Option<f64>,
}

/// The mean-field prediction for a configuration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Prediction {
    /// The recursion used.
    pub regime: Regime,
    /// σ_w² of the hidden (recurrent) layers.
    pub sigma_w2: f64,
    /// σ_b² = bias_std².
    pub sigma_b2: f64,
    /// Per layer (time step), input to output.
    pub layers: Vec<LayerPrediction>,
    /// Whether the recursion is an approximation even for wide nets at init (residual: mean coupling
    /// dropped; RNN: untied weights assumed). Plain MLPs: `false`.
    pub approximate: bool,
    /// Caveats for this configuration (see [`notes`]).
    pub notes: Vec<&'static str>,
}

impl Prediction {
    /// The predicted log10 rms δ per layer, anchored so the top layer equals `top_log10_delta_rms` (the
    /// measured value): the line to draw beside the measured `log10_delta_rms`.
    pub fn anchored(&self, top_log10_delta_rms: f64) -> Vec<Option<f64>> {
        self.layers
            .iter()
            .map(|l| l.log10_delta_rel.map(|r| r + top_log10_delta_rms))
            .collect()
    }

    /// Geometric mean of the predicted factors over the layers `from..=to` (1-based, each < L).
    pub fn geometric_mean_factor(&self, from: usize, to: usize) -> Option<f64> {
        geometric_mean_refusing_missing(
            self.layers
                .iter()
                .filter(|l| (from..=to).contains(&l.index))
                .map(|l| l.factor),
        )
    }
}

fn log10_opt(v: f64) -> Option<f64> {
    (v.is_finite() && v > 0.0).then(|| v.log10())
}

/// Geometric mean of the factors; `None` if there are none or any is missing (`None`), zero, negative or
/// not finite (see `geometric_mean_skipping_missing` in the app's norms view for the lenient variant).
fn geometric_mean_refusing_missing(factors: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let mut sum = 0.0;
    let mut n = 0usize;
    for f in factors {
        sum += log10_opt(f?)?;
        n += 1;
    }
    (n > 0).then(|| 10f64.powf(sum / n as f64))
}

/// The mean-field prediction for `cfg` at init (see the module docs for every convention).
pub fn predict(cfg: &NetConfig) -> Result<Prediction, TheoryError> {
    cfg.validate()?;
    if cfg.cell.is_gated() {
        return Err(TheoryError::GatedCell(cfg.cell));
    }
    if cfg.norm != crate::model::Norm::None {
        return Err(TheoryError::Normalized(cfg.norm));
    }
    let act = cfg.activation;
    let depth = cfg.depth;
    let sigma_w2 = hidden_sigma_w2(cfg);
    let sigma_x2 = input_sigma_w2(cfg);
    let sigma_b2 = cfg.bias_std * cfg.bias_std;
    let inputs = input_mean_square(cfg);
    let input_at = |t: usize| inputs.get(t).copied().unwrap_or(0.0);
    let regime = match (cfg.arch, cfg.residual) {
        (Arch::Rnn, _) => Regime::Recurrent,
        (Arch::Mlp, true) => Regime::Residual,
        (Arch::Mlp, false) => Regime::Plain,
    };

    // forward: q_l, and E[f'(z_l)²]
    let mut q = Vec::with_capacity(depth);
    let mut dfdf = Vec::with_capacity(depth);
    let mut q_next = sigma_x2 * input_at(0) + sigma_b2;
    let (mut big_q, mut m) = (0.0, 0.0); // residual: second moment and mean of a_{l-1}'s entries
    for l in 1..=depth {
        let ql = q_next;
        q.push(ql);
        dfdf.push(derivative_second_moment(act, ql));
        let ff = second_moment(act, ql);
        q_next = match regime {
            Regime::Plain => sigma_w2 * ff + sigma_b2,
            Regime::Recurrent => sigma_w2 * ff + sigma_x2 * input_at(l) + sigma_b2,
            Regime::Residual => {
                let mu = mean(act, ql);
                if l == 1 {
                    big_q = ff;
                    m = mu;
                } else {
                    big_q += ff + 2.0 * mu * m;
                    m += mu;
                }
                sigma_w2 * big_q + sigma_b2
            }
        };
    }

    // backward
    let chi: Vec<f64> = dfdf.iter().map(|d| sigma_w2 * d).collect();
    let mut factor = vec![None; depth];
    let mut rel = vec![None; depth];
    rel[depth - 1] = Some(0.0);
    for l in (1..depth).rev() {
        // 0-based index i = l - 1 holds layer l; layer l + 1 is at i + 1
        let i = l - 1;
        let f = match regime {
            Regime::Plain | Regime::Recurrent => chi[i],
            Regime::Residual => {
                if dfdf[i + 1] > 0.0 {
                    dfdf[i] / dfdf[i + 1] * (1.0 + chi[i + 1])
                } else {
                    f64::NAN
                }
            }
        };
        factor[i] = f.is_finite().then_some(f);
        rel[i] = match (rel[i + 1], log10_opt(f)) {
            (Some(r), Some(lf)) => Some(r + 0.5 * lf),
            _ => None,
        };
    }
    let layers = (0..depth)
        .map(|i| LayerPrediction {
            index: i + 1,
            q: q[i],
            chi: chi[i],
            factor: factor[i],
            log10_delta_rel: rel[i],
        })
        .collect();

    let mut notes = vec![notes::AT_INIT];
    if cfg.width < 128 {
        notes.push(notes::NARROW);
    }
    match regime {
        Regime::Residual => notes.push(notes::RESIDUAL),
        Regime::Recurrent => notes.push(notes::RECURRENT),
        Regime::Plain => {}
    }
    Ok(Prediction {
        regime,
        sigma_w2,
        sigma_b2,
        layers,
        approximate: regime != Regime::Plain,
        notes,
    })
}

/// The measured per-layer factors E\[δ_l²\] / E\[δ_{l+1}²\] = 10^(2·(log10 rms δ_l - log10 rms δ_{l+1})) from a
/// statistics record, input to output; `None` for the top layer and where either rms is an exact 0 or NaN.
pub fn measured_factors(stats: &StepStats) -> Vec<Option<f64>> {
    let n = stats.layers.len();
    (0..n)
        .map(|i| {
            let here = stats.layers[i].log10_delta_rms?;
            let above = stats.layers.get(i + 1)?.log10_delta_rms?;
            Some(10f64.powf(2.0 * (here - above)))
        })
        .collect()
}

/// Geometric mean of the measured factors over layers `from..=to` (1-based): the average per-layer factor
/// to compare with [`Prediction::geometric_mean_factor`]. `None` if any is missing.
pub fn measured_geometric_mean_factor(stats: &StepStats, from: usize, to: usize) -> Option<f64> {
    let f = measured_factors(stats);
    geometric_mean_refusing_missing(
        (from..=to).map(|l| f.get(l.wrapping_sub(1)).copied().flatten()),
    )
}
