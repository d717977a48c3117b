//! Planar YUV 4:2:0 camera frames (Android's `YUV_420_888`, I420, YV12, and NV21/NV12 seen as
//! planes) to RGB8, read in place.

use super::decode::DecodeLimits;
use super::pixels::{rotate, Rotation};
use super::roi::Roi;
use super::RgbImage;
use crate::error::{Error, ErrorCode, Result};

/// A borrowed YUV 4:2:0 frame as three planes, the layout CameraX and Camera2 deliver
/// (`ImageProxy.getPlanes()`): a full-resolution Y plane and U and V planes at half resolution
/// in each direction (`ceil(width / 2)` x `ceil(height / 2)` samples), each with its own row
/// stride, the chroma planes sharing a pixel stride of 1 (I420-like: U and V are separate) or 2
/// (NV12/NV21-like: `u` and `v` are views into one interleaved plane and may overlap).
///
/// Converted with the same BT.601 limited-range formula as [`PixelFormat::Nv21`]
/// (OpenCV's `COLOR_YUV2RGB_NV21`), so a frame gives a bit-identical tensor whichever of the
/// two layouts carries it. The SDK only reads the planes during the call.
///
/// A plane may end right after its last sample (Android's chroma planes with pixel stride 2
/// do): the lengths needed are `y_row_stride * (height - 1) + width` for Y and
/// `uv_row_stride * (ceil(height / 2) - 1) + (ceil(width / 2) - 1) * uv_pixel_stride + 1` for
/// U and V.
///
/// [`PixelFormat::Nv21`]: super::PixelFormat::Nv21
#[derive(Debug, Clone, Copy)]
pub struct YuvPlanes<'a> {
    /// The Y (luma) plane.
    pub y: &'a [u8],
    /// The U (Cb) plane.
    pub u: &'a [u8],
    /// The V (Cr) plane.
    pub v: &'a [u8],
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes between the starts of two Y rows (at least `width`).
    pub y_row_stride: usize,
    /// Bytes between the starts of two U (and two V) rows.
    pub uv_row_stride: usize,
    /// Bytes between two U (and two V) samples of a row: 1 or 2.
    pub uv_pixel_stride: usize,
    /// Clockwise rotation to apply before preprocessing.
    pub rotation: Rotation,
}

impl<'a> YuvPlanes<'a> {
    /// A tightly packed I420 frame (pixel stride 1, row strides `width` and `ceil(width / 2)`),
    /// upright.
    pub fn new(y: &'a [u8], u: &'a [u8], v: &'a [u8], width: u32, height: u32) -> Self {
        YuvPlanes {
            y,
            u,
            v,
            width,
            height,
            y_row_stride: width as usize,
            uv_row_stride: (width as usize).div_ceil(2),
            uv_pixel_stride: 1,
            rotation: Rotation::R0,
        }
    }

    /// Sets the Y row stride, the chroma row stride and the chroma pixel stride, in bytes.
    pub fn with_strides(
        self,
        y_row_stride: usize,
        uv_row_stride: usize,
        uv_pixel_stride: usize,
    ) -> Self {
        YuvPlanes { y_row_stride, uv_row_stride, uv_pixel_stride, ..self }
    }

    /// Sets the clockwise rotation.
    pub fn with_rotation(self, rotation: Rotation) -> Self {
        YuvPlanes { rotation, ..self }
    }

    fn chroma_size(&self) -> (usize, usize) {
        ((self.width as usize).div_ceil(2), (self.height as usize).div_ceil(2))
    }

    /// The bytes the Y plane and each chroma plane must hold at least; `None` on overflow.
    pub fn required_lens(&self) -> Option<(usize, usize)> {
        let (w, h) = (self.width as usize, self.height as usize);
        let (cw, ch) = self.chroma_size();
        let y = self.y_row_stride.checked_mul(h.checked_sub(1)?)?.checked_add(w)?;
        let last = (cw.checked_sub(1)?).checked_mul(self.uv_pixel_stride)?.checked_add(1)?;
        let uv = self.uv_row_stride.checked_mul(ch.checked_sub(1)?)?.checked_add(last)?;
        Some((y, uv))
    }

