//! Integration tests without a window: the CPU reference against finite differences and theory, the GPU
//! engine against the reference, the CLI, figures, shaders and the model, and the browser build in
//! headless Chromium against the native engine. One test binary (each binary links wgpu and egui, so
//! fewer binaries keep CI fast).

#[path = "../common/mod.rs"]
mod common;

mod cli;
mod cli_gpu;
mod fuzz;
mod gpu_engine;
mod inputs;
mod ledger;
mod model;
mod numerics;
mod population;
mod presets;
mod reference_fd;
mod reference_theory;
mod render;
mod shaders;
mod sweep;
mod theory;
mod web;
