//! The GPU engine against the CPU f64 reference on small random configs: loss, every gradient tensor and
//! every statistic, at init and after updates with every optimizer, with and without clipping.

use crate::common::{gpu, gpu_portable, rel_err};
use gradscope::gpu::program::{FOUR_ROWS, ONE_ROW, ROWS_PER_INVOCATION, StackPath, TWO_ROWS};
use gradscope::gpu::{Engine, EngineOptions, GpuContext};
use gradscope::model::{Activation, Arch, Cell, Init, NetConfig, Norm, Optimizer, Task};
use gradscope::reference::Reference;
use gradscope::stats::StepStats;

/// A log10 vector (None = exact zero) as values relative to its largest entry, so the relative error of
/// the whole tensor can be measured even where the values are far below the f32 range.
fn unlog(v: &[Option<f64>], top: f64) -> Vec<f64> {
    v.iter()
        .map(|x| x.map_or(0.0, |x| 10f64.powf(x - top)))
        .collect()
}

/// Relative error of two log10 vectors as tensors; both must have their exact zeros in the same places.
fn log_tensor_err(g: &[Option<f64>], r: &[Option<f64>], what: &str) -> f64 {
    for (a, b) in g.iter().zip(r) {
        assert_eq!(
            a.is_none(),
            b.is_none(),
            "{what}: exact zeros differ: {g:?} vs {r:?}"
        );
    }
    let top = r
        .iter()
        .flatten()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    if top == f64::NEG_INFINITY {
        return 0.0;
    }
    rel_err(&unlog(g, top), &unlog(r, top))
}

fn compare_stats(g: &StepStats, r: &StepStats, what: &str) {
    compare_stats_to(g, r, what, 1e-4);
}

/// [`compare_stats`] to a relative tolerance `tol`.
pub(crate) fn compare_stats_to(g: &StepStats, r: &StepStats, what: &str, tol: f64) {
    assert_eq!(g.layers.len(), r.layers.len());
    let gl = g.loss.expect("gpu loss finite");
    let rl = r.loss.expect("reference loss finite");
    assert!(
        (gl - rl).abs() <= tol * rl.abs().max(1e-3),
        "{what}: loss {gl} vs {rl}"
    );
    let field = |f: fn(&gradscope::stats::LayerStats) -> Option<f64>,
                 s: &StepStats|
     -> Vec<Option<f64>> { s.layers.iter().map(f).collect() };
    // per-layer statistics as tensors over layers (relative to the largest layer)
    for (name, f) in [
        (
            "log10_grad_w_norm",
            (|l| l.log10_grad_w_norm) as fn(&gradscope::stats::LayerStats) -> Option<f64>,
        ),
        ("log10_delta_rms", |l| l.log10_delta_rms),
    ] {
        let e = log_tensor_err(&field(f, g), &field(f, r), &format!("{what} {name}"));
        assert!(e < tol, "{what}: {name} relative error {e:e}");
        // and each layer on its own, in the log domain (relative 2.3e-4 per value)
        for (a, b) in field(f, g).iter().zip(field(f, r)) {
            if let (Some(a), Some(b)) = (a, b) {
                assert!((a - b).abs() < tol, "{what}: {name} {a} vs {b}");
            }
        }
    }
    assert_eq!(g.update_ratio.len(), r.update_ratio.len(), "{what}");
    for (a, b) in g.update_ratio.iter().zip(&r.update_ratio) {
        assert_eq!(a.tensor, b.tensor);
        for (name, x, y) in [
            ("update", a.log10_update_norm, b.log10_update_norm),
            ("weights", a.log10_weight_norm, b.log10_weight_norm),
            ("ratio", a.log10_ratio, b.log10_ratio),
        ] {
            match (x, y) {
                (Some(x), Some(y)) => assert!(
                    (x - y).abs() < tol || (x.is_nan() && y.is_nan()),
                    "{what}: {} {name} {x} vs {y}",
                    a.tensor
                ),
                (x, y) => assert_eq!(x.is_none(), y.is_none(), "{what}: {} {name}", a.tensor),
            }
        }
    }
    for (lg, lr) in g.layers.iter().zip(&r.layers) {
        let i = lr.index;
        let e = log_tensor_err(
            &lg.log10_mean_abs_delta,
            &lr.log10_mean_abs_delta,
            &format!("{what} layer {i}"),
        );
        assert!(
            e < tol,
            "{what} layer {i}: log10_mean_abs_delta relative error {e:e}"
        );
        assert!(
            (lg.act_rms - lr.act_rms).abs() <= tol * lr.act_rms.max(1e-6),
            "{what} layer {i} act_rms"
        );
        assert!(
            (lg.saturated_fraction - lr.saturated_fraction).abs() < 0.03,
            "{what} layer {i} saturated"
        );
        assert!(
            (lg.dead_fraction - lr.dead_fraction).abs() < 1e-9,
            "{what} layer {i} dead"
        );
        assert_eq!(lg.gates.is_some(), lr.gates.is_some(), "{what} layer {i}");
        assert_eq!(lg.ledger.is_some(), lr.ledger.is_some(), "{what} layer {i}");
        if let (Some(a), Some(b)) = (&lg.ledger, &lr.ledger) {
            for (name, x, y) in [
                (
                    "log10_grad_out_rms",
                    a.log10_grad_out_rms,
                    b.log10_grad_out_rms,
                ),
                (
                    "log10_mean_abs_slope",
                    a.log10_mean_abs_slope,
                    b.log10_mean_abs_slope,
                ),
            ] {
                match (x, y) {
                    (Some(x), Some(y)) => assert!(
                        (x - y).abs() < tol || (x.is_nan() && y.is_nan()),
                        "{what} layer {i}: ledger {name} {x} vs {y}"
                    ),
                    (x, y) => assert_eq!(x.is_none(), y.is_none(), "{what} layer {i}: {name}"),
                }
            }
        }
        if let (Some(gg), Some(gr)) = (&lg.gates, &lr.gates) {
            assert!(
                (gg.keep_mean - gr.keep_mean).abs() < tol,
                "{what} step {i}: keep gate {} vs {}",
                gg.keep_mean,
                gr.keep_mean
            );
            assert_eq!(gg.saturated.len(), gr.saturated.len());
            for (a, b) in gg.saturated.iter().zip(&gr.saturated) {
                assert!((a - b).abs() < 0.03, "{what} step {i}: gate saturation");
            }
            match (gg.log10_cell_delta_rms, gr.log10_cell_delta_rms) {
                (Some(a), Some(b)) => assert!(
                    (a - b).abs() < tol,
                    "{what} step {i}: log10 cell delta rms {a} vs {b}"
                ),
                (a, b) => assert_eq!(a.is_none(), b.is_none(), "{what} step {i}: cell delta"),
            }
            let e = log_tensor_err(
                &gg.log10_mean_abs_cell_delta,
                &gr.log10_mean_abs_cell_delta,
                &format!("{what} step {i} cell"),
            );
            assert!(
                e < tol,
                "{what} step {i}: cell per-unit relative error {e:e}"
            );
        }
    }
}

