//! The Network section of the side panel: architecture, depth, width, activation, init, gain, the RNN's
//! cell and forget bias, spectral radius, residual connections and bias spread, each with a tooltip that says what it does to
//! the gradients; for the RNN, the W_h spectrum readout.

use egui::{RichText, Ui};

use super::field::checked_slider;
use crate::app::hints::{activation_hint, init_hint};
use crate::app::theory::WhSpectrum;
use crate::model::{Activation, Arch, Cell, Init, MAX_FORGET_BIAS, MAX_WIDTH, NetConfig, Norm};

/// The network controls; edits `cfg` in place (the app applies what changed).
pub fn network_ui(ui: &mut Ui, cfg: &mut NetConfig) {
    ui.horizontal(|ui| {
        ui.label("Architecture")
            .on_hover_text("MLP: depth = layers. RNN: depth = unrolled time steps.");
        let mut arch = cfg.arch;
        ui.selectable_value(&mut arch, Arch::Mlp, "MLP").on_hover_text(
            "A deep multilayer perceptron: the gradient passes through `depth` layers",
        );
        ui.selectable_value(&mut arch, Arch::Rnn, "RNN").on_hover_text(
            "A recurrent net unrolled over `depth` time steps with shared weights: a very deep net in time",
        );
        if arch != cfg.arch {
            cfg.set_arch(arch);
        }
    });
    let depth_hint = match cfg.arch {
        Arch::Mlp => {
            "Hidden layers: every layer multiplies the gradient by its Jacobian, so small factors compound"
        }
        Arch::Rnn => {
            "Time steps: the gradient passes through the same recurrent matrix once per step"
        }
    };
    checked_slider(ui, &mut cfg.depth, cfg.arch.depth_range(), "Depth", true)
        .on_hover_text(depth_hint);
    checked_slider(ui, &mut cfg.width, 1..=MAX_WIDTH, "Width", true).on_hover_text(
        "Units per layer (hidden size): with a width-aware init the gradient's scale does not depend on it",
    );
    egui::ComboBox::from_label("Activation")
        .selected_text(cfg.activation.name())
        .show_ui(ui, |ui| {
            for a in Activation::ALL {
                ui.selectable_value(&mut cfg.activation, a, a.name())
                    .on_hover_text(activation_hint(a));
            }
        })
        .response
        .on_hover_text(format!(
            "The hidden nonlinearity; the same initial weights are kept so the comparison is fair.\n{}",
            activation_hint(cfg.activation)
        ));
    egui::ComboBox::from_label("Init")
        .selected_text(cfg.init.name())
        .show_ui(ui, |ui| {
            for i in Init::ALL {
                ui.selectable_value(&mut cfg.init, i, i.name())
                    .on_hover_text(init_hint(i));
            }
        })
        .response
        .on_hover_text(format!("How the weights start.\n{}", init_hint(cfg.init)));
    checked_slider(ui, &mut cfg.gain, 0.05..=10.0, "Gain", true).on_hover_text(
        "Multiplies the init scale: each layer scales the gradient by about the gain; above 1 it explodes, below 1 it vanishes",
    );
    if cfg.arch == Arch::Rnn {
        cell_ui(ui, cfg);
        spectral_radius_ui(ui, cfg);
    }
    ui.add_enabled_ui(cfg.arch == Arch::Mlp, |ui| {
        ui.checkbox(&mut cfg.residual, "Residual").on_hover_text(
            "a_l = f(z_l) + a_{l-1}: the identity path carries the gradient past every layer (MLP only)",
        );
        norm_ui(ui, cfg);
    });
    checked_slider(ui, &mut cfg.bias_std, 0.0..=2.0, "Bias std", false).on_hover_text(
        "Spread of the initial biases: large biases push units into saturation (sigmoid/tanh) or death (ReLU)",
    );
}

/// MLP only: LayerNorm or BatchNorm on every hidden pre-activation.
pub fn norm_ui(ui: &mut Ui, cfg: &mut NetConfig) {
    ui.horizontal(|ui| {
        ui.label("Norm").on_hover_text(
            "Normalize every hidden pre-activation z_l, then scale and shift it (learnable γ, β) before the \
             activation. The gradient map still shows ∂L/∂z_l.",
        );
        for norm in Norm::ALL {
            let hint = match norm {
                Norm::None => "No normalization",
                Norm::Layer => {
                    "Each sample's pre-activation normalized over the layer's units (Ba et al. 2016): \
                     the activation sees values near N(0, γ²) whatever the gain, so tanh stops saturating"
                }
                Norm::Batch => {
                    "Each unit normalized over the batch (Ioffe & Szegedy 2015), training-mode statistics. \
                     At init it makes a deep net's gradient explode toward the input (Yang et al. 2019); \
                     its layers have no bias b_l (the batch mean would cancel it)"
                }
            };
            ui.selectable_value(&mut cfg.norm, norm, norm.label())
                .on_hover_text(hint);
        }
    });
}

