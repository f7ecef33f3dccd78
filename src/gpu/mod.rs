//! The GPU engine: wgpu only, no UI. Device selection ([`device`]), the buffer layout and dispatch lists
//! ([`layout`]), the WGSL kernels ([`shaders`]) and the [`Engine`] that runs training steps.

pub mod device;
mod engine;
pub mod layout;
pub mod program;
mod readback;
pub mod shaders;
pub mod tuner;

pub use device::{Gpu, GpuError, GpuOptions};
pub use engine::{
    ENGINE_ENV, Engine, EngineError, EngineOptions, GpuContext, MAX_DISPATCHES_PER_SUBMIT,
    MAX_IN_FLIGHT, PendingParams, check_engine_limits, check_limits, check_population_limits,
    parse_stack_path, population_bytes,
};
pub use program::StackPath;
pub use readback::PolledMap;
