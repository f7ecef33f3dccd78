//! Inputs that must stay bounded: preset files that are devices, FIFOs or huge; figures whose config chunk
//! inflates without end; step counts past what can be run; config flags the app must see; render output
//! paths and sizes; dump folders; NaN in a dump manifest; causes printed once. Each test reproduced its
//! defect before the fix.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use gradscope::cli::{ConfigArgs, MAX_STEPS, report_steps, step_chunks};
use gradscope::model::{
    FileError, MAX_PRESET_BYTES, NetConfig, PresetError, read_text_file_bounded,
};

use crate::common::{assert_clean_failure, assert_clean_failure_within, gradscope, stderr};

/// Memory a failing command may use here (the CPU engine; no GPU is opened before these refusals).
const SMALL_MIB: u64 = 2048;

/// A minimal valid preset.
const PRESET: &str = "title = \"t\"\ndescription = \"d\"\n[network]\ndepth = 3\nwidth = 4\n";

/// Runs `f` on a thread and fails the test if it takes longer than `secs` (a blocking open would hang).
fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("still running after {secs} s"))
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

// ---- item 4: preset files ----

#[test]
fn bounded_reader_refuses_devices_fifos_folders_and_big_files() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("preset.toml");
    mkfifo(&fifo);
    let big = dir.path().join("big.toml");
    std::fs::write(&big, vec![b'#'; MAX_PRESET_BYTES as usize + 1]).unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, PRESET).unwrap();
    let cases: Vec<(PathBuf, &str)> = vec![
        ("/dev/zero".into(), "a character device"),
        ("/dev/urandom".into(), "a character device"),
        (fifo.clone(), "a FIFO"),
        (dir.path().to_path_buf(), "a directory"),
        (big.clone(), "larger than 1048576 bytes"),
        (dir.path().join("missing.toml"), "No such file"),
    ];
    for (path, want) in cases {
        let shown = path.display().to_string();
        let err = within(10, move || {
            read_text_file_bounded(&path, MAX_PRESET_BYTES).expect_err("refused")
        });
        let msg = err.to_string();
        assert!(msg.contains(&shown) && msg.contains(want), "{shown}: {msg}");
        assert!(matches!(err, PresetError::Read(_)), "{msg}");
    }
    let text = read_text_file_bounded(&good, MAX_PRESET_BYTES).expect("a regular file reads");
    assert_eq!(text, PRESET);
    // exactly at the cap is fine, one byte over is not
    let err = read_text_file_bounded(&good, PRESET.len() as u64 - 1).unwrap_err();
    assert!(matches!(err, PresetError::Read(FileError::TooLarge { .. })));
    assert!(read_text_file_bounded(&good, PRESET.len() as u64).is_ok());
    let bin = dir.path().join("bin.toml");
    std::fs::write(&bin, [0xff, 0xfe, 0x00]).unwrap();
    assert!(
        read_text_file_bounded(&bin, MAX_PRESET_BYTES)
            .unwrap_err()
            .to_string()
            .contains("not UTF-8")
    );
}

#[test]
fn preset_devices_and_fifos_fail_fast_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.toml");
    mkfifo(&fifo);
    let fifo = fifo.to_str().unwrap();
    for (preset, want) in [
        ("/dev/zero", "a character device"),
        ("/dev/urandom", "a character device"),
        (fifo, "a FIFO"),
    ] {
        let err = assert_clean_failure_within(
            &["stats", "--engine", "cpu", "--preset", preset],
            want,
            20,
            Some(SMALL_MIB),
        );
        assert!(err.contains(preset), "{err}");
    }
}

#[test]
fn read_errors_print_their_cause_once() {
    let err = assert_clean_failure(
        &[
            "stats",
            "--engine",
            "cpu",
            "--preset",
            "/no/such/dir/p.toml",
        ],
        "cannot read preset /no/such/dir/p.toml",
    );
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "title = \"t\"\ndescription = \"d\"\n[network]\ndepth = 0\n",
    )
    .unwrap();
    let err = assert_clean_failure(
        &[
            "stats",
            "--engine",
            "cpu",
            "--preset",
            bad.to_str().unwrap(),
        ],
        "depth = 0",
    );
    assert_eq!(err.matches("out of range").count(), 1, "{err}");
    let err = assert_clean_failure(
        &["app", "--from-figure", "/no/such/figure.png"],
        "cannot read figure /no/such/figure.png",
    );
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}

// ---- item 5: figures ----

/// A PNG chunk: length, type, data, CRC.
pub(crate) fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = Vec::with_capacity(data.len() + 12);
    c.extend_from_slice(&(data.len() as u32).to_be_bytes());
    c.extend_from_slice(kind);
    c.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    c.extend_from_slice(&crc.sum().to_be_bytes());
    c
}

