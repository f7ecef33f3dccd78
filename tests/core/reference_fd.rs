//! The CPU f64 reference backward agrees with central finite differences of its own loss, for every
//! activation, MLP with and without residual connections and RNN, and both losses.

use gradscope::model::{Activation, Arch, Init, NetConfig, Task};
use gradscope::reference::Reference;

fn config(arch: Arch, residual: bool, task: Task, act: Activation, seed: u64) -> NetConfig {
    NetConfig {
        arch,
        depth: if arch == Arch::Rnn { 5 } else { 4 },
        width: 5,
        activation: act,
        init: Init::XavierNormal,
        gain: 1.2,
        residual,
        bias_std: 0.3,
        batch: 3,
        task,
        seed,
        ..NetConfig::default()
    }
}

/// Largest relative error over tensors, each measured as ||fd - analytic|| / ||analytic||.
fn fd_error(cfg: &NetConfig) -> f64 {
    let mut engine = Reference::new(cfg).expect("valid config");
    let pass = engine.pass();
    let h = 1e-5;
    let mut worst: f64 = 0.0;
    for t in 0..pass.grads.len() {
        let mut diff2 = 0.0;
        let mut norm2 = 0.0;
        for i in 0..pass.grads[t].len() {
            let orig = engine.params()[t][i];
            engine.params_mut()[t][i] = orig + h;
            let up = engine.loss();
            engine.params_mut()[t][i] = orig - h;
            let down = engine.loss();
            engine.params_mut()[t][i] = orig;
            let fd = (up - down) / (2.0 * h);
            diff2 += (fd - pass.grads[t][i]).powi(2);
            norm2 += pass.grads[t][i].powi(2);
        }
        if norm2 > 1e-20 {
            worst = worst.max((diff2 / norm2).sqrt());
        } else {
            assert!(diff2.sqrt() < 1e-9, "tensor {t} is zero but fd is not");
        }
    }
    worst
}

#[test]
fn finite_differences_match_backward_everywhere() {
    let cases = [
        (Arch::Mlp, false, Task::Teacher),
        (Arch::Mlp, false, Task::Spiral),
        (Arch::Mlp, true, Task::Teacher),
        (Arch::Mlp, true, Task::Spiral),
        (Arch::Rnn, false, Task::Adding),
        (Arch::Rnn, false, Task::Memory),
    ];
    for act in Activation::ALL {
        for (arch, residual, task) in cases {
            let cfg = config(arch, residual, task, act, 7);
            let err = fd_error(&cfg);
            println!("{act:>10} {arch:?} residual={residual} {task:?}: rel err {err:.2e}");
            assert!(
                err < 1e-6,
                "{act} {arch:?} residual={residual} {task:?}: relative error {err:e}"
            );
        }
    }
}

#[test]
fn finite_differences_match_for_every_init() {
    for init in Init::ALL {
        let cfg = NetConfig {
            init,
            ..config(Arch::Mlp, false, Task::Teacher, Activation::Tanh, 3)
        };
        let err = fd_error(&cfg);
        assert!(err < 1e-6, "{init}: relative error {err:e}");
    }
}

#[test]
fn deltas_are_the_loss_derivative_wrt_preactivations() {
    // δ_l = ∂L/∂z_l, and ∂L/∂b_l = Σ_b δ_l: the bias gradient is the column sum of the dumped δ.
    let cfg = config(Arch::Mlp, true, Task::Teacher, Activation::Gelu, 5);
    let engine = Reference::new(&cfg).unwrap();
    let pass = engine.pass();
    for l in 0..cfg.depth {
        let db = &pass.grads[2 * l + 1];
        for (u, &want) in db.iter().enumerate() {
            let s: f64 = (0..cfg.batch)
                .map(|b| pass.deltas[l][b * cfg.width + u])
                .sum();
            assert!((s - want).abs() <= 1e-12 * (1.0 + want.abs()));
        }
    }
}
