//! Figures without a window: run one egui pass with the same [`figure_ui`] the window uses, tessellate,
//! render with `egui_wgpu::Renderer` into an `Rgba8Unorm` texture, read it back, and write a PNG whose
//! `tEXt` chunk carries the configuration as JSON.

use std::io::BufWriter;
use std::path::Path;
use std::time::Duration;

use egui::{Color32, ColorImage};

use super::FigureTheme;
use super::figure::{Figure, figure_ui};

/// PNG `tEXt` key under which the figure's configuration (JSON) is stored.
pub const CONFIG_TEXT_KEY: &str = "gradscope-config";
/// The PNG text chunk that stores a trainability figure's sweep (axes, steps, metric) as JSON.
pub const SWEEP_TEXT_KEY: &str = "gradscope-sweep";
/// Device pixels per point of exported figures (2x: crisp on slides and high-density screens).
pub const EXPORT_PIXELS_PER_POINT: f32 = 2.0;
/// Default export size in pixels.
pub const DEFAULT_EXPORT_SIZE: [u32; 2] = [1920, 1200];
/// Smallest export size in pixels (640 x 400 points at [`EXPORT_PIXELS_PER_POINT`]): below it the
/// title, notes and caption of a figure leave the plot no room (the layer-norms view loses its plot
/// entirely at 1024 x 640).
pub const MIN_EXPORT_SIZE: [u32; 2] = [1280, 800];
/// Outer margin around a figure, in points.
pub const FIGURE_MARGIN: f32 = 16.0;
/// How long a readback may take (lavapipe behind a queue of training steps is slow).
const WAIT_TIMEOUT: Duration = Duration::from_secs(60);

/// A figure could not be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The size is too small to draw the figure or beyond the GPU's texture limit.
    #[error(
        "figure size {width}x{height} is not possible here: the width must be {min_width}..={max} and the height {min_height}..={max} pixels"
    )]
    BadSize {
        /// Width asked for.
        width: u32,
        /// Height asked for.
        height: u32,
        /// The smallest width ([`MIN_EXPORT_SIZE`]).
        min_width: u32,
        /// The smallest height ([`MIN_EXPORT_SIZE`]).
        min_height: u32,
        /// The adapter's largest texture side.
        max: u32,
    },
    /// The output file name does not end in `.png`.
    #[error(
        "{path}: a figure is written as PNG, so its file name must end in .png (e.g. figure.png)"
    )]
    NotPng {
        /// The file.
        path: String,
    },
    /// The output file of an animation ends in neither `.gif` nor `.png`.
    #[error(
        "{path}: an animation is written as GIF or as animated PNG, so its file name must end in .gif or .png (e.g. training.gif)"
    )]
    NotGif {
        /// The file.
        path: String,
    },
    /// An animation over the size bound.
    #[error(
        "an animation of {frames} frames of {width}x{height} is too large: at most {MAX_ANIMATION_FRAMES} frames and {MAX_ANIMATION_PIXELS} pixels in all (use a larger --every, fewer --steps or a smaller --size)"
    )]
    AnimationTooLarge {
        /// Frames asked for.
        frames: u64,
        /// Frame width.
        width: u32,
        /// Frame height.
        height: u32,
    },
    /// Rendering or reading back failed on the GPU.
    #[error("rendering the figure on the GPU failed: {0}")]
    Gpu(String),
    /// The file could not be written.
    #[error("cannot write {path}: {message}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

/// Checks an export size against [`MIN_EXPORT_SIZE`] and `max`, the adapter's largest texture side.
pub fn check_export_size(size_px: [u32; 2], max: u32) -> Result<(), ExportError> {
    let [width, height] = size_px;
    let [min_width, min_height] = MIN_EXPORT_SIZE;
    if (min_width..=max).contains(&width) && (min_height..=max).contains(&height) {
        Ok(())
    } else {
        Err(ExportError::BadSize {
            width,
            height,
            min_width,
            min_height,
            max,
        })
    }
}

