//! The gradscope command line: parses flags and dispatches to a subcommand; one clean error on failure.
#![deny(unsafe_code)]

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use gradscope::cli::{ConfigArgs, EngineKind, MAX_STEPS, parse_steps, report_steps, step_chunks};
use gradscope::model::{BUILTIN_PRESETS, Preset};
use gradscope::reference::Reference;
use gradscope::stats::StepStats;

/// `println!` for the command's output: a closed stdout (`gradscope bench | head`) ends the program
/// quietly with status 0 where `println!` would panic; any other write error is reported (status 1).
macro_rules! out {
    ($($arg:tt)*) => {{
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            stdout_failed(&e);
        }
    }};
}

/// Ends the program after a failed write to stdout: quietly where the reader has gone (a broken pipe),
/// with the error otherwise.
fn stdout_failed(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: writing the output: {e}");
    std::process::exit(1);
}

#[derive(Parser)]
#[command(
    name = "gradscope",
    version,
    about = "Watch gradients vanish and explode in deep networks"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print per-layer gradient statistics while training
    Stats(StatsArgs),
    /// List the built-in presets with their titles
    Presets,
    /// List the GPU adapters wgpu sees
    Adapters(AdaptersArgs),
    /// Open the app window on a configuration (default: the last session's settings, else the default preset)
    App(AppArgs),
    /// Draw a view as a PNG figure without a window (the same drawing code as the app)
    Render(RenderArgs),
    /// Time whole training steps of the benchmark configurations on the GPU
    Bench(BenchArgs),
    /// The trainability map: a grid of nets around CONFIG, two settings swept, all trained at once on the
    /// GPU, with the mean-field order-to-chaos line
    Sweep(SweepArgs),
}

#[derive(clap::Args)]
struct SweepArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The horizontal axis, AXIS:FROM:TO:N with AXIS one of gain, bias-std, depth, lr, width (2..=64 cells)
    #[arg(long, value_name = "AXIS:FROM:TO:N", default_value = "gain:0.5:3:24")]
    x: gradscope::sweep::Axis,
    /// The vertical axis, AXIS:FROM:TO:N
    #[arg(
        long,
        value_name = "AXIS:FROM:TO:N",
        default_value = "bias-std:0:0.5:24"
    )]
    y: gradscope::sweep::Axis,
    /// Training steps before the metric is read (0: at init), 0..=100000
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100_000), allow_negative_numbers = true)]
    steps: u32,
    /// What each cell shows: log10 of ‖δ_1‖/‖δ_L‖, the loss relative to the initial loss, or the fraction
    /// of NaN/Inf values
    #[arg(long, value_enum, default_value = "grad-ratio")]
    metric: gradscope::sweep::Metric,
    /// One JSON object with the sweep, the theory lines and every cell
    #[arg(long)]
    json: bool,
    /// Also draw the map as a PNG figure (the sweep is stored in it: `gradscope app --from-figure` reopens it)
    #[arg(long, value_name = "FILE.png")]
    out: Option<PathBuf>,
    /// Size of the figure in pixels, WxH
    #[arg(long, value_name = "WxH", value_parser = parse_size, default_value = "1920x1200")]
    size: [u32; 2],
    /// Light (slides) or dark figure
    #[arg(long, value_enum, default_value = "light")]
    theme: gradscope::viz::FigureTheme,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// quick: tiny nets for software adapters; full: S, M, L, deep and rnn of docs/DESIGN.md §Performance;
    /// lessons: the default preset, a 100-step RNN and the LSTM lesson, as the window trains them
    #[arg(long, value_enum, default_value = "quick")]
    suite: gradscope::bench::Suite,
    /// One JSON object per configuration
    #[arg(long)]
    json: bool,
    /// Use the GPU adapter whose name contains this text (also WGPU_ADAPTER_NAME)
    #[arg(long)]
    adapter: Option<String>,
    /// GPU backend
    #[arg(long, value_enum)]
    backend: Option<gradscope::cli::BackendArg>,
    /// Instead of the suite: train the default preset for N steps and report host memory (RSS) and GPU
    /// memory at the start, along the way and at the end (both should stay flat)
    #[arg(long, value_name = "N", value_parser = parse_soak_steps, conflicts_with = "suite")]
    soak: Option<u64>,
    /// Time every engine variant (matmul tile policies) of every configuration, side by side
    #[arg(long, conflicts_with = "soak")]
    variants: bool,
    /// Instead of timing steps: the GPU time of every kernel of a step (each dispatch timed alone, from
    /// timestamp queries), per configuration; the `...Bare` kernels are those that replace a kernel in
    /// the steps whose statistics nobody reads (every step of a run but its last)
    #[arg(long, conflicts_with_all = ["soak", "variants"])]
    profile: bool,
    /// Instead of the suite: time the trainability map (full: a 24 x 24 gain x bias-std grid of
    /// depth-30 width-64 tanh nets, at init and trained 100 steps; quick: 8 x 8, 10 steps) beside
    /// single-net engines of the same shape
    #[arg(long, conflicts_with_all = ["soak", "variants", "profile"])]
    sweep: bool,
}

