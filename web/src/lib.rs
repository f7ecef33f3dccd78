//! gradscope in the browser: the page's script calls [`start`] with the id of its canvas. Everything
//! else is the app itself (`gradscope::app`, whose `web` module holds what differs in a browser); this
//! crate only exports the entry point from a cdylib, so native builds of gradscope never link one.
//! Built by `scripts/web.sh`; on other targets it is empty.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen::prelude::*;

/// Starts gradscope on the canvas `canvas_id`, with the lesson in the page's URL; a browser without
/// WebGPU gets the reason on the page and as the rejected promise's value.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen]
pub async fn start(canvas_id: String) -> Result<(), JsValue> {
    gradscope::app::web::start(canvas_id).await
}
