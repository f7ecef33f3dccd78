//! The Jacobian section of the side panel: compute the spectrum of the current weights (on a worker
//! thread) and open its view.

use egui::{RichText, Ui};

use crate::app::command::Command;
use crate::app::jacobian::limit_text;

/// The button, disabled while a spectrum is computed (`pending`); returns the command pressed.
pub fn jacobian_ui(ui: &mut Ui, pending: bool) -> Option<Command> {
    let clicked = ui
        .add_enabled(!pending, egui::Button::new("Compute Jacobian spectrum"))
        .on_hover_text(format!(
            "Singular values of the hidden-layer Jacobian at the current weights ({}); opens its view",
            limit_text()
        ))
        .clicked();
    if pending {
        ui.label(RichText::new("computing...").weak());
    }
    clicked.then_some(Command::ComputeJacobian)
}
