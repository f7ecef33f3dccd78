//! The message line above the figure: the last error (with Dismiss), else the last status.

use egui::{RichText, Ui};

use crate::app::command::Command;

/// Shows `error` in an error frame, else `status` in weak text; returns [`Command::DismissError`] when the
/// user dismisses the error.
pub fn messages_ui(ui: &mut Ui, error: Option<&str>, status: Option<&str>) -> Option<Command> {
    let mut command = None;
    if let Some(err) = error {
        egui::Frame::new()
            .fill(ui.visuals().error_fg_color.gamma_multiply(0.15))
            .stroke(egui::Stroke::new(1.0, ui.visuals().error_fg_color))
            .inner_margin(6.0)
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    ui.label(
                        RichText::new(format!("Error: {err}")).color(ui.visuals().error_fg_color),
                    );
                    if ui.small_button("Dismiss").clicked() {
                        command = Some(Command::DismissError);
                    }
                });
            });
    } else if let Some(status) = status {
        ui.label(RichText::new(status).weak());
    }
    command
}
