//! The desktop app (eframe with the wgpu renderer): one window that shares its wgpu device with the GPU
//! engine, trains from [`eframe::App::logic`] without ever waiting on the GPU, and draws the views of
//! [`crate::viz`] every frame. One file per view; [`controls`] is the side panel.

pub mod activations;
pub mod compare;
pub mod controls;
pub mod export;
pub mod gradient_flow;
pub mod gradient_map;
pub mod jacobian;
pub mod loss;
pub mod norms;
pub mod render;
pub mod settings;
pub mod share;
pub mod theory;
pub mod views;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use egui::{Color32, Key, KeyboardShortcut, Modifiers, RichText};

use crate::gpu::device::{choose_adapter, device_descriptor};
use crate::gpu::{Engine, GpuContext, GpuOptions};
use crate::model::{NetConfig, Preset};
use crate::stats::StepStats;
use crate::viz::{Figure, History, View, figure_ui};
use controls::Command;
use settings::{MAX_STEPS_PER_FRAME, STORAGE_KEY, Settings};
use views::FigureData;

/// Submissions allowed in flight before the app waits for statistics (keeps the queue short).
const MAX_IN_FLIGHT: usize = 2;
/// On a software adapter the window's frames share the CPU (and the queue) with training: one submission
/// at a time, and an idle gap as long as the last step took, so at least half the time goes to drawing.
const MAX_IN_FLIGHT_SOFTWARE: usize = 1;
/// A submission whose statistics have not arrived after this long is forgotten (never stalls training).
const IN_FLIGHT_TIMEOUT: Duration = Duration::from_secs(10);
/// Frame time budget for training, in milliseconds, on a hardware and on a software adapter.
const STEP_BUDGET_MS: f64 = 12.0;
const SOFTWARE_STEP_BUDGET_MS: f64 = 30.0;
/// Export shortcut: Ctrl+S (Cmd+S on macOS).
pub const EXPORT_SHORTCUT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::S);

/// The wgpu setup of the window and of the UI tests: primary backends only (GL has no compute), the
/// adapter gradscope's own selection picks (honouring `--adapter` / `WGPU_ADAPTER_NAME`), and the device
/// limits the engine needs.
pub fn wgpu_setup(opts: &GpuOptions) -> egui_wgpu::WgpuSetup {
    let mut setup = egui_wgpu::WgpuSetupCreateNew::without_display_handle();
    setup.instance_descriptor = opts.instance_descriptor();
    let name = opts.name_filter();
    setup.native_adapter_selector = Some(Arc::new(move |adapters: &[wgpu::Adapter], _surface| {
        choose_adapter(adapters, name.as_deref()).map_err(|e| e.to_string())
    }));
    setup.device_descriptor = Arc::new(device_descriptor);
    egui_wgpu::WgpuSetup::CreateNew(setup)
}

/// Opens the window on `initial` (or the persisted settings, or the default preset) and runs until closed.
pub fn run(initial: Option<NetConfig>, opts: &GpuOptions) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("gradscope")
            .with_inner_size([1440.0, 900.0])
            .with_min_inner_size([800.0, 560.0]),
        renderer: eframe::Renderer::Wgpu,
        wgpu_options: egui_wgpu::WgpuConfiguration {
            wgpu_setup: wgpu_setup(opts),
            ..Default::default()
        },
        ..Default::default()
    };
    eframe::run_native(
        "gradscope",
        options,
        Box::new(move |cc| {
            Ok(Box::new(GradscopeApp::new(cc, initial).map_err(
                |e| -> Box<dyn std::error::Error + Send + Sync> { e.into() },
            )?))
        }),
    )
    .map_err(|e| anyhow::anyhow!("the window failed: {e}"))
}

