//! The trainability map: `gradscope sweep` (JSON, table, figure with its sweep stored, clean errors),
//! every cell against its own single-net engine, and the measured order-to-chaos boundary of tanh nets at
//! init against the mean-field χ₁ = 1 line.

use std::sync::atomic::AtomicBool;

use crate::common::{assert_clean_failure, gpu, gradscope, stderr};
use gradscope::gpu::{Engine, EngineOptions};
use gradscope::model::{Activation, Init, NetConfig};
use gradscope::sweep::{Axis, Metric, SweepParam, SweepSpec, log10_grad_ratio, run};

fn tanh_base(depth: usize, width: usize, batch: usize) -> NetConfig {
    NetConfig {
        depth,
        width,
        batch,
        activation: Activation::Tanh,
        init: Init::XavierNormal,
        ..NetConfig::default()
    }
}

#[test]
fn axes_parse_and_refuse_what_they_cannot_sweep() {
    let a: Axis = "gain:0.5:3:24".parse().unwrap();
    assert_eq!(a.param, SweepParam::Gain);
    assert_eq!((a.from, a.to, a.cells), (0.5, 3.0, 24));
    assert_eq!(a.values().len(), 24);
    assert!((a.value(23) - 3.0).abs() < 1e-12 && (a.step() - 2.5 / 23.0).abs() < 1e-12);
    assert_eq!(a.to_string(), "gain:0.5:3:24");
    let d: Axis = "depth:10:40:4".parse().unwrap();
    assert_eq!(d.values(), vec![10.0, 20.0, 30.0, 40.0]);
    for (bad, why) in [
        ("gain:0.5:3", "AXIS:FROM:TO:N"),
        ("speed:0:1:4", "unknown axis 'speed'"),
        ("gain:1:0.5:4", "smaller to a larger"),
        ("gain:0:x:4", "not a number"),
        ("gain:0:1:1", "2..=64"),
        ("gain:0:1:65", "2..=64"),
        ("depth:1:3:10", "repeat whole numbers"),
    ] {
        let e = bad.parse::<Axis>().unwrap_err().to_string();
        assert!(e.contains(why), "{bad}: {e}");
    }
    // both axes on one setting, a corner that is not a valid net, too many steps
    let base = tanh_base(4, 8, 4);
    let same = SweepSpec {
        y: "gain:1:2:3".parse().unwrap(),
        ..SweepSpec::default()
    };
    assert!(
        same.check(&base)
            .unwrap_err()
            .to_string()
            .contains("both axes")
    );
    let zero_gain = SweepSpec {
        x: "gain:0:2:3".parse().unwrap(),
        ..SweepSpec::default()
    };
    let e = zero_gain.check(&base).unwrap_err().to_string();
    assert!(e.contains("x = 0") && e.contains("gain"), "{e}");
    let long = SweepSpec {
        steps: 200_000,
        ..SweepSpec::default()
    };
    assert!(long.check(&base).is_err());
}

#[test]
fn every_cell_equals_its_own_engine_after_training() {
    // a gain × lr grid: two programs (learning rates), so two populations
    let base = tanh_base(6, 12, 8);
    let spec = SweepSpec {
        x: "gain:0.6:1.8:3".parse().unwrap(),
        y: "lr:0.05:0.2:2".parse().unwrap(),
        steps: 5,
        metric: Metric::Loss,
    };
    let cancel = AtomicBool::new(false);
    let mut reports = Vec::new();
    let r = run(
        gpu(),
        &spec,
        &base,
        EngineOptions::default(),
        &mut |d, t| reports.push((d, t)),
        &cancel,
    )
    .unwrap();
    println!("adapter: {}; {} engines", r.adapter, r.engines);
    assert_eq!(r.engines, 2, "one population per learning rate");
    assert_eq!(r.cells.len(), 6);
    let (last, total) = *reports.last().unwrap();
    assert_eq!(last, total, "progress ends at 100%");
    assert!(
        reports.windows(2).all(|w| w[0].0 <= w[1].0),
        "progress never goes back"
    );
    for c in &r.cells {
        let cfg = spec.cell_config(&base, c.ix, c.iy);
        assert_eq!((cfg.gain, cfg.lr), (c.x, c.y));
        let mut e = Engine::new(gpu(), &cfg).unwrap();
        e.compute();
        let init = e.wait_stats().unwrap();
        e.step(5);
        e.wait_stats().unwrap();
        e.compute();
        let end = e.wait_stats().unwrap();
        let (l0, l1) = (init.loss.unwrap(), end.loss.unwrap());
        assert!((c.loss_init.unwrap() - l0).abs() <= 1e-6 * l0, "{c:?}");
        assert!((c.loss.unwrap() - l1).abs() <= 1e-6 * l1, "{c:?}");
        assert!((c.value.unwrap() - (l1 / l0).log10()).abs() < 1e-6);
        let ratio = log10_grad_ratio(&end).unwrap();
        assert!(
            (c.log10_grad_ratio.unwrap() - ratio).abs() < 1e-5,
            "{c:?} vs {ratio}"
        );
        assert_eq!(c.nonfinite_fraction, 0.0);
    }
}