    /// Checks dimensions, strides and plane lengths without touching the pixels.
    pub fn validate(&self, limits: &DecodeLimits) -> Result<()> {
        limits.check(self.width, self.height)?;
        if !matches!(self.uv_pixel_stride, 1 | 2) {
            return Err(Error::invalid(format!(
                "the chroma pixel stride must be 1 or 2, got {}",
                self.uv_pixel_stride
            )));
        }
        if self.y_row_stride < self.width as usize {
            return Err(Error::invalid(format!(
                "the Y row stride {} is smaller than the width {}",
                self.y_row_stride, self.width
            )));
        }
        let (cw, _) = self.chroma_size();
        let min_uv = (cw - 1) * self.uv_pixel_stride + 1;
        if self.uv_row_stride < min_uv {
            return Err(Error::invalid(format!(
                "the chroma row stride {} is smaller than {} (ceil(width / 2) = {} samples at pixel \
                 stride {})",
                self.uv_row_stride, min_uv, cw, self.uv_pixel_stride
            )));
        }
        let (y_len, uv_len) = self.required_lens().ok_or_else(|| {
            Error::new(ErrorCode::BufferSize, "the plane sizes overflow the address space")
        })?;
        for (name, plane, needed) in
            [("Y", self.y, y_len), ("U", self.u, uv_len), ("V", self.v, uv_len)]
        {
            if plane.len() < needed {
                return Err(Error::new(
                    ErrorCode::BufferSize,
                    format!(
                        "the {name} plane of a {}x{} frame (Y row stride {}, chroma row stride {}, \
                         pixel stride {}) needs {needed} bytes, got {}",
                        self.width,
                        self.height,
                        self.y_row_stride,
                        self.uv_row_stride,
                        self.uv_pixel_stride,
                        plane.len()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The part of the frame inside `roi` (even `x` and `y`), as a frame of its own borrowing the
    /// same planes. The frame must be valid ([`YuvPlanes::validate`]).
    pub fn region(&self, roi: Roi, format: &str) -> Result<YuvPlanes<'a>> {
        roi.check_within(self.width, self.height)?;
        roi.check_chroma_aligned(format)?;
        let (x, y) = (roi.x as usize, roi.y as usize);
        let chroma = (y / 2) * self.uv_row_stride + (x / 2) * self.uv_pixel_stride;
        Ok(YuvPlanes {
            y: &self.y[y * self.y_row_stride + x..],
            u: &self.u[chroma..],
            v: &self.v[chroma..],
            width: roi.width,
            height: roi.height,
            ..*self
        })
    }

    /// Converts to an upright RGB8 image (the region taken first, then the rotation applied).
    pub fn to_rgb(self, roi: Option<Roi>, limits: &DecodeLimits) -> Result<RgbImage> {
        self.to_rgb_named(roi, limits, "planar YUV")
    }

    pub(crate) fn to_rgb_named(
        self,
        roi: Option<Roi>,
        limits: &DecodeLimits,
        format: &str,
    ) -> Result<RgbImage> {
        self.validate(limits)?;
        let view = match roi {
            Some(roi) => self.region(roi, format)?,
            None => self,
        };
        Ok(rotate(view.convert(), self.rotation))
    }

    /// The conversion proper; the frame has been validated.
    fn convert(&self) -> RgbImage {
        let (w, h) = (self.width as usize, self.height as usize);
        let (ys, uvs, ps) = (self.y_row_stride, self.uv_row_stride, self.uv_pixel_stride);
        let (cw, _) = self.chroma_size();
        let chroma_len = (cw - 1) * ps + 1;
        let mut data = vec![0u8; w * h * 3];
        for (row, out) in data.chunks_exact_mut(w * 3).enumerate() {
            let y_row = &self.y[row * ys..row * ys + w];
            let c = (row / 2) * uvs;
            let (u_row, v_row) = (&self.u[c..c + chroma_len], &self.v[c..c + chroma_len]);
            for (col, (px, &y)) in out.chunks_exact_mut(3).zip(y_row).enumerate() {
                let i = (col / 2) * ps;
                px.copy_from_slice(&bt601_limited_to_rgb(y, u_row[i], v_row[i]));
            }
        }
        RgbImage { width: self.width, height: self.height, data }
    }
}

/// BT.601 limited-range YUV to RGB with OpenCV's fixed-point constants (20-bit,
/// `cvtColor(..., COLOR_YUV2RGB_NV21)`), so camera frames preprocess exactly as the reference.
#[inline]
fn bt601_limited_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    const SHIFT: i32 = 20;
    const CY: i32 = 1_220_542;
    const CUB: i32 = 2_116_026;
    const CUG: i32 = -409_993;
    const CVG: i32 = -852_492;
    const CVR: i32 = 1_673_527;
    const HALF: i32 = 1 << (SHIFT - 1);
    let (uu, vv) = (u as i32 - 128, v as i32 - 128);
    let yy = (y as i32 - 16).max(0) * CY;
    let clamp = |x: i32| (x >> SHIFT).clamp(0, 255) as u8;
    [
        clamp(yy + HALF + CVR * vv),
        clamp(yy + HALF + CVG * vv + CUG * uu),
        clamp(yy + HALF + CUB * uu),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::{PixelBuffer, PixelFormat};

    const LIMITS: DecodeLimits = DecodeLimits { max_pixels: 1 << 20, allow_truncated: false };

    /// A pseudo-random frame as tight planes (Y, U, V).
    fn frame(w: usize, h: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let mut state = 0x1234_5678u32;
        let mut next = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        };
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let y = (0..w * h).map(|_| next()).collect();
        let u = (0..cw * ch).map(|_| next()).collect();
        let v = (0..cw * ch).map(|_| next()).collect();
        (y, u, v)
    }

    #[test]
    fn planar_layouts_match_nv21_and_nv12() {
        let (w, h) = (6usize, 4usize);
        let (y, u, v) = frame(w, h);
        let (cw, ch) = (w / 2, h / 2);
        let mut nv21 = y.clone();
        let mut nv12 = y.clone();
        for i in 0..cw * ch {
            nv21.extend([v[i], u[i]]);
            nv12.extend([u[i], v[i]]);
        }
        for rotation in [Rotation::R0, Rotation::R90] {
            let expected = PixelBuffer::new(&nv21, 6, 4, PixelFormat::Nv21)
                .with_rotation(rotation)
                .to_rgb(&LIMITS)
                .unwrap();
            let from_nv12 = PixelBuffer::new(&nv12, 6, 4, PixelFormat::Nv12)
                .with_rotation(rotation)
                .to_rgb(&LIMITS)
                .unwrap();
            assert_eq!(expected, from_nv12);
            // Pixel stride 1, tight.
            let i420 = YuvPlanes::new(&y, &u, &v, 6, 4).with_rotation(rotation);
            assert_eq!(i420.to_rgb(None, &LIMITS).unwrap(), expected);
            // Pixel stride 1, padded rows (Y stride 9, chroma stride 5).
            let pad = |plane: &[u8], width: usize, stride: usize| -> Vec<u8> {
                plane
                    .chunks(width)
                    .flat_map(|r| r.iter().copied().chain(vec![0xEE; stride - width]))
                    .collect()
            };
            let (py, pu, pv) = (pad(&y, w, 9), pad(&u, cw, 5), pad(&v, cw, 5));
            let padded =
                YuvPlanes::new(&py, &pu, &pv, 6, 4).with_strides(9, 5, 1).with_rotation(rotation);
            assert_eq!(padded.to_rgb(None, &LIMITS).unwrap(), expected);
            // Pixel stride 2 over NV21's interleaved plane (V first), chroma row stride 8,
            // planes ending at their last sample, as Android's do.
            let vu = pad(&nv21[w * h..], cw * 2, 8);
            let (vplane, uplane) = (&vu[..vu.len() - 8 + 5], &vu[1..vu.len() - 8 + 6]);
            let semi = YuvPlanes::new(&py, uplane, vplane, 6, 4)
                .with_strides(9, 8, 2)
                .with_rotation(rotation);
            assert_eq!(semi.to_rgb(None, &LIMITS).unwrap(), expected);
        }
    }

    #[test]
    fn bad_planes_are_refused() {
        let (y, u, v) = frame(4, 4);
        let ok = YuvPlanes::new(&y, &u, &v, 4, 4);
        assert!(ok.validate(&LIMITS).is_ok());
        let code = |p: YuvPlanes| p.to_rgb(None, &LIMITS).unwrap_err().code();
        assert_eq!(code(ok.with_strides(4, 2, 3)), ErrorCode::InvalidArgument);
        assert_eq!(code(ok.with_strides(4, 2, 0)), ErrorCode::InvalidArgument);
        assert_eq!(code(ok.with_strides(3, 2, 1)), ErrorCode::InvalidArgument);
        assert_eq!(code(ok.with_strides(4, 1, 1)), ErrorCode::InvalidArgument);
        assert_eq!(code(ok.with_strides(4, 2, 2)), ErrorCode::InvalidArgument);
        assert_eq!(code(ok.with_strides(5, 2, 1)), ErrorCode::BufferSize);
        assert_eq!(code(YuvPlanes { u: &u[..3], ..ok }), ErrorCode::BufferSize);
        assert_eq!(code(YuvPlanes { v: &[], ..ok }), ErrorCode::BufferSize);
        assert_eq!(code(YuvPlanes { width: 0, ..ok }), ErrorCode::ImageSize);
        assert_eq!(code(ok.with_strides(usize::MAX, 2, 1)), ErrorCode::BufferSize);
        let err = ok.to_rgb(Some(Roi::new(1, 0, 2, 2)), &LIMITS).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument);
        assert!(err.message().contains("even"), "{}", err.message());
    }

    #[test]
    fn region_equals_the_cropped_frame() {
        let (w, h) = (8usize, 6usize);
        let (y, u, v) = frame(w, h);
        let full = YuvPlanes::new(&y, &u, &v, 8, 6).with_rotation(Rotation::R270);
        let roi = Roi::new(2, 2, 5, 3);
        let crop =
            |plane: &[u8], stride: usize, x: usize, y0: usize, cw: usize, chh: usize| -> Vec<u8> {
                (y0..y0 + chh)
                    .flat_map(|r| plane[r * stride + x..r * stride + x + cw].to_vec())
                    .collect()
            };
        let cy = crop(&y, 8, 2, 2, 5, 3);
        let (cu, cv) = (crop(&u, 4, 1, 1, 3, 2), crop(&v, 4, 1, 1, 3, 2));
        let cropped = YuvPlanes::new(&cy, &cu, &cv, 5, 3).with_rotation(Rotation::R270);
        assert_eq!(
            full.to_rgb(Some(roi), &LIMITS).unwrap(),
            cropped.to_rgb(None, &LIMITS).unwrap()
        );
    }
}