/// Parses `--soak`: 1..=[`MAX_STEPS`] steps.
fn parse_soak_steps(s: &str) -> std::result::Result<u64, String> {
    parse_steps(s).and_then(|n| {
        if n == 0 {
            Err(format!(
                "'{s}' is out of range: a soak runs 1..={MAX_STEPS} steps"
            ))
        } else {
            Ok(n)
        }
    })
}

#[derive(clap::Args)]
struct AppArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Restore the exact config of a figure exported by gradscope (its `gradscope-config` PNG chunk)
    #[arg(long, value_name = "FILE.png")]
    from_figure: Option<PathBuf>,
}

#[derive(clap::Args)]
struct RenderArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Training steps before the figure's gradient (the time views sample the steps in between),
    /// 0..=1000000000
    #[arg(long, default_value_t = 0, value_parser = parse_steps, allow_negative_numbers = true)]
    steps: u64,
    /// The view to draw
    #[arg(long, value_enum)]
    view: gradscope::viz::View,
    /// The file to write: a PNG (the config in its `gradscope-config` text chunk); with --animate a GIF (the
    /// config in a comment) or, named .png, an animated PNG (lossless)
    #[arg(long, value_name = "FILE.png|FILE.gif")]
    out: PathBuf,
    /// Draw the view as it changes over training: an animated GIF (or APNG for a .png name) with a frame
    /// every --every steps from step 0 to --steps (at most 240 frames)
    #[arg(long)]
    animate: bool,
    /// Steps between history points of the time views and, with --animate, between frames (default: about
    /// 300 points over the run)
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..), allow_negative_numbers = true)]
    every: Option<u64>,
    /// With --animate: milliseconds each frame shows (10..=10000)
    #[arg(long, value_name = "MS", default_value_t = 120, value_parser = clap::value_parser!(u32).range(10..=10_000))]
    frame_ms: u32,
    /// Size in pixels, WxH (drawn at 2 pixels per point; at least 1280x800)
    #[arg(long, value_name = "WxH", value_parser = parse_size, default_value = "1920x1200")]
    size: [u32; 2],
    /// Light (slides) or dark
    #[arg(long, value_enum, default_value = "light")]
    theme: gradscope::viz::FigureTheme,
    /// Colour range: fixed decades 1e-18..1e2, or auto (fit the data)
    #[arg(long)]
    auto_range: bool,
    /// rnn: draw this network (A) beside B, the same network with this recurrent cell, trained in
    /// lockstep on the same data and seed, on one colour scale (as the app's compare mode)
    #[arg(long, value_enum, value_name = "CELL")]
    compare_cell: Option<gradscope::model::Cell>,
}

/// Largest side of a rendered figure, pixels (the adapter's texture limit may be lower; that is checked
/// once the GPU is open, before training).
const MAX_RENDER_SIDE: u32 = 16384;

