//! Per-layer norms: log10 ‖∂L/∂W_l‖ and log10 rms δ_l against the layer, a straight line when every layer
//! scales the gradient by the same factor; beside them the theory: the mean-field prediction (MLP) or ρ^k
//! from W_h's spectral radius (RNN), anchored at the measured top layer, and below, per layer, the predicted
//! and measured factor E\[δ_l²\]/E\[δ_{l+1}²\], with notes on where the theory holds and where it departs.

use egui::Color32;

use super::common::{FigureData, WAITING, caption, layer_axis, layer_series, notes, title};
use crate::model::{Arch, Norm};
use crate::stats::StepStats;
use crate::theory::mean_field::{Regime, measured_factors, notes as theory_notes};
use crate::theory::spectral::spectral_decay_line;
use crate::viz::{Body, Figure, LinePlot, Series, View};

/// Colour of the weight-gradient norm line.
pub const GRAD_W_COLOR: Color32 = Color32::from_rgb(31, 119, 180);
/// Colour of the rms δ line.
pub const DELTA_COLOR: Color32 = Color32::from_rgb(255, 127, 14);
/// Colour of the theory line.
pub const THEORY_COLOR: Color32 = Color32::from_rgb(120, 120, 120);
/// Fraction of the height the norms take when the factor panel is shown below them.
const NORMS_FRACTION: f32 = 0.62;

/// The theory for the measured net: a name, the predicted log10 rms δ per layer (anchored at the measured
/// top layer) and the predicted per-layer factor, input to output.
#[derive(Clone, Debug, PartialEq)]
pub struct TheoryLine {
    /// Legend name.
    pub name: String,
    /// Predicted log10 rms δ_l, anchored so the top layer equals the measurement.
    pub log10_delta: Vec<Option<f64>>,
    /// Predicted E\[δ_l²\]/E\[δ_{l+1}²\] (`None` for the top layer).
    pub factors: Vec<Option<f64>>,
}

/// The theory line of `data`, if theory covers it and a top-layer measurement exists to anchor it.
pub fn theory_line(data: &FigureData<'_>, stats: &StepStats) -> Option<TheoryLine> {
    let top = stats
        .layers
        .last()?
        .log10_delta_rms
        .filter(|v| v.is_finite())?;
    let n = stats.layers.len();
    match data.cfg.arch {
        Arch::Rnn => {
            let wh = data.wh?;
            let log10_delta = spectral_decay_line(wh.radius, n)
                .into_iter()
                .map(|v| v.map(|v| v + top))
                .collect();
            let factors = (1..=n)
                .map(|t| (t < n).then_some(wh.radius * wh.radius))
                .collect();
            Some(TheoryLine {
                name: format!("theory: \u{3c1}^k, \u{3c1}(W_h) = {:.3}", wh.radius),
                log10_delta,
                factors,
            })
        }
        Arch::Mlp if data.cfg.norm != Norm::None => batch_norm_relu_line(data.cfg, top, n),
        Arch::Mlp => {
            let p = data.prediction?;
            if p.layers.len() != n {
                return None;
            }
            let name = match p.regime {
                Regime::Residual => "theory: residual mean-field (approximate)",
                _ => "theory: mean-field \u{3c7} recursion",
            };
            Some(TheoryLine {
                name: name.into(),
                log10_delta: p.anchored(top),
                factors: p.layers.iter().map(|l| l.factor).collect(),
            })
        }
    }
}

/// Yang et al. 2019 (mean-field theory of batch normalization): at init, with wide layers and a large
/// batch, each BatchNorm + ReLU layer multiplies E\[δ²\] by π/(π − 1) on the way to the input, so the
/// gradient explodes geometrically with depth. The only normalized net here with a theory line.
pub const BATCH_NORM_RELU_FACTOR: f64 = std::f64::consts::PI / (std::f64::consts::PI - 1.0);

