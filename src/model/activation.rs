//! The nine activation functions and their exact derivatives.
//!
//! Keep the formulas in sync with `shaders/common.wgsl` (`act_f` / `act_df`): the GPU engine and this CPU
//! reference must compute the same functions, and the ids returned by [`Activation::shader_id`] select them.

use serde::{Deserialize, Serialize};

/// Negative slope of the leaky ReLU.
pub const LEAKY_SLOPE: f64 = 0.01;
/// `sqrt(2/pi)`, the constant of the tanh form of GELU.
const GELU_C: f64 = 0.797_884_560_802_865_4;
/// Cubic coefficient of the tanh form of GELU.
const GELU_A: f64 = 0.044_715;

/// An elementwise activation function.
///
/// GELU uses the tanh approximation `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))` everywhere (CPU and
/// GPU), and its derivative is the exact derivative of that form. ELU uses alpha = 1, leaky ReLU a slope of
/// 0.01. At exactly 0, ReLU's derivative is taken as 0 (a unit at 0 passes no gradient).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    /// Logistic sigmoid `1 / (1 + e^-x)`; derivative at most 0.25.
    Sigmoid,
    /// Hyperbolic tangent; derivative at most 1, saturates in both directions.
    Tanh,
    /// Rectified linear unit `max(0, x)`.
    Relu,
    /// `x` for x > 0, `0.01 x` otherwise.
    LeakyRelu,
    /// Exponential linear unit (alpha = 1).
    Elu,
    /// Gaussian error linear unit, tanh approximation.
    Gelu,
    /// Sigmoid-weighted linear unit `x * sigmoid(x)` (swish).
    Silu,
    /// `ln(1 + e^x)`, a smooth ReLU.
    Softplus,
    /// The identity.
    Linear,
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

impl Activation {
    /// Every activation, in the order the UI lists them.
    pub const ALL: [Activation; 9] = [
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu,
        Activation::Elu,
        Activation::Gelu,
        Activation::Silu,
        Activation::Softplus,
        Activation::Linear,
    ];

