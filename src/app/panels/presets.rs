//! The Experiment section's preset picker: the built-in presets by title (the one applied last, marked
//! "(modified)" once a control changed its config), its lesson, and a preset file to load.

use egui::{RichText, Ui};

use crate::app::command::Command;
use crate::app::settings::Settings;
use crate::model::{BUILTIN_PRESETS, Preset};

/// Preset picker and preset file loader; returns the command chosen. `description` is the lesson of the
/// preset applied last; `loading` says a preset file is being read.
pub fn presets_ui(
    ui: &mut Ui,
    settings: &mut Settings,
    description: &str,
    loading: bool,
) -> Option<Command> {
    let mut command = None;
    // the description stays while the user edits (no layout jump under a dragged slider); the title says so
    let selected_title = match Preset::builtin(&settings.preset) {
        Ok(p) if p.config() == settings.config => p.title,
        Ok(p) => format!("{} (modified)", p.title),
        Err(_) => "custom".into(),
    };
    egui::ComboBox::from_label("Preset")
        .selected_text(selected_title)
        .width((ui.available_width() - 70.0).max(120.0))
        .truncate()
        .show_ui(ui, |ui| {
            for (name, _) in BUILTIN_PRESETS {
                let title = Preset::builtin(name)
                    .map(|p| p.title)
                    .unwrap_or_else(|e| e.to_string());
                if ui
                    .selectable_label(settings.preset == *name, title)
                    .clicked()
                {
                    command = Some(Command::Preset((*name).to_string()));
                }
            }
        })
        .response
        .on_hover_text("Ready-made experiments, each teaching one lesson about gradients");
    if !description.is_empty() {
        ui.label(RichText::new(description).italics());
    }
    // the browser build has no file system: its presets are the built-in ones (a dropped figure PNG
    // still restores any config)
    if cfg!(not(target_arch = "wasm32")) {
        command = command.or(preset_file_ui(ui, settings));
    }
    if loading {
        ui.label(RichText::new("reading the preset file...").weak());
    }
    command
}

/// The preset file field and its button.
fn preset_file_ui(ui: &mut Ui, settings: &mut Settings) -> Option<Command> {
    let mut command = None;
    ui.horizontal(|ui| {
        let label = ui.label("Preset file");
        ui.add(
            egui::TextEdit::singleline(&mut settings.preset_path)
                .hint_text("path/to/preset.toml")
                .desired_width(150.0),
        )
        .labelled_by(label.id)
        .on_hover_text("A preset .toml file (see assets/presets/ for the format)");
        if ui
            .button("Load preset")
            .on_hover_text("Read the file and apply it")
            .clicked()
        {
            command = Some(Command::PresetFile(settings.preset_path.clone()));
        }
    });
    command
}
