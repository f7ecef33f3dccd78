//! The Trainability map section of the side panel: the two axes (setting, range, cells), the training
//! steps and the metric of the sweep, Run and Cancel, and the progress of a running sweep.

use egui::{RichText, Ui};

use crate::app::command::Command;
use crate::sweep::{Axis, MAX_AXIS_CELLS, Metric, SweepParam, SweepSpec};

/// Steps the panel offers (the CLI allows more).
pub const MAX_PANEL_STEPS: u32 = 2000;

/// A running sweep as the panel shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SweepProgress {
    /// Whether a sweep runs.
    pub running: bool,
    /// Fraction done, 0..=1.
    pub fraction: f32,
    /// Nets in the grid.
    pub nets: usize,
    /// Seconds since it started.
    pub seconds: f64,
}

/// Sensible range and speed of a setting's drag values.
fn range_of(param: SweepParam) -> (std::ops::RangeInclusive<f64>, f64) {
    match param {
        SweepParam::Gain => (0.01..=20.0, 0.01),
        SweepParam::BiasStd => (0.0..=10.0, 0.01),
        SweepParam::Depth => (1.0..=1024.0, 1.0),
        SweepParam::Lr => (1e-5..=10.0, 0.001),
        SweepParam::Width => (1.0..=1024.0, 1.0),
    }
}

fn axis_ui(ui: &mut Ui, axis: &mut Axis, name: &str) {
    ui.horizontal(|ui| {
        let label = ui.label(name);
        egui::ComboBox::from_id_salt(("sweep axis", name))
            .selected_text(axis.param.name())
            .show_ui(ui, |ui| {
                for p in SweepParam::ALL {
                    ui.selectable_value(&mut axis.param, p, p.name())
                        .on_hover_text(p.label());
                }
            })
            .response
            .labelled_by(label.id)
            .on_hover_text(format!("The setting the {name} axis sweeps"));
        let (range, speed) = range_of(axis.param);
        let decimals = if axis.param.is_integer() { 0 } else { 3 };
        ui.add(
            egui::DragValue::new(&mut axis.from)
                .range(range.clone())
                .speed(speed)
                .max_decimals(decimals),
        )
        .on_hover_text("first value");
        ui.label("to");
        ui.add(
            egui::DragValue::new(&mut axis.to)
                .range(range)
                .speed(speed)
                .max_decimals(decimals),
        )
        .on_hover_text("last value");
        ui.add(
            egui::DragValue::new(&mut axis.cells)
                .range(2..=MAX_AXIS_CELLS)
                .suffix(" cells"),
        )
        .on_hover_text(format!("values along the axis (2..={MAX_AXIS_CELLS})"));
    });
}

/// The section; returns the command pressed.
pub fn sweep_ui(ui: &mut Ui, spec: &mut SweepSpec, progress: SweepProgress) -> Option<Command> {
    let mut command = None;
    ui.add_enabled_ui(!progress.running, |ui| {
        axis_ui(ui, &mut spec.x, "x");
        axis_ui(ui, &mut spec.y, "y");
        ui.horizontal(|ui| {
            ui.add(
                egui::DragValue::new(&mut spec.steps)
                    .range(0..=MAX_PANEL_STEPS)
                    .prefix("steps: "),
            )
            .on_hover_text("training steps of every net before the metric is read (0: at init)");
            let label = ui.label("metric");
            egui::ComboBox::from_id_salt("sweep metric")
                .selected_text(spec.metric.name())
                .show_ui(ui, |ui| {
                    for m in [Metric::GradRatio, Metric::Loss, Metric::Nonfinite] {
                        ui.selectable_value(&mut spec.metric, m, m.name())
                            .on_hover_text(m.label());
                    }
                })
                .response
                .labelled_by(label.id)
                .on_hover_text("what each cell of the map shows");
        });
        if ui.button("Edge of chaos (gain × bias std)").on_hover_text(
            "Gain 0.5..3 by bias std 0..0.5, 24 × 24 nets, gradient ratio at init: the phase diagram of Poole et al. (2016)",
        ).clicked() {
            *spec = SweepSpec::edge_of_chaos();
        }
    });
    ui.horizontal(|ui| {
        if progress.running {
            if ui.button("Cancel sweep").clicked() {
                command = Some(Command::CancelSweep);
            }
        } else if cfg!(target_arch = "wasm32") {
            ui.add_enabled(false, egui::Button::new("Run sweep"))
                .on_disabled_hover_text(crate::app::window::WEB_NO_SWEEP);
        } else if ui
            .button("Run sweep")
            .on_hover_text(format!(
                "Train the {} × {} = {} nets around the current network together on the GPU and open the Trainability view",
                spec.x.cells,
                spec.y.cells,
                spec.nets()
            ))
            .clicked()
        {
            command = Some(Command::RunSweep);
        }
    });
    if progress.running {
        ui.add(
            egui::ProgressBar::new(progress.fraction)
                .show_percentage()
                .text(format!("{} nets, {:.0} s", progress.nets, progress.seconds)),
        );
    } else {
        ui.label(
            RichText::new("Click a cell of the map to open that net (as B in compare mode).")
                .weak(),
        );
    }
    command
}
