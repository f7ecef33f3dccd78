//! The gradient map: layer × unit heatmap of log10 mean |δ| (δ = ∂L/∂z), input on the left, output on the
//! right. Vanishing gradients show as a dark left side; dead units as grey cells.

use super::common::{
    FigureData, WAITING, caption, delta_symbol, layer_axis, layer_name, notes, title,
};
use crate::model::Arch;
use crate::stats::StepStats;
use crate::viz::colorbar::{BarScale, log_legend};
use crate::viz::colormap::format_pow10;
use crate::viz::{Body, Cell, ColorRange, Coloring, Figure, Heatmap, View};

/// The heatmap: columns are layers (time steps), rows are units.
pub fn heatmap(stats: &StepStats, layer_axis: &str, layer_name: &str) -> Heatmap {
    let rows = stats
        .layers
        .iter()
        .map(|l| l.log10_mean_abs_delta.len())
        .max()
        .unwrap_or(0);
    let mut cells = Vec::with_capacity(stats.layers.len() * rows);
    for layer in &stats.layers {
        let nonfinite = layer.is_nonfinite();
        for r in 0..rows {
            let v = layer.log10_mean_abs_delta.get(r).copied();
            cells.push(match v {
                Some(v) => Cell::from_log10(v, nonfinite),
                None => Cell::Empty,
            });
        }
    }
    Heatmap {
        cols: stats.layers.len(),
        rows,
        cells,
        x_name: layer_name.to_string(),
        y_name: "unit".to_string(),
        x_label: layer_axis.to_string(),
        y_label: "unit".to_string(),
        x_values: stats.layers.iter().map(|l| l.index as u64).collect(),
        y_values: (1..=rows as u64).collect(),
        x_marks: Vec::new(),
        click_hint: format!("the chain-rule ledger of this {layer_name}"),
    }
}

/// `layer 1: 3.2e-10 · layer 20: 1.1e-3 (7.5 decades apart)`.
fn first_last(stats: &StepStats, name: &str, symbol: &str) -> String {
    let (Some(first), Some(last)) = (stats.layers.first(), stats.layers.last()) else {
        return String::new();
    };
    // `None` is an exact zero unless the layer exploded; a non-finite log10 is NaN or Inf
    let fmt = |l: &crate::stats::LayerStats| match l.log10_delta_rms {
        Some(v) if v.is_finite() => format_pow10(v),
        Some(_) => "NaN/Inf".to_string(),
        None if l.is_nonfinite() => "NaN/Inf".to_string(),
        None => "0".to_string(),
    };
    let mut s = format!(
        "rms {symbol} at {name} {}: {} · at {name} {}: {}",
        first.index,
        fmt(first),
        last.index,
        fmt(last)
    );
    if let (Some(a), Some(b)) = (first.log10_delta_rms, last.log10_delta_rms)
        && a.is_finite()
        && b.is_finite()
        && stats.layers.len() > 1
    {
        s.push_str(&format!(" ({:.1} decades apart)", (b - a).abs()));
    }
    s
}

/// The figure.
pub fn figure(data: &FigureData<'_>) -> Figure {
    let cfg = data.cfg;
    let d = delta_symbol(cfg);
    let (subtitle, body) = match data.stats {
        Some(stats) if !stats.layers.is_empty() => {
            let mut map = heatmap(stats, layer_axis(cfg), layer_name(cfg));
            if cfg.cell.is_gated() {
                // a gated cell's error splits over its gates: no two-factor ledger
                map.click_hint.clear();
            }
            if cfg.arch == Arch::Rnn {
                map.y_name = "hidden unit".into();
                map.y_label = "hidden unit".into();
            }
            let range = ColorRange::resolve(data.range, &map.cells);
            let what = match cfg.arch {
                Arch::Mlp => "layer \u{d7} unit",
                Arch::Rnn => "time step \u{d7} hidden unit",
            };
            let subtitle = format!(
                "{what}: mean |{d}| per unit, log colour scale. {}",
                first_last(stats, layer_name(cfg), d)
            );
            let body = Body::Heatmap {
                map,
                coloring: Coloring::Log(range),
                bar_title: format!("mean |{d}|"),
                bar: BarScale::Log(range),
                legend: log_legend(&range),
            };
            (subtitle, body)
        }
        _ => (
            format!("mean |{}| per unit", delta_symbol(cfg)),
            Body::Empty(WAITING.into()),
        ),
    };
    Figure {
        title: title(View::GradientMap, cfg),
        subtitle,
        notes: notes(data.stats),
        body,
        caption: caption(data),
    }
}
