//! The Jacobian spectrum view: singular values of ∂a_L/∂a_1 at the current weights; orthogonal init with
//! tanh keeps them within about a decade of 1, Gaussian ReLU nets spread them over many decades; nets
//! beyond the limit get a clear message.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use gradscope::app::GradscopeApp;
use gradscope::model::{Activation, Init, NetConfig};
use gradscope::viz::{Body, View};

use crate::common::ui::{app_harness, wait_until};

fn harness(cfg: NetConfig) -> Harness<'static, GradscopeApp> {
    app_harness(cfg, 1500.0)
}

/// Decades between the largest and smallest singular value shown.
fn spread(activation: Activation, init: Init, width: usize) -> (f64, String) {
    let cfg = NetConfig {
        depth: 8,
        width,
        batch: 4,
        activation,
        init,
        ..NetConfig::default()
    };
    let mut h = harness(cfg);
    wait_until(&mut h, "the first statistics", |a| {
        a.latest_stats().is_some()
    });
    h.get_by_label("Compute Jacobian spectrum").click();
    h.run_steps(1);
    h.state_mut().wait_for_jacobian();
    h.run_steps(2);
    assert_eq!(
        h.state().settings().view,
        View::Jacobian,
        "the button opens the view"
    );
    let fig = h.state().figure();
    let spread = match &fig.body {
        Body::Lines(p) => {
            let ys: Vec<f64> = p.series[0].points.iter().map(|q| q[1]).collect();
            assert!(!ys.is_empty() && ys.len() <= width);
            ys.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                - ys.iter().copied().fold(f64::INFINITY, f64::min)
        }
        Body::Empty(why) => panic!("no spectrum: {why}"),
        other => panic!("{other:?}"),
    };
    (spread, fig.subtitle)
}

#[test]
fn orthogonal_tanh_stays_near_one_gaussian_relu_spreads() {
    let (tanh, sub) = spread(Activation::Tanh, Init::Orthogonal, 32);
    let (relu, _) = spread(Activation::Relu, Init::HeNormal, 32);
    eprintln!("spread: orthogonal+tanh {tanh:.2} decades, he-normal+relu {relu:.2} decades");
    assert!(
        sub.contains("width \u{2264} 256"),
        "the limit is stated: {sub}"
    );
    assert!(tanh < 1.5, "orthogonal + tanh: {tanh} decades");
    assert!(relu > tanh + 1.0, "Gaussian ReLU spreads: {relu} vs {tanh}");
}

#[test]
fn beyond_the_limit_says_so() {
    let cfg = NetConfig {
        depth: 2,
        width: 300,
        batch: 2,
        ..NetConfig::default()
    };
    let mut h = harness(cfg);
    wait_until(&mut h, "the first statistics", |a| {
        a.latest_stats().is_some()
    });
    h.state_mut().compute_jacobian();
    h.state_mut().wait_for_jacobian();
    h.state_mut().settings_mut().view = View::Jacobian;
    h.run_steps(2);
    match &h.state().figure().body {
        Body::Empty(why) => assert!(why.contains("256") && why.contains("300"), "{why}"),
        other => panic!("{other:?}"),
    }
}
