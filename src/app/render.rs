//! `gradscope render`: trains without a window, collects the statistics a view needs, and draws the same
//! figure the window shows into a PNG (offscreen, with the same code).

use std::path::PathBuf;

use crate::cli::EngineKind;
use crate::gpu::{Engine, GpuContext};
use crate::model::{NetConfig, Params};
use crate::reference::Reference;
use crate::stats::StepStats;
use crate::viz::offscreen::{EXPORT_PIXELS_PER_POINT, render_figure, write_png};
use crate::viz::{FigureTheme, History, RangeMode, View};

use super::theory::wh_spectrum;
use super::views::{FigureData, config_json, figure};

/// Most history points a render records (the gradient flow and loss views sample training this often).
pub const RENDER_HISTORY_POINTS: u64 = 300;

/// What to render.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderRequest {
    /// The network.
    pub cfg: NetConfig,
    /// Network B, drawn beside A on one scale (compare mode), if any.
    pub compare: Option<NetConfig>,
    /// Which engine computes the statistics (the figure is always drawn on the GPU).
    pub engine: EngineKind,
    /// Training steps before the final gradient.
    pub steps: u64,
    /// The view to draw.
    pub view: View,
    /// The PNG file.
    pub out: PathBuf,
    /// Pixel size of the PNG.
    pub size: [u32; 2],
    /// Light or dark.
    pub theme: FigureTheme,
    /// Colour range.
    pub range: RangeMode,
    /// Steps between history points (and frames of an animation); `None`: about
    /// [`RENDER_HISTORY_POINTS`] points over the run.
    pub every: Option<u64>,
}

/// History points a render keeps at most (`--every` must not ask for more).
pub const MAX_RENDER_HISTORY_POINTS: u64 = 100_000;

/// The steps between history points (and, animated, between frames): `req.every`, or about
/// [`RENDER_HISTORY_POINTS`] points over the run.
pub fn history_every(req: &RenderRequest) -> u64 {
    req.every
        .unwrap_or_else(|| req.steps.div_ceil(RENDER_HISTORY_POINTS))
        .max(1)
}

/// Trains, draws and writes the figure; returns its pixel size.
pub fn render(gpu: &GpuContext, req: &RenderRequest) -> anyhow::Result<[usize; 2]> {
    let image = render_image(gpu, req)?;
    write_png(&req.out, &image, Some(&config_json(&req.cfg)))?;
    Ok(image.size)
}

/// Trains and draws the figure of `req` (not written).
pub fn render_image(gpu: &GpuContext, req: &RenderRequest) -> anyhow::Result<egui::ColorImage> {
    let every = history_every(req);
    let mut a = Training::new(gpu, req, &req.cfg, every)?;
    a.run_to(req.steps)?;
    let fig = match &req.compare {
        None => a.figure(req, None),
        Some(cfg_b) => {
            let mut b = Training::new(gpu, req, cfg_b, every)?;
            b.run_to(req.steps)?;
            a.figure(req, Some(&b))
        }
    };
    draw(gpu, req, &fig)
}

/// Draws `fig` offscreen at the request's size and theme.
fn draw(
    gpu: &GpuContext,
    req: &RenderRequest,
    fig: &crate::viz::Figure,
) -> anyhow::Result<egui::ColorImage> {
    Ok(render_figure(
        &gpu.device,
        &gpu.queue,
        fig,
        req.size,
        EXPORT_PIXELS_PER_POINT,
        req.theme,
    )?)
}

/// The frames of an animation of `req`: the figure at steps 0, K, 2K, ... and `req.steps` (K =
/// [`history_every`]), each the picture [`render_image`] draws for that many steps with the same K.
/// `progress` hears (frames done, all frames).
pub fn render_animation(
    gpu: &GpuContext,
    req: &RenderRequest,
    progress: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<Vec<(u64, egui::ColorImage)>> {
    if req.compare.is_some() {
        anyhow::bail!("an animation draws one network: leave out --compare-cell");
    }
    let every = history_every(req);
    let at = frame_steps(req.steps, every);
    let mut a = Training::new(gpu, req, &req.cfg, every)?;
    let mut frames = Vec::with_capacity(at.len());
    for (i, &s) in at.iter().enumerate() {
        a.run_to(s)?;
        let fig = a.figure(req, None);
        frames.push((s, draw(gpu, req, &fig)?));
        progress(i + 1, at.len());
    }
    Ok(frames)
}

/// Up to `frames` of the `kept` steps (ascending), evenly spread, always the first and the last: the
/// frames of an animation drawn from a timeline (the browser's GIF export).
pub fn spread_steps(kept: &[u64], frames: usize) -> Vec<u64> {
    let frames = frames.max(2);
    if kept.len() <= frames {
        return kept.to_vec();
    }
    let last = kept.len() - 1;
    let mut steps: Vec<u64> = (0..frames)
        .map(|i| kept[(i * last + (frames - 1) / 2) / (frames - 1)])
        .collect();
    steps.dedup();
    steps
}

/// How many frames [`frame_steps`] lists, without listing them.
pub fn frame_count(steps: u64, every: u64) -> u64 {
    let every = every.max(1);
    steps / every + 1 + u64::from(!steps.is_multiple_of(every))
}

/// The steps an animation of `steps` steps draws, one frame every `every` steps and one at the end.
pub fn frame_steps(steps: u64, every: u64) -> Vec<u64> {
    let every = every.max(1);
    let mut at: Vec<u64> = (0..=steps / every).map(|k| k * every).collect();
    if at.last() != Some(&steps) {
        at.push(steps);
    }
    at
}

/// One network trained for a render: its engine, the history sampled every `every` steps, the newest
/// statistics and the RNN's W_h spectrum.
struct Training<'a> {
    cfg: &'a NetConfig,
    engine: Trainer,
    every: u64,
    done: u64,
    history: History,
    latest: Option<StepStats>,
    params: Option<Params>,
    prediction: Option<crate::theory::mean_field::Prediction>,
}

