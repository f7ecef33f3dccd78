//! The top bar: the views, the window theme, and what the GPU is doing (adapter, ms per step, steps per
//! frame, the current step and the memory the network holds).

use egui::{Color32, RichText, Ui};

use crate::app::settings::Settings;
use crate::viz::{FigureTheme, View};

/// What the top bar reports about training.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingInfo<'a> {
    /// The adapter's description.
    pub adapter: &'a str,
    /// Whether the adapter is a CPU rasterizer (lavapipe).
    pub software: bool,
    /// Measured milliseconds per training step (wall clock while training runs, frames included).
    pub ms_per_step: Option<f64>,
    /// GPU milliseconds per training step, from timestamp queries (where the adapter has them).
    pub gpu_ms_per_step: Option<f64>,
    /// Steps recorded per frame now.
    pub steps_per_frame: u32,
    /// Updates applied to network A, and the bytes of GPU memory it holds (`None` without a network).
    pub engine: Option<(u64, u64)>,
    /// The path network A's step runs (`rows`, `fused:<rows>`, `layered`) and its dispatches per step.
    pub path: Option<(String, usize)>,
}

/// The two rows of the top bar; the view and theme buttons edit `settings`.
pub fn top_bar_ui(ui: &mut Ui, settings: &mut Settings, info: &TrainingInfo<'_>) {
    ui.horizontal_wrapped(|ui| {
        ui.heading("gradscope");
        ui.separator();
        for view in View::ALL {
            ui.selectable_value(&mut settings.view, view, view.label());
        }
        ui.separator();
        let dark = settings.theme == FigureTheme::Dark;
        if ui
            .selectable_label(!dark, "Light")
            .on_hover_text("Light theme")
            .clicked()
        {
            settings.theme = FigureTheme::Light;
            ui.ctx().set_theme(egui::Theme::Light);
        }
        if ui
            .selectable_label(dark, "Dark")
            .on_hover_text("Dark theme")
            .clicked()
        {
            settings.theme = FigureTheme::Dark;
            ui.ctx().set_theme(egui::Theme::Dark);
        }
    });
    ui.horizontal_wrapped(|ui| {
        if info.software {
            ui.label(
                RichText::new(" software adapter ")
                    .color(Color32::BLACK)
                    .background_color(Color32::from_rgb(255, 200, 60)),
            )
            .on_hover_text(
                "A CPU rasterizer (e.g. lavapipe): slow, so fewer steps per frame are recorded",
            );
        }
        ui.label(RichText::new(info.adapter).monospace())
            .on_hover_text("GPU adapter (backend, type)");
        ui.separator();
        let rate = match info.ms_per_step {
            Some(ms) if ms > 0.0 => format!("{:.1} steps/s ({ms:.1} ms/step)", 1000.0 / ms),
            _ => "- steps/s".to_string(),
        };
        ui.label(rate).on_hover_text(
            "The rate this window trains at: wall-clock time per training step, frames drawn meanwhile included",
        );
        if let Some(gpu) = info.gpu_ms_per_step {
            ui.label(format!("(GPU {gpu:.2} ms)")).on_hover_text(
                "GPU time per training step, from timestamp queries around the training pass",
            );
        }
        ui.label(format!("{} steps/frame", info.steps_per_frame))
            .on_hover_text("Training steps recorded per frame, adapted to the measured step time");
        if let Some((path, dispatches)) = &info.path {
            let what = match path.as_str() {
                "layered" => "one dispatch per layer (time step) and phase: the tiled path for wide nets",
                "rows" => "the fused stack, one invocation per batch row: the shape for CPU adapters",
                _ => "the fused stack: every layer (time step) in one dispatch per pass",
            };
            ui.label(format!("engine {path} · {dispatches} dispatches/step"))
                .on_hover_text(format!(
                    "How the GPU runs a training step: {what}. GRADSCOPE_ENGINE=layered|rows|fused|fused:<rows> forces one."
                ));
        }
        if let Some((step, bytes)) = info.engine {
            ui.label(format!("step {step}"));
            ui.label(format!(
                "{:.1} MiB on GPU",
                bytes as f64 / (1024.0 * 1024.0)
            ));
        }
    });
}
