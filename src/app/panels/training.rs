//! The Training section of the side panel: update rule, learning rate, batch, clipping, seed and task.

use egui::Ui;

use super::field::{checked_drag_value, checked_slider};
use crate::model::{MAX_BATCH, NetConfig, Optimizer, Task};

/// The training controls; edits `cfg` in place (the app applies what changed).
pub fn training_ui(ui: &mut Ui, cfg: &mut NetConfig) {
    egui::ComboBox::from_label("Optimizer")
        .selected_text(format!("{:?}", cfg.optimizer).to_lowercase())
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut cfg.optimizer, Optimizer::Sgd, "sgd")
                .on_hover_text("w -= lr\u{b7}g: a vanished gradient means no learning");
            ui.selectable_value(&mut cfg.optimizer, Optimizer::Momentum, "momentum")
                .on_hover_text("Accumulates past gradients (0.9): small consistent gradients add up");
            ui.selectable_value(&mut cfg.optimizer, Optimizer::Adam, "adam")
                .on_hover_text("Divides by the gradient's rms: hides the scale of vanishing gradients from the update");
        })
        .response
        .on_hover_text("The update rule; the gradient statistics are the same, the learning is not");
    checked_slider(ui, &mut cfg.lr, 1e-5..=10.0, "Learning rate", true)
        .on_hover_text("Step size: too large and the weights, then the gradients, blow up to NaN");
    checked_slider(ui, &mut cfg.batch, 1..=MAX_BATCH, "Batch", true).on_hover_text(
        "Samples per step: the per-unit mean |\u{2202}L/\u{2202}z| averages over them (less noise, slower steps)",
    );
    ui.horizontal(|ui| {
        let mut on = cfg.clip.is_some();
        ui.checkbox(&mut on, "Clip").on_hover_text(
            "Rescale the whole gradient when its norm exceeds the threshold: tames explosions, cannot fix vanishing",
        );
        let mut threshold = cfg.clip.unwrap_or(1.0);
        ui.add_enabled_ui(on, |ui| {
            checked_slider(ui, &mut threshold, 0.01..=100.0, "threshold", true)
                .on_hover_text("Largest global gradient norm allowed");
        });
        cfg.clip = on.then_some(threshold);
    });
    ui.horizontal(|ui| {
        let label = ui.label("Seed");
        checked_drag_value(ui, &mut cfg.seed, 0..=u64::MAX, "Seed")
            .labelled_by(label.id)
            .on_hover_text("Seed of data and initial weights: another draw of the same experiment");
    });
    egui::ComboBox::from_label("Task")
        .selected_text(format!("{:?}", cfg.task).to_lowercase())
        .show_ui(ui, |ui| {
            for t in [Task::Teacher, Task::Spiral, Task::Adding, Task::Memory] {
                if t.fits(cfg.arch) {
                    ui.selectable_value(&mut cfg.task, t, format!("{t:?}").to_lowercase());
                }
            }
        })
        .response
        .on_hover_text(
            "What the net learns: teacher (regression), spiral (classification); RNN: adding, memory (long-range)",
        );
}
