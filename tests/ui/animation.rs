//! Export GIF in the window: the current view over the steps trained so far, written on a worker thread
//! while frames go on, decodable, with the frames asked for and the config in its comment.

use std::time::Duration;

use egui_kittest::kittest::Queryable as _;
use gradscope::model::NetConfig;
use gradscope::viz::View;

use crate::common::ui::stepped_harness;

#[test]
fn export_gif_writes_the_view_over_training() {
    let cfg = NetConfig {
        depth: 5,
        width: 8,
        batch: 4,
        ..NetConfig::default()
    };
    let mut h = stepped_harness(cfg, 6);
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("map.png");
    h.state_mut().settings_mut().export_path = png.display().to_string();
    h.state_mut().settings_mut().animation_frames = 4;
    h.state_mut().settings_mut().view = View::Loss;
    h.run_steps(1);
    h.get_by_label("Export GIF").click();
    h.run_steps(2);
    h.state_mut().wait_for_animation(Duration::from_secs(120));
    h.run_steps(1);
    assert!(h.state().error().is_none(), "{:?}", h.state().error());
    let gif_path = png.with_extension("gif");
    assert!(
        h.state().status().is_some_and(|s| s.contains("map.gif")),
        "{:?}",
        h.state().status()
    );
    let mut decoder = gif::DecodeOptions::new()
        .read_info(std::io::BufReader::new(
            std::fs::File::open(&gif_path).unwrap(),
        ))
        .unwrap();
    assert_eq!((decoder.width(), decoder.height()), (1280, 800));
    let mut frames = 0;
    while decoder.read_next_frame().unwrap().is_some() {
        frames += 1;
    }
    // 6 steps in frames every 2 steps: 0, 2, 4, 6
    assert_eq!(frames, 4);
    let restored = gradscope::app::share::config_from_png(&gif_path).unwrap();
    assert_eq!(&restored, h.state().config());

    // the trainability map is not a training run
    h.state_mut().settings_mut().view = View::Trainability;
    h.state_mut().export_gif();
    assert!(h.state().error().is_some_and(|e| e.contains("Export PNG")));
}
