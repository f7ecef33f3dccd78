//! The window, driven through AccessKit with egui_kittest on the production wgpu setup (lavapipe in CI):
//! the Depth slider rebuilds the network, the activation switch changes the gradient by orders of magnitude,
//! export writes a PNG of the expected size, bad input shows an error and the app keeps running.

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use gradscope::app::GradscopeApp;
use gradscope::model::{Activation, Init, NetConfig, Preset};
use gradscope::viz::offscreen::{CONFIG_TEXT_KEY, DEFAULT_EXPORT_SIZE};
use gradscope::viz::{Body, Figure};

use crate::common::ui::{app_harness, wait_until};

fn harness(cfg: NetConfig) -> Harness<'static, GradscopeApp> {
    app_harness(cfg, 860.0)
}

fn small(depth: usize, width: usize, activation: Activation) -> NetConfig {
    NetConfig {
        depth,
        width,
        batch: 16,
        activation,
        init: Init::XavierNormal,
        ..NetConfig::default()
    }
}

fn heatmap_shape(fig: &Figure) -> (usize, usize) {
    match &fig.body {
        Body::Heatmap { map, .. } => (map.cols, map.rows),
        other => panic!("the gradient map is not a heatmap yet: {other:?}"),
    }
}

fn first_layer_log10(app: &GradscopeApp) -> f64 {
    let stats = app.latest_stats().expect("statistics");
    stats.layers[0]
        .log10_delta_rms
        .expect("a finite, nonzero first-layer gradient")
}

#[test]
fn depth_slider_changes_network_and_gradient_map() {
    let mut h = harness(small(4, 12, Activation::Tanh));
    wait_until(&mut h, "the first statistics", |a| {
        a.latest_stats().is_some()
    });
    assert_eq!(heatmap_shape(&h.state().figure()), (4, 12));

    h.get_by_role_and_label(Role::Slider, "Depth")
        .set_value_accesskit(9.0);
    h.run_steps(2);
    assert_eq!(
        h.state().config().depth,
        9,
        "the Depth slider sets the network depth"
    );
    wait_until(&mut h, "statistics of the deeper net", |a| {
        a.latest_stats().is_some_and(|s| s.layers.len() == 9)
    });
    assert_eq!(
        heatmap_shape(&h.state().figure()),
        (9, 12),
        "one column per layer, one row per unit"
    );

    // arrow keys move the slider too
    h.get_by_role_and_label(Role::Slider, "Depth").focus();
    h.run_steps(1);
    h.key_press(egui::Key::ArrowRight);
    h.run_steps(2);
    let depth = h.state().config().depth;
    assert!(depth > 9, "ArrowRight increases the depth (now {depth})");
    wait_until(&mut h, "statistics after the arrow key", |a| {
        a.latest_stats().is_some_and(|s| s.layers.len() == depth)
    });
    assert_eq!(heatmap_shape(&h.state().figure()).0, depth);
}

#[test]
fn sigmoid_to_relu_changes_first_layer_gradient_by_orders_of_magnitude() {
    let mut h = harness(small(20, 32, Activation::Sigmoid));
    wait_until(&mut h, "the first statistics", |a| {
        a.latest_stats().is_some()
    });
    let sigmoid = first_layer_log10(h.state());

    h.get_by_label("Activation").click();
    h.run_steps(2);
    h.get_by_label("relu").click();
    h.run_steps(2);
    assert_eq!(h.state().config().activation, Activation::Relu);
    assert_eq!(
        h.state().config().depth,
        20,
        "the same network, only the activation changed"
    );
    wait_until(&mut h, "relu statistics", |a| {
        a.latest_stats().is_some() && a.config().activation == Activation::Relu
    });
    let relu = first_layer_log10(h.state());
    eprintln!("first-layer log10 rms dL/dz: sigmoid {sigmoid:.2}, relu {relu:.2}");
    assert!(
        relu - sigmoid > 4.0,
        "ReLU keeps the gradient orders of magnitude larger: {sigmoid:.2} vs {relu:.2}"
    );
}