/// A 1x1 PNG whose `gradscope-config` is a zTXt (or, with `itxt`, compressed iTXt) chunk that inflates
/// to `inflated` bytes of `x`.
fn png_bomb(inflated: usize, itxt: bool) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![b'x'; 1 << 20];
    let mut left = inflated;
    while left > 0 {
        let n = left.min(block.len());
        z.write_all(&block[..n]).unwrap();
        left -= n;
    }
    let compressed = z.finish().unwrap();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&1u32.to_be_bytes());
    ihdr.extend_from_slice(&1u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grey, no interlace
    png.extend(chunk(b"IHDR", &ihdr));
    let mut text = b"gradscope-config\0".to_vec();
    if itxt {
        text.extend_from_slice(&[1, 0, 0, 0]); // compressed, zlib, no language, no translated keyword
        text.extend_from_slice(&compressed);
        png.extend(chunk(b"iTXt", &text));
    } else {
        text.push(0); // zlib
        text.extend_from_slice(&compressed);
        png.extend(chunk(b"zTXt", &text));
    }
    let mut idat = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    idat.write_all(&[0, 0]).unwrap(); // filter byte + one grey pixel
    png.extend(chunk(b"IDAT", &idat.finish().unwrap()));
    png.extend(chunk(b"IEND", &[]));
    png
}

#[test]
fn figure_config_chunks_inflate_within_a_bound() {
    for itxt in [false, true] {
        // 64 MiB of text from a chunk of about 64 KiB: refused without inflating it all
        let bomb = png_bomb(64 << 20, itxt);
        assert!(bomb.len() < 1 << 20, "{}", bomb.len());
        let t0 = std::time::Instant::now();
        let err = gradscope::app::share::config_from_png_bytes(&bomb).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("once decompressed"), "itxt {itxt}: {msg}");
        assert!(t0.elapsed() < Duration::from_secs(5));
        // a small compressed chunk still reads (and then is not a config)
        let small = png_bomb(100, itxt);
        let msg = format!(
            "{:#}",
            gradscope::app::share::config_from_png_bytes(&small).unwrap_err()
        );
        assert!(msg.contains("not a gradscope config string"), "{msg}");
    }
}

#[test]
fn from_figure_refuses_bombs_devices_and_fifos_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.png");
    // 1 GiB once inflated: more than the address space the command gets here
    std::fs::write(&bomb, png_bomb(1 << 30, false)).unwrap();
    let fifo = dir.path().join("fifo.png");
    mkfifo(&fifo);
    for (path, want) in [
        (bomb.to_str().unwrap(), "once decompressed"),
        ("/dev/zero", "a character device"),
        (fifo.to_str().unwrap(), "a FIFO"),
        (dir.path().to_str().unwrap(), "a directory"),
    ] {
        assert_clean_failure_within(&["app", "--from-figure", path], want, 30, Some(768));
    }
}

// ---- item 6: --steps ----

#[test]
fn report_steps_stream_and_step_chunks_add_up() {
    let v: Vec<u64> = report_steps(10, 4).collect();
    assert_eq!(v, vec![0, 4, 8, 10]);
    let v: Vec<u64> = report_steps(8, 4).collect();
    assert_eq!(v, vec![0, 4, 8]);
    assert_eq!(report_steps(0, 3).collect::<Vec<_>>(), vec![0]);
    assert_eq!(report_steps(5, 0).count(), 6, "every 0 counts as 1");
    // nothing is built up front: any count streams
    let v: Vec<u64> = report_steps(u64::MAX, 1).take(3).collect();
    assert_eq!(v, vec![0, 1, 2]);
    let v: Vec<u64> = report_steps(u64::MAX, u64::MAX).collect();
    assert_eq!(v, vec![0, u64::MAX]);
    assert_eq!(report_steps(MAX_STEPS, 1).last(), Some(MAX_STEPS));

    let sum = |n: u64| step_chunks(n).map(u64::from).sum::<u64>();
    for n in [
        0,
        1,
        5,
        u64::from(u32::MAX),
        1 << 32,
        (1 << 33) + 7,
        MAX_STEPS,
    ] {
        assert_eq!(sum(n), n, "{n}");
        assert!(step_chunks(n).all(|c| c > 0), "{n}");
    }
    assert_eq!(step_chunks(1 << 32).collect::<Vec<_>>(), vec![u32::MAX, 1]);
    assert_eq!(
        step_chunks(u64::MAX).count(),
        (u64::MAX / u64::from(u32::MAX)) as usize
    );
}

