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
                let bytes = std::fs::read(path).map_err(|e| {
                    Error::new(ErrorCode::Io, format!("reading image {}: {e}", path.display()))
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
