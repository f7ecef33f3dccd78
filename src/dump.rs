//! `--dump DIR`: the state at which one gradient was computed, as C-order little-endian `.npy` files plus
//! `manifest.json` (GUIDE §3), and the reader that loads it back.

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
    /// The loss value at this state.
    pub loss: f64,
    /// Updates applied before this gradient.
    pub updates: u64,
    /// `gpu` or `cpu`.
    pub engine: String,
    /// The adapter (or the CPU reference).
    pub adapter: String,
    /// Every array written.
    pub files: Vec<DumpFile>,
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
    /// True δ per layer (time step), each `B x width`.
    pub deltas: Vec<Vec<T>>,
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
pub fn write<T: npyz::AutoSerialize + Copy>(dir: &Path, c: &DumpContent<'_, T>) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
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
        }
    }
    let manifest = Manifest {
        format: "gradscope-dump-1".into(),
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
    /// Reads `manifest.json` and every file it lists.
    pub fn read(dir: &Path) -> Result<LoadedDump> {
        let text = std::fs::read_to_string(dir.join("manifest.json"))?;
        let manifest: Manifest = serde_json::from_str(&text)?;
        let mut arrays = std::collections::HashMap::new();
        for f in &manifest.files {
            let bytes = std::fs::read(dir.join(&f.file))?;
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
            loss: engine.read_loss()?,
            updates: engine.updates(),
            engine: "gpu",
            adapter: engine.adapter(),
        },
    )
}