/// Parses `WxH`, e.g. `1920x1200`: at least [`MIN_EXPORT_SIZE`], at most 16384 a side.
///
/// [`MIN_EXPORT_SIZE`]: gradscope::viz::offscreen::MIN_EXPORT_SIZE
fn parse_size(s: &str) -> std::result::Result<[u32; 2], String> {
    let [min_w, min_h] = gradscope::viz::offscreen::MIN_EXPORT_SIZE;
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("'{s}' is not WxH, e.g. 1920x1200"))?;
    let parse = |v: &str, min: u32| {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (min..=MAX_RENDER_SIDE).contains(n))
    };
    match (parse(w, min_w), parse(h, min_h)) {
        (Some(w), Some(h)) => Ok([w, h]),
        _ => Err(format!(
            "'{s}': the width must be a whole number in {min_w}..={MAX_RENDER_SIDE} and the height in {min_h}..={MAX_RENDER_SIDE} (below {min_w}x{min_h} a figure leaves its plot no room)"
        )),
    }
}

#[derive(clap::Args)]
struct AdaptersArgs {
    /// Only this backend
    #[arg(long, value_enum)]
    backend: Option<gradscope::cli::BackendArg>,
}

#[derive(clap::Args)]
struct StatsArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Training steps (updates) to run, 0..=1000000000; statistics are reported after 0, K, 2K, ... and N
    /// updates
    #[arg(long, default_value_t = 0, value_parser = parse_steps, allow_negative_numbers = true)]
    steps: u64,
    /// Report every K steps
    #[arg(
        long,
        default_value_t = 1,
        value_parser = clap::value_parser!(u64).range(1..),
        allow_negative_numbers = true
    )]
    every: u64,
    /// One JSON object per reported step
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// CSV, one row per layer and reported step
    #[arg(long)]
    csv: bool,
    /// Also bin every layer's f(z) and log10 |δ| (the `histogram` object of each layer in --json; MLPs
    /// and vanilla RNNs)
    #[arg(long, requires = "json")]
    histograms: bool,
    /// Write the state of the last reported gradient (npy files + manifest.json) into DIR: a new or empty
    /// folder, or a previous dump (whose listed files are replaced); any other folder is refused
    #[arg(long, value_name = "DIR")]
    dump: Option<PathBuf>,
}

