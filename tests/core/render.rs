//! `gradscope render` draws every view offscreen (lavapipe in CI): the PNG decodes, has the size asked
//! for, is not blank, and carries the configuration in its `gradscope-config` text chunk.

use std::process::Command;

use gradscope::model::NetConfig;
use gradscope::viz::View;

fn render(view: View, out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gradscope"));
    cmd.args([
        "render",
        "--depth",
        "6",
        "--width",
        "12",
        "--batch",
        "16",
        "--steps",
        "4",
        "--view",
        view.slug(),
    ])
    .arg("--out")
    .arg(out)
    .args(extra)
    .env("XDG_RUNTIME_DIR", std::env::temp_dir());
    cmd.output().expect("runs gradscope")
}

#[test]
fn render_writes_every_view() {
    let dir = tempfile::tempdir().expect("temp dir");
    // the trainability map is a sweep's figure (`gradscope sweep --out`, tests/core/sweep.rs)
    for view in View::ALL.into_iter().filter(|v| *v != View::Trainability) {
        let out = dir.path().join(format!("{}.png", view.slug()));
        // the gated cells' views draw an LSTM (an MLP gets a sentence saying why there is nothing to draw)
        let mut extra = vec!["--size", "1280x800"];
        if matches!(view, View::Gates | View::CellPath) {
            extra.extend(["--arch", "rnn", "--cell", "lstm"]);
        }
        let output = render(view, &out, &extra);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "render {} failed (a GPU adapter is required):\n{stderr}",
            view.slug()
        );
        eprintln!("{}", stdout.trim());

        let file = std::fs::File::open(&out).expect("png written");
        let reader = png::Decoder::new(std::io::BufReader::new(file))
            .read_info()
            .expect("valid png");
        let info = reader.info();
        assert_eq!((info.width, info.height), (1280, 800), "{}", view.slug());
        let json = info
            .uncompressed_latin1_text
            .iter()
            .find(|t| t.keyword == gradscope::viz::offscreen::CONFIG_TEXT_KEY)
            .map(|t| t.text.clone())
            .expect("config text chunk");
        let cfg: NetConfig = serde_json::from_str(&json).expect("config JSON");
        assert_eq!((cfg.depth, cfg.width, cfg.batch), (6, 12, 16));

        let image = image::open(&out).expect("decodes").to_rgba8();
        let background = image.get_pixel(2, 2).0;
        let differing = image.pixels().filter(|p| p.0 != background).count();
        let distinct: std::collections::HashSet<[u8; 4]> = image.pixels().map(|p| p.0).collect();
        assert!(
            differing > 1280 * 800 / 20 && distinct.len() > 10,
            "{} looks blank: {differing} non-background pixels, {} colours",
            view.slug(),
            distinct.len()
        );
    }
}

