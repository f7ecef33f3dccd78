//! UI tests: the app under egui_kittest on the production wgpu setup (lavapipe in CI). One test binary.

#[path = "../common/mod.rs"]
mod common;

mod animation;
mod app;
mod compare;
mod fields;
mod jacobian;
mod ledger;
mod share;
mod snapshot;
mod theory;
mod timeline;
mod trainability;
mod views;
