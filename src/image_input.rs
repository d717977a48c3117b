//! The kinds of image a classifier accepts, and their conversion to RGB.

use crate::error::{Error, ErrorCode, Result};
use crate::preprocess::{decode_rgb, DecodeLimits, PixelBuffer, RgbImage};
use std::path::Path;

/// An image to classify. Borrowed: the SDK reads it during the call only.
#[derive(Debug, Clone, Copy)]
pub enum ImageInput<'a> {
    /// An encoded image file (JPEG, PNG, BMP, WebP) on disk.
    Path(&'a Path),
    /// Encoded image bytes in memory.
    Encoded(&'a [u8]),
    /// A raw pixel buffer or camera frame.
    Pixels(PixelBuffer<'a>),
}

impl ImageInput<'_> {
    /// Decodes or converts to an upright RGB8 image, enforcing `limits`.
    pub fn to_rgb(&self, limits: &DecodeLimits) -> Result<RgbImage> {
        match self {
            ImageInput::Path(path) => {
                // An encoded image is never larger than its pixels uncompressed (BMP, RGBA):
                // bound the read so a device file or a huge file cannot exhaust memory.
                let max_bytes = limits.max_pixels.saturating_mul(4).saturating_add(1 << 20);
                let bytes = read_bounded(path, max_bytes).map_err(|e| {
                    Error::new(
                        e.code(),
                        format!("reading image {}: {}", path.display(), e.message()),
                    )
                })?;
                decode_rgb(&bytes, limits).map_err(|e| {
                    Error::new(e.code(), format!("{}: {}", path.display(), e.message()))
                })
            }
            ImageInput::Encoded(bytes) => decode_rgb(bytes, limits),
            ImageInput::Pixels(buffer) => buffer.to_rgb(limits),
        }
    }
}

/// Reads a file, refusing it with [`ErrorCode::LimitExceeded`] once it exceeds `max_bytes`
/// (without reading further), and with [`ErrorCode::Io`] when it cannot be read.
pub fn read_bounded(path: &Path, max_bytes: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| Error::new(ErrorCode::Io, e.to_string()))?;
    // Sized from the file's length up front (bounded by the limit): no regrowth while reading.
    let hint = file.metadata().map(|m| m.len().min(max_bytes.saturating_add(1))).unwrap_or(0);
    let mut bytes = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::new(ErrorCode::Io, e.to_string()))?;
    if bytes.len() as u64 > max_bytes {
        return Err(Error::new(
            ErrorCode::LimitExceeded,
            format!("the file is larger than the limit of {max_bytes} bytes"),
        ));
    }
    Ok(bytes)
}
