//! The browser build (wasm32, WebGPU): the page's entry point [`start`], and [`WebPage`], what the app
//! does differently in a browser tab. The lesson lives in the URL: the fragment is the config string
//! (percent-encoded) and is rewritten as the controls change, so the address bar is always a link back
//! to what is on screen; `?steps=N` trains N steps and pauses. Figures download instead of being written
//! to a path, a dropped PNG is read asynchronously, and every GPU read is polled, never waited on. The
//! page's `#gradscope-report` element carries the newest statistics as JSON (what the browser test
//! reads), and `#gradscope-status` says what went wrong when the app cannot start.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::{JsCast, JsValue};

use super::share::parse_link;
use crate::model::NetConfig;
use crate::stats::StepStats;
use crate::viz::offscreen::FigurePixels;

/// The page element that carries the newest statistics as JSON.
pub const REPORT_ID: &str = "gradscope-report";
/// The page element that tells what went wrong.
pub const STATUS_ID: &str = "gradscope-status";

fn window() -> Result<web_sys::Window, String> {
    web_sys::window().ok_or_else(|| "no browser window".to_string())
}

fn document() -> Result<web_sys::Document, String> {
    window()?
        .document()
        .ok_or_else(|| "no document".to_string())
}

/// Writes `text` into the page element `id`, if the page has it.
fn set_text(id: &str, text: &str) {
    if let Some(el) = document().ok().and_then(|d| d.get_element_by_id(id)) {
        el.set_text_content(Some(text));
    }
}

/// Shows why the app cannot run, on the page (the canvas stays empty then).
pub fn show_problem(text: &str) {
    set_text(STATUS_ID, text);
    if let Some(el) = document().ok().and_then(|d| d.get_element_by_id(STATUS_ID)) {
        let _ = el.set_attribute("class", "problem");
    }
    log::error!("{text}");
}

/// The URL fragment (without `#`) that holds `cfg`: its config string, percent-encoded.
fn fragment_of(cfg: &NetConfig) -> String {
    String::from(js_sys::encode_uri_component(&super::share::config_string(
        cfg,
    )))
}

/// The link that opens `cfg`: this page's address with the config string as its fragment.
pub fn link_to(cfg: &NetConfig) -> String {
    let fragment = fragment_of(cfg);
    let base = window()
        .and_then(|w| {
            let l = w.location();
            Ok(format!(
                "{}{}",
                l.origin().map_err(|_| "no origin")?,
                l.pathname().map_err(|_| "no path")?
            ))
        })
        .unwrap_or_default();
    format!("{base}#{fragment}")
}

/// The name a download of `path` is offered under: its file name, else `fallback`.
pub fn file_name(path: &std::path::Path, fallback: &str) -> String {
    path.file_name()
        .map_or_else(|| fallback.into(), |n| n.to_string_lossy().into_owned())
}

/// Offers `bytes` to the user as a download named `name`.
pub fn download(name: &str, bytes: &[u8], mime: &str) -> Result<(), String> {
    let js = |e: JsValue| format!("{e:?}");
    let array = js_sys::Uint8Array::from(bytes);
    let parts = js_sys::Array::of1(&array);
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob =
        web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(js)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(js)?;
    let a: web_sys::HtmlAnchorElement = document()?
        .create_element("a")
        .map_err(js)?
        .dyn_into()
        .map_err(|_| "not an anchor".to_string())?;
    a.set_href(&url);
    a.set_download(name);
    a.click();
    web_sys::Url::revoke_object_url(&url).map_err(js)?;
    Ok(())
}

/// A dropped file the browser has read: its name, and its bytes or why they could not be read.
pub type DroppedRead = (String, Result<Vec<u8>, String>);

/// What a figure being read back is for.
pub enum FigureUse {
    /// Download it as `name` with these PNG text chunks (key, text).
    Download {
        /// The file name offered.
        name: String,
        /// The config (and sweep) chunks.
        chunks: Vec<(&'static str, String)>,
    },
    /// Copy it to the clipboard.
    Copy,
}

/// A figure drawn offscreen whose pixels are on their way back from the GPU.
pub struct PendingPixels {
    pixels: FigurePixels,
    map: crate::gpu::PolledMap,
}

impl PendingPixels {
    /// Asks for `pixels` to be mapped; [`PendingPixels::poll`] hands the image over.
    pub fn new(pixels: FigurePixels) -> PendingPixels {
        let map = crate::gpu::PolledMap::read(&pixels.buffer);
        PendingPixels { pixels, map }
    }

    /// The image once mapped (or why it failed); `None` before.
    pub fn poll(&self) -> Option<Result<egui::ColorImage, String>> {
        let mapped = self.map.take()?;
        Some(mapped.and_then(|()| self.pixels.image().map_err(|e| e.to_string())))
    }
}

/// An animated GIF made in the browser from the records the timeline kept: one frame drawn, read back
/// or encoded per window frame, then downloaded (the desktop retrains on a thread instead).
pub struct WebGif {
    /// The steps of the frames: records the timeline holds.
    pub steps: Vec<u64>,
    /// Frames encoded so far.
    pub done: usize,
    /// The frame whose pixels are on their way back.
    pub pending: Option<PendingPixels>,
    /// The frame read back, encoded on the next window frame.
    pub drawn: Option<egui::ColorImage>,
    /// The GIF so far.
    pub stream: crate::viz::offscreen::GifStream<Vec<u8>>,
    /// The file name offered.
    pub name: String,
}

/// The app's browser state: the URL it last wrote, figures on their way back, dropped files being read,
/// the statistics last reported to the page.
#[derive(Default)]
pub struct WebPage {
    /// The configuration the URL's fragment holds.
    linked: Option<NetConfig>,
    reported: Option<(u64, u64, bool)>,
    /// Figures being read back, and what each is for.
    pub figures: Vec<(PendingPixels, FigureUse)>,
    /// The animated GIF being made.
    pub gif: Option<WebGif>,
    /// Dropped files read so far: (name, bytes or why not).
    pub dropped: Rc<RefCell<Vec<DroppedRead>>>,
}

impl WebPage {
    /// Rewrites the URL's fragment to `cfg`'s config string when it changed (no history entry).
    pub fn follow_config(&mut self, cfg: &NetConfig) {
        if self.linked.as_ref() == Some(cfg) {
            return;
        }
        let fragment = fragment_of(cfg);
        if let Ok(w) = window()
            && let Ok(history) = w.history()
        {
            let search = w.location().search().unwrap_or_default();
            let _ = history.replace_state_with_url(
                &JsValue::NULL,
                "",
                Some(&format!("{search}#{fragment}")),
            );
        }
        self.linked = Some(cfg.clone());
    }

