//! Compare mode: network B (another activation and init) beside A, same seed and data, trained in
//! lockstep, drawn with one shared colour scale, exported as one PNG holding both panels.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use gradscope::app::GradscopeApp;
use gradscope::model::{Activation, Init, NetConfig};
use gradscope::viz::{Body, Coloring, RangeMode, View};

use crate::common::ui::{app_harness, wait_until};

fn harness(cfg: NetConfig) -> Harness<'static, GradscopeApp> {
    app_harness(cfg, 1500.0)
}

fn both_at(step: u64) -> impl Fn(&GradscopeApp) -> bool {
    move |a| {
        a.latest_stats().is_some_and(|s| s.step == step)
            && a.network_b()
                .is_some_and(|(_, s)| s.is_some_and(|s| s.step == step))
    }
}

#[test]
fn compare_mode_trains_b_in_lockstep_with_a_shared_scale_and_one_export() {
    let cfg = NetConfig {
        depth: 8,
        width: 16,
        batch: 8,
        activation: Activation::Sigmoid,
        init: Init::XavierNormal,
        ..NetConfig::default()
    };
    let mut h = harness(cfg.clone());
    wait_until(&mut h, "A's first statistics", |a| {
        a.latest_stats().is_some()
    });
    // the checkbox is there (the real window toggles it by mouse); the test switches the setting it edits
    assert!(h.query_by_label("Compare A | B").is_some());
    h.state_mut().settings_mut().compare.on = true;
    h.state_mut().settings_mut().range = RangeMode::Auto;
    h.run_steps(2);
    let (b_cfg, _) = h
        .state()
        .network_b()
        .unwrap_or_else(|| panic!("B built: {:?}", h.state().error()));
    let mut expected = cfg.clone();
    expected.activation = Activation::Relu;
    expected.init = Init::HeNormal;
    assert_eq!(
        b_cfg, &expected,
        "B differs from A only in what compare mode sets"
    );
    wait_until(&mut h, "both at step 0", both_at(0));

    for step in 1..=2 {
        h.get_by_label("Step").click();
        wait_until(&mut h, "both after a step", both_at(step));
        let (a, b) = h.state().updates();
        assert_eq!(a, b, "lockstep");
    }
    // sigmoid vanishes, relu + he keeps the first layer's gradient orders of magnitude larger
    let first = |s: &gradscope::stats::StepStats| s.layers[0].log10_delta_rms.expect("finite");
    let a1 = first(h.state().latest_stats().expect("A"));
    let b1 = first(h.state().network_b().and_then(|(_, s)| s).expect("B"));
    assert!(b1 - a1 > 1.0, "relu+he first layer {b1} vs sigmoid {a1}");

    let fig = h.state().figure_of(View::GradientMap);
    let Body::Panels(panels) = &fig.body else {
        panic!("compare mode shows panels: {:?}", fig.body)
    };
    assert_eq!(panels.len(), 2);
    let ranges: Vec<_> = panels
        .iter()
        .map(|(_, body)| match body {
            Body::Heatmap {
                coloring: Coloring::Log(r),
                ..
            } => *r,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ranges[0], ranges[1], "one shared colour scale");
    assert!(fig.caption.contains("B config"), "{}", fig.caption);
    assert!(
        fig.title.contains("sigmoid") && fig.title.contains("relu"),
        "{}",
        fig.title
    );

    // one export holds both panels
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ab.png");
    h.state_mut().settings_mut().export_path = path.display().to_string();
    h.state_mut().export_figure();
    assert!(h.state().error().is_none(), "{:?}", h.state().error());
    let image = image::open(&path).expect("decodes").to_rgba8();
    let (w, _) = image.dimensions();
    let half = |x0: u32| {
        (x0..x0 + w / 2)
            .flat_map(|x| (0..image.height()).map(move |y| (x, y)))
            .filter(|&(x, y)| image.get_pixel(x, y).0 != [255, 255, 255, 255])
            .count()
    };
    assert!(
        half(0) > 10_000 && half(w / 2) > 10_000,
        "both halves drawn"
    );

    // the Jacobian spectrum is computed for both networks
    h.state_mut().compute_jacobian();
    h.state_mut().wait_for_jacobian();
    h.run_steps(2);
    let fig = h.state().figure_of(View::Jacobian);
    let Body::Panels(panels) = &fig.body else {
        panic!("{:?}", fig.body)
    };
    assert!(
        panels.iter().all(|(_, b)| matches!(b, Body::Lines(_))),
        "a spectrum in both panels: {panels:?}"
    );

    // off: back to A alone
    h.state_mut().settings_mut().compare.on = false;
    h.run_steps(2);
    assert!(h.state().network_b().is_none());
    assert!(matches!(h.state().figure().body, Body::Heatmap { .. }));
}

#[test]
fn rnn_compare_draws_rho_k_for_both_networks() {
    let cfg = NetConfig {
        arch: gradscope::model::Arch::Rnn,
        task: gradscope::model::Task::Adding,
        depth: 8,
        width: 8,
        batch: 4,
        activation: Activation::Tanh,
        init: Init::Orthogonal,
        ..NetConfig::default()
    };
    let mut h = harness(cfg);
    h.state_mut().settings_mut().compare.on = true;
    h.state_mut().settings_mut().compare.init = Init::Orthogonal;
    h.state_mut().settings_mut().compare.gain = 2.0;
    h.state_mut().settings_mut().view = View::Norms;
    h.run_steps(2);
    let has_rho_line = |a: &GradscopeApp| {
        match a.figure().body {
        Body::Panels(p) => p.iter().all(|(_, b)| match b {
            Body::Split(top, _, _) => {
                matches!(&**top, Body::Lines(l) if l.series.iter().any(|s| s.name.contains("\u{3c1}^k")))
            }
            _ => false,
        }),
        _ => false,
    }
    };
    wait_until(&mut h, "a rho^k line in both panels", has_rho_line);
}

#[test]
fn a_learning_rate_change_keeps_both_networks_training_in_lockstep() {
    let cfg = NetConfig {
        depth: 4,
        width: 8,
        batch: 4,
        ..NetConfig::default()
    };
    let mut h = harness(cfg);
    h.state_mut().settings_mut().compare.on = true;
    h.run_steps(2);
    wait_until(&mut h, "both at step 0", both_at(0));
    for step in 1..=2 {
        h.get_by_label("Step").click();
        wait_until(&mut h, "both after a step", both_at(step));
    }

    // learning rate and clipping are set in place on both: neither restarts
    h.state_mut().settings_mut().config.lr = 0.05;
    h.state_mut().settings_mut().config.clip = Some(2.0);
    h.run_steps(2);
    assert_eq!(h.state().updates(), (Some(2), Some(2)), "nothing restarted");
    let (b, _) = h.state().network_b().expect("B");
    assert_eq!(
        (b.lr, b.clip),
        (0.05, Some(2.0)),
        "B follows A's training settings"
    );
    h.get_by_label("Step").click();
    wait_until(&mut h, "both after a step at the new rate", both_at(3));

    // B's own settings build a new B, and A restarts with it: lockstep from step 0
    h.state_mut().settings_mut().compare.activation = Activation::Tanh;
    h.run_steps(2);
    assert_eq!(h.state().updates(), (Some(0), Some(0)));
    wait_until(&mut h, "both at step 0 again", both_at(0));
}

/// B may use another recurrent cell: an LSTM A beside a vanilla B on the Cell path view, one colour scale;
/// A's panel is the cell map ∂L/∂c_t with the keep-gate product line, B's its own ∂L/∂z_t map; the Gates
/// view shows A's gates and tells that B has none.
#[test]
fn compare_mode_puts_a_vanilla_rnn_beside_an_lstm() {
    use gradscope::model::{Arch, Cell, Task};
    let cfg = NetConfig {
        arch: Arch::Rnn,
        cell: Cell::Lstm,
        depth: 30,
        width: 8,
        batch: 4,
        activation: Activation::Tanh,
        init: Init::Orthogonal,
        gain: 0.9,
        task: Task::Adding,
        ..NetConfig::default()
    };
    let mut h = harness(cfg.clone());
    wait_until(&mut h, "A's first statistics", |a| {
        a.latest_stats().is_some()
    });
    {
        let s = h.state_mut().settings_mut();
        s.compare.on = true;
        s.compare.cell = Cell::Vanilla;
        s.compare.activation = Activation::Tanh;
        s.compare.init = Init::Orthogonal;
        s.compare.gain = 0.9;
        s.range = RangeMode::Auto;
        s.view = View::CellPath;
    }
    h.run_steps(2);
    wait_until(&mut h, "both at step 0", both_at(0));
    let (b_cfg, _) = h.state().network_b().expect("B");
    assert_eq!(b_cfg.cell, Cell::Vanilla);
    assert_eq!(
        NetConfig {
            cell: Cell::Lstm,
            ..b_cfg.clone()
        },
        cfg
    );
    let fig = h.state().figure_of(View::CellPath);
    assert!(
        fig.title.contains("LSTM") && fig.title.contains("VANILLA"),
        "{}",
        fig.title
    );
    let Body::Panels(panels) = &fig.body else {
        panic!("compare mode shows panels: {:?}", fig.body)
    };
    let top = |b: &Body| match b {
        Body::Split(top, _, _) => match top.as_ref() {
            Body::Heatmap {
                map,
                coloring: Coloring::Log(r),
                ..
            } => (map.cols, map.rows, *r),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    let (ca, ra, range_a) = top(&panels[0].1);
    let (cb, rb, range_b) = top(&panels[1].1);
    assert_eq!((ca, ra, cb, rb), (30, 8, 30, 8));
    assert_eq!(range_a, range_b, "one shared colour scale");
    assert!(panels[0].0.contains("cell path"), "{}", panels[0].0);
    assert!(panels[1].0.contains("no gates"), "{}", panels[1].0);
    // A's lower plot holds the measured cell path and the keep-gate product line
    let Body::Split(_, lower, _) = &panels[0].1 else {
        unreachable!()
    };
    let Body::Lines(plot) = lower.as_ref() else {
        panic!("{lower:?}")
    };
    let names: Vec<&str> = plot.series.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.iter().any(|n| n.contains("cell path alone")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.contains("\u{2202}L/\u{2202}c_t")),
        "{names:?}"
    );
    let gates = h.state().figure_of(View::Gates);
    let Body::Panels(g) = &gates.body else {
        panic!("{:?}", gates.body)
    };
    assert!(
        matches!(&g[0].1, Body::Lines(p) if p.series.len() == 5),
        "{:?}",
        g[0].1
    );
    assert!(
        matches!(&g[1].1, Body::Empty(t) if t.contains("no gates")),
        "{:?}",
        g[1].1
    );
}
