//! The loss curve over training, log scale: early layers that get no gradient barely learn.

use egui::Color32;

use super::common::{FigureData, WAITING, caption, notes, title};
use crate::viz::{Body, Figure, LinePlot, Series, View};

/// Colour of the loss line.
pub const LOSS_COLOR: Color32 = Color32::from_rgb(44, 160, 44);

/// The figure.
pub fn figure(data: &FigureData<'_>) -> Figure {
    let points: Vec<[f64; 2]> = data
        .history
        .points
        .iter()
        .filter_map(|p| {
            p.loss
                .filter(|l| *l > 0.0)
                .map(|l| [p.step as f64, l.log10()])
        })
        .collect();
    let body = if points.is_empty() {
        Body::Empty(WAITING.into())
    } else {
        Body::Lines(LinePlot {
            id: "loss".into(),
            x_label: "training step".into(),
            y_label: "loss (log scale)".into(),
            y_log10: true,
            include_y: Vec::new(),
            legend_left: false,
            series: vec![Series {
                name: "training loss".into(),
                points,
                color: LOSS_COLOR,
            }],
            x_marks: data
                .history
                .points
                .iter()
                .filter(|p| p.clipped)
                .map(|p| p.step as f64)
                .collect(),
        })
    };
    let subtitle = match data
        .history
        .points
        .back()
        .and_then(|p| p.loss.map(|l| (p.step, l)))
    {
        Some((step, l)) => format!("training loss (log scale); {l:.4} after {step} updates"),
        None => "training loss (log scale)".into(),
    };
    Figure {
        title: title(View::Loss, data.cfg),
        subtitle: format!(
            "{subtitle}{}",
            super::gradient_flow::clip_remark(data.history)
        ),
        notes: notes(data.stats),
        body,
        caption: caption(data),
    }
}