    /// Puts the newest statistics (with the updates applied and whether training runs) on the page as
    /// JSON, when they changed.
    pub fn report(&mut self, updates: u64, running: bool, stats: Option<&StepStats>) {
        let Some(stats) = stats else {
            return;
        };
        let key = (updates, stats.step, running);
        if self.reported == Some(key) {
            return;
        }
        self.reported = Some(key);
        let json = serde_json::json!({
            "updates": updates,
            "running": running,
            "stats": stats,
        });
        set_text(REPORT_ID, &json.to_string());
    }

    /// Starts reading dropped files (the browser reads them asynchronously); they arrive in
    /// [`WebPage::dropped`], and `ctx` draws a frame to apply them.
    pub fn read_dropped(&self, files: &[egui::DroppedFileHandle], ctx: &egui::Context) {
        for file in files {
            let file = file.clone();
            let inbox = self.dropped.clone();
            let ctx = ctx.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let name = file.path().display().to_string();
                let bytes = file.bytes_async().await;
                inbox.borrow_mut().push((name, bytes));
                // a paused app draws no frames by itself: wake it to apply the file
                ctx.request_repaint();
            });
        }
    }
}

/// The page's entry point (exported to the page's script by the `gradscope-web` crate): checks for
/// WebGPU, reads the lesson from the URL and starts the app on the canvas `canvas_id`. Errors are shown
/// on the page.
pub async fn start(canvas_id: String) -> Result<(), JsValue> {
    eframe::WebLogger::init(log::LevelFilter::Info).ok();
    match start_app(&canvas_id).await {
        Ok(()) => Ok(()),
        Err(e) => {
            show_problem(&e);
            Err(JsValue::from_str(&e))
        }
    }
}

async fn start_app(canvas_id: &str) -> Result<(), String> {
    let w = window()?;
    let has_gpu = js_sys::Reflect::has(&w.navigator(), &JsValue::from_str("gpu")).unwrap_or(false);
    if !has_gpu {
        return Err(
            "This browser has no WebGPU (navigator.gpu is missing): gradscope trains its \
                    networks with WebGPU compute shaders. Use a browser with WebGPU on (Chrome or \
                    Edge 113+, Safari 26+, Firefox 141+ on Windows), or the desktop app."
                .into(),
        );
    }
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::BROWSER_WEBGPU;
    let adapter = wgpu::Instance::new(desc)
        .request_adapter(&wgpu::RequestAdapterOptions::default())
        .await;
    if let Err(e) = adapter {
        log::error!("requestAdapter: {e}");
        return Err(
            "This browser has WebGPU, but it gave no GPU adapter: WebGPU may be switched \
                    off, or this GPU blocklisted. Try another browser with WebGPU on, or the \
                    desktop app."
                .into(),
        );
    }
    let location = w.location();
    let fragment = location.hash().unwrap_or_default();
    let query = location.search().unwrap_or_default();
    let link = parse_link(
        fragment.trim_start_matches('#'),
        query.trim_start_matches('?'),
        |s| {
            js_sys::decode_uri_component(s)
                .map(String::from)
                .unwrap_or_else(|_| s.to_string())
        },
    );
    let canvas: web_sys::HtmlCanvasElement = document()?
        .get_element_by_id(canvas_id)
        .ok_or_else(|| format!("the page has no canvas #{canvas_id}"))?
        .dyn_into()
        .map_err(|_| format!("#{canvas_id} is not a canvas"))?;
    let mut setup = egui_wgpu::WgpuSetupCreateNew::without_display_handle();
    setup.instance_descriptor.backends = wgpu::Backends::BROWSER_WEBGPU;
    setup.device_descriptor = std::sync::Arc::new(crate::gpu::device::device_descriptor);
    let options = eframe::WebOptions {
        wgpu_options: egui_wgpu::WgpuConfiguration {
            wgpu_setup: egui_wgpu::WgpuSetup::CreateNew(setup),
            ..Default::default()
        },
        ..Default::default()
    };
    let (initial, link_error) = match link.config {
        Some(Ok(cfg)) => (Some(cfg), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    let steps = link.steps;
    eframe::WebRunner::new()
        .start(
            canvas,
            options,
            Box::new(move |cc| {
                let mut app = super::GradscopeApp::new(cc, initial)
                    .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })?;
                if let Some(e) = link_error {
                    app.show_error(e);
                }
                if let Some(n) = steps {
                    app = app.stop_at(n);
                }
                Ok(Box::new(app))
            }),
        )
        .await
        .map_err(|e| {
            format!(
                "gradscope could not start: {}",
                e.as_string().unwrap_or_else(|| format!("{e:?}"))
            )
        })
}
