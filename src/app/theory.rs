//! What the views need from theory, computed outside the frame loop: the mean-field prediction (once per
//! configuration) and the spectrum of the RNN's recurrent matrix W_h (read back at most about once a second
//! while training, computed on a worker thread so the window never waits on an eigenvalue solver).

use std::time::Duration;
use web_time::Instant;

use super::worker::Worker;

use crate::model::{Arch, NetConfig, Params};
use crate::theory::mean_field::{Prediction, predict};
use crate::theory::spectral::{spectral_norm, spectral_radius};

/// Least time between two readbacks of W_h while training runs.
pub const SPECTRUM_INTERVAL: Duration = Duration::from_secs(1);

/// The spectral radius and spectral norm of W_h at one training step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WhSpectrum {
    /// Updates applied to the weights it was computed from.
    pub step: u64,
    /// Largest |eigenvalue| of W_h: the asymptotic per-step factor of a linear recurrence.
    pub radius: f64,
    /// Largest singular value of W_h: the most one step can stretch a vector.
    pub norm: f64,
}

/// The spectrum of the RNN's `w_h` tensor in `params` (`None` for an MLP or when it cannot be computed).
pub fn wh_spectrum(params: &Params, step: u64) -> Option<WhSpectrum> {
    let t = params.get("w_h")?;
    let n = *t.shape.first()?;
    // a gated cell stacks its blocks in w_h (not square): no single recurrent matrix to take
    if t.shape.get(1) != Some(&n) {
        return None;
    }
    let radius = spectral_radius(&t.data, n).ok()?;
    let norm = spectral_norm(&t.data, n).ok()?;
    Some(WhSpectrum { step, radius, norm })
}

/// The mean-field prediction of one configuration.
#[derive(Debug)]
pub struct PredictionCache {
    cfg: Option<NetConfig>,
    prediction: Result<Prediction, String>,
}

impl Default for PredictionCache {
    fn default() -> Self {
        PredictionCache {
            cfg: None,
            prediction: Err("no network yet".into()),
        }
    }
}

impl PredictionCache {
    /// Recomputes the prediction when `cfg` differs from the last one (cheap otherwise).
    pub fn update(&mut self, cfg: &NetConfig) {
        if self.cfg.as_ref() != Some(cfg) {
            self.prediction = predict(cfg).map_err(|e| e.to_string());
            self.cfg = Some(cfg.clone());
        }
    }

    /// The prediction, if the theory covers this configuration.
    pub fn get(&self) -> Option<&Prediction> {
        self.prediction.as_ref().ok()
    }
}

/// W_h's spectrum, refreshed in the background.
#[derive(Debug, Default)]
pub struct SpectrumTracker {
    latest: Option<WhSpectrum>,
    job: Worker<Option<WhSpectrum>>,
    last_read: Option<Instant>,
}

impl SpectrumTracker {
    /// The newest spectrum computed.
    pub fn latest(&self) -> Option<WhSpectrum> {
        self.latest
    }

    /// Whether a computation is in progress.
    pub fn pending(&self) -> bool {
        self.job.pending()
    }

    /// Forgets the spectrum (new network or reset).
    pub fn clear(&mut self) {
        self.latest = None;
        self.job.cancel();
        self.last_read = None;
    }

    /// Collects a finished computation.
    pub fn poll(&mut self) {
        if let Some(Some(s)) = self.job.poll() {
            self.latest = Some(s);
        }
    }

    /// Whether W_h at `step` should be read now: an RNN, nothing in progress, not yet known at this step,
    /// and (while training runs) at least [`SPECTRUM_INTERVAL`] since the last read.
    pub fn wants(&self, cfg: &NetConfig, step: u64, running: bool) -> bool {
        cfg.arch == Arch::Rnn
            && !self.job.pending()
            && self.latest.is_none_or(|s| s.step != step)
            && (!running
                || self
                    .last_read
                    .is_none_or(|t| t.elapsed() >= SPECTRUM_INTERVAL))
    }

    /// Starts computing the spectrum of `params` (read at `step`) on a worker thread.
    pub fn start(&mut self, params: Params, step: u64) -> std::io::Result<()> {
        self.last_read = Some(Instant::now());
        self.job
            .start("gradscope-wh-spectrum", move || wh_spectrum(&params, step))
    }

    /// Waits (at most `timeout`) for the computation in progress (tests).
    pub fn wait(&mut self, timeout: Duration) {
        if let Some(Some(s)) = self.job.wait(timeout) {
            self.latest = Some(s);
        }
    }
}
