//! Figures that reproduce themselves and configs to share: reads the configuration back out of an
//! exported PNG's `gradscope-config` text chunk (for `gradscope app --from-figure` and for PNGs dropped on
//! the window), and the one-line JSON config string the side panel copies and pastes.

use std::path::Path;

use anyhow::{Result, anyhow, bail};

use crate::model::{NetConfig, open_regular_file};
use crate::viz::offscreen::{CONFIG_TEXT_KEY, SWEEP_TEXT_KEY};

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

/// Largest figure file read, in bytes (256 MiB: a 16384 x 16384 export of flat colours is far smaller).
/// Only the chunks before the image data are read, so this bounds time, not memory.
pub const MAX_FIGURE_BYTES: u64 = 256 << 20;
/// Most bytes the PNG decoder may hold for the metadata chunks before the image data (4 MiB).
pub const MAX_FIGURE_METADATA_BYTES: usize = 4 << 20;
/// Largest config text read from a figure once decompressed (64 KiB; a config is under 1 KiB). A
/// compressed `zTXt`/`iTXt` chunk that inflates past this is refused, never inflated in full.
pub const MAX_CONFIG_TEXT_BYTES: usize = 64 << 10;

/// The `gradscope-config` text of the PNG read from `source`: the decoder holds at most
/// [`MAX_FIGURE_METADATA_BYTES`] of metadata and a compressed chunk inflates to at most
/// [`MAX_CONFIG_TEXT_BYTES`].
fn config_text<R: std::io::BufRead + std::io::Seek>(mut source: R) -> Result<String> {
    // an animation exported by gradscope (GIF) carries its config in a comment before the first frame
    let mut magic = [0u8; 4];
    let n = std::io::Read::read(&mut source, &mut magic)?;
    source.seek(std::io::SeekFrom::Start(0))?;
    if n == 4 && &magic == b"GIF8" {
        return gif_config_text(source)?.ok_or_else(|| {
            anyhow!("this GIF has no gradscope config comment (only animations exported by gradscope carry one)")
        });
    }
    text_chunk(source, CONFIG_TEXT_KEY)?.ok_or_else(|| {
        anyhow!(
            "this PNG has no `{CONFIG_TEXT_KEY}` text chunk (only figures exported by gradscope carry their config)"
        )
    })
}

/// The text chunk `key` of the PNG read from `source` (`None` if it has none), with the bounds of
/// [`config_text`].
fn text_chunk<R: std::io::BufRead + std::io::Seek>(source: R, key: &str) -> Result<Option<String>> {
    let mut decoder = png::Decoder::new_with_limits(
        source,
        png::Limits {
            bytes: MAX_FIGURE_METADATA_BYTES,
        },
    );
    decoder.set_ignore_iccp_chunk(true);
    let reader = decoder
        .read_info()
        .map_err(|e| anyhow!("not a readable PNG: {e}"))?;
    let info = reader.info();
    let too_large = || {
        anyhow!(
            "its `{key}` text is larger than {MAX_CONFIG_TEXT_BYTES} bytes once decompressed (a gradscope config is under 1 KiB)"
        )
    };
    if let Some(t) = info
        .uncompressed_latin1_text
        .iter()
        .find(|t| t.keyword == key)
    {
        if t.text.len() > MAX_CONFIG_TEXT_BYTES {
            return Err(too_large());
        }
        return Ok(Some(t.text.clone()));
    }
    if let Some(t) = info.utf8_text.iter().find(|t| t.keyword == key) {
        let mut t = t.clone();
        t.decompress_text_with_limit(MAX_CONFIG_TEXT_BYTES)
            .map_err(|_| too_large())?;
        return t
            .get_text()
            .map(Some)
            .map_err(|e| anyhow!("its `{key}` text is unreadable: {e}"));
    }
    if let Some(t) = info
        .compressed_latin1_text
        .iter()
        .find(|t| t.keyword == key)
    {
        let mut t = t.clone();
        t.decompress_text_with_limit(MAX_CONFIG_TEXT_BYTES)
            .map_err(|_| too_large())?;
        return t
            .get_text()
            .map(Some)
            .map_err(|e| anyhow!("its `{key}` text is unreadable: {e}"));
    }
    Ok(None)
}

/// The configuration stored in a PNG exported by gradscope (its `gradscope-config` text chunk), with
/// bounded memory: see [`MAX_FIGURE_METADATA_BYTES`] and [`MAX_CONFIG_TEXT_BYTES`].
pub fn config_from_png_bytes(bytes: &[u8]) -> Result<NetConfig> {
    parse_config(&config_text(std::io::Cursor::new(bytes))?)
}

/// The configuration stored in the gradscope PNG (or animated GIF) at `path`: a regular file of at most
/// [`MAX_FIGURE_BYTES`] (a device or FIFO is refused before a byte is read), read as far as its image
/// data with the memory bounds of [`config_from_png_bytes`].
pub fn config_from_png(path: &Path) -> Result<NetConfig> {
    let (file, _) =
        open_regular_file(path, MAX_FIGURE_BYTES).map_err(|e| anyhow!("cannot read figure {e}"))?;
    config_text(std::io::BufReader::new(file))
        .and_then(|text| parse_config(&text))
        .map_err(|e| anyhow!("{}: {e:#}", path.display()))
}

