//! The app under egui_kittest on the production wgpu setup (lavapipe in CI), shared by the UI tests.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use gradscope::app::GradscopeApp;
use gradscope::gpu::GpuOptions;
use gradscope::model::NetConfig;

/// The app on the same wgpu setup as `gradscope app`, paused, on `cfg`, in a window of `height` points
/// (tall windows keep the lower side-panel sections on screen). A missing adapter fails the test.
pub fn app_harness(cfg: NetConfig, height: f32) -> Harness<'static, GradscopeApp> {
    let harness = Harness::builder()
        .with_size(egui::vec2(1280.0, height))
        .wgpu_setup(gradscope::app::wgpu_setup(&GpuOptions::default()))
        .build_eframe(move |cc| match GradscopeApp::new(cc, Some(cfg)) {
            Ok(app) => app.paused(),
            Err(e) => panic!(
                "the app needs a GPU adapter (CI={:?}): {e}",
                std::env::var("CI").ok()
            ),
        });
    eprintln!("UI test runs on: {}", harness.state().gpu().adapter);
    harness
}

/// Steps frames until `done` holds (statistics arrive asynchronously), at most 60 s.
pub fn wait_until(
    h: &mut Harness<'_, GradscopeApp>,
    what: &str,
    done: impl Fn(&GradscopeApp) -> bool,
) {
    let start = Instant::now();
    while !done(h.state()) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The app on a small `cfg` after `steps` training steps, each taken with the Step button and waited for.
pub fn stepped_harness(cfg: NetConfig, steps: u64) -> Harness<'static, GradscopeApp> {
    use egui_kittest::kittest::Queryable as _;
    let mut h = app_harness(cfg, 1600.0);
    wait_until(&mut h, "the first statistics", |a| {
        a.latest_stats().is_some()
    });
    for step in 1..=steps {
        h.get_by_label("Step").click();
        wait_until(&mut h, "a step", |a| {
            a.latest_stats().is_some_and(|s| s.step == step)
        });
    }
    h
}