fn compare_tensors(engine: &Engine, reference: &Reference, what: &str) {
    compare_tensors_to(engine, reference, what, 1e-4);
}

/// [`compare_tensors`] to a relative tolerance `tol`.
fn compare_tensors_to(engine: &Engine, reference: &Reference, what: &str, tol: f64) {
    let pass = reference.pass();
    let grads = engine.read_grads().unwrap();
    let cfg = reference.config();
    for (t, r) in grads.tensors.iter().zip(&pass.grads) {
        let g: Vec<f64> = t.data.iter().map(|&v| f64::from(v)).collect();
        let mut e = rel_err(&g, r);
        // a normalized layer's bias, gain and shift gradients are sums over the batch that cancel (the
        // shift's exactly where the next layer's BatchNorm removes it): f32 rounds each term, so they are
        // measured against the terms' mass (Σ_b |δ| for b_l, Σ_b |∂L/∂u| for β_l, and that times the
        // largest |ẑ|, √B or √W, for γ_l) rather than against the sum
        if cfg.norm != Norm::None
            && let Some((kind, l)) = t.name.split_once('_')
            && let Ok(l) = l.parse::<usize>()
        {
            let (b, w) = (cfg.batch, cfg.width);
            let terms = match kind {
                "b" => &pass.deltas[l - 1],
                _ => &pass.norm_deltas[l - 1],
            };
            let zhat_max = if cfg.norm == Norm::Batch { b } else { w } as f64;
            let per_term = if kind == "gamma" {
                zhat_max.sqrt()
            } else {
                1.0
            };
            let mass: f64 = (0..w)
                .map(|u| (0..b).map(|i| terms[i * w + u].abs()).sum::<f64>().powi(2))
                .sum::<f64>()
                .sqrt()
                * per_term;
            let d: f64 = g
                .iter()
                .zip(r)
                .map(|(x, y)| (x - y).powi(2))
                .sum::<f64>()
                .sqrt();
            let n: f64 = r.iter().map(|y| y * y).sum::<f64>().sqrt();
            if kind != "w" {
                e = d / n.max(mass);
            }
        }
        assert!(e < tol, "{what}: gradient {} relative error {e:e}", t.name);
    }
    let deltas = engine.read_deltas().unwrap();
    for (l, (d, r)) in deltas.iter().zip(&pass.deltas).enumerate() {
        let g: Vec<f64> = d.iter().map(|&v| f64::from(v)).collect();
        let e = rel_err(&g, r);
        assert!(e < tol, "{what}: delta_{} relative error {e:e}", l + 1);
    }
    let cells = engine.read_cell_deltas().unwrap();
    assert_eq!(cells.len(), pass.cell_deltas.len(), "{what}: cell deltas");
    for (l, (d, r)) in cells.iter().zip(&pass.cell_deltas).enumerate() {
        let g: Vec<f64> = d.iter().map(|&v| f64::from(v)).collect();
        let e = rel_err(&g, r);
        assert!(e < tol, "{what}: cell delta_{} relative error {e:e}", l + 1);
    }
}

/// Compares the gradient at init and after `updates` training steps.
fn check(cfg: &NetConfig, updates: u32) {
    check_with(cfg, updates, EngineOptions::default());
}

fn check_with(cfg: &NetConfig, updates: u32, opts: EngineOptions) {
    check_on(gpu(), cfg, updates, opts);
}

