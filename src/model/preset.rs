//! Preset files (`assets/presets/*.toml`) and the partial configurations that CLI flags and presets lay
//! over each other.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Activation, Arch, Cell, Init, NetConfig, Norm, Optimizer, Task};

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
    /// See [`NetConfig::cell`].
    pub cell: Option<Cell>,
    /// See [`NetConfig::forget_bias`].
    pub forget_bias: Option<f64>,
    /// See [`NetConfig::norm`].
    pub norm: Option<Norm>,
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
    /// Writes the keys that are set into `cfg`: the architecture first, through [`NetConfig::set_arch`]
    /// (the fields that depend on it follow it), then every other key given, so a key given explicitly
    /// always wins and a contradiction between given keys (residual for an rnn) is left to validation.
    pub fn apply(&self, cfg: &mut NetConfig) {
        if let Some(arch) = self.arch {
            cfg.set_arch(arch);
        }
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
        set(&mut cfg.cell, self.cell);
        set(&mut cfg.forget_bias, self.forget_bias);
        set(&mut cfg.norm, self.norm);
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
    /// The file could not be read: missing, not a regular file, too large, or not UTF-8.
    #[error("cannot read preset {0}")]
    Read(FileError),
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
    #[error("preset {path}: {error}")]
    Invalid {
        /// The file.
        path: String,
        /// The validation error (part of this error's message, so not chained as its source: a cause
        /// printed with `{:#}` appears once).
        error: super::ConfigError,
    },
}

/// Largest preset file read, in bytes (1 MiB; the shipped presets are under 1 KiB).
pub const MAX_PRESET_BYTES: u64 = 1 << 20;

/// A file could not be read within bounds. Every message starts with the path and carries its cause
/// (the cause is part of the message, not a chained source, so it is printed once).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Opening or reading failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// The path is a directory, device, FIFO or socket: reading it could block forever or never end.
    #[error("{path}: it is {kind}, not a regular file")]
    NotAFile {
        /// The file.
        path: String,
        /// What it is instead, with an article ("a directory", "a character device", ...).
        kind: &'static str,
    },
    /// The file holds more than the cap.
    #[error("{path}: it is larger than {cap} bytes, the most read from such a file")]
    TooLarge {
        /// The file.
        path: String,
        /// The cap, bytes.
        cap: u64,
    },
    /// The file is not UTF-8 text.
    #[error("{path}: it is not UTF-8 text")]
    NotText {
        /// The file.
        path: String,
    },
}

/// What a non-regular file is, in words, or `None` for a regular file.
fn non_regular_kind(meta: &std::fs::Metadata) -> Option<&'static str> {
    let ft = meta.file_type();
    if ft.is_file() {
        return None;
    }
    if ft.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if ft.is_char_device() {
            return Some("a character device");
        }
        if ft.is_block_device() {
            return Some("a block device");
        }
        if ft.is_socket() {
            return Some("a socket");
        }
    }
    Some("not a regular file")
}

/// Opens `path` for reading if it is a regular file of at most `cap` bytes; refuses anything else
/// (devices such as `/dev/zero`, FIFOs, directories, sockets) before reading a byte. The open itself
/// never blocks (on Unix it is non-blocking, so a FIFO swapped in after the check cannot hang it), and
/// the opened handle is checked again. Returns the file and its size.
pub fn open_regular_file(path: &Path, cap: u64) -> Result<(std::fs::File, u64), FileError> {
    let name = || path.display().to_string();
    let check = |meta: &std::fs::Metadata| -> Result<u64, FileError> {
        if let Some(kind) = non_regular_kind(meta) {
            return Err(FileError::NotAFile { path: name(), kind });
        }
        if meta.len() > cap {
            return Err(FileError::TooLarge { path: name(), cap });
        }
        Ok(meta.len())
    };
    let io = |error| FileError::Io {
        path: name(),
        error,
    };
    check(&std::fs::metadata(path).map_err(io)?)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(io)?;
    let len = check(&file.metadata().map_err(io)?)?;
    Ok((file, len))
}

/// Reads the regular file at `path`, at most `cap` bytes: refuses devices, FIFOs, directories and
/// sockets, and files larger than `cap` (also one that grows past it while being read).
pub fn read_file_bounded(path: &Path, cap: u64) -> Result<Vec<u8>, FileError> {
    use std::io::Read;
    let (file, len) = open_regular_file(path, cap)?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|error| FileError::Io {
            path: path.display().to_string(),
            error,
        })?;
    if bytes.len() as u64 > cap {
        return Err(FileError::TooLarge {
            path: path.display().to_string(),
            cap,
        });
    }
    Ok(bytes)
}

/// Reads the UTF-8 text file at `path` within [`read_file_bounded`]'s bounds, as the preset loader
/// does (`cap` = [`MAX_PRESET_BYTES`] there). It never blocks on a device or FIFO and never reads more
/// than `cap + 1` bytes, so the window can call it from a background thread and always get an answer.
pub fn read_text_file_bounded(path: &Path, cap: u64) -> Result<String, PresetError> {
    let bytes = read_file_bounded(path, cap).map_err(PresetError::Read)?;
    String::from_utf8(bytes).map_err(|_| {
        PresetError::Read(FileError::NotText {
            path: path.display().to_string(),
        })
    })
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
    (
        "lstm-adding",
        include_str!("../../assets/presets/lstm-adding.toml"),
    ),
    (
        "lstm-forget-bias-zero",
        include_str!("../../assets/presets/lstm-forget-bias-zero.toml"),
    ),
    (
        "gru-adding",
        include_str!("../../assets/presets/gru-adding.toml"),
    ),
    (
        "layernorm-tanh",
        include_str!("../../assets/presets/layernorm-tanh.toml"),
    ),
    (
        "batchnorm-explodes",
        include_str!("../../assets/presets/batchnorm-explodes.toml"),
    ),
    (
        "edge-of-chaos",
        include_str!("../../assets/presets/edge-of-chaos.toml"),
    ),
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
            .map_err(|error| PresetError::Invalid {
                path: origin.to_string(),
                error,
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

    /// Reads a preset from a `.toml` file: a regular file of at most [`MAX_PRESET_BYTES`] (see
    /// [`read_text_file_bounded`]).
    pub fn load(path: &Path) -> Result<Preset, PresetError> {
        let text = read_text_file_bounded(path, MAX_PRESET_BYTES)?;
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