fn main() {
    process_env::ensure();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        // --help, --version and bad flags end here
        Err(e) => e.exit(),
    };
    if let Err(err) = run(cli, &matches) {
        // a reader that stopped early (`gradscope stats | head`) is not an error
        if let Some(e) = err.chain().find_map(|c| c.downcast_ref::<std::io::Error>())
            && e.kind() == std::io::ErrorKind::BrokenPipe
        {
            stdout_failed(e);
        }
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

/// The environment the drivers read when they load, set before any GPU work by re-executing gradscope
/// once (same process id, arguments and environment, plus what is set here) where something is missing.
///
/// - `XDG_RUNTIME_DIR`, to keep libwayland's complaint off the terminal. Mesa's implicit Vulkan layer
///   `VK_LAYER_MESA_device_select` looks for the default GPU by connecting to a Wayland compositor
///   whenever the instance enables `VK_KHR_wayland_surface` (wgpu always does); with `XDG_RUNTIME_DIR`
///   unset or not an absolute path, libwayland-client then writes "error: XDG_RUNTIME_DIR is invalid or
///   not set in the environment." straight to stderr, once per device enumeration (two lines per GPU
///   command on lavapipe). It is a C library writing to fd 2, so no log filter reaches it. Where the
///   variable is missing, the re-executed process gets one naming a fresh private (0700) folder in the
///   temp dir: the probe then finds no socket and fails quietly, as on any machine without a
///   compositor. The folder only reserves the name; the re-executed process removes it at once
///   (libwayland needs only an absolute path), so nothing is left behind even when the command is
///   interrupted.
/// - `LP_NUM_THREADS`, lavapipe's worker threads, where the user has not set it: one per core
///   (`gradscope::gpu::device::LAVAPIPE_THREADS_PER_CORE` says why). Only Mesa's software drivers
///   read it, so a GPU is not affected.
///
/// Re-executing, rather than setting the variables in this process, keeps `main` free of `unsafe`
/// (`std::env::set_var`) and reaches the C libraries the same way a shell would.
mod process_env {
    use std::ffi::OsString;
    use std::path::Path;

    /// Names the private runtime folder the re-executed process removes.
    const MARKER: &str = "GRADSCOPE_PRIVATE_RUNTIME_DIR";
    /// Marks a re-executed process (and its children), which re-executes no further.
    const READY: &str = "GRADSCOPE_ENV_READY";

    /// Re-executes where a variable is missing (returning only if that fails, or on other systems);
    /// in the re-executed process, removes the folder that reserved the runtime dir's name.
    pub fn ensure() {
        if std::env::var_os(READY).is_some() {
            if let Some(dir) = std::env::var_os(MARKER) {
                // empty: nothing is ever created in it
                let _ = std::fs::remove_dir(Path::new(&dir));
            }
            return;
        }
        if !cfg!(target_os = "linux") {
            return;
        }
        let runtime_ok =
            std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| Path::new(&d).is_absolute());
        let threads = gradscope::gpu::device::lavapipe_threads_default().map(OsString::from);
        if !runtime_ok || threads.is_some() {
            reexec(!runtime_ok, threads);
        }
    }

    #[cfg(unix)]
    fn reexec(runtime_dir: bool, threads: Option<OsString>) {
        use std::os::unix::fs::DirBuilderExt;
        use std::os::unix::process::CommandExt;
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let mut args = std::env::args_os();
        let mut cmd = std::process::Command::new(exe);
        if let Some(arg0) = args.next() {
            cmd.arg0(arg0);
        }
        cmd.args(args).env(READY, "1");
        if let Some(n) = threads {
            cmd.env(gradscope::gpu::device::LAVAPIPE_THREADS_ENV, n);
        }
        let mut dir = None;
        if runtime_dir {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let path = std::env::temp_dir()
                .join(format!("gradscope-runtime-{}-{nanos}", std::process::id()));
            if std::fs::DirBuilder::new().mode(0o700).create(&path).is_ok() {
                cmd.env("XDG_RUNTIME_DIR", &path).env(MARKER, &path);
                dir = Some(path);
            }
        }
        // only returns if the exec failed: go on as we are
        let _err = cmd.exec();
        if let Some(dir) = dir {
            let _ = std::fs::remove_dir(&dir);
        }
    }

    #[cfg(not(unix))]
    fn reexec(_runtime_dir: bool, _threads: Option<OsString>) {}
}

fn run(cli: Cli, matches: &clap::ArgMatches) -> Result<()> {
    match cli.command {
        Some(Command::Stats(args)) => stats(&args),
        Some(Command::Presets) => presets(),
        Some(Command::Adapters(a)) => adapters(&a),
        Some(Command::Bench(b)) => bench(&b),
        Some(Command::App(args)) => {
            let given = matches
                .subcommand_matches("app")
                .map(ConfigArgs::network_flags_given)
                .unwrap_or_default();
            app(&args.config, &given, args.from_figure.as_deref())
        }
        Some(Command::Render(args)) => render(&args),
        Some(Command::Sweep(args)) => sweep(&args),
        None => app(&ConfigArgs::default(), &[], None),
    }
}

/// Opens the window. `given` lists the network flags given on the command line (from the parsed
/// arguments): none restores the last session, some are resolved and validated first, and none may come
/// with `--from-figure`, which restores the figure's whole config. Every config is validated here, before
/// a window opens.
fn app(config: &ConfigArgs, given: &[String], from_figure: Option<&std::path::Path>) -> Result<()> {
    let initial = if let Some(path) = from_figure {
        if !given.is_empty() {
            bail!(
                "--from-figure restores the figure's whole config: leave out {}",
                given.join(", ")
            );
        }
        Some(gradscope::app::share::config_from_png(path)?)
    } else if !given.is_empty() {
        Some(config.resolve()?)
    } else {
        None
    };
    if let Some(cfg) = &initial {
        cfg.validate()?;
    }
    // after the config: a figure that cannot be read is reported once, by the config's reader
    let sweep = match from_figure {
        Some(path) => gradscope::app::share::sweep_from_png(path)?,
        None => None,
    };
    if let (Some(spec), Some(cfg)) = (&sweep, &initial) {
        spec.check(cfg)?;
    }
    gradscope::app::run(initial, sweep, &config.gpu_options())
}