/// A preset description as one paragraph (the TOML wraps it at fixed columns; the panel wraps it again).
fn one_paragraph(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

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

/// The app.
pub struct GradscopeApp {
    settings: Settings,
    gpu: GpuContext,
    engine: Option<Engine>,
    /// The configuration the engine runs (the settings' copy is what the controls edit).
    running_cfg: NetConfig,
    latest: Option<StepStats>,
    history: History,
    in_flight: VecDeque<InFlight>,
    last_arrival: Option<Instant>,
    ms_per_step: Option<f64>,
    preset_description: String,
    error: Option<String>,
    status: Option<String>,
    step_requested: bool,
    screenshot_tx: Sender<Arc<egui::ColorImage>>,
    screenshot_rx: Receiver<Arc<egui::ColorImage>>,
    /// The config string field of the side panel (paste a shared config here).
    config_text: String,
    /// The mean-field prediction of the running config.
    prediction: theory::PredictionCache,
    /// The RNN's W_h spectrum, refreshed while it trains.
    spectrum: theory::SpectrumTracker,
    /// Compare mode's network B.
    b: Option<compare::SideB>,
    /// B's mean-field prediction.
    prediction_b: theory::PredictionCache,
    /// The Jacobian spectrum, computed on demand.
    jacobian: jacobian::JacobianJob,
    /// B's Jacobian spectrum (compare mode).
    jacobian_b: jacobian::JacobianJob,
}

impl GradscopeApp {
    /// Builds the app on eframe's wgpu device: restores settings (unless `initial` is given), compiles the
    /// kernels once and builds the first engine.
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
            settings.config = cfg;
            settings.preset.clear();
        }
        if settings.config.validate().is_err() {
            settings.config = settings::default_config();
        }
        cc.egui_ctx.set_theme(settings.theme.egui());
        let (screenshot_tx, screenshot_rx) = std::sync::mpsc::channel();
        let preset_description = Preset::builtin(&settings.preset)
            .map(|p| one_paragraph(&p.description))
            .unwrap_or_default();
        let mut app = GradscopeApp {
            running_cfg: settings.config.clone(),
            settings,
            gpu,
            engine: None,
            latest: None,
            history: History::default(),
            in_flight: VecDeque::new(),
            last_arrival: None,
            ms_per_step: None,
            preset_description,
            error: None,
            status: None,
            step_requested: false,
            screenshot_tx,
            screenshot_rx,
            config_text: String::new(),
            prediction: theory::PredictionCache::default(),
            spectrum: theory::SpectrumTracker::default(),
            b: None,
            prediction_b: theory::PredictionCache::default(),
            jacobian: jacobian::JacobianJob::default(),
            jacobian_b: jacobian::JacobianJob::default(),
        };
        let cfg = app.settings.config.clone();
        if let Err(e) = app.rebuild(&cfg) {
            app.error = Some(e);
        }
        Ok(app)
    }

    /// The app with training paused (tests; the user presses Run).
    #[must_use]
    pub fn paused(mut self) -> Self {
        self.settings.running = false;
        self
    }

    /// The configuration the engine runs.
    pub fn config(&self) -> &NetConfig {
        &self.running_cfg
    }

    /// The settings (what the controls show).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Mutable settings (tests, scripting); changes apply on the next frame.
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// The newest statistics shown.
    pub fn latest_stats(&self) -> Option<&StepStats> {
        self.latest.as_ref()
    }

    /// The error shown to the user, if any.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The last status message (e.g. where an export went).
    pub fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }

    /// Replaces the configuration with `cfg` (from a figure or a pasted string); applied on the next frame.
    pub fn load_config(&mut self, cfg: NetConfig, from: &str) {
        self.settings.config = cfg;
        self.settings.preset.clear();
        self.preset_description.clear();
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
    fn load_dropped(&mut self, files: &[egui::DroppedFileHandle]) {
        for file in files {
            let path = file.path();
            let name = path.display().to_string();
            let result = file
                .bytes()
                .map_err(|e| anyhow::anyhow!("cannot read the dropped file: {e}"))
                .and_then(|bytes| share::config_from_png_bytes(&bytes));
            match result {
                Ok(cfg) => self.load_config(cfg, &name),
                Err(e) => self.error = Some(format!("{name}: {e:#}")),
            }
        }
    }

    /// The spectral radius and norm of the RNN's W_h, as last read.
    pub fn wh_spectrum(&self) -> Option<theory::WhSpectrum> {
        self.spectrum.latest()
    }

    /// Waits (tests) until a W_h spectrum being computed has arrived.
    pub fn wait_for_spectrum(&mut self) {
        self.spectrum.wait(Duration::from_secs(30));
    }

    /// Updates what theory says: the prediction once per config; W_h's spectrum at most about once a
    /// second while training (at once when paused or stepped), read back and solved off the frame.
    fn refresh_theory(&mut self) {
        self.prediction.update(&self.running_cfg);
        self.spectrum.poll();
        let Some(engine) = &self.engine else {
            return;
        };
        let step = engine.updates();
        if self.latest.is_some()
            && self
                .spectrum
                .wants(&self.running_cfg, step, self.settings.running)
        {
            match engine.read_params() {
                Ok(params) => self.spectrum.start(params, step),
                Err(e) => self.error = Some(format!("cannot read W_h: {e}")),
            }
        }
    }

    /// Measured milliseconds per training step.
    pub fn ms_per_step(&self) -> Option<f64> {
        self.ms_per_step
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
        let a = FigureData {
            cfg: &self.running_cfg,
            stats: self.latest.as_ref(),
            history: &self.history,
            range: self.settings.range,
            prediction: self.prediction.get(),
            wh: self.spectrum.latest(),
            jacobian: self.jacobian.latest(),
        };
        match &self.b {
            Some(b) if self.settings.compare.on => {
                let data_b = FigureData {
                    cfg: &b.cfg,
                    stats: b.latest.as_ref(),
                    history: &b.history,
                    range: self.settings.range,
                    prediction: self.prediction_b.get(),
                    wh: b.spectrum.latest(),
                    jacobian: self.jacobian_b.latest(),
                };
                compare::figure_ab(view, &a, &data_b)
            }
            _ => views::figure(view, &a),
        }
    }

    /// Reads the weights back and computes the Jacobian spectrum on a worker thread.
    pub fn compute_jacobian(&mut self) {
        let Some(engine) = &self.engine else {
            return;
        };
        match engine.read_params() {
            Ok(params) => {
                self.jacobian
                    .start(self.running_cfg.clone(), params, engine.updates());
                self.status = Some("computing the Jacobian spectrum...".into());
            }
            Err(e) => self.error = Some(format!("cannot read the weights: {e}")),
        }
        if let Some(b) = &self.b {
            match b.engine.read_params() {
                Ok(params) => self
                    .jacobian_b
                    .start(b.cfg.clone(), params, b.engine.updates()),
                Err(e) => self.error = Some(format!("cannot read B's weights: {e}")),
            }
        }
    }

    /// Waits (tests) for a Jacobian spectrum being computed.
    pub fn wait_for_jacobian(&mut self) {
        self.jacobian.wait(Duration::from_secs(60));
        self.jacobian_b.wait(Duration::from_secs(60));
    }

    fn jacobian_ui(&mut self, ui: &mut egui::Ui) {
        if ui
            .add_enabled(
                !self.jacobian.pending(),
                egui::Button::new("Compute Jacobian spectrum"),
            )
            .on_hover_text(format!(
                "Singular values of the hidden-layer Jacobian at the current weights ({}); opens its view",
                jacobian::limit_text()
            ))
            .clicked()
        {
            self.compute_jacobian();
            self.settings.view = View::Jacobian;
        }
        if self.jacobian.pending() {
            ui.label(RichText::new("computing...").weak());
        }
    }

    /// Compare mode's network B: its config and newest statistics.
    pub fn network_b(&self) -> Option<(&NetConfig, Option<&StepStats>)> {
        self.b.as_ref().map(|b| (&b.cfg, b.latest.as_ref()))
    }

    /// Training steps applied to A and to B (equal in compare mode: lockstep).
    pub fn updates(&self) -> (Option<u64>, Option<u64>) {
        (
            self.engine.as_ref().map(Engine::updates),
            self.b.as_ref().map(|b| b.engine.updates()),
        )
    }

    /// Builds, rebuilds or drops network B to match the compare settings; a new B restarts A from its
    /// initial weights so both train in lockstep from step 0.
    fn sync_b(&mut self) {
        let wanted = self
            .settings
            .compare
            .on
            .then(|| self.settings.compare.config_b(&self.running_cfg));
        let Some(wanted) = wanted else {
            self.b = None;
            return;
        };
        if self.b.as_ref().is_some_and(|b| b.cfg == wanted) {
            return;
        }
        let built = wanted
            .validate()
            .map_err(|e| format!("network B is not valid: {e}"))
            .and_then(|()| compare::SideB::new(&self.gpu, wanted.clone()));
        match built {
            Ok(b) => {
                self.prediction_b.update(&wanted);
                self.b = Some(b);
                if let Some(engine) = &mut self.engine {
                    engine.reset();
                }
                self.restart();
            }
            Err(e) => {
                self.error = Some(e);
                self.settings.compare.on = false;
                self.b = None;
            }
        }
    }

    /// Builds a new engine for `cfg`; on failure keeps the old one and returns the message.
    fn rebuild(&mut self, cfg: &NetConfig) -> Result<(), String> {
        let engine =
            Engine::new(&self.gpu, cfg).map_err(|e| format!("cannot build this network: {e}"))?;
        self.engine = Some(engine);
        self.running_cfg = cfg.clone();
        self.restart();
        Ok(())
    }

    /// Forget statistics and ask for the gradient at the current weights.
    fn restart(&mut self) {
        self.latest = None;
        self.spectrum.clear();
        if let Some(b) = &mut self.b {
            b.reset();
        }
        self.history.clear();
        self.in_flight.clear();
        if let Some(engine) = &mut self.engine {
            engine.compute();
            self.in_flight.push_back(InFlight {
                label: engine.updates(),
                steps: 0,
                at: Instant::now(),
            });
        }
    }

    /// Applies what the controls changed: activation alone keeps the engine (same initial weights),
    /// learning rate and clipping alone are set in place, anything else rebuilds the network.
    fn apply_config(&mut self) {
        let wanted = self.settings.config.clone();
        if wanted == self.running_cfg {
            return;
        }
        if let Err(e) = wanted.validate() {
            self.error = Some(e.to_string());
            self.settings.config = self.running_cfg.clone();
            return;
        }
        let same_but = |f: &dyn Fn(&mut NetConfig)| {
            let mut a = wanted.clone();
            let mut b = self.running_cfg.clone();
            f(&mut a);
            f(&mut b);
            a == b
        };
        let only_activation = same_but(&|c| c.activation = crate::model::Activation::Linear);
        let only_training = same_but(&|c| {
            c.lr = 1.0;
            c.clip = None;
        });
        match &mut self.engine {
            Some(engine) if only_activation => {
                engine.set_activation(wanted.activation);
                engine.reset();
                self.running_cfg = wanted;
                self.restart();
            }
            Some(engine) if only_training => match engine.set_training(wanted.lr, wanted.clip) {
                Ok(()) => self.running_cfg = wanted,
                Err(e) => {
                    self.error = Some(e.to_string());
                    self.settings.config = self.running_cfg.clone();
                }
            },
            _ => {
                if let Err(e) = self.rebuild(&wanted) {
                    self.error = Some(e);
                    self.settings.config = self.running_cfg.clone();
                }
            }
        }
    }

    fn command(&mut self, command: Command) {
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
            Command::PresetFile(path) => {
                if path.trim().is_empty() {
                    self.error = Some("type the path of a preset .toml file first".into());
                    return;
                }
                match Preset::load(std::path::Path::new(path.trim())) {
                    Ok(p) => {
                        self.settings.preset.clear();
                        self.preset_description =
                            format!("{}: {}", p.title, one_paragraph(&p.description));
                        self.settings.config = p.config();
                        self.error = None;
                        self.status = Some(format!("loaded preset {}", path.trim()));
                    }
                    Err(e) => self.error = Some(e.to_string()),
                }
            }
            Command::Reset => {
                if let Some(engine) = &mut self.engine {
                    engine.reset();
                }
                self.restart();
            }
            Command::Step => self.step_requested = true,
        }
    }

    /// Steps per frame now: the setting, or from the measured step time.
    fn steps_per_frame(&self) -> u32 {
        if !self.settings.auto_steps {
            return self.settings.steps_per_frame.clamp(1, MAX_STEPS_PER_FRAME);
        }
        let budget = if self.gpu.software {
            SOFTWARE_STEP_BUDGET_MS
        } else {
            STEP_BUDGET_MS
        };
        match self.ms_per_step {
            Some(ms) if ms > 0.0 => ((budget / ms).floor() as u32).clamp(1, MAX_STEPS_PER_FRAME),
            _ => 1,
        }
    }

    /// Collects arrived statistics and records more training; never waits on the GPU.
    fn train(&mut self) {
        let Some(engine) = &mut self.engine else {
            return;
        };
        let now = Instant::now();
        if let Some(stats) = engine.poll_stats() {
            let mut timed = None;
            while self
                .in_flight
                .front()
                .is_some_and(|f| f.label <= stats.step)
            {
                if let Some(f) = self.in_flight.pop_front() {
                    timed = Some(f);
                }
            }
            if let Some(f) = timed
                && f.steps > 0
            {
                let start = self.last_arrival.map_or(f.at, |t| t.max(f.at));
                let ms = now.duration_since(start).as_secs_f64() * 1000.0 / f64::from(f.steps);
                self.ms_per_step = Some(self.ms_per_step.map_or(ms, |old| 0.8 * old + 0.2 * ms));
            }
            self.last_arrival = Some(now);
            self.history.push(&stats);
            self.latest = Some(stats);
        }
        if self
            .in_flight
            .front()
            .is_some_and(|f| now.duration_since(f.at) > IN_FLIGHT_TIMEOUT)
        {
            self.in_flight.clear();
        }
        let max_in_flight = if self.gpu.software {
            MAX_IN_FLIGHT_SOFTWARE
        } else {
            MAX_IN_FLIGHT
        };
        if self.in_flight.len() >= max_in_flight {
            return;
        }
        if self.gpu.software
            && self.settings.running
            && let (Some(last), Some(ms)) = (self.last_arrival, self.ms_per_step)
            && now.duration_since(last).as_secs_f64() * 1000.0
                < ms * f64::from(self.steps_per_frame())
        {
            return;
        }
        let n = self.steps_per_frame();
        let Some(engine) = &mut self.engine else {
            return;
        };
        if self.settings.running {
            engine.step(n);
            if let Some(b) = &mut self.b {
                b.engine.step(n);
            }
            self.in_flight.push_back(InFlight {
                label: engine.updates() - 1,
                steps: n,
                at: now,
            });
        } else if std::mem::take(&mut self.step_requested) {
            // one update, then the gradient at the new weights: what the user expects to see after "Step"
            engine.step(1);
            engine.compute();
            if let Some(b) = &mut self.b {
                b.engine.step(1);
                b.engine.compute();
            }
            self.in_flight.push_back(InFlight {
                label: engine.updates(),
                steps: 0,
                at: now,
            });
        }
    }

    /// Saves the current view as a PNG figure.
    pub fn export_figure(&mut self) {
        let path = export::figure_path(&self.settings.export_path, self.settings.view);
        let json = views::config_json(&self.running_cfg);
        match export::save(
            &self.gpu,
            &self.figure(),
            self.settings.export_theme,
            &path,
            &json,
        ) {
            Ok([w, h]) => {
                self.error = None;
                self.status = Some(format!("saved {} ({w}\u{d7}{h})", path.display()));
            }
            Err(e) => self.error = Some(format!("export failed: {e}")),
        }
    }

    fn copy_figure(&mut self, ctx: &egui::Context) {
        match export::render(&self.gpu, &self.figure(), self.settings.export_theme) {
            Ok(image) => {
                ctx.copy_image(image);
                self.status = Some("figure copied to the clipboard".into());
            }
            Err(e) => self.error = Some(format!("copy failed: {e}")),
        }
    }

    fn save_screenshots(&mut self) {
        while let Ok(image) = self.screenshot_rx.try_recv() {
            let path = export::screenshot_path(&export::figure_path(
                &self.settings.export_path,
                self.settings.view,
            ));
            let json = views::config_json(&self.running_cfg);
            match crate::viz::offscreen::write_png(&path, &image, Some(&json)) {
                Ok(()) => self.status = Some(format!("window saved to {}", path.display())),
                Err(e) => self.error = Some(format!("screenshot failed: {e}")),
            }
        }
    }

    fn top_bar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.heading("gradscope");
            ui.separator();
            for view in View::ALL {
                ui.selectable_value(&mut self.settings.view, view, view.label());
            }
            ui.separator();
            let dark = self.settings.theme == crate::viz::FigureTheme::Dark;
            if ui
                .selectable_label(!dark, "Light")
                .on_hover_text("Light theme")
                .clicked()
            {
                self.settings.theme = crate::viz::FigureTheme::Light;
                ui.ctx().set_theme(egui::Theme::Light);
            }
            if ui
                .selectable_label(dark, "Dark")
                .on_hover_text("Dark theme")
                .clicked()
            {
                self.settings.theme = crate::viz::FigureTheme::Dark;
                ui.ctx().set_theme(egui::Theme::Dark);
            }
        });
        ui.horizontal_wrapped(|ui| {
            if self.gpu.software {
                ui.label(
                    RichText::new(" software adapter ")
                        .color(Color32::BLACK)
                        .background_color(Color32::from_rgb(255, 200, 60)),
                )
                .on_hover_text(
                    "A CPU rasterizer (e.g. lavapipe): slow, so fewer steps per frame are recorded",
                );
            }
            ui.label(RichText::new(&self.gpu.adapter).monospace())
                .on_hover_text("GPU adapter (backend, type)");
            ui.separator();
            let ms = self
                .ms_per_step
                .map_or("-".to_string(), |ms| format!("{ms:.2}"));
            ui.label(format!("{ms} ms/step"))
                .on_hover_text("GPU time per training step, measured from readbacks");
            ui.label(format!("{} steps/frame", self.steps_per_frame()));
            if let Some(engine) = &self.engine {
                ui.label(format!("step {}", engine.updates()));
                ui.label(format!(
                    "{:.1} MiB on GPU",
                    engine.gpu_bytes() as f64 / (1024.0 * 1024.0)
                ));
            }
        });
    }

    fn export_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let label = ui.label("Save to");
            ui.add(
                egui::TextEdit::singleline(&mut self.settings.export_path)
                    .hint_text(format!("gradscope-{}.png", self.settings.view.slug()))
                    .desired_width(190.0),
            )
            .labelled_by(label.id)
            .on_hover_text(
                "PNG file for exports (empty: gradscope-<view>.png in the working directory)",
            );
        });
        ui.horizontal(|ui| {
            if ui
                .button("Export PNG")
                .on_hover_text(format!(
                    "Save the current view as a 2x PNG figure with title, axes, colour bar and config ({})",
                    ui.ctx().format_shortcut(&EXPORT_SHORTCUT)
                ))
                .clicked()
            {
                self.export_figure();
            }
            if ui.button("Copy").on_hover_text("Copy the figure to the clipboard").clicked() {
                self.copy_figure(ui.ctx());
            }
            if ui.button("Screenshot").on_hover_text("Save the whole window as <name>-window.png").clicked() {
                let tx = self.screenshot_tx.clone();
                let ctx = ui.ctx().clone();
                ui.ctx().request_screenshot(move |image| {
                    let _ = tx.send(image);
                    ctx.request_repaint();
                });
            }
        });
        ui.horizontal(|ui| {
            ui.label("Figure theme")
                .on_hover_text("Theme of exported figures (light suits slides)");
            ui.selectable_value(
                &mut self.settings.export_theme,
                crate::viz::FigureTheme::Light,
                "light",
            );
            ui.selectable_value(
                &mut self.settings.export_theme,
                crate::viz::FigureTheme::Dark,
                "dark",
            );
        });
    }

    fn side_panel_ui(&mut self, ui: &mut egui::Ui) {
        egui::ScrollArea::vertical().show(ui, |ui| {
            // wide sliders: the logarithmic depth slider spans 1..=1024 and needs room for fine control
            ui.spacing_mut().slider_width = (ui.available_width() - 130.0).clamp(100.0, 220.0);
            let mut command = None;
            ui.heading("Experiment");
            command =
                controls::presets_ui(ui, &mut self.settings, &self.preset_description).or(command);
            ui.separator();
            command = controls::run_ui(ui, &mut self.settings).or(command);
            ui.separator();
            ui.heading("Network");
            controls::network_ui(ui, &mut self.settings.config);
            if self.running_cfg.arch == crate::model::Arch::Rnn {
                self.wh_readout_ui(ui);
            }
            ui.separator();
            ui.heading("Training");
            controls::training_ui(ui, &mut self.settings.config);
            ui.separator();
            ui.heading("Display");
            controls::display_ui(ui, &mut self.settings);
            ui.separator();
            ui.heading("Export");
            self.export_ui(ui);
            ui.separator();
            ui.heading("Share");
            self.share_ui(ui);
            ui.separator();
            ui.heading("Compare");
            compare::compare_ui(ui, &mut self.settings.compare, self.settings.config.arch);
            ui.separator();
            ui.heading("Jacobian");
            self.jacobian_ui(ui);
            if let Some(c) = command {
                self.command(c);
            }
        });
        self.apply_config();
    }

    fn wh_readout_ui(&self, ui: &mut egui::Ui) {
        let text = match self.spectrum.latest() {
            Some(s) => format!(
                "W_h at step {}: \u{3c1} = {:.4}, ||W_h||\u{2082} = {:.4}",
                s.step, s.radius, s.norm
            ),
            None => "W_h: reading its spectrum...".into(),
        };
        ui.label(RichText::new(text).monospace()).on_hover_text(
            "Spectral radius \u{3c1} (largest |eigenvalue|): the per-step factor of the gradient over many \
             steps. Spectral norm (largest singular value): the most one step can stretch it. Updated about \
             once a second while training, and after every step when paused.",
        );
    }

    fn share_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if ui
                .button("Copy config")
                .on_hover_text("Copy this network's config as one line of JSON, to paste into another gradscope")
                .clicked()
            {
                let text = share::config_string(&self.settings.config);
                ui.ctx().copy_text(text.clone());
                self.config_text = text;
                self.status = Some("config copied to the clipboard".into());
            }
            if ui
                .button("Apply config")
                .on_hover_text("Use the config string in the field below (invalid text changes nothing)")
                .clicked()
            {
                let text = self.config_text.clone();
                self.paste_config(&text);
            }
        });
        let label = ui.label("Config string");
        ui.add(
            egui::TextEdit::singleline(&mut self.config_text)
                .hint_text("paste a config string, or drop an exported PNG on the window")
                .desired_width(ui.available_width()),
        )
        .labelled_by(label.id)
        .on_hover_text("A config string copied from gradscope (JSON); press Apply config");
    }

    fn messages_ui(&mut self, ui: &mut egui::Ui) {
        if let Some(err) = self.error.clone() {
            egui::Frame::new()
                .fill(ui.visuals().error_fg_color.gamma_multiply(0.15))
                .stroke(egui::Stroke::new(1.0, ui.visuals().error_fg_color))
                .inner_margin(6.0)
                .show(ui, |ui| {
                    ui.horizontal_wrapped(|ui| {
                        ui.label(
                            RichText::new(format!("Error: {err}"))
                                .color(ui.visuals().error_fg_color),
                        );
                        if ui.small_button("Dismiss").clicked() {
                            self.error = None;
                        }
                    });
                });
        } else if let Some(status) = &self.status {
            ui.label(RichText::new(status).weak());
        }
    }
}

