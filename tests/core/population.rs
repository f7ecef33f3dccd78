//! A population engine (many nets of one shape trained together, the net's index in the grid) against the
//! single-net engine for each net's own config (GPU vs GPU, to float rounding) and against the f64
//! reference, at init and after updates, on every kernel path.

use crate::common::{gpu, rel_err};
use crate::gpu_engine::compare_stats_to;
use gradscope::gpu::program::StackPath;
use gradscope::gpu::{Engine, EngineOptions};
use gradscope::model::{Activation, Arch, Cell, Init, NetConfig, Norm, Task};
use gradscope::reference::Reference;
use gradscope::stats::StepStats;

/// Net `i` of a population around `base`: gain, bias std, init and seed vary with `i`.
fn member(base: &NetConfig, i: usize) -> NetConfig {
    NetConfig {
        gain: [0.7, 1.0, 1.4, 2.0][i % 4],
        bias_std: [0.0, 0.1, 0.3, 0.05][i % 4],
        init: [
            Init::XavierNormal,
            Init::HeNormal,
            Init::Orthogonal,
            Init::LecunNormal,
        ][i % 4],
        seed: 11 + i as u64,
        ..base.clone()
    }
}

/// Two statistics records from two GPU engines running the same kernels on the same inputs.
fn same_stats(a: &StepStats, b: &StepStats, what: &str) {
    let (la, lb) = (a.loss.unwrap(), b.loss.unwrap());
    assert!(
        (la - lb).abs() <= 1e-6 * lb.abs().max(1e-6),
        "{what}: loss {la} vs {lb}"
    );
    for (x, y) in a.layers.iter().zip(&b.layers) {
        for (u, v) in [
            (x.log10_delta_rms, y.log10_delta_rms),
            (x.log10_grad_w_norm, y.log10_grad_w_norm),
        ] {
            match (u, v) {
                (Some(u), Some(v)) => assert!(
                    (u - v).abs() < 1e-5,
                    "{what}: layer {}: {u} vs {v}",
                    x.index
                ),
                (u, v) => assert_eq!(u.is_none(), v.is_none(), "{what}: layer {}", x.index),
            }
        }
        assert_eq!(
            x.dead_fraction, y.dead_fraction,
            "{what}: layer {}",
            x.index
        );
    }
}

fn check_population(base: &NetConfig, opts: EngineOptions, updates: u32) {
    let nets = 4;
    let cfgs: Vec<NetConfig> = (0..nets).map(|i| member(base, i)).collect();
    let what = base.summary();
    let mut pop = Engine::population(gpu(), &cfgs, opts).unwrap();
    assert_eq!(pop.nets(), nets);
    let mut singles: Vec<Engine> = cfgs
        .iter()
        .map(|c| Engine::with_options(gpu(), c, opts).unwrap())
        .collect();
    assert_eq!(pop.path_name(), singles[0].path_name(), "{what}");
    let mut refs: Vec<Reference> = cfgs.iter().map(|c| Reference::new(c).unwrap()).collect();
    for at in [0, updates] {
        if at > 0 {
            pop.step(updates);
            pop.wait_stats().unwrap();
            for (s, r) in singles.iter_mut().zip(&mut refs) {
                s.step(updates);
                s.wait_stats().unwrap();
                for _ in 0..updates {
                    r.step();
                }
            }
        }
        pop.compute();
        pop.wait_stats().unwrap();
        let all = pop.read_net_stats().unwrap();
        assert_eq!(all.len(), nets);
        for (i, ((stats, single), reference)) in all.iter().zip(&mut singles).zip(&refs).enumerate()
        {
            let label = format!("{what} net {i} @{at}");
            assert_eq!(pop.net_config(i), Some(&cfgs[i]));
            assert_eq!(stats.step, u64::from(at), "{label}");
            single.compute();
            let own = single.wait_stats().unwrap();
            same_stats(stats, &own, &label);
            compare_stats_to(stats, &reference.stats(), &label, 1e-4);
            let (p, q) = (
                pop.read_net_params(i).unwrap(),
                single.read_params().unwrap(),
            );
            let (g, h) = (pop.read_net_grads(i).unwrap(), single.read_grads().unwrap());
            for (a, b) in p
                .tensors
                .iter()
                .zip(&q.tensors)
                .chain(g.tensors.iter().zip(&h.tensors))
            {
                let x: Vec<f64> = a.data.iter().map(|&v| f64::from(v)).collect();
                let y: Vec<f64> = b.data.iter().map(|&v| f64::from(v)).collect();
                let e = rel_err(&x, &y);
                assert!(
                    e < 1e-6,
                    "{label}: {} differs from the single engine by {e:e}",
                    a.name
                );
            }
        }
    }
}

fn small(arch: Arch, act: Activation) -> NetConfig {
    NetConfig {
        arch,
        depth: if arch == Arch::Rnn { 6 } else { 5 },
        width: 12,
        activation: act,
        task: if arch == Arch::Rnn {
            Task::Adding
        } else {
            Task::Teacher
        },
        batch: 6,
        lr: 0.05,
        ..NetConfig::default()
    }
}

#[test]
fn every_net_of_a_population_equals_its_own_engine_and_the_reference() {
    println!("adapter: {}", gpu().adapter);
    let mlp = small(Arch::Mlp, Activation::Tanh);
    for stack in [
        StackPath::Rows,
        StackPath::Fused(0),
        StackPath::Fused(2),
        StackPath::Layered,
    ] {
        let opts = EngineOptions {
            stack,
            ..EngineOptions::default()
        };
        check_population(&mlp, opts, 3);
    }
    let residual = NetConfig {
        residual: true,
        activation: Activation::Relu,
        ..mlp.clone()
    };
    check_population(&residual, EngineOptions::default(), 2);
    let rnn = small(Arch::Rnn, Activation::Tanh);
    for stack in [StackPath::Rows, StackPath::Fused(0), StackPath::Layered] {
        let opts = EngineOptions {
            stack,
            ..EngineOptions::default()
        };
        check_population(&rnn, opts, 2);
    }
    let lstm = NetConfig {
        cell: Cell::Lstm,
        depth: 4,
        width: 8,
        ..rnn
    };
    check_population(&lstm, EngineOptions::default(), 2);
    let layer_norm = NetConfig {
        norm: Norm::Layer,
        ..mlp
    };
    check_population(&layer_norm, EngineOptions::default(), 2);
}

#[test]
fn a_population_rejects_nets_that_train_differently() {
    let a = small(Arch::Mlp, Activation::Tanh);
    for b in [
        NetConfig {
            depth: 6,
            ..a.clone()
        },
        NetConfig {
            lr: 0.5,
            ..a.clone()
        },
        NetConfig {
            activation: Activation::Relu,
            ..a.clone()
        },
    ] {
        let Err(e) = Engine::population(gpu(), &[a.clone(), b], EngineOptions::default()) else {
            panic!("a population of different programs was accepted");
        };
        assert!(e.to_string().contains("must share"), "{e}");
    }
    assert!(Engine::population(gpu(), &[], EngineOptions::default()).is_err());
}
