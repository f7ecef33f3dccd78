//! Figure drawing shared by the window and the PNG export: colormaps ([`colormap`]), the heatmap and colour
//! bar painters, whole figures ([`figure`]) and their offscreen rendering ([`offscreen`]). Knows egui and
//! wgpu, not the app.

pub mod colorbar;
pub mod colormap;
pub mod figure;
pub mod heatmap;
pub mod history;
pub mod offscreen;
pub mod trainability;

pub use colormap::{Cell, ColorRange, RangeMode};
pub use figure::{Body, Figure, LinePlot, Series, figure_ui};
pub use heatmap::{Coloring, Heatmap};
pub use history::History;

use serde::{Deserialize, Serialize};

/// The views of the app, each also a figure `gradscope render --view` can draw.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum View {
    /// Layer × unit heatmap of log10 mean |δ| (input left, output right).
    #[default]
    GradientMap,
    /// Layer × training step heatmap of log10 ‖∂L/∂W_l‖.
    GradientFlow,
    /// Per-layer gradient norms, log scale.
    Norms,
    /// Per weight matrix, log10 ‖ΔW‖/‖W‖ of each update over training, with the 1e-3 rule of thumb.
    UpdateRatio,
    /// Saturated and dead units per layer, and the dead-unit map.
    Activations,
    /// Per-layer distributions of f(z) and log10 |δ| (Glorot & Bengio 2010, figures 6 and 7).
    Histograms,
    /// The loss over training, log scale.
    Loss,
    /// Singular values of the hidden-layer Jacobian at the current weights.
    Jacobian,
    /// Recurrent nets: the LSTM's cell path ∂L/∂c_t (time step × unit) and its rms against the running
    /// product of the keep gates (a vanilla RNN's own error map, for comparison).
    CellPath,
    /// LSTM and GRU: the mean keep gate and each gate's saturated fraction per time step.
    Gates,
    /// A grid of nets around this one, two settings swept (e.g. gain × bias std), coloured by how the
    /// gradient ratio ‖δ_1‖/‖δ_L‖ (or the loss) came out, with the mean-field order-to-chaos line.
    Trainability,
}

impl View {
    /// Every view, in tab order.
    pub const ALL: [View; 11] = [
        View::GradientMap,
        View::GradientFlow,
        View::Norms,
        View::UpdateRatio,
        View::Activations,
        View::Histograms,
        View::Loss,
        View::Jacobian,
        View::CellPath,
        View::Gates,
        View::Trainability,
    ];

    /// The tab label.
    pub fn label(self) -> &'static str {
        match self {
            View::GradientMap => "Gradient map",
            View::GradientFlow => "Gradient flow",
            View::Norms => "Layer norms",
            View::UpdateRatio => "Update ratio",
            View::Activations => "Activations",
            View::Histograms => "Histograms",
            View::Loss => "Loss",
            View::Jacobian => "Jacobian spectrum",
            View::CellPath => "Cell path",
            View::Gates => "Gates",
            View::Trainability => "Trainability",
        }
    }

    /// The CLI / file name spelling (`gradient-map`).
    pub fn slug(self) -> &'static str {
        match self {
            View::GradientMap => "gradient-map",
            View::GradientFlow => "gradient-flow",
            View::Norms => "norms",
            View::UpdateRatio => "update-ratio",
            View::Activations => "activations",
            View::Histograms => "histograms",
            View::Loss => "loss",
            View::Jacobian => "jacobian",
            View::CellPath => "cell-path",
            View::Gates => "gates",
            View::Trainability => "trainability",
        }
    }
}

/// Light or dark figures and window.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum FigureTheme {
    /// Dark text on white: the default for slides.
    #[default]
    Light,
    /// Light text on dark grey.
    Dark,
}

impl FigureTheme {
    /// The egui theme.
    pub fn egui(self) -> egui::Theme {
        match self {
            FigureTheme::Light => egui::Theme::Light,
            FigureTheme::Dark => egui::Theme::Dark,
        }
    }
}
