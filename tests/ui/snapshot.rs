//! Snapshot of the gradient-map figure drawn from fixed statistics (no training, so the image is stable),
//! rendered by egui_kittest with the production wgpu setup.

use egui_kittest::Harness;
use gradscope::app::views::{FigureData, figure};
use gradscope::gpu::GpuOptions;
use gradscope::model::NetConfig;
use gradscope::stats::{LayerStats, StepStats};
use gradscope::viz::{History, RangeMode, View, figure_ui};

/// A 12-layer net whose gradient shrinks 10x per layer, with one dead unit and one NaN layer-free column.
fn synthetic() -> (NetConfig, StepStats) {
    let cfg = NetConfig {
        depth: 12,
        width: 10,
        ..NetConfig::default()
    };
    let layers = (1..=12)
        .map(|l| {
            let base = -14.0 + l as f64;
            LayerStats {
                index: l,
                grad_w_norm: 10f64.powf(base + 1.0),
                log10_grad_w_norm: Some(base + 1.0),
                delta_rms: 10f64.powf(base),
                log10_delta_rms: Some(base),
                log10_mean_abs_delta: (0..10)
                    .map(|u| {
                        if l == 6 && u == 3 {
                            None
                        } else {
                            Some(base + 0.05 * u as f64)
                        }
                    })
                    .collect(),
                act_rms: 0.5,
                saturated_fraction: 0.1,
                dead_fraction: if l == 6 { 0.1 } else { 0.0 },
                gates: None,
                ledger: None,
                histogram: None,
            }
        })
        .collect();
    let stats = StepStats {
        step: 0,
        loss: Some(0.5),
        engine: "gpu".into(),
        adapter: "test".into(),
        nonfinite: false,
        grad_norm: Some(1.0),
        clipped: false,
        layers,
        update_ratio: Vec::new(),
    };
    (cfg, stats)
}

#[test]
fn gradient_map_snapshot() {
    let (cfg, stats) = synthetic();
    let history = History::default();
    let fig = figure(
        View::GradientMap,
        &FigureData {
            cfg: &cfg,
            stats: Some(&stats),
            history: &history,
            range: RangeMode::default(),
            prediction: None,
            wh: None,
            jacobian: None,
            sweep: gradscope::app::views::SweepShown::default(),
        },
    );
    let mut harness = Harness::builder()
        .with_size(egui::vec2(520.0, 340.0))
        .wgpu_setup(gradscope::app::wgpu_setup(&GpuOptions::default()))
        .build_ui(move |ui| {
            ui.ctx().set_theme(egui::Theme::Light);
            figure_ui(ui, &fig);
        });
    harness.run_steps(2);
    harness.remove_cursor();
    harness.snapshot("gradient_map");
}
