//! The order-to-chaos phase diagram of deep signal propagation (Poole et al. 2016, Schoenholz et al. 2017):
//! over the plane of weight variance σ_w² and bias variance σ_b², where the backward factor χ₁ crosses 1
//! and how many layers a signal survives (the depth scale ξ_c). The trainability map draws both over its
//! measured grid.
//!
//! Conventions (σ_w² = n·Var(w) of a hidden layer, σ_b² = bias std², as in [`super::mean_field`]):
//! - The length map q ← σ_w²·E\[f(z)²\] + σ_b² (z ~ N(0, q)) has a fixed point q*; a deep plain net's
//!   pre-activations sit there after a few layers.
//! - χ₁ = σ_w²·E\[f'(z)²\] at q*: the per-layer factor of E\[δ²\] deep in the net. χ₁ < 1 is the ordered
//!   phase (gradients vanish towards the input), χ₁ > 1 the chaotic phase (they explode); χ₁ = 1 is the
//!   critical line, "the edge of chaos".
//! - The correlation map of two inputs: c ← (σ_w²·E\[f(u₁)f(u₂)\] + σ_b²)/q*, u₁ = √q*·z₁,
//!   u₂ = √q*·(c·z₁ + √(1-c²)·z₂). Its stable fixed point c* is 1 in the ordered phase and below 1 in the
//!   chaotic one; χ_c = σ_w²·E\[f'(u₁)f'(u₂)\] at c* (equal to χ₁ where c* = 1) and the depth scale
//!   ξ_c = -1/ln χ_c, infinite on the critical line. Schoenholz et al. found nets trainable to a depth of
//!   about [`TRAINABLE_DEPTH_SCALES`]·ξ_c.
//!
//! Accuracy: q* and χ₁ use [`super::quadrature::expectation`] (1e-9 or better). The two-dimensional
//! expectations of the correlation map use a product Gauss-Hermite rule of [`PAIR_ORDER`]² points: good to
//! a few digits for smooth activations at moderate q*, which is all a line on a figure needs; rectifiers'
//! kinks make them rougher.

use super::mean_field::{chi, second_moment};
use super::quadrature::GaussHermite;
use crate::model::Activation;

/// Layers per depth scale up to which Schoenholz et al. (2017) trained nets: depth ≲ 6·ξ_c.
pub const TRAINABLE_DEPTH_SCALES: f64 = 6.0;
/// Points per dimension of the product rule of the correlation map.
pub const PAIR_ORDER: usize = 24;
/// Largest iteration count of the length map.
const MAX_LENGTH_ITERATIONS: usize = 30;
/// Bisection steps of the critical line and of c* (a bracket shrinks by 2^-36).
const BISECTIONS: usize = 36;
/// Bisection steps of the band edges (2^-24 of the bracket: far below a pixel, and each step solves the
/// correlation map).
const BAND_BISECTIONS: usize = 24;

/// The fixed point q* of the length map, from q = 1 (0 where the map contracts to 0: no bias and an
/// ordered odd activation).
pub fn q_star(act: Activation, sigma_w2: f64, sigma_b2: f64) -> f64 {
    let mut q = 1.0;
    for _ in 0..MAX_LENGTH_ITERATIONS {
        let next = sigma_w2 * second_moment(act, q) + sigma_b2;
        if !next.is_finite() {
            return next;
        }
        let done = (next - q).abs() <= 1e-12 * (1.0 + q);
        q = next;
        if done || q < 1e-14 {
            break;
        }
    }
    // near the critical line the map converges like 1/l; Newton on g(q) = map(q) - q finishes the job
    let g = |q: f64| sigma_w2 * second_moment(act, q) + sigma_b2 - q;
    for _ in 0..60 {
        if q < 1e-14 {
            break;
        }
        let h = 1e-6 * q;
        let slope = (g(q + h) - g(q - h)) / (2.0 * h);
        if !(slope.is_finite() && slope != 0.0) {
            break;
        }
        let next = (q - g(q) / slope).max(0.0);
        let done = (next - q).abs() <= 1e-13 * (1.0 + q);
        q = next;
        if done {
            break;
        }
    }
    if q < 1e-14 { 0.0 } else { q }
}

/// χ₁ = σ_w²·E\[f'(z)²\] at q*.
pub fn chi1(act: Activation, sigma_w2: f64, sigma_b2: f64) -> f64 {
    chi(act, sigma_w2, q_star(act, sigma_w2, sigma_b2))
}

/// E\[g(u₁, u₂)\] over the pair (u₁, u₂) of variance q and correlation c.
fn pair_expectation(q: f64, c: f64, g: impl Fn(f64, f64) -> f64) -> f64 {
    static RULE: std::sync::OnceLock<GaussHermite> = std::sync::OnceLock::new();
    let rule = RULE.get_or_init(|| {
        GaussHermite::new(PAIR_ORDER).unwrap_or_else(|_| GaussHermite::standard().clone())
    });
    let s = q.max(0.0).sqrt();
    let c = c.clamp(-1.0, 1.0);
    let r = (1.0 - c * c).max(0.0).sqrt();
    let mut sum = 0.0;
    for (z1, w1) in rule.nodes().iter().zip(rule.weights()) {
        let u1 = s * z1;
        let mut inner = 0.0;
        for (z2, w2) in rule.nodes().iter().zip(rule.weights()) {
            inner += w2 * g(u1, s * (c * z1 + r * z2));
        }
        sum += w1 * inner;
    }
    sum
}

