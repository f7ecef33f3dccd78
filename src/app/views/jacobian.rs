//! The Jacobian spectrum view: singular values of ∂a_L/∂a_1 (MLP) or ∂h_T/∂h_1 (RNN) at the current weights,
//! on a log axis. All near 1 (dynamical isometry: orthogonal init with tanh near its linear regime) means
//! every direction of the backward signal is kept; a wide spread (Gaussian init with ReLU) means some
//! directions explode while others vanish, even when the average gradient looks fine.

use egui::Color32;

use super::common::{FigureData, caption, notes, title};
use crate::app::jacobian::limit_text;
use crate::model::{Arch, NetConfig};
use crate::viz::{Body, Figure, LinePlot, Series, View};

/// Colour of the singular-value line.
pub const SPECTRUM_COLOR: Color32 = Color32::from_rgb(148, 103, 189);

fn what(cfg: &NetConfig) -> &'static str {
    match cfg.arch {
        Arch::Mlp => "\u{2202}a_L/\u{2202}a_1",
        Arch::Rnn => "\u{2202}h_T/\u{2202}h_1",
    }
}

/// The figure.
pub fn figure(data: &FigureData<'_>) -> Figure {
    let cfg = data.cfg;
    let mut subtitle = format!(
        "singular values of the hidden-layer Jacobian {} (log scale), {}. All near 1e0: every direction of the \
         gradient is kept (orthogonal init + tanh); a spread: some directions explode while others vanish (Gaussian init + ReLU)",
        what(cfg),
        limit_text()
    );
    let body = match data.jacobian {
        Some(j) if &j.cfg == cfg => match &j.values {
            Ok(values) if !values.is_empty() => {
                let logs: Vec<[f64; 2]> = values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v > 0.0 && v.is_finite())
                    .map(|(i, v)| [(i + 1) as f64, v.log10()])
                    .collect();
                let (max, min) = (values[0], values[values.len() - 1]);
                let spread = if min > 0.0 {
                    format!("{:.1} decades", (max / min).log10())
                } else {
                    "unbounded (a singular value is 0)".into()
                };
                subtitle.push_str(&format!(
                    "\nAfter {} updates: largest {max:.3e}, smallest {min:.3e}, spread {spread}",
                    j.step
                ));
                Body::Lines(LinePlot {
                    id: "jacobian".into(),
                    x_label: "singular value index (largest first)".into(),
                    y_label: "singular value (log scale)".into(),
                    y_log10: true,
                    include_y: vec![0.0],
                    legend_left: false,
                    series: vec![Series {
                        name: format!("\u{3c3}_i of {}", what(cfg)),
                        points: logs,
                        color: SPECTRUM_COLOR,
                    }],
                    x_marks: Vec::new(),
                })
            }
            Ok(_) => Body::Empty("the Jacobian has no singular values".into()),
            Err(e) => Body::Empty(format!("cannot compute the spectrum: {e}")),
        },
        _ => Body::Empty(format!(
            "press \"Compute Jacobian spectrum\" in the side panel ({})",
            limit_text()
        )),
    };
    Figure {
        title: title(View::Jacobian, cfg),
        subtitle,
        notes: notes(data.stats),
        body,
        caption: caption(data),
    }
}
