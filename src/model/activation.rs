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
            Activation::Relu => x.max(0.0),
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

    /// f'(x), the exact derivative of [`Activation::f`].
    pub fn df(self, x: f64) -> f64 {
        match self {
            Activation::Sigmoid => {
                let s = sigmoid(x);
                s * (1.0 - s)
            }
            Activation::Tanh => {
                let t = x.tanh();
                1.0 - t * t
            }
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
                let u = GELU_C * (x + GELU_A * x * x * x);
                let t = u.tanh();
                let du = GELU_C * (1.0 + 3.0 * GELU_A * x * x);
                0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du
            }
            Activation::Silu => {
                let s = sigmoid(x);
                s * (1.0 + x * (1.0 - s))
            }
            Activation::Softplus => sigmoid(x),
            Activation::Linear => 1.0,
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
        self.df(z).abs() < SATURATION_THRESHOLD * self.peak_derivative()
    }
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
    fn names_round_trip() {
        for act in Activation::ALL {
            assert_eq!(Activation::from_name(act.name()), Some(act));
        }
    }
}