fn png_text(path: &std::path::Path) -> (u32, u32, Option<String>) {
    let file = std::fs::File::open(path).expect("png exists");
    let decoder = png::Decoder::new(std::io::BufReader::new(file));
    let reader = decoder.read_info().expect("a valid png");
    let info = reader.info();
    let text = info
        .uncompressed_latin1_text
        .iter()
        .find(|t| t.keyword == CONFIG_TEXT_KEY)
        .map(|t| t.text.clone());
    (info.width, info.height, text)
}

#[test]
fn export_writes_png_figure_with_config_and_shortcut_works() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("figure.png");
    let mut h = harness(small(5, 8, Activation::Sigmoid));
    wait_until(&mut h, "the first statistics", |a| {
        a.latest_stats().is_some()
    });

    h.get_by_label("Save to")
        .set_text_value_accesskit(path.to_str().expect("utf-8 path"));
    h.run_steps(1);
    h.get_by_label("Export PNG").click();
    h.run_steps(2);
    assert_eq!(h.state().error(), None);
    let (w, h_px, text) = png_text(&path);
    assert_eq!(
        [w, h_px],
        DEFAULT_EXPORT_SIZE,
        "2x figure of the default export size"
    );
    let cfg: NetConfig =
        serde_json::from_str(&text.expect("config text chunk")).expect("config JSON");
    assert_eq!(
        &cfg,
        h.state().config(),
        "the PNG carries the config that made it"
    );

    // the shortcut saves again
    std::fs::remove_file(&path).expect("remove");
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::S);
    h.run_steps(2);
    assert!(path.exists(), "Ctrl+S / Cmd+S exports");
    let image = image::open(&path).expect("decodes").to_rgba8();
    let distinct: std::collections::HashSet<[u8; 4]> = image.pixels().map(|p| p.0).collect();
    assert!(
        distinct.len() > 20,
        "the figure is not blank ({} colours)",
        distinct.len()
    );
}

#[test]
fn unwritable_export_path_shows_error_and_app_keeps_running() {
    let mut h = harness(small(3, 8, Activation::Tanh));
    wait_until(&mut h, "the first statistics", |a| {
        a.latest_stats().is_some()
    });
    h.get_by_label("Save to")
        .set_text_value_accesskit("/nonexistent-gradscope-dir/sub/figure.png");
    h.run_steps(1);
    h.get_by_label("Export PNG").click();
    h.run_steps(2);
    let err = h.state().error().expect("an error is shown").to_string();
    assert!(
        err.contains("export failed") && err.contains("nonexistent-gradscope-dir"),
        "{err}"
    );
    assert!(
        h.query_by_label_contains("export failed").is_some(),
        "the error is visible in the window"
    );

    // still alive: a training step still produces statistics
    let before = h.state().latest_stats().map(|s| s.step);
    h.get_by_label("Step").click();
    wait_until(&mut h, "a step after the error", |a| {
        a.latest_stats().map(|s| s.step) != before
    });
    h.get_by_label("Dismiss").click();
    h.run_steps(1);
    assert_eq!(h.state().error(), None);
}

/// Types `path` into the preset file field and presses Load preset; returns once the file has been read
/// (on a worker thread) and applied or refused. Asserts that the frame that pressed the button returned
/// while the file was still being read: the window never waits on a file.
fn load_preset_file(h: &mut Harness<'_, GradscopeApp>, path: &str) {
    h.get_by_label("Preset file").set_text_value_accesskit(path);
    h.run_steps(1);
    h.get_by_label("Load preset").click();
    for frame in 0.. {
        h.run_steps(1);
        if h.state().preset_loading() {
            break;
        }
        assert!(
            h.state().error().is_none() && frame < 50,
            "Load preset did not start a read off the frame: {:?}",
            h.state().error()
        );
    }
    wait_until(h, "the preset file read", |a| !a.preset_loading());
    h.run_steps(1);
}

