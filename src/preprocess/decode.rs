//! Decoding of encoded images (JPEG, PNG, BMP, WebP) to RGB8, with size limits checked before
//! any pixel memory is allocated. JPEG goes through libjpeg-turbo ([`super::jpeg`]), so its
//! pixels equal OpenCV's; PNG, BMP and WebP through the `image` crate.

use super::RgbImage;
use crate::error::{catch_panic, Error, ErrorCode, Result};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use std::io::Cursor;

/// Default maximum pixel count of a decoded image or raw buffer: 100 megapixels
/// (a 12000 x 8000 photograph), 300 MB of RGB8.
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;

/// Bounds on what a decoder may allocate, and whether it accepts incomplete data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest accepted `width * height`; the header is checked against it before decoding.
    pub max_pixels: u64,
    /// Decode truncated encoded images to a partial frame (the missing part grey, or whatever
    /// the decoder fills in) instead of refusing them with [`ErrorCode::ImageDecode`] (default
    /// false). A file cut before its pixel data starts is refused either way.
    pub allow_truncated: bool,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits { max_pixels: DEFAULT_MAX_PIXELS, allow_truncated: false }
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
        image::ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::new(
                ErrorCode::ImageDecode,
                format!("decoding the image: the image data is truncated ({io})"),
            )
        }
        other => Error::new(ErrorCode::ImageDecode, format!("decoding the image: {other}")),
    }
}

/// Where encoded data ends before its format says it does: `Some(description)` for a JPEG
/// without its end-of-image marker (or cut inside a segment), a PNG cut before the end of its
/// `IEND` chunk, or a WebP shorter than its RIFF header declares; `None` when complete (or a
/// format not checked here, whose decoder reports a short read itself).
fn truncation(bytes: &[u8], format: ImageFormat) -> Option<String> {
    match format {
        ImageFormat::Jpeg => jpeg_truncation(bytes),
        ImageFormat::Png => png_truncation(bytes),
        ImageFormat::WebP => {
            let declared = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?) as u64 + 8;
            (declared > bytes.len() as u64)
                .then(|| format!("the WebP file declares {declared} bytes but has {}", bytes.len()))
        }
        _ => None,
    }
}

/// Walks a JPEG's segments (skipping each by its length) and entropy-coded scans (where a
/// `0xFF` is followed by `0x00` stuffing or a restart marker) up to the end-of-image marker.
fn jpeg_truncation(b: &[u8]) -> Option<String> {
    let len = b.len();
    let cut = |what: &str| Some(format!("the JPEG ends after {len} bytes {what}"));
    let mut i = 2; // after SOI
    loop {
        // The next marker: 0xFF, any fill bytes, the marker code.
        match b[i.min(len)..].iter().position(|&x| x == 0xFF) {
            Some(at) => i += at,
            None => return cut("without its end-of-image marker"),
        }
        while i < len && b[i] == 0xFF {
            i += 1;
        }
        let Some(&marker) = b.get(i) else {
            return cut("without its end-of-image marker");
        };
        i += 1;
        match marker {
            0xD9 => return None,                   // EOI
            0x00 | 0x01 | 0xD0..=0xD8 => continue, // standalone markers
            _ => {}
        }
        let Some(length) = b.get(i..i + 2) else {
            return cut("inside a segment header");
        };
        let length = u16::from_be_bytes([length[0], length[1]]) as usize;
        if length < 2 {
            return None; // corrupt: the decoder reports it
        }
        if i + length > len {
            return cut(&format!("inside a {length}-byte segment (marker 0xFF{marker:02X})"));
        }
        i += length;
        if marker == 0xDA {
            // Start of scan: entropy-coded data up to the next marker that is not stuffing or
            // a restart.
            loop {
                match b[i..].iter().position(|&x| x == 0xFF) {
                    Some(at) => i += at,
                    None => return cut("inside its image data (no end-of-image marker)"),
                }
                match b.get(i + 1) {
                    None => return cut("inside its image data (no end-of-image marker)"),
                    Some(0x00 | 0xD0..=0xD7 | 0xFF) => i += 1,
                    Some(_) => break,
                }
            }
        }
    }
}

/// Walks a PNG's chunks (length, type, data, CRC) up to the end of `IEND`.
fn png_truncation(b: &[u8]) -> Option<String> {
    let mut i = 8u64; // after the signature
    let len = b.len() as u64;
    loop {
        let Some(header) = b.get(i as usize..i as usize + 8) else {
            return Some(format!("the PNG ends after {len} bytes, before its IEND chunk"));
        };
        let data = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as u64;
        let kind = String::from_utf8_lossy(&header[4..8]).into_owned();
        let end = i + 12 + data;
        if end > len {
            return Some(format!(
                "the PNG ends after {len} bytes, inside its {kind} chunk at byte {i} \
                 (which needs {} more)",
                end - len
            ));
        }
        if kind == "IEND" {
            return None;
        }
        i = end;
    }
}