/// Renders a figure. Every check that can fail comes before training: the config, the output file (a
/// `.png` in an existing folder, writable; created now and removed again if the command fails), and the
/// size against the adapter's texture limit.
fn render(args: &RenderArgs) -> Result<()> {
    use gradscope::viz::offscreen::{PngOutput, check_export_size};
    let cfg = args.config.resolve()?;
    let compare = match args.compare_cell {
        Some(cell) => {
            if cfg.arch != gradscope::model::Arch::Rnn {
                anyhow::bail!("--compare-cell compares recurrent cells: use it with --arch rnn");
            }
            let b = gradscope::model::NetConfig {
                cell,
                ..cfg.clone()
            };
            b.validate()?;
            Some(b)
        }
        None => None,
    };
    if args.view == gradscope::viz::View::Trainability {
        bail!(
            "the trainability map is a grid of networks, not one: draw it with `gradscope sweep --out {}`",
            args.out.display()
        );
    }
    if args.animate && compare.is_some() {
        bail!("an animation draws one network: leave out --compare-cell");
    }
    let req = gradscope::app::render::RenderRequest {
        cfg,
        compare,
        engine: args.config.engine,
        steps: args.steps,
        view: args.view,
        out: args.out.clone(),
        size: args.size,
        theme: args.theme,
        range: if args.auto_range {
            gradscope::viz::RangeMode::Auto
        } else {
            gradscope::viz::RangeMode::default()
        },
        every: args.every,
    };
    let out = if args.animate {
        // counted, not listed: --every 1 over 1e9 steps is refused without allocating the list
        let every = gradscope::app::render::history_every(&req);
        let frames = gradscope::app::render::frame_count(req.steps, every);
        gradscope::viz::offscreen::check_animation_size(frames, args.size)?;
        PngOutput::claim_animation(&args.out)?
    } else {
        PngOutput::claim(&args.out)?
    };
    let gpu = args.config.open_gpu()?;
    check_export_size(args.size, gpu.device.limits().max_texture_dimension_2d)?;
    if args.animate {
        let mut last = std::time::Instant::now();
        let frames = gradscope::app::render::render_animation(&gpu, &req, &mut |done, all| {
            if last.elapsed().as_secs_f64() > 2.0 {
                eprintln!("  frame {done} of {all}");
                last = std::time::Instant::now();
            }
        })
        .with_context(|| format!("cannot animate {}", args.view.slug()))?;
        let images: Vec<egui::ColorImage> = frames.into_iter().map(|(_, image)| image).collect();
        let json = gradscope::app::views::config_json(&req.cfg);
        if gradscope::viz::offscreen::is_png_path(&args.out) {
            gradscope::viz::offscreen::write_apng(&args.out, &images, args.frame_ms, &json)?;
        } else {
            gradscope::viz::offscreen::write_gif(&args.out, &images, args.frame_ms, &json)?;
        }
        out.keep();
        out!(
            "wrote {} ({} frames of {}x{}, {} view, {})",
            args.out.display(),
            images.len(),
            args.size[0],
            args.size[1],
            args.view.slug(),
            gpu.adapter
        );
        return Ok(());
    }
    let [w, h] = gradscope::app::render::render(&gpu, &req).with_context(|| {
        format!(
            "cannot render {} to {}",
            args.view.slug(),
            args.out.display()
        )
    })?;
    out.keep();
    out!(
        "wrote {} ({w}x{h}, {} view, {})",
        args.out.display(),
        args.view.slug(),
        gpu.adapter
    );
    Ok(())
}