#[test]
fn steps_past_the_maximum_are_refused_with_the_range() {
    for steps in [
        "18446744073709551615",
        "4294967296",
        "1000000001",
        "-1",
        "1e9",
    ] {
        for cmd in ["stats", "render"] {
            let mut args = vec![cmd, "--engine", "cpu", "--steps", steps];
            if cmd == "render" {
                args.extend(["--view", "loss", "--out", "/tmp/never-written.png"]);
            }
            let err = assert_clean_failure_within(&args, "--steps", 20, Some(SMALL_MIB));
            assert!(err.contains("0..=1000000000"), "{args:?}: {err}");
        }
    }
    // the largest count is accepted (parsing only: --depth 0 stops it before training)
    assert_clean_failure(
        &[
            "stats",
            "--engine",
            "cpu",
            "--steps",
            "1000000000",
            "--depth",
            "0",
        ],
        "depth = 0",
    );
}

// ---- item 9: the app's config flags ----

#[derive(Parser)]
struct AppLike {
    #[command(flatten)]
    config: ConfigArgs,
    #[arg(long)]
    from_figure: Option<PathBuf>,
}

/// A sample command-line value for a flag of [`ConfigArgs`] (None for a switch).
fn sample_value(arg: &clap::Arg) -> Option<String> {
    if !matches!(arg.get_action(), clap::ArgAction::Set) {
        return None;
    }
    let possible = arg.get_possible_values();
    if let Some(v) = possible.first() {
        return Some(v.get_name().to_string());
    }
    Some(match arg.get_id().as_str() {
        "preset" => "relu-he".into(),
        "adapter" => "llvmpipe".into(),
        _ => "2".into(),
    })
}

#[test]
fn every_network_flag_counts_as_given() {
    use clap::{Args, CommandFactory, FromArgMatches};
    let cmd = ConfigArgs::augment_args(clap::Command::new("x"));
    let mut seen = 0;
    for arg in cmd.get_arguments() {
        let long = format!("--{}", arg.get_long().expect("every config flag is long"));
        let mut argv = vec!["app".to_string(), long.clone()];
        argv.extend(sample_value(arg));
        let matches = AppLike::command()
            .try_get_matches_from(&argv)
            .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        AppLike::from_arg_matches(&matches).expect("parses");
        let given = ConfigArgs::network_flags_given(&matches);
        let device = ["--engine", "--adapter", "--backend"].contains(&long.as_str());
        if device {
            assert!(given.is_empty(), "{argv:?}: {given:?}");
        } else {
            assert_eq!(given, vec![long.clone()], "{argv:?}");
            seen += 1;
        }
    }
    assert!(seen >= 16, "{seen} network flags");
    let matches = AppLike::command()
        .try_get_matches_from(["app", "--engine", "cpu"])
        .unwrap();
    assert!(ConfigArgs::network_flags_given(&matches).is_empty());
}

#[test]
fn app_refuses_bad_flags_before_any_window() {
    // before: these opened the window on the last session, ignoring the flag
    let err = assert_clean_failure_within(
        &["app", "--spectral-radius", "-5"],
        "spectral-radius = -5",
        30,
        None,
    );
    assert!(err.contains("(0, "), "{err}");
    assert_clean_failure_within(
        &[
            "app",
            "--from-figure",
            "/no/such.png",
            "--spectral-radius",
            "0.5",
        ],
        "leave out --spectral-radius",
        30,
        None,
    );
    assert_clean_failure_within(
        &[
            "app",
            "--from-figure",
            "/no/such.png",
            "--residual",
            "--gain",
            "1",
        ],
        "leave out --gain, --residual",
        30,
        None,
    );
}

// ---- item 10: render output ----

#[test]
fn render_checks_its_output_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let jpg = dir.path().join("x.jpg");
    // a billion steps: a check that came after training would never be reached within the time limit
    let long = ["--engine", "cpu", "--steps", "1000000000", "--view", "loss"];
    let mut args = vec!["render"];
    args.extend(long);
    let jpg_s = jpg.to_str().unwrap();
    let mut a = args.clone();
    a.extend(["--out", jpg_s]);
    assert_clean_failure_within(&a, "must end in .png", 30, None);
    assert!(!jpg.exists());
    let mut a = args.clone();
    a.extend(["--out", "/no/such/dir/x.png"]);
    assert_clean_failure_within(&a, "the folder /no/such/dir does not exist", 30, None);
    let mut a = args.clone();
    let d = dir.path().join("folder.png");
    std::fs::create_dir(&d).unwrap();
    a.extend(["--out", d.to_str().unwrap()]);
    assert_clean_failure_within(&a, "it is a folder", 30, None);
    for size in [
        "100x100",
        "1279x800",
        "1280x799",
        "800x500",
        "16x16",
        "20000x900",
    ] {
        let mut a = args.clone();
        let out = dir.path().join("small.png");
        a.extend(["--out", out.to_str().unwrap(), "--size", size]);
        assert_clean_failure_within(&a, "1280..=16384", 30, None);
        assert!(!out.exists());
    }
    // a bad config is refused before the output file is created
    let out = dir.path().join("never.png");
    assert_clean_failure(
        &[
            "render",
            "--engine",
            "cpu",
            "--depth",
            "0",
            "--view",
            "loss",
            "--out",
            out.to_str().unwrap(),
        ],
        "depth = 0",
    );
    assert!(!out.exists());
}