fn check_on(ctx: &GpuContext, cfg: &NetConfig, updates: u32, opts: EngineOptions) {
    let what = cfg.summary();
    let mut engine = Engine::with_options(ctx, cfg, opts).unwrap();
    let mut reference = Reference::new(cfg).unwrap();
    engine.compute();
    let gs = engine.wait_stats().unwrap();
    assert_eq!(gs.step, 0);
    compare_stats(&gs, &reference.stats(), &format!("{what} @0"));
    compare_tensors(&engine, &reference, &format!("{what} @0"));
    if updates > 0 {
        // Adam's division by √v̂ turns f32 rounding in near-zero gradient components into parameter
        // differences of up to 1e-3 (the tolerance of the parameters below); a norm passes them on to
        // every unit of the layer, so the statistics and gradients after Adam updates of a normalized
        // net are held to 5e-4 (at init, and every other net at any step, to 1e-4)
        let trained_tol = if cfg.norm != Norm::None && cfg.optimizer == Optimizer::Adam {
            5e-4
        } else {
            1e-4
        };
        engine.step(updates);
        let trained = engine.wait_stats().unwrap();
        for _ in 0..updates - 1 {
            reference.step();
        }
        // the stats of a training submission describe its last gradient, before its last update
        assert_eq!(trained.step, u64::from(updates - 1));
        compare_stats_to(
            &trained,
            &reference.stats(),
            &format!("{what} train@{}", updates - 1),
            trained_tol,
        );
        reference.step();
        engine.compute();
        let after = engine.wait_stats().unwrap();
        assert_eq!(after.step, u64::from(updates));
        compare_stats_to(
            &after,
            &reference.stats(),
            &format!("{what} @{updates}"),
            trained_tol,
        );
        compare_tensors_to(
            &engine,
            &reference,
            &format!("{what} @{updates}"),
            trained_tol,
        );
        let p = engine.read_params().unwrap();
        for (t, r) in p.tensors.iter().zip(reference.params()) {
            let g: Vec<f64> = t.data.iter().map(|&v| f64::from(v)).collect();
            // Adam divides by sqrt(v̂) + ε, which amplifies f32 rounding where a gradient component is tiny
            // and a norm's shift β starts at exactly 0, so after a few steps it is the sum of its
            // gradients and carries their relative error (compared at 1e-4 above)
            let tol = if cfg.optimizer == Optimizer::Adam {
                1e-3
            } else if cfg.norm != Norm::None {
                1e-4
            } else {
                1e-5
            };
            let mut e = rel_err(&g, r);
            if cfg.norm != Norm::None {
                // a shift β_l the next BatchNorm removes has a gradient of exactly 0: it stays at 0 in
                // f64 and moves by rounding (1e-9) in f32, so a parameter near 0 is measured against a
                // floor of 1e-3 per entry
                let d: f64 = g
                    .iter()
                    .zip(r)
                    .map(|(x, y)| (x - y).powi(2))
                    .sum::<f64>()
                    .sqrt();
                let n: f64 = r.iter().map(|y| y * y).sum::<f64>().sqrt();
                e = d / n.max(1e-3 * (r.len() as f64).sqrt());
            }
            assert!(
                e < tol,
                "{what}: params {} after {updates} updates: relative error {e:e}",
                t.name
            );
        }
    }
}

/// The i-th config of a sweep over `small` nets: init, seed, optimizer and clipping cycle with i (Adam at a
/// smaller learning rate).
fn case(i: usize, arch: Arch, residual: bool, task: Task, act: Activation) -> NetConfig {
    let mut cfg = small(
        arch,
        residual,
        task,
        act,
        Init::ALL[i % Init::ALL.len()],
        i as u64,
    );
    cfg.optimizer = [Optimizer::Sgd, Optimizer::Momentum, Optimizer::Adam][i % 3];
    cfg.clip = i.is_multiple_of(2).then_some(0.05);
    if cfg.optimizer == Optimizer::Adam {
        cfg.lr = 0.002;
    }
    cfg
}

fn small(
    arch: Arch,
    residual: bool,
    task: Task,
    act: Activation,
    init: Init,
    seed: u64,
) -> NetConfig {
    NetConfig {
        arch,
        depth: if arch == Arch::Rnn { 6 } else { 4 },
        width: if arch == Arch::Rnn { 7 } else { 9 },
        activation: act,
        init,
        gain: 1.0,
        residual,
        bias_std: 0.1,
        batch: 5,
        lr: 0.05,
        task,
        seed,
        ..NetConfig::default()
    }
}

/// Every kernel's pipeline builds on the device, in the build the adapter takes and in the portable one
/// (a net builds only the kernels it dispatches, so this is where one no test net dispatches would fail).
#[test]
fn every_kernel_builds_on_the_device() {
    gpu().pipelines.build_all();
    gpu_portable().pipelines.build_all();
}

#[test]
fn gpu_matches_reference_for_every_activation_arch_and_loss() {
    println!("adapter: {}", gpu().adapter);
    let variants = [
        (Arch::Mlp, false, Task::Teacher),
        (Arch::Mlp, false, Task::Spiral),
        (Arch::Mlp, true, Task::Teacher),
        (Arch::Mlp, true, Task::Spiral),
        (Arch::Rnn, false, Task::Adding),
        (Arch::Rnn, false, Task::Memory),
    ];
    let mut i = 0usize;
    for act in Activation::ALL {
        for (arch, residual, task) in variants {
            let cfg = case(i, arch, residual, task, act);
            // the default (per row on a CPU adapter, else the fused stack / persistent RNN in one
            // slice), several row slices per layer (per-slice scales brought to one), one invocation per
            // row, and the layered path
            check(&cfg, 3);
            for stack in [StackPath::Fused(2), StackPath::Rows, StackPath::Layered] {
                check_with(
                    &cfg,
                    3,
                    EngineOptions {
                        stack,
                        ..EngineOptions::default()
                    },
                );
            }
            // the portable kernels (the activation chosen by the record, not built into the pipeline as
            // on a CPU adapter) for every activation, on an MLP and an RNN
            if !residual && matches!(task, Task::Teacher | Task::Adding) {
                let rows = EngineOptions {
                    stack: StackPath::Rows,
                    ..EngineOptions::default()
                };
                check_on(gpu_portable(), &cfg, 3, rows);
                // one, two or four rows per invocation, sixteen units at a time (a width that is a
                // multiple of 4)
                for rows in [ONE_ROW, TWO_ROWS, FOUR_ROWS] {
                    let opts = EngineOptions {
                        stack: StackPath::RowsOf(rows),
                        ..EngineOptions::default()
                    };
                    check_with(
                        &NetConfig {
                            width: 8,
                            ..cfg.clone()
                        },
                        3,
                        opts,
                    );
                }
            }
            i += 1;
        }
    }
}

