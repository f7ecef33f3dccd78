//! Figures that reproduce themselves: a PNG exported by the app (or `gradscope render`) carries its config,
//! and loading it back (`gradscope app --from-figure`, dropping it on the window) restores an equal config;
//! the side panel's config string round-trips and invalid text changes nothing.

use clap::Parser;
use egui_kittest::Harness;
use gradscope::app::GradscopeApp;
use gradscope::app::share::{config_from_png, config_from_png_bytes, config_string, parse_config};
use gradscope::cli::ConfigArgs;
use gradscope::model::{Activation, Init, NetConfig};

use crate::common::ui::{app_harness, wait_until};

fn harness(cfg: NetConfig) -> Harness<'static, GradscopeApp> {
    app_harness(cfg, 1500.0)
}

fn unusual() -> NetConfig {
    NetConfig {
        depth: 5,
        width: 10,
        batch: 8,
        activation: Activation::Tanh,
        init: Init::Orthogonal,
        gain: 1.3,
        bias_std: 0.25,
        lr: 0.037,
        clip: Some(0.5),
        seed: 7,
        ..NetConfig::default()
    }
}

/// A dropped file as the native integration hands it over (a path read on demand).
#[derive(Debug)]
struct Dropped(std::path::PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

fn drop_file(h: &mut Harness<'_, GradscopeApp>, path: &std::path::Path) {
    h.input_mut()
        .dropped_files
        .push(std::sync::Arc::new(Dropped(path.to_path_buf())));
}

#[test]
fn exported_png_restores_equal_config_also_when_dropped_on_the_window() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("fig.png");
    let cfg = unusual();
    let mut h = harness(cfg.clone());
    wait_until(&mut h, "the first statistics", |a| {
        a.latest_stats().is_some()
    });
    h.state_mut().settings_mut().export_path = path.display().to_string();
    h.state_mut().export_figure();
    assert!(h.state().error().is_none(), "{:?}", h.state().error());
    assert_eq!(config_from_png(&path).expect("config in the PNG"), cfg);

    // a second window on another net: dropping the PNG restores the figure's config
    let mut other = harness(NetConfig {
        depth: 3,
        width: 6,
        batch: 4,
        ..NetConfig::default()
    });
    drop_file(&mut other, &path);
    other.run_steps(2);
    assert_eq!(
        other.state().config(),
        &cfg,
        "the dropped figure's config runs"
    );
    assert!(
        other
            .state()
            .status()
            .is_some_and(|s| s.contains("fig.png"))
    );

    // a PNG without the chunk: a clear error, nothing changes
    let plain = dir.path().join("plain.png");
    image::RgbaImage::new(4, 4).save(&plain).expect("plain png");
    drop_file(&mut other, &plain);
    other.run_steps(2);
    let err = other
        .state()
        .error()
        .expect("an error for a PNG without config");
    assert!(err.contains("gradscope-config"), "{err}");
    assert_eq!(other.state().config(), &cfg);
    let bytes = std::fs::read(&plain).expect("read");
    assert!(config_from_png_bytes(&bytes).is_err());

    // a device dropped on the window is refused at once (read through the bounded reader, never in full)
    let started = std::time::Instant::now();
    drop_file(&mut other, std::path::Path::new("/dev/zero"));
    other.run_steps(2);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let err = other.state().error().expect("an error for /dev/zero");
    assert!(err.contains("/dev/zero"), "{err}");
    assert_eq!(other.state().config(), &cfg);
    assert!(config_from_png_bytes(b"not a png").is_err());
}

#[test]
fn config_string_round_trips_and_invalid_text_changes_nothing() {
    let cfg = unusual();
    let text = config_string(&cfg);
    assert!(!text.contains('\n'), "one line");
    assert_eq!(parse_config(&text).expect("parses"), cfg);

    let mut h = harness(NetConfig {
        depth: 3,
        width: 6,
        batch: 4,
        ..NetConfig::default()
    });
    h.run_steps(1);
    let before = h.state().config().clone();
    h.state_mut().paste_config("{\"depth\": oops");
    h.run_steps(2);
    assert!(
        h.state()
            .error()
            .is_some_and(|e| e.contains("not a gradscope config"))
    );
    assert_eq!(h.state().config(), &before, "invalid text changes nothing");
    // valid JSON, invalid network
    let mut bad = cfg.clone();
    bad.depth = 0;
    h.state_mut()
        .paste_config(&serde_json::to_string(&bad).expect("json"));
    h.run_steps(2);
    assert!(h.state().error().is_some());
    assert_eq!(h.state().config(), &before);

    h.state_mut().paste_config(&text);
    h.run_steps(2);
    assert_eq!(h.state().config(), &cfg, "a pasted string applies");
    assert!(h.state().error().is_none());
}

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    config: ConfigArgs,
}

#[test]
fn render_png_restores_config_and_cli_rejects_png_without_config() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("render.png");
    let flags = [
        "--depth",
        "6",
        "--width",
        "12",
        "--batch",
        "16",
        "--activation",
        "relu",
        "--init",
        "he-normal",
        "--seed",
        "3",
    ];
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_gradscope"))
        .args(["render", "--view", "norms", "--size", "1280x800", "--out"])
        .arg(&out)
        .args(flags)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("runs gradscope");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected = Flags::try_parse_from(std::iter::once("x").chain(flags))
        .expect("flags")
        .config
        .resolve()
        .expect("config");
    assert_eq!(config_from_png(&out).expect("config in the PNG"), expected);

    // the CLI path: a PNG without the chunk is one clean error before any window opens
    let plain = dir.path().join("plain.png");
    image::RgbaImage::new(4, 4).save(&plain).expect("plain png");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_gradscope"))
        .args(["app", "--from-figure"])
        .arg(&plain)
        .env("GRADSCOPE_TUNE", "off")
        .output()
        .expect("runs gradscope");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.starts_with("error:")
            && stderr.contains("gradscope-config")
            && stderr.contains("plain.png"),
        "{stderr}"
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_gradscope"))
        .args(["app", "--from-figure"])
        .arg(dir.path().join("missing.png"))
        .output()
        .expect("runs gradscope");
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.png"));
}