    /// The CLI/TOML name (`leaky-relu`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::LeakyRelu => "leaky-relu",
            Activation::Elu => "elu",
            Activation::Gelu => "gelu",
            Activation::Silu => "silu",
            Activation::Softplus => "softplus",
            Activation::Linear => "linear",
        }
    }

    /// Parses a CLI/TOML name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The id the shaders switch on. Keep in sync with `shaders/common.wgsl`.
    pub fn shader_id(self) -> u32 {
        match self {
            Activation::Sigmoid => 0,
            Activation::Tanh => 1,
            Activation::Relu => 2,
            Activation::LeakyRelu => 3,
            Activation::Elu => 4,
            Activation::Gelu => 5,
            Activation::Silu => 6,
            Activation::Softplus => 7,
            Activation::Linear => 8,
        }
    }

    /// f(x).
    pub fn f(self, x: f64) -> f64 {
        match self {
            Activation::Sigmoid => sigmoid(x),
            Activation::Tanh => x.tanh(),
            // NaN stays NaN (f64::max would turn it into 0, a dead unit)
            Activation::Relu => {
                if x > 0.0 || x.is_nan() {
                    x
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu => {
                if x > 0.0 {
                    x
                } else {
                    LEAKY_SLOPE * x
                }
            }
            Activation::Elu => {
                if x > 0.0 {
                    x
                } else {
                    x.exp_m1()
                }
            }
            Activation::Gelu => 0.5 * x * (1.0 + (GELU_C * (x + GELU_A * x * x * x)).tanh()),
            Activation::Silu => x * sigmoid(x),
            Activation::Softplus => {
                if x > 30.0 {
                    x
                } else {
                    x.exp().ln_1p()
                }
            }
            Activation::Linear => x,
        }
    }

    /// f'(x), the exact derivative of [`Activation::f`], in forms without cancellation: σ(x)σ(−x) rather
    /// than s(1 − s), 4σ(2x)σ(−2x) rather than 1 − tanh², so a slope is exactly 0 only where it is
    /// mathematically 0 (ReLU for x <= 0). Far in the tails the value still underflows f64 (|x| past about
    /// 745 for the sigmoid); [`Activation::slope`] carries it in the log domain there.
    pub fn df(self, x: f64) -> f64 {
        match self {
            Activation::Sigmoid => sigmoid(x) * sigmoid(-x),
            Activation::Tanh => 4.0 * sigmoid(2.0 * x) * sigmoid(-2.0 * x),
            Activation::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu => {
                if x > 0.0 {
                    1.0
                } else {
                    LEAKY_SLOPE
                }
            }
            Activation::Elu => {
                if x > 0.0 {
                    1.0
                } else {
                    x.exp()
                }
            }
            Activation::Gelu => {
                // past x = 10 the slope is 1 in f64 (the correction is ~1e-36); far left, x² would
                // overflow into 0 · ∞, and the slope is far below f64 ([`Activation::slope`] takes the
                // tail form)
                if x > 10.0 {
                    return 1.0;
                }
                if x < -1e100 {
                    return 0.0;
                }
                // 0.5 (1 + tanh u) = σ(2u) and 0.5 (1 − tanh² u) = 2 σ(2u) σ(−2u)
                let u = GELU_C * (x + GELU_A * x * x * x);
                let du = GELU_C * (1.0 + 3.0 * GELU_A * x * x);
                let (sp, sm) = (sigmoid(2.0 * u), sigmoid(-2.0 * u));
                sp + x * 2.0 * sp * sm * du
            }
            Activation::Silu => {
                let s = sigmoid(x);
                s + x * s * sigmoid(-x)
            }
            Activation::Softplus => sigmoid(x),
            Activation::Linear => 1.0,
        }
    }

    /// Whether f'(x) is mathematically exactly zero: only ReLU's non-positive side. Such a unit passes no
    /// gradient at all (a dead unit); every other slope is positive however small it gets. NaN is never an
    /// exact zero.
    pub fn is_exact_zero_slope(self, x: f64) -> bool {
        self == Activation::Relu && x <= 0.0
    }

    /// f'(x) as `mantissa · 2^exp2`, finite and accurate far beyond the f64 range of f'(x) itself (the
    /// closed-form asymptote of log2 |f'| in the tails). Where [`Activation::df`] is a normal f64 this is
    /// `(df, 0)`. `exp2` is clamped to ±[`MAX_SLOPE_EXP2`] (pre-activations of about ±7e5).
    pub fn slope(self, x: f64) -> Slope {
        let d = self.df(x);
        if d.is_nan() || self.is_exact_zero_slope(x) || d.abs() >= TAIL_SLOPE {
            return Slope {
                mantissa: d,
                exp2: 0,
            };
        }
        // Tails: log2 |f'| and the sign from the asymptotic form. In each case the terms dropped are
        // below 2^-900 relative to the ones kept. Past |x| = 1e7 every tail is beyond the exponent clamp
        // (as on the GPU, where this keeps every intermediate finite).
        let x = x.clamp(-1e7, 1e7);
        let (log2_abs, sign) = match self {
            // σ(x)σ(−x) = e^{−|x|} / (1 + e^{−|x|})²
            Activation::Sigmoid => (-x.abs() * LOG2_E, 1.0),
            // 4σ(2x)σ(−2x)
            Activation::Tanh => (2.0 - 2.0 * x.abs() * LOG2_E, 1.0),
            // e^x, x < 0 (and softplus' σ(x) for x → −∞)
            Activation::Elu | Activation::Softplus => (x * LOG2_E, 1.0),
            // σ(x)(1 + x σ(−x)) → e^x (1 + x) for x → −∞
            Activation::Silu => (x * LOG2_E + (1.0 + x).abs().log2(), (1.0 + x).signum()),
            // σ(2u)(1 + 2x σ(−2u) u') → e^{2u} (1 + 2x u') for x → −∞
            Activation::Gelu => {
                let u = GELU_C * x * (1.0 + GELU_A * x * x);
                let du = GELU_C * (1.0 + 3.0 * GELU_A * x * x);
                let f = 1.0 + 2.0 * x * du;
                (2.0 * u * LOG2_E + f.abs().log2(), f.signum())
            }
            // these never reach the tail (slopes >= 0.01)
            Activation::Relu | Activation::LeakyRelu | Activation::Linear => {
                return Slope {
                    mantissa: d,
                    exp2: 0,
                };
            }
        };
        let log2_abs = log2_abs.clamp(-(MAX_SLOPE_EXP2 as f64), MAX_SLOPE_EXP2 as f64);
        let k = log2_abs.floor();
        Slope {
            mantissa: sign * (log2_abs - k).exp2(),
            exp2: k as i64,
        }
    }

    /// The largest value of |f'| over the real line; a unit counts as saturated where
    /// |f'(z)| < [`SATURATION_THRESHOLD`] times this.
    pub fn peak_derivative(self) -> f64 {
        match self {
            Activation::Sigmoid => 0.25,
            // max of the GELU (tanh form) and SiLU derivatives, found numerically
            Activation::Gelu => 1.128_904,
            Activation::Silu => 1.099_839,
            _ => 1.0,
        }
    }

    /// Whether |f'(z)| counts as saturated: below [`SATURATION_THRESHOLD`] of the peak derivative.
    pub fn is_saturated(self, z: f64) -> bool {
        self.is_saturated_slope(self.slope(z))
    }

    /// [`Activation::is_saturated`] for a slope already computed by [`Activation::slope`].
    pub fn is_saturated_slope(self, s: Slope) -> bool {
        s.exp2 < 0 || s.mantissa.abs() < SATURATION_THRESHOLD * self.peak_derivative()
    }
}

/// `log2(e)`.
const LOG2_E: f64 = std::f64::consts::LOG2_E;
/// Below this |f'|, [`Activation::slope`] switches to the log-domain tail forms (well inside the normal
/// f64 range, and below any f32 value, so both engines split the same values the same way).
pub const TAIL_SLOPE: f64 = 1e-60;
/// The largest |log2 f'| [`Activation::slope`] reports; beyond it the exponent is clamped.
pub const MAX_SLOPE_EXP2: i64 = 1 << 20;

/// A derivative `mantissa · 2^exp2`, so that slopes far below the float range keep an exact exponent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Slope {
    /// The value scaled by 2^-exp2 (|mantissa| in [1, 2) in the tails; the plain f'(x) elsewhere).
    pub mantissa: f64,
    /// The power of two.
    pub exp2: i64,
}