#[test]
fn the_measured_edge_of_chaos_lies_on_the_mean_field_line() {
    // tanh nets at init, as wide as CI affords: width 128, depth 30, batch 16; gain 0.8..2.0 in steps of
    // 0.1 (a grid cell), bias std 0..0.4
    let base = tanh_base(30, 128, 16);
    let spec = SweepSpec {
        x: "gain:0.8:2:13".parse().unwrap(),
        y: "bias-std:0:0.4:5".parse().unwrap(),
        steps: 0,
        metric: Metric::GradRatio,
    };
    let cell = spec.x.step();
    let r = run(
        gpu(),
        &spec,
        &base,
        EngineOptions::default(),
        &mut |_, _| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    println!(
        "adapter: {}: {} nets, {} engines, {:.1} s",
        r.adapter,
        r.cells.len(),
        r.engines,
        r.seconds
    );
    for (y, measured) in r.zero_crossings() {
        let measured = measured.unwrap_or_else(|| panic!("σ_b = {y}: the ratio never crosses 1"));
        let critical = gradscope::sweep::theory_at(&r.theory.critical, &spec, y).unwrap();
        let finite = gradscope::sweep::theory_at(&r.theory.finite_depth, &spec, y).unwrap();
        println!(
            "σ_b = {y:.2}: measured {measured:.3}, χ₁ = 1 at {critical:.3}, depth-30 mean field {finite:.3}"
        );
        // within one cell of the depth-30 mean-field edge on every row
        assert!(
            (measured - finite).abs() <= cell,
            "σ_b = {y}: {measured} vs {finite}"
        );
        // and of the χ₁ = 1 line wherever the pre-activations reach their fixed point within the depth;
        // without a bias q_l falls to q* = 0 only like 1/l, which keeps a depth-30 net ordered past χ₁ = 1
        if y > 0.0 {
            assert!(
                (measured - critical).abs() <= cell,
                "σ_b = {y}: {measured} vs {critical}"
            );
        } else {
            assert!(
                measured > critical,
                "σ_b = 0: the finite-depth edge lies on the chaotic side"
            );
        }
    }
}

/// A small gain × bias-std sweep of small tanh nets.
const SMALL_SWEEP: &[&str] = &[
    "sweep",
    "--activation",
    "tanh",
    "--depth",
    "8",
    "--width",
    "16",
    "--batch",
    "8",
    "--x",
    "gain:0.5:2:4",
    "--y",
    "bias-std:0:0.2:3",
];

#[test]
fn sweep_cli_prints_json_and_draws_a_figure_that_reopens_the_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("map.png");
    let png_s = png.to_str().unwrap();
    let mut args = SMALL_SWEEP.to_vec();
    args.extend([
        "--steps", "3", "--metric", "loss", "--json", "--out", png_s, "--size", "1280x800",
    ]);
    let out = gradscope(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["spec"]["metric"], "loss");
    assert_eq!(v["spec"]["x"]["param"], "gain");
    assert_eq!(v["cells"].as_array().unwrap().len(), 12);
    assert!(!v["theory"]["critical"].as_array().unwrap().is_empty());
    for c in v["cells"].as_array().unwrap() {
        let ratio = c["loss_ratio"].as_f64().unwrap();
        assert!(
            (c["value"].as_f64().unwrap() - ratio.log10()).abs() < 1e-9,
            "{c}"
        );
        assert!(c["log10_grad_ratio_init"].is_number());
    }
    // the figure: its config is the sweep's base, its sweep comes back
    let cfg = gradscope::app::share::config_from_png(&png).unwrap();
    assert_eq!(
        (cfg.depth, cfg.width, cfg.activation),
        (8, 16, Activation::Tanh)
    );
    let spec = gradscope::app::share::sweep_from_png(&png)
        .unwrap()
        .unwrap();
    assert_eq!(spec.x.to_string(), "gain:0.5:2:4");
    assert_eq!((spec.steps, spec.metric), (3, Metric::Loss));
    let img = image::open(&png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (1280, 800));
    // a red (exploding) and a blue (vanishing) cell are both there on a gain grid at init? at least the
    // map is not one colour
    let mut colours: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 50, "a map of many colours");
    // the table without --json
    let out = gradscope(SMALL_SWEEP);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("crosses 1") && text.contains("theory"),
        "{text}"
    );
    // other figures have no sweep
    let plain = dir.path().join("plain.png");
    let out = gradscope(&[
        "render",
        "--depth",
        "4",
        "--width",
        "8",
        "--batch",
        "4",
        "--view",
        "norms",
        "--out",
        plain.to_str().unwrap(),
        "--size",
        "1280x800",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        gradscope::app::share::sweep_from_png(&plain)
            .unwrap()
            .is_none()
    );
}

#[test]
fn sweep_cli_refuses_bad_input_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    for (args, want) in [
        (&["sweep", "--x", "gain:3:1:4"][..], "smaller to a larger"),
        (&["sweep", "--x", "momentum:0:1:4"][..], "unknown axis"),
        (
            &["sweep", "--x", "gain:1:2:4", "--y", "gain:0.5:1:3"][..],
            "both axes",
        ),
        (&["sweep", "--x", "depth:0:10:4"][..], "not a valid network"),
        (&["sweep", "--engine", "cpu"][..], "on the GPU"),
        (&["sweep", "--steps", "-1"][..], "steps"),
        (&["sweep", "--metric", "accuracy"][..], "accuracy"),
    ] {
        let out = gradscope(args);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    let missing = dir.path().join("no/such/dir/map.png");
    assert_clean_failure(
        &[
            "sweep",
            "--x",
            "gain:1:2:2",
            "--y",
            "bias-std:0:0.1:2",
            "--out",
            missing.to_str().unwrap(),
        ],
        "map.png",
    );
    let out = dir.path().join("x.png");
    assert_clean_failure(
        &[
            "render",
            "--view",
            "trainability",
            "--out",
            out.to_str().unwrap(),
        ],
        "gradscope sweep --out",
    );
}
