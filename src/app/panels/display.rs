//! The Display section of the side panel: the heatmaps' colour range, fixed decades or automatic.

use egui::Ui;

use super::field::checked_drag_value;
use crate::app::settings::Settings;
use crate::viz::RangeMode;
use crate::viz::colormap::{DEFAULT_HI, DEFAULT_LO};

/// The colour range of the heatmaps: fixed decades (editable) or stretched to the data.
pub fn display_ui(ui: &mut Ui, settings: &mut Settings) {
    ui.horizontal(|ui| {
        ui.label("Colour range").on_hover_text(
            "Fixed: the same decades for every setting, so colours compare. Auto: stretch to the data shown",
        );
        let fixed = matches!(settings.range, RangeMode::Fixed { .. });
        if ui.selectable_label(fixed, "fixed").clicked() && !fixed {
            settings.range = RangeMode::default();
        }
        if ui.selectable_label(!fixed, "auto").clicked() {
            settings.range = RangeMode::Auto;
        }
    });
    if let RangeMode::Fixed { lo, hi } = &mut settings.range {
        ui.horizontal(|ui| {
            let label = ui.label("from 1e");
            checked_drag_value(ui, lo, -400..=(*hi - 1), "Colour range from")
                .labelled_by(label.id)
                .on_hover_text(
                    "Smallest decade on the colour bar; smaller values are drawn black (vanished)",
                );
            let label = ui.label("to 1e");
            checked_drag_value(ui, hi, (*lo + 1)..=400, "Colour range to")
                .labelled_by(label.id)
                .on_hover_text("Largest decade; larger values are drawn magenta (exploding)");
            if ui.small_button("default").clicked() {
                (*lo, *hi) = (DEFAULT_LO, DEFAULT_HI);
            }
        });
    }
}
