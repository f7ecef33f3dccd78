//! Activations: the fraction of saturated entries (|f'(z)| below 5% of its peak) and of dead units per
//! layer, and the dead-unit map (units whose f'(z) is exactly 0 on every sample pass no gradient at all).

use egui::Color32;

use super::common::{FigureData, WAITING, caption, layer_axis, layer_name, notes, title};
use crate::viz::colorbar::{BarScale, dead_alive_legend};
use crate::viz::{Body, Coloring, Figure, LinePlot, Series, View};

/// Colour of the saturated-fraction line.
pub const SATURATED_COLOR: Color32 = Color32::from_rgb(214, 96, 16);
/// Colour of the dead-fraction line.
pub const DEAD_COLOR: Color32 = Color32::from_rgb(110, 110, 110);

/// The figure.
pub fn figure(data: &FigureData<'_>) -> Figure {
    let cfg = data.cfg;
    let body = match data.stats {
        Some(stats) if !stats.layers.is_empty() => {
            let per_layer = |f: fn(&crate::stats::LayerStats) -> f64| {
                stats
                    .layers
                    .iter()
                    .map(|l| [l.index as f64, 100.0 * f(l)])
                    .collect::<Vec<_>>()
            };
            let lines = Body::Lines(LinePlot {
                id: "activations".into(),
                x_label: layer_axis(cfg).into(),
                y_label: "% of the layer".into(),
                y_log10: false,
                include_y: vec![0.0, 100.0],
                legend_left: false,
                x_marks: Vec::new(),
                series: vec![
                    Series {
                        name: "saturated (|f'| < 5% of peak)".into(),
                        points: per_layer(|l| l.saturated_fraction),
                        color: SATURATED_COLOR,
                    },
                    Series {
                        name: "dead units".into(),
                        points: per_layer(|l| l.dead_fraction),
                        color: DEAD_COLOR,
                    },
                ],
            });
            let mut map = super::gradient_map::heatmap(stats, layer_axis(cfg), layer_name(cfg));
            map.x_label = format!("dead-unit map: {}", layer_axis(cfg));
            let dead_map = Body::Heatmap {
                map,
                coloring: Coloring::DeadAlive,
                bar_title: "unit".into(),
                bar: BarScale::None,
                legend: dead_alive_legend(),
            };
            Body::Split(Box::new(lines), Box::new(dead_map), 0.5)
        }
        _ => Body::Empty(WAITING.into()),
    };
    Figure {
        title: title(View::Activations, cfg),
        subtitle: "saturation and dead units per layer: both stop the gradient".into(),
        notes: notes(data.stats),
        body,
        caption: caption(data),
    }
}
