//! Mean-field theory of signal propagation at initialisation (Poole et al. 2016, Schoenholz et al. 2017):
//! how the variance of the pre-activations moves forward and how the backward signal scales per layer, for
//! the configured activation, init, gain, width and bias variance.
//!
//! Conventions (GUIDE §3 equations):
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
//! Expectations E_{z~N(0,q)}[g(z)] use Gauss-Hermite quadrature ([`GaussHermite`], 96 nodes and weights by
//! Golub-Welsch) where it is accurate: smooth activations and σ = √q <= [`GAUSS_HERMITE_MAX_SIGMA`]
//! (relative error below 2e-9 there). Gauss-Hermite converges slowly on a kink (ELU's f' is 0.5% off at
//! q = 1 with 96 nodes) and its nodes step over the bend of a saturating activation once the Gaussian is
//! wide (tanh'(10x)² turns between two nodes: 90% off at σ = 10), so those cases use composite
//! Gauss-Legendre panels split at the kink 0 and finer than 0.5 in z ([`gaussian_expectation`]), relative
//! error ~1e-12 (1e-9 for ELU), at any σ.

use std::sync::OnceLock;

use nalgebra::{DMatrix, SymmetricEigen};
use serde::Serialize;

use crate::model::{Activation, Arch, ConfigError, Dataset, NetConfig, Task};
use crate::stats::StepStats;

/// Gauss-Hermite order used by [`GaussHermite::standard`].
pub const DEFAULT_ORDER: usize = 96;
/// Largest order [`GaussHermite::new`] accepts.
pub const MAX_ORDER: usize = 400;
/// Largest standard deviation at which [`expectation`] uses Gauss-Hermite for a smooth activation (see the
/// module docs).
pub const GAUSS_HERMITE_MAX_SIGMA: f64 = 1.0;

/// An error of the theory computations.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TheoryError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The quadrature order is out of range.
    #[error("quadrature order {0} is out of range: 1..={MAX_ORDER}")]
    Order(usize),
    /// The eigenvalue solver behind the quadrature rule did not converge.
    #[error("the eigenvalue solver for the quadrature nodes did not converge")]
    NoConvergence,
}

/// An n-point Gauss-Hermite rule for the standard normal density: Σ w_i g(x_i) = E_{x~N(0,1)}[g(x)] exactly
/// for polynomials g of degree up to 2n - 1. Nodes ascending and exactly symmetric (x_i = -x_{n-1-i}, equal
/// weights), weights summing to 1.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussHermite {
    nodes: Vec<f64>,
    weights: Vec<f64>,
}

/// Nodes and weights of an n-point Gauss rule from its Jacobi matrix (Golub-Welsch): the nodes are the
/// eigenvalues of the symmetric tridiagonal matrix with zero diagonal and off-diagonal `off(k)`, k = 1..n-1,
/// the weights `mu0` times the squared first components of the normalized eigenvectors. Symmetrized.
fn golub_welsch(
    n: usize,
    off: impl Fn(usize) -> f64,
    mu0: f64,
) -> Result<(Vec<f64>, Vec<f64>), TheoryError> {
    let mut j = DMatrix::<f64>::zeros(n, n);
    for k in 1..n {
        j[(k - 1, k)] = off(k);
        j[(k, k - 1)] = off(k);
    }
    let eig =
        SymmetricEigen::try_new(j, f64::EPSILON, 100_000).ok_or(TheoryError::NoConvergence)?;
    let mut pairs: Vec<(f64, f64)> = (0..n)
        .map(|i| (eig.eigenvalues[i], mu0 * eig.eigenvectors[(0, i)].powi(2)))
        .collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    // The rule is symmetric in exact arithmetic; make it so in floating point too, so that odd integrands
    // vanish and half-line integrands such as ReLU's 1{z > 0} get exactly half the mass.
    for i in 0..n / 2 {
        let k = n - 1 - i;
        let x = 0.5 * (pairs[k].0 - pairs[i].0);
        let w = 0.5 * (pairs[i].1 + pairs[k].1);
        pairs[i] = (-x, w);
        pairs[k] = (x, w);
    }
    if n % 2 == 1 {
        pairs[n / 2].0 = 0.0;
    }
    let sum: f64 = pairs.iter().map(|p| p.1).sum();
    Ok(pairs.into_iter().map(|(x, w)| (x, w * mu0 / sum)).unzip())
}

