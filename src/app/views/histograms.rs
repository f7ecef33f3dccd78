//! Histograms per layer (Glorot & Bengio 2010, figures 6 and 7): above, the distribution of the
//! activation's output f(z) over the batch and units, saturation showing as mass piling up at the ends of
//! a sigmoid's or tanh's range; below, the distribution of log10 |δ|, each layer's curve at its own place
//! on the axis, so a vanishing gradient shows as the curves marching left layer by layer. A few layers
//! are drawn (input dark, output yellow); the legend gives each one's saturated and dead share.

use super::common::{
    FigureData, WAITING, caption, delta_symbol, layer_color, layer_name, notes, spread_pick, title,
};
use crate::stats::{DELTA_HIST_RANGE, HIST_BINS, LayerStats, StepStats, hist_centers};
use crate::viz::{Body, Figure, LinePlot, Series, View};

/// Most layers drawn.
const MAX_LAYERS: usize = 6;

/// The (layer index, stats) pairs drawn: evenly spaced, both ends, only those with a histogram.
fn drawn(stats: &StepStats) -> Vec<(usize, &LayerStats)> {
    let n = stats.layers.len();
    stats
        .layers
        .iter()
        .enumerate()
        .filter(|(i, l)| spread_pick(*i, n, MAX_LAYERS) && l.histogram.is_some())
        .collect()
}

fn pct(v: f64) -> String {
    if v > 0.0 && v < 0.001 {
        "<0.1%".into()
    } else {
        format!("{:.1}%", 100.0 * v)
    }
}

/// The two plots of `stats`.
fn plots(data: &FigureData<'_>, stats: &StepStats) -> Option<Body> {
    let cfg = data.cfg;
    let layers = drawn(stats);
    if layers.is_empty() {
        return None;
    }
    let n = stats.layers.len();
    let name = layer_name(cfg);
    let entries = (cfg.batch * cfg.width) as f64;
    let mut act_series = Vec::new();
    let mut delta_series = Vec::new();
    for (i, l) in &layers {
        let h = l.histogram.as_ref()?;
        let color = layer_color(*i, n);
        let (lo, hi) = h.act_range;
        let act_points = hist_centers(lo, hi)
            .zip(&h.act[1..=HIST_BINS])
            .map(|(x, &c)| [x, c as f64 / entries])
            .collect();
        act_series.push(Series {
            name: format!(
                "{name} {}: {} {}",
                l.index,
                pct(l.saturated_fraction),
                if cfg.activation == crate::model::Activation::Relu {
                    "off"
                } else {
                    "saturated"
                }
            ),
            points: act_points,
            color,
        });
        // each layer's δ bins sit at its own rms: absolute log10 |δ| on the axis
        if let Some(rms) = l.log10_delta_rms.filter(|v| v.is_finite()) {
            let (dlo, dhi) = DELTA_HIST_RANGE;
            let points = hist_centers(dlo, dhi)
                .zip(&h.delta[1..=HIST_BINS])
                .map(|(x, &c)| [x + rms, c as f64 / entries])
                .collect();
            let zeros = if h.delta_zeros > 0 {
                format!(
                    ": {} zero, {} of units dead",
                    pct(h.delta_zeros as f64 / entries),
                    pct(l.dead_fraction)
                )
            } else {
                String::new()
            };
            delta_series.push(Series {
                name: format!("{name} {}{zeros}", l.index),
                points,
                color,
            });
        }
    }
    let (lo, hi) = layers[0].1.histogram.as_ref()?.act_range;
    let d = delta_symbol(cfg);
    let act_plot = Body::Lines(LinePlot {
        id: "hist-act".into(),
        x_label: format!("activation f(z), {lo} to {hi}"),
        y_label: "share per bin".into(),
        y_log10: false,
        include_y: vec![0.0],
        legend_left: false,
        series: act_series,
        x_marks: Vec::new(),
    });
    let delta_plot = Body::Lines(LinePlot {
        id: "hist-delta".into(),
        x_label: format!("log10 |{d}| (each curve: its rms \u{2212}6 to +2 decades)"),
        y_label: "share per bin".into(),
        y_log10: false,
        include_y: vec![0.0],
        legend_left: true,
        series: delta_series,
        x_marks: Vec::new(),
    });
    Some(Body::Split(Box::new(act_plot), Box::new(delta_plot), 0.5))
}

/// The figure.
pub fn figure(data: &FigureData<'_>) -> Figure {
    let cfg = data.cfg;
    let name = layer_name(cfg);
    let body = match data.stats {
        Some(stats) => plots(data, stats).unwrap_or_else(|| {
            if crate::gpu::program::histograms_supported(cfg) {
                Body::Empty(WAITING.into())
            } else {
                Body::Empty(
                    "Histograms are drawn for MLPs and vanilla RNNs: a gated cell's error splits over \
                     its gates, and its activations are four blocks of gates."
                        .into(),
                )
            }
        }),
        None => Body::Empty(WAITING.into()),
    };
    let shown = data
        .stats
        .map(|s| drawn(s).len())
        .filter(|n| *n > 0)
        .map_or(String::new(), |n| format!(" ({n} of them drawn)"));
    Figure {
        title: title(View::Histograms, cfg),
        subtitle: format!(
            "Per {name}{shown}: the distribution of f(z) (top) and of log10 |{}| (bottom) over the batch \
             and the units, {HIST_BINS} bins each, as shares (Glorot & Bengio 2010, figures 6 and 7). \
             Saturated: |f'| below 5% of its peak; off: ReLU's f' = 0; zero: δ exactly 0 (not drawn)",
            delta_symbol(cfg)
        ),
        notes: notes(data.stats),
        body,
        caption: caption(data),
    }
}