/// The fused kernels split into chunks of layers (time steps), as they run on lavapipe for deep nets and
/// long sequences (it ends an invocation's loops after 65535 iterations): a small loop budget forces
/// chunks of a few layers on small nets, so every chunk boundary (the backward's state taken over from the
/// layer above, the RNN's weight gradients added up over chunks) is compared with the reference.
#[test]
fn fused_kernels_in_chunks_match_the_reference() {
    let mlp = NetConfig {
        depth: 14,
        width: 9,
        batch: 5,
        residual: true,
        activation: Activation::Sigmoid,
        gain: 1.5,
        optimizer: Optimizer::Momentum,
        lr: 0.05,
        seed: 31,
        ..NetConfig::default()
    };
    let rnn = NetConfig {
        arch: Arch::Rnn,
        depth: 16,
        width: 7,
        batch: 6,
        activation: Activation::Tanh,
        task: Task::Adding,
        optimizer: Optimizer::Adam,
        lr: 0.002,
        clip: Some(0.05),
        seed: 32,
        ..NetConfig::default()
    };
    for cfg in [mlp, rnn] {
        for (stack, budget) in [
            (StackPath::Rows, 900),
            (StackPath::Rows, 1500),
            (StackPath::Fused(2), 150),
            (StackPath::Fused(5), 200),
        ] {
            let opts = EngineOptions {
                stack,
                loop_budget: Some(budget),
                ..EngineOptions::default()
            };
            let whole = Engine::with_options(
                gpu(),
                &cfg,
                EngineOptions {
                    loop_budget: Some(u64::MAX),
                    ..opts
                },
            )
            .unwrap();
            let chunked = Engine::with_options(gpu(), &cfg, opts).unwrap();
            assert_ne!(chunked.path_name(), "layered", "{stack:?} {budget}");
            assert!(
                chunked.dispatches_per_step() > whole.dispatches_per_step(),
                "{stack:?} at {budget}: not chunked"
            );
            check_with(&cfg, 2, opts);
        }
    }
}

/// The per-row path reads vec4s where the width (the input width) is a multiple of 4 and scalars
/// elsewhere; each invocation carries four rows, so batches that leave the last invocation's rows partly
/// past the batch are included. Every combination, whole and in chunks, against the reference.
/// The per-row path with vec4 reads (widths that are multiples of 4), on the kernels that share loads
/// across lanes where the adapter allows it (lavapipe) and on the portable ones: widths past one chunk of
/// 8 lanes x 4 (36, 40: a chunk and a part) and batches past 8 rows (a weight gradient's batch in chunks
/// of 8 and a part; 200 rows: an RNN's weight gradients in two chunks of steps).
#[test]
fn rows_path_with_vec4_reads_matches_the_reference() {
    // (case index: init, seed, optimizer and clipping; the wide RNN takes an orthogonal init, since the
    // plain normal one makes a 40-unit tanh RNN chaotic, where f32 rounding grows past the tolerance)
    for (i, arch, task, width, batch, residual, act) in [
        (0, Arch::Mlp, Task::Teacher, 8, 6, false, Activation::Tanh),
        (
            1,
            Arch::Mlp,
            Task::Teacher,
            12,
            9,
            true,
            Activation::Sigmoid,
        ),
        (2, Arch::Mlp, Task::Spiral, 8, 5, true, Activation::Relu),
        (3, Arch::Mlp, Task::Spiral, 10, 7, false, Activation::Gelu),
        (4, Arch::Rnn, Task::Adding, 8, 6, false, Activation::Tanh),
        (5, Arch::Rnn, Task::Memory, 12, 3, false, Activation::Relu),
        (6, Arch::Mlp, Task::Teacher, 36, 19, true, Activation::Tanh),
        (13, Arch::Rnn, Task::Adding, 40, 11, false, Activation::Tanh),
        // a batch whose weight gradients take two chunks of steps under the small budget
        (14, Arch::Rnn, Task::Adding, 8, 200, false, Activation::Tanh),
    ] {
        let mut cfg = case(i, arch, residual, task, act);
        cfg.width = width;
        cfg.batch = batch;
        // every shape of the per-row kernels (four rows per invocation of four-unit blocks, or one, two
        // or four rows of sixteen-unit blocks; the odd batches leave the last invocation's later rows
        // past the batch), whole and in chunks; the portable kernels take four rows of four-unit blocks
        // by default, and the others run there too
        let (four, one, two, four16) = (
            StackPath::RowsOf(ROWS_PER_INVOCATION),
            StackPath::RowsOf(ONE_ROW),
            StackPath::RowsOf(TWO_ROWS),
            StackPath::RowsOf(FOUR_ROWS),
        );
        for (ctx, budget, stack, name) in [
            (gpu(), u64::MAX, four, "rows:4"),
            (gpu(), u64::MAX, one, "rows:1"),
            (gpu(), u64::MAX, two, "rows:2"),
            (gpu(), u64::MAX, four16, "rows:4x16"),
            (gpu(), 1100, four, "rows:4"),
            (gpu(), 1100, one, "rows:1"),
            (gpu(), 1100, two, "rows:2"),
            (gpu(), 1100, four16, "rows:4x16"),
            (gpu_portable(), u64::MAX, StackPath::Rows, "rows:4"),
            (gpu_portable(), u64::MAX, one, "rows:1"),
            (gpu_portable(), u64::MAX, two, "rows:2"),
            (gpu_portable(), u64::MAX, four16, "rows:4x16"),
        ] {
            let opts = EngineOptions {
                stack,
                loop_budget: Some(budget),
                ..EngineOptions::default()
            };
            let engine = Engine::with_options(ctx, &cfg, opts).unwrap();
            // the small budget splits the stack into chunks, or (the wider nets) leaves the per-row path
            // (one row needs a width that is a multiple of 4: other widths keep four)
            let name = if width % 4 == 0 { name } else { "rows:4" };
            if budget == u64::MAX || width <= 12 {
                assert_eq!(engine.path_name(), name, "{}", cfg.summary());
            }
            check_on(ctx, &cfg, 3, opts);
        }
    }
}

