//! The eframe app: network A (and compare mode's network B) as [`Run`]s, the training scheduler that
//! records steps from [`eframe::App::logic`] without ever waiting on the GPU, applying what the panels
//! changed, keeping B in lockstep with A, and carrying out the panels' commands.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;
use web_time::Instant;

use super::command::Command;
use super::export::{self, EXPORT_SHORTCUT};
use super::network::Run;
use super::pacing::Pacing;
use super::panels::messages::messages_ui;
use super::panels::side::SidePanel;
use super::panels::top_bar::{TrainingInfo, top_bar_ui};
use super::settings::{self, MAX_STEPS_PER_FRAME, STORAGE_KEY, Settings};
use super::share;
use super::sweep_job::SweepJob;
use super::theory::WhSpectrum;
use super::views::{self, compare::figure_ab};
use super::worker::Worker;
use crate::gpu::GpuContext;
use crate::model::{BUILTIN_PRESETS, ConfigChange, NetConfig, Preset, PresetError};
use crate::stats::StepStats;
use crate::viz::{Figure, View, figure_ui};

/// A preset file read on a worker thread: the path typed, and what reading it gave.
type PresetRead = (String, Result<Preset, PresetError>);

/// A preset description as one paragraph (the TOML wraps it at fixed columns; the panel wraps it again).
fn one_paragraph(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The built-in preset whose configuration is exactly `cfg`, if any.
fn builtin_preset_of(cfg: &NetConfig) -> Option<(&'static str, Preset)> {
    BUILTIN_PRESETS.iter().find_map(|(name, _)| {
        Preset::builtin(name)
            .ok()
            .filter(|p| p.config() == *cfg)
            .map(|p| (*name, p))
    })
}

/// Reads a preset file; runs on a worker thread, never on the frame.
fn read_preset_file(path: &str) -> Result<Preset, PresetError> {
    Preset::load(Path::new(path))
}

/// Why the browser build runs no trainability sweep.
pub const WEB_NO_SWEEP: &str = "the trainability map needs the desktop app: its sweep trains grids of \
     networks on a worker thread that waits on the GPU, which a browser page cannot do";
/// Pixel size of an animated export's frames.
const ANIMATION_SIZE: [u32; 2] = [1280, 800];

/// The app.
pub struct GradscopeApp {
    settings: Settings,
    gpu: GpuContext,
    /// Network A, the one the controls edit.
    a: Run,
    /// Compare mode's network B.
    b: Option<Run>,
    pacing: Pacing,
    step_requested: bool,
    preset_description: String,
    /// A preset file being read.
    preset_file: Worker<PresetRead>,
    error: Option<String>,
    status: Option<String>,
    screenshot_tx: Sender<Arc<egui::ColorImage>>,
    screenshot_rx: Receiver<Arc<egui::ColorImage>>,
    /// The config string field of the side panel (paste a shared config here).
    config_text: String,
    /// Whether networks are built on the tuner's path ([`GradscopeApp::tuned`]).
    tune: bool,
    /// The trainability map's sweep.
    sweep: SweepJob,
    /// An animated GIF being written: (file, frames) or the error.
    animation: Worker<Result<(std::path::PathBuf, usize), String>>,
    /// (frames drawn, all frames) of that animation.
    animation_progress: Arc<(
        std::sync::atomic::AtomicUsize,
        std::sync::atomic::AtomicUsize,
    )>,
    /// What the Export section says about it.
    animation_line: String,
    /// The step the views are scrubbed back to (`None`: live).
    scrub: Option<u64>,
    /// The layer (time step) whose chain-rule ledger is open, if any.
    ledger: Option<usize>,
    /// Train until this many updates, then pause on the gradient at those weights (a link's `?steps=N`).
    stop_at: Option<u64>,
    /// The browser build's page: the URL, downloads, dropped files, the statistics report.
    #[cfg(target_arch = "wasm32")]
    web: super::web::WebPage,
    /// On a software adapter: draws the next frame when the training submission finishes (started on
    /// the first frame).
    #[cfg(not(target_arch = "wasm32"))]
    waker: Option<super::waker::Waker>,
}

impl GradscopeApp {
    /// Builds the app on eframe's wgpu device: restores settings (unless `initial` is given), compiles the
    /// kernels once and builds the first engine. A configuration that is exactly a built-in preset's shows
    /// that preset (name and lesson).
    pub fn new(
        cc: &eframe::CreationContext<'_>,
        initial: Option<NetConfig>,
    ) -> Result<GradscopeApp, String> {
        let Some(rs) = cc.wgpu_render_state.as_ref() else {
            return Err(
                "gradscope needs the wgpu renderer (no wgpu render state was created)".into(),
            );
        };
        rs.device.on_uncaptured_error(Arc::new(|e| {
            log::error!("wgpu error (ignored, the app keeps running): {e}")
        }));
        let gpu = GpuContext::new(rs.device.clone(), rs.queue.clone(), &rs.adapter.get_info());
        let mut settings: Settings = cc
            .storage
            .and_then(|s| eframe::get_value(s, STORAGE_KEY))
            .unwrap_or_default();
        if let Some(cfg) = initial {
            settings.preset = builtin_preset_of(&cfg)
                .map(|(name, _)| name.to_string())
                .unwrap_or_default();
            settings.config = cfg;
        }
        if settings.config.validate().is_err() {
            settings.config = settings::default_config();
        }
        cc.egui_ctx.set_theme(settings.theme.egui());
        let (screenshot_tx, screenshot_rx) = std::sync::mpsc::channel();
        let preset_description = Preset::builtin(&settings.preset)
            .map(|p| one_paragraph(&p.description))
            .unwrap_or_default();
        let pacing = Pacing::new(gpu.software);
        let mut app = GradscopeApp {
            a: Run::unbuilt(settings.config.clone()),
            settings,
            gpu,
            b: None,
            pacing,
            step_requested: false,
            preset_description,
            preset_file: Worker::default(),
            error: None,
            status: None,
            screenshot_tx,
            screenshot_rx,
            config_text: String::new(),
            tune: false,
            sweep: SweepJob::default(),
            animation: Worker::default(),
            animation_progress: Arc::default(),
            animation_line: String::new(),
            scrub: None,
            ledger: None,
            stop_at: None,
            #[cfg(target_arch = "wasm32")]
            web: super::web::WebPage::default(),
            #[cfg(not(target_arch = "wasm32"))]
            waker: None,
        };
        let cfg = app.settings.config.clone();
        if let Err(e) = app.rebuild(&cfg) {
            app.error = Some(e);
        }
        Ok(app)
    }

    /// The app with engine tuning on (the window the user launches; tests leave it off so they never
    /// time candidates or write the tuning cache): network A is rebuilt on the path the tuner picks for
    /// its shape class (gpu::tuner), and so is every later network.
    #[must_use]
    pub fn tuned(mut self) -> Self {
        self.tune = true;
        let cfg = self.settings.config.clone();
        if let Err(e) = self.rebuild(&cfg) {
            self.error = Some(e);
        }
        self
    }

    /// The app training `n` updates (from the network's start), one per submission so the timeline keeps
    /// every step, then pausing on the gradient at those weights: the statistics labelled `n` are what
    /// `gradscope stats --steps n` reports.
    #[must_use]
    pub fn stop_at(mut self, n: u64) -> Self {
        self.stop_at = Some(n);
        self.settings.running = true;
        self
    }

    /// Shows `message` as the app's error line.
    pub fn show_error(&mut self, message: String) {
        self.error = Some(message);
    }

    /// The app with the trainability map set to `spec` (a reopened sweep figure), running it at once.
    #[must_use]
    pub fn with_sweep(mut self, spec: crate::sweep::SweepSpec) -> Self {
        self.settings.sweep = spec;
        self.settings.view = View::Trainability;
        self.start_sweep();
        self
    }

    /// The trainability map's sweep (tests).
    pub fn sweep(&mut self) -> &mut SweepJob {
        &mut self.sweep
    }

    /// Starts the sweep of the side panel's settings around network A's configuration and shows its view.
    pub fn start_sweep(&mut self) {
        if cfg!(target_arch = "wasm32") {
            self.error = Some(WEB_NO_SWEEP.into());
            return;
        }
        let base = self.settings.config.clone();
        match self.sweep.start(&self.gpu, self.settings.sweep, base) {
            Ok(()) => {
                self.settings.view = View::Trainability;
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// Opens cell (ix, iy) of the map: as network A, or as B in compare mode where B can differ from A
    /// in the swept settings (gain, bias std); returns whether a cell was opened.
    pub fn open_sweep_cell(&mut self, ix: usize, iy: usize) -> bool {
        let Some(cfg) = self.sweep.select(ix, iy) else {
            return false;
        };
        let spec = self.settings.sweep;
        let what = format!(
            "{} = {:.3}, {} = {:.3}",
            spec.x.param.name(),
            spec.x.value(ix),
            spec.y.param.name(),
            spec.y.value(iy)
        );
        let b_can_differ = [spec.x.param, spec.y.param].iter().all(|p| {
            matches!(
                p,
                crate::sweep::SweepParam::Gain | crate::sweep::SweepParam::BiasStd
            )
        });
        if self.settings.compare.on && b_can_differ {
            let c = &mut self.settings.compare;
            c.activation = cfg.activation;
            c.init = cfg.init;
            c.gain = cfg.gain;
            c.bias_std = Some(cfg.bias_std);
            c.residual = cfg.residual;
            c.norm = cfg.norm;
            c.cell = cfg.cell;
            self.status = Some(format!("opened the net at {what} as network B"));
        } else {
            self.load_config(cfg, &format!("the map's cell {what}"));
            self.status = Some(format!(
                "opened the net at {what} as network A{}: its gradients are in the other views",
                if self.settings.compare.on {
                    " (B shares A's depth, width and learning rate, so only gain and bias-std maps open as B)"
                } else {
                    ""
                }
            ));
        }
        true
    }

    /// Starts writing the current view over network A's training so far (step 0 to its current step) as
    /// an animated GIF beside the PNG export path, on a worker thread that retrains the network offscreen.
    pub fn export_gif(&mut self) {
        use std::sync::atomic::Ordering;
        if self.settings.view == View::Trainability {
            self.error = Some(
                "the trainability map is a sweep, not a training run: export it with Export PNG"
                    .into(),
            );
            return;
        }
        #[cfg(target_arch = "wasm32")]
        {
            self.start_web_gif();
            return;
        }
        #[allow(unreachable_code)]
        let steps = self.a.engine().map_or(0, crate::gpu::Engine::updates);
        let frames = u64::from(self.settings.animation_frames.max(2));
        let every = steps.div_ceil(frames - 1).max(1);
        let size = ANIMATION_SIZE;
        let count = super::render::frame_count(steps, every) as usize;
        if let Err(e) = crate::viz::offscreen::check_animation_size(count as u64, size) {
            self.error = Some(e.to_string());
            return;
        }
        let path = export::figure_path(&self.settings.export_path, self.settings.view)
            .with_extension("gif");
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
            && !dir.is_dir()
        {
            self.error = Some(format!(
                "{}: the folder {} does not exist",
                path.display(),
                dir.display()
            ));
            return;
        }
        let req = super::render::RenderRequest {
            cfg: self.a.config().clone(),
            compare: None,
            engine: crate::cli::EngineKind::Gpu,
            steps,
            view: self.settings.view,
            out: path.clone(),
            size,
            theme: self.settings.export_theme,
            range: self.settings.range,
            every: Some(every),
        };
        let gpu = self.gpu.clone();
        let progress = Arc::new((
            std::sync::atomic::AtomicUsize::new(0),
            std::sync::atomic::AtomicUsize::new(count),
        ));
        self.animation_progress = progress.clone();
        let job = move || {
            let mut report = |done: usize, all: usize| {
                progress.1.store(all, Ordering::Relaxed);
                progress.0.store(done, Ordering::Relaxed);
            };
            let frames = super::render::render_animation(&gpu, &req, &mut report)
                .map_err(|e| format!("GIF export failed: {e:#}"))?;
            let images: Vec<egui::ColorImage> = frames.into_iter().map(|(_, i)| i).collect();
            crate::viz::offscreen::write_gif(&req.out, &images, 120, &views::config_json(&req.cfg))
                .map_err(|e| format!("GIF export failed: {e}"))?;
            Ok((req.out, images.len()))
        };
        match self.animation.start("gradscope-gif", job) {
            Ok(()) => self.error = None,
            Err(e) => self.error = Some(format!("cannot start the GIF export: {e}")),
        }
    }

    /// Picks up a finished GIF export and refreshes the Export section's line.
    fn poll_animation(&mut self) {
        use std::sync::atomic::Ordering;
        if let Some(done) = self.animation.poll() {
            match done {
                Ok((path, frames)) => {
                    self.status = Some(format!("saved {} ({frames} frames)", path.display()));
                }
                Err(e) => self.error = Some(e),
            }
        }
        self.animation_line.clear();
        #[cfg(target_arch = "wasm32")]
        if let Some(gif) = &self.web.gif {
            self.animation_line = format!(
                "writing GIF: frame {} of {} (from the timeline's records)",
                gif.done + 1,
                gif.steps.len()
            );
        }
        if self.animation.pending() {
            let p = &self.animation_progress;
            self.animation_line = format!(
                "writing GIF: frame {} of {}",
                p.0.load(Ordering::Relaxed),
                p.1.load(Ordering::Relaxed)
            );
        }
    }

    /// Waits (tests) at most `timeout` for the GIF being written.
    pub fn wait_for_animation(&mut self, timeout: Duration) {
        let start = Instant::now();
        while self.animation.pending() && start.elapsed() < timeout {
            self.poll_animation();
            std::thread::sleep(Duration::from_millis(5));
        }
        self.poll_animation();
    }

    /// The app with training paused (tests; the user presses Run).
    #[must_use]
    pub fn paused(mut self) -> Self {
        self.settings.running = false;
        self
    }

    /// The configuration the engine runs.
    pub fn config(&self) -> &NetConfig {
        self.a.config()
    }

    /// The settings (what the controls show).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Mutable settings (tests, scripting); changes apply on the next frame.
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// Network A.
    pub fn run_a(&self) -> &Run {
        &self.a
    }

    /// Compare mode's network B.
    pub fn run_b(&self) -> Option<&Run> {
        self.b.as_ref()
    }

    /// The newest statistics shown.
    pub fn latest_stats(&self) -> Option<&StepStats> {
        self.a.latest()
    }

    /// The error shown to the user, if any.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The last status message (e.g. where an export went).
    pub fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }

    /// Whether a preset file is being read (on a worker thread; the window keeps running).
    pub fn preset_loading(&self) -> bool {
        self.preset_file.pending()
    }

    /// Replaces the configuration with `cfg` (from a figure or a pasted string); applied on the next frame.
    pub fn load_config(&mut self, cfg: NetConfig, from: &str) {
        match builtin_preset_of(&cfg) {
            Some((name, p)) => {
                self.settings.preset = name.to_string();
                self.preset_description = one_paragraph(&p.description);
            }
            None => {
                self.settings.preset.clear();
                self.preset_description.clear();
            }
        }
        self.settings.config = cfg;
        self.error = None;
        self.status = Some(format!("config restored from {from}"));
    }

    /// Applies a pasted config string; invalid text shows an error and changes nothing.
    pub fn paste_config(&mut self, text: &str) {
        match share::parse_config(text) {
            Ok(cfg) => self.load_config(cfg, "the pasted config string"),
            Err(e) => self.error = Some(format!("{e:#}")),
        }
    }

    /// Restores the configuration of PNG figures dropped on the window (the last readable one wins).
    #[cfg(target_arch = "wasm32")]
    fn load_dropped(&mut self, files: &[egui::DroppedFileHandle], ctx: &egui::Context) {
        // the browser reads files asynchronously: they arrive in later frames (web_frame)
        self.web.read_dropped(files, ctx);
    }

    /// Restores the configuration of a dropped PNG the browser has read.
    #[cfg(target_arch = "wasm32")]
    fn load_dropped_bytes(&mut self, name: &str, bytes: Result<Vec<u8>, String>) {
        let read = bytes
            .map_err(|e| anyhow::anyhow!("cannot read the dropped file: {e}"))
            .and_then(|b| share::config_from_png_bytes(&b).map(|cfg| (cfg, b)));
        match read {
            Ok((cfg, bytes)) => {
                self.load_config(cfg, name);
                if let Ok(Some(_)) = share::sweep_from_png_bytes(&bytes) {
                    self.status = Some(format!(
                        "config restored from {name}; its trainability map needs the desktop app"
                    ));
                }
            }
            Err(e) => self.error = Some(format!("{name}: {e:#}")),
        }
    }

    /// Restores the configuration of PNG figures dropped on the window (the last readable one wins).
    #[cfg(not(target_arch = "wasm32"))]
    fn load_dropped(&mut self, files: &[egui::DroppedFileHandle], _ctx: &egui::Context) {
        for file in files {
            let path = file.path();
            let name = path.display().to_string();
            // a file on disk is read with the bounded reader (regular files only, metadata only);
            // other handles hand over their bytes
            let result = if path.is_absolute() {
                share::config_from_png(path)
            } else {
                file.bytes()
                    .map_err(|e| anyhow::anyhow!("cannot read the dropped file: {e}"))
                    .and_then(|bytes| share::config_from_png_bytes(&bytes))
            };
            match result {
                Ok(cfg) => {
                    self.load_config(cfg, &name);
                    // a trainability figure brings its sweep back too
                    let sweep = if path.is_absolute() {
                        share::sweep_from_png(path)
                    } else {
                        file.bytes()
                            .map_err(|e| anyhow::anyhow!("cannot read the dropped file: {e}"))
                            .and_then(|bytes| share::sweep_from_png_bytes(&bytes))
                    };
                    match sweep {
                        Ok(Some(spec)) => {
                            self.settings.sweep = spec;
                            self.start_sweep();
                        }
                        Ok(None) => {}
                        Err(e) => self.error = Some(format!("{name}: {e:#}")),
                    }
                }
                Err(e) => self.error = Some(format!("{name}: {e:#}")),
            }
        }
    }

    /// The spectral radius and norm of the RNN's W_h, as last read.
    pub fn wh_spectrum(&self) -> Option<WhSpectrum> {
        self.a.wh_spectrum()
    }

    /// Waits (tests) until the W_h spectra being computed have arrived.
    pub fn wait_for_spectrum(&mut self) {
        self.a.wait_for_spectrum(Duration::from_secs(30));
        if let Some(b) = &mut self.b {
            b.wait_for_spectrum(Duration::from_secs(30));
        }
    }

    /// Measured milliseconds per training step.
    pub fn ms_per_step(&self) -> Option<f64> {
        self.pacing.ms_per_step()
    }

    /// The GPU context (device shared with the window).
    pub fn gpu(&self) -> &GpuContext {
        &self.gpu
    }

    /// The figure of the current view, as the window draws it.
    pub fn figure(&self) -> Figure {
        self.figure_of(self.settings.view)
    }

    /// The figure of `view` (both networks side by side in compare mode).
    pub fn figure_of(&self, view: View) -> Figure {
        let range = self.settings.range;
        let mut a = self.a.figure_data(range);
        if view == View::Trainability {
            // one map, whatever compare mode shows elsewhere; the marker is at network A
            a.sweep = self.sweep.shown();
            return views::figure(view, &a);
        }
        // scrubbed: the statistics of that step and the history up to it (B's too, in lockstep)
        let (history_a, history_b);
        if let Some(rec) = self.scrubbed_stats(&self.a) {
            history_a = a.history.until(rec.step);
            a.history = &history_a;
            a.stats = Some(rec);
        }
        match &self.b {
            Some(b) if self.settings.compare.on => {
                let mut data_b = b.figure_data(range);
                if let Some(rec) = self.scrubbed_stats(b) {
                    history_b = data_b.history.until(rec.step);
                    data_b.history = &history_b;
                    data_b.stats = Some(rec);
                }
                figure_ab(view, &a, &data_b)
            }
            _ => views::figure(view, &a),
        }
    }

    /// Scrubs every view back to the statistics of `step` (the newest kept at or before it), or back to
    /// live with `None`.
    pub fn scrub(&mut self, step: Option<u64>) {
        self.scrub = step;
    }

    /// The step the views are scrubbed to (`None`: live).
    pub fn scrubbed(&self) -> Option<u64> {
        self.scrub
    }

    /// Opens the chain-rule ledger of `layer` (1-based; time step for the RNN), or closes it with `None`.
    pub fn open_ledger(&mut self, layer: Option<usize>) {
        self.ledger = layer.map(|l| l.clamp(1, self.settings.config.depth.max(1)));
    }

    /// The layer whose ledger is open.
    pub fn ledger_layer(&self) -> Option<usize> {
        self.ledger
    }

    /// The statistics of the step the views are scrubbed to, for `run` (`None`: live).
    fn scrubbed_stats<'a>(&self, run: &'a Run) -> Option<&'a StepStats> {
        self.scrub.and_then(|s| run.timeline().at(s))
    }

    /// The statistics the views show for `run` (the scrubbed step's, else the newest).
    fn shown_stats<'a>(&self, run: &'a Run) -> Option<&'a StepStats> {
        self.scrubbed_stats(run).or(run.latest())
    }

    /// The ledgers the open panel shows: network A's, and B's beside it in compare mode.
    pub fn ledgers(&self) -> Vec<(String, Result<crate::stats::Ledger, String>, Option<u64>)> {
        let Some(layer) = self.ledger else {
            return Vec::new();
        };
        let one = |run: &Run| {
            let stats = self.shown_stats(run);
            let ledger = if run.config().cell.is_gated() {
                Err("a gated cell's error splits over its gates: the ledger is written for MLPs and \
                     vanilla RNNs"
                    .to_string())
            } else {
                match stats {
                    None => Err("waiting for the first gradient".to_string()),
                    Some(st) => st.ledger(layer).ok_or_else(|| {
                        format!(
                            "no {} {layer} in this network",
                            views::common::layer_name(run.config())
                        )
                    }),
                }
            };
            (ledger, stats.map(|s| s.step))
        };
        let (a, step_a) = one(&self.a);
        match &self.b {
            Some(b) if self.settings.compare.on => {
                let (lb, step_b) = one(b);
                vec![("A".into(), a, step_a), ("B".into(), lb, step_b)]
            }
            _ => vec![(String::new(), a, step_a)],
        }
    }

    fn ledger_window(&mut self, ctx: &egui::Context) {
        let Some(layer) = self.ledger else {
            return;
        };
        let layer_name = views::common::layer_name(&self.settings.config);
        let ledgers = self.ledgers();
        let shown: Vec<super::panels::ledger::LedgerShown<'_>> = ledgers
            .into_iter()
            .map(|(name, ledger, step)| super::panels::ledger::LedgerShown {
                name,
                layer_name,
                ledger,
                step,
            })
            .collect();
        let mut action = super::panels::ledger::LedgerAction::None;
        let mut open = true;
        egui::Window::new(format!(
            "Chain-rule ledger: \u{3b4} at {layer_name} {layer}"
        ))
        .id(egui::Id::unique("gradscope ledger"))
        .open(&mut open)
        .default_width(560.0)
        .default_pos(egui::pos2(ctx.content_rect().right() - 600.0, 70.0))
        .resizable(true)
        .show(ctx, |ui| {
            action =
                super::panels::ledger::ledger_ui(ui, layer, self.settings.config.depth, &shown);
        });
        match action {
            super::panels::ledger::LedgerAction::Select(l) => self.open_ledger(Some(l)),
            super::panels::ledger::LedgerAction::Close => self.ledger = None,
            super::panels::ledger::LedgerAction::None if !open => self.ledger = None,
            super::panels::ledger::LedgerAction::None => {}
        }
    }

    /// Reads the weights back and computes the Jacobian spectrum (of both networks in compare mode) on
    /// worker threads.
    pub fn compute_jacobian(&mut self) {
        match self.a.compute_jacobian() {
            Ok(()) if self.a.jacobian_pending() => {
                self.status = Some("computing the Jacobian spectrum...".into());
            }
            Ok(()) => {}
            Err(e) => self.error = Some(e),
        }
        if let Some(b) = &mut self.b
            && let Err(e) = b.compute_jacobian()
        {
            self.error = Some(format!("network B: {e}"));
        }
    }

    /// Waits (tests) for the Jacobian spectra being computed.
    pub fn wait_for_jacobian(&mut self) {
        self.a.wait_for_jacobian(Duration::from_secs(60));
        if let Some(b) = &mut self.b {
            b.wait_for_jacobian(Duration::from_secs(60));
        }
    }

    /// Compare mode's network B: its config and newest statistics.
    pub fn network_b(&self) -> Option<(&NetConfig, Option<&StepStats>)> {
        self.b.as_ref().map(|b| (b.config(), b.latest()))
    }

    /// Training steps applied to A and to B (equal in compare mode: lockstep).
    pub fn updates(&self) -> (Option<u64>, Option<u64>) {
        (self.a.updates(), self.b.as_ref().and_then(Run::updates))
    }

    /// Builds, rebuilds, updates or drops network B to match the compare settings. A change of learning
    /// rate or clipping is set in place (both keep training in lockstep); any other change builds a new B
    /// and restarts A from its initial weights, so both train in lockstep from step 0.
    fn sync_b(&mut self) {
        let wanted = self
            .settings
            .compare
            .on
            .then(|| self.settings.compare.config_b(self.a.config()));
        let Some(wanted) = wanted else {
            self.b = None;
            return;
        };
        if let Some(b) = &mut self.b {
            match wanted.change_from(b.config()) {
                ConfigChange::Unchanged => return,
                ConfigChange::Training => match b.set_training(wanted.clone()) {
                    Ok(()) => return,
                    Err(e) => log::warn!("network B is rebuilt: {e}"),
                },
                ConfigChange::Activation | ConfigChange::Rebuild => {}
            }
        }
        let built = wanted
            .validate()
            .map_err(|e| format!("network B is not valid: {e}"))
            .and_then(|()| {
                Run::new(&self.gpu, wanted, self.tune)
                    .map_err(|e| format!("cannot build network B: {e}"))
            });
        match built {
            Ok(b) => {
                self.b = Some(b);
                self.reset_both();
            }
            Err(e) => {
                self.error = Some(e);
                self.settings.compare.on = false;
                self.b = None;
            }
        }
    }

    /// Builds a new network A for `cfg` (B restarts with it); on failure keeps the old one and returns the
    /// message.
    fn rebuild(&mut self, cfg: &NetConfig) -> Result<(), String> {
        self.a = Run::new(&self.gpu, cfg.clone(), self.tune)
            .map_err(|e| format!("cannot build this network: {e}"))?;
        self.reset_both();
        Ok(())
    }

    /// Both networks back to their initial weights (step 0, in lockstep), asking for the gradient there.
    fn reset_both(&mut self) {
        // the timeline starts again: the views follow training live
        self.scrub = None;
        self.pacing.clear();
        if let Some(label) = self.a.reset() {
            self.pacing.submitted(label, 0, Instant::now());
        }
        if let Some(b) = &mut self.b {
            b.reset();
        }
    }

    /// Applies what the controls changed: activation alone keeps the engine (same initial weights),
    /// learning rate and clipping alone are set in place, anything else rebuilds the network. An invalid
    /// or failed change shows why and puts the controls back.
    fn apply_config(&mut self) {
        let wanted = self.settings.config.clone();
        let change = match wanted.change_from(self.a.config()) {
            ConfigChange::Unchanged => return,
            _ if self.a.engine().is_none() => ConfigChange::Rebuild,
            change => change,
        };
        if let Err(e) = wanted.validate() {
            self.error = Some(e.to_string());
            self.settings.config = self.a.config().clone();
            return;
        }
        let applied = match change {
            ConfigChange::Unchanged => Ok(()),
            ConfigChange::Activation => {
                self.a.set_activation(wanted);
                self.reset_both();
                Ok(())
            }
            ConfigChange::Training => self.a.set_training(wanted).map_err(|e| e.to_string()),
            ConfigChange::Rebuild => self.rebuild(&wanted),
        };
        if let Err(e) = applied {
            self.error = Some(e);
            self.settings.config = self.a.config().clone();
        }
    }

    /// Carries out a command from a panel.
    fn command(&mut self, command: Command, ctx: &egui::Context) {
        match command {
            Command::Preset(name) => match Preset::builtin(&name) {
                Ok(p) => {
                    self.settings.preset = name;
                    self.preset_description = one_paragraph(&p.description);
                    self.settings.config = p.config();
                    self.error = None;
                }
                Err(e) => self.error = Some(e.to_string()),
            },
            Command::PresetFile(path) => self.start_preset_file(path.trim()),
            Command::Reset => self.reset_both(),
            Command::Step => self.step_requested = true,
            Command::Export => self.export_figure(),
            Command::ExportGif => self.export_gif(),
            Command::CopyFigure => self.copy_figure(ctx),
            Command::Screenshot => {
                let tx = self.screenshot_tx.clone();
                let repaint = ctx.clone();
                ctx.request_screenshot(move |image| {
                    // the app may be gone by the time the screenshot arrives: nothing to save then
                    let _ = tx.send(image);
                    repaint.request_repaint();
                });
            }
            Command::CopyLink => match self.link() {
                Some(link) => {
                    ctx.copy_text(link);
                    self.status = Some("link copied: it opens this lesson".into());
                }
                None => self.error = Some("links are for the browser build".into()),
            },
            Command::CopyConfig => {
                let text = share::config_string(&self.settings.config);
                ctx.copy_text(text.clone());
                self.config_text = text;
                self.status = Some("config copied to the clipboard".into());
            }
            Command::ApplyConfig => {
                let text = self.config_text.clone();
                self.paste_config(&text);
            }
            Command::ComputeJacobian => {
                self.compute_jacobian();
                self.settings.view = View::Jacobian;
            }
            Command::DismissError => self.error = None,
            Command::RunSweep => self.start_sweep(),
            Command::CancelSweep => self.sweep.cancel(),
        }
    }

    /// Starts reading the preset file `path` on a worker thread (the frame never waits on a file).
    fn start_preset_file(&mut self, path: &str) {
        if path.is_empty() {
            self.error = Some("type the path of a preset .toml file first".into());
            return;
        }
        let owned = path.to_string();
        let job = move || {
            let result = read_preset_file(&owned);
            (owned, result)
        };
        match self.preset_file.start("gradscope-preset-file", job) {
            Ok(()) => {
                self.error = None;
                self.status = Some(format!("reading preset {path}..."));
            }
            Err(e) => self.error = Some(format!("cannot read preset {path}: {e}")),
        }
    }

    /// Applies a preset file that has been read, or shows why it could not be; the network changes only
    /// when the file was a valid preset.
    fn poll_preset_file(&mut self) {
        let Some((path, result)) = self.preset_file.poll() else {
            return;
        };
        match result {
            Ok(p) => {
                self.settings.preset.clear();
                self.preset_description = format!("{}: {}", p.title, one_paragraph(&p.description));
                self.settings.config = p.config();
                self.error = None;
                self.status = Some(format!("loaded preset {path}"));
            }
            Err(e) => {
                self.error = Some(e.to_string());
                self.status = None;
            }
        }
    }

    /// Steps per frame now: the setting, or from the measured step time.
    fn steps_per_frame(&self) -> u32 {
        self.pacing.steps_per_frame(
            self.settings.auto_steps,
            self.settings.steps_per_frame,
            MAX_STEPS_PER_FRAME,
        )
    }

    /// On a software adapter with training in flight: asks for the next frame when the GPU finishes
    /// (frames drawn meanwhile would take the CPU from the training kernels and show nothing new).
    /// False where the frame is to be requested now.
    #[cfg(not(target_arch = "wasm32"))]
    fn repaint_after_gpu(&mut self, ctx: &egui::Context) -> bool {
        if !self.gpu.software || self.pacing.idle() {
            return false;
        }
        if self.waker.is_none() {
            self.waker = super::waker::Waker::start(self.gpu.device.clone(), ctx.clone());
        }
        self.waker
            .as_ref()
            .is_some_and(super::waker::Waker::after_gpu)
    }

    #[cfg(target_arch = "wasm32")]
    fn repaint_after_gpu(&mut self, _ctx: &egui::Context) -> bool {
        false
    }

    /// Collects arrived statistics and records more training (A and B in lockstep); never waits on the
    /// GPU.
    fn train(&mut self) {
        let now = Instant::now();
        self.pacing.frame(now);
        if let Some(step) = self.a.poll_stats() {
            self.pacing.arrived(step, now);
            self.pacing.set_gpu_ms_per_step(
                self.a
                    .engine()
                    .and_then(crate::gpu::Engine::gpu_ms_per_step),
            );
        }
        if let Some(b) = &mut self.b {
            b.poll_stats();
        }
        let mut n = self.steps_per_frame();
        let running = self.settings.running;
        if running && let Some(stop) = self.stop_at {
            let done = self.a.updates().unwrap_or(stop);
            if done >= stop {
                if !self.pacing.idle() {
                    // the last training statistics arrive first: one read-back keeps only the newest
                    // statistics, so the final gradient must not overtake them
                    return;
                }
                // the gradient at the final weights, labelled with the updates applied
                self.stop_at = None;
                self.settings.running = false;
                if let Some(label) = self.a.compute() {
                    self.pacing.submitted(label, 0, now);
                    if let Some(b) = &mut self.b {
                        b.compute();
                    }
                }
                return;
            }
            // one step per submission: every step's statistics arrive, so the timeline (and a GIF of it)
            // holds each step of a linked lesson whatever the adapter's speed
            n = 1;
        }
        if !self.pacing.may_submit(now) {
            return;
        }
        if running {
            if let Some(label) = self.a.train(n) {
                self.pacing.submitted(label, n, now);
                if let Some(b) = &mut self.b {
                    b.train(n);
                }
            }
        } else if std::mem::take(&mut self.step_requested) {
            // one update, then the gradient at the new weights: what the user expects to see after "Step"
            if let Some(label) = self.a.step_once() {
                self.pacing.submitted(label, 0, now);
                if let Some(b) = &mut self.b {
                    b.step_once();
                }
            }
        }
    }

    /// Keeps what is computed off the frame current for both networks (theory, spectra).
    fn refresh(&mut self) {
        let running = self.settings.running;
        let a = self.a.refresh(running);
        if let Some(e) = a.error {
            self.error = Some(e);
        }
        if a.jacobian {
            self.status = Some("Jacobian spectrum computed".into());
        }
        if let Some(b) = &mut self.b
            && let Some(e) = b.refresh(running).error
        {
            self.error = Some(format!("network B: {e}"));
        }
    }

    /// Saves the current view as a PNG figure (in the browser: renders it and downloads it once its
    /// pixels are back).
    pub fn export_figure(&mut self) {
        let path = export::figure_path(&self.settings.export_path, self.settings.view);
        // a trainability figure also stores its sweep, and its config is the sweep's base
        let sweep = self
            .sweep
            .result()
            .filter(|_| self.settings.view == View::Trainability);
        let (json, sweep_json) = match sweep {
            Some(r) => (
                views::config_json(&r.base),
                serde_json::to_string(&r.spec).ok(),
            ),
            None => (views::config_json(self.a.config()), None),
        };
        #[cfg(target_arch = "wasm32")]
        {
            use crate::viz::offscreen::{CONFIG_TEXT_KEY, SWEEP_TEXT_KEY};
            let mut chunks = vec![(CONFIG_TEXT_KEY, json)];
            chunks.extend(sweep_json.map(|s| (SWEEP_TEXT_KEY, s)));
            let name = super::web::file_name(&path, "gradscope.png");
            self.start_web_figure(super::web::FigureUse::Download { name, chunks });
            return;
        }
        #[allow(unreachable_code)]
        match export::save(
            &self.gpu,
            &self.figure(),
            self.settings.export_theme,
            &path,
            &json,
            sweep_json.as_deref(),
        ) {
            Ok([w, h]) => {
                self.error = None;
                self.status = Some(format!("saved {} ({w}\u{d7}{h})", path.display()));
            }
            Err(e) => self.error = Some(format!("export failed: {e}")),
        }
    }

    fn copy_figure(&mut self, ctx: &egui::Context) {
        #[cfg(target_arch = "wasm32")]
        {
            let _ = ctx;
            self.start_web_figure(super::web::FigureUse::Copy);
            return;
        }
        #[allow(unreachable_code)]
        match export::render(&self.gpu, &self.figure(), self.settings.export_theme) {
            Ok(image) => {
                ctx.copy_image(image);
                self.status = Some("figure copied to the clipboard".into());
            }
            Err(e) => self.error = Some(format!("copy failed: {e}")),
        }
    }

    /// Renders the current view offscreen and reads it back without waiting (the browser's export).
    #[cfg(target_arch = "wasm32")]
    fn start_web_figure(&mut self, purpose: super::web::FigureUse) {
        let started = crate::viz::offscreen::start_figure(
            &self.gpu.device,
            &self.gpu.queue,
            &self.figure(),
            crate::viz::offscreen::DEFAULT_EXPORT_SIZE,
            crate::viz::offscreen::EXPORT_PIXELS_PER_POINT,
            self.settings.export_theme,
        );
        match started {
            Ok((pixels, _)) => {
                self.web
                    .figures
                    .push((super::web::PendingPixels::new(pixels), purpose));
                self.status = Some("rendering the figure...".into());
            }
            Err(e) => self.error = Some(format!("export failed: {e}")),
        }
    }

    /// Starts the browser's GIF of the current view over the records the timeline kept (one frame per
    /// window frame; see [`super::web::WebGif`]).
    #[cfg(target_arch = "wasm32")]
    fn start_web_gif(&mut self) {
        let kept = self.a.timeline().steps();
        if kept.is_empty() {
            self.error = Some("no statistics yet: train a step first".into());
            return;
        }
        let steps = super::render::spread_steps(&kept, self.settings.animation_frames as usize);
        let name = super::web::file_name(
            &export::figure_path(&self.settings.export_path, self.settings.view)
                .with_extension("gif"),
            "gradscope.gif",
        );
        let size = ANIMATION_SIZE.map(|v| v as usize);
        match crate::viz::offscreen::GifStream::new(
            Vec::new(),
            size,
            120,
            &views::config_json(self.a.config()),
        ) {
            Ok(stream) => {
                self.web.gif = Some(super::web::WebGif {
                    steps,
                    done: 0,
                    pending: None,
                    drawn: None,
                    stream,
                    name,
                });
                self.error = None;
            }
            Err(e) => self.error = Some(format!("GIF export failed: {e}")),
        }
    }

    /// One step of the browser's GIF: encode the frame read back, or wait for its pixels, or draw the
    /// next one, or download the finished file.
    #[cfg(target_arch = "wasm32")]
    fn web_gif_tick(&mut self) {
        let Some(gif) = &mut self.web.gif else {
            return;
        };
        let failed = |e: String| format!("GIF export failed: {e}");
        if let Some(image) = gif.drawn.take() {
            if let Err(e) = gif.stream.push(&image) {
                self.error = Some(failed(e));
                self.web.gif = None;
                return;
            }
            gif.done += 1;
            return;
        }
        if let Some(pending) = &gif.pending {
            match pending.poll() {
                None => {}
                Some(Ok(image)) => {
                    gif.drawn = Some(image);
                    gif.pending = None;
                }
                Some(Err(e)) => {
                    self.error = Some(failed(e));
                    self.web.gif = None;
                }
            }
            return;
        }
        if let Some(&step) = gif.steps.get(gif.done) {
            let live = self.scrub.replace(step);
            let figure = self.figure();
            self.scrub = live;
            let started = crate::viz::offscreen::start_figure(
                &self.gpu.device,
                &self.gpu.queue,
                &figure,
                ANIMATION_SIZE,
                crate::viz::offscreen::EXPORT_PIXELS_PER_POINT,
                self.settings.export_theme,
            );
            match (started, &mut self.web.gif) {
                (Ok((pixels, _)), Some(gif)) => {
                    gif.pending = Some(super::web::PendingPixels::new(pixels));
                }
                (Err(e), _) => {
                    self.error = Some(failed(e.to_string()));
                    self.web.gif = None;
                }
                (Ok(_), None) => {}
            }
            return;
        }
        let Some(gif) = self.web.gif.take() else {
            return;
        };
        let frames = gif.done;
        let saved = gif
            .stream
            .finish()
            .and_then(|bytes| super::web::download(&gif.name, &bytes, "image/gif"));
        match saved {
            Ok(()) => self.status = Some(format!("downloaded {} ({frames} frames)", gif.name)),
            Err(e) => self.error = Some(failed(e)),
        }
    }

    /// The browser's per-frame work: the URL follows the config, the page gets the newest statistics,
    /// figures whose pixels are back are downloaded or copied, dropped files that were read are applied.
    #[cfg(target_arch = "wasm32")]
    fn web_frame(&mut self, ctx: &egui::Context) {
        self.web.follow_config(self.a.config());
        self.web.report(
            self.a.updates().unwrap_or(0),
            self.settings.running,
            self.a.latest(),
        );
        let mut i = 0;
        while i < self.web.figures.len() {
            let Some(done) = self.web.figures[i].0.poll() else {
                i += 1;
                continue;
            };
            let (_, purpose) = self.web.figures.remove(i);
            let result = done.and_then(|image| match &purpose {
                super::web::FigureUse::Download { name, chunks } => {
                    let chunks: Vec<(&str, &str)> =
                        chunks.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    crate::viz::offscreen::png_bytes(&image, &chunks)
                        .and_then(|bytes| super::web::download(name, &bytes, "image/png"))
                        .map(|()| format!("downloaded {name}"))
                }
                super::web::FigureUse::Copy => {
                    ctx.copy_image(image);
                    Ok("figure copied to the clipboard".into())
                }
            });
            match result {
                Ok(line) => self.status = Some(line),
                Err(e) => self.error = Some(format!("export failed: {e}")),
            }
        }
        let dropped: Vec<_> = self.web.dropped.borrow_mut().drain(..).collect();
        for (name, bytes) in dropped {
            self.load_dropped_bytes(&name, bytes);
        }
        self.web_gif_tick();
        if !self.web.figures.is_empty() || self.web.gif.is_some() {
            ctx.request_repaint();
        }
    }

    /// A copyable link to the lesson on screen (the browser build; `None` natively, where there is no
    /// page to link to).
    pub fn link(&self) -> Option<String> {
        #[cfg(target_arch = "wasm32")]
        return Some(super::web::link_to(self.a.config()));
        #[cfg(not(target_arch = "wasm32"))]
        None
    }

    fn save_screenshots(&mut self) {
        #[cfg(target_arch = "wasm32")]
        while let Ok(image) = self.screenshot_rx.try_recv() {
            let name = format!("gradscope-{}-window.png", self.settings.view.slug());
            let json = views::config_json(self.a.config());
            let saved = crate::viz::offscreen::png_bytes(
                &image,
                &[(crate::viz::offscreen::CONFIG_TEXT_KEY, json.as_str())],
            )
            .and_then(|bytes| super::web::download(&name, &bytes, "image/png"));
            match saved {
                Ok(()) => self.status = Some(format!("window downloaded as {name}")),
                Err(e) => self.error = Some(format!("screenshot failed: {e}")),
            }
        }
        #[cfg(not(target_arch = "wasm32"))]
        while let Ok(image) = self.screenshot_rx.try_recv() {
            let path = export::screenshot_path(&export::figure_path(
                &self.settings.export_path,
                self.settings.view,
            ));
            let json = views::config_json(self.a.config());
            match crate::viz::offscreen::write_png(&path, &image, Some(&json)) {
                Ok(()) => self.status = Some(format!("window saved to {}", path.display())),
                Err(e) => self.error = Some(format!("screenshot failed: {e}")),
            }
        }
    }

    fn side_panel_ui(&mut self, ui: &mut egui::Ui) {
        let commands = SidePanel {
            settings: &mut self.settings,
            preset_description: &self.preset_description,
            preset_loading: self.preset_file.pending(),
            running_arch: self.a.config().arch,
            wh: self.a.wh_spectrum(),
            config_text: &mut self.config_text,
            jacobian_pending: self.a.jacobian_pending(),
            sweep: self.sweep.progress(),
            animating: (!self.animation_line.is_empty()).then_some(self.animation_line.as_str()),
        }
        .ui(ui);
        for command in commands {
            self.command(command, ui.ctx());
        }
        self.apply_config();
    }
}

