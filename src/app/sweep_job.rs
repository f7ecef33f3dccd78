//! The trainability map's sweep as a background job: it trains on a worker thread on the window's GPU
//! device while the window keeps drawing, reports its progress through atomics and can be cancelled; the
//! finished map and the cell the user selected live here.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use web_time::Instant;

use super::panels::sweep::SweepProgress;
use super::views::SweepShown;
use super::worker::Worker;
use crate::gpu::{EngineOptions, GpuContext};
use crate::model::NetConfig;
use crate::sweep::{SweepError, SweepResult, SweepSpec};

/// A sweep in progress, and the last finished one.
#[derive(Debug, Default)]
pub struct SweepJob {
    job: Worker<Result<SweepResult, String>>,
    /// (work done, all work) of the running sweep.
    progress: Arc<(AtomicUsize, AtomicUsize)>,
    cancel: Arc<AtomicBool>,
    started: Option<Instant>,
    nets: usize,
    result: Option<SweepResult>,
    selected: Option<(usize, usize)>,
    status: Option<String>,
    /// The status line of the view ([`SweepJob::tick`]).
    line: String,
}

impl SweepJob {
    /// Starts `spec` around `base` on `gpu` (a sweep in progress is cancelled first). Checks the spec
    /// first: a bad axis is an error now, not on the worker.
    pub fn start(
        &mut self,
        gpu: &GpuContext,
        spec: SweepSpec,
        base: NetConfig,
    ) -> Result<(), String> {
        spec.check(&base).map_err(|e| e.to_string())?;
        self.cancel.store(true, Ordering::Relaxed);
        self.cancel = Arc::new(AtomicBool::new(false));
        self.progress = Arc::new((AtomicUsize::new(0), AtomicUsize::new(1)));
        let (gpu, progress, cancel) = (gpu.clone(), self.progress.clone(), self.cancel.clone());
        self.job
            .start("gradscope-sweep", move || {
                let mut report = |done: usize, total: usize| {
                    progress.1.store(total.max(1), Ordering::Relaxed);
                    progress.0.store(done, Ordering::Relaxed);
                };
                crate::sweep::run(
                    &gpu,
                    &spec,
                    &base,
                    EngineOptions::default(),
                    &mut report,
                    &cancel,
                )
                .map_err(|e| match e {
                    SweepError::Cancelled => e.to_string(),
                    other => format!("the sweep failed: {other}"),
                })
            })
            .map_err(|e| format!("cannot start the sweep: {e}"))?;
        self.started = Some(Instant::now());
        self.nets = spec.nets();
        self.status = None;
        Ok(())
    }

    /// Stops the sweep in progress (its thread ends at its next progress report).
    pub fn cancel(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        self.job.cancel();
        self.started = None;
        self.status = Some("sweep cancelled".into());
    }

    /// Picks up a finished sweep; returns an error message if it failed.
    pub fn poll(&mut self) -> Option<Result<(), String>> {
        let done = self.job.poll()?;
        self.started = None;
        Some(match done {
            Ok(result) => {
                self.result = Some(result);
                self.selected = None;
                self.status = None;
                Ok(())
            }
            Err(e) => {
                self.status = Some(e.clone());
                Err(e)
            }
        })
    }

    /// Whether a sweep runs.
    pub fn running(&self) -> bool {
        self.job.pending()
    }

    /// The panel's view of the progress.
    pub fn progress(&self) -> SweepProgress {
        let (done, total) = (
            self.progress.0.load(Ordering::Relaxed),
            self.progress.1.load(Ordering::Relaxed).max(1),
        );
        SweepProgress {
            running: self.running(),
            fraction: (done as f32 / total as f32).clamp(0.0, 1.0),
            nets: self.nets,
            seconds: self.started.map_or(0.0, |t| t.elapsed().as_secs_f64()),
        }
    }

    /// The last finished sweep.
    pub fn result(&self) -> Option<&SweepResult> {
        self.result.as_ref()
    }

    /// Marks cell (ix, iy) as opened; returns its configuration.
    pub fn select(&mut self, ix: usize, iy: usize) -> Option<NetConfig> {
        let r = self.result.as_ref()?;
        r.cell(ix, iy)?;
        self.selected = Some((ix, iy));
        Some(r.spec.cell_config(&r.base, ix, iy))
    }

    /// Refreshes the status line the view shows (progress of a running sweep, or why the last one
    /// ended); called once a frame.
    pub fn tick(&mut self) {
        self.line.clear();
        if self.running() {
            let p = self.progress();
            self.line = format!(
                "sweep running: {:.0}% of {} nets, {:.0} s{}",
                100.0 * p.fraction,
                p.nets,
                p.seconds,
                if self.result.is_some() {
                    " (the map below is the previous sweep's)"
                } else {
                    ""
                }
            );
        } else if let Some(s) = &self.status {
            self.line.clone_from(s);
        }
    }

    /// What the view draws.
    pub fn shown(&self) -> SweepShown<'_> {
        SweepShown {
            result: self.result.as_ref(),
            selected: self.selected,
            status: (!self.line.is_empty()).then_some(self.line.as_str()),
        }
    }
}