fn batch_norm_relu_line(cfg: &crate::model::NetConfig, top: f64, n: usize) -> Option<TheoryLine> {
    if cfg.norm != Norm::Batch || cfg.activation != crate::model::Activation::Relu || cfg.residual {
        return None;
    }
    let step = 0.5 * BATCH_NORM_RELU_FACTOR.log10();
    Some(TheoryLine {
        name: "theory: BatchNorm + ReLU, E[\u{3b4}\u{b2}] \u{d7} \u{3c0}/(\u{3c0}\u{2212}1) per layer (Yang et al. 2019)".into(),
        log10_delta: (1..=n).map(|l| Some(top + (n - l) as f64 * step)).collect(),
        factors: (1..=n)
            .map(|l| (l < n).then_some(BATCH_NORM_RELU_FACTOR))
            .collect(),
    })
}

fn geometric_mean_skipping_missing(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for v in values.flatten() {
        if v > 0.0 && v.is_finite() {
            sum += v.log10();
            n += 1;
        }
    }
    (n > 0).then(|| 10f64.powf(sum / n as f64))
}

/// The lines under the subtitle: the mean factors, where the theory holds, where it departs.
pub fn theory_notes(
    data: &FigureData<'_>,
    stats: &StepStats,
    line: Option<&TheoryLine>,
) -> Vec<String> {
    let cfg = data.cfg;
    let mut out = Vec::new();
    let measured = geometric_mean_skipping_missing(measured_factors(stats).into_iter());
    if let Some(line) = line {
        let predicted = geometric_mean_skipping_missing(line.factors.iter().copied());
        let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
        out.push(format!(
            "Mean factor per {} E[\u{3b4}\u{b2}] ratio: predicted {}, measured {} (1 keeps the gradient, below 1 it vanishes, above 1 it explodes)",
            super::common::layer_name(cfg),
            f(predicted),
            f(measured)
        ));
    }
    match cfg.arch {
        Arch::Rnn if cfg.cell.is_gated() => {
            out.push(format!(
                "No theory line here: an {} stacks its gates' blocks in W_h, so no one matrix sets the rate (and mean-field theory here covers the MLP and the vanilla RNN). The Cell path view draws the running product of the measured keep gates instead.",
                cfg.cell.name().to_uppercase()
            ));
        }
        Arch::Rnn => {
            match data.wh {
                Some(wh) => out.push(format!(
                    "W_h after {} updates: spectral radius \u{3c1} = {:.4}, spectral norm ||W_h||\u{2082} = {:.4}. {}",
                    wh.step,
                    wh.radius,
                    wh.norm,
                    theory_notes::RECURRENT
                )),
                None => out.push(format!("W_h's spectrum is being read... {}", theory_notes::RECURRENT)),
            }
            if cfg.activation != crate::model::Activation::Linear {
                out.push(format!(
                    "{} is not linear: each step also multiplies by f'(z), below 1 for saturated (tanh, sigmoid) or dead (ReLU) \
                     units, so the measured gradient falls below \u{3c1}^k; \u{3c1}^k is the rate W_h alone sets.",
                    cfg.activation
                ));
            }
            if stats.step > wh_step(data) {
                out.push(
                    "The line uses the last W_h read (about once a second while training).".into(),
                );
            }
        }
        Arch::Mlp if cfg.norm != Norm::None => {
            if line.is_some() {
                out.push(
                    "BatchNorm + ReLU at init: the theory (wide layers, a large batch) predicts growth of \
                     \u{221a}(\u{3c0}/(\u{3c0}\u{2212}1)) \u{2248} 1.21 per layer toward the input, even with He init; \
                     after training, or with a small batch, the measurement departs from it."
                        .into(),
                );
            } else {
                out.push(format!(
                    "No theory line: {} re-normalizes every layer, which the mean-field recursion here does not \
                     model (the one line drawn for a norm is BatchNorm + ReLU without residual connections, \
                     Yang et al. 2019).",
                    cfg.norm.label()
                ));
            }
        }
        Arch::Mlp => {
            let Some(p) = data.prediction else {
                out.push("No mean-field prediction for this configuration.".into());
                return out;
            };
            if stats.step == 0 && p.regime == Regime::Plain && cfg.width >= 128 {
                out.push(
                    "Wide plain net at init: this is where mean-field theory holds; the measured points should follow the line."
                        .into(),
                );
            }
            if stats.step > 0 {
                out.push(format!(
                    "After {} updates the weights are no longer random: the line still describes init, so the measurement is expected to depart from it.",
                    stats.step
                ));
            }
            out.extend(p.notes.iter().map(|n| (*n).to_string()));
        }
    }
    out
}

