//! The training scheduler's bookkeeping: which submissions are in flight, when another may be recorded,
//! how many steps a frame records, and the measured time per step. The window trains from its frame loop
//! and never waits on the GPU; this decides how much to ask for. Pure bookkeeping, no GPU.

use std::collections::VecDeque;
use std::time::Duration;
use web_time::Instant;

/// Submissions allowed in flight before the app waits for statistics (keeps the queue short).
pub const MAX_IN_FLIGHT: usize = 2;
/// On a software adapter the window's frames share the CPU (and the queue) with training: one submission
/// at a time, and an idle gap as long as the last step took, so at least half the time goes to drawing.
pub const MAX_IN_FLIGHT_SOFTWARE: usize = 1;
/// A submission whose statistics have not arrived after this long is forgotten (never stalls training).
pub const IN_FLIGHT_TIMEOUT: Duration = Duration::from_secs(10);
/// Frame time budget for training on a hardware adapter, in milliseconds.
pub const STEP_BUDGET_MS: f64 = 12.0;
/// Frame time budget for training on a software adapter, in milliseconds.
pub const SOFTWARE_STEP_BUDGET_MS: f64 = 30.0;

/// One submission whose statistics are awaited.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    /// The step label its statistics will carry.
    label: u64,
    /// Training steps it recorded (0 for a gradient-only computation).
    steps: u32,
    /// When it was submitted.
    at: Instant,
}

/// Submissions in flight and the measured step time.
#[derive(Debug)]
pub struct Pacing {
    software: bool,
    in_flight: VecDeque<InFlight>,
    last_arrival: Option<Instant>,
    ms_per_step: Option<f64>,
    gpu_ms_per_step: Option<f64>,
}

impl Pacing {
    /// Pacing for a hardware adapter, or for a software one (`software`: fewer submissions, idle gaps).
    pub fn new(software: bool) -> Pacing {
        Pacing {
            software,
            in_flight: VecDeque::new(),
            last_arrival: None,
            ms_per_step: None,
            gpu_ms_per_step: None,
        }
    }

    /// Measured milliseconds per training step (a moving average), once known.
    pub fn ms_per_step(&self) -> Option<f64> {
        self.ms_per_step
    }

    /// The GPU's own time per training step (timestamp queries), where the adapter measures it: the
    /// pacing then plans with it rather than with the wall-clock time, which also counts the frames drawn
    /// meanwhile (on a software adapter several times the step itself).
    pub fn set_gpu_ms_per_step(&mut self, ms: Option<f64>) {
        self.gpu_ms_per_step = ms.filter(|m| m.is_finite() && *m > 0.0);
    }

    /// The step time the pacing plans with: the GPU's where known, else the wall-clock measure.
    fn planning_ms(&self) -> Option<f64> {
        self.gpu_ms_per_step.or(self.ms_per_step)
    }

