//! The desktop app (eframe with the wgpu renderer): one window that shares its wgpu device with the GPU
//! engine, trains from [`eframe::App::logic`] without ever waiting on the GPU, and draws the views of
//! [`crate::viz`] every frame.
//!
//! Layout: each module imports only modules listed on the lines above its own, so the imports within
//! the app form no cycle.
//! - [`settings`] (the persisted UI state), [`command`] (what panels ask for), [`hints`] (tooltip
//!   text), [`worker`] (background jobs polled from the frame), [`pacing`] (the training scheduler's
//!   bookkeeping), `waker` (a software adapter's frame drawn when the GPU finishes; native only),
//!   [`export`] (figures to PNG files): no other part of the app;
//! - [`theory`] and [`jacobian`]: what is computed from a network off the frame; [`timeline`]: its
//!   past statistics, bounded;
//! - [`views`]: one file per view, each a figure from [`views::FigureData`], the same for the window
//!   and the PNG export;
//! - [`network`] (one network being trained: [`network::Run`]), [`panels`] (one file per panel),
//!   [`share`] (configs in PNGs and strings), [`render`] (`gradscope render`), [`sweep_job`] (the
//!   trainability map's sweep on a worker thread);
//! - [`window`]: the eframe app, [`GradscopeApp`].

pub mod command;
pub mod export;
pub mod hints;
pub mod jacobian;
pub mod network;
pub mod pacing;
pub mod panels;
pub mod render;
pub mod settings;
pub mod share;
pub mod sweep_job;
pub mod theory;
pub mod timeline;
pub mod views;
#[cfg(not(target_arch = "wasm32"))]
pub mod waker;
#[cfg(target_arch = "wasm32")]
pub mod web;
pub mod window;
pub mod worker;

use std::sync::Arc;

use crate::gpu::GpuOptions;
use crate::gpu::device::{choose_adapter, device_descriptor};
#[cfg(not(target_arch = "wasm32"))]
use crate::model::NetConfig;

pub use export::EXPORT_SHORTCUT;
pub use window::GradscopeApp;

/// The wgpu setup of the window and of the UI tests: primary backends only (GL has no compute), the
/// adapter gradscope's own selection picks (honouring `--adapter` / `WGPU_ADAPTER_NAME`), and the device
/// limits the engine needs.
pub fn wgpu_setup(opts: &GpuOptions) -> egui_wgpu::WgpuSetup {
    let mut setup = egui_wgpu::WgpuSetupCreateNew::without_display_handle();
    setup.instance_descriptor = opts.instance_descriptor();
    let name = opts.name_filter();
    setup.native_adapter_selector = Some(Arc::new(move |adapters: &[wgpu::Adapter], _surface| {
        choose_adapter(adapters, name.as_deref()).map_err(|e| e.to_string())
    }));
    setup.device_descriptor = Arc::new(device_descriptor);
    egui_wgpu::WgpuSetup::CreateNew(setup)
}

#[cfg(not(target_arch = "wasm32"))]
/// Opens the window on `initial` (or the persisted settings, or the default preset) and runs until closed;
/// with `sweep` (a reopened trainability figure) the window opens on that map and runs it.
pub fn run(
    initial: Option<NetConfig>,
    sweep: Option<crate::sweep::SweepSpec>,
    opts: &GpuOptions,
) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("gradscope")
            .with_inner_size([1440.0, 900.0])
            .with_min_inner_size([800.0, 560.0]),
        renderer: eframe::Renderer::Wgpu,
        wgpu_options: egui_wgpu::WgpuConfiguration {
            wgpu_setup: wgpu_setup(opts),
            ..Default::default()
        },
        ..Default::default()
    };
    eframe::run_native(
        "gradscope",
        options,
        Box::new(move |cc| {
            Ok(Box::new(
                GradscopeApp::new(cc, initial)
                    .map(GradscopeApp::tuned)
                    .map(|app| match sweep {
                        Some(spec) => app.with_sweep(spec),
                        None => app,
                    })
                    .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })?,
            ))
        }),
    )
    .map_err(|e| anyhow::anyhow!("the window failed: {e}"))
}