/// A panel's frame without its fill. The window is cleared to the panel colour instead
/// ([`eframe::App::clear_color`]), which looks the same and paints each pixel once less: on a software
/// adapter every painted pixel is shaded on the CPU, and the four panels' fills covered the whole window
/// each frame (docs/DESIGN.md §Performance, drawing on a software adapter).
fn unfilled(frame: egui::Frame) -> egui::Frame {
    frame.fill(egui::Color32::TRANSPARENT)
}

impl eframe::App for GradscopeApp {
    /// The panel colour: the panels leave their fill to the clear (`unfilled`).
    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4] {
        visuals.panel_fill.to_normalized_gamma_f32()
    }

    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        // the longer shortcut first: Ctrl+S would otherwise take Ctrl+Shift+S too
        if ctx.input_mut(|i| i.consume_shortcut(&export::GIF_SHORTCUT)) {
            self.export_gif();
        }
        if ctx.input_mut(|i| i.consume_shortcut(&EXPORT_SHORTCUT)) {
            self.export_figure();
        }
        self.save_screenshots();
        let dropped = ctx.input(|i| i.raw.dropped_files.clone());
        if !dropped.is_empty() {
            self.load_dropped(&dropped, ctx);
        }
        self.poll_preset_file();
        if let Some(Err(e)) = self.sweep.poll()
            && !e.contains("cancelled")
        {
            self.error = Some(e);
        }
        self.sweep.tick();
        self.poll_animation();
        self.sync_b();
        self.train();
        self.refresh();
        #[cfg(target_arch = "wasm32")]
        self.web_frame(ctx);
        let other_work = self.a.busy()
            || self.b.as_ref().is_some_and(Run::busy)
            || self.preset_file.pending()
            || self.sweep.running()
            || self.animation.pending();
        if other_work {
            ctx.request_repaint();
        } else if self.settings.running || !self.pacing.idle() {
            // training: the next frame at once, or on a software adapter once the GPU is done
            if !self.repaint_after_gpu(ctx) {
                ctx.request_repaint();
            }
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let steps_per_frame = self.steps_per_frame();
        let side = unfilled(egui::Frame::side_top_panel(ui.style()));
        egui::Panel::top("gradscope-top")
            .frame(side)
            .show(ui, |ui| {
                let info = TrainingInfo {
                    adapter: &self.gpu.adapter,
                    software: self.gpu.software,
                    ms_per_step: self.pacing.ms_per_step(),
                    gpu_ms_per_step: self
                        .a
                        .engine()
                        .and_then(crate::gpu::Engine::gpu_ms_per_step),
                    steps_per_frame,
                    engine: self.a.engine().map(|e| (e.updates(), e.gpu_bytes())),
                    path: self
                        .a
                        .engine()
                        .map(|e| (e.path_name(), e.dispatches_per_step())),
                };
                top_bar_ui(ui, &mut self.settings, &info);
            });
        egui::Panel::left("gradscope-controls")
            .frame(side)
            .default_size(360.0)
            .resizable(true)
            .show(ui, |ui| self.side_panel_ui(ui));
        egui::Panel::bottom("gradscope-timeline")
            .frame(side)
            .show(ui, |ui| {
                let timeline = self.a.timeline();
                let steps = timeline.steps();
                let info = super::panels::timeline::TimelineInfo {
                    steps: &steps,
                    bytes: timeline.bytes(),
                    budget: timeline.budget(),
                };
                super::panels::timeline::timeline_ui(ui, info, &mut self.scrub);
            });
        let central = unfilled(egui::Frame::central_panel(ui.style()));
        egui::CentralPanel::default().frame(central).show(ui, |ui| {
            if let Some(command) = messages_ui(ui, self.error.as_deref(), self.status.as_deref()) {
                self.command(command, ui.ctx());
            }
            let figure = self.figure();
            figure_ui(ui, &figure);
            if let Some((ix, iy)) = crate::viz::trainability::take_clicked(ui.ctx()) {
                self.open_sweep_cell(ix, iy);
            }
            if let Some(column) = crate::viz::heatmap::take_clicked_column(ui.ctx())
                && self.settings.view == View::GradientMap
            {
                self.open_ledger(Some(column as usize));
            }
        });
        self.ledger_window(ui.ctx());
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, &self.settings);
    }
}
