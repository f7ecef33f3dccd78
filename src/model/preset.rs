//! Preset files (`assets/presets/*.toml`) and the partial configurations that CLI flags and presets lay
//! over each other.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Activation, Arch, Init, NetConfig, Optimizer, Task};

/// The `[network]` table of a preset; every key is optional and overrides the base config.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NetworkOverlay {
    /// See [`NetConfig::arch`].
    pub arch: Option<Arch>,
    /// See [`NetConfig::depth`].
    pub depth: Option<usize>,
    /// See [`NetConfig::width`].
    pub width: Option<usize>,
    /// See [`NetConfig::activation`].
    pub activation: Option<Activation>,
    /// See [`NetConfig::init`].
    pub init: Option<Init>,
    /// See [`NetConfig::gain`].
    pub gain: Option<f64>,
    /// See [`NetConfig::residual`].
    pub residual: Option<bool>,
    /// See [`NetConfig::bias_std`].
    pub bias_std: Option<f64>,
    /// See [`NetConfig::spectral_radius`]; 0 turns the rescaling off.
    pub spectral_radius: Option<f64>,
}

/// The `[training]` table of a preset; every key is optional and overrides the base config.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TrainingOverlay {
    /// See [`NetConfig::batch`].
    pub batch: Option<usize>,
    /// See [`NetConfig::lr`].
    pub lr: Option<f64>,
    /// See [`NetConfig::optimizer`].
    pub optimizer: Option<Optimizer>,
    /// See [`NetConfig::clip`]; 0 turns clipping off.
    pub clip: Option<f64>,
    /// See [`NetConfig::seed`].
    pub seed: Option<u64>,
    /// See [`NetConfig::task`].
    pub task: Option<Task>,
}

impl NetworkOverlay {
    /// Writes the keys that are set into `cfg`.
    pub fn apply(&self, cfg: &mut NetConfig) {
        let arch_before = cfg.arch;
        set(&mut cfg.arch, self.arch);
        set(&mut cfg.depth, self.depth);
        set(&mut cfg.width, self.width);
        set(&mut cfg.activation, self.activation);
        set(&mut cfg.init, self.init);
        set(&mut cfg.gain, self.gain);
        set(&mut cfg.residual, self.residual);
        set(&mut cfg.bias_std, self.bias_std);
        if let Some(rho) = self.spectral_radius {
            cfg.spectral_radius = (rho != 0.0).then_some(rho);
        }
        if cfg.arch != arch_before && !cfg.task.fits(cfg.arch) {
            cfg.task = Task::default_for(cfg.arch);
        }
        if cfg.arch == Arch::Rnn && self.residual.is_none() {
            cfg.residual = false;
        }
        if cfg.arch == Arch::Mlp && self.spectral_radius.is_none() {
            cfg.spectral_radius = None;
        }
    }
}

impl TrainingOverlay {
    /// Writes the keys that are set into `cfg`.
    pub fn apply(&self, cfg: &mut NetConfig) {
        set(&mut cfg.batch, self.batch);
        set(&mut cfg.lr, self.lr);
        set(&mut cfg.optimizer, self.optimizer);
        if let Some(c) = self.clip {
            cfg.clip = (c != 0.0).then_some(c);
        }
        set(&mut cfg.seed, self.seed);
        set(&mut cfg.task, self.task);
    }
}

fn set<T>(dst: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *dst = v;
    }
}

/// A preset: a configuration with a title and the lesson it teaches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// Short title shown in lists.
    pub title: String,
    /// The lesson, a few sentences the app shows beside the views.
    pub description: String,
    /// Network keys.
    #[serde(default)]
    pub network: NetworkOverlay,
    /// Training keys.
    #[serde(default)]
    pub training: TrainingOverlay,
}

/// A preset file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    /// The file could not be read.
    #[error("cannot read preset {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or has an unknown key; the message carries line, column and key.
    #[error("malformed preset {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message (line, column, offending key).
        message: String,
    },
    /// No built-in preset has that name.
    #[error(
        "unknown preset '{0}': run `gradscope presets` to list them, or pass a path to a .toml file"
    )]
    Unknown(String),
    /// The preset parsed but its values are invalid.
    #[error("preset {path}: {source}")]
    Invalid {
        /// The file.
        path: String,
        /// The validation error.
        source: super::ConfigError,
    },
}

