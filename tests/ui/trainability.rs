//! The Trainability view: Run sweep trains the grid on a worker thread while frames go on, the map
//! arrives with its theory lines and a marker at the current net, a cell opens as network A (or as B in
//! compare mode), and the exported figure carries its sweep.

use std::time::{Duration, Instant};

use egui_kittest::kittest::Queryable as _;
use gradscope::model::{Activation, Init, NetConfig};
use gradscope::sweep::{Metric, SweepSpec};
use gradscope::viz::{Body, View};

use crate::common::ui::{app_harness, wait_until};

fn small() -> NetConfig {
    NetConfig {
        depth: 6,
        width: 12,
        batch: 4,
        activation: Activation::Tanh,
        init: Init::XavierNormal,
        ..NetConfig::default()
    }
}

fn spec() -> SweepSpec {
    SweepSpec {
        x: "gain:0.5:2:4".parse().unwrap(),
        y: "bias-std:0:0.2:3".parse().unwrap(),
        steps: 2,
        metric: Metric::GradRatio,
    }
}

#[test]
fn a_sweep_runs_in_the_background_and_a_cell_opens_as_a_or_b() {
    let mut h = app_harness(small(), 1600.0);
    h.state_mut().settings_mut().sweep = spec();
    h.run_steps(1);
    h.get_by_label("Run sweep").click();
    h.run_steps(1);
    assert_eq!(
        h.state().settings().view,
        View::Trainability,
        "Run sweep opens the view"
    );
    // frames go on while the grid trains
    let start = Instant::now();
    let mut frames = 0;
    while h.state_mut().sweep().running() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the sweep never finished"
        );
        h.run_steps(1);
        frames += 1;
    }
    h.run_steps(2);
    eprintln!("{frames} frames while the sweep ran");
    assert!(h.state().error().is_none(), "{:?}", h.state().error());
    let fig = h.state().figure();
    let Body::Trainability(map) = &fig.body else {
        panic!("no map: {:?}", fig.body);
    };
    assert_eq!(map.result.cells.len(), 12);
    assert!(
        map.result
            .cells
            .iter()
            .all(|c| c.value.is_some_and(f64::is_finite))
    );
    assert!(!map.result.theory.critical.is_empty(), "the χ₁ = 1 line");
    assert_eq!(
        map.marker,
        Some([1.0, 0.0]),
        "the marker at the current net"
    );
    assert!(fig.subtitle.contains("12 nets"), "{}", fig.subtitle);

    // a cell opens as network A: gain 2, bias std 0.2
    assert!(h.state_mut().open_sweep_cell(3, 2));
    wait_until(&mut h, "network A rebuilt", |a| {
        (a.config().gain - 2.0).abs() < 1e-12 && a.latest_stats().is_some()
    });
    assert!((h.state().config().bias_std - 0.2).abs() < 1e-12);
    let fig = h.state().figure();
    let Body::Trainability(map) = &fig.body else {
        panic!("no map");
    };
    assert_eq!(map.selected, Some((3, 2)));
    let [mx, my] = map.marker.unwrap();
    assert!(
        (mx - 2.0).abs() < 1e-12 && (my - 0.2).abs() < 1e-12,
        "the marker follows"
    );

    // in compare mode a gain × bias-std cell opens as B
    h.state_mut().settings_mut().compare.on = true;
    h.run_steps(2);
    assert!(h.state_mut().open_sweep_cell(0, 1));
    wait_until(&mut h, "network B rebuilt", |a| {
        a.network_b()
            .is_some_and(|(b, _)| (b.gain - 0.5).abs() < 1e-12 && (b.bias_std - 0.1).abs() < 1e-12)
    });
    assert!((h.state().config().gain - 2.0).abs() < 1e-12, "A stays");
    assert!(!h.state_mut().open_sweep_cell(9, 9), "no such cell");

    // the exported figure carries the sweep
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("map.png");
    h.state_mut().settings_mut().view = View::Trainability;
    h.state_mut().settings_mut().export_path = png.display().to_string();
    h.state_mut().export_figure();
    assert!(h.state().error().is_none(), "{:?}", h.state().error());
    let restored = gradscope::app::share::sweep_from_png(&png)
        .unwrap()
        .unwrap();
    assert_eq!(restored, spec());
}

#[test]
fn a_bad_sweep_is_refused_and_cancel_stops_one() {
    let mut h = app_harness(small(), 1600.0);
    let mut bad = spec();
    bad.y = "gain:1:2:3".parse().unwrap();
    h.state_mut().settings_mut().sweep = bad;
    h.state_mut().start_sweep();
    let err = h.state().error().unwrap_or_default().to_string();
    assert!(err.contains("both axes"), "{err}");
    assert!(!h.state_mut().sweep().running());
    // a long sweep, cancelled at once: the window goes on, no map appears
    h.state_mut().settings_mut().sweep = SweepSpec {
        steps: 2000,
        ..spec()
    };
    h.state_mut().start_sweep();
    assert!(h.state_mut().sweep().running());
    h.run_steps(2);
    h.get_by_label("Cancel sweep").click();
    h.run_steps(2);
    assert!(!h.state_mut().sweep().running());
    assert!(h.state_mut().sweep().result().is_none());
    let fig = h.state().figure_of(View::Trainability);
    assert!(matches!(fig.body, Body::Empty(_)));
    assert!(
        fig.notes.iter().any(|n| n.contains("cancelled")),
        "{:?}",
        fig.notes
    );
}
