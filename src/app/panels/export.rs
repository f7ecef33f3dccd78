//! The Export section of the side panel: where figures go, export (Ctrl+S), copy, window screenshot, and
//! the theme of exported figures.

use egui::Ui;

use crate::app::command::Command;
use crate::app::export::EXPORT_SHORTCUT;
use crate::app::settings::Settings;
use crate::viz::FigureTheme;

/// The export controls; returns the command pressed.
pub fn export_ui(ui: &mut Ui, settings: &mut Settings) -> Option<Command> {
    let mut command = None;
    ui.horizontal(|ui| {
        let label = ui.label("Save to");
        ui.add(
            egui::TextEdit::singleline(&mut settings.export_path)
                .hint_text(format!("gradscope-{}.png", settings.view.slug()))
                .desired_width(190.0),
        )
        .labelled_by(label.id)
        .on_hover_text(
            "PNG file for exports (empty: gradscope-<view>.png in the working directory)",
        );
    });
    ui.horizontal(|ui| {
        if ui
            .button("Export PNG")
            .on_hover_text(format!(
                "Save the current view as a 2x PNG figure with title, axes, colour bar and config ({})",
                ui.ctx().format_shortcut(&EXPORT_SHORTCUT)
            ))
            .clicked()
        {
            command = Some(Command::Export);
        }
        if ui
            .button("Copy")
            .on_hover_text("Copy the figure to the clipboard")
            .clicked()
        {
            command = Some(Command::CopyFigure);
        }
        if ui
            .button("Screenshot")
            .on_hover_text("Save the whole window as <name>-window.png")
            .clicked()
        {
            command = Some(Command::Screenshot);
        }
    });
    ui.horizontal(|ui| {
        ui.label("Figure theme")
            .on_hover_text("Theme of exported figures (light suits slides)");
        ui.selectable_value(&mut settings.export_theme, FigureTheme::Light, "light");
        ui.selectable_value(&mut settings.export_theme, FigureTheme::Dark, "dark");
    });
    command
}
