//! Numbers that must not lie (issue 8): saturated sigmoid/tanh units are saturated, never dead, on both
//! engines and with an honest magnitude far beyond the f32 and f64 ranges; the global gradient norm does not
//! overflow in f32, so clipping a huge gradient trains on the GPU as on the CPU; NaN has its own
//! representation and is never reported as a dead unit.

use crate::common::gpu;
use gradscope::gpu::program::ROWS_PER_INVOCATION;
use gradscope::gpu::{Engine, EngineOptions, StackPath};
use gradscope::model::{Activation, Arch, Init, NetConfig, Task};
use gradscope::reference::Reference;
use gradscope::stats::StepStats;

/// Decades within which the engines must agree on saturated nets. These nets are ill-conditioned: a slope
/// of e^-|z| turns an f32 rounding of z (1e-5 at |z| ~ 100, more where the sum cancels) into a relative error
/// of the same size, so f32 agrees with f64 to a few thousandths of a decade, not to 1e-4 as on tame nets.
const LOG_TOL: f64 = 0.02;

fn gpu_stats(cfg: &NetConfig, steps: u32) -> StepStats {
    gpu_stats_with(cfg, steps, EngineOptions::default())
}

fn gpu_stats_with(cfg: &NetConfig, steps: u32, opts: EngineOptions) -> StepStats {
    let mut engine = Engine::with_options(gpu(), cfg, opts).expect("engine");
    if steps > 0 {
        engine.step(steps);
        engine.wait_stats().expect("stats");
    }
    engine.compute();
    engine.wait_stats().expect("stats")
}

fn cpu_stats(cfg: &NetConfig, steps: u32) -> StepStats {
    let mut r = Reference::new(cfg).expect("reference");
    for _ in 0..steps {
        r.step();
    }
    r.stats()
}

/// Every per-unit and per-layer log10 statistic agrees within `tol` decades, and the exact zeros agree.
fn assert_logs_agree(g: &StepStats, r: &StepStats, tol: f64, what: &str) {
    assert_eq!(g.layers.len(), r.layers.len());
    for (lg, lr) in g.layers.iter().zip(&r.layers) {
        let i = lr.index;
        for (name, a, b) in [
            ("log10_delta_rms", lg.log10_delta_rms, lr.log10_delta_rms),
            (
                "log10_grad_w_norm",
                lg.log10_grad_w_norm,
                lr.log10_grad_w_norm,
            ),
        ] {
            match (a, b) {
                (Some(a), Some(b)) => assert!(
                    (a - b).abs() < tol.max(1e-6 * b.abs()),
                    "{what} layer {i} {name}: gpu {a} vs cpu {b}"
                ),
                _ => assert_eq!(a, b, "{what} layer {i} {name}"),
            }
        }
        for (u, (a, b)) in lg
            .log10_mean_abs_delta
            .iter()
            .zip(&lr.log10_mean_abs_delta)
            .enumerate()
        {
            match (a, b) {
                // f32 holds z to ~6e-8 relative, so a slope of e^-|z| with |z| ~ 1e5 carries
                // ~1e-6 relative in its exponent too
                (Some(a), Some(b)) => assert!(
                    (a - b).abs() < tol.max(1e-6 * b.abs()),
                    "{what} layer {i} unit {u}: gpu {a} vs cpu {b}"
                ),
                _ => assert_eq!(a, b, "{what} layer {i} unit {u}: exact zeros differ"),
            }
        }
        assert_eq!(lg.dead_fraction, lr.dead_fraction, "{what} layer {i} dead");
        assert!(
            (lg.saturated_fraction - lr.saturated_fraction).abs() < 0.02,
            "{what} layer {i} saturated {} vs {}",
            lg.saturated_fraction,
            lr.saturated_fraction
        );
    }
}

/// A net whose pre-activations sit far beyond where f'(z) underflows f32 (|z| > 88 for the sigmoid, > 44 for
/// tanh) — and, with `gain` large enough, beyond f64 (|z| > 745).
fn saturating(act: Activation, gain: f64, arch: Arch) -> NetConfig {
    NetConfig {
        arch,
        depth: if arch == Arch::Rnn { 6 } else { 5 },
        width: if gain > 50.0 { 64 } else { 16 },
        batch: 8,
        activation: act,
        init: Init::Normal,
        gain,
        task: if arch == Arch::Rnn {
            Task::Adding
        } else {
            Task::Teacher
        },
        bias_std: 0.0,
        ..NetConfig::default()
    }
}