/// Builds an image from a decoder's raw output (`buf` laid out as `color` says).
fn image_from_raw(
    width: u32,
    height: u32,
    color: image::ColorType,
    buf: Vec<u8>,
) -> Option<DynamicImage> {
    use image::{ColorType as C, ImageBuffer};
    let u16s = |buf: &[u8]| -> Vec<u16> {
        buf.chunks_exact(2).map(|c| u16::from_ne_bytes([c[0], c[1]])).collect()
    };
    let f32s = |buf: &[u8]| -> Vec<f32> {
        buf.chunks_exact(4).map(|c| f32::from_ne_bytes([c[0], c[1], c[2], c[3]])).collect()
    };
    Some(match color {
        C::L8 => DynamicImage::ImageLuma8(ImageBuffer::from_raw(width, height, buf)?),
        C::La8 => DynamicImage::ImageLumaA8(ImageBuffer::from_raw(width, height, buf)?),
        C::Rgb8 => DynamicImage::ImageRgb8(ImageBuffer::from_raw(width, height, buf)?),
        C::Rgba8 => DynamicImage::ImageRgba8(ImageBuffer::from_raw(width, height, buf)?),
        C::L16 => DynamicImage::ImageLuma16(ImageBuffer::from_raw(width, height, u16s(&buf))?),
        C::La16 => DynamicImage::ImageLumaA16(ImageBuffer::from_raw(width, height, u16s(&buf))?),
        C::Rgb16 => DynamicImage::ImageRgb16(ImageBuffer::from_raw(width, height, u16s(&buf))?),
        C::Rgba16 => DynamicImage::ImageRgba16(ImageBuffer::from_raw(width, height, u16s(&buf))?),
        C::Rgb32F => DynamicImage::ImageRgb32F(ImageBuffer::from_raw(width, height, f32s(&buf))?),
        C::Rgba32F => DynamicImage::ImageRgba32F(ImageBuffer::from_raw(width, height, f32s(&buf))?),
        _ => return None,
    })
}

fn is_short_read(e: &image::ImageError) -> bool {
    matches!(e, image::ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof)
}

/// Decodes what a possibly truncated image holds: the decoder writes rows into a grey buffer
/// until the data runs out. Its error is ignored (with a warning) when the data is known to be
/// truncated (`truncated` says how) or the error is a short read; any other error fails.
fn decode_partial(
    decoder: impl ImageDecoder,
    format: ImageFormat,
    truncated: Option<&str>,
) -> Result<DynamicImage> {
    let (width, height) = decoder.dimensions();
    let color = decoder.color_type();
    let total = usize::try_from(decoder.total_bytes())
        .map_err(|_| Error::new(ErrorCode::LimitExceeded, "the image is too large"))?;
    let mut buf = vec![0x80u8; total];
    if let Err(e) = decoder.read_image(&mut buf) {
        if matches!(e, image::ImageError::Limits(_)) || !(truncated.is_some() || is_short_read(&e))
        {
            return Err(decode_error(e));
        }
        log::warn!(
            "decoding a truncated image ({}): keeping the partial frame ({e})",
            truncated.unwrap_or("short read")
        );
        // PNG rows arrive big-endian; the decoder converts 16-bit samples only on success.
        let bytes_per_channel = color.bytes_per_pixel() / color.channel_count().max(1);
        if format == ImageFormat::Png && bytes_per_channel == 2 {
            for c in buf.chunks_exact_mut(2) {
                let v = u16::from_be_bytes([c[0], c[1]]);
                c.copy_from_slice(&v.to_ne_bytes());
            }
        }
    }
    image_from_raw(width, height, color, buf).ok_or_else(|| {
        Error::new(ErrorCode::ImageDecode, format!("unsupported pixel layout {color:?}"))
    })
}