/// The PNG file a command will write a figure to, checked and claimed before any training or drawing:
/// its name ends in `.png`, its folder exists, and the file can be opened for writing (a new file is
/// created empty now). Dropped without [`PngOutput::keep`] — the command failed — a file it created is
/// removed again; a file that was already there is left as it was.
#[derive(Debug)]
pub struct PngOutput {
    path: std::path::PathBuf,
    created: bool,
    keep: bool,
}

impl PngOutput {
    /// Checks and claims `path` (see [`PngOutput`]).
    pub fn claim(path: &Path) -> Result<PngOutput, ExportError> {
        PngOutput::claim_as(path, "png")
    }

    /// [`PngOutput::claim`] for an animation: the name must end in `.gif` (GIF) or `.png` (APNG).
    pub fn claim_animation(path: &Path) -> Result<PngOutput, ExportError> {
        if is_png_path(path) {
            PngOutput::claim_as(path, "png")
        } else {
            PngOutput::claim_as(path, "gif")
        }
    }

    fn claim_as(path: &Path, extension: &str) -> Result<PngOutput, ExportError> {
        let name = path.display().to_string();
        let matches = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case(extension));
        if !matches {
            return Err(if extension == "gif" {
                ExportError::NotGif { path: name }
            } else {
                ExportError::NotPng { path: name }
            });
        }
        let err = |message: String| ExportError::Write {
            path: name.clone(),
            message,
        };
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !parent.is_dir() {
            return Err(err(format!(
                "the folder {} does not exist",
                parent.display()
            )));
        }
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => Err(err("it is a folder".into())),
            Ok(_) => {
                // there already: check that it can be written, without truncating it yet
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| err(e.to_string()))?;
                Ok(PngOutput {
                    path: path.to_path_buf(),
                    created: false,
                    keep: false,
                })
            }
            Err(_) => {
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(path)
                    .map_err(|e| err(e.to_string()))?;
                Ok(PngOutput {
                    path: path.to_path_buf(),
                    created: true,
                    keep: false,
                })
            }
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The figure was written: keep the file.
    pub fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for PngOutput {
    fn drop(&mut self) {
        if self.created && !self.keep {
            // best effort: the command is failing already, and its error says why
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Draws `figure` offscreen at `size_px` pixels (`pixels_per_point` pixels per point) in `theme`.
pub fn render_figure(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    figure: &Figure,
    size_px: [u32; 2],
    pixels_per_point: f32,
    theme: FigureTheme,
) -> Result<ColorImage, ExportError> {
    let (pixels, index) = start_figure(device, queue, figure, size_px, pixels_per_point, theme)?;
    let (tx, rx) = std::sync::mpsc::channel();
    pixels.buffer.map_async(wgpu::MapMode::Read, .., move |r| {
        let _ = tx.send(r);
    });
    device
        .poll(wgpu::PollType::Wait {
            submission_index: Some(index),
            timeout: Some(WAIT_TIMEOUT),
        })
        .map_err(|e| ExportError::Gpu(e.to_string()))?;
    rx.recv_timeout(WAIT_TIMEOUT)
        .map_err(|e| ExportError::Gpu(e.to_string()))?
        .map_err(|e| ExportError::Gpu(e.to_string()))?;
    pixels.image()
}

/// A figure drawn on the GPU whose pixels are being copied into a `MAP_READ` buffer.
pub struct FigurePixels {
    /// The buffer the pixels are copied into (rows padded to wgpu's copy alignment).
    pub buffer: wgpu::Buffer,
    width: u32,
    height: u32,
    padded: usize,
}

impl FigurePixels {
    /// The image, once `buffer` has been mapped for reading (unmaps it).
    pub fn image(&self) -> Result<ColorImage, ExportError> {
        let unpadded = self.width as usize * 4;
        let mut rgba = Vec::with_capacity(unpadded * self.height as usize);
        {
            let data = self
                .buffer
                .get_mapped_range(..)
                .map_err(|e| ExportError::Gpu(e.to_string()))?;
            for row in data.chunks_exact(self.padded) {
                rgba.extend_from_slice(&row[..unpadded]);
            }
        }
        self.buffer.unmap();
        Ok(ColorImage::from_rgba_premultiplied(
            [self.width as usize, self.height as usize],
            &rgba,
        ))
    }
}

/// Draws `figure` and submits the copy of its pixels, without waiting: map [`FigurePixels::buffer`]
/// and read [`FigurePixels::image`] once mapped (the browser, which cannot block, polls for it).
pub fn start_figure(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    figure: &Figure,
    size_px: [u32; 2],
    pixels_per_point: f32,
    theme: FigureTheme,
) -> Result<(FigurePixels, wgpu::SubmissionIndex), ExportError> {
    let max = device.limits().max_texture_dimension_2d;
    check_export_size(size_px, max)?;
    let [width, height] = size_px;
    let ctx = egui::Context::default();
    ctx.set_theme(theme.egui());
    ctx.all_styles_mut(|s| s.animation_time = 0.0);
    let points = super::figure::points_for(size_px, pixels_per_point);
    let mut input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, points)),
        max_texture_side: Some(max as usize),
        ..Default::default()
    };
    input
        .viewports
        .entry(egui::ViewportId::ROOT)
        .or_default()
        .native_pixels_per_point = Some(pixels_per_point);

    let mut renderer = egui_wgpu::Renderer::new(
        device,
        wgpu::TextureFormat::Rgba8Unorm,
        egui_wgpu::RendererOptions {
            dithering: false,
            ..Default::default()
        },
    );
    let mut background = Color32::WHITE;
    let mut last = None;
    // a few passes: the first lays out fonts and plots, later ones settle sizes
    for _ in 0..3 {
        let mut output = ctx.run_ui(input.clone(), |ui| {
            background = ui.visuals().panel_fill;
            egui::CentralPanel::default()
                .frame(
                    egui::Frame::new()
                        .fill(background)
                        .inner_margin(FIGURE_MARGIN),
                )
                .show(ui, |ui| figure_ui(ui, figure));
        });
        for (id, deltas) in output.textures_delta.set.drain() {
            for delta in &deltas {
                renderer.update_texture(device, queue, id, delta);
            }
        }
        for id in output.textures_delta.free.drain() {
            renderer.free_texture(&id);
        }
        last = Some(output);
    }
    let Some(output) = last else {
        return Err(ExportError::Gpu("egui produced no output".into()));
    };
    let ppp = output.pixels_per_point;
    let jobs = ctx.tessellate(output.shapes, ppp);
    let screen = egui_wgpu::ScreenDescriptor {
        size_in_pixels: size_px,
        pixels_per_point: ppp,
    };

    let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("figure"),
    });
    let user_buffers = renderer.update_buffers(device, queue, &mut encoder, &jobs, &screen);
    // RENDER_ATTACHMENT to draw into, COPY_SRC to read the pixels back
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("figure"),
        size: wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba8Unorm,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    });
    let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
    {
        let [r, g, b, a] = background.to_normalized_gamma_f32().map(f64::from);
        let mut pass = encoder
            .begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("figure"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &view,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color { r, g, b, a }),
                        store: wgpu::StoreOp::Store,
                    },
                    depth_slice: None,
                })],
                ..Default::default()
            })
            .forget_lifetime();
        renderer.render(&mut pass, &jobs, &screen);
    }
    let unpadded = width as usize * 4;
    let padded = unpadded.div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT as usize)
        * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT as usize;
    // MAP_READ to read on the CPU, COPY_DST to receive the texture
    let readback = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("figure readback"),
        size: (padded * height as usize) as u64,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    encoder.copy_texture_to_buffer(
        texture.as_image_copy(),
        wgpu::TexelCopyBufferInfo {
            buffer: &readback,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(padded as u32),
                rows_per_image: None,
            },
        },
        wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
    );
    let index = queue.submit(
        user_buffers
            .into_iter()
            .chain(std::iter::once(encoder.finish())),
    );
    Ok((
        FigurePixels {
            buffer: readback,
            width,
            height,
            padded,
        },
        index,
    ))
}

