//! Gradient flow over training: layer × step heatmap of log10 ‖∂L/∂W_l‖, newest step on the right; the
//! picture scrolls as training runs.

use super::common::{FigureData, WAITING, caption, layer_name, notes, title};
use crate::model::Arch;
use crate::viz::colorbar::{BarScale, log_legend};
use crate::viz::{Body, Cell, ColorRange, Coloring, Figure, Heatmap, History, View};

/// The heatmap: columns are recorded steps (oldest left), rows are layers (input at the bottom).
pub fn heatmap(history: &History, layer_name: &str, layer_label: &str) -> Heatmap {
    let rows = history
        .points
        .iter()
        .map(|p| p.log10_grad_w.len())
        .max()
        .unwrap_or(0);
    let mut cells = Vec::with_capacity(history.len() * rows);
    for p in &history.points {
        for r in 0..rows {
            let nonfinite = p.layer_nonfinite.get(r).copied().unwrap_or(false);
            cells.push(match p.log10_grad_w.get(r) {
                Some(v) => Cell::from_log10(*v, nonfinite),
                None => Cell::Empty,
            });
        }
    }
    Heatmap {
        cols: history.len(),
        rows,
        cells,
        x_name: "step".into(),
        y_name: layer_name.into(),
        x_label: "training step".into(),
        y_label: layer_label.into(),
        x_values: history.points.iter().map(|p| p.step).collect(),
        y_values: (1..=rows as u64).collect(),
        x_marks: history
            .points
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.clipped.then_some(i))
            .collect(),
        click_hint: String::new(),
    }
}

/// `; red marks: gradient clipping fired` when it fired at a recorded step.
pub fn clip_remark(history: &History) -> &'static str {
    if history.points.iter().any(|p| p.clipped) {
        "; a red triangle over a step: gradient clipping fired there"
    } else {
        ""
    }
}

/// The figure.
pub fn figure(data: &FigureData<'_>) -> Figure {
    let cfg = data.cfg;
    let label = match cfg.arch {
        Arch::Mlp => "layer (input at the bottom)",
        Arch::Rnn => "time step (first at the bottom)",
    };
    let body = if data.history.is_empty() {
        Body::Empty(WAITING.into())
    } else {
        let map = heatmap(data.history, layer_name(cfg), label);
        let range = ColorRange::resolve(data.range, &map.cells);
        Body::Heatmap {
            map,
            coloring: Coloring::Log(range),
            bar_title: "||\u{2202}L/\u{2202}W||".into(),
            bar: BarScale::Log(range),
            legend: log_legend(&range),
        }
    };
    let what = match cfg.arch {
        Arch::Mlp => "||\u{2202}L/\u{2202}W_l|| per layer",
        Arch::Rnn => "each time step's share of ||\u{2202}L/\u{2202}W_h||",
    };
    Figure {
        title: title(View::GradientFlow, cfg),
        subtitle: format!(
            "{what} over training, log colour scale (newest step on the right){}",
            clip_remark(data.history)
        ),
        notes: notes(data.stats),
        body,
        caption: caption(data),
    }
}