impl eframe::App for GradscopeApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        if ctx.input_mut(|i| i.consume_shortcut(&EXPORT_SHORTCUT)) {
            self.export_figure();
        }
        self.save_screenshots();
        let dropped = ctx.input(|i| i.raw.dropped_files.clone());
        if !dropped.is_empty() {
            self.load_dropped(&dropped);
        }
        self.sync_b();
        let running = self.settings.running;
        if let Some(b) = &mut self.b {
            b.poll(running);
        }
        self.train();
        self.refresh_theory();
        let was_pending = self.jacobian.pending();
        self.jacobian.poll();
        self.jacobian_b.poll();
        if was_pending && !self.jacobian.pending() {
            self.status = Some("Jacobian spectrum computed".into());
        }
        if self.settings.running
            || !self.in_flight.is_empty()
            || self.spectrum.pending()
            || self.jacobian.pending()
            || self.b.as_ref().is_some_and(compare::SideB::waiting)
        {
            ctx.request_repaint();
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::Panel::top("gradscope-top").show(ui, |ui| self.top_bar_ui(ui));
        egui::Panel::left("gradscope-controls")
            .default_size(360.0)
            .resizable(true)
            .show(ui, |ui| self.side_panel_ui(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            self.messages_ui(ui);
            let figure = self.figure();
            figure_ui(ui, &figure);
        });
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, &self.settings);
    }
}