/// Runs a sweep: every check first (axes, every corner's config, the output file, the adapter's
/// limits), then the grid, then the table or JSON and the figure.
fn sweep(args: &SweepArgs) -> Result<()> {
    use gradscope::sweep::{SweepSpec, run};
    use gradscope::viz::offscreen::{PngOutput, check_export_size};
    let base = args.config.resolve()?;
    if args.config.engine == EngineKind::Cpu {
        bail!("a sweep trains its grid of nets together on the GPU: leave out --engine cpu");
    }
    let spec = SweepSpec {
        x: args.x,
        y: args.y,
        steps: args.steps,
        metric: args.metric,
    };
    spec.check(&base)?;
    let out = args.out.as_deref().map(PngOutput::claim).transpose()?;
    let gpu = args.config.open_gpu()?;
    if args.out.is_some() {
        check_export_size(args.size, gpu.device.limits().max_texture_dimension_2d)?;
    }
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let mut last_report = std::time::Instant::now();
    let mut progress = |done: usize, total: usize| {
        if !args.json && last_report.elapsed().as_secs_f64() > 2.0 {
            eprintln!(
                "  {:.0}% of the grid",
                100.0 * done as f64 / total.max(1) as f64
            );
            last_report = std::time::Instant::now();
        }
    };
    let options = gradscope::gpu::EngineOptions::from_env()?;
    let result = run(&gpu, &spec, &base, options, &mut progress, &cancel)?;
    if args.json {
        out!("{}", serde_json::to_string(&result)?);
    } else {
        print_sweep(&result);
    }
    if let (Some(out), Some(path)) = (out, &args.out) {
        let [w, h] =
            gradscope::app::render::render_sweep(&gpu, &result, path, args.size, args.theme)
                .with_context(|| format!("cannot draw the map to {}", path.display()))?;
        out.keep();
        if !args.json {
            out!("wrote {} ({w}x{h})", path.display());
        }
    }
    Ok(())
}

/// The grid as a table (top row: the largest y), then where the metric crosses 0 against the theory.
fn print_sweep(r: &gradscope::sweep::SweepResult) {
    let spec = &r.spec;
    out!(
        "sweep of {} nets ({} x {}), {} on {}: {} engine(s), {} dispatches per step, {:.1} MiB, {:.2} s",
        r.cells.len(),
        spec.x.param.name(),
        spec.y.param.name(),
        spec.metric.name(),
        r.adapter,
        r.engines,
        r.dispatches_per_step,
        r.gpu_bytes as f64 / (1024.0 * 1024.0),
        r.seconds
    );
    out!("{}", spec.metric.label());
    let head: String = spec
        .x
        .values()
        .iter()
        .map(|x| format!("{x:>7.3}"))
        .collect();
    out!(
        "{:>9} |{head}",
        format!("{}/{}", spec.y.param.name(), spec.x.param.name())
    );
    for iy in (0..spec.y.cells).rev() {
        let row: String = (0..spec.x.cells)
            .map(|ix| match r.cell(ix, iy).and_then(|c| c.value) {
                Some(v) if v.is_finite() => format!("{v:>7.2}"),
                Some(_) => format!("{:>7}", "NaN"),
                None => format!("{:>7}", "zero"),
            })
            .collect();
        out!("{:>9.3} |{row}", spec.y.value(iy));
    }
    if spec.metric == gradscope::sweep::Metric::GradRatio && !r.theory.critical.is_empty() {
        out!("where ‖δ_1‖/‖δ_L‖ crosses 1 along x, beside the mean-field χ₁ = 1 line:");
        for (y, x) in r.zero_crossings() {
            let theory = gradscope::sweep::theory_at(&r.theory.critical, spec, y);
            let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
            out!(
                "  {} {y:.3}: measured {}  theory {}",
                spec.y.param.name(),
                fmt(x),
                fmt(theory)
            );
        }
    } else if !r.theory.note.is_empty() {
        out!("{}", r.theory.note);
    }
}

