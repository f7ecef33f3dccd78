//! What every view needs to build its figure ([`FigureData`]), and the title, caption, axis names and
//! notes all figures share. The views import this; nothing here imports a view.

use crate::app::jacobian::JacobianSpectrum;
use crate::app::theory::WhSpectrum;
use crate::model::{Arch, Cell, NetConfig};
use crate::stats::StepStats;
use crate::theory::mean_field::Prediction;
use crate::viz::{History, RangeMode, View};

/// The data a figure is built from.
#[derive(Clone, Copy, Debug)]
pub struct FigureData<'a> {
    /// The network (as the engine runs it now).
    pub cfg: &'a NetConfig,
    /// The newest statistics, if any arrived.
    pub stats: Option<&'a StepStats>,
    /// Statistics over training.
    pub history: &'a History,
    /// Fixed or automatic colour range.
    pub range: RangeMode,
    /// The mean-field prediction for `cfg` (computed once per configuration), if theory covers it.
    pub prediction: Option<&'a Prediction>,
    /// The RNN's recurrent matrix spectrum, if read.
    pub wh: Option<WhSpectrum>,
    /// The Jacobian spectrum last computed (shown when it belongs to `cfg`).
    pub jacobian: Option<&'a JacobianSpectrum>,
    /// The trainability map: the newest sweep and its selected cell, or what is going on instead.
    pub sweep: SweepShown<'a>,
}

/// What the trainability view shows.
#[derive(Clone, Copy, Debug, Default)]
pub struct SweepShown<'a> {
    /// The newest finished sweep.
    pub result: Option<&'a crate::sweep::SweepResult>,
    /// The cell opened in the other views.
    pub selected: Option<(usize, usize)>,
    /// While a sweep runs or after it failed: what to say (progress, error).
    pub status: Option<&'a str>,
}

/// `View — sigmoid MLP, depth 20, width 64, xavier-normal init`: names activation, depth and init.
pub fn title(view: View, cfg: &NetConfig) -> String {
    let mut s = match cfg.arch {
        Arch::Mlp => format!(
            "{}: {} MLP, depth {}, width {}, {} init",
            view.label(),
            cfg.activation,
            cfg.depth,
            cfg.width,
            cfg.init
        ),
        Arch::Rnn => format!(
            "{}: {} {}, {} time steps, {} hidden, {} init",
            view.label(),
            cfg.activation,
            match cfg.cell {
                Cell::Vanilla => "RNN",
                Cell::Lstm => "LSTM",
                Cell::Gru => "GRU",
            },
            cfg.depth,
            cfg.width,
            cfg.init
        ),
    };
    if cfg.cell.is_gated() {
        s.push_str(&format!(", forget bias {}", cfg.forget_bias));
    }
    if (cfg.gain - 1.0).abs() > f64::EPSILON {
        s.push_str(&format!(" (gain {})", cfg.gain));
    }
    if cfg.residual {
        s.push_str(", residual");
    }
    if cfg.norm != crate::model::Norm::None {
        s.push_str(&format!(", {}", cfg.norm.label()));
    }
    if let Some(c) = cfg.clip {
        s.push_str(&format!(", clip {c}"));
    }
    s
}

/// The configuration as one line of JSON (what the PNG's `tEXt` chunk stores).
pub fn config_json(cfg: &NetConfig) -> String {
    serde_json::to_string(cfg).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// Caption: where the statistics come from and the full configuration, enough to reproduce the figure.
pub fn caption(data: &FigureData<'_>) -> String {
    let at = match data.stats {
        Some(s) => format!("gradient after {} updates on {}", s.step, s.adapter),
        None => "no statistics yet".to_string(),
    };
    // spaces after the separators let the line wrap between fields
    let json = config_json(data.cfg)
        .replace(",\"", ", \"")
        .replace("\":", "\": ");
    format!(
        "gradscope {} · {at} · config:\n{json}",
        env!("CARGO_PKG_VERSION")
    )
}

/// The x axis title for layers (time steps for the RNN).
pub fn layer_axis(cfg: &NetConfig) -> &'static str {
    match cfg.arch {
        Arch::Mlp => "layer (input on the left, output on the right)",
        Arch::Rnn => "time step (first on the left, last on the right)",
    }
}

/// What one layer is called in hover text.
pub fn layer_name(cfg: &NetConfig) -> &'static str {
    match cfg.arch {
        Arch::Mlp => "layer",
        Arch::Rnn => "time step",
    }
}

/// The error a layer (time step) reports, as the views write it: `∂L/∂z` (the pre-activation's), or
/// `∂L/∂h` for a gated cell, whose gates split the pre-activation (docs/DESIGN.md §Stats).
pub fn delta_symbol(cfg: &NetConfig) -> &'static str {
    if cfg.cell.is_gated() {
        "\u{2202}L/\u{2202}h"
    } else {
        "\u{2202}L/\u{2202}z"
    }
}

/// A line over the layers (time steps) of `stats`: `f` of each layer, where it is a finite number (exact
/// zeros and NaN/Inf have no place on a plot, least of all on a log axis).
pub fn layer_series(
    stats: &StepStats,
    name: impl Into<String>,
    color: egui::Color32,
    f: impl Fn(&crate::stats::LayerStats) -> Option<f64>,
) -> crate::viz::Series {
    crate::viz::Series {
        name: name.into(),
        points: stats
            .layers
            .iter()
            .filter_map(|l| f(l).filter(|v| v.is_finite()).map(|v| [l.index as f64, v]))
            .collect(),
        color,
    }
}

/// Notes for the top of a figure: NaN/Inf warnings.
pub fn notes(stats: Option<&StepStats>) -> Vec<String> {
    match stats {
        Some(s) if s.nonfinite => {
            vec!["NaN or Inf appeared: the gradients exploded (lower the gain or learning rate, or clip)".into()]
        }
        _ => Vec::new(),
    }
}

/// Text shown while the first statistics are on their way.
pub const WAITING: &str = "waiting for the first gradient from the GPU...";

/// The colour of layer (time step, weight matrix) `i` of `n` in plots with a line per layer: input (dark
/// purple) to output (yellow) along the sequential map, stopping short of its palest end.
pub fn layer_color(i: usize, n: usize) -> egui::Color32 {
    let t = if n <= 1 {
        0.0
    } else {
        i as f64 / (n - 1) as f64
    };
    crate::viz::colormap::sequential(0.9 * t)
}

/// Whether item `i` of `n` is among at most about `max` evenly spaced ones, both ends always included
/// (the layers a legend names, or a plot draws, when there are too many for all).
pub fn spread_pick(i: usize, n: usize, max: usize) -> bool {
    if n <= max.max(2) {
        return true;
    }
    let every = (n - 1).div_ceil(max.max(2) - 1);
    i.is_multiple_of(every) || i == n - 1
}

#[cfg(test)]
mod spread_tests {
    use super::spread_pick;

    #[test]
    fn picks_both_ends_and_a_few_between() {
        assert!((0..4).all(|i| spread_pick(i, 4, 6)));
        let shown: Vec<usize> = (0..20).filter(|&i| spread_pick(i, 20, 6)).collect();
        assert!(shown.contains(&0) && shown.contains(&19));
        assert!(shown.len() <= 7, "{shown:?}");
        let shown: Vec<usize> = (0..300).filter(|&i| spread_pick(i, 300, 6)).collect();
        assert!(shown.len() <= 7 && shown.contains(&299), "{shown:?}");
    }
}
