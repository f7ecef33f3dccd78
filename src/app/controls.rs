//! The side panel: every control of the network and its training, each with a tooltip that says what it
//! does to the gradients. Controls edit a copy of the settings; the app applies what changed.

use egui::{Slider, Ui};

use super::settings::{MAX_STEPS_PER_FRAME, Settings};
use crate::model::{
    Activation, Arch, BUILTIN_PRESETS, Init, MAX_BATCH, MAX_MLP_DEPTH, MAX_RNN_STEPS, MAX_WIDTH,
    NetConfig, Optimizer, Preset, Task,
};
use crate::viz::RangeMode;
use crate::viz::colormap::{DEFAULT_HI, DEFAULT_LO};

/// A button the user pressed.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Apply a built-in preset.
    Preset(String),
    /// Load a preset file.
    PresetFile(String),
    /// Back to the initial weights.
    Reset,
    /// One training step.
    Step,
}

/// What an activation does to the gradient, for its tooltip.
pub fn activation_hint(a: Activation) -> &'static str {
    match a {
        Activation::Sigmoid => {
            "f' <= 0.25: every layer shrinks the gradient at least 4x; saturates both ways"
        }
        Activation::Tanh => {
            "f' <= 1, but saturates in both directions: large inputs stop the gradient"
        }
        Activation::Relu => {
            "f' is exactly 1 or 0: no shrinking through active units, but dead units pass nothing"
        }
        Activation::LeakyRelu => {
            "f' is 1 or 0.01: no dead units, negative side passes a little gradient"
        }
        Activation::Elu => {
            "f' = 1 for x > 0, smooth e^x below: saturates on the negative side only"
        }
        Activation::Gelu => {
            "smooth ReLU-like; f' slightly above 1 near 0, ~0 for very negative inputs"
        }
        Activation::Silu => {
            "x\u{b7}sigmoid(x): smooth ReLU-like, small negative dip, f' ~0 far left"
        }
        Activation::Softplus => {
            "ln(1+e^x): f' = sigmoid(x) < 1, so it shrinks the gradient a little everywhere"
        }
        Activation::Linear => {
            "f' = 1: the gradient only depends on the weights (products of matrices)"
        }
    }
}

/// What an init does to the gradient, for its tooltip.
pub fn init_hint(i: Init) -> &'static str {
    match i {
        Init::XavierUniform | Init::XavierNormal => {
            "Var(w) = 2/(in+out): keeps variance for tanh/linear; halves it per layer for ReLU"
        }
        Init::HeNormal | Init::HeUniform => {
            "Var(w) = 2/in: keeps the gradient's variance through ReLU layers"
        }
        Init::LecunNormal => {
            "Var(w) = 1/in: keeps variance for linear/SELU-like units; ReLU halves it"
        }
        Init::Orthogonal => {
            "g\u{b7}Q: preserves norms exactly in linear nets; great for RNNs (spectral radius g)"
        }
        Init::UniformClassic => {
            "U(\u{b1}1/sqrt in): Var = 1/(3 in), too small: gradients shrink with depth"
        }
        Init::Normal => "N(0, g\u{b2}): ignores the width; wide layers blow the gradient up",
    }
}

fn depth_range(arch: Arch) -> std::ops::RangeInclusive<usize> {
    match arch {
        Arch::Mlp => 1..=MAX_MLP_DEPTH,
        Arch::Rnn => 1..=MAX_RNN_STEPS,
    }
}