/// Writes `image` as an 8-bit RGBA PNG; `config_json` goes into a `tEXt` chunk under [`CONFIG_TEXT_KEY`].
pub fn write_png(
    path: &Path,
    image: &ColorImage,
    config_json: Option<&str>,
) -> Result<(), ExportError> {
    let chunks: Vec<(&str, &str)> = config_json
        .map(|j| (CONFIG_TEXT_KEY, j))
        .into_iter()
        .collect();
    write_png_chunks(path, image, &chunks)
}

/// [`write_png`] with any text chunks `(keyword, text)` (a sweep figure also stores its sweep under
/// [`SWEEP_TEXT_KEY`]).
pub fn write_png_chunks(
    path: &Path,
    image: &ColorImage,
    chunks: &[(&str, &str)],
) -> Result<(), ExportError> {
    let err = write_error(path);
    let file = std::fs::File::create(path).map_err(|e| err(e.to_string()))?;
    encode_png(BufWriter::new(file), image, chunks).map_err(err)
}

/// `image` as the bytes of an 8-bit RGBA PNG with `chunks` as `tEXt` chunks (the browser's download).
pub fn png_bytes(image: &ColorImage, chunks: &[(&str, &str)]) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    encode_png(&mut bytes, image, chunks)?;
    Ok(bytes)
}

