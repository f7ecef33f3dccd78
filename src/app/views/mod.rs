//! The views: one file per view, each turning [`FigureData`] into a [`Figure`] that the window draws and
//! the PNG export renders (the same picture). This file only dispatches from [`View`] to the view's file;
//! what the views share lives in [`common`], and [`compare`] lays two networks' figures side by side.

pub mod activations;
pub mod cell_path;
pub mod common;
pub mod compare;
pub mod gates;
pub mod gradient_flow;
pub mod gradient_map;
pub mod histograms;
pub mod jacobian;
pub mod loss;
pub mod norms;
pub mod trainability;
pub mod update_ratio;

pub use common::{FigureData, SweepShown, config_json};

use crate::viz::{Figure, View};

/// Builds the figure of `view`.
pub fn figure(view: View, data: &FigureData<'_>) -> Figure {
    match view {
        View::GradientMap => gradient_map::figure(data),
        View::GradientFlow => gradient_flow::figure(data),
        View::Norms => norms::figure(data),
        View::UpdateRatio => update_ratio::figure(data),
        View::Activations => activations::figure(data),
        View::Histograms => histograms::figure(data),
        View::Loss => loss::figure(data),
        View::Jacobian => jacobian::figure(data),
        View::CellPath => cell_path::figure(data),
        View::Gates => gates::figure(data),
        View::Trainability => trainability::figure(data),
    }
}