/// Where the signal propagation of (σ_w², σ_b²) stands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PhasePoint {
    /// The length map's fixed point.
    pub q_star: f64,
    /// The backward factor at q*.
    pub chi1: f64,
    /// The correlation map's stable fixed point (1 in the ordered phase).
    pub c_star: f64,
    /// The correlation map's slope at c*.
    pub chi_c: f64,
    /// The depth scale -1/ln χ_c (infinite on the critical line).
    pub xi_c: f64,
}

/// q*, χ₁, c*, χ_c and ξ_c of (σ_w², σ_b²).
pub fn phase_point(act: Activation, sigma_w2: f64, sigma_b2: f64) -> PhasePoint {
    let q = q_star(act, sigma_w2, sigma_b2);
    let chi1 = chi(act, sigma_w2, q);
    let (c_star, chi_c) = if chi1 <= 1.0 || q == 0.0 {
        (1.0, chi1)
    } else {
        // chaotic: the correlation map C(c) has C(1) = 1 with slope χ₁ > 1 there, so C(c) - c changes sign
        // between c = 0 (C(0) >= 0) and just below 1; the stable fixed point is that root
        let map =
            |c: f64| (sigma_w2 * pair_expectation(q, c, |a, b| act.f(a) * act.f(b)) + sigma_b2) / q;
        let (mut lo, mut hi) = (0.0f64, 1.0 - 1e-9);
        if map(lo) - lo <= 0.0 {
            hi = lo;
        }
        for _ in 0..BISECTIONS {
            let mid = 0.5 * (lo + hi);
            if map(mid) - mid > 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let c = 0.5 * (lo + hi);
        let chi_c = sigma_w2 * pair_expectation(q, c, |a, b| act.df(a) * act.df(b));
        (c, chi_c)
    };
    let xi_c = if chi_c > 0.0 && chi_c != 1.0 {
        (-1.0 / chi_c.ln()).abs()
    } else {
        f64::INFINITY
    };
    PhasePoint {
        q_star: q,
        chi1,
        c_star,
        chi_c,
        xi_c,
    }
}

/// The root of `f` on `[lo, hi]` by bisection, where `f` changes sign there.
fn bisect(lo: f64, hi: f64, f: impl Fn(f64) -> f64) -> Option<f64> {
    bisect_steps(lo, hi, BISECTIONS, f)
}

/// The root of `f` on `[lo, hi]` by `steps` bisection halvings, where `f` changes sign there (`None`
/// where it does not, or is not finite).
pub fn bisect_steps(lo: f64, hi: f64, steps: usize, f: impl Fn(f64) -> f64) -> Option<f64> {
    let (mut a, mut b) = (lo, hi);
    let (fa, fb) = (f(a), f(b));
    if !(fa.is_finite() && fb.is_finite()) || fa.signum() == fb.signum() {
        return None;
    }
    for _ in 0..steps {
        let m = 0.5 * (a + b);
        let fm = f(m);
        if !fm.is_finite() {
            return None;
        }
        if fm.signum() == fa.signum() {
            a = m;
        } else {
            b = m;
        }
    }
    Some(0.5 * (a + b))
}

/// The critical σ_w² (χ₁ = 1) for σ_b², searched in `[lo, hi]`; `None` where χ₁ does not cross 1 there.
pub fn critical_sigma_w2(act: Activation, sigma_b2: f64, lo: f64, hi: f64) -> Option<f64> {
    bisect(lo, hi, |w2| chi1(act, w2, sigma_b2).ln())
}

/// The σ_w² on each side of the critical line (ordered, chaotic) where `depth` = `multiple`·ξ_c: between
/// them a net of that depth is within the trainable band. Searched in `[lo, hi]`; `None` on a side where
/// the band edge lies outside it (or there is no critical point in it).
pub fn depth_scale_band(
    act: Activation,
    sigma_b2: f64,
    depth: f64,
    multiple: f64,
    lo: f64,
    hi: f64,
) -> (Option<f64>, Option<f64>) {
    let Some(critical) = critical_sigma_w2(act, sigma_b2, lo, hi) else {
        return (None, None);
    };
    let target = depth / multiple;
    let gap = |w2: f64| phase_point(act, w2, sigma_b2).xi_c.min(1e12).ln() - target.ln();
    (
        bisect_steps(lo, critical * (1.0 - 1e-9), BAND_BISECTIONS, gap),
        bisect_steps(critical * (1.0 + 1e-9), hi, BAND_BISECTIONS, gap),
    )
}
