//! Tooltip text shared by the panels: what each activation and each init does to the gradient.

use crate::model::{Activation, Init};

/// What an activation does to the gradient, for its tooltip.
pub fn activation_hint(a: Activation) -> &'static str {
    match a {
        Activation::Sigmoid => {
            "f' <= 0.25: every layer shrinks the gradient at least 4x; saturates both ways"
        }
        Activation::Tanh => {
            "f' <= 1, but saturates in both directions: large inputs stop the gradient"
        }
        Activation::Relu => {
            "f' is exactly 1 or 0: no shrinking through active units, but dead units pass nothing"
        }
        Activation::LeakyRelu => {
            "f' is 1 or 0.01: no dead units, negative side passes a little gradient"
        }
        Activation::Elu => {
            "f' = 1 for x > 0, smooth e^x below: saturates on the negative side only"
        }
        Activation::Gelu => {
            "smooth ReLU-like; f' slightly above 1 near 0, ~0 for very negative inputs"
        }
        Activation::Silu => {
            "x\u{b7}sigmoid(x): smooth ReLU-like, small negative dip, f' ~0 far left"
        }
        Activation::Softplus => {
            "ln(1+e^x): f' = sigmoid(x) < 1, so it shrinks the gradient a little everywhere"
        }
        Activation::Linear => {
            "f' = 1: the gradient only depends on the weights (products of matrices)"
        }
    }
}

/// What an init does to the gradient, for its tooltip.
pub fn init_hint(i: Init) -> &'static str {
    match i {
        Init::XavierUniform | Init::XavierNormal => {
            "Var(w) = 2/(in+out): keeps variance for tanh/linear; halves it per layer for ReLU"
        }
        Init::HeNormal | Init::HeUniform => {
            "Var(w) = 2/in: keeps the gradient's variance through ReLU layers"
        }
        Init::LecunNormal => {
            "Var(w) = 1/in: keeps variance for linear/SELU-like units; ReLU halves it"
        }
        Init::Orthogonal => {
            "g\u{b7}Q: preserves norms exactly in linear nets; great for RNNs (spectral radius g)"
        }
        Init::UniformClassic => {
            "U(\u{b1}1/sqrt in): Var = 1/(3 in), too small: gradients shrink with depth"
        }
        Init::Normal => "N(0, g\u{b2}): ignores the width; wide layers blow the gradient up",
    }
}
