//! The chain-rule ledger: its entries are the quantities they claim to be (computed here independently
//! from the reference's δ and parameters), its running product is the measured δ, and the GPU's equals
//! the reference's (every GPU-vs-reference comparison in gpu_engine.rs also compares the ledger sums).

use crate::common::gpu;
use gradscope::gpu::Engine;
use gradscope::model::{Activation, Arch, Init, NetConfig, Task};
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