/// The network controls; edits `cfg` in place.
pub fn network_ui(ui: &mut Ui, cfg: &mut NetConfig) {
    ui.horizontal(|ui| {
        ui.label("Architecture").on_hover_text("MLP: depth = layers. RNN: depth = unrolled time steps.");
        let before = cfg.arch;
        ui.selectable_value(&mut cfg.arch, Arch::Mlp, "MLP")
            .on_hover_text("A deep multilayer perceptron: the gradient passes through `depth` layers");
        ui.selectable_value(&mut cfg.arch, Arch::Rnn, "RNN").on_hover_text(
            "A recurrent net unrolled over `depth` time steps with shared weights: a very deep net in time",
        );
        if cfg.arch != before {
            cfg.task = Task::default_for(cfg.arch);
            cfg.residual = false;
            if cfg.arch == Arch::Mlp {
                cfg.spectral_radius = None;
            }
            cfg.depth = cfg.depth.clamp(*depth_range(cfg.arch).start(), *depth_range(cfg.arch).end());
        }
    });
    let depth_hint = match cfg.arch {
        Arch::Mlp => {
            "Hidden layers: every layer multiplies the gradient by its Jacobian, so small factors compound"
        }
        Arch::Rnn => {
            "Time steps: the gradient passes through the same recurrent matrix once per step"
        }
    };
    ui.add(
        Slider::new(&mut cfg.depth, depth_range(cfg.arch))
            .logarithmic(true)
            .text("Depth"),
    )
    .on_hover_text(depth_hint);
    ui.add(Slider::new(&mut cfg.width, 1..=MAX_WIDTH).logarithmic(true).text("Width")).on_hover_text(
        "Units per layer (hidden size): with a width-aware init the gradient's scale does not depend on it",
    );
    egui::ComboBox::from_label("Activation")
        .selected_text(cfg.activation.name())
        .show_ui(ui, |ui| {
            for a in Activation::ALL {
                ui.selectable_value(&mut cfg.activation, a, a.name()).on_hover_text(activation_hint(a));
            }
        })
        .response
        .on_hover_text(format!(
            "The hidden nonlinearity; the same initial weights are kept so the comparison is fair.\n{}",
            activation_hint(cfg.activation)
        ));
    egui::ComboBox::from_label("Init")
        .selected_text(cfg.init.name())
        .show_ui(ui, |ui| {
            for i in Init::ALL {
                ui.selectable_value(&mut cfg.init, i, i.name())
                    .on_hover_text(init_hint(i));
            }
        })
        .response
        .on_hover_text(format!("How the weights start.\n{}", init_hint(cfg.init)));
    ui.add(Slider::new(&mut cfg.gain, 0.05..=10.0).logarithmic(true).text("Gain")).on_hover_text(
        "Multiplies the init scale: each layer scales the gradient by about the gain; above 1 it explodes, below 1 it vanishes",
    );
    if cfg.arch == Arch::Rnn {
        spectral_radius_ui(ui, cfg);
    }
    ui.add_enabled_ui(cfg.arch == Arch::Mlp, |ui| {
        ui.checkbox(&mut cfg.residual, "Residual").on_hover_text(
            "a_l = f(z_l) + a_{l-1}: the identity path carries the gradient past every layer (MLP only)",
        );
    });
    ui.add(Slider::new(&mut cfg.bias_std, 0.0..=2.0).text("Bias std")).on_hover_text(
        "Spread of the initial biases: large biases push units into saturation (sigmoid/tanh) or death (ReLU)",
    );
}

/// RNN only: rescale W_h at init to a chosen spectral radius ρ (off: the init scheme's own scale).
pub fn spectral_radius_ui(ui: &mut Ui, cfg: &mut NetConfig) {
    ui.horizontal(|ui| {
        let mut on = cfg.spectral_radius.is_some();
        ui.checkbox(&mut on, "Set \u{3c1}(W_h)").on_hover_text(
            "Rescale the recurrent matrix at init so its spectral radius (largest |eigenvalue|) is \u{3c1}: \
             the gradient over k steps scales like \u{3c1}^k, so \u{3c1} < 1 vanishes and \u{3c1} > 1 explodes",
        );
        let mut rho = cfg.spectral_radius.unwrap_or(1.0);
        ui.add_enabled(
            on,
            Slider::new(&mut rho, 0.1..=3.0).logarithmic(true).text("Spectral radius"),
        )
        .on_hover_text("\u{3c1} of W_h at init (1: the edge between vanishing and exploding)");
        cfg.spectral_radius = on.then_some(rho);
    });
}

/// The training controls; edits `cfg` in place.
pub fn training_ui(ui: &mut Ui, cfg: &mut NetConfig) {
    egui::ComboBox::from_label("Optimizer")
        .selected_text(format!("{:?}", cfg.optimizer).to_lowercase())
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut cfg.optimizer, Optimizer::Sgd, "sgd")
                .on_hover_text("w -= lr\u{b7}g: a vanished gradient means no learning");
            ui.selectable_value(&mut cfg.optimizer, Optimizer::Momentum, "momentum")
                .on_hover_text("Accumulates past gradients (0.9): small consistent gradients add up");
            ui.selectable_value(&mut cfg.optimizer, Optimizer::Adam, "adam")
                .on_hover_text("Divides by the gradient's rms: hides the scale of vanishing gradients from the update");
        })
        .response
        .on_hover_text("The update rule; the gradient statistics are the same, the learning is not");
    ui.add(
        Slider::new(&mut cfg.lr, 1e-5..=10.0)
            .logarithmic(true)
            .text("Learning rate"),
    )
    .on_hover_text("Step size: too large and the weights, then the gradients, blow up to NaN");
    ui.add(Slider::new(&mut cfg.batch, 1..=MAX_BATCH).logarithmic(true).text("Batch")).on_hover_text(
        "Samples per step: the per-unit mean |\u{2202}L/\u{2202}z| averages over them (less noise, slower steps)",
    );
    ui.horizontal(|ui| {
        let mut on = cfg.clip.is_some();
        ui.checkbox(&mut on, "Clip").on_hover_text(
            "Rescale the whole gradient when its norm exceeds the threshold: tames explosions, cannot fix vanishing",
        );
        let mut threshold = cfg.clip.unwrap_or(1.0);
        ui.add_enabled(on, Slider::new(&mut threshold, 0.01..=100.0).logarithmic(true).text("threshold"))
            .on_hover_text("Largest global gradient norm allowed");
        cfg.clip = on.then_some(threshold);
    });
    ui.horizontal(|ui| {
        let label = ui.label("Seed");
        ui.add(egui::DragValue::new(&mut cfg.seed).range(0..=u64::MAX))
            .labelled_by(label.id)
            .on_hover_text("Seed of data and initial weights: another draw of the same experiment");
    });
    egui::ComboBox::from_label("Task")
        .selected_text(format!("{:?}", cfg.task).to_lowercase())
        .show_ui(ui, |ui| {
            for t in [Task::Teacher, Task::Spiral, Task::Adding, Task::Memory] {
                if t.fits(cfg.arch) {
                    ui.selectable_value(&mut cfg.task, t, format!("{t:?}").to_lowercase());
                }
            }
        })
        .response
        .on_hover_text(
            "What the net learns: teacher (regression), spiral (classification); RNN: adding, memory (long-range)",
        );
}