impl GaussHermite {
    /// The n-point rule (1 <= n <= [`MAX_ORDER`]): Golub-Welsch on the Jacobi matrix of the probabilists'
    /// Hermite polynomials (x He_k = He_{k+1} + k He_{k-1}: off-diagonal √k).
    pub fn new(n: usize) -> Result<GaussHermite, TheoryError> {
        if !(1..=MAX_ORDER).contains(&n) {
            return Err(TheoryError::Order(n));
        }
        let (nodes, _) = golub_welsch(n, |k| (k as f64).sqrt(), 1.0)?;
        // Polish: Newton on the orthonormal Hermite polynomial p_n, and weights from the Christoffel
        // function w_i = 1 / Σ_{k<n} p_k(x_i)², which keeps the tiny outer weights accurate to their last
        // digits (the eigenvector components only carry ~1e-16 absolute accuracy).
        let mut weights = vec![0.0; n];
        let mut nodes = nodes;
        for (x, w) in nodes.iter_mut().zip(&mut weights) {
            for _ in 0..3 {
                let (p_n, p_prev, _) = orthonormal_hermite(n, *x);
                let derivative = (n as f64).sqrt() * p_prev;
                if derivative != 0.0 {
                    *x -= p_n / derivative;
                }
            }
            *w = 1.0 / orthonormal_hermite(n, *x).2;
        }
        // keep exact symmetry and unit mass after the polish
        for i in 0..n / 2 {
            let k = n - 1 - i;
            let (x, w) = (0.5 * (nodes[k] - nodes[i]), 0.5 * (weights[i] + weights[k]));
            (nodes[i], nodes[k], weights[i], weights[k]) = (-x, x, w, w);
        }
        if n % 2 == 1 {
            nodes[n / 2] = 0.0;
        }
        let sum: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= sum);
        Ok(GaussHermite { nodes, weights })
    }

    /// The shared [`DEFAULT_ORDER`]-point rule, computed once.
    pub fn standard() -> &'static GaussHermite {
        static RULE: OnceLock<GaussHermite> = OnceLock::new();
        RULE.get_or_init(|| {
            // The order is a valid constant and the solver converges for it (tested); fall back to the
            // 1-point rule rather than panic should that ever change.
            GaussHermite::new(DEFAULT_ORDER).unwrap_or(GaussHermite {
                nodes: vec![0.0],
                weights: vec![1.0],
            })
        })
    }

    /// The nodes x_i, ascending.
    pub fn nodes(&self) -> &[f64] {
        &self.nodes
    }

    /// The weights w_i (sum 1).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// E_{z~N(0,q)}[g(z)] = Σ w_i g(√q x_i). `q` is a variance (>= 0).
    pub fn expect(&self, q: f64, g: impl Fn(f64) -> f64) -> f64 {
        let s = q.max(0.0).sqrt();
        self.nodes
            .iter()
            .zip(&self.weights)
            .map(|(x, w)| w * g(s * x))
            .sum()
    }
}

/// (p_n(x), p_{n-1}(x), Σ_{k<n} p_k(x)²) for the orthonormal probabilists' Hermite polynomials
/// p_0 = 1, p_{k+1} = (x p_k - √k p_{k-1}) / √(k+1).
fn orthonormal_hermite(n: usize, x: f64) -> (f64, f64, f64) {
    let (mut prev, mut cur) = (0.0, 1.0);
    let mut sum_sq = 0.0;
    for k in 0..n {
        sum_sq += cur * cur;
        let next = (x * cur - (k as f64).sqrt() * prev) / ((k + 1) as f64).sqrt();
        (prev, cur) = (cur, next);
    }
    (cur, prev, sum_sq)
}