/// The sweep stored in a trainability figure's `gradscope-sweep` chunk (`None` for other figures), read
/// from the gradscope PNG `bytes` with the bounds of [`config_from_png_bytes`].
pub fn sweep_from_png_bytes(bytes: &[u8]) -> Result<Option<crate::sweep::SweepSpec>> {
    if bytes.starts_with(b"GIF8") {
        return Ok(None);
    }
    parse_sweep(text_chunk(std::io::Cursor::new(bytes), SWEEP_TEXT_KEY)?)
}

/// [`sweep_from_png_bytes`] of the PNG at `path` (a regular file of at most [`MAX_FIGURE_BYTES`]).
pub fn sweep_from_png(path: &Path) -> Result<Option<crate::sweep::SweepSpec>> {
    let (file, _) =
        open_regular_file(path, MAX_FIGURE_BYTES).map_err(|e| anyhow!("cannot read figure {e}"))?;
    let mut reader = std::io::BufReader::new(file);
    let is_gif = std::io::BufRead::fill_buf(&mut reader).is_ok_and(|b| b.starts_with(b"GIF8"));
    if is_gif {
        // an animation: no sweep
        return Ok(None);
    }
    text_chunk(reader, SWEEP_TEXT_KEY)
        .and_then(parse_sweep)
        .map_err(|e| anyhow!("{}: {e:#}", path.display()))
}

fn parse_sweep(text: Option<String>) -> Result<Option<crate::sweep::SweepSpec>> {
    text.map(|t| {
        serde_json::from_str(&t)
            .map_err(|e| anyhow!("its `{SWEEP_TEXT_KEY}` text is not a gradscope sweep: {e}"))
    })
    .transpose()
}

/// The config JSON of a GIF exported by gradscope: the comment extension starting with
/// [`crate::viz::offscreen::GIF_CONFIG_PREFIX`], which comes before the first frame; reads no further than
/// that frame, and at most [`MAX_CONFIG_TEXT_BYTES`] of comment.
fn gif_config_text<R: std::io::Read>(mut r: R) -> Result<Option<String>> {
    use crate::viz::offscreen::GIF_CONFIG_PREFIX;
    let byte = |r: &mut R| -> Result<u8> {
        let mut b = [0u8; 1];
        r.read_exact(&mut b)
            .map_err(|e| anyhow!("not a readable GIF: {e}"))?;
        Ok(b[0])
    };
    let skip = |r: &mut R, n: usize| -> Result<()> {
        std::io::copy(
            &mut std::io::Read::take(&mut *r, n as u64),
            &mut std::io::sink(),
        )
        .map_err(|e| anyhow!("not a readable GIF: {e}"))
        .and_then(|got| {
            if got == n as u64 {
                Ok(())
            } else {
                bail!("not a readable GIF: it ends early")
            }
        })
    };
    // header (6) and logical screen descriptor (7), the global colour table after it
    let mut head = [0u8; 13];
    r.read_exact(&mut head)
        .map_err(|e| anyhow!("not a readable GIF: {e}"))?;
    if &head[..3] != b"GIF" {
        bail!("not a GIF");
    }
    if head[10] & 0x80 != 0 {
        skip(&mut r, 3 << ((head[10] & 7) + 1))?;
    }
    loop {
        match byte(&mut r)? {
            0x21 => {
                let label = byte(&mut r)?;
                let mut data = Vec::new();
                loop {
                    let len = usize::from(byte(&mut r)?);
                    if len == 0 {
                        break;
                    }
                    if label == 0xFE
                        && data.len() + len <= MAX_CONFIG_TEXT_BYTES + GIF_CONFIG_PREFIX.len()
                    {
                        let mut block = vec![0u8; len];
                        r.read_exact(&mut block)
                            .map_err(|e| anyhow!("not a readable GIF: {e}"))?;
                        data.extend_from_slice(&block);
                    } else if label == 0xFE {
                        bail!(
                            "its comment is larger than {MAX_CONFIG_TEXT_BYTES} bytes (a gradscope config is under 1 KiB)"
                        );
                    } else {
                        skip(&mut r, len)?;
                    }
                }
                if label == 0xFE
                    && let Some(json) = data.strip_prefix(GIF_CONFIG_PREFIX.as_bytes())
                {
                    return Ok(Some(String::from_utf8_lossy(json).into_owned()));
                }
            }
            // the first frame or the end: the config comment would have come before
            0x2C | 0x3B => return Ok(None),
            other => bail!("not a readable GIF: unexpected block 0x{other:02x}"),
        }
    }
}

/// What the URL asks for: the config (from the fragment) and how many steps to train before pausing.
#[derive(Debug, Default)]
pub struct LinkRequest {
    /// The fragment's configuration, or why it could not be read (`None`: no fragment).
    pub config: Option<Result<NetConfig, String>>,
    /// `?steps=N`: train N steps, then pause on the gradient at those weights.
    pub steps: Option<u64>,
}

/// Reads the config from a URL fragment (without its `#`) and the step count from a query string
/// (without its `?`); pure, so the native tests check it.
pub fn parse_link(fragment: &str, query: &str, decode: impl Fn(&str) -> String) -> LinkRequest {
    let fragment = fragment.trim();
    let config = (!fragment.is_empty()).then(|| {
        parse_config(&decode(fragment))
            .map_err(|e| format!("the link's config could not be used: {e:#}"))
    });
    let steps = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "steps")
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .map(|n| n.min(crate::cli::MAX_STEPS));
    LinkRequest { config, steps }
}
