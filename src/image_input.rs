//! The kinds of image a classifier accepts, and their conversion to RGB.

use crate::error::{Error, ErrorCode, Result};
use crate::preprocess::{decode_rgb, DecodeLimits, PixelBuffer, RgbImage, Roi, YuvPlanes};
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
    /// A planar YUV 4:2:0 camera frame (Android's `YUV_420_888`), read in place.
    Yuv420(YuvPlanes<'a>),
    /// The part of another image inside a region of interest, taken before rotation, resize
    /// and crop (see [`Roi`] for the coordinates and the YUV rule). Build it with
    /// [`ImageInput::with_roi`]. Regions nest: an inner one is relative to the outer.
    Region {
        /// The whole image.
        image: &'a ImageInput<'a>,
        /// The part of it to classify.
        roi: Roi,
    },
}

impl<'a> ImageInput<'a> {
    /// This image limited to `roi` (unchanged when `None`), as TFLite's `setRoi`: the result
    /// equals classifying the cropped image, without a copy for raw buffers and frames.
    pub fn with_roi(&'a self, roi: Option<Roi>) -> ImageInput<'a> {
        match roi {
            Some(roi) => ImageInput::Region { image: self, roi },
            None => *self,
        }
    }

    /// Decodes or converts to an upright RGB8 image, enforcing `limits`.
    pub fn to_rgb(&self, limits: &DecodeLimits) -> Result<RgbImage> {
        self.to_rgb_in(None, limits)
    }

    /// [`ImageInput::to_rgb`] of the part inside `roi` (in this image's coordinates).
    fn to_rgb_in(self, roi: Option<Roi>, limits: &DecodeLimits) -> Result<RgbImage> {
        match self {
            ImageInput::Pixels(buffer) => buffer.to_rgb_in(roi, limits),
            ImageInput::Yuv420(planes) => planes.to_rgb(roi, limits),
            ImageInput::Region { image, roi: outer } => {
                let roi = match roi {
                    Some(inner) => outer.compose(inner)?,
                    None => outer,
                };
                image.to_rgb_in(Some(roi), limits)
            }
            ImageInput::Path(path) => crop(decode_path(path, limits)?, roi),
            ImageInput::Encoded(bytes) => crop(decode_rgb(bytes, limits)?, roi),
        }
    }
}

fn crop(rgb: RgbImage, roi: Option<Roi>) -> Result<RgbImage> {
    match roi {
        Some(roi) => roi.crop_rgb(&rgb),
        None => Ok(rgb),
    }
}

/// Reads and decodes an image file, its path in the errors.
fn decode_path(path: &Path, limits: &DecodeLimits) -> Result<RgbImage> {
    // An encoded image is never larger than its pixels uncompressed (BMP, RGBA):
    // bound the read so a device file or a huge file cannot exhaust memory.
    let max_bytes = limits.max_pixels.saturating_mul(4).saturating_add(1 << 20);
    let bytes = read_bounded(path, max_bytes).map_err(|e| {
        Error::new(e.code(), format!("reading image {}: {}", path.display(), e.message()))
    })?;
    decode_rgb(&bytes, limits)
        .map_err(|e| Error::new(e.code(), format!("{}: {}", path.display(), e.message())))
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