/// The presets shipped in `assets/presets/`, compiled in: (name, TOML text).
pub const BUILTIN_PRESETS: &[(&str, &str)] = &[
    (
        "sigmoid-deep",
        include_str!("../../assets/presets/sigmoid-deep.toml"),
    ),
    (
        "tanh-large-init",
        include_str!("../../assets/presets/tanh-large-init.toml"),
    ),
    (
        "relu-xavier",
        include_str!("../../assets/presets/relu-xavier.toml"),
    ),
    ("relu-he", include_str!("../../assets/presets/relu-he.toml")),
    (
        "dead-relu",
        include_str!("../../assets/presets/dead-relu.toml"),
    ),
    (
        "exploding-gain",
        include_str!("../../assets/presets/exploding-gain.toml"),
    ),
    (
        "residual-sigmoid",
        include_str!("../../assets/presets/residual-sigmoid.toml"),
    ),
    (
        "rnn-vanishing",
        include_str!("../../assets/presets/rnn-vanishing.toml"),
    ),
    (
        "rnn-exploding-clip",
        include_str!("../../assets/presets/rnn-exploding-clip.toml"),
    ),
    (
        "adding-problem",
        include_str!("../../assets/presets/adding-problem.toml"),
    ),
    (
        "smooth-rectifiers",
        include_str!("../../assets/presets/smooth-rectifiers.toml"),
    ),
    ("spiral", include_str!("../../assets/presets/spiral.toml")),
];

/// The preset the app opens on.
pub const DEFAULT_PRESET: &str = "sigmoid-deep";

impl Preset {
    /// Parses preset TOML; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Preset, PresetError> {
        let preset: Preset = toml::from_str(text).map_err(|e| PresetError::Parse {
            path: origin.to_string(),
            message: e.to_string().trim().to_string(),
        })?;
        preset
            .config()
            .validate()
            .map_err(|source| PresetError::Invalid {
                path: origin.to_string(),
                source,
            })?;
        Ok(preset)
    }

    /// A built-in preset by name.
    pub fn builtin(name: &str) -> Result<Preset, PresetError> {
        let (_, text) = BUILTIN_PRESETS
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| PresetError::Unknown(name.to_string()))?;
        Preset::parse(text, &format!("assets/presets/{name}.toml"))
    }

    /// Reads a preset from a `.toml` file.
    pub fn load(path: &Path) -> Result<Preset, PresetError> {
        let text = std::fs::read_to_string(path).map_err(|source| PresetError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Preset::parse(&text, &path.display().to_string())
    }

    /// A built-in name, or a path to a `.toml` file.
    pub fn resolve(name_or_path: &str) -> Result<Preset, PresetError> {
        if name_or_path.ends_with(".toml") || Path::new(name_or_path).exists() {
            Preset::load(Path::new(name_or_path))
        } else {
            Preset::builtin(name_or_path)
        }
    }

    /// The preset's configuration laid over [`NetConfig::default`].
    pub fn config(&self) -> NetConfig {
        let mut cfg = NetConfig::default();
        self.network.apply(&mut cfg);
        self.training.apply(&mut cfg);
        cfg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_preset_parses_and_validates() {
        assert!(BUILTIN_PRESETS.len() >= 10);
        for (name, _) in BUILTIN_PRESETS {
            let p = Preset::builtin(name).unwrap_or_else(|e| panic!("{e}"));
            assert!(!p.title.is_empty() && p.description.len() > 40, "{name}");
        }
    }

    #[test]
    fn unknown_key_names_file_and_key() {
        let err = Preset::parse(
            "title = \"t\"\ndescription = \"d\"\n[network]\ndepht = 3\n",
            "bad.toml",
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("bad.toml") && msg.contains("depht") && msg.contains("line 4"),
            "{msg}"
        );
    }

    #[test]
    fn bad_value_names_file_and_field() {
        let err = Preset::parse(
            "title = \"t\"\ndescription = \"d\"\n[network]\ndepth = 0\n",
            "zero.toml",
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("zero.toml") && msg.contains("depth = 0"),
            "{msg}"
        );
        let err = Preset::parse(
            "title = \"t\"\ndescription = \"d\"\n[network]\nactivation = \"relu6\"\n",
            "a.toml",
        )
        .unwrap_err();
        assert!(err.to_string().contains("relu6"), "{err}");
    }
}