#[test]
fn png_output_is_claimed_and_released() {
    use gradscope::viz::offscreen::PngOutput;
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("new.png");
    let claimed = PngOutput::claim(&new).expect("claims");
    assert!(new.exists(), "created at once");
    drop(claimed);
    assert!(!new.exists(), "removed when the command fails");
    PngOutput::claim(&new).unwrap().keep();
    assert!(new.exists(), "kept once written");
    let old = dir.path().join("old.PNG");
    std::fs::write(&old, b"previous figure").unwrap();
    drop(PngOutput::claim(&old).expect("an existing file can be overwritten"));
    assert_eq!(
        std::fs::read(&old).unwrap(),
        b"previous figure",
        "left as it was"
    );
    let err = PngOutput::claim(&dir.path().join("x.jpg")).unwrap_err();
    assert!(err.to_string().contains("x.jpg"), "{err}");
    assert!(PngOutput::claim(&dir.path().join("noext")).is_err());
}

// ---- item 10: dumps ----

fn dump_args<'a>(dir: &'a str, depth: &'a str) -> Vec<&'a str> {
    vec![
        "stats", "--engine", "cpu", "--depth", depth, "--width", "4", "--batch", "2", "--steps",
        "1", "--json", "--dump", dir,
    ]
}

/// The files in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn dump_replaces_a_previous_dump_and_refuses_other_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("dump");
    let ds = d.to_str().unwrap();
    let out = gradscope(&dump_args(ds, "5"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(d.join("delta_5.npy").exists());
    // a shallower net over the previous dump: no stale delta_3..5
    let out = gradscope(&dump_args(ds, "2"));
    assert!(out.status.success(), "{}", stderr(&out));
    let loaded = gradscope::dump::LoadedDump::read(&d).unwrap();
    let mut listed: Vec<String> = loaded
        .manifest
        .files
        .iter()
        .map(|f| f.file.clone())
        .collect();
    listed.push("manifest.json".into());
    listed.sort();
    assert_eq!(listing(&d), listed);

    // a folder with anything else is refused before training, and left untouched
    std::fs::write(d.join("notes.txt"), "mine").unwrap();
    let before = listing(&d);
    assert_clean_failure(&dump_args(ds, "2"), "notes.txt");
    assert_eq!(listing(&d), before);
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("thesis.tex"), "mine").unwrap();
    assert_clean_failure(&dump_args(other.to_str().unwrap(), "2"), "not empty");
    assert!(other.join("thesis.tex").exists());
    // a file in place of the folder
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    assert_clean_failure(&dump_args(file.to_str().unwrap(), "2"), "not a folder");
    // a manifest that lists paths outside the folder is not a dump: nothing is removed
    let evil = tmp.path().join("evil");
    std::fs::create_dir(&evil).unwrap();
    let victim = tmp.path().join("victim.npy");
    std::fs::write(&victim, "keep").unwrap();
    std::fs::write(
        evil.join("manifest.json"),
        r#"{"format":"gradscope-dump-1","files":[{"file":"../victim.npy"}]}"#,
    )
    .unwrap();
    std::fs::write(evil.join("other.npy"), "x").unwrap();
    assert_clean_failure(&dump_args(evil.to_str().unwrap(), "2"), "does not list");
    assert!(victim.exists());
    // an empty folder is fine
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = gradscope(&dump_args(empty.to_str().unwrap(), "2"));
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_nan_loss_in_the_manifest_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("dump");
    let out = gradscope(&dump_args(d.to_str().unwrap(), "2"));
    assert!(out.status.success(), "{}", stderr(&out));
    let path = d.join("manifest.json");
    for (loss, text) in [
        (f64::NAN, "\"NaN\""),
        (f64::INFINITY, "\"Infinity\""),
        (f64::NEG_INFINITY, "\"-Infinity\""),
        (0.25, "0.25"),
    ] {
        let mut manifest = gradscope::dump::LoadedDump::read(&d).unwrap().manifest;
        manifest.loss = loss;
        let json = serde_json::to_string_pretty(&manifest).unwrap();
        assert!(json.contains(&format!("\"loss\": {text}")), "{json}");
        std::fs::write(&path, json).unwrap();
        let back = gradscope::dump::LoadedDump::read(&d).unwrap().manifest.loss;
        assert!(
            back.to_bits() == loss.to_bits() || (back.is_nan() && loss.is_nan()),
            "{loss} read back as {back}"
        );
    }
    // a manifest written as null (before this representation) reads as NaN
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"loss\": 0.25", "\"loss\": null");
    std::fs::write(&path, text).unwrap();
    assert!(
        gradscope::dump::LoadedDump::read(&d)
            .unwrap()
            .manifest
            .loss
            .is_nan()
    );
}