/// A batch of one on the per-row path, over a sequence long enough that lavapipe's loop limit (65535
/// iterations per invocation) matters: the layer's scale is left to the statistics pass however small the
/// batch (it was missing for one row, so the statistics were off by the layers' power-of-two scales), and
/// every kernel's loop estimate holds under the adapter's own budget.
#[test]
fn a_batch_of_one_over_a_long_sequence_matches_the_reference_on_the_per_row_path() {
    let cfg = NetConfig {
        arch: Arch::Rnn,
        depth: 900,
        width: 4,
        batch: 1,
        // an orthogonal W_h and no squashing: the error keeps its size over the 900 steps, so every δ is
        // within f32's range and compared entry by entry
        activation: Activation::Linear,
        init: Init::Orthogonal,
        task: Task::Adding,
        seed: 5,
        ..NetConfig::default()
    };
    for stack in [
        StackPath::Layered,
        StackPath::Rows,
        StackPath::RowsOf(ROWS_PER_INVOCATION),
        StackPath::RowsOf(ONE_ROW),
        StackPath::RowsOf(TWO_ROWS),
        StackPath::RowsOf(FOUR_ROWS),
    ] {
        // the gradient at the initial weights (an update would send this net's weights to infinity)
        check_with(
            &cfg,
            0,
            EngineOptions {
                stack,
                ..EngineOptions::default()
            },
        );
    }
}

#[test]
fn gpu_matches_reference_for_every_init() {
    for (i, init) in Init::ALL.into_iter().enumerate() {
        check(
            &small(
                Arch::Mlp,
                false,
                Task::Teacher,
                Activation::Tanh,
                init,
                100 + i as u64,
            ),
            0,
        );
        check(
            &small(
                Arch::Rnn,
                false,
                Task::Memory,
                Activation::Sigmoid,
                init,
                200 + i as u64,
            ),
            0,
        );
    }
}

#[test]
fn gpu_matches_reference_beyond_one_tile() {
    // shapes that span several 64x64 tiles and ragged edges
    let cfg = NetConfig {
        depth: 3,
        width: 70,
        batch: 130,
        activation: Activation::Gelu,
        ..NetConfig::default()
    };
    check(&cfg, 2);
    // the same with each matmul variant forced everywhere (64 x 64 on large layers of large GPUs)
    for busy in [0, 10, u32::MAX] {
        check_with(
            &cfg,
            2,
            EngineOptions {
                busy_workgroups: busy,
                min_tile: 16,
                stack: StackPath::Layered,
                loop_budget: None,
            },
        );
    }
    // the 128 x 128 tiles of wide layers: ragged edges and widths that are not multiples of 4 (scalar
    // loads), then widths and batches that are (vec4 loads, a residual and momentum), with K past one tile
    let wide = EngineOptions {
        busy_workgroups: 0,
        min_tile: 128,
        stack: StackPath::Layered,
        loop_budget: None,
    };
    check_with(&cfg, 2, wide);
    check_with(
        &NetConfig {
            depth: 4,
            width: 132,
            batch: 136,
            residual: true,
            optimizer: Optimizer::Momentum,
            activation: Activation::Tanh,
            ..NetConfig::default()
        },
        2,
        wide,
    );
    // matrices past UPDATE_IN_NORMS_MAX and a gradient past NORM_IN_STATS_MAX: the update's own dispatch
    // and sumsq_partial's partials (smaller nets take both in other kernels), with momentum and a clip
    let big = NetConfig {
        depth: 3,
        width: 264,
        batch: 8,
        optimizer: Optimizer::Momentum,
        clip: Some(0.05),
        activation: Activation::Tanh,
        ..NetConfig::default()
    };
    let lay = gradscope::gpu::layout::Layout::new(&big);
    assert!(!gradscope::gpu::program::norm_in_stats(
        &lay,
        gradscope::gpu::program::SOFTWARE_BUSY_WORKGROUPS
    ));
    assert!(!gradscope::gpu::program::update_in_norms(&big, &lay));
    check(&big, 2);
    let cfg = NetConfig {
        arch: Arch::Rnn,
        depth: 5,
        width: 66,
        batch: 67,
        activation: Activation::Tanh,
        task: Task::Adding,
        optimizer: Optimizer::Adam,
        lr: 0.001,
        clip: Some(0.5),
        ..NetConfig::default()
    };
    check(&cfg, 2);
    check_with(&cfg, 2, wide);
    for busy in [0, 5, u32::MAX] {
        check_with(
            &cfg,
            2,
            EngineOptions {
                busy_workgroups: busy,
                min_tile: 16,
                stack: StackPath::Layered,
                loop_budget: None,
            },
        );
    }
}

