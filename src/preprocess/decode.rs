//! Decoding of encoded images (JPEG, PNG, BMP, WebP) to RGB8, with size limits checked before
//! any pixel memory is allocated.

use super::RgbImage;
use crate::error::{catch_panic, Error, ErrorCode, Result};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use std::io::Cursor;

/// Default maximum pixel count of a decoded image or raw buffer: 100 megapixels
/// (a 12000 x 8000 photograph), 300 MB of RGB8.
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;

/// Bounds on what a decoder may allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest accepted `width * height`; the header is checked against it before decoding.
    pub max_pixels: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits { max_pixels: DEFAULT_MAX_PIXELS }
    }
}

impl DecodeLimits {
    /// Checks a width and height against the limits and against zero.
    pub fn check(&self, width: u32, height: u32) -> Result<()> {
        if width == 0 || height == 0 {
            return Err(Error::new(
                ErrorCode::ImageSize,
                format!("the image is {width}x{height}: zero-sized"),
            ));
        }
        let pixels = width as u64 * height as u64;
        if pixels > self.max_pixels {
            return Err(Error::new(
                ErrorCode::LimitExceeded,
                format!(
                    "the image is {width}x{height} ({pixels} pixels), over the limit of {} pixels",
                    self.max_pixels
                ),
            ));
        }
        Ok(())
    }
}

fn reader(bytes: &[u8]) -> Result<ImageReader<Cursor<&[u8]>>> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::new(ErrorCode::ImageDecode, format!("reading the image: {e}")))?;
    match reader.format() {
        Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Bmp | ImageFormat::WebP) => {
            Ok(reader)
        }
        Some(other) => Err(Error::new(
            ErrorCode::ImageDecode,
            format!("unsupported image format {other:?} (JPEG, PNG, BMP and WebP are supported)"),
        )),
        None => Err(Error::new(
            ErrorCode::ImageDecode,
            "unrecognized image format (JPEG, PNG, BMP and WebP are supported)",
        )),
    }
}

fn decode_error(e: image::ImageError) -> Error {
    match e {
        image::ImageError::Limits(l) => {
            Error::new(ErrorCode::LimitExceeded, format!("decoding the image: {l}"))
        }
        other => Error::new(ErrorCode::ImageDecode, format!("decoding the image: {other}")),
    }
}

/// Decodes JPEG, PNG, BMP or WebP bytes to RGB8, applying the EXIF orientation (as OpenCV's
/// `imdecode` does). Grey images are replicated to three channels; alpha is dropped.
///
/// The header's dimensions are checked against `limits` before the pixels are decoded, so a
/// crafted header claiming 100000 x 100000 pixels fails fast without allocating.
pub fn decode_rgb(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage> {
    if bytes.is_empty() {
        return Err(Error::new(ErrorCode::ImageDecode, "the image is empty (0 bytes)"));
    }
    catch_panic(|| {
        // One header parse: the decoder reports the dimensions before any pixel is decoded.
        let mut decoder = reader(bytes)?.into_decoder().map_err(decode_error)?;
        let (width, height) = decoder.dimensions();
        limits.check(width, height)?;
        let mut decoder_limits = image::Limits::default();
        decoder_limits.max_image_width = Some(width);
        decoder_limits.max_image_height = Some(height);
        // 16-bit RGBA is the widest layout a decoder produces: 8 bytes a pixel, plus slack.
        decoder_limits.max_alloc =
            Some((width as u64 * height as u64 * 8).max(1 << 20) + (1 << 20));
        decoder.set_limits(decoder_limits).map_err(decode_error)?;
        let orientation =
            decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
        let mut image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
        image.apply_orientation(orientation);
        let rgb = image.into_rgb8();
        let (width, height) = rgb.dimensions();
        limits.check(width, height)?;
        Ok(RgbImage { width, height, data: rgb.into_raw() })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png).unwrap();
        out
    }

    #[test]
    fn decodes_png() {
        let img = decode_rgb(&png(5, 3), &DecodeLimits::default()).unwrap();
        assert_eq!((img.width, img.height), (5, 3));
        assert_eq!(&img.data[..6], &[0, 0, 7, 1, 0, 7]);
    }

    #[test]
    fn refuses_garbage_and_empty() {
        let limits = DecodeLimits::default();
        assert_eq!(decode_rgb(b"", &limits).unwrap_err().code(), ErrorCode::ImageDecode);
        assert_eq!(
            decode_rgb(b"not an image", &limits).unwrap_err().code(),
            ErrorCode::ImageDecode
        );
        let mut truncated = png(64, 64);
        truncated.truncate(truncated.len() / 2);
        assert_eq!(decode_rgb(&truncated, &limits).unwrap_err().code(), ErrorCode::ImageDecode);
    }

    /// CRC-32 (IEEE) as PNG chunks use it.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    /// A PNG whose IHDR claims `width` x `height` (with a valid CRC) and whose data is tiny.
    pub(crate) fn png_bomb(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = png(1, 1);
        bytes[16..20].copy_from_slice(&width.to_be_bytes());
        bytes[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    #[test]
    fn refuses_oversized_header_before_decoding() {
        let err = decode_rgb(&png_bomb(100_000, 100_000), &DecodeLimits::default()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::LimitExceeded, "{err}");
        assert!(err.message().contains("100000x100000"), "{err}");
        let small = DecodeLimits { max_pixels: 10 };
        assert_eq!(decode_rgb(&png(5, 3), &small).unwrap_err().code(), ErrorCode::LimitExceeded);
    }
}