#[test]
fn saturated_units_are_never_dead_and_keep_their_magnitude_on_both_engines() {
    let smooth = [
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Elu,
        Activation::Gelu,
        Activation::Silu,
        Activation::Softplus,
    ];
    for act in smooth {
        // gain 40: |z| of tens to hundreds (beyond f32); gain 100 and width 64: hundreds to thousands
        // (beyond f64 as well)
        for gain in [40.0, 100.0] {
            for arch in [Arch::Mlp, Arch::Rnn] {
                let cfg = saturating(act, gain, arch);
                let what = format!("{act} gain {gain} {arch:?}");
                let r = cpu_stats(&cfg, 0);
                let g = gpu_stats(&cfg, 0);
                for s in [&r, &g] {
                    for l in &s.layers {
                        assert_eq!(
                            l.dead_fraction, 0.0,
                            "{what}: {} reports dead units",
                            s.engine
                        );
                        assert!(
                            l.log10_mean_abs_delta
                                .iter()
                                .all(|v| v.is_some_and(f64::is_finite)),
                            "{what} layer {}: {} per-unit magnitude missing: {:?}",
                            l.index,
                            s.engine,
                            l.log10_mean_abs_delta
                        );
                    }
                }
                assert!(
                    r.layers.iter().any(|l| l.saturated_fraction > 0.3),
                    "{what}: the net is not saturated, the test tests nothing"
                );
                // A saturated RNN at these gains is chaotic over time (a unit whose z passes near 0 at one
                // step amplifies f32 rounding by the gain at every later step), so f32 and f64 runs part
                // ways unit by unit; the MLP's layers are independent draws and must agree.
                // At gain 100 the samples of one layer differ by more than f32's ~38 decades, and the
                // GPU's one power-of-two scale per layer cannot hold them all (f64's 308 decades can):
                // there the GPU's values are finite and saturated, not dead (checked above), but a unit
                // whose largest samples underflowed reports its largest representable ones.
                if arch == Arch::Mlp && gain <= 40.0 {
                    assert_logs_agree(&g, &r, LOG_TOL, &what);
                }
            }
        }
    }
}

#[test]
fn saturated_residual_nets_agree_on_both_engines() {
    // the skip path adds ĝ at its own scale to ŝW · 2^K (K far below 0 when a layer is saturated)
    for act in [Activation::Sigmoid, Activation::Tanh] {
        let cfg = NetConfig {
            residual: true,
            ..saturating(act, 40.0, Arch::Mlp)
        };
        let what = format!("residual {act} gain 40");
        let r = cpu_stats(&cfg, 0);
        let g = gpu_stats(&cfg, 0);
        assert!(
            r.layers.iter().any(|l| l.saturated_fraction > 0.5),
            "{what}: not saturated"
        );
        assert_logs_agree(&g, &r, LOG_TOL, &what);
    }
}

#[test]
fn the_issue_repro_cases_are_not_dead() {
    // `stats --engine cpu --activation tanh --gain 30 --depth 8 --width 32 --batch 8 --steps 0`
    let cfg = NetConfig {
        activation: Activation::Tanh,
        gain: 30.0,
        depth: 8,
        width: 32,
        batch: 8,
        ..NetConfig::default()
    };
    let r = cpu_stats(&cfg, 0);
    let g = gpu_stats(&cfg, 0);
    for s in [&r, &g] {
        assert!(
            s.layers.iter().all(|l| l.dead_fraction == 0.0),
            "{}: dead tanh units",
            s.engine
        );
    }
    assert_logs_agree(&g, &r, LOG_TOL, "tanh gain 30");
    // a diverging residual sigmoid net (the old residual-sigmoid preset after 10 steps)
    let cfg = NetConfig {
        depth: 20,
        width: 64,
        activation: Activation::Sigmoid,
        init: Init::XavierNormal,
        residual: true,
        lr: 0.02,
        ..NetConfig::default()
    };
    let g = gpu_stats(&cfg, 10);
    let r = cpu_stats(&cfg, 10);
    for s in [&g, &r] {
        assert!(
            s.layers.iter().all(|l| l.dead_fraction == 0.0),
            "{}: sigmoid units painted dead: {:?}",
            s.engine,
            s.layers.iter().map(|l| l.dead_fraction).collect::<Vec<_>>()
        );
        assert!(
            s.layers
                .iter()
                .all(|l| l.log10_delta_rms.is_some_and(f64::is_finite)),
            "{}: rms δ missing",
            s.engine
        );
    }
}