fn bench(args: &BenchArgs) -> Result<()> {
    let ctx = ConfigArgs {
        adapter: args.adapter.clone(),
        backend: args.backend,
        ..ConfigArgs::default()
    }
    .open_gpu()?;
    if let Some(steps) = args.soak {
        return soak(&ctx, steps, args.json);
    }
    if args.sweep {
        let r = gradscope::bench::sweep_bench(&ctx, args.suite)?;
        if args.json {
            out!("{}", serde_json::to_string(&r)?);
        } else {
            out!("{}", gradscope::bench::adapter_line(&ctx));
            out!(
                "{}: {} nets x {} steps in {} engine(s), {} dispatches/step, {:.1} MiB GPU",
                r.config,
                r.nets,
                r.steps,
                r.engines,
                r.dispatches_per_step,
                r.gpu_mib
            );
            out!(
                "  at init (gradient ratio of every net): {:.2} s",
                r.init_secs
            );
            out!(
                "  trained {} steps: {:.2} s = {:.1} ms per grid step, {:.3} ms per net-step",
                r.steps,
                r.train_secs,
                r.grid_ms_per_step,
                r.net_ms_per_step
            );
            out!(
                "  one engine per net: {:.2} ms per net-step ({:.1}x the population's)",
                r.single_net_ms_per_step,
                r.single_net_ms_per_step / r.net_ms_per_step.max(1e-12)
            );
        }
        return Ok(());
    }
    if args.profile {
        let Some(rows) = gradscope::bench::profile(&ctx, args.suite)? else {
            bail!("{} has no GPU timestamps: nothing to profile", ctx.adapter);
        };
        if !args.json {
            out!("{}", gradscope::bench::adapter_line(&ctx));
            out!(
                "{:<11} {:<10} {:<24} {:>10} {:>9}",
                "config",
                "path",
                "kernel",
                "disp/step",
                "gpu ms"
            );
        }
        for r in &rows {
            if args.json {
                out!("{}", serde_json::to_string(r).unwrap_or_default());
            } else {
                out!(
                    "{:<11} {:<10} {:<24} {:>10} {:>9.3}",
                    r.config,
                    r.path,
                    r.kernel,
                    r.dispatches,
                    r.ms
                );
            }
        }
        return Ok(());
    }
    if !args.json {
        out!("{}", gradscope::bench::adapter_line(&ctx));
        out!("{}", gradscope::bench::header());
    }
    // each row as soon as it is measured, so a long suite shows progress
    gradscope::bench::run_suite(&ctx, args.suite, args.variants, |r| {
        if args.json {
            out!("{}", serde_json::to_string(r).unwrap_or_default());
        } else {
            out!("{}", gradscope::bench::row(r));
        }
    });
    Ok(())
}

/// `bench --soak N`: the default preset for N steps, memory reported as it goes.
fn soak(ctx: &gradscope::gpu::GpuContext, steps: u64, json: bool) -> Result<()> {
    if !json {
        out!("{}", gradscope::bench::adapter_line(ctx));
        out!("{}", gradscope::bench::soak_header());
    }
    let summary = gradscope::bench::soak(ctx, steps, |s| {
        if json {
            out!("{}", serde_json::to_string(s).unwrap_or_default());
        } else {
            out!("{}", gradscope::bench::soak_row(s));
        }
    })?;
    if !json {
        out!("{summary}");
    }
    Ok(())
}

fn adapters(args: &AdaptersArgs) -> Result<()> {
    let opts = ConfigArgs {
        backend: args.backend,
        ..ConfigArgs::default()
    }
    .gpu_options();
    let list = gradscope::gpu::device::list_adapters(&opts);
    if list.is_empty() {
        bail!(
            "wgpu sees no adapter on {:?}; on Linux without a GPU install mesa-vulkan-drivers (software Vulkan)",
            opts.backends()
        );
    }
    for info in list {
        out!(
            "{}{}",
            gradscope::gpu::device::describe(&info),
            gradscope::gpu::device::threads_text(gradscope::gpu::device::lavapipe_threads(&info))
        );
    }
    Ok(())
}

fn presets() -> Result<()> {
    let mut out = std::io::stdout().lock();
    for (name, _) in BUILTIN_PRESETS {
        let p = Preset::builtin(name)?;
        writeln!(out, "{name:<20} {}", p.title)?;
    }
    Ok(())
}

