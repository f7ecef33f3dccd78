//! gradscope: watch gradients vanish and explode in deep networks.
//!
//! Layers, lowest first (nothing imports upward): [`model`] (pure data) -> engines ([`mod@reference`] on the
//! CPU in f64, [`gpu`] in WGSL compute shaders) -> [`stats`] (the statistics record both engines produce)
//! -> [`viz`] (colormaps and figures) -> [`app`] (the egui window) and the CLI in `main.rs`. [`sweep`] (the
//! trainability map: grids of nets in population engines) sits beside [`stats`], using the GPU engine and
//! [`theory`]; [`viz`] draws its result.
#![deny(unsafe_code)]

pub mod app;
pub mod bench;
pub mod cli;
pub mod dump;
pub mod gpu;
pub mod model;
pub mod reference;
pub mod stats;
pub mod sweep;
pub mod theory;
pub mod viz;
