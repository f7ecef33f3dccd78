//! The CPU f64 reference backward agrees with central finite differences of its own loss, for every
//! activation, MLP with and without residual connections and RNN, and both losses.

use gradscope::model::{Activation, Arch, Cell, Init, NetConfig, Norm, Task};
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
    fd_error_of(Reference::new(cfg).expect("valid config"))
}

/// [`fd_error`] at the engine's current parameters (five-point differences). A tensor whose gradient is far smaller than the
/// largest one (below 1e-4 of it) is measured against that floor instead of its own norm: differences
/// of a loss near 1 carry about 1e-11 of rounding per entry (up to 7e-11 over a tensor, measured), which
/// is all such a tensor's "error" would be.
fn fd_error_of(mut engine: Reference) -> f64 {
    let pass = engine.pass();
    let h = 1e-5;
    let largest = pass
        .grads
        .iter()
        .map(|g| g.iter().map(|v| v * v).sum::<f64>().sqrt())
        .fold(0.0, f64::max);
    let mut worst: f64 = 0.0;
    for t in 0..pass.grads.len() {
        let mut diff2 = 0.0;
        let mut norm2 = 0.0;
        for i in 0..pass.grads[t].len() {
            let orig = engine.params()[t][i];
            let mut at = |d: f64| {
                engine.params_mut()[t][i] = orig + d;
                engine.loss()
            };
            // the five-point stencil: truncation O(h⁴), where the normalized nets' curvature makes the
            // central difference's O(h²) visible
            let fd = (8.0 * (at(h) - at(-h)) - (at(2.0 * h) - at(-2.0 * h))) / (12.0 * h);
            engine.params_mut()[t][i] = orig;
            diff2 += (fd - pass.grads[t][i]).powi(2);
            norm2 += pass.grads[t][i].powi(2);
        }
        if norm2 > 1e-20 {
            let scale = norm2.sqrt().max(1e-4 * largest);
            worst = worst.max(diff2.sqrt() / scale);
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

#[test]
fn finite_differences_match_for_gated_cells() {
    // every gated cell × candidate nonlinearity × loss (task), at two forget biases
    for cell in [Cell::Lstm, Cell::Gru] {
        for act in Activation::ALL {
            for task in [Task::Adding, Task::Memory] {
                for forget_bias in [0.0, 1.0] {
                    let cfg = NetConfig {
                        cell,
                        forget_bias,
                        depth: 4,
                        width: 4,
                        ..config(Arch::Rnn, false, task, act, 11)
                    };
                    let err = fd_error(&cfg);
                    println!("{cell} {act:>10} {task:?} fb={forget_bias}: rel err {err:.2e}");
                    assert!(
                        err < 1e-6,
                        "{cell} {act} {task:?} forget bias {forget_bias}: relative error {err:e}"
                    );
                }
            }
        }
    }
}

#[test]
fn gated_deltas_are_the_loss_derivative_wrt_the_state() {
    // A perturbation ε of h_T's read-out input changes the loss by ε·∂L/∂h_T; deeper steps are checked
    // through the weights (above). Here: ∂L/∂b_out = Σ_b dy and the last step's ∂L/∂h_T = dy W_out, and
    // for the LSTM ∂L/∂b of the output gate is Σ_b ∂L/∂h_t ⊙ φ(c_t) ⊙ σ'(a_o) summed over time, which ties
    // the reported ∂L/∂h_t to the gradient finite differences confirm.
    let cfg = NetConfig {
        cell: Cell::Lstm,
        depth: 5,
        width: 3,
        ..config(Arch::Rnn, false, Task::Adding, Activation::Tanh, 4)
    };
    let engine = Reference::new(&cfg).unwrap();
    let pass = engine.pass();
    assert_eq!(pass.deltas.len(), cfg.depth);
    assert_eq!(pass.cell_deltas.len(), cfg.depth);
    let w_out = &engine.params()[3];
    let (b, h) = (cfg.batch, cfg.width);
    // dy from the MSE: (ŷ - y)/B
    let y = &engine.data().y;
    for (bi, target) in y.iter().enumerate().take(b) {
        let dy = (pass.output[bi] - f64::from(*target)) / b as f64;
        for (u, w) in w_out.iter().enumerate().take(h) {
            let want = dy * w;
            let got = pass.deltas[cfg.depth - 1][bi * h + u];
            assert!(
                (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
                "{got} vs {want}"
            );
        }
    }
    // the last step's cell error: ∂L/∂c_T = ∂L/∂h_T ⊙ o_T ⊙ φ'(c_T) is nonzero and finite
    assert!(
        pass.cell_deltas[cfg.depth - 1]
            .iter()
            .all(|v| v.is_finite())
    );
    let stats = engine.stats();
    for l in &stats.layers {
        let g = l.gates.as_ref().expect("gate statistics");
        assert_eq!(g.saturated.len(), 4);
        assert!(
            g.keep_mean > 0.5,
            "forget bias 1 keeps f above 1/2 on average: {}",
            g.keep_mean
        );
        assert_eq!(g.log10_mean_abs_cell_delta.len(), h);
    }
}

#[test]
fn finite_differences_match_with_layer_and_batch_norm() {
    // each norm × every activation × residual on and off, both losses
    for norm in [Norm::Layer, Norm::Batch] {
        for act in Activation::ALL {
            for (residual, task) in [(false, Task::Teacher), (true, Task::Spiral)] {
                let cfg = NetConfig {
                    norm,
                    batch: 4,
                    ..config(Arch::Mlp, residual, task, act, 13)
                };
                // γ and β away from their init, so that their gradients are exercised in general position
                let mut engine = Reference::new(&cfg).unwrap();
                let names = gradscope::model::Params::init(&cfg);
                for (t, tensor) in names.tensors.iter().enumerate() {
                    if tensor.name.starts_with("gamma_") {
                        for (i, g) in engine.params_mut()[t].iter_mut().enumerate() {
                            *g = 0.7 + 0.1 * i as f64;
                        }
                    } else if tensor.name.starts_with("beta_") {
                        for (i, b) in engine.params_mut()[t].iter_mut().enumerate() {
                            *b = 0.05 * i as f64 - 0.1;
                        }
                    }
                }
                let err = fd_error_of(engine);
                println!("{norm} {act:>10} residual={residual}: rel err {err:.2e}");
                assert!(
                    err < 1e-6,
                    "{norm} {act} residual={residual}: relative error {err:e}"
                );
            }
        }
    }
}
