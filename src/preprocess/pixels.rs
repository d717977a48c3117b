//! Raw pixel buffers (packed RGB/BGR/RGBA/BGRA and NV21/NV12 camera frames) to RGB8, with a
//! rotation applied before resizing.

use super::decode::DecodeLimits;
use super::roi::Roi;
use super::yuv::YuvPlanes;
use super::RgbImage;
use crate::error::{Error, ErrorCode, Result};

/// Layout of a raw pixel buffer. The numeric values are part of the C ABI.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// 3 bytes a pixel: R, G, B.
    Rgb8 = 0,
    /// 3 bytes a pixel: B, G, R (OpenCV's `Mat` order).
    Bgr8 = 1,
    /// 4 bytes a pixel: R, G, B, A (alpha ignored).
    Rgba8 = 2,
    /// 4 bytes a pixel: B, G, R, A (alpha ignored; Android `Bitmap` on little-endian is RGBA).
    Bgra8 = 3,
    /// Android camera default: a Y plane, then interleaved V/U at half resolution.
    /// BT.601 limited range, as OpenCV's `COLOR_YUV2RGB_NV21`. Width and height must be even
    /// (an odd one is [`ErrorCode::InvalidArgument`]).
    Nv21 = 4,
    /// A Y plane, then interleaved U/V at half resolution. BT.601 limited range. Width and
    /// height must be even (an odd one is [`ErrorCode::InvalidArgument`]).
    Nv12 = 5,
}

impl PixelFormat {
    /// Every format, in numeric order.
    pub const ALL: [PixelFormat; 6] = [
        PixelFormat::Rgb8,
        PixelFormat::Bgr8,
        PixelFormat::Rgba8,
        PixelFormat::Bgra8,
        PixelFormat::Nv21,
        PixelFormat::Nv12,
    ];

    /// The format for a numeric value, if it is one.
    pub fn from_u32(value: u32) -> Option<PixelFormat> {
        PixelFormat::ALL.get(value as usize).copied()
    }

    /// Lower-case name (`rgb8`, `nv21`, ...).
    pub fn name(self) -> &'static str {
        match self {
            PixelFormat::Rgb8 => "rgb8",
            PixelFormat::Bgr8 => "bgr8",
            PixelFormat::Rgba8 => "rgba8",
            PixelFormat::Bgra8 => "bgra8",
            PixelFormat::Nv21 => "nv21",
            PixelFormat::Nv12 => "nv12",
        }
    }

    /// Parses a lower-case name.
    pub fn from_name(name: &str) -> Result<PixelFormat> {
        PixelFormat::ALL
            .iter()
            .copied()
            .find(|f| f.name() == name.to_ascii_lowercase())
            .ok_or_else(|| Error::invalid(format!("unknown pixel format '{name}'")))
    }

    /// Bytes a pixel for packed formats; `None` for the planar YUV formats.
    pub fn bytes_per_pixel(self) -> Option<usize> {
        match self {
            PixelFormat::Rgb8 | PixelFormat::Bgr8 => Some(3),
            PixelFormat::Rgba8 | PixelFormat::Bgra8 => Some(4),
            PixelFormat::Nv21 | PixelFormat::Nv12 => None,
        }
    }
}

/// Clockwise rotation applied to a raw buffer before preprocessing, as Android reports a camera
/// sensor's orientation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Rotation {
    /// Upright already.
    #[default]
    R0,
    /// Rotate 90 degrees clockwise.
    R90,
    /// Rotate 180 degrees.
    R180,
    /// Rotate 270 degrees clockwise (90 counter-clockwise).
    R270,
}

impl Rotation {
    /// 0, 90, 180 or 270; anything else is an [`ErrorCode::InvalidArgument`] error.
    pub fn from_degrees(degrees: u32) -> Result<Rotation> {
        match degrees {
            0 => Ok(Rotation::R0),
            90 => Ok(Rotation::R90),
            180 => Ok(Rotation::R180),
            270 => Ok(Rotation::R270),
            other => Err(Error::invalid(format!(
                "rotation must be 0, 90, 180 or 270 degrees, got {other}"
            ))),
        }
    }