fn wh_step(data: &FigureData<'_>) -> u64 {
    data.wh.map_or(0, |w| w.step)
}

fn log_points(values: &[Option<f64>]) -> Vec<[f64; 2]> {
    values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            v.filter(|v| *v > 0.0 && v.is_finite())
                .map(|v| [(i + 1) as f64, v.log10()])
        })
        .collect()
}

/// The figure.
pub fn figure(data: &FigureData<'_>) -> Figure {
    let cfg = data.cfg;
    let mut subtitle =
        "gradient norm per layer, log scale: a slope means each layer multiplies the gradient by a factor".to_string();
    let body = match data.stats {
        Some(stats) if !stats.layers.is_empty() => {
            let line = theory_line(data, stats);
            for note in theory_notes(data, stats, line.as_ref()) {
                subtitle.push('\n');
                subtitle.push_str(&note);
            }
            let mut norms = vec![
                layer_series(stats, "||\u{2202}L/\u{2202}W_l||", GRAD_W_COLOR, |l| {
                    l.log10_grad_w_norm
                }),
                layer_series(
                    stats,
                    format!("rms {}_l (measured)", super::common::delta_symbol(cfg)),
                    DELTA_COLOR,
                    |l| l.log10_delta_rms,
                ),
            ];
            let norms_plot = |series| LinePlot {
                id: "norms".into(),
                x_label: layer_axis(cfg).into(),
                y_label: "magnitude (log scale)".into(),
                y_log10: true,
                include_y: Vec::new(),
                legend_left: true,
                series,
                x_marks: Vec::new(),
            };
            match line {
                Some(line) => {
                    norms.push(Series {
                        name: format!("{} (anchored at the top)", line.name),
                        points: line
                            .log10_delta
                            .iter()
                            .enumerate()
                            .filter_map(|(i, v)| v.map(|v| [(i + 1) as f64, v]))
                            .collect(),
                        color: THEORY_COLOR,
                    });
                    let factors = LinePlot {
                        id: "norms-factors".into(),
                        x_label: layer_axis(cfg).into(),
                        y_label: "factor E[\u{3b4}_l\u{b2}]/E[\u{3b4}_{l+1}\u{b2}]".into(),
                        y_log10: true,
                        include_y: vec![0.0],
                        legend_left: true,
                        x_marks: Vec::new(),
                        series: vec![
                            Series {
                                name: "measured factor".into(),
                                points: log_points(&measured_factors(stats)),
                                color: DELTA_COLOR,
                            },
                            Series {
                                name: "predicted factor".into(),
                                points: log_points(&line.factors),
                                color: THEORY_COLOR,
                            },
                        ],
                    };
                    Body::Split(
                        Box::new(Body::Lines(norms_plot(norms))),
                        Box::new(Body::Lines(factors)),
                        NORMS_FRACTION,
                    )
                }
                None => Body::Lines(norms_plot(norms)),
            }
        }
        _ => Body::Empty(WAITING.into()),
    };
    Figure {
        title: title(View::Norms, cfg),
        subtitle,
        notes: notes(data.stats),
        body,
        caption: caption(data),
    }
}
