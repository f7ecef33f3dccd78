//! Figures that reproduce themselves and configs to share: reads the configuration back out of an
//! exported PNG's `gradscope-config` text chunk (for `gradscope app --from-figure` and for PNGs dropped on
//! the window), and the one-line JSON config string the side panel copies and pastes.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};

use crate::model::NetConfig;
use crate::viz::offscreen::CONFIG_TEXT_KEY;

/// The configuration as the one-line JSON string the side panel copies (what the PNG chunk stores).
pub fn config_string(cfg: &NetConfig) -> String {
    super::views::config_json(cfg)
}

/// Parses a pasted config string (the one-line JSON of [`NetConfig`]) and validates it.
pub fn parse_config(text: &str) -> Result<NetConfig> {
    let text = text.trim();
    if text.is_empty() {
        bail!("paste a config string first (Copy config gives one)");
    }
    let cfg: NetConfig =
        serde_json::from_str(text).map_err(|e| anyhow!("not a gradscope config string: {e}"))?;
    cfg.validate()
        .map_err(|e| anyhow!("the config string is not a valid network: {e}"))?;
    Ok(cfg)
}

/// The configuration stored in a PNG exported by gradscope (its `gradscope-config` text chunk).
pub fn config_from_png_bytes(bytes: &[u8]) -> Result<NetConfig> {
    let reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .map_err(|e| anyhow!("not a readable PNG: {e}"))?;
    let info = reader.info();
    let text = info
        .uncompressed_latin1_text
        .iter()
        .find(|t| t.keyword == CONFIG_TEXT_KEY)
        .map(|t| t.text.clone())
        .or_else(|| {
            info.utf8_text
                .iter()
                .find(|t| t.keyword == CONFIG_TEXT_KEY)
                .and_then(|t| t.get_text().ok())
        })
        .or_else(|| {
            info.compressed_latin1_text
                .iter()
                .find(|t| t.keyword == CONFIG_TEXT_KEY)
                .and_then(|t| t.get_text().ok())
        })
        .ok_or_else(|| {
            anyhow!(
                "this PNG has no `{CONFIG_TEXT_KEY}` text chunk (only figures exported by gradscope carry their config)"
            )
        })?;
    parse_config(&text)
}

/// The configuration stored in the gradscope PNG at `path`.
pub fn config_from_png(path: &Path) -> Result<NetConfig> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    config_from_png_bytes(&bytes).with_context(|| format!("{}", path.display()))
}