#[test]
fn relu_dead_units_stay_exact_zeros_on_both_engines() {
    let cfg = NetConfig {
        activation: Activation::Relu,
        depth: 6,
        width: 16,
        batch: 8,
        bias_std: 1.5,
        ..NetConfig::default()
    };
    let r = cpu_stats(&cfg, 0);
    let g = gpu_stats(&cfg, 0);
    assert!(
        r.layers.iter().any(|l| l.dead_fraction > 0.0),
        "no dead unit: the test tests nothing"
    );
    for (lg, lr) in g.layers.iter().zip(&r.layers) {
        assert_eq!(lg.dead_fraction, lr.dead_fraction);
        let zeros = |v: &[Option<f64>]| v.iter().filter(|x| x.is_none()).count();
        assert_eq!(
            zeros(&lg.log10_mean_abs_delta),
            zeros(&lr.log10_mean_abs_delta)
        );
    }
}

/// A ReLU net of gain 10 whose activations pass f32's largest value part-way up: below it the GPU's
/// activation RMS is the reference's, past it not finite (the forward's own overflow: +∞, or NaN from
/// ∞ − ∞), never a finite value made up from an infinite one.
#[test]
fn activations_past_f32_range_are_reported_infinite() {
    // seed 2: a layer whose values overflow to +∞ without an ∞ − ∞ among them (later ones have NaN)
    let cfg = NetConfig {
        gain: 10.0,
        activation: Activation::Relu,
        depth: 60,
        width: 8,
        batch: 4,
        seed: 2,
        ..NetConfig::default()
    };
    let r = cpu_stats(&cfg, 0);
    let g = gpu_stats(&cfg, 0);
    let (mut finite, mut overflowed, mut infinite) = (0, 0, 0);
    for (lg, lr) in g.layers.iter().zip(&r.layers) {
        let (a, b) = (lg.act_rms, lr.act_rms);
        if lr.act_rms > 1e38 && a == f64::INFINITY {
            infinite += 1;
        }
        if b < 1e30 {
            finite += 1;
            assert!(
                (a - b).abs() <= 1e-4 * b,
                "layer {}: act rms gpu {a:e} vs cpu {b:e}",
                lr.index
            );
        } else if b > 1e40 {
            // +∞ where the layer's values overflowed, NaN where one of them came from ∞ − ∞
            overflowed += 1;
            assert!(
                !a.is_finite(),
                "layer {}: act rms gpu {a:e} vs cpu {b:e}",
                lr.index
            );
        }
    }
    assert!(
        finite >= 5 && overflowed >= 5,
        "{finite} finite, {overflowed} overflowed layers"
    );
    assert!(infinite >= 1, "no layer reported +∞");
}

#[test]
fn huge_gradients_are_clipped_and_trained_on_the_gpu_as_on_the_cpu() {
    // `stats --gain 10 --lr 0.01 --activation relu --depth 20 --width 32 --batch 32 --clip 1 --steps 5`:
    // the global norm is far past 1.8e19, where its square overflows f32
    let cfg = NetConfig {
        gain: 10.0,
        lr: 0.01,
        activation: Activation::Relu,
        depth: 20,
        width: 32,
        batch: 32,
        clip: Some(1.0),
        ..NetConfig::default()
    };
    let r0 = cpu_stats(&cfg, 0);
    let g0 = gpu_stats(&cfg, 0);
    let (rn, gn) = (r0.grad_norm.unwrap(), g0.grad_norm.unwrap());
    assert!(rn > 1e20, "the norm {rn:e} does not overflow f32 squares");
    assert!(
        !g0.nonfinite,
        "false NaN/Inf at step 0 on the GPU: {}",
        serde_json::to_string(&g0).unwrap_or_default()
    );
    assert!(g0.clipped);
    assert!(
        (gn - rn).abs() < 1e-4 * rn,
        "global norm gpu {gn:e} vs cpu {rn:e}"
    );
    let r5 = cpu_stats(&cfg, 5);
    let g5 = gpu_stats(&cfg, 5);
    let (rl, gl) = (r5.loss.unwrap(), g5.loss.unwrap());
    assert!(!g5.nonfinite && gl.is_finite());
    assert!(
        (gl - rl).abs() < 1e-3 * rl.abs(),
        "loss after 5 clipped steps: gpu {gl:e} vs cpu {rl:e}"
    );
    assert!(
        gl != g0.loss.unwrap(),
        "the GPU did not train (clip froze the update)"
    );
}