/// Preset picker and preset file loader; returns the command chosen.
pub fn presets_ui(ui: &mut Ui, settings: &mut Settings, description: &str) -> Option<Command> {
    let mut command = None;
    // the description stays while the user edits (no layout jump under a dragged slider); the title says so
    let selected_title = match Preset::builtin(&settings.preset) {
        Ok(p) if p.config() == settings.config => p.title,
        Ok(p) => format!("{} (modified)", p.title),
        Err(_) => "custom".into(),
    };
    egui::ComboBox::from_label("Preset")
        .selected_text(selected_title)
        .width((ui.available_width() - 70.0).max(120.0))
        .truncate()
        .show_ui(ui, |ui| {
            for (name, _) in BUILTIN_PRESETS {
                let title = Preset::builtin(name)
                    .map(|p| p.title)
                    .unwrap_or_else(|e| e.to_string());
                if ui
                    .selectable_label(settings.preset == *name, title)
                    .clicked()
                {
                    command = Some(Command::Preset((*name).to_string()));
                }
            }
        })
        .response
        .on_hover_text("Ready-made experiments, each teaching one lesson about gradients");
    if !description.is_empty() {
        ui.label(egui::RichText::new(description).italics());
    }
    ui.horizontal(|ui| {
        let label = ui.label("Preset file");
        ui.add(
            egui::TextEdit::singleline(&mut settings.preset_path)
                .hint_text("path/to/preset.toml")
                .desired_width(150.0),
        )
        .labelled_by(label.id)
        .on_hover_text("A preset .toml file (see assets/presets/ for the format)");
        if ui
            .button("Load preset")
            .on_hover_text("Read the file and apply it")
            .clicked()
        {
            command = Some(Command::PresetFile(settings.preset_path.clone()));
        }
    });
    command
}

/// Run, pause, single step, reset, steps per frame; returns the command pressed.
pub fn run_ui(ui: &mut Ui, settings: &mut Settings) -> Option<Command> {
    let mut command = None;
    ui.horizontal(|ui| {
        let label = if settings.running { "Pause" } else { "Run" };
        if ui
            .button(label)
            .on_hover_text("Train continuously; the views update as the statistics arrive")
            .clicked()
        {
            settings.running = !settings.running;
        }
        if ui
            .button("Step")
            .on_hover_text("One training step, then show its gradient")
            .clicked()
        {
            command = Some(Command::Step);
        }
        if ui
            .button("Reset")
            .on_hover_text("Back to the same initial weights (step 0)")
            .clicked()
        {
            command = Some(Command::Reset);
        }
    });
    ui.horizontal(|ui| {
        ui.add_enabled(
            !settings.auto_steps,
            Slider::new(&mut settings.steps_per_frame, 1..=MAX_STEPS_PER_FRAME).text("Steps/frame"),
        )
        .on_hover_text(
            "Training steps recorded per frame: more trains faster, fewer keeps the window smooth",
        );
        ui.checkbox(&mut settings.auto_steps, "auto").on_hover_text(
            "Pick steps per frame from the measured step time (fewer on a software adapter)",
        );
    });
    command
}

/// Colour range and theme.
pub fn display_ui(ui: &mut Ui, settings: &mut Settings) {
    ui.horizontal(|ui| {
        ui.label("Colour range").on_hover_text(
            "Fixed: the same decades for every setting, so colours compare. Auto: stretch to the data shown",
        );
        let fixed = matches!(settings.range, RangeMode::Fixed { .. });
        if ui.selectable_label(fixed, "fixed").clicked() && !fixed {
            settings.range = RangeMode::default();
        }
        if ui.selectable_label(!fixed, "auto").clicked() {
            settings.range = RangeMode::Auto;
        }
    });
    if let RangeMode::Fixed { lo, hi } = &mut settings.range {
        ui.horizontal(|ui| {
            let label = ui.label("from 1e");
            ui.add(egui::DragValue::new(lo).range(-400..=(*hi - 1)))
                .labelled_by(label.id)
                .on_hover_text(
                    "Smallest decade on the colour bar; smaller values are drawn black (vanished)",
                );
            let label = ui.label("to 1e");
            ui.add(egui::DragValue::new(hi).range((*lo + 1)..=400))
                .labelled_by(label.id)
                .on_hover_text("Largest decade; larger values are drawn magenta (exploding)");
            if ui.small_button("default").clicked() {
                (*lo, *hi) = (DEFAULT_LO, DEFAULT_HI);
            }
        });
    }
}
