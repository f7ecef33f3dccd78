//! The Export section of the side panel: where figures go, export (Ctrl+S), copy, window screenshot, and
//! the theme of exported figures.

use egui::Ui;

use crate::app::command::Command;
use crate::app::export::{EXPORT_SHORTCUT, GIF_SHORTCUT};
use crate::app::settings::Settings;
use crate::viz::FigureTheme;

/// The export controls (`animating`: what an animation being written says, if one is); returns the
/// command pressed.
pub fn export_ui(ui: &mut Ui, settings: &mut Settings, animating: Option<&str>) -> Option<Command> {
    let mut command = None;
    ui.horizontal(|ui| {
        let label = ui.label("Save to");
        ui.add(
            egui::TextEdit::singleline(&mut settings.export_path)
                .hint_text(format!("gradscope-{}.png", settings.view.slug()))
                .desired_width(190.0),
        )
        .labelled_by(label.id)
        .on_hover_text(if cfg!(target_arch = "wasm32") {
            "File name of the downloaded PNG (empty: gradscope-<view>.png)"
        } else {
            "PNG file for exports (empty: gradscope-<view>.png in the working directory)"
        });
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
            .on_hover_text(if cfg!(target_arch = "wasm32") {
                "Download the whole page as gradscope-<view>-window.png"
            } else {
                "Save the whole window as <name>-window.png"
            })
            .clicked()
        {
            command = Some(Command::Screenshot);
        }
    });
    ui.horizontal(|ui| {
        let button = ui.add_enabled(animating.is_none(), egui::Button::new("Export GIF"));
        if button
            .on_disabled_hover_text("a GIF is being written")
            .on_hover_text(if cfg!(target_arch = "wasm32") {
                format!(
                    "Download the current view over training so far as an animated GIF of up to {} frames, drawn from the steps the timeline kept ({})",
                    settings.animation_frames,
                    ui.ctx().format_shortcut(&GIF_SHORTCUT)
                )
            } else {
                format!(
                    "Retrain this network from step 0 to its current step offscreen and save the current view as an animated GIF of up to {} frames (<name>.gif beside the PNG); the window keeps running ({})",
                    settings.animation_frames,
                    ui.ctx().format_shortcut(&GIF_SHORTCUT)
                )
            })
            .clicked()
        {
            command = Some(Command::ExportGif);
        }
        ui.add(
            egui::DragValue::new(&mut settings.animation_frames)
                .range(2..=crate::app::settings::MAX_ANIMATION_FRAMES)
                .suffix(" frames"),
        )
        .on_hover_text("frames of the GIF, evenly spaced over the steps trained so far");
    });
    if let Some(text) = animating {
        ui.label(egui::RichText::new(text).weak());
    }
    ui.horizontal(|ui| {
        ui.label("Figure theme")
            .on_hover_text("Theme of exported figures (light suits slides)");
        ui.selectable_value(&mut settings.export_theme, FigureTheme::Light, "light");
        ui.selectable_value(&mut settings.export_theme, FigureTheme::Dark, "dark");
    });
    command
}
