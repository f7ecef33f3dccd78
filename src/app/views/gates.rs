//! Gates (LSTM, GRU): per time step, the mean keep gate (forget gate f, GRU update gate z) and the
//! saturated fraction of each gate. A gate stuck near 0 or 1 has a slope near 0: it neither passes nor
//! learns; a keep gate near 1 is what lets the error through (the Cell path view).

use egui::Color32;

use super::common::{FigureData, WAITING, caption, layer_axis, layer_series, notes, title};
use crate::model::Cell;
use crate::viz::{Body, Figure, LinePlot, View};

/// Colours of the gates' saturation lines, in gate order.
const GATE_COLORS: [Color32; 4] = [
    Color32::from_rgb(31, 119, 180),
    Color32::from_rgb(214, 39, 40),
    Color32::from_rgb(148, 103, 189),
    Color32::from_rgb(140, 86, 75),
];
/// Colour of the mean keep gate line.
pub const KEEP_COLOR: Color32 = Color32::from_rgb(23, 190, 207);

/// The figure.
pub fn figure(data: &FigureData<'_>) -> Figure {
    let cfg = data.cfg;
    let fig = |subtitle: String, body: Body| Figure {
        title: title(View::Gates, cfg),
        subtitle,
        notes: notes(data.stats),
        body,
        caption: caption(data),
    };
    if !cfg.cell.is_gated() {
        return fig(
            "the gates of an LSTM or GRU".into(),
            Body::Empty(
                "This network has no gates: choose a recurrent net with the LSTM or GRU cell (Network section: RNN, then Cell)."
                    .into(),
            ),
        );
    }
    let Some(stats) = data.stats.filter(|s| !s.layers.is_empty()) else {
        return fig(
            "the gates per time step".into(),
            Body::Empty(WAITING.into()),
        );
    };
    let keep_name = if cfg.cell == Cell::Lstm {
        "forget gate f"
    } else {
        "update gate z"
    };
    let mut lines = vec![layer_series(
        stats,
        format!("mean {keep_name} (%)"),
        KEEP_COLOR,
        |l| l.gates.as_ref().map(|g| 100.0 * g.keep_mean),
    )];
    for (k, name) in cfg.cell.gate_names().iter().enumerate() {
        lines.push(layer_series(
            stats,
            format!("{name} gate saturated (%)"),
            GATE_COLORS[k % GATE_COLORS.len()],
            move |l| {
                l.gates
                    .as_ref()
                    .and_then(|g| g.saturated.get(k))
                    .map(|v| 100.0 * v)
            },
        ));
    }
    let keep: Vec<f64> = stats
        .layers
        .iter()
        .filter_map(|l| l.gates.as_ref().map(|g| g.keep_mean))
        .collect();
    let mean_keep = keep.iter().sum::<f64>() / keep.len().max(1) as f64;
    let body = Body::Lines(LinePlot {
        id: "gates".into(),
        x_label: layer_axis(cfg).into(),
        y_label: "% of batch \u{d7} units".into(),
        y_log10: false,
        include_y: vec![0.0, 100.0],
        legend_left: false,
        x_marks: Vec::new(),
        series: lines,
    });
    fig(
        format!(
            "the mean {keep_name} per time step ({:.3} over all steps: the error along the keep path shrinks about that much per step) and each gate's saturated fraction (slope below 5% of its peak: stuck open or shut)",
            mean_keep
        ),
        body,
    )
}
