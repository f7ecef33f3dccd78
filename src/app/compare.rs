//! Compare mode: network B beside network A (the running config) with a different activation, init, gain
//! or residual switch, everything else equal: same seed, same data, same initial weights where the
//! shapes allow, trained in lockstep (every step recorded for A is recorded for B in the same frame).
//! The figure shows both panels with one shared colour (or y) scale; one export holds both.

use serde::{Deserialize, Serialize};

use egui::Ui;

use super::controls::{activation_hint, init_hint};
use super::views::{FigureData, config_json, figure};
use crate::gpu::{Engine, GpuContext};
use crate::model::{Activation, Arch, Init, NetConfig};
use crate::stats::StepStats;
use crate::viz::colorbar::log_legend;
use crate::viz::{Body, Cell, ColorRange, Coloring, Figure, History, RangeMode, View};

/// What B changes relative to A.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompareSettings {
    /// Whether compare mode is on.
    pub on: bool,
    /// B's activation.
    pub activation: Activation,
    /// B's init.
    pub init: Init,
    /// B's gain.
    pub gain: f64,
    /// B's residual switch (MLP only).
    pub residual: bool,
}

impl Default for CompareSettings {
    fn default() -> Self {
        CompareSettings {
            on: false,
            activation: Activation::Relu,
            init: Init::HeNormal,
            gain: 1.0,
            residual: false,
        }
    }
}

impl CompareSettings {
    /// B's configuration: A's with B's activation, init, gain and residual switch.
    pub fn config_b(&self, a: &NetConfig) -> NetConfig {
        let mut b = a.clone();
        b.activation = self.activation;
        b.init = self.init;
        b.gain = self.gain;
        b.residual = self.residual && a.arch == Arch::Mlp;
        b
    }
}

/// Network B: its engine and statistics.
pub struct SideB {
    /// The engine.
    pub engine: Engine,
    /// Its configuration.
    pub cfg: NetConfig,
    /// Newest statistics.
    pub latest: Option<StepStats>,
    /// Statistics over training.
    pub history: History,
    /// B's W_h spectrum (RNN).
    pub spectrum: super::theory::SpectrumTracker,
}

impl SideB {
    /// Builds B on the shared GPU and asks for its gradient at init.
    pub fn new(gpu: &GpuContext, cfg: NetConfig) -> Result<SideB, String> {
        let mut engine =
            Engine::new(gpu, &cfg).map_err(|e| format!("cannot build network B: {e}"))?;
        engine.compute();
        Ok(SideB {
            engine,
            cfg,
            latest: None,
            history: History::default(),
            spectrum: super::theory::SpectrumTracker::default(),
        })
    }

    /// Collects arrived statistics (never waits) and refreshes W_h's spectrum like A's.
    pub fn poll(&mut self, running: bool) {
        self.spectrum.poll();
        let step = self.engine.updates();
        if self.latest.is_some()
            && self.spectrum.wants(&self.cfg, step, running)
            && let Ok(params) = self.engine.read_params()
        {
            self.spectrum.start(params, step);
        }
        if let Some(s) = self.engine.poll_stats() {
            self.history.push(&s);
            self.latest = Some(s);
        }
    }

    /// Whether statistics of B's current weights are still on their way.
    pub fn waiting(&self) -> bool {
        self.latest.as_ref().map(|s| s.step) != Some(self.engine.updates())
            || self.spectrum.pending()
    }

    /// Back to the initial weights; asks for the gradient there.
    pub fn reset(&mut self) {
        self.engine.reset();
        self.latest = None;
        self.history.clear();
        self.spectrum.clear();
        self.engine.compute();
    }
}

/// The side-panel controls of compare mode (B edits only what it changes).
pub fn compare_ui(ui: &mut Ui, c: &mut CompareSettings, arch: Arch) {
    ui.checkbox(&mut c.on, "Compare A | B").on_hover_text(
        "Train a second network B beside A: same data, seed and shapes, trained in lockstep, one colour scale",
    );
    ui.add_enabled_ui(c.on, |ui| {
        egui::ComboBox::from_label("B activation")
            .selected_text(c.activation.name())
            .show_ui(ui, |ui| {
                for a in Activation::ALL {
                    ui.selectable_value(&mut c.activation, a, a.name())
                        .on_hover_text(activation_hint(a));
                }
            });
        egui::ComboBox::from_label("B init")
            .selected_text(c.init.name())
            .show_ui(ui, |ui| {
                for i in Init::ALL {
                    ui.selectable_value(&mut c.init, i, i.name())
                        .on_hover_text(init_hint(i));
                }
            });
        ui.add(
            egui::Slider::new(&mut c.gain, 0.05..=10.0)
                .logarithmic(true)
                .text("B gain"),
        );
        ui.add_enabled_ui(arch == Arch::Mlp, |ui| {
            ui.checkbox(&mut c.residual, "B residual");
        });
    });
}

