//! One network being trained in the window: its configuration, its engine, the statistics that arrived
//! and their history, and what is computed from it off the frame (the mean-field prediction, the RNN's W_h
//! spectrum, the Jacobian spectrum). Network A is a [`Run`]; compare mode's network B is another.

use std::time::Duration;
use web_time::Instant;

use super::jacobian::JacobianJob;
use super::pacing::IN_FLIGHT_TIMEOUT;
use super::theory::{PredictionCache, SpectrumTracker, WhSpectrum};
use super::views::FigureData;
use crate::gpu::{Engine, EngineError, GpuContext};
use crate::model::{ConfigError, NetConfig};
use crate::stats::StepStats;
use crate::viz::{History, RangeMode};

/// What a [`Run`]'s background jobs reported on one frame.
#[derive(Debug, Default)]
pub struct Refreshed {
    /// A Jacobian spectrum arrived.
    pub jacobian: bool,
    /// A job could not be started (reading the weights back failed, or no thread).
    pub error: Option<String>,
}

/// One network: configuration, engine, statistics and what theory says about it.
pub struct Run {
    cfg: NetConfig,
    engine: Option<Engine>,
    latest: Option<StepStats>,
    history: History,
    /// Every statistics record that arrived, within a memory bound (the views scrub back through it).
    timeline: super::timeline::Timeline,
    /// The label of the statistics last asked for, and when.
    awaiting: Option<(u64, Instant)>,
    prediction: PredictionCache,
    spectrum: SpectrumTracker,
    jacobian: JacobianJob,
    /// The browser build's weights on their way back (it cannot wait for them), and what they are for.
    #[cfg(target_arch = "wasm32")]
    params_read: Option<(crate::gpu::PendingParams, ParamsFor)>,
}

/// What weights read back from the GPU are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ParamsFor {
    /// The RNN's W_h spectrum at this step.
    Spectrum(u64),
    /// The Jacobian spectrum at this step.
    Jacobian(u64),
}

impl Run {
    /// Builds the network's engine on the shared GPU (nothing is computed yet: see [`Run::reset`]); with
    /// `tune`, on the path the tuner picks for its shape class (timed once per class, then cached).
    pub fn new(gpu: &GpuContext, cfg: NetConfig, tune: bool) -> Result<Run, EngineError> {
        let mut engine = if tune {
            crate::gpu::tuner::tuned_engine(gpu, &cfg)?
        } else {
            Engine::new(gpu, &cfg)?
        };
        // every record carries the layer histograms, so the Histograms view scrubs like the others
        engine.set_histograms(true);
        let mut run = Run::unbuilt(cfg);
        run.engine = Some(engine);
        Ok(run)
    }

    /// A network whose engine could not be built: it shows its configuration and trains nothing.
    pub fn unbuilt(cfg: NetConfig) -> Run {
        let mut prediction = PredictionCache::default();
        prediction.update(&cfg);
        Run {
            cfg,
            engine: None,
            latest: None,
            history: History::default(),
            timeline: super::timeline::Timeline::default(),
            awaiting: None,
            prediction,
            spectrum: SpectrumTracker::default(),
            jacobian: JacobianJob::default(),
            #[cfg(target_arch = "wasm32")]
            params_read: None,
        }
    }

    /// The configuration the engine runs.
    pub fn config(&self) -> &NetConfig {
        &self.cfg
    }

    /// The engine, if it could be built.
    pub fn engine(&self) -> Option<&Engine> {
        self.engine.as_ref()
    }

    /// Training steps applied to the weights.
    pub fn updates(&self) -> Option<u64> {
        self.engine.as_ref().map(Engine::updates)
    }

    /// The newest statistics.
    pub fn latest(&self) -> Option<&StepStats> {
        self.latest.as_ref()
    }

    /// The past statistics the views can be scrubbed back to.
    pub fn timeline(&self) -> &super::timeline::Timeline {
        &self.timeline
    }

    /// The RNN's W_h spectrum, as last read.
    pub fn wh_spectrum(&self) -> Option<WhSpectrum> {
        self.spectrum.latest()
    }

    /// Whether a Jacobian spectrum is being computed.
    pub fn jacobian_pending(&self) -> bool {
        #[cfg(target_arch = "wasm32")]
        if matches!(self.params_read, Some((_, ParamsFor::Jacobian(_)))) {
            return true;
        }
        self.jacobian.pending()
    }

