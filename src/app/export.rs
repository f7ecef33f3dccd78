//! Export: the current view as a PNG figure (2x, light theme by default, configuration in a `tEXt` chunk),
//! the same figure to the clipboard, and a screenshot of the whole window.

use std::path::{Path, PathBuf};

use crate::gpu::GpuContext;
use crate::viz::offscreen::{
    CONFIG_TEXT_KEY, DEFAULT_EXPORT_SIZE, EXPORT_PIXELS_PER_POINT, ExportError, SWEEP_TEXT_KEY,
    render_figure, write_png_chunks,
};
use crate::viz::{Figure, FigureTheme, View};

/// Export shortcut: Ctrl+S (Cmd+S on macOS).
pub const EXPORT_SHORTCUT: egui::KeyboardShortcut =
    egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::S);

/// The keyboard shortcut of Export GIF: Ctrl+Shift+S (Cmd+Shift+S on macOS).
pub const GIF_SHORTCUT: egui::KeyboardShortcut = egui::KeyboardShortcut::new(
    egui::Modifiers::COMMAND.plus(egui::Modifiers::SHIFT),
    egui::Key::S,
);

/// Where an export of `view` goes: the path typed in, or `gradscope-<view>.png`.
pub fn figure_path(typed: &str, view: View) -> PathBuf {
    let typed = typed.trim();
    if typed.is_empty() {
        PathBuf::from(format!("gradscope-{}.png", view.slug()))
    } else {
        PathBuf::from(typed)
    }
}

/// The window screenshot's path beside the figure's: `name-window.png`.
pub fn screenshot_path(figure: &Path) -> PathBuf {
    let stem = figure
        .file_stem()
        .map_or_else(|| "gradscope".into(), |s| s.to_string_lossy().into_owned());
    figure.with_file_name(format!("{stem}-window.png"))
}

/// Renders `figure` offscreen at the export size.
pub fn render(
    gpu: &GpuContext,
    figure: &Figure,
    theme: FigureTheme,
) -> Result<egui::ColorImage, ExportError> {
    render_figure(
        &gpu.device,
        &gpu.queue,
        figure,
        DEFAULT_EXPORT_SIZE,
        EXPORT_PIXELS_PER_POINT,
        theme,
    )
}

/// Renders `figure` and writes it to `path` with the configuration JSON (and a trainability figure's
/// sweep JSON); returns the pixel size.
pub fn save(
    gpu: &GpuContext,
    figure: &Figure,
    theme: FigureTheme,
    path: &Path,
    config_json: &str,
    sweep_json: Option<&str>,
) -> Result<[usize; 2], ExportError> {
    // fail before rendering when the folder is missing
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.is_dir()
    {
        return Err(ExportError::Write {
            path: path.display().to_string(),
            message: format!("the folder {} does not exist", dir.display()),
        });
    }
    let image = render(gpu, figure, theme)?;
    let mut chunks = vec![(CONFIG_TEXT_KEY, config_json)];
    if let Some(sweep) = sweep_json {
        chunks.push((SWEEP_TEXT_KEY, sweep));
    }
    write_png_chunks(path, &image, &chunks)?;
    Ok(image.size)
}
