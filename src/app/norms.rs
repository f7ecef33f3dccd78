//! Per-layer norms: log10 ‖∂L/∂W_l‖ and log10 rms δ_l against the layer, a straight line when every layer
//! scales the gradient by the same factor.

use egui::Color32;

use super::views::{FigureData, WAITING, caption, layer_axis, notes, title};
use crate::stats::StepStats;
use crate::viz::{Body, Figure, LinePlot, Series, View};

/// Colour of the weight-gradient norm line.
pub const GRAD_W_COLOR: Color32 = Color32::from_rgb(31, 119, 180);
/// Colour of the rms δ line.
pub const DELTA_COLOR: Color32 = Color32::from_rgb(255, 127, 14);

fn series(
    stats: &StepStats,
    name: &str,
    color: Color32,
    f: impl Fn(&crate::stats::LayerStats) -> Option<f64>,
) -> Series {
    Series {
        name: name.into(),
        points: stats
            .layers
            .iter()
            .filter_map(|l| f(l).map(|v| [l.index as f64, v]))
            .collect(),
        color,
    }
}

/// The figure.
pub fn figure(data: &FigureData<'_>) -> Figure {
    let cfg = data.cfg;
    let body = match data.stats {
        Some(stats) if !stats.layers.is_empty() => Body::Lines(LinePlot {
            id: "norms".into(),
            x_label: layer_axis(cfg).into(),
            y_label: "magnitude (log scale)".into(),
            y_log10: true,
            include_y: Vec::new(),
            legend_left: true,
            series: vec![
                series(stats, "||\u{2202}L/\u{2202}W_l||", GRAD_W_COLOR, |l| {
                    l.log10_grad_w_norm
                }),
                series(stats, "rms \u{2202}L/\u{2202}z_l", DELTA_COLOR, |l| {
                    l.log10_delta_rms
                }),
            ],
        }),
        _ => Body::Empty(WAITING.into()),
    };
    Figure {
        title: title(View::Norms, cfg),
        subtitle: "gradient norm per layer, log scale: a slope means each layer multiplies the gradient by a factor"
            .into(),
        notes: notes(data.stats),
        body,
        caption: caption(data),
    }
}
