//! The Experiment section's run controls: run or pause, one step, reset, and steps per frame.

use egui::Ui;

use super::field::checked_slider;
use crate::app::command::Command;
use crate::app::settings::{MAX_STEPS_PER_FRAME, Settings};

/// Run, pause, single step, reset, steps per frame; returns the command pressed.
pub fn run_ui(ui: &mut Ui, settings: &mut Settings) -> Option<Command> {
    let mut command = None;
    ui.horizontal(|ui| {
        let label = if settings.running { "Pause" } else { "Run" };
        if ui
            .button(label)
            .on_hover_text("Train continuously; the views update as the statistics arrive")
            .clicked()
        {
            settings.running = !settings.running;
        }
        if ui
            .button("Step")
            .on_hover_text("One training step, then show its gradient")
            .clicked()
        {
            command = Some(Command::Step);
        }
        if ui
            .button("Reset")
            .on_hover_text("Back to the same initial weights (step 0)")
            .clicked()
        {
            command = Some(Command::Reset);
        }
    });
    ui.horizontal(|ui| {
        ui.add_enabled_ui(!settings.auto_steps, |ui| {
            checked_slider(
                ui,
                &mut settings.steps_per_frame,
                1..=MAX_STEPS_PER_FRAME,
                "Steps/frame",
                false,
            )
            .on_hover_text(
                "Training steps recorded per frame: more trains faster, fewer keeps the window smooth",
            );
        });
        ui.checkbox(&mut settings.auto_steps, "auto").on_hover_text(
            "Pick steps per frame from the measured step time (fewer on a software adapter)",
        );
    });
    command
}
