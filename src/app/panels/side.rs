//! The side panel: the sections in order (Experiment, Network, Training, Display, Export, Share, Compare,
//! Trainability map, Jacobian; the Trainability map right after Experiment while its view is open), in a scroll
//! area. It edits the settings in place and returns the commands pressed.

use egui::Ui;

use super::compare::compare_ui;
use super::display::display_ui;
use super::export::export_ui;
use super::jacobian::jacobian_ui;
use super::network::{network_ui, wh_readout_ui};
use super::presets::presets_ui;
use super::run_controls::run_ui;
use super::share::share_ui;
use super::sweep::{SweepProgress, sweep_ui};
use super::training::training_ui;
use crate::app::command::Command;
use crate::app::settings::Settings;
use crate::app::theory::WhSpectrum;
use crate::model::Arch;

/// What the side panel shows and edits, borrowed from the app for one frame.
#[derive(Debug)]
pub struct SidePanel<'a> {
    /// The settings the controls edit.
    pub settings: &'a mut Settings,
    /// The lesson of the preset applied last.
    pub preset_description: &'a str,
    /// Whether a preset file is being read.
    pub preset_loading: bool,
    /// The architecture network A runs now (the W_h readout is for the RNN).
    pub running_arch: Arch,
    /// Network A's W_h spectrum, as last read.
    pub wh: Option<WhSpectrum>,
    /// The config string field.
    pub config_text: &'a mut String,
    /// Whether a Jacobian spectrum is being computed.
    pub jacobian_pending: bool,
    /// The sweep in progress, if any.
    pub sweep: SweepProgress,
    /// What an animated export being written says, if one is.
    pub animating: Option<&'a str>,
}

impl SidePanel<'_> {
    /// Draws the panel; returns the commands pressed, in order.
    pub fn ui(self, ui: &mut Ui) -> Vec<Command> {
        let SidePanel {
            settings,
            preset_description,
            preset_loading,
            running_arch,
            wh,
            config_text,
            jacobian_pending,
            sweep,
            animating,
        } = self;
        let mut commands = Vec::new();
        egui::ScrollArea::vertical().show(ui, |ui| {
            // wide sliders: the logarithmic depth slider spans 1..=1024 and needs room for fine control
            ui.spacing_mut().slider_width = (ui.available_width() - 130.0).clamp(100.0, 220.0);
            ui.heading("Experiment");
            commands.extend(presets_ui(ui, settings, preset_description, preset_loading));
            ui.separator();
            commands.extend(run_ui(ui, settings));
            ui.separator();
            // the map's controls come first while its view is open (else in their place below)
            let map_first = settings.view == crate::viz::View::Trainability;
            if map_first {
                ui.heading("Trainability map");
                commands.extend(sweep_ui(ui, &mut settings.sweep, sweep));
                ui.separator();
            }
            ui.heading("Network");
            network_ui(ui, &mut settings.config);
            // a gated cell's W_h stacks its gates' blocks: no one matrix whose spectrum sets the decay
            if running_arch == Arch::Rnn && !settings.config.cell.is_gated() {
                wh_readout_ui(ui, wh);
            }
            ui.separator();
            ui.heading("Training");
            training_ui(ui, &mut settings.config);
            ui.separator();
            ui.heading("Display");
            display_ui(ui, settings);
            ui.separator();
            ui.heading("Export");
            commands.extend(export_ui(ui, settings, animating));
            ui.separator();
            ui.heading("Share");
            commands.extend(share_ui(ui, config_text));
            ui.separator();
            ui.heading("Compare");
            compare_ui(ui, &mut settings.compare, settings.config.arch);
            ui.separator();
            if !map_first {
                ui.heading("Trainability map");
                commands.extend(sweep_ui(ui, &mut settings.sweep, sweep));
                ui.separator();
            }
            ui.heading("Jacobian");
            commands.extend(jacobian_ui(ui, jacobian_pending));
        });
        commands
    }
}