#[test]
fn render_dark_theme_and_bad_arguments() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("dark.png");
    let output = render(
        View::GradientMap,
        &out,
        &["--size", "1280x800", "--theme", "dark"],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let image = image::open(&out).expect("decodes").to_rgba8();
    let [r, g, b, _] = image.get_pixel(2, 2).0;
    assert!(
        u32::from(r) + u32::from(g) + u32::from(b) < 200,
        "dark background, got {r} {g} {b}"
    );

    let output = render(View::Loss, &dir.path().join("x.png"), &["--size", "big"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("WxH"));

    let output = render(View::Norms, &dir.path().join("no/such/dir/x.png"), &[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error:") && stderr.contains("x.png") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

/// A request like `gradscope render` builds, drawn with the library.
fn request(view: View, steps: u64, every: u64) -> gradscope::app::render::RenderRequest {
    gradscope::app::render::RenderRequest {
        cfg: NetConfig {
            depth: 6,
            width: 12,
            batch: 8,
            ..NetConfig::default()
        },
        compare: None,
        engine: gradscope::cli::EngineKind::Gpu,
        steps,
        view,
        out: std::path::PathBuf::from("unused.png"),
        size: [1280, 800],
        theme: gradscope::viz::FigureTheme::Light,
        range: gradscope::viz::RangeMode::default(),
        every: Some(every),
    }
}

#[test]
fn animation_frames_are_the_single_renders_at_their_steps() {
    use gradscope::app::render::{frame_steps, render_animation, render_image};
    let gpu = crate::common::gpu();
    assert_eq!(frame_steps(25, 10), vec![0, 10, 20, 25]);
    assert_eq!(frame_steps(20, 10), vec![0, 10, 20]);
    for (steps, every) in [(25, 10), (20, 10), (0, 3), (7, 1), (1_000, 7)] {
        let listed = frame_steps(steps, every).len() as u64;
        assert_eq!(gradscope::app::render::frame_count(steps, every), listed);
    }
    for view in [View::GradientMap, View::Loss] {
        let req = request(view, 25, 10);
        let frames = render_animation(gpu, &req, &mut |_, _| {}).unwrap();
        let steps: Vec<u64> = frames.iter().map(|(s, _)| *s).collect();
        assert_eq!(steps, vec![0, 10, 20, 25]);
        for (s, frame) in frames.iter().filter(|(s, _)| *s == 10 || *s == 25) {
            let single = render_image(gpu, &request(view, *s, 10)).unwrap();
            assert_eq!(single.size, frame.size);
            let differing = single
                .pixels
                .iter()
                .zip(&frame.pixels)
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(
                differing, 0,
                "{view:?} frame at step {s} differs from render --steps {s}"
            );
        }
        // and they change over training (the loss line grows, the map moves)
        assert_ne!(frames[0].1.pixels, frames[3].1.pixels, "{view:?}");
    }
}

#[test]
fn render_animate_writes_a_gif_with_its_frames_and_config() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("train.gif");
    let output = render(
        View::GradientMap,
        &out,
        &[
            "--size",
            "1280x800",
            "--animate",
            "--every",
            "2",
            "--frame-ms",
            "200",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // steps 4 every 2: frames at 0, 2, 4
    let file = std::fs::File::open(&out).unwrap();
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    let mut decoder = options.read_info(std::io::BufReader::new(file)).unwrap();
    assert_eq!((decoder.width(), decoder.height()), (1280, 800));
    let mut frames = 0;
    while let Some(frame) = decoder.read_next_frame().unwrap() {
        assert_eq!(frame.delay, 20, "200 ms in hundredths");
        assert_eq!((frame.width, frame.height), (1280, 800));
        frames += 1;
    }
    assert_eq!(frames, 3);
    let cfg = gradscope::app::share::config_from_png(&out).unwrap();
    assert_eq!((cfg.depth, cfg.width, cfg.batch), (6, 12, 16));
    assert!(
        gradscope::app::share::sweep_from_png(&out)
            .unwrap()
            .is_none()
    );

    // an animation must be a .gif or .png, within its size bound, of one network
    for (args, want) in [
        (vec!["--animate"], "must end in .gif or .png"),
        (
            vec!["--animate", "--every", "1", "--size", "16384x16384"],
            "too large",
        ),
        (
            vec!["--animate", "--arch", "rnn", "--compare-cell", "lstm"],
            "one network",
        ),
    ] {
        let name = if want.contains(".gif") {
            "x.jpg"
        } else {
            "x.gif"
        };
        let output = render(View::Loss, &dir.path().join(name), &args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert!(
            stderr.contains(want) && !stderr.contains("panicked"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn an_animated_png_holds_exactly_the_single_renders() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = |steps: &str, out: &std::path::Path, animate: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gradscope"));
        cmd.args([
            "render", "--depth", "5", "--width", "8", "--batch", "8", "--view", "loss", "--size",
            "1280x800", "--every", "3", "--steps", steps,
        ])
        .arg("--out")
        .arg(out)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir());
        if animate {
            cmd.arg("--animate");
        }
        let output = cmd.output().expect("runs gradscope");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let anim = dir.path().join("anim.png");
    run("7", &anim, true);
    // frames at 0, 3, 6, 7
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&anim).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let frames = reader
        .info()
        .animation_control()
        .expect("an APNG")
        .num_frames;
    assert_eq!(frames, 4);
    let cfg = gradscope::app::share::config_from_png(&anim).unwrap();
    assert_eq!((cfg.depth, cfg.width), (5, 8));
    let mut buf = vec![0u8; reader.output_buffer_size().unwrap()];
    for step in ["0", "3", "6", "7"] {
        reader.next_frame(&mut buf).unwrap();
        let single = dir.path().join(format!("s{step}.png"));
        run(step, &single, false);
        let image = image::open(&single).unwrap().to_rgba8();
        assert!(
            image.as_raw() == &buf[..image.as_raw().len()],
            "the frame at step {step} differs from render --steps {step}"
        );
    }
}

/// The browser's GIF picks its frames among the steps the timeline kept: all of them when they are
/// few, else evenly spread with the first and the last, ascending, never one twice.
#[test]
fn animation_frames_spread_over_kept_steps() {
    use gradscope::app::render::spread_steps;
    assert_eq!(spread_steps(&[0, 1, 2, 3, 4], 40), vec![0, 1, 2, 3, 4]);
    assert_eq!(spread_steps(&[], 10), Vec::<u64>::new());
    let kept: Vec<u64> = (0..=1000).map(|s| s * 3).collect();
    let picked = spread_steps(&kept, 11);
    assert_eq!(picked.len(), 11);
    assert_eq!(picked.first(), Some(&0));
    assert_eq!(picked.last(), Some(&3000));
    assert!(picked.windows(2).all(|w| w[0] < w[1]));
    assert!(picked.iter().all(|s| kept.contains(s)));
    assert_eq!(picked[5], 1500, "the middle frame is the middle record");
    // thinned timelines (uneven gaps) and a frame count of 1 (at least the first and the last)
    assert_eq!(spread_steps(&[0, 1, 2, 10, 50, 51], 2), vec![0, 51]);
    assert_eq!(spread_steps(&[0, 1, 2, 10, 50, 51], 1), vec![0, 51]);
}
