//! The timeline: the full statistics of past steps, kept within a memory bound, so that every view can be
//! scrubbed back through training. When the bound is reached, every other older record is dropped: the
//! timeline always covers the whole run, more coarsely the longer it gets.

use std::collections::VecDeque;

use crate::stats::{LayerStats, StepStats};

/// Bytes of statistics the timeline of one network keeps at most.
pub const TIMELINE_BYTES: usize = 64 << 20;

/// Past statistics records, oldest first, strictly increasing in step.
#[derive(Clone, Debug)]
pub struct Timeline {
    records: VecDeque<StepStats>,
    bytes: usize,
    budget: usize,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline::with_budget(TIMELINE_BYTES)
    }
}

/// About how many bytes a record holds.
fn record_bytes(s: &StepStats) -> usize {
    let units: usize = s
        .layers
        .iter()
        .map(|l| {
            l.log10_mean_abs_delta.len()
                + l.gates
                    .as_ref()
                    .map_or(0, |g| g.saturated.len() + g.log10_mean_abs_cell_delta.len())
        })
        .sum();
    std::mem::size_of::<StepStats>()
        + s.engine.len()
        + s.adapter.len()
        + s.layers.len() * std::mem::size_of::<LayerStats>()
        + units * std::mem::size_of::<Option<f64>>()
        + s.update_ratio.len() * (std::mem::size_of::<crate::stats::UpdateRatio>() + 8)
        + s.layers
            .iter()
            .filter_map(|l| l.histogram.as_ref())
            .map(|h| {
                std::mem::size_of::<crate::stats::LayerHistogram>()
                    + 8 * (h.act.len() + h.delta.len())
            })
            .sum::<usize>()
}

impl Timeline {
    /// An empty timeline of at most `budget` bytes.
    pub fn with_budget(budget: usize) -> Timeline {
        Timeline {
            records: VecDeque::new(),
            bytes: 0,
            budget,
        }
    }

    /// Records a step; a step not newer than the last replaces the timeline from there (after a reset).
    pub fn push(&mut self, stats: &StepStats) {
        while self.records.back().is_some_and(|r| r.step >= stats.step) {
            if let Some(r) = self.records.pop_back() {
                self.bytes -= record_bytes(&r);
            }
        }
        self.bytes += record_bytes(stats);
        self.records.push_back(stats.clone());
        while self.bytes > self.budget && self.records.len() > 2 {
            self.thin();
        }
    }

    /// Drops every other record but the newest (keeps the oldest).
    fn thin(&mut self) {
        let last = self.records.len() - 1;
        let kept: VecDeque<StepStats> = self
            .records
            .drain(..)
            .enumerate()
            .filter(|(i, _)| i % 2 == 0 || *i == last)
            .map(|(_, r)| r)
            .collect();
        self.records = kept;
        self.bytes = self.records.iter().map(record_bytes).sum();
    }

    /// Forgets everything (a new network, or a reset).
    pub fn clear(&mut self) {
        self.records.clear();
        self.bytes = 0;
    }

    /// The steps recorded, oldest first.
    pub fn steps(&self) -> Vec<u64> {
        self.records.iter().map(|r| r.step).collect()
    }

    /// The newest record at or before `step`.
    pub fn at(&self, step: u64) -> Option<&StepStats> {
        self.records.iter().rev().find(|r| r.step <= step)
    }

    /// Records kept.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The bound on [`Timeline::bytes`].
    pub fn budget(&self) -> usize {
        self.budget
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(step: u64) -> StepStats {
        StepStats {
            step,
            loss: Some(1.0 / (1.0 + step as f64)),
            engine: "gpu".into(),
            adapter: "test".into(),
            nonfinite: false,
            grad_norm: None,
            clipped: false,
            layers: Vec::new(),
            update_ratio: Vec::new(),
        }
    }

    #[test]
    fn stays_within_its_budget_and_covers_the_whole_run() {
        let one = record_bytes(&stats(0));
        let mut t = Timeline::with_budget(10 * one);
        for s in 0..1000 {
            t.push(&stats(s));
            assert!(t.bytes() <= t.budget(), "{} > {}", t.bytes(), t.budget());
        }
        let steps = t.steps();
        assert_eq!(steps.first(), Some(&0), "the oldest stays");
        assert_eq!(steps.last(), Some(&999), "the newest stays");
        assert!(steps.windows(2).all(|w| w[0] < w[1]));
        assert!(t.len() <= 10 && t.len() >= 5, "{steps:?}");
        assert_eq!(t.at(999).map(|r| r.step), Some(999));
        assert!(t.at(500).is_some_and(|r| r.step <= 500));
        // a reset replaces the timeline from the step it restarts at
        t.push(&stats(0));
        assert_eq!(t.steps(), vec![0]);
        t.clear();
        assert!(t.is_empty() && t.bytes() == 0);
    }
}
