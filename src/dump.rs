//! `--dump DIR`: the state at which one gradient was computed, as C-order little-endian `.npy` files plus
//! `manifest.json` (docs/DESIGN.md §Dump), and the reader that loads it back.
//!
//! The folder: a dump goes into a new or empty folder, or over a previous dump (a folder holding only a
//! gradscope `manifest.json` and the files it lists), whose listed files are removed first; any other
//! non-empty folder is refused, so a dump never sits beside files its manifest does not list.
//!
//! Numbers in `manifest.json`: a finite value is a JSON number; NaN and ±∞ (a loss after training
//! exploded) are the strings `"NaN"`, `"Infinity"` and `"-Infinity"`, as in the stats JSON, and
//! [`LoadedDump::read`] reads them back.

use std::path::Path;

use anyhow::{Context, Result, bail};
use npyz::WriterBuilder;
use serde::{Deserialize, Serialize};

use crate::model::{Arch, Dataset, LossKind, NetConfig, Params};
use crate::reference::{Pass, Reference};

/// One array in the dump.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DumpFile {
    /// Array name (`w_1`, `grad_b_out`, `delta_3`, ...).
    pub name: String,
    /// File name inside the dump folder.
    pub file: String,
    /// Shape, C order.
    pub shape: Vec<usize>,
    /// numpy dtype string (`<f4` or `<f8`).
    pub dtype: String,
}

/// `manifest.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// Format tag.
    pub format: String,
    /// The full configuration.
    pub config: NetConfig,
    /// Input features (per time step).
    pub d_in: usize,
    /// Outputs.
    pub d_out: usize,
    /// Unrolled time steps (1 for the MLP).
    pub steps: usize,
    /// The task, as named in configs.
    pub task: String,
    /// The loss kind.
    pub loss_kind: LossKind,
    /// The loss value at this state (`"NaN"`, `"Infinity"` or `"-Infinity"` in JSON where not finite).
    #[serde(with = "json_f64")]
    pub loss: f64,
    /// Updates applied before this gradient.
    pub updates: u64,
    /// `gpu` or `cpu`.
    pub engine: String,
    /// The adapter (or the CPU reference).
    pub adapter: String,
    /// Gated cells: the order of the blocks stacked in `w_x`, `w_h` and `b` (LSTM input, forget,
    /// candidate, output; GRU reset, update, candidate); absent otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gate_order: Vec<String>,
    /// Every array written.
    pub files: Vec<DumpFile>,
}

/// The manifest's format tag.
pub const FORMAT: &str = "gradscope-dump-1";
/// Largest `manifest.json` read back, in bytes (16 MiB; one lists a few hundred files).
pub const MAX_MANIFEST_BYTES: u64 = 16 << 20;
/// Largest array file read back, in bytes (the biggest network's weights are a few MiB).
pub const MAX_ARRAY_BYTES: u64 = 1 << 30;

/// A number that may be NaN or infinite: finite values as JSON numbers, the others as the strings
/// `"NaN"`, `"Infinity"` and `"-Infinity"` (serde_json would write `null`, which reads back as no number).
/// Reading also takes `null` as NaN (dumps written before this representation).
mod json_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `v` as the stats JSON does.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        crate::stats::json_num::f64(v, s)
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Number(f64),
        Text(String),
        Null(()),
    }

    /// Reads a number, `"NaN"`, `"Infinity"`, `"-Infinity"` or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Repr::deserialize(d)? {
            Repr::Number(v) => Ok(v),
            Repr::Null(()) => Ok(f64::NAN),
            Repr::Text(t) => match t.as_str() {
                "NaN" => Ok(f64::NAN),
                "Infinity" => Ok(f64::INFINITY),
                "-Infinity" => Ok(f64::NEG_INFINITY),
                other => Err(serde::de::Error::custom(format!(
                    "expected a number, \"NaN\", \"Infinity\" or \"-Infinity\", not \"{other}\""
                ))),
            },
        }
    }
}

