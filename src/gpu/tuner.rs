//! The autotuner: per adapter (and driver) and shape class, which engine path runs a training step fastest
//! on this machine. The first time a class is seen, the candidates are timed on the user's adapter (a few
//! steps each) and the choice is cached on disk, so the next launch starts on it at once.
//!
//! `GRADSCOPE_ENGINE` forces a path and `GRADSCOPE_TUNE=off` turns tuning off (the defaults then run);
//! [`Engine::new`] never tunes (tests and scripts stay deterministic), [`tuned_engine`] does.

use std::collections::BTreeMap;
use std::path::PathBuf;
use web_time::Instant;

use serde::{Deserialize, Serialize};

use super::engine::{ENGINE_ENV, Engine, EngineError, EngineOptions, GpuContext};
use super::program::{
    FOUR_ROWS, ONE_ROW, ROWS_PER_INVOCATION, RowShape, StackPath, TWO_ROWS, default_rows,
    one_row_fits, rows_per_invocation,
};
use crate::model::{Arch, NetConfig};

/// The environment variable that turns tuning off (`off`, `0` or `no`).
pub const TUNE_ENV: &str = "GRADSCOPE_TUNE";
/// Timed steps per candidate (one that is small and fast enough to take part in every round): one per
/// round, the candidates taking turns, so that a slow spell of a shared machine (a VM's neighbours, the
/// window drawing) falls on every candidate alike; a candidate's figure is the fastest of its steps.
pub const TIMED_STEPS: u32 = 5;
/// A candidate whose first timed step takes longer than this is timed by that step alone.
const SLOW_STEP_MS: f64 = 250.0;
/// A candidate whose first timed step takes at most this long is quick: it takes all its
/// [`TIMED_STEPS`] even once the budget is spent, which costs at most a few tenths of a second more. On a
/// software adapter the candidates' warm-up steps compile their kernels, which can spend the whole budget
/// at an app's first launch; and a candidate's first step after its warm-up is also its slowest (caches
/// and threads cold), so a choice from one step each is a coin toss between close candidates (the default
/// preset on lavapipe took four rows per invocation at 14.1 ms against one row at 14.5, where five steps
/// each give 7.7 against 6.9).
pub const QUICK_STEP_MS: f64 = 60.0;
/// A candidate engine stays allocated between rounds only when it holds at most this much GPU memory;
/// a larger one takes its timed steps at once and is dropped before the next is built.
const KEEP_BYTES: u64 = 256 << 20;
/// Tuning stops after this long (the candidates left untimed lose), so the first sight of a class never
/// keeps the window waiting for more than a few seconds.
const TUNE_BUDGET_SECS: f64 = 3.0;

/// One cached choice.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Choice {
    /// The winning path (`rows`, `fused`, `fused:<rows>`, `layered`: [`super::parse_stack_path`]).
    pub path: String,
    /// Its milliseconds per step when it was timed, and every candidate's.
    pub ms: BTreeMap<String, f64>,
}

/// The on-disk cache: shape-class key to choice.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TuningCache {
    /// Choices by key ([`class_key`]).
    pub entries: BTreeMap<String, Choice>,
}

/// The cache file: `$XDG_CACHE_HOME/gradscope/tuning.json`, else `~/.cache/gradscope/tuning.json`
/// (`%LOCALAPPDATA%\gradscope\tuning.json` on Windows); `None` where no such folder is known.
pub fn cache_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            if cfg!(windows) {
                std::env::var_os("LOCALAPPDATA").map(PathBuf::from)
            } else {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache"))
            }
        })?;
    Some(base.join("gradscope").join("tuning.json"))
}

