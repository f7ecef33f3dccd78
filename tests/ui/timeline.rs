//! The timeline: after some training, scrubbing back shows every view at the stored step (statistics and
//! history), an export writes that step, and Live returns to the newest.

use egui_kittest::kittest::Queryable as _;
use gradscope::model::NetConfig;
use gradscope::viz::{Body, View};

use crate::common::ui::stepped_harness;

#[test]
fn scrubbing_shows_every_view_at_the_stored_step() {
    let cfg = NetConfig {
        depth: 6,
        width: 8,
        batch: 4,
        ..NetConfig::default()
    };
    let mut h = stepped_harness(cfg, 4);
    let steps = h.state().run_a().timeline().steps();
    assert_eq!(steps, vec![0, 1, 2, 3, 4], "every step kept");
    let at2 = h.state().run_a().timeline().at(2).unwrap().clone();
    let live = h.state().figure_of(View::GradientMap);
    h.state_mut().scrub(Some(2));
    h.run_steps(2);
    for view in View::ALL.into_iter().filter(|v| *v != View::Trainability) {
        let fig = h.state().figure_of(view);
        assert!(
            fig.caption.contains("gradient after 2 updates"),
            "{view:?}: {}",
            fig.caption
        );
    }
    assert_ne!(
        h.state().figure_of(View::GradientMap),
        live,
        "the map moved back"
    );
    // the time views stop at the scrubbed step
    if let Body::Lines(plot) = &h.state().figure_of(View::Loss).body {
        let last = plot.series[0].points.last().unwrap()[0];
        assert_eq!(last, 2.0);
        let loss = at2.loss.unwrap().log10();
        assert!((plot.series[0].points.last().unwrap()[1] - loss).abs() < 1e-12);
    } else {
        panic!("the loss view draws lines");
    }
    // an export writes the scrubbed step
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("scrubbed.png");
    h.state_mut().settings_mut().view = View::GradientMap;
    h.state_mut().settings_mut().export_path = png.display().to_string();
    h.state_mut().export_figure();
    assert!(h.state().error().is_none(), "{:?}", h.state().error());
    assert!(png.exists());
    // the slider and Live
    h.get_by_label("Live").click();
    h.run_steps(1);
    assert_eq!(h.state().scrubbed(), None);
    assert!(
        h.state()
            .figure_of(View::GradientMap)
            .caption
            .contains("after 4 updates")
    );
}