#[test]
fn malformed_preset_file_shows_error_and_keeps_network() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "title = \"broken\"\ndescription = \"x\"\n[network]\ndepht = 3\n",
    )
    .expect("write");
    let mut h = harness(small(3, 8, Activation::Tanh));
    wait_until(&mut h, "the first statistics", |a| {
        a.latest_stats().is_some()
    });
    let before = h.state().config().clone();

    load_preset_file(&mut h, bad.to_str().expect("utf-8 path"));
    let err = h.state().error().expect("an error is shown").to_string();
    assert!(err.contains("bad.toml") && err.contains("depht"), "{err}");
    assert!(
        h.query_by_label_contains("depht").is_some(),
        "the error is visible"
    );
    assert_eq!(h.state().config(), &before, "the network is unchanged");

    // a missing file too
    load_preset_file(&mut h, "/no/such/preset.toml");
    assert!(
        h.state().error().is_some_and(|e| e.contains("cannot read")),
        "{:?}",
        h.state().error()
    );

    // a good preset file applies
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "title = \"six\"\ndescription = \"six tanh layers\"\n[network]\ndepth = 6\nwidth = 8\nactivation = \"tanh\"\n[training]\nbatch = 16\n").expect("write");
    load_preset_file(&mut h, good.to_str().expect("utf-8 path"));
    assert_eq!(h.state().error(), None);
    assert_eq!(h.state().config().depth, 6);
}

#[test]
fn preset_from_a_device_or_fifo_is_refused_without_freezing_the_window() {
    let mut h = harness(small(3, 8, Activation::Tanh));
    wait_until(&mut h, "the first statistics", |a| {
        a.latest_stats().is_some()
    });
    let before = h.state().config().clone();

    // /dev/zero never ends: it used to be read on the frame until memory ran out
    load_preset_file(&mut h, "/dev/zero");
    let err = h.state().error().expect("an error is shown").to_string();
    assert!(
        err.contains("/dev/zero") && err.contains("not a regular file"),
        "{err}"
    );
    assert!(
        h.query_by_label_contains("not a regular file").is_some(),
        "the error is visible"
    );
    assert_eq!(h.state().config(), &before, "nothing changes");

    // a FIFO nobody writes to never answers a read
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("preset.toml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", fifo.display());
    load_preset_file(&mut h, fifo.to_str().expect("utf-8 path"));
    let err = h.state().error().expect("an error is shown").to_string();
    assert!(err.contains("FIFO"), "{err}");
    assert_eq!(h.state().config(), &before, "nothing changes");

    // the window still trains
    let step = h.state().latest_stats().map(|s| s.step);
    h.get_by_label("Step").click();
    wait_until(&mut h, "a step after the refusals", |a| {
        a.latest_stats().map(|s| s.step) != step
    });
}

/// The text the preset box shows.
fn preset_box(h: &Harness<'_, GradscopeApp>) -> Option<String> {
    h.get_by_role_and_label(Role::ComboBox, "Preset").value()
}

#[test]
fn a_window_opened_on_a_preset_shows_its_name() {
    // what `gradscope app --preset dead-relu` opens the window on
    let preset = Preset::builtin("dead-relu").expect("a built-in preset");
    let mut h = harness(preset.config());
    h.run_steps(2);
    assert_eq!(h.state().settings().preset, "dead-relu");
    assert_eq!(preset_box(&h), Some(preset.title.clone()), "not \"custom\"");
    let lesson: Vec<&str> = preset.description.split_whitespace().take(5).collect();
    assert!(
        h.query_by_label_contains(&lesson.join(" ")).is_some(),
        "its lesson is shown"
    );
    // once a control changes the config, the box says so
    h.state_mut().settings_mut().config.seed += 1;
    h.run_steps(2);
    assert_eq!(preset_box(&h), Some(format!("{} (modified)", preset.title)));

    // a config that is no preset's is custom
    let mut other = harness(small(3, 8, Activation::Tanh));
    other.run_steps(2);
    assert_eq!(other.state().settings().preset, "");
    assert_eq!(preset_box(&other), Some("custom".to_string()));
}

#[test]
fn the_window_is_cleared_to_the_panel_colour() {
    // the panels paint no fill of their own (on a software adapter every painted pixel is shaded on the
    // CPU): without this clear colour the controls would sit on eframe's default dark grey
    let h = harness(small(2, 4, Activation::Tanh));
    for visuals in [egui::Visuals::light(), egui::Visuals::dark()] {
        assert_eq!(
            eframe::App::clear_color(h.state(), &visuals),
            visuals.panel_fill.to_normalized_gamma_f32(),
            "dark mode: {}",
            visuals.dark_mode
        );
    }
}

