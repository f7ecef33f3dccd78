//! Cell path (recurrent nets): why a gated cell carries the error across many steps. On top, for an LSTM,
//! the time step × unit map of log10 mean |∂L/∂c_t| (the cell path); below, per time step, the rms error
//! of the cell path and of the hidden state beside the running product of the measured mean keep gates
//! (forget gates f, GRU update gates z) anchored at the last step — the constant error carousel:
//! ∂L/∂c_{t-1} = ∂L/∂c_t ⊙ f_t + (what arrives through h). A vanilla RNN shows its own error map and rms
//! line, so that it can stand beside a gated B (or A) in compare mode on one colour scale.

use egui::Color32;

use super::common::{FigureData, caption, layer_axis, layer_series, notes, title};
use crate::model::{Arch, Cell, NetConfig};
use crate::stats::{LayerStats, StepStats};
use crate::viz::colorbar::{BarScale, log_legend};
use crate::viz::{Body, ColorRange, Coloring, Figure, Heatmap, LinePlot, Series, View};

/// Colour of the cell-path error line.
pub const CELL_COLOR: Color32 = Color32::from_rgb(44, 160, 44);
/// Colour of the hidden-state error line.
pub const HIDDEN_COLOR: Color32 = Color32::from_rgb(255, 127, 14);
/// Colour of the keep-gate product (theory) line.
pub const THEORY_COLOR: Color32 = Color32::from_rgb(120, 120, 120);
/// Per time step, log10 of the running product of the mean keep gates from the last step down,
/// anchored at `top` (the measured log10 rms error of the last step): step t gets
/// `top + Σ_{k = t+1}^{T} log10 mean(keep_k)`. `None` once a mean gate is 0 (the product is 0 from there).
pub fn keep_product_layer_series(stats: &StepStats, top: f64) -> Vec<Option<f64>> {
    let n = stats.layers.len();
    let mut out = vec![None; n];
    let mut acc = Some(top);
    for t in (0..n).rev() {
        out[t] = acc;
        let keep = stats.layers[t].gates.as_ref().map(|g| g.keep_mean);
        acc = match (acc, keep) {
            (Some(a), Some(k)) if k > 0.0 => Some(a + k.log10()),
            _ => None,
        };
    }
    out
}

/// ` rms X spans 5.6 decades over the 200 steps.` (largest minus smallest finite log10 rms), or nothing.
fn span_text(stats: &StepStats, f: impl Fn(&LayerStats) -> Option<f64>, symbol: &str) -> String {
    let v: Vec<f64> = stats
        .layers
        .iter()
        .filter_map(&f)
        .filter(|v| v.is_finite())
        .collect();
    if v.len() < 2 {
        return String::new();
    }
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    format!(
        " rms {symbol} spans {:.1} decades over the {} steps.",
        hi - lo,
        stats.layers.len()
    )
}

/// The rms lines per time step on a log axis, with room above them for the legend.
fn path_plot(cfg: &NetConfig, series: Vec<Series>) -> Body {
    Body::Lines(LinePlot {
        id: "cell-path".into(),
        x_label: layer_axis(cfg).into(),
        y_label: "rms error (log10)".into(),
        y_log10: true,
        include_y: headroom(&series),
        legend_left: true,
        x_marks: Vec::new(),
        series,
    })
}

/// A y value a third of the lines' span above their top, so the legend in the top corner leaves them free.
fn headroom(series: &[Series]) -> Vec<f64> {
    let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p[1]));
    let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
        (lo.min(y), hi.max(y))
    });
    if lo.is_finite() && hi.is_finite() {
        vec![hi + 0.35 * (hi - lo).max(1.0)]
    } else {
        Vec::new()
    }
}

/// A heatmap body on a log colour scale (the figure's range mode), with its colour bar and legend.
fn log_heatmap(map: Heatmap, data: &FigureData<'_>, bar_title: &str) -> Body {
    let range = ColorRange::resolve(data.range, &map.cells);
    Body::Heatmap {
        map,
        coloring: Coloring::Log(range),
        bar_title: bar_title.into(),
        bar: BarScale::Log(range),
        legend: log_legend(&range),
    }
}

/// The cell path map: time step × unit, log10 mean |∂L/∂c_t|.
fn cell_map(stats: &StepStats, cfg: &NetConfig) -> Heatmap {
    let rows = cfg.width;
    let mut cells = Vec::with_capacity(stats.layers.len() * rows);
    for l in &stats.layers {
        let nonfinite = l.is_nonfinite();
        for r in 0..rows {
            let v = l
                .gates
                .as_ref()
                .and_then(|g| g.log10_mean_abs_cell_delta.get(r).copied());
            cells.push(match v {
                Some(v) => crate::viz::Cell::from_log10(v, nonfinite),
                None => crate::viz::Cell::Empty,
            });
        }
    }
    Heatmap {
        cols: stats.layers.len(),
        rows,
        cells,
        x_name: "time step".into(),
        y_name: "cell unit".into(),
        x_label: format!("cell path: {}", layer_axis(cfg)),
        y_label: "cell unit".into(),
        x_values: stats.layers.iter().map(|l| l.index as u64).collect(),
        y_values: (1..=rows as u64).collect(),
        x_marks: Vec::new(),
        click_hint: String::new(),
    }
}

