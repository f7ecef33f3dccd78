//! What a panel asks the app to do. Panels edit [`super::settings::Settings`] in place for plain values
//! and return a [`Command`] for everything that acts (training, files, the clipboard); the app carries the
//! commands out after the panels are drawn.

/// A button the user pressed.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Apply a built-in preset by name.
    Preset(String),
    /// Read a preset file (off the frame) and apply it.
    PresetFile(String),
    /// Back to the initial weights.
    Reset,
    /// One training step, then the gradient at the new weights.
    Step,
    /// Save the current view as a PNG figure.
    Export,
    /// Save the current view over training so far as an animated GIF (on a worker thread).
    ExportGif,
    /// Copy the current figure to the clipboard.
    CopyFigure,
    /// Save the whole window as a PNG.
    Screenshot,
    /// Copy the config string to the clipboard (and into the config field).
    CopyConfig,
    /// Copy a link that opens this lesson (the browser build).
    CopyLink,
    /// Apply the config string in the config field.
    ApplyConfig,
    /// Compute the Jacobian spectrum of the current weights and show its view.
    ComputeJacobian,
    /// Hide the error message.
    DismissError,
    /// Train the trainability map's grid (on a worker thread) and show its view.
    RunSweep,
    /// Stop the sweep in progress.
    CancelSweep,
}
