//! The chain-rule ledger and the update ratio. The ledger: its entries are the quantities they claim to be (computed here independently
//! from the reference's δ and parameters), its running product is the measured δ, and the GPU's equals
//! the reference's (every GPU-vs-reference comparison in gpu_engine.rs also compares the ledger sums).

use crate::common::gpu;
use gradscope::gpu::Engine;
use gradscope::model::{Activation, Arch, Init, NetConfig, Optimizer, Task, weight_tensors};
use gradscope::reference::Reference;
use gradscope::stats::{LedgerFactor, StepStats};

fn mlp(act: Activation, depth: usize, residual: bool) -> NetConfig {
    NetConfig {
        arch: Arch::Mlp,
        depth,
        width: 8,
        batch: 6,
        activation: act,
        init: Init::XavierNormal,
        residual,
        task: Task::Teacher,
        seed: 11,
        ..NetConfig::default()
    }
}

fn rms(v: &[f64]) -> f64 {
    (v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64).sqrt()
}

/// Every ledger's running product ends at the measured rms δ (to 1e-6 in log10), and the rows chain: each
/// product is the measured value it stands for.
fn assert_ledgers_close(stats: &StepStats, what: &str) {
    for index in 1..=stats.layers.len() {
        let ledger = stats.ledger(index).expect("a ledger for every layer");
        let n = stats.layers.len() - index + 1;
        assert_eq!(
            ledger.rows.len(),
            2 * n - 1,
            "{what}: rows of layer {index}"
        );
        assert_eq!(ledger.rows.last().unwrap().layer, index);
        for row in &ledger.rows {
            assert!(
                (row.log10_product - row.log10_measured).abs() < 1e-6,
                "{what} layer {index}: product {} vs measured {} at {:?} {}",
                row.log10_product,
                row.log10_measured,
                row.factor,
                row.layer
            );
        }
        let last = ledger.rows.last().unwrap().log10_product;
        assert!(
            (last - ledger.log10_measured).abs() < 1e-6,
            "{what} layer {index}: {last} vs {}",
            ledger.log10_measured
        );
    }
}

#[test]
fn ledger_entries_are_the_gradients_and_slopes_they_name() {
    let cfg = mlp(Activation::Tanh, 6, false);
    let r = Reference::new(&cfg).unwrap();
    let pass = r.pass();
    let stats = r.stats_of(&pass);
    let (b, w) = (cfg.batch, cfg.width);
    let data = r.data();
    // forward again here, for the slopes: z_l = a_{l-1} W_lᵀ + b_l
    let mut a: Vec<f64> = data.x.iter().map(|&v| f64::from(v)).collect();
    let mut k_in = data.d_in;
    for l in 1..=cfg.depth {
        let (wl, bl) = (&r.params()[2 * (l - 1)], &r.params()[2 * (l - 1) + 1]);
        let mut z = vec![0.0; b * w];
        for bi in 0..b {
            for o in 0..w {
                z[bi * w + o] = bl[o]
                    + (0..k_in)
                        .map(|i| a[bi * k_in + i] * wl[o * k_in + i])
                        .sum::<f64>();
            }
        }
        let mean_slope = z.iter().map(|&v| 1.0 - v.tanh().powi(2)).sum::<f64>() / z.len() as f64;
        let entry = stats.layers[l - 1].ledger.as_ref().unwrap();
        assert!(
            (entry.mean_abs_slope - mean_slope).abs() < 1e-12,
            "layer {l}: mean |f'| {} vs {mean_slope}",
            entry.mean_abs_slope
        );
        // ∂L/∂a_l = δ_{l+1} W_{l+1} below the top layer
        if l < cfg.depth {
            let (d_above, w_above) = (&pass.deltas[l], &r.params()[2 * l]);
            let mut g = vec![0.0; b * w];
            for bi in 0..b {
                for i in 0..w {
                    g[bi * w + i] = (0..w)
                        .map(|o| d_above[bi * w + o] * w_above[o * w + i])
                        .sum();
                }
            }
            let got = entry.log10_grad_out_rms.unwrap();
            assert!(
                (got - rms(&g).log10()).abs() < 1e-9,
                "layer {l}: rms ∂L/∂a {got} vs {}",
                rms(&g).log10()
            );
        }
        a = z.iter().map(|v| v.tanh()).collect();
        k_in = w;
    }
    assert_ledgers_close(&stats, "tanh mlp");
    // the rows alternate weights and slopes from the output down
    let ledger = stats.ledger(2).unwrap();
    assert_eq!(ledger.rows[0].factor, LedgerFactor::Slopes);
    assert_eq!(ledger.rows[0].layer, 6);
    assert_eq!(ledger.rows[1].factor, LedgerFactor::Weights);
    assert_eq!(ledger.rows[1].layer, 5);
    assert!(stats.ledger(0).is_none() && stats.ledger(7).is_none());
}