#[test]
fn default_config_round_trips_through_the_cli_resolver() {
    // the fuzz test's premise: the default flags resolve to the default preset
    let args = AppLike::try_parse_from(["app"]).unwrap();
    let cfg: NetConfig = args.config.resolve().unwrap();
    assert_eq!(
        cfg,
        gradscope::model::Preset::builtin(gradscope::model::DEFAULT_PRESET)
            .unwrap()
            .config()
    );
}

// ---- item 10: foreign "error:" lines ----

/// The private runtime folders gradscope made in the temp dir.
fn private_runtime_dirs() -> Vec<String> {
    std::fs::read_dir(std::env::temp_dir())
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("gradscope-runtime-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn gpu_commands_print_no_foreign_errors_without_xdg_runtime_dir() {
    // Mesa's device-select Vulkan layer probes Wayland; libwayland then wrote "error: XDG_RUNTIME_DIR is
    // invalid or not set in the environment." to stderr twice per GPU command
    let before = private_runtime_dirs();
    for (args, unset) in [
        (vec!["adapters"], true),
        (
            vec!["stats", "--depth", "2", "--width", "3", "--batch", "2"],
            true,
        ),
        (vec!["adapters"], false),
    ] {
        let mut cmd = std::process::Command::new(crate::common::bin());
        cmd.args(&args).env("GRADSCOPE_TUNE", "off");
        if unset {
            cmd.env_remove("XDG_RUNTIME_DIR");
        } else {
            cmd.env("XDG_RUNTIME_DIR", "relative/not/valid");
        }
        let out = cmd.output().expect("runs gradscope");
        let err = stderr(&out);
        assert!(out.status.success(), "{args:?}: {err}");
        assert!(!out.stdout.is_empty(), "{args:?}");
        assert!(
            !err.lines().any(|l| l.starts_with("error")),
            "{args:?}: {err}"
        );
    }
    assert_eq!(
        private_runtime_dirs(),
        before,
        "the private folder is removed"
    );
}

/// The llvmpipe lines of `gradscope adapters` run with `LP_NUM_THREADS` removed (`None`) or set.
fn lavapipe_lines(lp_threads: Option<&str>) -> Vec<String> {
    let mut cmd = std::process::Command::new(crate::common::bin());
    cmd.arg("adapters").env("XDG_RUNTIME_DIR", "/tmp");
    match lp_threads {
        Some(n) => cmd.env("LP_NUM_THREADS", n),
        None => cmd.env_remove("LP_NUM_THREADS"),
    };
    let out = cmd.output().expect("runs gradscope");
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("llvmpipe"))
        .map(str::to_string)
        .collect()
}

#[test]
fn lavapipe_gets_its_threads_per_core_unless_the_user_chose() {
    // lavapipe hands each thread one share of a dispatch's workgroups: gradscope starts it with
    // gpu::device::LAVAPIPE_THREADS_PER_CORE threads per core, and a user's LP_NUM_THREADS stands
    let ours = lavapipe_lines(None);
    if ours.is_empty() {
        // CI installs lavapipe (.ci/run): there it must be listed
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but `gradscope adapters` lists no lavapipe"
        );
        println!("no lavapipe on this machine: nothing to check");
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for line in &ours {
        if cores > 1 {
            assert!(
                line.ends_with(&format!(
                    " · {} lavapipe threads",
                    gradscope::gpu::device::LAVAPIPE_THREADS_PER_CORE * cores
                )),
                "{cores} cores: {line}"
            );
        } else {
            assert!(!line.contains("lavapipe threads"), "one core: {line}");
        }
    }
    for line in lavapipe_lines(Some("3")) {
        assert!(line.ends_with(" · 3 lavapipe threads"), "{line}");
    }
}
