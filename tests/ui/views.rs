//! Figures from statistics after the gradients exploded: the engines report NaN as `Some(NaN)` in the
//! log10 fields (`None` is an exact zero), and the views must neither print "NaNeNaN" nor plot NaN.

use gradscope::app::views::{FigureData, figure};
use gradscope::model::NetConfig;
use gradscope::stats::{LayerStats, StepStats};
use gradscope::viz::{Body, History, RangeMode, View};

fn exploded() -> (NetConfig, StepStats) {
    let cfg = NetConfig {
        depth: 3,
        width: 2,
        ..NetConfig::default()
    };
    let layer = |index: usize, log10: Option<f64>| LayerStats {
        index,
        grad_w_norm: log10.map_or(0.0, |v| 10f64.powf(v)),
        log10_grad_w_norm: log10,
        delta_rms: log10.map_or(0.0, |v| 10f64.powf(v)),
        log10_delta_rms: log10,
        log10_mean_abs_delta: vec![log10; 2],
        act_rms: 1.0,
        saturated_fraction: 0.0,
        dead_fraction: 0.0,
        gates: None,
        ledger: None,
        histogram: None,
    };
    let stats = StepStats {
        step: 5,
        loss: Some(f64::NAN),
        engine: "cpu".into(),
        adapter: "test".into(),
        nonfinite: true,
        grad_norm: Some(f64::NAN),
        clipped: false,
        layers: vec![
            layer(1, Some(f64::NAN)),
            layer(2, Some(-3.0)),
            layer(3, Some(f64::NAN)),
        ],
        update_ratio: Vec::new(),
    };
    (cfg, stats)
}

#[test]
fn nan_statistics_are_named_not_printed_or_plotted() {
    let (cfg, stats) = exploded();
    let history = History::default();
    let data = FigureData {
        cfg: &cfg,
        stats: Some(&stats),
        history: &history,
        range: RangeMode::default(),
        prediction: None,
        wh: None,
        jacobian: None,
        sweep: gradscope::app::views::SweepShown::default(),
    };
    let map = figure(View::GradientMap, &data);
    assert!(!map.subtitle.contains("NaNe"), "{}", map.subtitle);
    assert!(map.subtitle.contains("NaN/Inf"), "{}", map.subtitle);
    assert!(!map.subtitle.contains("decades apart"), "{}", map.subtitle);
    assert!(map.notes.iter().any(|n| n.contains("NaN or Inf")));

    let norms = figure(View::Norms, &data);
    let Body::Lines(plot) = &norms.body else {
        panic!("a line plot: {:?}", norms.body)
    };
    for series in &plot.series {
        assert!(
            series.points.iter().all(|p| p[1].is_finite()),
            "{}: {:?}",
            series.name,
            series.points
        );
        assert_eq!(series.points.len(), 1, "only layer 2 is finite");
    }
}