    /// Whether no submission is awaited.
    pub fn idle(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// Forgets the submissions in flight (the network restarted); keeps the measured step time.
    pub fn clear(&mut self) {
        self.in_flight.clear();
    }

    /// A submission was recorded at `now`: `steps` training steps (0: a gradient only) whose statistics
    /// will carry `label`.
    pub fn submitted(&mut self, label: u64, steps: u32, now: Instant) {
        self.in_flight.push_back(InFlight {
            label,
            steps,
            at: now,
        });
    }

    /// Statistics labelled `step` arrived at `now`: retires the submissions they cover and updates the
    /// step time from the last training submission among them.
    pub fn arrived(&mut self, step: u64, now: Instant) {
        let mut timed = None;
        while let Some(f) = self.in_flight.front().copied()
            && f.label <= step
        {
            self.in_flight.pop_front();
            timed = Some(f);
        }
        if let Some(f) = timed
            && f.steps > 0
        {
            let start = self.last_arrival.map_or(f.at, |t| t.max(f.at));
            let ms = now.duration_since(start).as_secs_f64() * 1000.0 / f64::from(f.steps);
            self.ms_per_step = Some(self.ms_per_step.map_or(ms, |old| 0.8 * old + 0.2 * ms));
        }
        self.last_arrival = Some(now);
    }

    /// Whether a submission of `steps` steps may be recorded at `now` (`running`: continuous training).
    /// Forgets submissions older than [`IN_FLIGHT_TIMEOUT`]; refuses while the queue is full, and on a
    /// software adapter, while training runs, until the GPU has been idle as long as the steps take.
    pub fn may_submit(&mut self, now: Instant, running: bool, steps: u32) -> bool {
        if self
            .in_flight
            .front()
            .is_some_and(|f| now.duration_since(f.at) > IN_FLIGHT_TIMEOUT)
        {
            self.in_flight.clear();
        }
        let max_in_flight = if self.software {
            MAX_IN_FLIGHT_SOFTWARE
        } else {
            MAX_IN_FLIGHT
        };
        if self.in_flight.len() >= max_in_flight {
            return false;
        }
        if self.software
            && running
            && let (Some(last), Some(ms)) = (self.last_arrival, self.planning_ms())
            && now.duration_since(last).as_secs_f64() * 1000.0 < ms * f64::from(steps)
        {
            return false;
        }
        true
    }

    /// Steps per frame: `fixed` (at most `max`) unless `auto`, else as many as fit the frame's training
    /// budget at the measured step time (1 until it is measured).
    pub fn steps_per_frame(&self, auto: bool, fixed: u32, max: u32) -> u32 {
        if !auto {
            return fixed.clamp(1, max);
        }
        let budget = if self.software {
            SOFTWARE_STEP_BUDGET_MS
        } else {
            STEP_BUDGET_MS
        };
        match self.planning_ms() {
            Some(ms) if ms > 0.0 => ((budget / ms).floor() as u32).clamp(1, max),
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn step_time_is_measured_from_arrivals_and_sets_steps_per_frame() {
        let t0 = Instant::now();
        let mut p = Pacing::new(false);
        assert_eq!(
            p.steps_per_frame(true, 5, 64),
            1,
            "unknown step time: one step"
        );
        assert_eq!(
            p.steps_per_frame(false, 500, 64),
            64,
            "a fixed count is capped"
        );
        p.submitted(0, 0, t0);
        p.arrived(0, t0 + ms(5));
        assert_eq!(
            p.ms_per_step(),
            None,
            "a gradient-only submission times nothing"
        );
        p.submitted(3, 4, t0 + ms(5));
        p.arrived(3, t0 + ms(13));
        let measured = p.ms_per_step().expect("timed");
        assert!(
            (measured - 2.0).abs() < 1e-9,
            "8 ms for 4 steps: {measured}"
        );
        assert_eq!(p.steps_per_frame(true, 1, 64), 6, "12 ms budget / 2 ms");
        assert!(p.idle());
    }

    #[test]
    fn the_queue_is_capped_and_stale_submissions_are_forgotten() {
        let t0 = Instant::now();
        let mut p = Pacing::new(false);
        assert!(p.may_submit(t0, true, 1));
        p.submitted(0, 1, t0);
        p.submitted(1, 1, t0);
        assert!(!p.may_submit(t0, true, 1), "two in flight on hardware");
        p.arrived(0, t0 + ms(1));
        assert!(p.may_submit(t0 + ms(1), true, 1));
        assert!(
            p.may_submit(t0 + IN_FLIGHT_TIMEOUT + ms(2), true, 1),
            "a lost submission never stalls training"
        );
        assert!(p.idle());
    }

    #[test]
    fn the_gpu_time_plans_the_pacing_where_it_is_measured() {
        let t0 = Instant::now();
        let mut p = Pacing::new(true);
        p.submitted(0, 1, t0);
        // the wall clock says 200 ms per step (frames drawn meanwhile), the GPU 10 ms
        p.arrived(0, t0 + ms(200));
        assert_eq!(p.ms_per_step(), Some(200.0));
        assert_eq!(p.steps_per_frame(true, 1, 64), 1);
        p.set_gpu_ms_per_step(Some(10.0));
        assert_eq!(p.steps_per_frame(true, 1, 64), 3, "30 ms budget / 10 ms");
        // the idle gap after an arrival is the GPU time of the steps, not the wall clock's
        assert!(!p.may_submit(t0 + ms(205), true, 1));
        assert!(p.may_submit(t0 + ms(211), true, 1));
        p.set_gpu_ms_per_step(Some(f64::NAN));
        assert_eq!(p.steps_per_frame(true, 1, 64), 1, "back to the wall clock");
    }

    #[test]
    fn a_software_adapter_leaves_the_gpu_idle_as_long_as_the_steps_took() {
        let t0 = Instant::now();
        let mut p = Pacing::new(true);
        p.submitted(0, 2, t0);
        assert!(!p.may_submit(t0, true, 2), "one in flight on software");
        p.arrived(0, t0 + ms(20));
        assert_eq!(p.ms_per_step(), Some(10.0));
        assert!(
            !p.may_submit(t0 + ms(30), true, 2),
            "10 ms idle < 2 x 10 ms"
        );
        assert!(
            p.may_submit(t0 + ms(30), false, 2),
            "paused: a step goes at once"
        );
        assert!(p.may_submit(t0 + ms(41), true, 2));
        assert_eq!(p.steps_per_frame(true, 1, 64), 3, "30 ms budget / 10 ms");
    }
}
