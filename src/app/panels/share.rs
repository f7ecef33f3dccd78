//! The Share section of the side panel: copy this network's config string (in the browser, a link to
//! the lesson), or paste one and apply it.

use egui::Ui;

use crate::app::command::Command;

/// The config string field and its buttons; returns the command pressed.
pub fn share_ui(ui: &mut Ui, config_text: &mut String) -> Option<Command> {
    let mut command = None;
    ui.horizontal(|ui| {
        if ui
            .button("Copy config")
            .on_hover_text(
                "Copy this network's config as one line of JSON, to paste into another gradscope",
            )
            .clicked()
        {
            command = Some(Command::CopyConfig);
        }
        if cfg!(target_arch = "wasm32")
            && ui
                .button("Copy link")
                .on_hover_text(
                    "Copy this page's address with the lesson in it: opening the link restores \
                     exactly this network (the address bar follows every change too)",
                )
                .clicked()
        {
            command = Some(Command::CopyLink);
        }
        if ui
            .button("Apply config")
            .on_hover_text(
                "Use the config string in the field below (invalid text changes nothing)",
            )
            .clicked()
        {
            command = Some(Command::ApplyConfig);
        }
    });
    let label = ui.label("Config string");
    ui.add(
        egui::TextEdit::singleline(config_text)
            .hint_text("paste a config string, or drop an exported PNG on the window")
            .desired_width(ui.available_width()),
    )
    .labelled_by(label.id)
    .on_hover_text("A config string copied from gradscope (JSON); press Apply config");
    command
}
