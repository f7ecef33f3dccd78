//! The update ratio: per weight matrix, log10 ‖ΔW‖/‖W‖ of each update over training (ΔW what the
//! optimizer does with that step's gradient), with the rule of thumb that a healthy layer moves about a
//! thousandth of its weights per step. Layers whose gradient vanished sit decades below the guide: their
//! weights do not move, which is why an early layer "stops learning".

use egui::Color32;

use super::common::{FigureData, WAITING, caption, layer_color, notes, spread_pick, title};
use crate::model::weight_tensors;
use crate::viz::colormap::format_pow10;
use crate::viz::{Body, Figure, LinePlot, Series, View};

/// log10 of the rule-of-thumb update ratio.
pub const GUIDE_LOG10: f64 = -3.0;
/// Colour of the guide line.
pub const GUIDE_COLOR: Color32 = Color32::from_rgb(120, 120, 120);
/// Most matrices named in the legend; the lines between them go unnamed (their colour places them).
const MAX_NAMED: usize = 6;

/// The colour of matrix `i` of `n`: the hidden layers' as in every per-layer plot; the head always
/// orange-red so it stands apart from them.
fn line_color(i: usize, n: usize, head: bool) -> Color32 {
    if head {
        return Color32::from_rgb(214, 39, 40);
    }
    layer_color(i, n)
}

/// The figure.
pub fn figure(data: &FigureData<'_>) -> Figure {
    let names = weight_tensors(data.cfg);
    let hidden = names.len().saturating_sub(1);
    let points = &data.history.points;
    let mut series: Vec<Series> = names
        .iter()
        .enumerate()
        .map(|(j, (_, name))| {
            let head = j == hidden;
            Series {
                name: if head || spread_pick(j, hidden, MAX_NAMED) {
                    name.clone()
                } else {
                    String::new()
                },
                points: points
                    .iter()
                    .filter_map(|p| {
                        p.log10_update_ratio
                            .get(j)
                            .copied()
                            .flatten()
                            .filter(|v| v.is_finite())
                            .map(|v| [p.step as f64, v])
                    })
                    .collect(),
                color: line_color(j, hidden, head),
            }
        })
        .collect();
    let any = series.iter().any(|s| !s.points.is_empty());
    let (first, last) = (points.front(), points.back());
    if let (Some(first), Some(last)) = (first, last) {
        series.push(Series {
            name: "rule of thumb 1e-3".into(),
            points: vec![
                [first.step as f64, GUIDE_LOG10],
                [last.step.max(first.step + 1) as f64, GUIDE_LOG10],
            ],
            color: GUIDE_COLOR,
        });
    }
    let body = if any {
        Body::Lines(LinePlot {
            id: "update-ratio".into(),
            x_label: "training step".into(),
            y_label: "||\u{394}W|| / ||W|| per update (log scale)".into(),
            y_log10: true,
            include_y: vec![GUIDE_LOG10],
            legend_left: false,
            series,
            x_marks: points
                .iter()
                .filter(|p| p.clipped)
                .map(|p| p.step as f64)
                .collect(),
        })
    } else {
        Body::Empty(WAITING.into())
    };
    Figure {
        title: title(View::UpdateRatio, data.cfg),
        subtitle: subtitle(data, &names),
        notes: notes(data.stats),
        body,
        caption: caption(data),
    }
}

/// `‖ΔW‖/‖W‖ per weight matrix … now: w_1 2.1e-9 · w_20 3.3e-4 · w_out 1.2e-3`.
fn subtitle(data: &FigureData<'_>, names: &[(usize, String)]) -> String {
    let mut s = "||\u{394}W||/||W|| of each update per weight matrix, log scale; a \
                 layer that learns moves about 1e-3 of its weights per step"
        .to_string();
    let Some(stats) = data.stats else {
        return s;
    };
    let fmt = |j: usize| {
        stats.update_ratio.get(j).map(|u| {
            let v = match u.log10_ratio {
                Some(v) if v.is_finite() => format_pow10(v),
                Some(_) => "NaN/Inf".into(),
                None => "0".into(),
            };
            format!("{} {v}", u.tensor)
        })
    };
    let n = names.len();
    let picks: Vec<usize> = match n {
        0 => Vec::new(),
        1..=3 => (0..n).collect(),
        _ => vec![0, n - 2, n - 1],
    };
    let parts: Vec<String> = picks.into_iter().filter_map(fmt).collect();
    if !parts.is_empty() {
        s.push_str(&format!(
            ". After {} updates: {}",
            stats.step,
            parts.join(" \u{b7} ")
        ));
    }
    s
}