fn stats(args: &StatsArgs) -> Result<()> {
    let cfg = args.config.resolve()?;
    if let Some(dir) = &args.dump {
        // refuse a folder the dump cannot go to before training, not after
        gradscope::dump::check_dir(dir)?;
    }
    let mut printer = Printer::new(args.json, args.csv);
    match args.config.engine {
        EngineKind::Cpu => {
            let mut engine = Reference::new(&cfg)?;
            let mut done = 0;
            for at in report_steps(args.steps, args.every) {
                while done < at {
                    engine.step();
                    done += 1;
                }
                let pass = engine.pass();
                let mut stats = engine.stats_of(&pass);
                if args.histograms {
                    stats = stats.with_histograms(engine.histograms(&pass).unwrap_or_default());
                }
                printer.print(&stats)?;
                if at == args.steps
                    && let Some(dir) = &args.dump
                {
                    gradscope::dump::write_reference(dir, &engine, &pass)
                        .with_context(|| format!("cannot write the dump to {}", dir.display()))?;
                }
            }
        }
        EngineKind::Gpu => {
            let ctx = args.config.open_gpu()?;
            // the tuner's path for this shape class (GRADSCOPE_ENGINE forces one, GRADSCOPE_TUNE=off
            // keeps the defaults)
            let mut engine = gradscope::gpu::tuner::tuned_engine(&ctx, &cfg)?;
            engine.set_histograms(args.histograms);
            let mut done = 0;
            for at in report_steps(args.steps, args.every) {
                // whole u32 chunks: never a count truncated to fit the engine's argument
                for n in step_chunks(at - done) {
                    engine.step(n);
                }
                done = at;
                engine.compute();
                let stats = engine.wait_stats()?;
                if engine.updates() != done {
                    bail!(
                        "the GPU engine reports {} updates where {done} were asked for",
                        engine.updates()
                    );
                }
                printer.print(&stats)?;
                if at == args.steps
                    && let Some(dir) = &args.dump
                {
                    gradscope::dump::write_gpu(dir, &engine)
                        .with_context(|| format!("cannot write the dump to {}", dir.display()))?;
                }
            }
        }
    }
    Ok(())
}

struct Printer {
    json: bool,
    csv: bool,
    header_done: bool,
}

impl Printer {
    fn new(json: bool, csv: bool) -> Printer {
        Printer {
            json,
            csv,
            header_done: false,
        }
    }

    fn print(&mut self, s: &StepStats) -> Result<()> {
        let mut out = std::io::stdout().lock();
        if self.json {
            writeln!(out, "{}", serde_json::to_string(s)?)?;
        } else if self.csv {
            if !self.header_done {
                writeln!(out, "{}", StepStats::CSV_HEADER)?;
                self.header_done = true;
            }
            for row in s.csv_rows() {
                writeln!(out, "{row}")?;
            }
        } else {
            let loss = s
                .loss
                .filter(|l| l.is_finite())
                .map_or("NaN/Inf".to_string(), |l| format!("{l:.6}"));
            writeln!(
                out,
                "step {}  loss {loss}  ({} on {})",
                s.step, s.engine, s.adapter
            )?;
            // gated cells add the mean keep gate (LSTM forget, GRU update) and the LSTM's cell path
            let gated = s.layers.iter().any(|l| l.gates.is_some());
            writeln!(
                out,
                "  layer  log10|dL/dW|  log10 rms(delta)  act_rms  saturated  dead{}",
                if gated {
                    "   keep  log10 rms(dL/dc)"
                } else {
                    ""
                }
            )?;
            let fmt = |v: Option<f64>| v.map_or("zero".to_string(), |x| format!("{x:.3}"));
            for l in &s.layers {
                let extra = match &l.gates {
                    Some(g) => format!(
                        "  {:>5.3}  {:>16}",
                        g.keep_mean,
                        if g.log10_mean_abs_cell_delta.is_empty() {
                            "-".to_string()
                        } else {
                            fmt(g.log10_cell_delta_rms)
                        }
                    ),
                    None => String::new(),
                };
                writeln!(
                    out,
                    "  {:>5}  {:>12}  {:>16}  {:>7.3}  {:>9.3}  {:>4.2}{extra}",
                    l.index,
                    fmt(l.log10_grad_w_norm),
                    fmt(l.log10_delta_rms),
                    l.act_rms,
                    l.saturated_fraction,
                    l.dead_fraction
                )?;
            }
            if s.nonfinite {
                writeln!(out, "  note: NaN or Inf appeared: the gradients exploded")?;
            }
        }
        Ok(())
    }
}