/// RNN only: the recurrent cell and, for the gated ones, the keep gate's bias at init.
pub fn cell_ui(ui: &mut Ui, cfg: &mut NetConfig) {
    ui.horizontal(|ui| {
        ui.label("Cell").on_hover_text(
            "The recurrent cell. Vanilla: h_t = f(W_x x_t + W_h h_{t-1} + b). LSTM and GRU add gates; \
             the LSTM's cell state c_t carries the error back through time multiplied only by the forget gates",
        );
        for cell in Cell::ALL {
            let hint = match cell {
                Cell::Vanilla => "The plain recurrent net: the error passes through W_h and f' at every step",
                Cell::Lstm => {
                    "Long short-term memory (Hochreiter & Schmidhuber 1997): input, forget, candidate and \
                     output gates; the cell path ∂L/∂c_{t-1} = ∂L/∂c_t ⊙ f_t + … keeps the error alive while f ≈ 1"
                }
                Cell::Gru => {
                    "Gated recurrent unit (Cho et al. 2014): reset and update gates; h_t = (1 − z) ⊙ n + z ⊙ h_{t-1} \
                     passes the error straight back where the update gate z ≈ 1"
                }
            };
            ui.selectable_value(&mut cfg.cell, cell, cell.name().to_uppercase())
                .on_hover_text(hint);
        }
    });
    if cfg.cell.is_gated() {
        let gate = if cfg.cell == Cell::Lstm {
            "forget gate f"
        } else {
            "update gate z"
        };
        checked_slider(
            ui,
            &mut cfg.forget_bias,
            -MAX_FORGET_BIAS..=MAX_FORGET_BIAS,
            "Forget bias",
            false,
        )
        .on_hover_text(format!(
            "Bias of the {gate} at init (added to the drawn biases). σ(1) ≈ 0.73, σ(5) ≈ 0.99: the error \
             over k steps scales about like (mean gate)^k, so 0 lets it vanish and 1–5 keeps it (Jozefowicz et al. 2015)"
        ));
    }
}

/// RNN only: rescale W_h at init to a chosen spectral radius ρ (off: the init scheme's own scale).
pub fn spectral_radius_ui(ui: &mut Ui, cfg: &mut NetConfig) {
    ui.horizontal(|ui| {
        let mut on = cfg.spectral_radius.is_some();
        ui.checkbox(&mut on, "Set \u{3c1}(W_h)").on_hover_text(
            "Rescale the recurrent matrix at init so its spectral radius (largest |eigenvalue|) is \u{3c1}: \
             the gradient over k steps scales like \u{3c1}^k, so \u{3c1} < 1 vanishes and \u{3c1} > 1 explodes",
        );
        let mut rho = cfg.spectral_radius.unwrap_or(1.0);
        ui.add_enabled_ui(on, |ui| {
            checked_slider(ui, &mut rho, 0.1..=3.0, "Spectral radius", true)
                .on_hover_text("\u{3c1} of W_h at init (1: the edge between vanishing and exploding)");
        });
        cfg.spectral_radius = on.then_some(rho);
    });
}

/// The RNN's W_h spectrum as last read: spectral radius and spectral norm.
pub fn wh_readout_ui(ui: &mut Ui, spectrum: Option<WhSpectrum>) {
    let text = match spectrum {
        Some(s) => format!(
            "W_h at step {}: \u{3c1} = {:.4}, ||W_h||\u{2082} = {:.4}",
            s.step, s.radius, s.norm
        ),
        None => "W_h: reading its spectrum...".into(),
    };
    ui.label(RichText::new(text).monospace()).on_hover_text(
        "Spectral radius \u{3c1} (largest |eigenvalue|): the per-step factor of the gradient over many \
         steps. Spectral norm (largest singular value): the most one step can stretch it. Updated about \
         once a second while training, and after every step when paused.",
    );
}
