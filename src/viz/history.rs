//! The statistics seen over training, for the views that scroll in time (gradient flow, loss curve).

use std::collections::VecDeque;

use crate::stats::StepStats;

/// Steps kept by default (older ones scroll out).
pub const DEFAULT_CAPACITY: usize = 600;

/// What the time views need of one step.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryPoint {
    /// Updates applied before this gradient was computed.
    pub step: u64,
    /// The loss; `None` if NaN or infinite.
    pub loss: Option<f64>,
    /// Whether anything was NaN or infinite.
    pub nonfinite: bool,
    /// Per layer, log10 ‖∂L/∂W_l‖ (`None`: exact zero, or NaN when `nonfinite`).
    pub log10_grad_w: Vec<Option<f64>>,
    /// Per layer, whether that layer's statistics were NaN or infinite.
    pub layer_nonfinite: Vec<bool>,
    /// Whether gradient clipping fired at this step.
    pub clipped: bool,
    /// Per weight matrix (the order of `StepStats::update_ratio`), log10 ‖ΔW‖/‖W‖ (`None`: not
    /// computed, or an exact zero).
    pub log10_update_ratio: Vec<Option<f64>>,
}

impl HistoryPoint {
    /// Extracts the point from a step's statistics.
    pub fn of(stats: &StepStats) -> HistoryPoint {
        HistoryPoint {
            step: stats.step,
            loss: stats.loss.filter(|l| l.is_finite()),
            nonfinite: stats.nonfinite,
            log10_grad_w: stats.layers.iter().map(|l| l.log10_grad_w_norm).collect(),
            layer_nonfinite: stats
                .layers
                .iter()
                .map(crate::stats::LayerStats::is_nonfinite)
                .collect(),
            clipped: stats.clipped,
            log10_update_ratio: stats.update_ratio.iter().map(|u| u.log10_ratio).collect(),
        }
    }
}

/// A bounded, step-ordered record of training.
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    /// Points, oldest first, strictly increasing in `step`.
    pub points: VecDeque<HistoryPoint>,
    /// Most points kept.
    pub capacity: usize,
}

impl Default for History {
    fn default() -> Self {
        History {
            points: VecDeque::new(),
            capacity: DEFAULT_CAPACITY,
        }
    }
}

impl History {
    /// Records a step; a step not newer than the last one replaces the history from there (after a reset).
    pub fn push(&mut self, stats: &StepStats) {
        while self.points.back().is_some_and(|p| p.step >= stats.step) {
            self.points.pop_back();
        }
        self.points.push_back(HistoryPoint::of(stats));
        while self.points.len() > self.capacity.max(1) {
            self.points.pop_front();
        }
    }

    /// The points up to `step` (the history as it was then).
    pub fn until(&self, step: u64) -> History {
        History {
            points: self
                .points
                .iter()
                .filter(|p| p.step <= step)
                .cloned()
                .collect(),
            capacity: self.capacity,
        }
    }

    /// Forgets everything (new network).
    pub fn clear(&mut self) {
        self.points.clear();
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}