    /// The rotation in degrees.
    pub fn degrees(self) -> u32 {
        match self {
            Rotation::R0 => 0,
            Rotation::R90 => 90,
            Rotation::R180 => 180,
            Rotation::R270 => 270,
        }
    }
}

/// A borrowed raw pixel buffer. The SDK only reads it during the call.
///
/// `row_stride` is the distance in bytes between the starts of two rows (for NV21/NV12 it applies
/// to both the Y plane and the interleaved chroma plane, which starts at `row_stride * height`);
/// 0 means tightly packed.
#[derive(Debug, Clone, Copy)]
pub struct PixelBuffer<'a> {
    /// The pixels.
    pub data: &'a [u8],
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes between row starts; 0 for tightly packed.
    pub row_stride: usize,
    /// Layout of `data`.
    pub format: PixelFormat,
    /// Clockwise rotation to apply before preprocessing.
    pub rotation: Rotation,
}

impl<'a> PixelBuffer<'a> {
    /// A tightly packed, upright buffer.
    pub fn new(data: &'a [u8], width: u32, height: u32, format: PixelFormat) -> Self {
        PixelBuffer { data, width, height, row_stride: 0, format, rotation: Rotation::R0 }
    }

    /// Sets the row stride in bytes.
    pub fn with_stride(self, row_stride: usize) -> Self {
        PixelBuffer { row_stride, ..self }
    }

    /// Sets the clockwise rotation.
    pub fn with_rotation(self, rotation: Rotation) -> Self {
        PixelBuffer { rotation, ..self }
    }

    fn min_stride(&self) -> usize {
        self.width as usize * self.format.bytes_per_pixel().unwrap_or(1)
    }

    /// The effective row stride (the tight one when `row_stride` is 0).
    pub fn stride(&self) -> usize {
        if self.row_stride == 0 {
            self.min_stride()
        } else {
            self.row_stride
        }
    }

    /// The number of bytes `data` must hold at least; `None` if it overflows `usize`.
    pub fn required_len(&self) -> Option<usize> {
        let (w, h, stride) = (self.width as usize, self.height as usize, self.stride());
        match self.format.bytes_per_pixel() {
            Some(bpp) => stride.checked_mul(h.checked_sub(1)?)?.checked_add(w.checked_mul(bpp)?),
            None => {
                let chroma_rows = h.div_ceil(2);
                let chroma_start = stride.checked_mul(h)?;
                let chroma_len = stride.checked_mul(chroma_rows.checked_sub(1)?)?;
                chroma_start.checked_add(chroma_len)?.checked_add(w.div_ceil(2) * 2)
            }
        }
    }

    /// Checks dimensions, stride and length without touching the pixels.
    pub fn validate(&self, limits: &DecodeLimits) -> Result<()> {
        limits.check(self.width, self.height)?;
        if self.stride() < self.min_stride() {
            return Err(Error::invalid(format!(
                "row stride {} is smaller than width x bytes per pixel ({})",
                self.stride(),
                self.min_stride()
            )));
        }
        if matches!(self.format, PixelFormat::Nv21 | PixelFormat::Nv12)
            && (!self.width.is_multiple_of(2) || !self.height.is_multiple_of(2))
        {
            return Err(Error::invalid(format!(
                "{} frames need an even width and height, got {}x{}",
                self.format.name(),
                self.width,
                self.height
            )));
        }
        let required = self.required_len().ok_or_else(|| {
            Error::new(ErrorCode::BufferSize, "the buffer size overflows the address space")
        })?;
        if self.data.len() < required {
            return Err(Error::new(
                ErrorCode::BufferSize,
                format!(
                    "a {}x{} {} buffer with stride {} needs {} bytes, got {}",
                    self.width,
                    self.height,
                    self.format.name(),
                    self.stride(),
                    required,
                    self.data.len()
                ),
            ));
        }
        Ok(())
    }