impl TuningCache {
    /// The cache at `file` (empty where it is missing or unreadable: it is only a cache).
    pub fn load(file: &std::path::Path) -> TuningCache {
        crate::model::read_text_file_bounded(file, 1 << 20)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// Writes the cache to `file` (creating its folder); a failure only means tuning runs again.
    pub fn save(&self, file: &std::path::Path) -> std::io::Result<()> {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        let tmp = file.with_extension("json.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(tmp, file)
    }
}

/// Rounds up to a power of two: nets of one class share a choice.
fn bucket(n: usize) -> usize {
    n.max(1).next_power_of_two()
}

/// The shape class of `cfg` on `ctx`'s adapter and driver (with lavapipe's thread count), for this
/// build's kernels: what decides which path is fastest (changed kernels, or a new toolchain, tune
/// again).
pub fn class_key(ctx: &GpuContext, cfg: &NetConfig) -> String {
    let arch = match cfg.arch {
        Arch::Mlp => "mlp",
        Arch::Rnn => "rnn",
    };
    // lavapipe's thread count changes which path wins (gpu::device::LAVAPIPE_THREADS_PER_CORE)
    let threads = ctx
        .lavapipe_threads
        .map_or(String::new(), |n| format!(" {n} threads"));
    format!(
        "{} [{}{threads}] kernels {:016x} {arch} w{} b{} d{}",
        ctx.adapter,
        ctx.driver,
        super::shaders::kernels_revision(),
        bucket(cfg.width),
        bucket(cfg.batch),
        bucket(cfg.depth)
    )
}

/// The layered path's wide-tile candidate takes 128 x 128 tiles wherever they still give this many
/// workgroups (the default takes them only from [`super::program::BUSY_WORKGROUPS`] on): on a large GPU
/// the 8 x 8 outputs per thread may beat the 4 x 4 of the 64 x 64 tiles even with fewer workgroups.
pub const WIDE_TILE_BUSY: u32 = 32;

/// One candidate: a path, and on the layered path a matmul tile policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The path.
    pub stack: StackPath,
    /// The layered path's tile policy ([`EngineOptions::busy_workgroups`]).
    pub busy_workgroups: u32,
}

impl Candidate {
    const fn of(stack: StackPath) -> Candidate {
        Candidate {
            stack,
            busy_workgroups: super::program::BUSY_WORKGROUPS,
        }
    }

    /// `defaults` on this candidate's path and tile policy.
    pub fn options(self, defaults: EngineOptions) -> EngineOptions {
        EngineOptions {
            stack: self.stack,
            busy_workgroups: self.busy_workgroups,
            ..defaults
        }
    }

    /// The name the cache stores: the path ([`super::parse_stack_path`]), `layered:wide` for the wide
    /// tile policy.
    pub fn text(self) -> String {
        if self.stack == StackPath::Layered && self.busy_workgroups == WIDE_TILE_BUSY {
            return "layered:wide".into();
        }
        match self.stack {
            StackPath::Auto => "auto".into(),
            StackPath::Layered => "layered".into(),
            StackPath::Rows => "rows".into(),
            StackPath::RowsOf(r) => r.name().into(),
            StackPath::Fused(0) => "fused".into(),
            StackPath::Fused(r) => format!("fused:{r}"),
        }
    }