/// The part of a manifest that says which files a previous dump wrote (read leniently, so a dump of
/// an older config layout is still recognised and replaced).
#[derive(Deserialize)]
struct PreviousManifest {
    format: String,
    files: Vec<PreviousFile>,
}

#[derive(Deserialize)]
struct PreviousFile {
    file: String,
}

/// Whether `name` is a bare file name a dump writes (`NAME.npy`, no folder, no `..`): only such names
/// from a previous manifest are ever removed.
fn is_dump_file_name(name: &str) -> bool {
    let path = Path::new(name);
    name.ends_with(".npy")
        && path.file_name().and_then(|n| n.to_str()) == Some(name)
        && !name.starts_with('.')
}

/// The files to remove before dumping into `dir` (empty for a new or empty folder), or an error that
/// says why the folder cannot take a dump. Changes nothing.
fn files_to_replace(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let shown = dir.display();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(_) if dir.exists() && !dir.is_dir() => {
            bail!("{shown} is not a folder: --dump needs a new or empty folder")
        }
        Err(e) => bail!("cannot read the folder {shown}: {e}"),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read the folder {shown}"))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let refuse = |why: &str| {
        anyhow::anyhow!(
            "{shown} is not empty and {why}: --dump writes into a new or empty folder, or over a previous dump, so that the folder holds only what its manifest lists"
        )
    };
    let manifest = dir.join("manifest.json");
    if !names.iter().any(|n| n == "manifest.json") {
        return Err(refuse("holds no gradscope manifest.json"));
    }
    let bytes = crate::model::read_file_bounded(&manifest, MAX_MANIFEST_BYTES)
        .map_err(|e| anyhow::anyhow!("cannot read the previous dump's manifest {e}"))?;
    let previous: PreviousManifest = serde_json::from_slice(&bytes)
        .ok()
        .filter(|m: &PreviousManifest| m.format.starts_with("gradscope-dump-"))
        .ok_or_else(|| refuse("its manifest.json is not a gradscope dump manifest"))?;
    let listed: Vec<&str> = previous
        .files
        .iter()
        .map(|f| f.file.as_str())
        .filter(|f| is_dump_file_name(f))
        .collect();
    let mut remove = Vec::new();
    for name in &names {
        if name == "manifest.json" || listed.contains(&name.as_str()) {
            let path = dir.join(name);
            let meta = std::fs::symlink_metadata(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            if !meta.is_file() {
                return Err(refuse(&format!("{name} is not a regular file")));
            }
            remove.push(path);
        } else {
            return Err(refuse(&format!(
                "holds {name}, which its manifest.json does not list"
            )));
        }
    }
    Ok(remove)
}

/// Checks that `dir` can take a dump (see the module docs) without changing anything; run it before
/// training so a bad folder is refused at once.
pub fn check_dir(dir: &Path) -> Result<()> {
    files_to_replace(dir).map(|_| ())
}