#[test]
fn the_global_norm_of_many_partials_is_combined_exactly() {
    // past 64k parameters several workgroups sum the norm's squares, each scaled by its own maximum, and
    // the update-norm kernel combines them: the huge-gradient case again, over about 150k parameters
    let cfg = NetConfig {
        gain: 60.0,
        lr: 0.01,
        activation: Activation::Relu,
        depth: 8,
        width: 144,
        batch: 4,
        clip: Some(1.0),
        ..NetConfig::default()
    };
    let params = gradscope::gpu::layout::Layout::new(&cfg).n_params;
    assert!(
        params > 1 << 17,
        "{params} parameters: three partials or more"
    );
    for steps in [0, 3] {
        let r = cpu_stats(&cfg, steps);
        let g = gpu_stats(&cfg, steps);
        let (rn, gn) = (r.grad_norm.unwrap(), g.grad_norm.unwrap());
        assert!(rn > 1e20, "the norm {rn:e} does not overflow f32 squares");
        assert!(!g.nonfinite && g.clipped, "after {steps} steps");
        assert!(
            (gn - rn).abs() < 1e-4 * rn,
            "after {steps} clipped steps: global norm gpu {gn:e} vs cpu {rn:e}"
        );
        let (rl, gl) = (r.loss.unwrap(), g.loss.unwrap());
        assert!(
            (gl - rl).abs() < 1e-3 * rl.abs(),
            "loss after {steps} clipped steps: gpu {gl:e} vs cpu {rl:e}"
        );
    }
}

#[test]
fn exploding_rnn_with_clipping_trains_on_the_gpu_as_on_the_cpu() {
    // the shipped rnn-exploding-clip lesson, shortened: linear RNN, orthogonal W_h with gain 1.15
    let cfg = NetConfig {
        arch: Arch::Rnn,
        depth: 120,
        width: 16,
        activation: Activation::Linear,
        init: Init::Orthogonal,
        gain: 1.15,
        batch: 16,
        lr: 0.001,
        clip: Some(1.0),
        task: Task::Adding,
        ..NetConfig::default()
    };
    let r0 = cpu_stats(&cfg, 0);
    assert!(
        r0.grad_norm.unwrap() > 1e7,
        "not exploding: {:?}",
        r0.grad_norm
    );
    let mut engine = Engine::new(gpu(), &cfg).expect("engine");
    let mut reference = Reference::new(&cfg).expect("reference");
    for _ in 0..4 {
        engine.step(5);
        let g = engine.wait_stats().expect("stats");
        for _ in 0..4 {
            reference.step();
        }
        let r = reference.stats();
        reference.step();
        assert_eq!(g.step, r.step);
        assert!(!g.nonfinite, "gpu step {}: non-finite", g.step);
        assert!(g.clipped);
        let (gl, rl) = (g.loss.unwrap(), r.loss.unwrap());
        assert!(
            (gl - rl).abs() < 1e-3 * rl.abs(),
            "step {}: loss gpu {gl} vs cpu {rl}",
            g.step
        );
    }
}