fn encode_png(
    out: impl std::io::Write,
    image: &ColorImage,
    chunks: &[(&str, &str)],
) -> Result<(), String> {
    let [w, h] = image.size;
    let mut encoder = png::Encoder::new(out, w as u32, h as u32);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    for (key, text) in chunks {
        encoder
            .add_text_chunk((*key).to_string(), (*text).to_string())
            .map_err(|e| e.to_string())?;
    }
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer
        .write_image_data(&rgba_bytes(image))
        .map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())
}

/// Most frames of an animated export.
pub const MAX_ANIMATION_FRAMES: u64 = 240;
/// Most pixels of an animated export, all frames together (240 frames of 1280x800 is 246M).
pub const MAX_ANIMATION_PIXELS: u64 = 400_000_000;
/// The GIF comment that carries an animation's configuration starts with this, then the config JSON.
pub const GIF_CONFIG_PREFIX: &str = "gradscope-config:";

/// Checks an animation of `frames` frames of `size` pixels against [`MAX_ANIMATION_FRAMES`] and
/// [`MAX_ANIMATION_PIXELS`].
pub fn check_animation_size(frames: u64, size: [u32; 2]) -> Result<(), ExportError> {
    let pixels = frames.saturating_mul(u64::from(size[0]) * u64::from(size[1]));
    if frames > MAX_ANIMATION_FRAMES || pixels > MAX_ANIMATION_PIXELS {
        return Err(ExportError::AnimationTooLarge {
            frames,
            width: size[0],
            height: size[1],
        });
    }
    Ok(())
}

/// The error of writing `path`, for a message.
fn write_error(path: &Path) -> impl Fn(String) -> ExportError + '_ {
    move |message| ExportError::Write {
        path: path.display().to_string(),
        message,
    }
}

/// The common size of an animation's frames, checked: at least one frame, all of one size.
fn frame_size(path: &Path, frames: &[ColorImage]) -> Result<[usize; 2], ExportError> {
    let err = write_error(path);
    let Some(first) = frames.first() else {
        return Err(err("an animation needs at least one frame".into()));
    };
    if frames.iter().any(|f| f.size != first.size) {
        return Err(err("the frames of an animation differ in size".into()));
    }
    Ok(first.size)
}

/// One frame as RGBA bytes (converted one frame at a time: an animation may hold hundreds).
fn rgba_bytes(image: &ColorImage) -> Vec<u8> {
    image
        .pixels
        .iter()
        .flat_map(|c| c.to_srgba_unmultiplied())
        .collect()
}

/// Writes `frames` (all of one size) as an animated GIF that loops forever, `delay_ms` per frame (GIF
/// counts in hundredths of a second), the configuration in a comment extension (`gradscope-config:` and
/// the JSON) before the first frame. Each frame gets its own palette (NeuQuant).
pub fn write_gif(
    path: &Path,
    frames: &[ColorImage],
    delay_ms: u32,
    config_json: &str,
) -> Result<(), ExportError> {
    let err = write_error(path);
    let size = frame_size(path, frames)?;
    let file = std::fs::File::create(path).map_err(|e| err(e.to_string()))?;
    let mut gif =
        GifStream::new(BufWriter::new(file), size, delay_ms, config_json).map_err(&err)?;
    for image in frames {
        gif.push(image).map_err(&err)?;
    }
    gif.finish().map(|_| ()).map_err(err)
}