/// Makes `dir` ready for a dump: creates it, or removes the files of the previous dump it holds.
fn prepare_dir(dir: &Path) -> Result<()> {
    for path in files_to_replace(dir)? {
        std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// What one engine hands to the writer; values as that engine holds them (f32 on the GPU, f64 on the CPU).
pub struct DumpContent<'a, T> {
    /// Configuration.
    pub cfg: &'a NetConfig,
    /// Data.
    pub data: &'a Dataset,
    /// Parameter names and shapes.
    pub template: &'a Params,
    /// Parameter values in template order.
    pub params: Vec<Vec<T>>,
    /// Gradients in template order.
    pub grads: Vec<Vec<T>>,
    /// True δ per layer (time step), each `B x width` (a gated cell's: ∂L/∂h_t).
    pub deltas: Vec<Vec<T>>,
    /// LSTM only: the true ∂L/∂c_t per time step, each `B x width` (empty otherwise).
    pub cell_deltas: Vec<Vec<T>>,
    /// Loss.
    pub loss: f64,
    /// Updates applied.
    pub updates: u64,
    /// Engine name.
    pub engine: &'a str,
    /// Adapter name.
    pub adapter: &'a str,
}

fn write_npy<T: npyz::AutoSerialize + Copy>(
    dir: &Path,
    name: &str,
    shape: &[usize],
    data: &[T],
) -> Result<DumpFile> {
    let file = format!("{name}.npy");
    let path = dir.join(&file);
    let f = std::fs::File::create(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let shape64: Vec<u64> = shape.iter().map(|&s| s as u64).collect();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&shape64)
        .writer(std::io::BufWriter::new(f))
        .begin_nd()?;
    w.extend(data.iter().copied())?;
    w.finish()?;
    Ok(DumpFile {
        name: name.to_string(),
        file,
        shape: shape.to_vec(),
        dtype: T::default_dtype().descr().trim_matches('\'').to_string(),
    })
}

/// Writes a dump.
///
/// `dir` must be new, empty or a previous dump (see the module docs); a previous dump's files are removed
/// first.
pub fn write<T: npyz::AutoSerialize + Copy>(dir: &Path, c: &DumpContent<'_, T>) -> Result<()> {
    prepare_dir(dir)?;
    let (b, w) = (c.cfg.batch, c.cfg.width);
    let mut files = Vec::new();
    let x_shape = match c.cfg.arch {
        Arch::Mlp => vec![b, c.data.d_in],
        Arch::Rnn => vec![c.data.steps, b, c.data.d_in],
    };
    files.push(write_npy(dir, "x", &x_shape, &c.data.x)?);
    files.push(write_npy(dir, "y", &[b, c.data.d_out], &c.data.y)?);
    for (t, v) in c.template.tensors.iter().zip(&c.params) {
        files.push(write_npy(dir, &t.name, &t.shape, v)?);
    }
    for (t, v) in c.template.tensors.iter().zip(&c.grads) {
        files.push(write_npy(dir, &format!("grad_{}", t.name), &t.shape, v)?);
    }
    match c.cfg.arch {
        Arch::Mlp => {
            for (l, d) in c.deltas.iter().enumerate() {
                files.push(write_npy(dir, &format!("delta_{}", l + 1), &[b, w], d)?);
            }
        }
        Arch::Rnn => {
            let all: Vec<T> = c.deltas.iter().flatten().copied().collect();
            files.push(write_npy(dir, "delta", &[c.data.steps, b, w], &all)?);
            if !c.cell_deltas.is_empty() {
                let all: Vec<T> = c.cell_deltas.iter().flatten().copied().collect();
                files.push(write_npy(dir, "cell_delta", &[c.data.steps, b, w], &all)?);
            }
        }
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        config: c.cfg.clone(),
        d_in: c.data.d_in,
        d_out: c.data.d_out,
        steps: c.data.steps,
        task: format!("{:?}", c.cfg.task).to_lowercase(),
        loss_kind: c.data.loss,
        loss: c.loss,
        updates: c.updates,
        engine: c.engine.into(),
        adapter: c.adapter.into(),
        gate_order: if c.cfg.cell.is_gated() {
            c.cfg
                .cell
                .gate_names()
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            Vec::new()
        },
        files,
    };
    let path = dir.join("manifest.json");
    std::fs::write(&path, serde_json::to_string_pretty(&manifest)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Dumps the reference engine's state and the pass computed at it.
pub fn write_reference(dir: &Path, engine: &Reference, pass: &Pass) -> Result<()> {
    let template = Params::init(engine.config());
    write(
        dir,
        &DumpContent {
            cfg: engine.config(),
            data: engine.data(),
            template: &template,
            params: engine.params().to_vec(),
            grads: pass.grads.clone(),
            deltas: pass.deltas.clone(),
            cell_deltas: pass.cell_deltas.clone(),
            loss: pass.loss,
            updates: engine.updates(),
            engine: "cpu",
            adapter: crate::reference::REFERENCE_ADAPTER,
        },
    )
}

/// A dump read back: manifest plus every array as f64.
pub struct LoadedDump {
    /// The manifest.
    pub manifest: Manifest,
    /// Arrays by name, converted to f64.
    pub arrays: std::collections::HashMap<String, Vec<f64>>,
}

impl LoadedDump {
    /// Reads `manifest.json` and every file it lists (regular files only, each within
    /// [`MAX_MANIFEST_BYTES`] or [`MAX_ARRAY_BYTES`], named without a folder).
    pub fn read(dir: &Path) -> Result<LoadedDump> {
        let path = dir.join("manifest.json");
        let bytes = crate::model::read_file_bounded(&path, MAX_MANIFEST_BYTES)
            .map_err(|e| anyhow::anyhow!("cannot read the dump manifest {e}"))?;
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a gradscope dump manifest", path.display()))?;
        let mut arrays = std::collections::HashMap::new();
        for f in &manifest.files {
            if !is_dump_file_name(&f.file) {
                bail!(
                    "{}: the manifest lists {:?}, which is not a file name in the dump folder",
                    path.display(),
                    f.file
                );
            }
            let bytes = crate::model::read_file_bounded(&dir.join(&f.file), MAX_ARRAY_BYTES)
                .map_err(|e| anyhow::anyhow!("cannot read the dump array {e}"))?;
            let npy = npyz::NpyFile::new(&bytes[..])?;
            let shape: Vec<usize> = npy.shape().iter().map(|&s| s as usize).collect();
            if shape != f.shape {
                bail!(
                    "{}: shape {:?} differs from the manifest's {:?}",
                    f.file,
                    shape,
                    f.shape
                );
            }
            let v: Vec<f64> = match f.dtype.as_str() {
                "<f4" => npy.into_vec::<f32>()?.into_iter().map(f64::from).collect(),
                "<f8" => npy.into_vec::<f64>()?,
                other => bail!("{}: unexpected dtype {other}", f.file),
            };
            arrays.insert(f.name.clone(), v);
        }
        Ok(LoadedDump { manifest, arrays })
    }

    /// An array by name.
    pub fn array(&self, name: &str) -> Result<&[f64]> {
        self.arrays
            .get(name)
            .map(Vec::as_slice)
            .with_context(|| format!("the dump has no array {name}"))
    }

    /// A reference engine at the dumped state (data and parameters from the files).
    pub fn reference(&self) -> Result<Reference> {
        let cfg = self.manifest.config.clone();
        let mut data = Dataset::generate(&cfg);
        data.x = self.array("x")?.iter().map(|&v| v as f32).collect();
        data.y = self.array("y")?.iter().map(|&v| v as f32).collect();
        let template = Params::init(&cfg);
        let mut engine = Reference::from_parts(cfg, data, &template);
        for (i, t) in template.tensors.iter().enumerate() {
            engine.params_mut()[i] = self.array(&t.name)?.to_vec();
        }
        Ok(engine)
    }
}

/// Dumps the GPU engine's state and the last gradient it computed (call [`crate::gpu::Engine::compute`]
/// first).
pub fn write_gpu(dir: &Path, engine: &crate::gpu::Engine) -> Result<()> {
    let params = engine.read_params()?;
    let grads = engine.read_grads()?;
    write(
        dir,
        &DumpContent {
            cfg: engine.config(),
            data: engine.data(),
            template: &params,
            params: params.tensors.iter().map(|t| t.data.clone()).collect(),
            grads: grads.tensors.iter().map(|t| t.data.clone()).collect(),
            deltas: engine.read_deltas()?,
            cell_deltas: engine.read_cell_deltas()?,
            loss: engine.read_loss()?,
            updates: engine.updates(),
            engine: "gpu",
            adapter: engine.adapter(),
        },
    )
}