/// 16-point Gauss-Legendre on [-1, 1] (Golub-Welsch, off-diagonal k/√(4k²-1), total weight 2).
fn legendre16() -> &'static (Vec<f64>, Vec<f64>) {
    static RULE: OnceLock<(Vec<f64>, Vec<f64>)> = OnceLock::new();
    RULE.get_or_init(|| {
        golub_welsch(16, |k| k as f64 / (4.0 * (k * k) as f64 - 1.0).sqrt(), 2.0)
            .unwrap_or((vec![0.0], vec![2.0]))
    })
}

/// ∫_a^b g(x) φ(x) dx with `panels` equal Gauss-Legendre panels (φ the standard normal density).
fn legendre_panels(a: f64, b: f64, panels: usize, g: &impl Fn(f64) -> f64) -> f64 {
    let (nodes, weights) = legendre16();
    let h = (b - a) / panels as f64;
    let inv_sqrt_2pi = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
    let mut sum = 0.0;
    for p in 0..panels {
        let mid = a + (p as f64 + 0.5) * h;
        for (t, w) in nodes.iter().zip(weights) {
            let x = mid + 0.5 * h * t;
            sum += 0.5 * h * w * g(x) * (-0.5 * x * x).exp() * inv_sqrt_2pi;
        }
    }
    sum
}

/// E_{z~N(0,q)}[g(z)] for an activation-like g (bends on the unit scale of z, kinks at most at z = 0), at
/// any variance q >= 0: composite 16-point Gauss-Legendre in x = z/√q on [-12, 12], split at 0, panels
/// narrower than 0.5 in x and (where |z| < 40) than 0.5 in z.
pub fn gaussian_expectation(q: f64, g: impl Fn(f64) -> f64) -> f64 {
    const X_MAX: f64 = 12.0;
    const Z_INNER: f64 = 40.0;
    const PANEL: f64 = 0.5;
    let s = q.max(0.0).sqrt();
    if s == 0.0 {
        return g(0.0);
    }
    let gz = |x: f64| g(s * x);
    let inner = (Z_INNER / s).min(X_MAX);
    let inner_panels = ((inner * s.max(1.0) / PANEL).ceil() as usize).max(1);
    let mut sum = legendre_panels(-inner, 0.0, inner_panels, &gz)
        + legendre_panels(0.0, inner, inner_panels, &gz);
    if inner < X_MAX {
        let outer_panels = (((X_MAX - inner) / PANEL).ceil() as usize).max(1);
        sum += legendre_panels(-X_MAX, -inner, outer_panels, &gz)
            + legendre_panels(inner, X_MAX, outer_panels, &gz);
    }
    sum
}

/// Whether f and f' are smooth everywhere (no kink at 0), so Gauss-Hermite converges fast.
fn is_smooth(act: Activation) -> bool {
    !matches!(
        act,
        Activation::Relu | Activation::LeakyRelu | Activation::Elu
    )
}

/// E_{z~N(0,q)}[g(z)] for a function g of the activation `act`: [`GaussHermite::standard`] where it is
/// accurate (smooth activation, √q <= [`GAUSS_HERMITE_MAX_SIGMA`]), else [`gaussian_expectation`].
pub fn expectation(act: Activation, q: f64, g: impl Fn(f64) -> f64) -> f64 {
    if is_smooth(act) && q.max(0.0).sqrt() <= GAUSS_HERMITE_MAX_SIGMA {
        GaussHermite::standard().expect(q, g)
    } else {
        gaussian_expectation(q, g)
    }
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
        geometric_mean(
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

fn geometric_mean(factors: impl Iterator<Item = Option<f64>>) -> Option<f64> {
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
    geometric_mean((from..=to).map(|l| f.get(l.wrapping_sub(1)).copied().flatten()))
}
