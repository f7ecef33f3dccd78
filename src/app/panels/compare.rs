//! The Compare section of the side panel: network B beside A, editing only what B changes (activation,
//! init, gain, residual switch, RNN cell).

use egui::Ui;

use super::field::checked_slider;
use crate::app::hints::{activation_hint, init_hint};
use crate::app::settings::CompareSettings;
use crate::model::{Activation, Arch, Cell, Init, Norm};

/// The compare-mode controls; `arch` is A's architecture (residual connections are MLP only).
pub fn compare_ui(ui: &mut Ui, c: &mut CompareSettings, arch: Arch) {
    ui.checkbox(&mut c.on, "Compare A | B").on_hover_text(
        "Train a second network B beside A: same data, seed and shapes, trained in lockstep, one colour scale",
    );
    ui.add_enabled_ui(c.on, |ui| {
        egui::ComboBox::from_label("B activation")
            .selected_text(c.activation.name())
            .show_ui(ui, |ui| {
                for a in Activation::ALL {
                    ui.selectable_value(&mut c.activation, a, a.name())
                        .on_hover_text(activation_hint(a));
                }
            });
        egui::ComboBox::from_label("B init")
            .selected_text(c.init.name())
            .show_ui(ui, |ui| {
                for i in Init::ALL {
                    ui.selectable_value(&mut c.init, i, i.name())
                        .on_hover_text(init_hint(i));
                }
            });
        checked_slider(ui, &mut c.gain, 0.05..=10.0, "B gain", true);
        ui.add_enabled_ui(arch == Arch::Mlp, |ui| {
            ui.checkbox(&mut c.residual, "B residual");
            egui::ComboBox::from_label("B norm")
                .selected_text(c.norm.name())
                .show_ui(ui, |ui| {
                    for norm in Norm::ALL {
                        ui.selectable_value(&mut c.norm, norm, norm.name());
                    }
                })
                .response
                .on_hover_text("MLP only: B's normalization (LayerNorm beside none on one colour scale)");
        });
        ui.add_enabled_ui(arch == Arch::Rnn, |ui| {
            egui::ComboBox::from_label("B cell")
                .selected_text(c.cell.name())
                .show_ui(ui, |ui| {
                    for cell in Cell::ALL {
                        ui.selectable_value(&mut c.cell, cell, cell.name());
                    }
                })
                .response
                .on_hover_text(
                    "RNN only: B's recurrent cell (vanilla beside A's LSTM: same data and seed, one colour scale)",
                );
        });
    });
}