    /// What the views draw this network from.
    pub fn figure_data(&self, range: RangeMode) -> FigureData<'_> {
        FigureData {
            cfg: &self.cfg,
            stats: self.latest.as_ref(),
            history: &self.history,
            range,
            prediction: self.prediction.get(),
            wh: self.spectrum.latest(),
            jacobian: self.jacobian.latest(),
            sweep: super::views::SweepShown::default(),
        }
    }

    /// Whether statistics asked for are on their way (for at most [`IN_FLIGHT_TIMEOUT`]) or a background
    /// job runs: the window keeps drawing frames until they arrive.
    pub fn busy(&self) -> bool {
        self.awaiting
            .is_some_and(|(_, at)| at.elapsed() < IN_FLIGHT_TIMEOUT)
            || self.spectrum.pending()
            || self.jacobian.pending()
            || self.reading_params()
    }

    /// Whether weights are on their way back for a job (the browser build's non-blocking read).
    fn reading_params(&self) -> bool {
        #[cfg(target_arch = "wasm32")]
        return self.params_read.is_some();
        #[cfg(not(target_arch = "wasm32"))]
        false
    }

    fn await_label(&mut self, label: u64) -> u64 {
        self.awaiting = Some((label, Instant::now()));
        label
    }

    /// Records `n` training steps; returns the label their statistics will carry.
    pub fn train(&mut self, n: u32) -> Option<u64> {
        let engine = self.engine.as_mut()?;
        engine.step(n);
        let label = engine.updates().saturating_sub(1);
        Some(self.await_label(label))
    }

    /// The gradient at the current weights, without an update; returns the label (the updates so far).
    pub fn compute(&mut self) -> Option<u64> {
        let engine = self.engine.as_mut()?;
        engine.compute();
        let label = engine.updates();
        Some(self.await_label(label))
    }

    /// One training step, then the gradient at the new weights (what "Step" shows); returns the label.
    pub fn step_once(&mut self) -> Option<u64> {
        let engine = self.engine.as_mut()?;
        engine.step(1);
        engine.compute();
        let label = engine.updates();
        Some(self.await_label(label))
    }

    /// Back to the initial weights (step 0): forgets the statistics and asks for the gradient there;
    /// returns the label.
    pub fn reset(&mut self) -> Option<u64> {
        self.latest = None;
        self.history.clear();
        self.timeline.clear();
        self.spectrum.clear();
        self.awaiting = None;
        #[cfg(target_arch = "wasm32")]
        {
            self.params_read = None;
        }
        let engine = self.engine.as_mut()?;
        engine.reset();
        engine.compute();
        let label = engine.updates();
        Some(self.await_label(label))
    }

    /// Switches to `cfg`, which differs only in the activation, keeping the engine and its initial weights
    /// (call [`Run::reset`] next: the statistics so far belong to the old activation).
    pub fn set_activation(&mut self, cfg: NetConfig) {
        if let Some(engine) = &mut self.engine {
            engine.set_activation(cfg.activation);
        }
        self.cfg = cfg;
    }

    /// Switches to `cfg`, which differs only in learning rate and clipping, in place; training goes on.
    pub fn set_training(&mut self, cfg: NetConfig) -> Result<(), ConfigError> {
        if let Some(engine) = &mut self.engine {
            engine.set_training(cfg.lr, cfg.clip)?;
        }
        self.cfg = cfg;
        Ok(())
    }

    /// Collects statistics that arrived (never waits); returns their step label.
    pub fn poll_stats(&mut self) -> Option<u64> {
        let stats = self.engine.as_mut()?.poll_stats()?;
        let step = stats.step;
        if self.awaiting.is_some_and(|(label, _)| label <= step) {
            self.awaiting = None;
        }
        self.history.push(&stats);
        self.timeline.push(&stats);
        self.latest = Some(stats);
        Some(step)
    }

    /// Keeps what is computed from the network current, without waiting: the prediction (once per
    /// configuration), W_h's spectrum (an RNN's, at most about once a second while `running`, at once
    /// when paused), and the Jacobian spectrum when it arrives.
    pub fn refresh(&mut self, running: bool) -> Refreshed {
        let mut out = Refreshed::default();
        self.prediction.update(&self.cfg);
        self.spectrum.poll();
        out.jacobian = self.jacobian.poll();
        #[cfg(target_arch = "wasm32")]
        if let Some(arrived) = self.params_read.as_ref().and_then(|(p, _)| p.poll())
            && let Some((_, purpose)) = self.params_read.take()
        {
            out.error = arrived
                .map_err(|e| format!("cannot read the weights: {e}"))
                .and_then(|params| self.start_job(params, purpose))
                .err();
        }
        let Some(engine) = &self.engine else {
            return out;
        };
        let step = engine.updates();
        if self.latest.is_some()
            && !self.reading_params()
            && self.spectrum.wants(&self.cfg, step, running)
        {
            out.error = self.with_params(ParamsFor::Spectrum(step)).err();
        }
        out
    }

    /// Reads the weights back and computes the Jacobian spectrum on a worker thread (in the browser:
    /// once the weights have arrived, between frames).
    pub fn compute_jacobian(&mut self) -> Result<(), String> {
        let Some(engine) = &self.engine else {
            return Ok(());
        };
        let step = engine.updates();
        self.with_params(ParamsFor::Jacobian(step))
    }

    /// Reads the weights for `purpose` and starts its job: at once natively, on a later frame in the
    /// browser (which cannot wait for the GPU).
    fn with_params(&mut self, purpose: ParamsFor) -> Result<(), String> {
        let Some(engine) = &self.engine else {
            return Ok(());
        };
        #[cfg(target_arch = "wasm32")]
        {
            self.params_read = Some((engine.request_params(), purpose));
            Ok(())
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let params = engine
                .read_params()
                .map_err(|e| format!("cannot read the weights: {e}"))?;
            self.start_job(params, purpose)
        }
    }

    /// Starts the job the weights were read for.
    fn start_job(
        &mut self,
        params: crate::model::Params,
        purpose: ParamsFor,
    ) -> Result<(), String> {
        match purpose {
            ParamsFor::Spectrum(step) => self
                .spectrum
                .start(params, step)
                .map_err(|e| format!("cannot start the W_h spectrum: {e}")),
            ParamsFor::Jacobian(step) => self
                .jacobian
                .start(self.cfg.clone(), params, step)
                .map_err(|e| format!("cannot start the Jacobian spectrum: {e}")),
        }
    }

    /// Waits (tests) at most `timeout` for the W_h spectrum being computed.
    pub fn wait_for_spectrum(&mut self, timeout: Duration) {
        self.spectrum.wait(timeout);
    }

    /// Waits (tests) at most `timeout` for the Jacobian spectrum being computed.
    pub fn wait_for_jacobian(&mut self, timeout: Duration) {
        self.jacobian.wait(timeout);
    }
}