/// Decodes JPEG, PNG, BMP or WebP bytes to RGB8, applying the EXIF orientation (as OpenCV's
/// `imdecode` does). Grey images are replicated to three channels; alpha is dropped. JPEG
/// pixels are libjpeg-turbo's at its defaults, identical to `cv2.imdecode`'s
/// ([`super::jpeg::decode_jpeg`]); CMYK JPEGs are converted as OpenCV converts them.
///
/// The header's dimensions are checked against `limits` before the pixels are decoded, so a
/// crafted header claiming 100000 x 100000 pixels fails fast without allocating.
///
/// Truncated data (a JPEG without its end-of-image marker, a PNG cut before the end of its
/// `IEND` chunk, a WebP shorter than its header says, a BMP whose pixels run out) fails with
/// [`ErrorCode::ImageDecode`] and a message saying it is truncated, unless
/// `limits.allow_truncated` is set: then the rows the data holds are decoded and the rest is
/// filled (grey), with a warning logged. Data cut inside its headers fails either way.
pub fn decode_rgb(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage> {
    if bytes.is_empty() {
        return Err(Error::new(ErrorCode::ImageDecode, "the image is empty (0 bytes)"));
    }
    catch_panic(|| {
        let reader = reader(bytes)?;
        let format = reader.format().expect("reader() checked the format");
        let truncated = truncation(bytes, format);
        if let (Some(what), false) = (&truncated, limits.allow_truncated) {
            return Err(Error::new(
                ErrorCode::ImageDecode,
                format!(
                    "the image data is truncated: {what} (allow truncated images to decode the \
                     partial frame)"
                ),
            ));
        }
        if format == ImageFormat::Jpeg {
            let (rgb, orientation) = super::jpeg::decode_jpeg(bytes, limits).map_err(|e| {
                // Cut inside its headers (the decoder found no pixels): say where.
                match &truncated {
                    Some(what) if !e.message().contains(what.as_str()) => Error::new(
                        e.code(),
                        format!(
                            "the image data is truncated ({what}) before its pixels: {}",
                            e.message()
                        ),
                    ),
                    _ => e,
                }
            })?;
            if orientation == image::metadata::Orientation::NoTransforms {
                return Ok(rgb);
            }
            let buffer = image::RgbImage::from_raw(rgb.width, rgb.height, rgb.data)
                .expect("decode_jpeg returns width * height * 3 bytes");
            let mut image = DynamicImage::ImageRgb8(buffer);
            image.apply_orientation(orientation);
            let rgb = image.into_rgb8();
            let (width, height) = rgb.dimensions();
            return Ok(RgbImage { width, height, data: rgb.into_raw() });
        }
        let header_error = |e: image::ImageError| {
            let e = decode_error(e);
            match &truncated {
                Some(what) => Error::new(
                    e.code(),
                    format!(
                        "the image data is truncated ({what}) before its pixels: {}",
                        e.message()
                    ),
                ),
                None => e,
            }
        };
        // One header parse: the decoder reports the dimensions before any pixel is decoded.
        let mut decoder = reader.into_decoder().map_err(header_error)?;
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
        let mut image = if limits.allow_truncated {
            decode_partial(decoder, format, truncated.as_deref())?
        } else {
            DynamicImage::from_decoder(decoder).map_err(decode_error)?
        };
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

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x * 3) as u8, (y * 5) as u8, ((x + y) * 7) as u8])
        });
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg).unwrap();
        out
    }

    /// Cut anywhere after its headers, a JPEG or PNG is refused as truncated by default and
    /// decodes to a full-size partial frame when allowed; whole, both decode the same.
    #[test]
    fn truncated_data_is_refused_unless_allowed() {
        let strict = DecodeLimits::default();
        let lenient = DecodeLimits { allow_truncated: true, ..DecodeLimits::default() };
        for (name, bytes) in [("jpeg", jpeg(96, 64)), ("png", png(96, 64))] {
            let whole = decode_rgb(&bytes, &strict).unwrap();
            assert_eq!(decode_rgb(&bytes, &lenient).unwrap(), whole, "{name}");
            for cut in [bytes.len() / 2, bytes.len() - 2, bytes.len() - 1] {
                let err = decode_rgb(&bytes[..cut], &strict).unwrap_err();
                assert_eq!(err.code(), ErrorCode::ImageDecode, "{name} cut at {cut}: {err}");
                assert!(err.message().contains("truncated"), "{name} cut at {cut}: {err}");
                let partial = decode_rgb(&bytes[..cut], &lenient).unwrap();
                assert_eq!((partial.width, partial.height), (96, 64), "{name} cut at {cut}");
            }
            // Cut inside the headers: refused either way, as truncated.
            let err = decode_rgb(&bytes[..20], &lenient).unwrap_err();
            assert_eq!(err.code(), ErrorCode::ImageDecode, "{name}: {err}");
            assert!(err.message().contains("truncated"), "{name}: {err}");
        }
        // Bytes after the end-of-image marker are not truncation.
        let mut trailing = jpeg(16, 16);
        trailing.extend_from_slice(b"trailing bytes");
        decode_rgb(&trailing, &strict).unwrap();
    }

    /// The partial frame keeps the rows the data holds and fills the rest grey.
    #[test]
    fn partial_png_keeps_its_decoded_rows() {
        let bytes = png(64, 64);
        let whole = decode_rgb(&bytes, &DecodeLimits::default()).unwrap();
        let lenient = DecodeLimits { allow_truncated: true, ..DecodeLimits::default() };
        let partial = decode_rgb(&bytes[..bytes.len() / 2], &lenient).unwrap();
        let row = 64 * 3;
        assert_eq!(partial.data[..row], whole.data[..row]);
        assert!(partial.data[partial.data.len() - row..].iter().all(|&v| v == 0x80));
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
        let small = DecodeLimits { max_pixels: 10, ..DecodeLimits::default() };
        assert_eq!(decode_rgb(&png(5, 3), &small).unwrap_err().code(), ErrorCode::LimitExceeded);
    }
}
