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

use super::theory::{WhSpectrum, wh_spectrum};
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
}

/// Trains, draws and writes the figure; returns its pixel size.
pub fn render(gpu: &GpuContext, req: &RenderRequest) -> anyhow::Result<[usize; 2]> {
    let mut history = History {
        capacity: RENDER_HISTORY_POINTS as usize + 2,
        ..History::default()
    };
    let every = req.steps.div_ceil(RENDER_HISTORY_POINTS).max(1);
    let (latest, wh, params) = collect(gpu, req, &req.cfg, every, &mut history)?;
    let jacobian = (req.view == View::Jacobian)
        .then(|| super::jacobian::compute(&req.cfg, &params, latest.step));
    let prediction = crate::theory::mean_field::predict(&req.cfg).ok();
    let data = FigureData {
        cfg: &req.cfg,
        stats: Some(&latest),
        history: &history,
        range: req.range,
        prediction: prediction.as_ref(),
        wh,
        jacobian: jacobian.as_ref(),
        sweep: super::views::SweepShown::default(),
    };
    let fig = match &req.compare {
        None => figure(req.view, &data),
        Some(cfg_b) => {
            let mut history_b = History {
                capacity: history.capacity,
                ..History::default()
            };
            let (latest_b, wh_b, params_b) = collect(gpu, req, cfg_b, every, &mut history_b)?;
            let jacobian_b = (req.view == View::Jacobian)
                .then(|| super::jacobian::compute(cfg_b, &params_b, latest_b.step));
            let prediction_b = crate::theory::mean_field::predict(cfg_b).ok();
            let data_b = FigureData {
                cfg: cfg_b,
                stats: Some(&latest_b),
                history: &history_b,
                range: req.range,
                prediction: prediction_b.as_ref(),
                wh: wh_b,
                jacobian: jacobian_b.as_ref(),
                sweep: super::views::SweepShown::default(),
            };
            super::views::compare::figure_ab(req.view, &data, &data_b)
        }
    };
    let image = render_figure(
        &gpu.device,
        &gpu.queue,
        &fig,
        req.size,
        EXPORT_PIXELS_PER_POINT,
        req.theme,
    )?;
    write_png(&req.out, &image, Some(&config_json(&req.cfg)))?;
    Ok(image.size)
}

/// Statistics at step 0, every `every` steps, and after the last step (the returned ones), with the RNN's
/// W_h spectrum at the last step.
fn collect(
    gpu: &GpuContext,
    req: &RenderRequest,
    cfg: &NetConfig,
    every: u64,
    history: &mut History,
) -> anyhow::Result<(StepStats, Option<WhSpectrum>, Params)> {
    match req.engine {
        EngineKind::Gpu => {
            let mut engine = Engine::new(gpu, cfg)?;
            let mut done = 0;
            while done < req.steps {
                let n = every.min(req.steps - done);
                engine.compute();
                history.push(&engine.wait_stats()?);
                engine.step(u32::try_from(n)?);
                done += n;
            }
            engine.compute();
            let last = engine.wait_stats()?;
            history.push(&last);
            let params = engine.read_params()?;
            let wh = wh_spectrum(&params, last.step);
            Ok((last, wh, params))
        }
        EngineKind::Cpu => {
            let mut engine = Reference::new(cfg)?;
            for i in 0..req.steps {
                if i % every == 0 {
                    history.push(&engine.stats_of(&engine.pass()));
                }
                engine.step();
            }
            let last = engine.stats_of(&engine.pass());
            history.push(&last);
            Ok((last, None, engine.params_f32()))
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
