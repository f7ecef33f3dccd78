//! The theory overlay in the window: on a wide net at init the mean-field line and the per-layer factors
//! sit on the measurement; the RNN's W_h spectrum readout equals a direct eigenvalue computation and
//! follows the spectral-radius control.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use gradscope::app::GradscopeApp;
use gradscope::model::{Activation, Arch, Init, NetConfig, Params, Task};
use gradscope::theory::spectral::{spectral_norm, spectral_radius};
use gradscope::viz::{Body, Figure, LinePlot, View};

use crate::common::ui::{app_harness, wait_until};

fn harness(cfg: NetConfig) -> Harness<'static, GradscopeApp> {
    app_harness(cfg, 1500.0)
}

fn plots(fig: &Figure) -> (LinePlot, LinePlot) {
    match &fig.body {
        Body::Split(top, bottom, _) => match (&**top, &**bottom) {
            (Body::Lines(a), Body::Lines(b)) => (a.clone(), b.clone()),
            other => panic!("two line plots expected: {other:?}"),
        },
        other => panic!("the norms view with theory is a split of two plots: {other:?}"),
    }
}

fn geometric_mean_log10(points: &[[f64; 2]], layers: std::ops::RangeInclusive<f64>) -> f64 {
    let v: Vec<f64> = points
        .iter()
        .filter(|p| layers.contains(&p[0]))
        .map(|p| p[1])
        .collect();
    assert!(!v.is_empty());
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn wide_net_at_init_follows_the_theory_line() {
    // tolerance: the geometric mean of the per-layer factors over layers 1..L-1 within 25 %
    for (activation, init) in [
        (Activation::Relu, Init::XavierNormal),
        (Activation::Tanh, Init::XavierNormal),
        (Activation::Sigmoid, Init::HeNormal),
    ] {
        let cfg = NetConfig {
            depth: 6,
            width: 256,
            batch: 64,
            activation,
            init,
            ..NetConfig::default()
        };
        let mut h = harness(cfg);
        h.state_mut().settings_mut().view = View::Norms;
        wait_until(&mut h, "the first statistics", |a| {
            a.latest_stats().is_some()
        });
        h.run_steps(1);
        let fig = h.state().figure();
        let (norms, factors) = plots(&fig);
        assert_eq!(
            norms.series.len(),
            3,
            "grad W, measured rms δ and the theory line"
        );
        assert!(norms.series[2].name.contains("theory"));
        let measured = &factors.series[0].points;
        let predicted = &factors.series[1].points;
        assert_eq!(
            measured.len(),
            5,
            "{activation}: five factors below the top layer"
        );
        assert_eq!(predicted.len(), 5);
        let gap =
            geometric_mean_log10(measured, 1.0..=5.0) - geometric_mean_log10(predicted, 1.0..=5.0);
        eprintln!("{activation} + {init}: log10 measured/predicted mean factor = {gap:.4}");
        assert!(
            gap.abs() < 1.25f64.log10(),
            "{activation}: theory and measurement differ by 10^{gap}"
        );
        assert!(
            fig.subtitle
                .contains("this is where mean-field theory holds"),
            "{}",
            fig.subtitle
        );
        // the theory line meets the measurement at the top layer
        let top = norms.series[1].points.last().expect("measured")[1];
        let line_top = norms.series[2].points.last().expect("theory")[1];
        assert!((top - line_top).abs() < 1e-12);
    }
}

#[test]
fn narrow_residual_and_trained_nets_say_where_theory_departs() {
    let cfg = NetConfig {
        depth: 5,
        width: 16,
        batch: 8,
        activation: Activation::Tanh,
        residual: true,
        ..NetConfig::default()
    };
    let mut h = harness(cfg);
    h.state_mut().settings_mut().view = View::Norms;
    wait_until(&mut h, "the first statistics", |a| {
        a.latest_stats().is_some()
    });
    let sub = h.state().figure().subtitle;
    assert!(
        sub.contains("Narrow net") && sub.contains("Residual net"),
        "{sub}"
    );
    h.get_by_label("Step").click();
    wait_until(&mut h, "a trained step", |a| {
        a.latest_stats().is_some_and(|s| s.step == 1)
    });
    let sub = h.state().figure().subtitle;
    assert!(sub.contains("After 1 updates"), "{sub}");
}

#[test]
fn rnn_spectral_readout_matches_direct_eigenvalues_and_control() {
    let cfg = NetConfig {
        arch: Arch::Rnn,
        task: Task::Adding,
        depth: 12,
        width: 16,
        batch: 8,
        activation: Activation::Tanh,
        init: Init::Orthogonal,
        spectral_radius: Some(0.9),
        ..NetConfig::default()
    };
    let mut h = harness(cfg.clone());
    h.state_mut().settings_mut().view = View::Norms;
    wait_until(&mut h, "the first statistics", |a| {
        a.latest_stats().is_some()
    });
    h.run_steps(1);
    h.state_mut().wait_for_spectrum();
    h.run_steps(1);
    let wh = h.state().wh_spectrum().expect("W_h spectrum read");
    let params = Params::init(&cfg);
    let w = params.get("w_h").expect("w_h");
    let rho = spectral_radius(&w.data, cfg.width).expect("eigenvalues");
    let norm = spectral_norm(&w.data, cfg.width).expect("svd");
    eprintln!(
        "readout rho {} norm {}, direct rho {rho} norm {norm}",
        wh.radius, wh.norm
    );
    assert!((wh.radius - rho).abs() < 1e-9 * rho.max(1.0));
    assert!((wh.norm - norm).abs() < 1e-9 * norm.max(1.0));
    assert!(
        (wh.radius - 0.9).abs() < 1e-5,
        "the init rescales W_h to the chosen radius"
    );
    let fig = h.state().figure();
    assert!(fig.subtitle.contains("spectral radius"), "{}", fig.subtitle);
    let (norms, _) = plots(&fig);
    assert!(norms.series[2].name.contains("\u{3c1}^k"));

    // after a training step, the readout follows the new weights
    h.get_by_label("Step").click();
    wait_until(&mut h, "a trained step", |a| {
        a.latest_stats().is_some_and(|s| s.step == 1)
    });
    h.run_steps(1);
    h.state_mut().wait_for_spectrum();
    h.run_steps(1);
    assert_eq!(h.state().wh_spectrum().map(|s| s.step), Some(1));
}

#[test]
fn rnn_clipping_marks_steps_and_radius_control_rescales_w_h() {
    let cfg = NetConfig {
        arch: Arch::Rnn,
        task: Task::Adding,
        depth: 10,
        width: 12,
        batch: 8,
        activation: Activation::Tanh,
        init: Init::Orthogonal,
        clip: Some(1e-4),
        ..NetConfig::default()
    };
    let mut h = harness(cfg);
    wait_until(&mut h, "the first statistics", |a| {
        a.latest_stats().is_some()
    });
    for step in 1..=3 {
        h.get_by_label("Step").click();
        wait_until(&mut h, "a trained step", |a| {
            a.latest_stats().is_some_and(|s| s.step == step)
        });
    }
    let loss = h.state().figure_of(View::Loss);
    match &loss.body {
        Body::Lines(p) => assert!(!p.x_marks.is_empty(), "clipping marks on the loss curve"),
        other => panic!("{other:?}"),
    }
    assert!(
        loss.subtitle.contains("clipping fired"),
        "{}",
        loss.subtitle
    );
    match &h.state().figure_of(View::GradientFlow).body {
        Body::Heatmap { map, .. } => assert!(!map.x_marks.is_empty(), "clipping marks on the flow"),
        other => panic!("{other:?}"),
    }
    match &h.state().figure_of(View::GradientMap).body {
        Body::Heatmap { map, .. } => {
            assert_eq!(map.y_label, "hidden unit");
            assert!(map.x_label.starts_with("time step"));
        }
        other => panic!("{other:?}"),
    }

    // the spectral-radius control: W_h is rebuilt with the chosen radius
    h.get_by_label("Set \u{3c1}(W_h)").click();
    h.run_steps(2);
    h.state_mut().settings_mut().config.spectral_radius = Some(1.5);
    h.run_steps(2);
    assert_eq!(h.state().config().spectral_radius, Some(1.5));
    wait_until(&mut h, "statistics of the rescaled net", |a| {
        a.latest_stats().is_some()
    });
    h.run_steps(1);
    h.state_mut().wait_for_spectrum();
    h.run_steps(1);
    let wh = h.state().wh_spectrum().expect("spectrum");
    assert!((wh.radius - 1.5).abs() < 1e-5, "rho = {}", wh.radius);
    assert!(
        wh.norm >= wh.radius - 1e-9,
        "the spectral norm bounds the radius"
    );
}
