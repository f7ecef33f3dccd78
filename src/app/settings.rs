//! The UI state that persists between launches (eframe storage).

use serde::{Deserialize, Serialize};

use crate::model::{DEFAULT_PRESET, NetConfig, Preset};
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
    pub compare: super::compare::CompareSettings,
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
            compare: super::compare::CompareSettings::default(),
        }
    }
}

/// The default preset's configuration.
pub fn default_config() -> NetConfig {
    Preset::builtin(DEFAULT_PRESET)
        .map(|p| p.config())
        .unwrap_or_default()
}

/// Largest steps per frame the slider offers.
pub const MAX_STEPS_PER_FRAME: u32 = 64;