#[test]
fn gpu_ledger_products_equal_the_measured_delta() {
    for (cfg, what) in [
        (mlp(Activation::Sigmoid, 12, false), "sigmoid mlp"),
        (mlp(Activation::Relu, 8, true), "residual relu mlp"),
        (
            NetConfig {
                arch: Arch::Rnn,
                depth: 20,
                task: Task::Memory,
                ..mlp(Activation::Tanh, 20, false)
            },
            "rnn",
        ),
    ] {
        let mut e = Engine::new(gpu(), &cfg).unwrap();
        e.compute();
        let stats = e.wait_stats().unwrap();
        assert_ledgers_close(&stats, what);
        let r = Reference::new(&cfg).unwrap();
        let reference = r.stats();
        assert_ledgers_close(&reference, what);
        for index in [1, cfg.depth / 2, cfg.depth] {
            let (g, rr) = (
                stats.ledger(index).unwrap(),
                reference.ledger(index).unwrap(),
            );
            for (a, b) in g.rows.iter().zip(&rr.rows) {
                assert!(
                    (a.log10_factor - b.log10_factor).abs() < 1e-4,
                    "{what} layer {index}: GPU factor {:?} {} vs reference {}",
                    a.factor,
                    a.log10_factor,
                    b.log10_factor
                );
            }
        }
    }
}

/// The update ratio the statistics report is ‖W_after − W_before‖ / ‖W_before‖ of the update that is then
/// applied, for every optimizer (momentum and Adam after a few steps, so their state matters) and with
/// clipping firing.
#[test]
fn update_ratio_is_the_step_the_optimizer_then_takes() {
    for (optimizer, clip) in [
        (Optimizer::Sgd, None),
        (Optimizer::Momentum, None),
        (Optimizer::Adam, None),
        (Optimizer::Sgd, Some(1e-3)),
    ] {
        for arch in [Arch::Mlp, Arch::Rnn] {
            let cfg = NetConfig {
                arch,
                depth: 4,
                optimizer,
                clip,
                lr: 0.05,
                task: if arch == Arch::Rnn {
                    Task::Memory
                } else {
                    Task::Teacher
                },
                ..mlp(Activation::Tanh, 4, false)
            };
            let what = format!("{optimizer:?} clip {clip:?} {arch:?}");
            let mut r = Reference::new(&cfg).unwrap();
            for _ in 0..3 {
                r.step();
            }
            let stats = r.stats();
            let before = r.params().to_vec();
            r.step();
            let names = weight_tensors(&cfg);
            assert_eq!(stats.update_ratio.len(), names.len(), "{what}");
            for ((i, name), u) in names.iter().zip(&stats.update_ratio) {
                assert_eq!(&u.tensor, name);
                let w = &before[*i];
                let d: Vec<f64> = r.params()[*i].iter().zip(w).map(|(a, b)| a - b).collect();
                let want = rms(&d).log10() - rms(w).log10();
                let got = u.log10_ratio.unwrap();
                assert!(
                    (got - want).abs() < 1e-9,
                    "{what} {name}: ratio {got} vs applied {want}"
                );
            }
            // the GPU's, at init and after training steps, is the reference's (gpu_engine.rs compares
            // it for every config it tests; here once more after momentum or Adam state has built up)
            let mut e = Engine::new(gpu(), &cfg).unwrap();
            e.step(3);
            e.compute();
            let g = e.wait_stats().unwrap();
            let mut r = Reference::new(&cfg).unwrap();
            for _ in 0..3 {
                r.step();
            }
            for (a, b) in g.update_ratio.iter().zip(&r.stats().update_ratio) {
                let (a, b) = (a.log10_ratio.unwrap(), b.log10_ratio.unwrap());
                assert!((a - b).abs() < 1e-4, "{what}: GPU {a} vs reference {b}");
            }
        }
    }
}

/// Values within `eps` bins of a bin edge (where f32 and f64 may land on different sides).
fn near_edges(values: impl Iterator<Item = f64>, lo: f64, hi: f64, eps: f64) -> f64 {
    let bins = gradscope::stats::HIST_BINS as f64;
    values
        .filter(|v| {
            let x = (v - lo) / (hi - lo) * bins;
            (x - x.round()).abs() < eps
        })
        .count() as f64
}

