//! Theory beside measurement: the mean-field prediction of how the backward signal scales per layer
//! ([`mean_field`], with its Gaussian expectations in [`quadrature`]), the order-to-chaos phase diagram
//! ([`phase`]), and spectral readouts of weight
//! matrices ([`spectral`]) for the RNN lesson.
//!
//! Pure math on the CPU in f64 (nalgebra for eigenvalues and singular values). [`mean_field`] reads the
//! configuration from [`crate::model`]; [`spectral`] lives in the model (which rescales W_h with it at
//! init, and data flows one way) and is re-exported here.

pub mod mean_field;
pub mod phase;
pub mod quadrature;
pub use crate::model::spectral;
