//! Theory beside measurement: the mean-field prediction of how the backward signal scales per layer
//! ([`mean_field`]), and spectral readouts of weight matrices ([`spectral`]) for the RNN lesson.
//!
//! Pure math on the CPU in f64 (nalgebra for eigenvalues and singular values). [`mean_field`] reads the
//! configuration from [`crate::model`]; [`spectral`] depends on nothing in the crate, so the model may use it
//! when it rescales W_h at init.

pub mod mean_field;
pub mod spectral;
