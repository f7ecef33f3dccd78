//! Gaussian expectations E_{z~N(0,q)}\[g(z)\] for the mean-field theory: a Gauss-Hermite rule for smooth
//! integrands on a narrow Gaussian, and composite Gauss-Legendre panels for everything else.
//!
//! The rules come from the `gauss-quad` crate (Golub-Welsch for Hermite, Bogaert's O(n) method for
//! Legendre). One thing stays ours: `gauss-quad` takes the Hermite weights from the squared first
//! eigenvector components, which carry only ~1e-17 absolute accuracy, so the outermost weights of the
//! 96-point rule (true value ~7e-76) come out as ~7e-34. Nothing we integrate in the mean field notices,
//! but the rule is then no longer exact on polynomials: E\[x^40\] is 7e-6 off (our accuracy test asks
//! 1e-12, `tests/core/theory.rs`). [`GaussHermite::new`] therefore polishes the nodes with Newton steps on
//! the orthonormal Hermite polynomial and recomputes every weight from the Christoffel function, which keeps
//! the tiny weights right to their last digits (E\[x^(2k)\] within 2e-15 relative for k <= 20).
//!
//! Which rule where ([`expectation`]): Gauss-Hermite converges fast for smooth activations while the
//! Gaussian is narrow (σ = √q <= [`GAUSS_HERMITE_MAX_SIGMA`]: relative error below 2e-9). It converges
//! slowly across a kink (ELU's f' is 0.5% off at q = 1 with 96 nodes) and, once the Gaussian is wide, its
//! nodes step over the bend of a saturating activation (tanh'(10x)² bends between two nodes: 90% off at
//! σ = 10). Those cases use [`gaussian_expectation`]: 16-point Gauss-Legendre panels split at the kink 0 and
//! narrower than 0.5 in z, relative error ~1e-12 (1e-9 for ELU) at any σ.

use std::num::NonZeroUsize;
use std::sync::OnceLock;

use gauss_quad::hermite::GaussHermite as HermiteRule;
use gauss_quad::legendre::GaussLegendre;

use crate::model::Activation;

/// Gauss-Hermite order used by [`GaussHermite::standard`].
pub const DEFAULT_ORDER: usize = 96;
/// Largest order [`GaussHermite::new`] accepts.
pub const MAX_ORDER: usize = 400;
/// Largest standard deviation at which [`expectation`] uses Gauss-Hermite for a smooth activation (see the
/// module docs).
pub const GAUSS_HERMITE_MAX_SIGMA: f64 = 1.0;
/// Points per Gauss-Legendre panel in [`gaussian_expectation`].
const LEGENDRE_ORDER: NonZeroUsize = NonZeroUsize::new(16).expect("16 is not zero");

/// A quadrature rule that cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QuadratureError {
    /// The quadrature order is out of range.
    #[error("quadrature order {0} is out of range: 1..={MAX_ORDER}")]
    Order(usize),
}

/// An n-point Gauss-Hermite rule for the standard normal density: Σ w_i g(x_i) = E_{x~N(0,1)}\[g(x)\] exactly
/// for polynomials g of degree up to 2n - 1. Nodes ascending and exactly symmetric (x_i = -x_{n-1-i}, equal
/// weights), weights summing to 1.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussHermite {
    nodes: Vec<f64>,
    weights: Vec<f64>,
}

impl GaussHermite {
    /// The n-point rule (1 <= n <= [`MAX_ORDER`]): `gauss-quad`'s physicists' rule (weight e^{-x²}) mapped
    /// to the standard normal (x → √2·x), then polished (see the module docs).
    pub fn new(n: usize) -> Result<GaussHermite, QuadratureError> {
        let order = NonZeroUsize::new(n)
            .filter(|n| n.get() <= MAX_ORDER)
            .ok_or(QuadratureError::Order(n))?;
        let mut nodes: Vec<f64> = HermiteRule::new(order)
            .nodes()
            .map(|x| x * std::f64::consts::SQRT_2)
            .collect();
        // Newton on the orthonormal Hermite polynomial p_n (p_n' = √n·p_{n-1}), then the weights from the
        // Christoffel function w_i = 1 / Σ_{k<n} p_k(x_i)².
        let mut weights = vec![0.0; n];
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
        // The rule is symmetric in exact arithmetic; make it so in floating point too, so that odd integrands
        // vanish and half-line integrands such as ReLU's 1{z > 0} get exactly half the mass.
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
            // The order is a valid constant; fall back to the 1-point rule rather than panic should that
            // ever change.
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

    /// E_{z~N(0,q)}\[g(z)\] = Σ w_i g(√q x_i). `q` is a variance (>= 0).
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

/// The [`LEGENDRE_ORDER`]-point Gauss-Legendre rule, computed once.
fn legendre() -> &'static GaussLegendre {
    static RULE: OnceLock<GaussLegendre> = OnceLock::new();
    RULE.get_or_init(|| GaussLegendre::new(LEGENDRE_ORDER))
}

/// ∫_a^b g(x) φ(x) dx with `panels` equal Gauss-Legendre panels (φ the standard normal density).
fn legendre_panels(a: f64, b: f64, panels: usize, g: &impl Fn(f64) -> f64) -> f64 {
    let rule = legendre();
    let h = (b - a) / panels as f64;
    let inv_sqrt_2pi = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
    (0..panels)
        .map(|p| {
            let lo = a + p as f64 * h;
            rule.integrate(lo, lo + h, |x| g(x) * (-0.5 * x * x).exp() * inv_sqrt_2pi)
        })
        .sum()
}

/// E_{z~N(0,q)}\[g(z)\] for an activation-like g (bends on the unit scale of z, kinks at most at z = 0), at
/// any variance q >= 0: composite 16-point Gauss-Legendre in x = z/√q on \[-12, 12\], split at 0, panels
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

/// E_{z~N(0,q)}\[g(z)\] for a function g of the activation `act`: [`GaussHermite::standard`] where it is
/// accurate (smooth activation, √q <= [`GAUSS_HERMITE_MAX_SIGMA`]), else [`gaussian_expectation`].
pub fn expectation(act: Activation, q: f64, g: impl Fn(f64) -> f64) -> f64 {
    if is_smooth(act) && q.max(0.0).sqrt() <= GAUSS_HERMITE_MAX_SIGMA {
        GaussHermite::standard().expect(q, g)
    } else {
        gaussian_expectation(q, g)
    }
}