#[test]
fn settings_survive_a_restart_and_old_files_still_load() {
    use gradscope::app::settings::Settings;
    let mut s = Settings::default();
    s.config.depth = 33;
    s.view = gradscope::viz::View::Loss;
    s.range = gradscope::viz::RangeMode::Auto;
    let text = serde_json::to_string(&s).expect("serializes");
    let back: Settings = serde_json::from_str(&text).expect("deserializes");
    assert_eq!(back, s);
    // a file from an older version with fewer keys falls back to defaults for the rest
    let partial: Settings =
        serde_json::from_str(r#"{"view": "norms"}"#).expect("partial settings load");
    assert_eq!(partial.view, gradscope::viz::View::Norms);
    assert_eq!(partial.config, Settings::default().config);
}

/// The cures from the panel: the Norm and Cell controls rebuild the network on their own engine paths,
/// every view draws (or says why not) for each, and switching back and forth keeps the app running.
#[test]
fn norm_and_cell_controls_switch_networks_and_every_view_draws() {
    use gradscope::model::{Arch, Cell, Norm};
    use gradscope::viz::View;
    let mut h = harness(small(5, 8, Activation::Tanh));
    wait_until(&mut h, "the first statistics", |a| {
        a.latest_stats().is_some()
    });
    // the controls are on the panel (the real window clicks them); the test sets what they edit
    assert!(h.query_by_label("LayerNorm").is_some());
    type Edit = fn(&mut NetConfig);
    let steps: [(&str, Edit); 4] = [
        ("layer norm", |c| c.norm = Norm::Layer),
        ("batch norm", |c| c.norm = Norm::Batch),
        ("lstm", |c| {
            c.set_arch(Arch::Rnn);
            c.cell = Cell::Lstm;
        }),
        ("gru", |c| c.cell = Cell::Gru),
    ];
    for (what, edit) in steps {
        edit(&mut h.state_mut().settings_mut().config);
        h.run_steps(2);
        let want = h.state().settings().config.clone();
        wait_until(&mut h, what, |a| {
            a.config() == &want && a.latest_stats().is_some()
        });
        assert!(
            h.state().error().is_none(),
            "{what}: {:?}",
            h.state().error()
        );
        let stats = h.state().latest_stats().unwrap().clone();
        assert_eq!(stats.layers.len(), want.depth, "{what}");
        assert_eq!(
            stats.layers[0].gates.is_some(),
            want.cell.is_gated(),
            "{what}: gate statistics exactly for gated cells"
        );
        for view in View::ALL {
            let fig = h.state().figure_of(view);
            assert!(!fig.title.is_empty(), "{what} {view:?}");
            if let Body::Empty(text) = &fig.body {
                assert!(!text.is_empty(), "{what} {view:?}: an empty view says why");
            }
        }
        let gates = h.state().figure_of(View::Gates);
        assert_eq!(
            matches!(gates.body, Body::Lines(_)),
            want.cell.is_gated(),
            "{what}: the Gates view draws gates only for gated cells"
        );
    }
}

#[test]
fn the_waker_asks_for_a_frame_once_the_training_submission_is_done() {
    use gradscope::app::waker::Waker;
    use gradscope::gpu::Engine;
    use std::time::{Duration, Instant};

    let gpu = crate::common::gpu();
    let ctx = egui::Context::default();
    let (tx, rx) = std::sync::mpsc::channel();
    ctx.set_request_repaint_callback(move |_| {
        let _ = tx.send(Instant::now());
    });
    let waker = Waker::start(gpu.device.clone(), ctx.clone()).expect("a thread");
    let mut engine = Engine::new(gpu, &small(12, 32, Activation::Tanh)).expect("an engine");
    for round in 0..3 {
        // frames drawn until none is outstanding: egui calls the callback for the next request only
        for _ in 0..3 {
            // nothing renders here: the textures egui hands over are dropped on purpose
            ctx.run_ui(egui::RawInput::default(), |_| {})
                .textures_delta
                .clear();
        }
        while rx.try_recv().is_ok() {}
        // enough steps that the statistics are not back at once
        engine.step(40);
        assert!(waker.after_gpu(), "the waker thread runs");
        rx.recv_timeout(Duration::from_secs(60))
            .expect("a frame is asked for once the GPU has finished");
        // the frame it draws finds the statistics there, without waiting
        let stats = engine.poll_stats();
        assert!(
            stats.is_some(),
            "round {round}: the frame was asked for before the statistics arrived"
        );
    }
}
