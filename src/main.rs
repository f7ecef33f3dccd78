//! The gradscope command line: parses flags and dispatches to a subcommand; one clean error on failure.
#![deny(unsafe_code)]

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use gradscope::cli::{ConfigArgs, EngineKind};
use gradscope::gpu::Engine;
use gradscope::model::{BUILTIN_PRESETS, Preset};
use gradscope::reference::Reference;
use gradscope::stats::StepStats;

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
}

#[derive(clap::Args)]
struct BenchArgs {
    /// quick: tiny nets for software adapters; full: the GUIDE's S, M, L, deep and rnn
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
    /// Training steps before the figure's gradient (the time views sample the steps in between)
    #[arg(long, default_value_t = 0)]
    steps: u64,
    /// The view to draw
    #[arg(long, value_enum)]
    view: gradscope::viz::View,
    /// The PNG file to write (the config is stored in its `gradscope-config` text chunk)
    #[arg(long, value_name = "FILE.png")]
    out: PathBuf,
    /// Size in pixels, WxH (drawn at 2 pixels per point)
    #[arg(long, value_name = "WxH", value_parser = parse_size, default_value = "1920x1200")]
    size: [u32; 2],
    /// Light (slides) or dark
    #[arg(long, value_enum, default_value = "light")]
    theme: gradscope::viz::FigureTheme,
    /// Colour range: fixed decades 1e-18..1e2, or auto (fit the data)
    #[arg(long)]
    auto_range: bool,
}

/// Parses `WxH`, e.g. `1920x1200`.
fn parse_size(s: &str) -> std::result::Result<[u32; 2], String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("'{s}' is not WxH, e.g. 1920x1200"))?;
    let parse = |v: &str| {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (16..=16384).contains(n))
    };
    match (parse(w), parse(h)) {
        (Some(w), Some(h)) => Ok([w, h]),
        _ => Err(format!(
            "'{s}': width and height must be whole numbers in 16..=16384"
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
    /// Training steps (updates) to run; statistics are reported after 0, K, 2K, ... and N updates
    #[arg(long, default_value_t = 0)]
    steps: u64,
    /// Report every K steps
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    every: u64,
    /// One JSON object per reported step
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// CSV, one row per layer and reported step
    #[arg(long)]
    csv: bool,
    /// Write the state of the last reported gradient (npy files + manifest.json) into DIR
    #[arg(long, value_name = "DIR")]
    dump: Option<PathBuf>,
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    if let Err(err) = run(cli) {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Some(Command::Stats(args)) => stats(&args),
        Some(Command::Presets) => presets(),
        Some(Command::Adapters(a)) => adapters(&a),
        Some(Command::Bench(b)) => bench(&b),
        Some(Command::App(args)) => app(&args.config, args.from_figure.as_deref()),
        Some(Command::Render(args)) => render(&args),
        None => app(&ConfigArgs::default(), None),
    }
}

/// Whether any flag that changes the network was given (else the app restores the last session).
fn has_config_flags(c: &ConfigArgs) -> bool {
    c.preset.is_some()
        || c.arch.is_some()
        || c.depth.is_some()
        || c.width.is_some()
        || c.activation.is_some()
        || c.init.is_some()
        || c.gain.is_some()
        || c.residual
        || c.bias_std.is_some()
        || c.batch.is_some()
        || c.lr.is_some()
        || c.optimizer.is_some()
        || c.clip.is_some()
        || c.seed.is_some()
        || c.task.is_some()
}

fn app(config: &ConfigArgs, from_figure: Option<&std::path::Path>) -> Result<()> {
    let initial = if let Some(path) = from_figure {
        if has_config_flags(config) {
            bail!("--from-figure restores the figure's whole config: leave out the network flags");
        }
        Some(gradscope::app::share::config_from_png(path)?)
    } else if has_config_flags(config) {
        Some(config.resolve()?)
    } else {
        None
    };
    gradscope::app::run(initial, &config.gpu_options())
}

fn render(args: &RenderArgs) -> Result<()> {
    let cfg = args.config.resolve()?;
    let gpu = args.config.open_gpu()?;
    let req = gradscope::app::render::RenderRequest {
        cfg,
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
    };
    let [w, h] = gradscope::app::render::render(&gpu, &req).with_context(|| {
        format!(
            "cannot render {} to {}",
            args.view.slug(),
            args.out.display()
        )
    })?;
    println!(
        "wrote {} ({w}x{h}, {} view, {})",
        args.out.display(),
        args.view.slug(),
        gpu.adapter
    );
    Ok(())
}

fn bench(args: &BenchArgs) -> Result<()> {
    let ctx = ConfigArgs {
        adapter: args.adapter.clone(),
        backend: args.backend,
        ..ConfigArgs::default()
    }
    .open_gpu()?;
    if !args.json {
        println!("adapter: {}", ctx.adapter);
        println!("{}", gradscope::bench::header());
    }
    // each row as soon as it is measured, so a long suite shows progress
    gradscope::bench::run_suite(&ctx, args.suite, |r| {
        if args.json {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        } else {
            println!("{}", gradscope::bench::row(r));
        }
    });
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
        println!("{}", gradscope::gpu::device::describe(&info));
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

/// Report steps: 0, K, 2K, ... and N.
fn report_steps(steps: u64, every: u64) -> Vec<u64> {
    let mut v: Vec<u64> = (0..=steps).step_by(every as usize).collect();
    if v.last() != Some(&steps) {
        v.push(steps);
    }
    v
}

fn stats(args: &StatsArgs) -> Result<()> {
    let cfg = args.config.resolve()?;
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
                printer.print(&engine.stats_of(&pass))?;
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
            let mut engine = Engine::new(&ctx, &cfg)?;
            let mut done = 0;
            for at in report_steps(args.steps, args.every) {
                if at > done {
                    engine.step((at - done) as u32);
                    done = at;
                }
                engine.compute();
                printer.print(&engine.wait_stats()?)?;
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
            let loss = s.loss.map_or("NaN/Inf".to_string(), |l| format!("{l:.6}"));
            writeln!(
                out,
                "step {}  loss {loss}  ({} on {})",
                s.step, s.engine, s.adapter
            )?;
            writeln!(
                out,
                "  layer  log10|dL/dW|  log10 rms(delta)  act_rms  saturated  dead"
            )?;
            let fmt = |v: Option<f64>| v.map_or("zero".to_string(), |x| format!("{x:.3}"));
            for l in &s.layers {
                writeln!(
                    out,
                    "  {:>5}  {:>12}  {:>16}  {:>7.3}  {:>9.3}  {:>4.2}",
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