/// An animated GIF written one frame at a time (the browser encodes a frame per window frame, so the
/// page never stalls on a whole animation): looping, the configuration in a comment after
/// [`GIF_CONFIG_PREFIX`].
pub struct GifStream<W: std::io::Write> {
    encoder: gif::Encoder<W>,
    size: [u16; 2],
    delay: u16,
}

impl<W: std::io::Write> GifStream<W> {
    /// Starts a GIF of frames of `size` pixels, each shown `delay_ms` milliseconds.
    pub fn new(
        out: W,
        size: [usize; 2],
        delay_ms: u32,
        config_json: &str,
    ) -> Result<GifStream<W>, String> {
        let [w, h] = size;
        let w = u16::try_from(w).map_err(|_| format!("a GIF is at most 65535 wide, not {w}"))?;
        let h = u16::try_from(h).map_err(|_| format!("a GIF is at most 65535 high, not {h}"))?;
        let mut encoder = gif::Encoder::new(out, w, h, &[]).map_err(|e| e.to_string())?;
        encoder
            .set_repeat(gif::Repeat::Infinite)
            .map_err(|e| e.to_string())?;
        let comment = format!("{GIF_CONFIG_PREFIX}{config_json}");
        encoder
            .write_raw_extension(
                gif::AnyExtension(gif::Extension::Comment as u8),
                &[comment.as_bytes()],
            )
            .map_err(|e| e.to_string())?;
        Ok(GifStream {
            encoder,
            size: [w, h],
            delay: u16::try_from(delay_ms.div_ceil(10)).unwrap_or(u16::MAX),
        })
    }

    /// Quantizes and appends one frame (of the stream's size).
    pub fn push(&mut self, image: &ColorImage) -> Result<(), String> {
        let [w, h] = self.size;
        if image.size != [usize::from(w), usize::from(h)] {
            return Err(format!(
                "frames differ in size: {:?} after {w}x{h}",
                image.size
            ));
        }
        let mut frame = gif::Frame::from_rgba_speed(w, h, &mut rgba_bytes(image), 10);
        frame.delay = self.delay;
        self.encoder.write_frame(&frame).map_err(|e| e.to_string())
    }

    /// Ends the GIF and hands the writer back.
    pub fn finish(self) -> Result<W, String> {
        self.encoder.into_inner().map_err(|e| e.to_string())
    }
}

/// Whether `path` names a `.png` file (an animation to it is an APNG).
pub fn is_png_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
}

/// Writes `frames` (all of one size) as an animated PNG (APNG) that loops forever, `delay_ms` per frame,
/// lossless (every frame is exactly the figure), the configuration in the `gradscope-config` text chunk
/// before the image data. Viewers without APNG show the first frame.
pub fn write_apng(
    path: &Path,
    frames: &[ColorImage],
    delay_ms: u32,
    config_json: &str,
) -> Result<(), ExportError> {
    let err = write_error(path);
    let [w, h] = frame_size(path, frames)?;
    let file = std::fs::File::create(path).map_err(|e| err(e.to_string()))?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), w as u32, h as u32);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .set_animated(frames.len() as u32, 0)
        .map_err(|e| err(e.to_string()))?;
    encoder
        .set_frame_delay(u16::try_from(delay_ms).unwrap_or(u16::MAX), 1000)
        .map_err(|e| err(e.to_string()))?;
    encoder
        .add_text_chunk(CONFIG_TEXT_KEY.to_string(), config_json.to_string())
        .map_err(|e| err(e.to_string()))?;
    let mut writer = encoder.write_header().map_err(|e| err(e.to_string()))?;
    for image in frames {
        writer
            .write_image_data(&rgba_bytes(image))
            .map_err(|e| err(e.to_string()))?;
    }
    writer.finish().map_err(|e| err(e.to_string()))?;
    Ok(())
}
