//! The training scheduler's bookkeeping: which submissions are in flight, when another may be recorded,
//! how many steps a frame records, and the measured time per step. The window trains from its frame loop
//! and never waits on the GPU; this decides how much to ask for. Pure bookkeeping, no GPU.

use std::collections::VecDeque;
use std::time::Duration;
use web_time::Instant;

/// Submissions allowed in flight before the app waits for statistics (keeps the queue short).
pub const MAX_IN_FLIGHT: usize = 2;
/// On a software adapter the window's frames share the CPU (and the queue) with training: one submission
/// at a time, and the window draws when it has finished (`app::waker`).
pub const MAX_IN_FLIGHT_SOFTWARE: usize = 1;
/// A training submission made this long after the previous read-back starts a new measurement of the
/// step time (training was paused meanwhile); a sooner one counts the whole time since that read-back,
/// frames drawn meanwhile included, so the step time is the rate the window trains at.
pub const RESUME_GAP: Duration = Duration::from_millis(500);
/// Frame intervals longer than this (an idle window) are left out of the frame time.
const FRAME_GAP_MAX: Duration = Duration::from_secs(1);
/// A submission whose statistics have not arrived after this long is forgotten (never stalls training).
pub const IN_FLIGHT_TIMEOUT: Duration = Duration::from_secs(10);
/// Frame time budget for training on a hardware adapter, in milliseconds.
pub const STEP_BUDGET_MS: f64 = 12.0;
/// Frame time budget for training on a software adapter, in milliseconds, at least; where drawing a frame
/// takes longer, [`SOFTWARE_TRAINING_SHARE`] of the measured frame time (lavapipe spends 50-100 ms
/// drawing the window: one short step per frame left training a small share of the time).
pub const SOFTWARE_STEP_BUDGET_MS: f64 = 30.0;
/// The share of a software adapter's frame time that training takes, where drawing is slow: a frame
/// is then drawn per training submission ([`MAX_IN_FLIGHT_SOFTWARE`]), so the steps take this share
/// and drawing the rest.
pub const SOFTWARE_TRAINING_SHARE: f64 = 0.75;
/// The most a software adapter's frame spends training, in milliseconds (the window still draws a few
/// frames a second while training).
pub const SOFTWARE_STEP_BUDGET_MAX_MS: f64 = 200.0;

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
    last_frame: Option<Instant>,
    frame_ms: Option<f64>,
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
            last_frame: None,
            frame_ms: None,
        }
    }

    /// A frame began at `now`: updates the measured frame time (a moving average of the intervals,
    /// leaving out those of an idle window).
    pub fn frame(&mut self, now: Instant) {
        if let Some(last) = self.last_frame {
            let gap = now.duration_since(last);
            if gap <= FRAME_GAP_MAX {
                let ms = gap.as_secs_f64() * 1000.0;
                self.frame_ms = Some(self.frame_ms.map_or(ms, |old| 0.8 * old + 0.2 * ms));
            }
        }
        self.last_frame = Some(now);
    }

    /// The measured time between frames, in milliseconds, once known.
    pub fn frame_ms(&self) -> Option<f64> {
        self.frame_ms
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
            // the rate while training runs: from the previous read-back unless training resumed after
            // a pause (a submission before that read-back, as on hardware, counts from the read-back)
            let start = match self.last_arrival {
                Some(t) if f.at.duration_since(t) < RESUME_GAP => t,
                _ => f.at,
            };
            let ms = now.duration_since(start).as_secs_f64() * 1000.0 / f64::from(f.steps);
            self.ms_per_step = Some(self.ms_per_step.map_or(ms, |old| 0.8 * old + 0.2 * ms));
        }
        self.last_arrival = Some(now);
    }

    /// Whether a submission may be recorded at `now`: forgets submissions older than
    /// [`IN_FLIGHT_TIMEOUT`], and refuses while the queue is full.
    pub fn may_submit(&mut self, now: Instant) -> bool {
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
        self.in_flight.len() < max_in_flight
    }

    /// Steps per frame: `fixed` (at most `max`) unless `auto`, else as many as fit the frame's training
    /// budget at the measured step time (1 until it is measured). On a software adapter the budget is
    /// [`SOFTWARE_TRAINING_SHARE`] of the measured frame time, between [`SOFTWARE_STEP_BUDGET_MS`] and
    /// [`SOFTWARE_STEP_BUDGET_MAX_MS`]: with share s, the frame time T = steps + drawing settles where
    /// the steps take s·T, i.e. s/(1-s) times the drawing.
    pub fn steps_per_frame(&self, auto: bool, fixed: u32, max: u32) -> u32 {
        if !auto {
            return fixed.clamp(1, max);
        }
        let budget = if self.software {
            (SOFTWARE_TRAINING_SHARE * self.frame_ms.unwrap_or(0.0))
                .clamp(SOFTWARE_STEP_BUDGET_MS, SOFTWARE_STEP_BUDGET_MAX_MS)
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
        assert!(p.may_submit(t0));
        p.submitted(0, 1, t0);
        p.submitted(1, 1, t0);
        assert!(!p.may_submit(t0), "two in flight on hardware");
        p.arrived(0, t0 + ms(1));
        assert!(p.may_submit(t0 + ms(1)));
        assert!(
            p.may_submit(t0 + IN_FLIGHT_TIMEOUT + ms(2)),
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
        p.set_gpu_ms_per_step(Some(f64::NAN));
        assert_eq!(p.steps_per_frame(true, 1, 64), 1, "back to the wall clock");
    }

    #[test]
    fn a_software_adapter_submits_once_the_last_submission_is_back() {
        let t0 = Instant::now();
        let mut p = Pacing::new(true);
        p.submitted(0, 2, t0);
        assert!(!p.may_submit(t0), "one in flight on software");
        assert!(!p.may_submit(t0 + ms(500)), "still in flight");
        p.arrived(0, t0 + ms(20));
        assert_eq!(p.ms_per_step(), Some(10.0));
        assert!(
            p.may_submit(t0 + ms(20)),
            "at once: the window drew meanwhile"
        );
        p.submitted(1, 2, t0 + ms(20));
        p.arrived(1, t0 + ms(30));
        // (10 ms for 2 steps since the last read-back) averaged in
        assert_eq!(p.ms_per_step(), Some(9.0));
        assert_eq!(p.steps_per_frame(true, 1, 64), 3, "30 ms budget / 9 ms");
    }

    #[test]
    fn slow_frames_give_a_software_adapter_a_larger_budget() {
        let t0 = Instant::now();
        let mut p = Pacing::new(true);
        p.set_gpu_ms_per_step(Some(10.0));
        assert_eq!(p.frame_ms(), None);
        for i in 0..40 {
            p.frame(t0 + ms(100 * i));
        }
        assert!((p.frame_ms().unwrap() - 100.0).abs() < 1e-6);
        assert_eq!(p.steps_per_frame(true, 1, 64), 7, "3/4 of 100 ms / 10 ms");
        // an idle window's long gap is left out
        p.frame(t0 + ms(100 * 39 + 5000));
        assert!((p.frame_ms().unwrap() - 100.0).abs() < 1e-6);
        // fast frames keep the 30 ms floor
        let t1 = t0 + ms(100 * 39 + 5000);
        for i in 0..80 {
            p.frame(t1 + ms(20 * i));
        }
        assert_eq!(p.steps_per_frame(true, 1, 64), 3);
        // very slow frames (a slow machine, a big net) still draw a few frames a second
        let t2 = t1 + ms(20 * 79);
        for i in 0..80 {
            p.frame(t2 + ms(900 * i));
        }
        assert_eq!(p.steps_per_frame(true, 1, 64), 20, "200 ms at most / 10 ms");
        // hardware keeps its fixed budget
        let mut h = Pacing::new(false);
        h.set_gpu_ms_per_step(Some(2.0));
        h.frame(t0);
        h.frame(t0 + ms(100));
        assert_eq!(h.steps_per_frame(true, 1, 64), 6);
    }

    #[test]
    fn the_software_frame_time_settles_with_training_at_its_share() {
        // a frame per submission (the waker): frame time = the steps + drawing (60 ms here)
        let mut p = Pacing::new(true);
        p.set_gpu_ms_per_step(Some(5.0));
        let t0 = Instant::now();
        let mut t = 0.0;
        let mut steps = 1;
        for _ in 0..200 {
            p.frame(t0 + Duration::from_secs_f64(t / 1000.0));
            steps = p.steps_per_frame(true, 1, 64);
            t += 5.0 * f64::from(steps) + 60.0;
        }
        let share = 5.0 * f64::from(steps) / (5.0 * f64::from(steps) + 60.0);
        assert!(
            (share - SOFTWARE_TRAINING_SHARE).abs() < 0.03,
            "training {share:.3} of the frame time ({steps} steps of 5 ms)"
        );
    }

    #[test]
    fn the_step_time_is_the_training_rate_and_restarts_after_a_pause() {
        let t0 = Instant::now();
        let mut p = Pacing::new(true);
        p.submitted(0, 1, t0);
        p.arrived(0, t0 + ms(50));
        // the next submission a frame after the read-back: the frame's drawing counts
        p.submitted(1, 1, t0 + ms(90));
        p.arrived(1, t0 + ms(150));
        assert!((p.ms_per_step().unwrap() - (0.8 * 50.0 + 0.2 * 100.0)).abs() < 1e-9);
        // after a pause the time counts from the submission
        p.submitted(2, 1, t0 + ms(5000));
        p.arrived(2, t0 + ms(5060));
        assert!((p.ms_per_step().unwrap() - (0.8 * 60.0 + 0.2 * 60.0)).abs() < 1e-9);
    }
}