fn log_cells(body: &Body) -> Vec<Cell> {
    match body {
        Body::Heatmap {
            map,
            coloring: Coloring::Log(_),
            ..
        } => map.cells.clone(),
        Body::Split(a, b, _) => {
            let mut v = log_cells(a);
            v.extend(log_cells(b));
            v
        }
        _ => Vec::new(),
    }
}

fn set_range(body: &mut Body, range: ColorRange) {
    match body {
        Body::Heatmap {
            coloring: coloring @ Coloring::Log(_),
            bar,
            legend,
            ..
        } => {
            *coloring = Coloring::Log(range);
            *bar = crate::viz::colorbar::BarScale::Log(range);
            *legend = log_legend(&range);
        }
        Body::Split(a, b, _) => {
            set_range(a, range);
            set_range(b, range);
        }
        _ => {}
    }
}

/// The y extent of every line plot in `body`, by plot id.
fn y_extents(body: &Body, out: &mut Vec<(String, f64, f64)>) {
    match body {
        Body::Lines(p) => {
            let ys = p.series.iter().flat_map(|s| s.points.iter().map(|q| q[1]));
            let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
                (lo.min(y), hi.max(y))
            });
            if lo.is_finite() && hi.is_finite() {
                out.push((p.id.clone(), lo, hi));
            }
        }
        Body::Split(a, b, _) => {
            y_extents(a, out);
            y_extents(b, out);
        }
        _ => {}
    }
}

fn include_y(body: &mut Body, extents: &[(String, f64, f64)]) {
    match body {
        Body::Lines(p) => {
            for (id, lo, hi) in extents {
                if *id == p.id {
                    p.include_y.extend([*lo, *hi]);
                }
            }
        }
        Body::Split(a, b, _) => {
            include_y(a, extents);
            include_y(b, extents);
        }
        _ => {}
    }
}

/// The compare figure of `view`: A and B side by side with a shared colour scale (heatmaps) and shared
/// y ranges (line plots); the caption holds both configurations.
pub fn figure_ab(view: View, a: &FigureData<'_>, b: &FigureData<'_>) -> Figure {
    let fa = figure(view, a);
    let fb = figure(view, b);
    let (mut body_a, mut body_b) = (fa.body, fb.body);
    let mut cells = log_cells(&body_a);
    cells.extend(log_cells(&body_b));
    if !cells.is_empty() {
        let range = match a.range {
            RangeMode::Auto => ColorRange::resolve(RangeMode::Auto, &cells),
            fixed => ColorRange::resolve(fixed, &cells),
        };
        set_range(&mut body_a, range);
        set_range(&mut body_b, range);
    }
    let mut extents = Vec::new();
    y_extents(&body_a, &mut extents);
    y_extents(&body_b, &mut extents);
    include_y(&mut body_a, &extents);
    include_y(&mut body_b, &extents);
    let short = |cfg: &NetConfig| {
        let mut s = format!("{} + {}", cfg.activation, cfg.init);
        if (cfg.gain - 1.0).abs() > f64::EPSILON {
            s.push_str(&format!(" (gain {})", cfg.gain));
        }
        if cfg.residual {
            s.push_str(", residual");
        }
        s
    };
    let mut notes = fa.notes;
    notes.extend(fb.notes.into_iter().map(|n| format!("B: {n}")));
    Figure {
        title: format!("{}: A {} vs B {}", view.label(), short(a.cfg), short(b.cfg)),
        subtitle: format!(
            "same data, seed, depth {} and width {}, trained in lockstep from the same step 0; one shared scale",
            a.cfg.depth, a.cfg.width,
        ),
        notes,
        body: Body::Panels(vec![
            (format!("A: {}\n{}", fa.title, fa.subtitle), body_a),
            (format!("B: {}\n{}", fb.title, fb.subtitle), body_b),
        ]),
        caption: format!(
            "{}\nB config: {}",
            fa.caption,
            config_json(b.cfg)
                .replace(",\"", ", \"")
                .replace("\":", "\": ")
        ),
    }
}