    /// Parses [`Candidate::text`].
    pub fn parse(s: &str) -> Option<Candidate> {
        if s.trim() == "layered:wide" {
            return Some(Candidate {
                stack: StackPath::Layered,
                busy_workgroups: WIDE_TILE_BUSY,
            });
        }
        super::parse_stack_path(s).map(Candidate::of)
    }
}

/// The candidates for `cfg` on an adapter (`software`: a CPU adapter), the likeliest winner first. Past
/// the fused width a GPU also times the layered path's wide tiles.
pub fn candidates(cfg: &NetConfig, software: bool) -> Vec<Candidate> {
    let rows = default_rows(cfg.width, cfg.batch);
    let mut out = Vec::new();
    if software {
        // the per-row stack's default shape on lane-sharing CPUs first, then the other sixteen-unit shapes
        // (one, two or four rows: a gated cell's kernels take one row either way) where the width allows
        // them, then four rows of four-unit blocks
        let sixteen: &[RowShape] = match (one_row_fits(cfg), cfg.cell.is_gated()) {
            (true, false) => &[ONE_ROW, TWO_ROWS, FOUR_ROWS],
            (true, true) => &[ONE_ROW],
            (false, _) => &[],
        };
        let shapes = std::iter::once(rows_per_invocation(cfg, true))
            .chain(sixteen.iter().copied())
            .chain([ROWS_PER_INVOCATION]);
        for r in shapes {
            let p = Candidate::of(StackPath::RowsOf(r));
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out.push(Candidate::of(StackPath::Layered));
    }
    for r in [rows, rows.saturating_mul(4), (rows / 4).max(1)] {
        let p = Candidate::of(StackPath::Fused(r.min(cfg.batch as u32).max(1)));
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if !software {
        out.push(Candidate::of(StackPath::Layered));
        if cfg.width > super::program::FUSED_MAX_WIDTH {
            out.push(Candidate {
                stack: StackPath::Layered,
                busy_workgroups: WIDE_TILE_BUSY,
            });
        }
    }
    out
}

/// Milliseconds of one training step of `engine`, waited for.
fn step_ms(engine: &mut Engine) -> Option<f64> {
    let t0 = Instant::now();
    engine.step_timed(1).ok()?;
    Some(t0.elapsed().as_secs_f64() * 1e3)
}

/// One candidate being timed: its engine while it takes part in the rounds, its steps' milliseconds.
struct Trial {
    candidate: Candidate,
    engine: Option<Engine>,
    ms: Vec<f64>,
}

/// A timed candidate: the milliseconds of each of its timed steps, in order.
#[derive(Clone, Debug)]
pub struct Timing {
    /// The candidate.
    pub candidate: Candidate,
    /// Its timed steps' milliseconds.
    pub steps_ms: Vec<f64>,
}

impl Timing {
    /// The candidate's figure: its fastest step.
    pub fn ms(&self) -> f64 {
        self.steps_ms.iter().copied().fold(f64::INFINITY, f64::min)
    }
}

/// Times the candidates for `cfg`: each is built, takes an untimed warm-up step (a software adapter
/// compiles a kernel at its first dispatch) and a timed one, in order, until `budget_secs` have passed
/// (the first is always timed; the tuner gives 3 s); then the small ones take their
/// further [`TIMED_STEPS`] in rounds, in turn, within the budget ([`QUICK_STEP_MS`] ones
/// all of them even past it). Returns the candidates timed, in the order of [`candidates`].
pub fn time_candidates(
    ctx: &GpuContext,
    cfg: &NetConfig,
    defaults: EngineOptions,
    budget_secs: f64,
) -> Vec<Timing> {
    let start = Instant::now();
    let over = || start.elapsed().as_secs_f64() > budget_secs;
    let mut trials: Vec<Trial> = Vec::new();
    for candidate in candidates(cfg, ctx.software) {
        if !trials.is_empty() && over() {
            break;
        }
        let Ok(mut engine) = Engine::with_options(ctx, cfg, candidate.options(defaults)) else {
            continue;
        };
        if engine.step_timed(1).is_err() {
            continue;
        }
        let Some(first) = step_ms(&mut engine) else {
            continue;
        };
        let mut trial = Trial {
            candidate,
            engine: None,
            ms: vec![first],
        };
        if first <= SLOW_STEP_MS {
            if engine.gpu_bytes() <= KEEP_BYTES {
                trial.engine = Some(engine);
            } else {
                // too large to keep beside the others: its steps now, one after another
                while trial.ms.len() < TIMED_STEPS as usize {
                    let Some(t) = step_ms(&mut engine) else { break };
                    trial.ms.push(t);
                }
            }
        }
        trials.push(trial);
    }
    for _ in 1..TIMED_STEPS {
        for trial in &mut trials {
            if over() && trial.ms[0] > QUICK_STEP_MS {
                continue;
            }
            if let Some(t) = trial.engine.as_mut().and_then(step_ms) {
                trial.ms.push(t);
            }
        }
    }
    trials
        .into_iter()
        .map(|t| Timing {
            candidate: t.candidate,
            steps_ms: t.ms,
        })
        .collect()
}

/// The options for `cfg` on `ctx`: forced by [`ENGINE_ENV`], the defaults with [`TUNE_ENV`] off, else the
/// cached choice for its class, else the fastest candidate, timed now and cached.
pub fn tuned_options(ctx: &GpuContext, cfg: &NetConfig) -> Result<EngineOptions, EngineError> {
    let defaults = EngineOptions::from_env()?;
    let off = std::env::var(TUNE_ENV)
        .map(|v| matches!(v.trim(), "off" | "0" | "no"))
        .unwrap_or(false);
    // a gated cell and a normalized MLP have one path of their own: nothing to choose
    if std::env::var_os(ENGINE_ENV).is_some()
        || off
        || cfg.cell.is_gated()
        || cfg.norm != crate::model::Norm::None
    {
        return Ok(defaults);
    }
    let key = class_key(ctx, cfg);
    let file = cache_file();
    let mut cache = file.as_deref().map(TuningCache::load).unwrap_or_default();
    if let Some(choice) = cache.entries.get(&key)
        && let Some(c) = Candidate::parse(&choice.path)
    {
        return Ok(c.options(defaults));
    }
    let mut ms = BTreeMap::new();
    let mut best: Option<(Candidate, f64)> = None;
    for timing in time_candidates(ctx, cfg, defaults, TUNE_BUDGET_SECS) {
        let (c, t) = (timing.candidate, timing.ms());
        ms.insert(c.text(), t);
        if best.is_none_or(|(_, b)| t < b) {
            best = Some((c, t));
        }
    }
    let Some((c, _)) = best else {
        return Ok(defaults);
    };
    cache.entries.insert(key, Choice { path: c.text(), ms });
    if let Some(f) = &file {
        let _ = cache.save(f);
    }
    Ok(c.options(defaults))
}

/// An engine for `cfg` on the path [`tuned_options`] picks.
pub fn tuned_engine(ctx: &GpuContext, cfg: &NetConfig) -> Result<Engine, EngineError> {
    let opts = tuned_options(ctx, cfg)?;
    Engine::with_options(ctx, cfg, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_bucket_by_powers_of_two_and_candidates_are_distinct() {
        assert_eq!(bucket(0), 1);
        assert_eq!(bucket(33), 64);
        assert_eq!(bucket(64), 64);
        let wide = NetConfig {
            width: 1024,
            ..NetConfig::default()
        };
        for cfg in [NetConfig::default(), wide.clone()] {
            for software in [false, true] {
                let c = candidates(&cfg, software);
                for (i, p) in c.iter().enumerate() {
                    assert!(!c[i + 1..].contains(p), "{p:?} twice");
                    assert_eq!(Candidate::parse(&p.text()), Some(*p));
                }
                let rows = |r| c.iter().any(|p| p.stack == StackPath::RowsOf(r));
                assert_eq!(rows(ROWS_PER_INVOCATION), software);
                assert_eq!(rows(ONE_ROW), software && cfg.width % 4 == 0);
                assert_eq!(rows(TWO_ROWS), software && cfg.width % 4 == 0);
                assert_eq!(
                    rows(FOUR_ROWS),
                    software && cfg.width % 4 == 0 && !cfg.cell.is_gated()
                );
                // the wide tiles are timed on a GPU past the fused width only
                let wide_tiles = c.iter().any(|p| p.busy_workgroups == WIDE_TILE_BUSY);
                assert_eq!(wide_tiles, !software && cfg.width > 256, "{c:?}");
            }
        }
        assert_eq!(
            Candidate::parse("layered:wide")
                .unwrap()
                .options(EngineOptions::default()),
            EngineOptions {
                stack: StackPath::Layered,
                busy_workgroups: WIDE_TILE_BUSY,
                ..EngineOptions::default()
            }
        );
    }

    #[test]
    fn the_cache_round_trips_and_a_broken_file_is_an_empty_cache() {
        let dir = std::env::temp_dir().join(format!("gradscope-tune-{}", std::process::id()));
        let file = dir.join("tuning.json");
        let mut cache = TuningCache::default();
        cache.entries.insert(
            "k".into(),
            Choice {
                path: "fused:4".into(),
                ms: BTreeMap::from([("fused:4".into(), 1.5), ("layered".into(), 3.0)]),
            },
        );
        cache.save(&file).unwrap();
        assert_eq!(TuningCache::load(&file).entries, cache.entries);
        std::fs::write(&file, "{ not json").unwrap();
        assert!(TuningCache::load(&file).entries.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