impl Slope {
    /// log2 |f'|, finite for every nonzero slope; −∞ for an exact zero.
    pub fn log2_abs(self) -> f64 {
        self.mantissa.abs().log2() + self.exp2 as f64
    }

    /// The frexp exponent of |f'| (|f'| = f · 2^e, f in [0.5, 1)); `None` for zero or NaN.
    pub fn frexp_exponent(self) -> Option<i64> {
        (self.mantissa != 0.0 && self.mantissa.is_finite())
            .then(|| i64::from(frexp_exponent(self.mantissa)) + self.exp2)
    }

    /// `f' · 2^shift` as an f64 (0 where that underflows).
    pub fn scaled(self, shift: i64) -> f64 {
        ldexp(self.mantissa, self.exp2 + shift)
    }
}

/// The exponent e of frexp: x = f · 2^e with f in [0.5, 1). For x = 0 (or not finite) returns 0.
pub fn frexp_exponent(x: f64) -> i32 {
    if x == 0.0 || !x.is_finite() {
        return 0;
    }
    let bits = x.abs().to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        // subnormal: normalise first
        return frexp_exponent(x * 2f64.powi(64)) - 64;
    }
    biased - 1022
}

/// x · 2^e, exact where the result is a normal f64, for any i64 e.
pub fn ldexp(x: f64, e: i64) -> f64 {
    let mut x = x;
    let mut e = e;
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
        if x == 0.0 {
            return x;
        }
    }
    x * 2f64.powi(e as i32)
}