/// The GPU's histograms of f(z) and log10 |δ| are the reference's: every value counted once, and each
/// bin equal except for values within a hair of a bin edge (f32 against f64), on the fused, per-row and
/// layered paths, for a saturating tanh net, a ReLU net with dead units, LayerNorm and BatchNorm nets
/// (the activation sees γ·norm(z) + β) and an RNN.
#[test]
fn gpu_histograms_equal_the_reference() {
    use gradscope::gpu::EngineOptions;
    use gradscope::gpu::program::StackPath;
    use gradscope::stats::{DELTA_HIST_RANGE, HIST_BINS};
    let tanh = NetConfig {
        gain: 2.5,
        ..mlp(Activation::Tanh, 6, false)
    };
    let relu = NetConfig {
        bias_std: 0.5,
        ..mlp(Activation::Relu, 6, true)
    };
    let rnn = NetConfig {
        arch: Arch::Rnn,
        depth: 12,
        task: Task::Memory,
        ..mlp(Activation::Tanh, 12, false)
    };
    let layer_norm = NetConfig {
        norm: gradscope::model::Norm::Layer,
        gain: 2.0,
        ..mlp(Activation::Tanh, 5, false)
    };
    let batch_norm = NetConfig {
        norm: gradscope::model::Norm::Batch,
        ..mlp(Activation::Relu, 5, true)
    };
    for (cfg, path) in [
        (&layer_norm, StackPath::Auto),
        (&batch_norm, StackPath::Auto),
        (&tanh, StackPath::Auto),
        (&tanh, StackPath::Layered),
        (&relu, StackPath::Rows),
        (&relu, StackPath::Layered),
        (&rnn, StackPath::Auto),
    ] {
        let what = format!("{} {path:?}", cfg.summary());
        let opts = EngineOptions {
            stack: path,
            ..EngineOptions::default()
        };
        let mut e = Engine::with_options(gpu(), cfg, opts).unwrap();
        assert!(e.set_histograms(true));
        e.step(2);
        e.compute();
        let g = e.wait_stats().unwrap();
        let mut r = Reference::new(cfg).unwrap();
        r.step();
        r.step();
        let pass = r.pass();
        let want = r.histograms(&pass).expect("histograms");
        let entries = (cfg.batch * cfg.width) as f64;
        for (l, (gl, rh)) in g.layers.iter().zip(&want).enumerate() {
            let gh = gl.histogram.as_ref().expect("GPU histogram");
            assert_eq!(gh.act.len(), HIST_BINS + 2);
            assert_eq!(
                gh.act.iter().sum::<u64>() as f64,
                entries,
                "{what} layer {}",
                l + 1
            );
            assert_eq!(
                (gh.delta.iter().sum::<u64>() + gh.delta_zeros) as f64,
                entries,
                "{what} layer {}",
                l + 1
            );
            assert_eq!(
                gh.delta_zeros,
                rh.delta_zeros,
                "{what} layer {}: zeros",
                l + 1
            );
            let (lo, hi) = gh.act_range;
            let act_edge = near_edges(pass.act_out[l].iter().copied(), lo, hi, 1e-4);
            let ms = pass.deltas[l].iter().map(|v| v * v).sum::<f64>() / entries;
            let rel = pass.deltas[l]
                .iter()
                .filter(|v| **v != 0.0)
                .map(|v| v.abs().log10() - 0.5 * ms.log10());
            let delta_edge = near_edges(rel, DELTA_HIST_RANGE.0, DELTA_HIST_RANGE.1, 1e-3);
            for (name, a, b, edge) in [
                ("f(z)", &gh.act, &rh.act, act_edge),
                ("delta", &gh.delta, &rh.delta, delta_edge),
            ] {
                let diff = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).sum::<u64>() as f64;
                assert!(
                    diff <= 2.0 * edge,
                    "{what} layer {}: {name} bins differ by {diff} ({edge} near an edge)\nGPU {a:?}\nref {b:?}",
                    l + 1
                );
            }
        }
        // off again: no histograms
        e.set_histograms(false);
        e.compute();
        assert!(e.wait_stats().unwrap().layers[0].histogram.is_none());
    }
    // a gated cell has none
    let lstm = NetConfig {
        cell: gradscope::model::Cell::Lstm,
        ..rnn
    };
    let mut e = Engine::new(gpu(), &lstm).unwrap();
    assert!(!e.set_histograms(true));
}
