//! The UI state that persists between launches (eframe storage): what the panels edit and the app applies.
//! Plain data; it imports no other part of the app, and the panels, the views and the app import it.

use serde::{Deserialize, Serialize};

use crate::model::{Activation, Arch, Cell, DEFAULT_PRESET, Init, NetConfig, Norm, Preset};
use crate::viz::{FigureTheme, RangeMode, View};

/// Key of the settings in eframe's storage.
pub const STORAGE_KEY: &str = "gradscope-settings";

/// Everything the user set, restored on the next launch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The network and its training.
    pub config: NetConfig,
    /// The built-in preset last chosen (its description is shown), or empty.
    pub preset: String,
    /// The view shown.
    pub view: View,
    /// The window's theme.
    pub theme: FigureTheme,
    /// The theme of exported figures (light for slides by default).
    pub export_theme: FigureTheme,
    /// Colour range of the heatmaps.
    pub range: RangeMode,
    /// Whether training runs.
    pub running: bool,
    /// Training steps recorded per frame (when `auto_steps` is off).
    pub steps_per_frame: u32,
    /// Choose steps per frame from the measured step time, to keep the window responsive.
    pub auto_steps: bool,
    /// Where exports go; empty: `gradscope-<view>.png` in the working directory.
    pub export_path: String,
    /// The last preset file typed in.
    pub preset_path: String,
    /// Compare mode: network B beside A.
    pub compare: CompareSettings,
    /// The trainability map's axes, steps and metric.
    pub sweep: crate::sweep::SweepSpec,
    /// Frames of an exported GIF.
    pub animation_frames: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            config: default_config(),
            preset: DEFAULT_PRESET.to_string(),
            view: View::GradientMap,
            theme: FigureTheme::Light,
            export_theme: FigureTheme::Light,
            range: RangeMode::default(),
            running: true,
            steps_per_frame: 1,
            auto_steps: true,
            export_path: String::new(),
            preset_path: String::new(),
            compare: CompareSettings::default(),
            sweep: crate::sweep::SweepSpec::default(),
            animation_frames: 40,
        }
    }
}

/// The default preset's configuration.
pub fn default_config() -> NetConfig {
    Preset::builtin(DEFAULT_PRESET)
        .map(|p| p.config())
        .unwrap_or_default()
}

/// Most frames of a GIF exported from the window.
pub const MAX_ANIMATION_FRAMES: u32 = 120;

/// Largest steps per frame the slider offers.
pub const MAX_STEPS_PER_FRAME: u32 = 64;

/// Compare mode: what network B changes relative to network A. B is A's configuration with B's
/// activation, init, gain, residual switch (MLP) and cell (RNN); everything else (seed, data, shapes) is equal, and B trains
/// in lockstep with A.
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
    /// B's recurrent cell (RNN only): vanilla beside A's LSTM shows what the gates change.
    pub cell: Cell,
    /// B's normalization (MLP only).
    pub norm: Norm,
    /// B's bias std (`None`: A's), set by a click on the trainability map.
    pub bias_std: Option<f64>,
}

impl Default for CompareSettings {
    fn default() -> Self {
        CompareSettings {
            on: false,
            activation: Activation::Relu,
            init: Init::HeNormal,
            gain: 1.0,
            residual: false,
            cell: Cell::Vanilla,
            norm: Norm::None,
            bias_std: None,
        }
    }
}

impl CompareSettings {
    /// B's configuration: A's with B's activation, init, gain, bias std (where set), residual switch and
    /// norm (MLP) and cell (RNN).
    pub fn config_b(&self, a: &NetConfig) -> NetConfig {
        let mut b = a.clone();
        b.activation = self.activation;
        b.init = self.init;
        b.gain = self.gain;
        if let Some(sb) = self.bias_std {
            b.bias_std = sb;
        }
        b.residual = self.residual && a.arch == Arch::Mlp;
        b.cell = if a.arch == Arch::Rnn {
            self.cell
        } else {
            Cell::Vanilla
        };
        b.norm = if a.arch == Arch::Mlp {
            self.norm
        } else {
            Norm::None
        };
        b
    }
}