    /// Converts to an upright RGB8 image (the rotation applied).
    pub fn to_rgb(&self, limits: &DecodeLimits) -> Result<RgbImage> {
        self.to_rgb_in(None, limits)
    }

    /// Converts the part of the buffer inside `roi` (the whole buffer when `None`) to an upright
    /// RGB8 image: the region is taken in the buffer's own coordinates, then the rotation is
    /// applied. Nothing is copied before the conversion. On NV21/NV12 the region's `x` and `y`
    /// must be even.
    pub fn to_rgb_in(&self, roi: Option<Roi>, limits: &DecodeLimits) -> Result<RgbImage> {
        self.validate(limits)?;
        if let Some(planes) = self.yuv_planes() {
            return planes.to_rgb_named(roi, limits, self.format.name());
        }
        let view = match roi {
            Some(roi) => self.packed_region(roi)?,
            None => *self,
        };
        Ok(rotate(view.packed_to_rgb(), self.rotation))
    }

    /// NV21/NV12 as a planar view (U and V interleaved in the chroma plane, pixel stride 2),
    /// so both layouts share one conversion; `None` for packed formats. The buffer must be
    /// valid ([`PixelBuffer::validate`]).
    pub fn yuv_planes(&self) -> Option<YuvPlanes<'a>> {
        let v_first = match self.format {
            PixelFormat::Nv21 => true,
            PixelFormat::Nv12 => false,
            _ => return None,
        };
        let stride = self.stride();
        let (y, uv) = self.data.split_at(stride * self.height as usize);
        let (u, v) = if v_first { (&uv[1..], uv) } else { (uv, &uv[1..]) };
        Some(YuvPlanes {
            y,
            u,
            v,
            width: self.width,
            height: self.height,
            y_row_stride: stride,
            uv_row_stride: stride,
            uv_pixel_stride: 2,
            rotation: self.rotation,
        })
    }

    /// The packed buffer inside `roi`, borrowing the same bytes (same stride).
    fn packed_region(&self, roi: Roi) -> Result<PixelBuffer<'a>> {
        roi.check_within(self.width, self.height)?;
        let bpp = self.format.bytes_per_pixel().unwrap_or(3);
        let start = roi.y as usize * self.stride() + roi.x as usize * bpp;
        Ok(PixelBuffer {
            data: &self.data[start..],
            width: roi.width,
            height: roi.height,
            row_stride: self.stride(),
            ..*self
        })
    }

    fn packed_to_rgb(&self) -> RgbImage {
        let (w, h, stride) = (self.width as usize, self.height as usize, self.stride());
        let bpp = self.format.bytes_per_pixel().unwrap_or(3);
        let (r, g, b) = match self.format {
            PixelFormat::Bgr8 | PixelFormat::Bgra8 => (2, 1, 0),
            _ => (0, 1, 2),
        };
        let mut data = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            let row = &self.data[y * stride..y * stride + w * bpp];
            if bpp == 3 && r == 0 {
                data.extend_from_slice(row);
            } else {
                for px in row.chunks_exact(bpp) {
                    data.extend_from_slice(&[px[r], px[g], px[b]]);
                }
            }
        }
        RgbImage { width: self.width, height: self.height, data }
    }
}

