//! Pure data: the network configuration and its validation, activations, init schemes, tasks and datasets,
//! and the seeded random source. No GPU and no UI here.

mod activation;
mod config;
pub mod init;
mod preset;
pub mod spectral;
pub mod task;

pub use activation::{
    Activation, LEAKY_SLOPE, MAX_SLOPE_EXP2, SATURATION_THRESHOLD, Slope, TAIL_SLOPE,
    frexp_exponent, ldexp,
};
pub use config::*;
pub use init::Init;
pub use preset::*;
pub use task::{Dataset, Params, Tensor, weight_tensors};