/// The engine a render trains on.
enum Trainer {
    Gpu(Box<Engine>),
    Cpu(Box<Reference>),
}

impl<'a> Training<'a> {
    fn new(
        gpu: &GpuContext,
        req: &RenderRequest,
        cfg: &'a NetConfig,
        every: u64,
    ) -> anyhow::Result<Training<'a>> {
        let points = req.steps / every;
        if points > MAX_RENDER_HISTORY_POINTS {
            anyhow::bail!(
                "--every {every} over {} steps keeps {points} history points; at most {MAX_RENDER_HISTORY_POINTS} (use a larger --every)",
                req.steps
            );
        }
        let engine = match req.engine {
            EngineKind::Gpu => {
                let mut e = Engine::new(gpu, cfg)?;
                // the Histograms view (and an animation of it) needs them; one dispatch more per step
                e.set_histograms(true);
                Trainer::Gpu(Box::new(e))
            }
            EngineKind::Cpu => Trainer::Cpu(Box::new(Reference::new(cfg)?)),
        };
        Ok(Training {
            cfg,
            engine,
            every,
            done: 0,
            history: History {
                capacity: points as usize + 2,
                ..History::default()
            },
            latest: None,
            params: None,
            prediction: crate::theory::mean_field::predict(cfg).ok(),
        })
    }

    /// The gradient after `self.done` updates, into the history.
    fn record(&mut self) -> anyhow::Result<()> {
        let (stats, params) = match &mut self.engine {
            Trainer::Gpu(e) => {
                e.compute();
                let s = e.wait_stats()?;
                (s, e.read_params()?)
            }
            Trainer::Cpu(r) => {
                let pass = r.pass();
                let hist = r.histograms(&pass).unwrap_or_default();
                (r.stats_of(&pass).with_histograms(hist), r.params_f32())
            }
        };
        self.history.push(&stats);
        self.latest = Some(stats);
        self.params = Some(params);
        Ok(())
    }

    /// Trains to `steps` updates, recording the history every `every` steps and at `steps`.
    fn run_to(&mut self, steps: u64) -> anyhow::Result<()> {
        if self.latest.is_none() {
            self.record()?;
        }
        while self.done < steps {
            let next = ((self.done / self.every + 1) * self.every).min(steps);
            let n = next - self.done;
            match &mut self.engine {
                Trainer::Gpu(e) => e.step(u32::try_from(n)?),
                Trainer::Cpu(r) => {
                    for _ in 0..n {
                        r.step();
                    }
                }
            }
            self.done = next;
            self.record()?;
        }
        Ok(())
    }

    /// The figure of `req.view` now (beside `b` in compare mode).
    fn figure(&self, req: &RenderRequest, b: Option<&Training<'_>>) -> crate::viz::Figure {
        let jacobian_a = self.jacobian(req);
        let jacobian_b = b.and_then(|b| b.jacobian(req));
        let data_a = self.data(req, jacobian_a.as_ref());
        match b {
            None => figure(req.view, &data_a),
            Some(b) => super::views::compare::figure_ab(
                req.view,
                &data_a,
                &b.data(req, jacobian_b.as_ref()),
            ),
        }
    }

    fn jacobian(&self, req: &RenderRequest) -> Option<super::jacobian::JacobianSpectrum> {
        let (Some(latest), Some(params)) = (&self.latest, &self.params) else {
            return None;
        };
        (req.view == View::Jacobian)
            .then(|| super::jacobian::compute(self.cfg, params, latest.step))
    }

    fn data<'d>(
        &'d self,
        req: &RenderRequest,
        jacobian: Option<&'d super::jacobian::JacobianSpectrum>,
    ) -> FigureData<'d> {
        let wh = match (&self.engine, &self.params, &self.latest) {
            (Trainer::Gpu(_), Some(p), Some(l)) => wh_spectrum(p, l.step),
            _ => None,
        };
        FigureData {
            cfg: self.cfg,
            stats: self.latest.as_ref(),
            history: &self.history,
            range: req.range,
            prediction: self.prediction.as_ref(),
            wh,
            jacobian,
            sweep: super::views::SweepShown::default(),
        }
    }
}

/// Draws a finished sweep's trainability map into a PNG of `size` pixels: the base configuration in the
/// `gradscope-config` chunk and the sweep in `gradscope-sweep`, so reopening the figure restores both.
pub fn render_sweep(
    gpu: &GpuContext,
    result: &crate::sweep::SweepResult,
    out: &std::path::Path,
    size: [u32; 2],
    theme: FigureTheme,
) -> anyhow::Result<[usize; 2]> {
    let history = History::default();
    let data = FigureData {
        cfg: &result.base,
        stats: None,
        history: &history,
        range: RangeMode::default(),
        prediction: None,
        wh: None,
        jacobian: None,
        sweep: super::views::SweepShown {
            result: Some(result),
            ..Default::default()
        },
    };
    let fig = figure(View::Trainability, &data);
    let image = render_figure(
        &gpu.device,
        &gpu.queue,
        &fig,
        size,
        EXPORT_PIXELS_PER_POINT,
        theme,
    )?;
    let config = config_json(&result.base);
    let sweep = serde_json::to_string(&result.spec)?;
    crate::viz::offscreen::write_png_chunks(
        out,
        &image,
        &[
            (crate::viz::offscreen::CONFIG_TEXT_KEY, &config),
            (crate::viz::offscreen::SWEEP_TEXT_KEY, &sweep),
        ],
    )?;
    Ok(image.size)
}
