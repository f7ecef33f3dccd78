//! The Jacobian spectrum: singular values of ∂a_L/∂a_1 (MLP) or ∂h_T/∂h_1 (RNN) at the current weights, on
//! a log axis. All near 1 (dynamical isometry: orthogonal init with tanh near its linear regime) means every
//! direction of the backward signal is kept; a wide spread (Gaussian init with ReLU) means some directions
//! explode while others vanish, even when the average gradient looks fine. Computed on demand on the CPU in
//! f64 from weights read back from the GPU, for nets within the stated width/depth limit.

use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::time::Duration;

use egui::Color32;

use super::views::{FigureData, caption, notes, title};
use crate::model::{Arch, Dataset, NetConfig, Params};
use crate::reference::Reference;
use crate::reference::jacobian::{
    JacobianSpan, MAX_JACOBIAN_DEPTH, MAX_JACOBIAN_WIDTH, jacobian_singular_values,
};
use crate::viz::{Body, Figure, LinePlot, Series, View};

/// Colour of the singular-value line.
pub const SPECTRUM_COLOR: Color32 = Color32::from_rgb(148, 103, 189);

/// A computed spectrum and what it was computed for.
#[derive(Clone, Debug, PartialEq)]
pub struct JacobianSpectrum {
    /// The network.
    pub cfg: NetConfig,
    /// Updates applied to the weights.
    pub step: u64,
    /// Singular values, largest first, or why there are none.
    pub values: Result<Vec<f64>, String>,
}

/// The limit, as the view and the panel state it.
pub fn limit_text() -> String {
    format!(
        "computed on the CPU in f64 for width \u{2264} {MAX_JACOBIAN_WIDTH} and depth \u{2264} {MAX_JACOBIAN_DEPTH}"
    )
}

/// The spectrum of the Jacobian of the last hidden layer with respect to the first, at `params`.
pub fn compute(cfg: &NetConfig, params: &Params, step: u64) -> JacobianSpectrum {
    let reference = Reference::from_parts(cfg.clone(), Dataset::generate(cfg), params);
    JacobianSpectrum {
        cfg: cfg.clone(),
        step,
        values: jacobian_singular_values(&reference, 0, JacobianSpan::FromFirstHidden)
            .map_err(|e| e.to_string()),
    }
}

/// A spectrum computed on a worker thread (large nets take seconds).
#[derive(Debug, Default)]
pub struct JacobianJob {
    latest: Option<JacobianSpectrum>,
    pending: Option<Receiver<JacobianSpectrum>>,
}

impl JacobianJob {
    /// Starts computing; a computation in progress is dropped.
    pub fn start(&mut self, cfg: NetConfig, params: Params, step: u64) {
        let (tx, rx) = channel();
        self.pending = Some(rx);
        std::thread::spawn(move || {
            let _ = tx.send(compute(&cfg, &params, step));
        });
    }

    /// Collects a finished computation.
    pub fn poll(&mut self) {
        if let Some(rx) = &self.pending {
            match rx.try_recv() {
                Ok(s) => {
                    self.latest = Some(s);
                    self.pending = None;
                }
                Err(TryRecvError::Disconnected) => self.pending = None,
                Err(TryRecvError::Empty) => {}
            }
        }
    }

    /// Whether a computation is in progress.
    pub fn pending(&self) -> bool {
        self.pending.is_some()
    }

    /// The newest result.
    pub fn latest(&self) -> Option<&JacobianSpectrum> {
        self.latest.as_ref()
    }

    /// Waits (tests) at most `timeout` for the computation in progress.
    pub fn wait(&mut self, timeout: Duration) {
        let start = std::time::Instant::now();
        while self.pending.is_some() && start.elapsed() < timeout {
            self.poll();
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

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