/// A unit is saturated where |f'(z)| is below this fraction of the activation's peak derivative.
/// Keep in sync with `shaders/common.wgsl`.
pub const SATURATION_THRESHOLD: f64 = 0.05;

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_finite_differences() {
        for act in Activation::ALL {
            for i in -40..=40 {
                let x = f64::from(i) * 0.173 + 0.011;
                let h = 1e-6;
                let fd = (act.f(x + h) - act.f(x - h)) / (2.0 * h);
                assert!(
                    (fd - act.df(x)).abs() < 1e-7,
                    "{act} at {x}: fd {fd} vs {}",
                    act.df(x)
                );
            }
        }
    }

    #[test]
    fn peak_derivatives_are_maxima() {
        for act in Activation::ALL {
            let max = (-4000..=4000)
                .map(|i| act.df(f64::from(i) * 0.005).abs())
                .fold(0.0, f64::max);
            assert!((max - act.peak_derivative()).abs() < 1e-4, "{act}: {max}");
        }
    }

    #[test]
    fn slopes_in_the_tails_match_the_direct_derivative_where_it_is_representable() {
        // between 1e-60 (where slope() switches to the tail forms) and f64's underflow, both exist
        for act in Activation::ALL {
            for i in 0..400 {
                let x = if i % 2 == 0 { 1.0 } else { -1.0 } * (20.0 + f64::from(i) * 1.7);
                let d = act.df(x);
                let s = act.slope(x);
                if d == 0.0 || !d.is_normal() {
                    continue;
                }
                let v = s.scaled(0);
                assert!(
                    ((v - d) / d).abs() < 1e-9,
                    "{act} at {x}: slope {v:e} vs df {d:e}"
                );
            }
        }
    }

    #[test]
    fn only_relu_has_exact_zero_slopes_and_tails_stay_finite_beyond_the_float_ranges() {
        for act in Activation::ALL {
            for x in [
                -1e5, -3000.0, -800.0, -100.0, -50.0, 50.0, 100.0, 800.0, 3000.0, 1e5,
            ] {
                let s = act.slope(x);
                let exact_zero = act.is_exact_zero_slope(x);
                assert_eq!(
                    exact_zero,
                    act == Activation::Relu && x < 0.0,
                    "{act} at {x}"
                );
                if !exact_zero {
                    assert!(s.log2_abs().is_finite(), "{act} at {x}: {s:?}");
                }
            }
            assert!(!act.is_exact_zero_slope(f64::NAN));
        }
        // sigmoid at 1000: log2 σ'(1000) = -1000 log2(e), far below f64 (and f32)
        let s = Activation::Sigmoid.slope(1000.0);
        assert!((s.log2_abs() + 1000.0 * LOG2_E).abs() < 1e-9);
        assert!(Activation::Sigmoid.is_saturated(1000.0));
        assert!(Activation::Tanh.is_saturated(-1e4));
        // tanh at 400 (1 - tanh² cancels to 0 in f64 past |x| ≈ 19)
        let t = Activation::Tanh.slope(400.0);
        assert!((t.log2_abs() - (2.0 - 800.0 * LOG2_E)).abs() < 1e-9);
    }

    #[test]
    fn relu_keeps_nan() {
        assert!(Activation::Relu.f(f64::NAN).is_nan());
    }

    #[test]
    fn names_round_trip() {
        for act in Activation::ALL {
            assert_eq!(Activation::from_name(act.name()), Some(act));
        }
    }
}