/// The figure.
pub fn figure(data: &FigureData<'_>) -> Figure {
    let cfg = data.cfg;
    let fig = |subtitle: String, body: Body| Figure {
        title: title(View::CellPath, cfg),
        subtitle,
        notes: notes(data.stats),
        body,
        caption: caption(data),
    };
    if cfg.arch != Arch::Rnn {
        return fig(
            "the error path through time of a recurrent net".into(),
            Body::Empty(
                "An MLP has no path through time: choose a recurrent net (Network section: RNN), best with the LSTM cell, to see its cell path."
                    .into(),
            ),
        );
    }
    let Some(stats) = data.stats.filter(|s| !s.layers.is_empty()) else {
        return fig(
            "the error path through time".into(),
            Body::Empty(super::common::WAITING.into()),
        );
    };
    if !cfg.cell.is_gated() {
        // no gates: the vanilla net's own error map and rms line, for comparison with a gated B (or A)
        let map = super::gradient_map::heatmap(stats, layer_axis(cfg), "time step");
        let heat = log_heatmap(map, data, "mean |\u{2202}L/\u{2202}z|");
        let series = vec![layer_series(
            stats,
            "rms \u{2202}L/\u{2202}z_t (no gates: every step multiplies by W_h and f')",
            HIDDEN_COLOR,
            |l| l.log10_delta_rms,
        )];
        let rms = path_plot(cfg, series);
        return fig(
            format!(
                "a vanilla RNN has no gates and no cell path: its error \u{2202}L/\u{2202}z_t per unit, for comparison.{}",
                span_text(stats, |l| l.log10_delta_rms, "\u{2202}L/\u{2202}z")
            ),
            Body::Split(Box::new(heat), Box::new(rms), 0.5),
        );
    }
    let lstm = cfg.cell == Cell::Lstm;
    let (keep_name, path_name, path_symbol) = if lstm {
        ("forget gate f", "cell path", "\u{2202}L/\u{2202}c")
    } else {
        ("update gate z", "hidden path", "\u{2202}L/\u{2202}h")
    };
    // the path's error per step, and the running product of the keep gates anchored at the last step
    let path = |l: &LayerStats| {
        if lstm {
            l.gates.as_ref().and_then(|g| g.log10_cell_delta_rms)
        } else {
            l.log10_delta_rms
        }
    };
    let mut series = Vec::new();
    if lstm {
        series.push(layer_series(
            stats,
            format!("rms {path_symbol}_t ({path_name})"),
            CELL_COLOR,
            path,
        ));
    }
    series.push(layer_series(
        stats,
        "rms \u{2202}L/\u{2202}h_t (hidden state)",
        HIDDEN_COLOR,
        |l| l.log10_delta_rms,
    ));
    let top = stats.layers.last().and_then(path).filter(|v| v.is_finite());
    let mut decades = String::new();
    if let Some(top) = top {
        let theory = keep_product_layer_series(stats, top);
        series.push(Series {
            name: format!("{path_name} alone: \u{220f} mean {keep_name} from step T down"),
            points: theory
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| [(i + 1) as f64, v]))
                .collect(),
            color: THEORY_COLOR,
        });
        decades = span_text(stats, path, path_symbol);
    }
    let norms = path_plot(cfg, series);
    let body = if lstm {
        let heat = log_heatmap(cell_map(stats, cfg), data, "mean |\u{2202}L/\u{2202}c|");
        Body::Split(Box::new(heat), Box::new(norms), 0.5)
    } else {
        norms
    };
    let subtitle = if lstm {
        format!(
            "the cell path \u{2202}L/\u{2202}c_t per unit (log colour); its rms beside the constant error carousel (\u{2202}L/\u{2202}c_{{t-1}} = \u{2202}L/\u{2202}c_t \u{b7} f_t + what arrives through h_t): where the measured line lies above the product of the forget gates, the error also comes through h.{decades}"
        )
    } else {
        format!(
            "the GRU's keep path h_t = (1 \u{2212} z) \u{b7} n + z \u{b7} h_{{t-1}}: rms \u{2202}L/\u{2202}h_t beside the product of the update gates (what passes straight through), and the gates.{decades}"
        )
    };
    fig(subtitle, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::Reference;

    #[test]
    fn the_keep_product_runs_down_from_the_last_step() {
        let cfg = NetConfig {
            arch: Arch::Rnn,
            cell: Cell::Lstm,
            depth: 6,
            width: 4,
            batch: 3,
            task: crate::model::Task::Adding,
            ..NetConfig::default()
        };
        let stats = Reference::new(&cfg).unwrap().stats();
        let line = keep_product_layer_series(&stats, -2.0);
        assert_eq!(line[5], Some(-2.0));
        let f6 = stats.layers[5].gates.as_ref().unwrap().keep_mean;
        let f5 = stats.layers[4].gates.as_ref().unwrap().keep_mean;
        assert!((line[4].unwrap() - (-2.0 + f6.log10())).abs() < 1e-12);
        assert!((line[3].unwrap() - (-2.0 + f6.log10() + f5.log10())).abs() < 1e-12);
    }
}
