//! Theory (docs/DESIGN.md §Testing) from the reference's measurements: the per-layer variance factor of the
//! backward signal, and exact geometric decay in a linear RNN with W_h = ρ·Q, far below the f32 and f64
//! ranges.

use gradscope::model::init::{orthogonal, rng_for};
use gradscope::model::{Activation, Arch, Init, NetConfig, Task};
use gradscope::reference::Reference;

/// Geometric mean over layers of E[δ_l²] / E[δ_{l+1}²], averaged over seeds.
fn measured_factor(act: Activation, init: Init) -> f64 {
    let mut sum = 0.0;
    let seeds = [1, 2, 3];
    for seed in seeds {
        let cfg = NetConfig {
            depth: 12,
            width: 256,
            batch: 128,
            activation: act,
            init,
            seed,
            ..NetConfig::default()
        };
        let stats = Reference::new(&cfg).unwrap().stats();
        let first = stats.layers[0].log10_delta_rms.unwrap();
        let last = stats.layers[cfg.depth - 1].log10_delta_rms.unwrap();
        // E[δ²] ratio per layer = 10^(2 * Δlog10 rms / (L - 1))
        sum += 10f64.powf(2.0 * (first - last) / (cfg.depth - 1) as f64);
    }
    sum / seeds.len() as f64
}

#[test]
fn relu_he_keeps_and_relu_xavier_halves_the_gradient_variance() {
    let he = measured_factor(Activation::Relu, Init::HeNormal);
    let xavier = measured_factor(Activation::Relu, Init::XavierNormal);
    println!(
        "per-layer E[δ²] factor: relu+he {he:.4} (theory 1), relu+xavier {xavier:.4} (theory 0.5)"
    );
    assert!((he - 1.0).abs() < 0.08, "relu + he-normal: {he}");
    assert!(
        (xavier - 0.5).abs() < 0.04,
        "relu + xavier-normal: {xavier}"
    );
}

#[test]
fn linear_with_orthogonal_init_keeps_the_gradient_exactly() {
    // linear activation, orthogonal init, square layers: χ = 1 (only a finite-batch effect remains)
    let f = measured_factor(Activation::Linear, Init::Orthogonal);
    assert!((f - 1.0).abs() < 0.02, "linear + orthogonal: {f}");
}

/// ‖δ_{T-k}‖ / ‖δ_T‖ = ρ^k for a linear RNN with W_h = ρ·Q, checked in the log domain.
fn check_linear_rnn(rho: f64, steps: usize) {
    let cfg = NetConfig {
        arch: Arch::Rnn,
        depth: steps,
        width: 8,
        batch: 4,
        activation: Activation::Linear,
        init: Init::Orthogonal,
        task: Task::Adding,
        ..NetConfig::default()
    };
    let mut engine = Reference::new(&cfg).unwrap();
    // exact ρ·Q in f64 (the f32-rounded init would not be exactly orthogonal)
    let q = orthogonal(8, 8, &mut rng_for(9, 0));
    engine.params_mut()[1] = q.iter().map(|v| rho * v).collect();
    let stats = engine.stats();
    let top = stats.layers[steps - 1].log10_delta_rms.unwrap();
    for k in [1, steps / 2, steps - 1] {
        let got = stats.layers[steps - 1 - k].log10_delta_rms.unwrap() - top;
        let want = k as f64 * rho.log10();
        // relative error of ρ^k itself: 10^(got - want) - 1
        let rel = (10f64.powf(got - want) - 1.0).abs();
        assert!(
            rel < 1e-9,
            "rho {rho} k {k}: log10 ratio {got} vs {want} (relative error {rel:e})"
        );
    }
    let smallest = stats.layers[0].log10_delta_rms.unwrap();
    println!("rho {rho}, T {steps}: log10 rms(delta_1) = {smallest:.3}");
}

#[test]
fn linear_rnn_decays_as_rho_to_the_k_far_below_float_range() {
    check_linear_rnn(0.8, 400); // 0.8^399 ≈ 1e-39: below the smallest normal f32
    check_linear_rnn(0.5, 2000); // 0.5^1999 ≈ 1e-602: below even f64
    check_linear_rnn(1.1, 300); // growth
}