#[test]
fn nan_is_not_a_dead_unit_and_has_its_own_json() {
    // a learning rate that blows the weights up within a few steps
    let cfg = NetConfig {
        activation: Activation::Relu,
        gain: 3.0,
        depth: 6,
        width: 16,
        batch: 8,
        lr: 100.0,
        ..NetConfig::default()
    };
    let want = cpu_stats(&cfg, 6);
    for (engine, s) in [("cpu", want.clone()), ("gpu", gpu_stats(&cfg, 6))] {
        assert!(s.nonfinite, "{engine}: did not blow up: {:?}", s.loss);
        // a layer whose weight gradient holds a NaN has a NaN norm on both engines (the GPU's per-tile
        // partial sums count NaNs apart from the magnitudes)
        for (l, r) in s.layers.iter().zip(&want.layers) {
            let nan = |v: Option<f64>| v.is_some_and(f64::is_nan);
            assert_eq!(
                nan(l.log10_grad_w_norm),
                nan(r.log10_grad_w_norm),
                "{engine}: layer {}: {:?} vs the reference's {:?}",
                l.index,
                l.log10_grad_w_norm,
                r.log10_grad_w_norm
            );
        }
        assert!(
            want.layers
                .iter()
                .any(|l| l.log10_grad_w_norm.is_some_and(f64::is_nan)),
            "no layer's weight gradient went NaN: {:?}",
            want.layers
                .iter()
                .map(|l| l.log10_grad_w_norm)
                .collect::<Vec<_>>()
        );
        let json = serde_json::to_value(&s).expect("json");
        let text = json.to_string();
        assert!(
            text.contains("\"NaN\"") || text.contains("Infinity"),
            "{engine}: {text}"
        );
        for l in &s.layers {
            if l.act_rms.is_nan() {
                assert_eq!(l.dead_fraction, 0.0, "{engine}: NaN layer {} dead", l.index);
                assert!(
                    l.log10_mean_abs_delta.iter().all(Option::is_some),
                    "{engine}: NaN reported as an exact zero in layer {}",
                    l.index
                );
            }
        }
        assert!(
            s.layers.iter().any(|l| l.act_rms.is_nan()),
            "{engine}: NaN activations reported as {:?}",
            s.layers.iter().map(|l| l.act_rms).collect::<Vec<_>>()
        );
        // a NaN anywhere in the gradient makes the global norm NaN, never a finite number
        assert!(
            s.grad_norm.is_none_or(f64::is_nan),
            "{engine}: the norm of a NaN gradient is {:?}",
            s.grad_norm
        );
    }
}

/// The vanishing extremes stay exact on every engine path (the fused stack and persistent RNN with one
/// or several row slices, per row, in chunks of layers, and the layered path): a sigmoid MLP of depth 200
/// whose first-layer δ is near 1e-120, and the linear RNN W_h = 0.8·Q over T = 400 steps (δ_1 ≈ 1e-39 δ_T,
/// below the smallest normal f32), after training steps too.
#[test]
fn vanishing_extremes_are_exact_on_every_engine_path() {
    let deep = NetConfig {
        depth: 200,
        width: 16,
        batch: 8,
        activation: Activation::Sigmoid,
        init: Init::XavierNormal,
        seed: 5,
        ..NetConfig::default()
    };
    let rnn = NetConfig {
        arch: Arch::Rnn,
        depth: 400,
        width: 16,
        batch: 4,
        activation: Activation::Linear,
        init: Init::Orthogonal,
        gain: 0.8,
        task: Task::Adding,
        seed: 6,
        ..NetConfig::default()
    };
    let deep_first = cpu_stats(&deep, 0).layers[0].log10_delta_rms.unwrap();
    assert!(
        deep_first < -100.0,
        "δ_1 of the deep sigmoid net: 1e{deep_first}"
    );
    for cfg in [deep, rnn] {
        let want0 = cpu_stats(&cfg, 0);
        let want2 = cpu_stats(&cfg, 2);
        for (stack, budget) in [
            (StackPath::Rows, None),
            (StackPath::Rows, Some(4000)),
            (StackPath::RowsOf(ROWS_PER_INVOCATION), None),
            (StackPath::Fused(2), None),
            (StackPath::Fused(8), Some(400)),
            (StackPath::Layered, None),
        ] {
            let opts = EngineOptions {
                stack,
                loop_budget: budget,
                ..EngineOptions::default()
            };
            let what = format!("{} {stack:?} budget {budget:?}", cfg.summary());
            // f32 rounding compounds over hundreds of layers (steps): the per-unit means agree to LOG_TOL
            // decades, as on the saturated nets above (the layer aggregates far closer)
            assert_logs_agree(&gpu_stats_with(&cfg, 0, opts), &want0, LOG_TOL, &what);
            assert_logs_agree(&gpu_stats_with(&cfg, 2, opts), &want2, LOG_TOL, &what);
        }
    }
}