/// Rotates an RGB8 image clockwise.
pub fn rotate(rgb: RgbImage, rotation: Rotation) -> RgbImage {
    if rotation == Rotation::R0 {
        return rgb;
    }
    let Some(buffer) = image::RgbImage::from_raw(rgb.width, rgb.height, rgb.data) else {
        unreachable!("RgbImage invariant: data holds width * height * 3 bytes")
    };
    let rotated = match rotation {
        Rotation::R90 => image::imageops::rotate90(&buffer),
        Rotation::R180 => image::imageops::rotate180(&buffer),
        _ => image::imageops::rotate270(&buffer),
    };
    let (width, height) = rotated.dimensions();
    RgbImage { width, height, data: rotated.into_raw() }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: DecodeLimits = DecodeLimits { max_pixels: 1 << 20, allow_truncated: false };

    #[test]
    fn packed_formats_with_stride() {
        // 2x2, stride 8 (one pad byte after 2 x BGR... plus one), BGR order.
        let data = [
            3, 2, 1, 6, 5, 4, 0xAB, 0xAB, //
            9, 8, 7, 12, 11, 10, 0xAB, 0xAB,
        ];
        let buf = PixelBuffer::new(&data, 2, 2, PixelFormat::Bgr8).with_stride(8);
        let rgb = buf.to_rgb(&LIMITS).unwrap();
        assert_eq!(rgb.data, (1..=12).collect::<Vec<u8>>());
        let rgba = [1, 2, 3, 255, 4, 5, 6, 255];
        let rgb = PixelBuffer::new(&rgba, 2, 1, PixelFormat::Rgba8).to_rgb(&LIMITS).unwrap();
        assert_eq!(rgb.data, vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn rotation_is_clockwise() {
        // 2x1 image: [A B] -> rotated 90 clockwise is a 1x2 column [A; B].
        let data = [1, 1, 1, 2, 2, 2];
        let buf = PixelBuffer::new(&data, 2, 1, PixelFormat::Rgb8);
        let r90 = buf.with_rotation(Rotation::R90).to_rgb(&LIMITS).unwrap();
        assert_eq!((r90.width, r90.height, r90.data.clone()), (1, 2, data.to_vec()));
        let r270 = buf.with_rotation(Rotation::R270).to_rgb(&LIMITS).unwrap();
        assert_eq!(r270.data, vec![2, 2, 2, 1, 1, 1]);
        let r180 = buf.with_rotation(Rotation::R180).to_rgb(&LIMITS).unwrap();
        assert_eq!(r180.data, vec![2, 2, 2, 1, 1, 1]);
        assert!(Rotation::from_degrees(45).is_err());
    }

    #[test]
    fn grey_nv21_is_grey() {
        // Y = 126 (limited range), neutral chroma -> R = G = B.
        let (w, h) = (4, 2);
        let mut data = vec![126u8; w * h];
        data.extend(vec![128u8; w * h / 2]);
        let rgb = PixelBuffer::new(&data, 4, 2, PixelFormat::Nv21).to_rgb(&LIMITS).unwrap();
        let v = rgb.data[0];
        assert!(rgb.data.iter().all(|&x| x == v), "{:?}", rgb.data);
        assert!((127..=129).contains(&v), "{v}");
    }

    #[test]
    fn bad_buffers_are_refused() {
        let data = [0u8; 10];
        let short = PixelBuffer::new(&data, 2, 2, PixelFormat::Rgb8);
        assert_eq!(short.to_rgb(&LIMITS).unwrap_err().code(), ErrorCode::BufferSize);
        let narrow = PixelBuffer::new(&data, 2, 1, PixelFormat::Rgb8).with_stride(4);
        assert_eq!(narrow.to_rgb(&LIMITS).unwrap_err().code(), ErrorCode::InvalidArgument);
        let odd = PixelBuffer::new(&data, 3, 2, PixelFormat::Nv12);
        assert_eq!(odd.to_rgb(&LIMITS).unwrap_err().code(), ErrorCode::InvalidArgument);
        let empty = PixelBuffer::new(&data, 0, 2, PixelFormat::Rgb8);
        assert_eq!(empty.to_rgb(&LIMITS).unwrap_err().code(), ErrorCode::ImageSize);
        let huge = PixelBuffer::new(&data, 1 << 16, 1 << 16, PixelFormat::Rgb8);
        assert_eq!(huge.to_rgb(&LIMITS).unwrap_err().code(), ErrorCode::LimitExceeded);
        assert_eq!(PixelFormat::from_u32(6), None);
        assert_eq!(PixelFormat::from_name("NV21").unwrap(), PixelFormat::Nv21);
    }
}
