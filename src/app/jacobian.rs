//! The Jacobian spectrum, computed: singular values of ∂a_L/∂a_1 (MLP) or ∂h_T/∂h_1 (RNN) at the current
//! weights, on the CPU in f64 from weights read back from the GPU, for nets within the stated width/depth
//! limit; in the window on a [`Worker`] thread (large nets take seconds). The Jacobian view draws it.

use std::time::Duration;

use super::worker::Worker;
use crate::model::{Dataset, NetConfig, Params};
use crate::reference::Reference;
use crate::reference::jacobian::{
    JacobianSpan, MAX_JACOBIAN_DEPTH, MAX_JACOBIAN_WIDTH, jacobian_singular_values,
};

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
    job: Worker<JacobianSpectrum>,
}

impl JacobianJob {
    /// Starts computing; a computation in progress is dropped.
    pub fn start(&mut self, cfg: NetConfig, params: Params, step: u64) -> std::io::Result<()> {
        self.job
            .start("gradscope-jacobian", move || compute(&cfg, &params, step))
    }

    /// Collects a finished computation; true when one arrived.
    pub fn poll(&mut self) -> bool {
        match self.job.poll() {
            Some(s) => {
                self.latest = Some(s);
                true
            }
            None => false,
        }
    }

    /// Whether a computation is in progress.
    pub fn pending(&self) -> bool {
        self.job.pending()
    }

    /// The newest result.
    pub fn latest(&self) -> Option<&JacobianSpectrum> {
        self.latest.as_ref()
    }

    /// Waits (tests) at most `timeout` for the computation in progress.
    pub fn wait(&mut self, timeout: Duration) {
        if let Some(s) = self.job.wait(timeout) {
            self.latest = Some(s);
        }
    }
}