#[test]
fn clipping_caps_the_update_on_the_gpu_like_the_reference() {
    let cfg = NetConfig {
        depth: 5,
        width: 16,
        batch: 8,
        gain: 3.0,
        lr: 0.1,
        clip: Some(1e-3),
        ..NetConfig::default()
    };
    check(&cfg, 2);
    // the norm (1e-3 threshold vs a gain-3 net) is far above the threshold: clipping fires on both engines
    let mut engine = Engine::new(gpu(), &cfg).unwrap();
    engine.compute();
    let s = engine.wait_stats().unwrap();
    assert!(s.clipped && s.grad_norm.unwrap() > 1e-3);
    assert!(Reference::new(&cfg).unwrap().stats().clipped);
}

/// The non-blocking read the browser build uses (it polls, never waits) hands over exactly the
/// weights of the blocking one, after training and for an RNN too.
#[test]
fn polled_parameter_reads_equal_blocking_ones() {
    for (arch, task) in [(Arch::Mlp, Task::Teacher), (Arch::Rnn, Task::Adding)] {
        let cfg = small(arch, false, task, Activation::Tanh, Init::XavierNormal, 5);
        let mut engine = Engine::new(gpu(), &cfg).unwrap();
        engine.step(3);
        let pending = engine.request_params();
        let start = std::time::Instant::now();
        let polled = loop {
            if let Some(p) = pending.poll() {
                break p.expect("the read succeeds");
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(60),
                "the polled read never arrived"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        assert!(pending.poll().is_none(), "handed over once");
        assert_eq!(polled, engine.read_params().unwrap(), "{arch:?}");
    }
}

#[test]
fn activation_change_keeps_weights() {
    let cfg = small(
        Arch::Mlp,
        false,
        Task::Teacher,
        Activation::Sigmoid,
        Init::XavierNormal,
        4,
    );
    let mut engine = Engine::new(gpu(), &cfg).unwrap();
    let before = engine.read_params().unwrap();
    engine.set_activation(Activation::Relu);
    assert_eq!(engine.read_params().unwrap(), before);
    engine.compute();
    let s = engine.wait_stats().unwrap();
    let relu = NetConfig {
        activation: Activation::Relu,
        ..cfg
    };
    compare_stats(
        &s,
        &Reference::new(&relu).unwrap().stats(),
        "after set_activation",
    );
}

#[test]
fn linear_rnn_underflow_is_reported_in_the_log_domain() {
    // W_h = 0.8·Q, T = 400: ‖δ_1‖ = 0.8^399 ‖δ_T‖ ≈ 1e-39 ‖δ_T‖, below the smallest normal f32
    let cfg = NetConfig {
        arch: Arch::Rnn,
        depth: 400,
        width: 16,
        batch: 4,
        activation: Activation::Linear,
        init: Init::Orthogonal,
        gain: 0.8,
        task: Task::Adding,
        ..NetConfig::default()
    };
    let mut engine = Engine::new(gpu(), &cfg).unwrap();
    engine.compute();
    let s = engine.wait_stats().unwrap();
    let top = s.layers[399].log10_delta_rms.unwrap();
    let first = s.layers[0].log10_delta_rms.unwrap();
    let want = top + 399.0 * 0.8f64.log10();
    println!("log10 rms δ_1 = {first:.4}, predicted {want:.4} (δ_T: {top:.4})");
    assert!((first - want).abs() < 0.05, "{first} vs {want}");
    assert!(first < -38.0);
    // step 1's contribution to ∂L/∂W_h is exactly zero (h_0 = 0); step 2's is tiny but known
    assert_eq!(s.layers[0].log10_grad_w_norm, None);
    assert!(s.layers[1].log10_grad_w_norm.unwrap() < -30.0);
}

#[test]
fn too_large_for_the_adapter_is_rejected_before_allocation() {
    let cfg = NetConfig {
        depth: 1024,
        width: 1024,
        batch: 4096,
        ..NetConfig::default()
    };
    let err = Engine::new(gpu(), &cfg)
        .err()
        .expect("must not fit")
        .to_string();
    assert!(
        err.contains("max_storage_buffer_binding_size") || err.contains("max_buffer_size"),
        "{err}"
    );
}

/// `opts` (a small loop budget) runs `cfg` on `path` in more dispatches than an unbounded budget does.
fn assert_chunked(cfg: &NetConfig, opts: EngineOptions, path: &str) {
    let whole = Engine::with_options(
        gpu(),
        cfg,
        EngineOptions {
            loop_budget: Some(u64::MAX),
            ..opts
        },
    )
    .unwrap();
    let chunked = Engine::with_options(gpu(), cfg, opts).unwrap();
    assert_eq!(chunked.path_name(), path);
    assert!(
        chunked.dispatches_per_step() > whole.dispatches_per_step(),
        "{} at {:?}: not chunked",
        cfg.summary(),
        opts.loop_budget
    );
}

/// LSTM and GRU cells on the GPU against the reference: every cell × candidate nonlinearity × task, at
/// init and after updates with each optimizer, clipping on and off, several rows per workgroup.
#[test]
fn gated_cells_match_the_reference() {
    let mut i = 0usize;
    for cell in [Cell::Lstm, Cell::Gru] {
        for act in Activation::ALL {
            for task in [Task::Adding, Task::Memory] {
                let cfg = NetConfig {
                    cell,
                    forget_bias: [1.0, 0.0, 2.5][i % 3],
                    ..case(i, Arch::Rnn, false, task, act)
                };
                check(&cfg, 3);
                i += 1;
            }
        }
    }
}

/// A gated cell's kernels in chunks of steps (as on lavapipe for long sequences), a workgroup holding
/// more (row, unit) pairs than invocations, and a batch that does not fill the last workgroup.
#[test]
fn gated_cells_in_chunks_and_wide_match_the_reference() {
    for (cell, width, batch, budget) in [
        (Cell::Lstm, 5, 7, Some(300)),
        (Cell::Gru, 6, 5, Some(400)),
        // widths a multiple of 4: vec4 reads (FLAG_WIDE), also in chunks
        (Cell::Lstm, 8, 6, Some(400)),
        (Cell::Gru, 12, 5, Some(600)),
        (Cell::Lstm, 300, 2, None),
        (Cell::Gru, 40, 9, None),
    ] {
        let cfg = NetConfig {
            arch: Arch::Rnn,
            cell,
            depth: 12,
            width,
            batch,
            activation: Activation::Tanh,
            task: Task::Adding,
            optimizer: Optimizer::Momentum,
            lr: 0.05,
            seed: 41,
            ..NetConfig::default()
        };
        let opts = EngineOptions {
            loop_budget: budget,
            ..EngineOptions::default()
        };
        if budget.is_some() {
            // a CPU adapter sharing loads across lanes runs the per-row kernels where H is a multiple of 4
            let rows = gpu().software && gpu().pipelines.build().lanes && width % 4 == 0;
            assert_chunked(&cfg, opts, if rows { "gated:rows" } else { "gated" });
        }
        check_with(&cfg, 2, opts);
        if width % 4 == 0 {
            // both shapes of the forward and backward wherever the adapter: one invocation per batch row
            // (with and without lanes sharing the weights) and the workgroup kernels GPUs run
            for (ctx, stack, path) in [
                (gpu(), StackPath::RowsOf(ONE_ROW), "gated:rows"),
                (gpu_portable(), StackPath::RowsOf(ONE_ROW), "gated:rows"),
                (gpu(), StackPath::Fused(0), "gated"),
            ] {
                let forced = EngineOptions { stack, ..opts };
                let engine = Engine::with_options(ctx, &cfg, forced).unwrap();
                assert_eq!(engine.path_name(), path, "{}", cfg.summary());
                check_on(ctx, &cfg, 2, forced);
            }
        }
    }
}

/// LayerNorm and BatchNorm MLPs on the GPU against the reference: each norm × every activation, residual
/// on and off, at init and after updates with each optimizer, clipping on and off; then in chunks of
/// layers (a small loop budget) and with a batch and width past one workgroup's invocations.
#[test]
fn normalized_mlps_match_the_reference() {
    let mut i = 0usize;
    for norm in [Norm::Layer, Norm::Batch] {
        for act in Activation::ALL {
            for (residual, task) in [(false, Task::Teacher), (true, Task::Spiral)] {
                let cfg = NetConfig {
                    norm,
                    ..case(i, Arch::Mlp, residual, task, act)
                };
                check(&cfg, 3);
                i += 1;
            }
        }
    }
    for (norm, width, batch, budget) in [
        (Norm::Layer, 9, 5, Some(100)),
        (Norm::Batch, 7, 6, Some(90)),
        (Norm::Layer, 40, 20, None),
        (Norm::Batch, 300, 8, None),
    ] {
        let cfg = NetConfig {
            norm,
            depth: 6,
            width,
            batch,
            residual: true,
            activation: Activation::Tanh,
            gain: 1.5,
            optimizer: Optimizer::Momentum,
            lr: 0.05,
            seed: 51,
            ..NetConfig::default()
        };
        let opts = EngineOptions {
            loop_budget: budget,
            ..EngineOptions::default()
        };
        if budget.is_some() {
            assert_chunked(&cfg, opts, "normed");
        }
        check_with(&cfg, 2, opts);
    }
}

/// The small net the tuner tests time: every candidate takes milliseconds.
fn tuner_net() -> NetConfig {
    NetConfig {
        depth: 3,
        width: 8,
        batch: 4,
        ..NetConfig::default()
    }
}

/// Past the budget (spent at once here, as kernel compilation can spend it at the app's first launch)
/// the tuner still builds the first candidate, and a quick one takes all its timed steps: a choice is
/// never made from a single, cold step.
#[test]
fn the_tuner_times_quick_candidates_fully_past_its_budget() {
    use gradscope::gpu::tuner::{QUICK_STEP_MS, TIMED_STEPS, candidates, time_candidates};
    let ctx = gpu();
    let cfg = tuner_net();
    let timings = time_candidates(ctx, &cfg, EngineOptions::default(), 0.0);
    assert_eq!(timings.len(), 1, "only the first candidate is built");
    let t = &timings[0];
    assert_eq!(t.candidate, candidates(&cfg, ctx.software)[0]);
    assert!(t.steps_ms[0] <= QUICK_STEP_MS, "{:?}", t.steps_ms);
    assert_eq!(t.steps_ms.len(), TIMED_STEPS as usize, "{:?}", t.steps_ms);
}

/// The tuner times every candidate of a small net, each in `TIMED_STEPS` steps taken in turns, and its
/// figure is the fastest of them.
#[test]
fn the_tuner_times_every_small_candidate_in_rounds() {
    use gradscope::gpu::tuner::{TIMED_STEPS, candidates, time_candidates};
    let ctx = gpu();
    let cfg = tuner_net();
    // a budget no machine reaches: every candidate is timed
    let timings = time_candidates(ctx, &cfg, EngineOptions::default(), 1e6);
    let timed: Vec<_> = timings.iter().map(|t| t.candidate).collect();
    assert_eq!(timed, candidates(&cfg, ctx.software));
    for t in &timings {
        assert_eq!(
            t.steps_ms.len(),
            TIMED_STEPS as usize,
            "{}: {:?}",
            t.candidate.text(),
            t.steps_ms
        );
        assert!(t.steps_ms.iter().all(|ms| ms.is_finite() && *ms > 0.0));
        let fastest = t.steps_ms.iter().copied().fold(f64::INFINITY, f64::min);
        assert_eq!(t.ms(), fastest);
    }
}

/// A run of steps recorded together skips the statistics of every step but its last (nobody reads them):
/// the weights, the gradients and the statistics read back after it are the same bit for bit as after
/// the same steps run one submission each (every step complete), on every path the engine takes and with
/// every kernel a bare step swaps (the per-row and portable statistics passes, the update inside the norms
/// pass and the separate one, the global norm with and without clipping, both norms, histograms on).
#[test]
fn bare_steps_leave_weights_and_statistics_bit_for_bit_as_complete_steps() {
    let mlp = |width, optimizer, clip| NetConfig {
        depth: 5,
        width,
        batch: 6,
        activation: Activation::Tanh,
        optimizer,
        clip,
        lr: 0.02,
        seed: 7,
        ..NetConfig::default()
    };
    let rnn = |cell| NetConfig {
        arch: Arch::Rnn,
        cell,
        task: Task::Adding,
        depth: 7,
        width: 8,
        batch: 5,
        optimizer: Optimizer::Adam,
        lr: 0.01,
        seed: 3,
        ..NetConfig::default()
    };
    let path = |stack| EngineOptions {
        stack,
        ..EngineOptions::default()
    };
    // a per-row stack in chunks of layers (a small loop budget, as lavapipe's for deep nets), deep and
    // saturating, its errors taken over at each chunk boundary from the ĝ the chunk above stored (the bare
    // backward keeps that row; a stale one would only move the next chunk's power-of-two scale, exactly,
    // so no test sees it: docs/DESIGN.md, Bare steps)
    let chunked_net = NetConfig {
        depth: 60,
        batch: 20,
        activation: Activation::Sigmoid,
        ..mlp(8, Optimizer::Momentum, None)
    };
    let chunked = EngineOptions {
        loop_budget: Some(1100),
        ..path(StackPath::RowsOf(TWO_ROWS))
    };
    assert_chunked(&chunked_net, chunked, "rows:2");
    let cases: Vec<(&GpuContext, NetConfig, EngineOptions)> = vec![
        // four units per invocation (width 32) and packed across layers (width 8), adam and clipping
        (
            gpu(),
            mlp(32, Optimizer::Adam, None),
            EngineOptions::default(),
        ),
        (
            gpu(),
            mlp(8, Optimizer::Momentum, Some(0.05)),
            EngineOptions::default(),
        ),
        (
            gpu(),
            mlp(9, Optimizer::Sgd, None),
            EngineOptions::default(),
        ),
        // more rows than a subgroup has lanes (the weight gradients' own rescale reads the rows' scales
        // eight at a time), and a deep sigmoid net whose early errors sit near the bottom of f32's range
        (
            gpu(),
            NetConfig {
                batch: 20,
                ..mlp(32, Optimizer::Momentum, None)
            },
            path(StackPath::RowsOf(TWO_ROWS)),
        ),
        (
            gpu(),
            NetConfig {
                depth: 60,
                batch: 20,
                activation: Activation::Sigmoid,
                ..mlp(8, Optimizer::Sgd, None)
            },
            EngineOptions::default(),
        ),
        // a bare backward stores ĝ only where it is read: by the layer below in a residual net, and by
        // the next chunk down at the chunk's lowest layer
        (
            gpu(),
            NetConfig {
                residual: true,
                ..mlp(32, Optimizer::Adam, None)
            },
            path(StackPath::RowsOf(FOUR_ROWS)),
        ),
        (gpu(), chunked_net, chunked),
        (
            gpu(),
            mlp(8, Optimizer::Adam, None),
            path(StackPath::Layered),
        ),
        (
            gpu(),
            mlp(8, Optimizer::Sgd, Some(0.05)),
            path(StackPath::Fused(2)),
        ),
        (
            gpu_portable(),
            mlp(8, Optimizer::Adam, None),
            path(StackPath::Rows),
        ),
        (gpu(), rnn(Cell::Vanilla), EngineOptions::default()),
        (gpu(), rnn(Cell::Lstm), EngineOptions::default()),
        (gpu(), rnn(Cell::Gru), path(StackPath::Fused(0))),
        (
            gpu(),
            NetConfig {
                norm: Norm::Layer,
                ..mlp(8, Optimizer::Adam, None)
            },
            EngineOptions::default(),
        ),
        (
            gpu(),
            NetConfig {
                norm: Norm::Batch,
                residual: true,
                ..mlp(12, Optimizer::Momentum, Some(0.05))
            },
            EngineOptions::default(),
        ),
    ];
    const STEPS: u32 = 5;
    for (ctx, cfg, opts) in cases {
        let what = format!("{} ({:?})", cfg.summary(), opts.stack);
        let mut run = Engine::with_options(ctx, &cfg, opts).unwrap();
        let mut one_by_one = Engine::with_options(ctx, &cfg, opts).unwrap();
        run.set_histograms(true);
        one_by_one.set_histograms(true);
        run.step(STEPS);
        let a = run.wait_stats().unwrap();
        let mut b = None;
        for _ in 0..STEPS {
            one_by_one.step(1);
            b = Some(one_by_one.wait_stats().unwrap());
        }
        let b = b.unwrap();
        assert_eq!(a.step, u64::from(STEPS - 1), "{what}");
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap(),
            "{what}: statistics"
        );
        for (read, name) in [
            (Engine::read_params as fn(&Engine) -> _, "params"),
            (Engine::read_grads, "grads"),
        ] {
            let (x, y) = (read(&run).unwrap(), read(&one_by_one).unwrap());
            for (tx, ty) in x.tensors.iter().zip(&y.tensors) {
                let bits = |t: &[f32]| t.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&tx.data), bits(&ty.data), "{what}: {name} {}", tx.name);
            }
        }
    }
}
