//! A region of interest: the part of an image to classify, in the source's pixels.

use super::RgbImage;
use crate::error::{Error, Result};

/// A rectangle in the source image's pixels (before rotation, resize and crop), as TFLite's
/// `ImageProcessingOptions.setRoi` and ncnn's `Mat::from_pixels_roi`. Preprocessing sees only
/// this part of the image, as if the caller had cropped it first.
///
/// For raw buffers and camera frames the coordinates are the buffer's own (before the caller's
/// rotation); for encoded images they are the decoded image's, after its EXIF orientation (the
/// image as a viewer shows it). On YUV 4:2:0 images (NV21, NV12, planar) `x` and `y` must be
/// even so the region starts on a chroma sample; `width` and `height` may be odd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Roi {
    /// Left edge, in pixels from the left of the source.
    pub x: u32,
    /// Top edge, in pixels from the top of the source.
    pub y: u32,
    /// Width in pixels (at least 1).
    pub width: u32,
    /// Height in pixels (at least 1).
    pub height: u32,
}

impl Roi {
    /// The rectangle at `(x, y)` of `width` x `height` pixels.
    pub fn new(x: u32, y: u32, width: u32, height: u32) -> Roi {
        Roi { x, y, width, height }
    }

    /// Checks the region is non-empty and inside a `width` x `height` image
    /// ([`ErrorCode::InvalidArgument`](crate::ErrorCode::InvalidArgument) otherwise).
    pub fn check_within(&self, width: u32, height: u32) -> Result<()> {
        if self.width == 0 || self.height == 0 {
            return Err(Error::invalid(format!(
                "the region of interest is empty ({}x{})",
                self.width, self.height
            )));
        }
        let right = u64::from(self.x) + u64::from(self.width);
        let bottom = u64::from(self.y) + u64::from(self.height);
        if right > u64::from(width) || bottom > u64::from(height) {
            return Err(Error::invalid(format!(
                "the region of interest {}x{} at ({}, {}) is not inside the {}x{} image",
                self.width, self.height, self.x, self.y, width, height
            )));
        }
        Ok(())
    }

    /// Checks the region starts on a chroma sample of a YUV 4:2:0 image (even `x` and `y`).
    pub fn check_chroma_aligned(&self, format: &str) -> Result<()> {
        if !self.x.is_multiple_of(2) || !self.y.is_multiple_of(2) {
            return Err(Error::invalid(format!(
                "a region of interest on a {format} image needs an even x and y, got ({}, {})",
                self.x, self.y
            )));
        }
        Ok(())
    }

    /// `inner`, given in this region's coordinates, as a region of the image this one is in.
    pub fn compose(&self, inner: Roi) -> Result<Roi> {
        inner.check_within(self.width, self.height)?;
        Ok(Roi::new(self.x + inner.x, self.y + inner.y, inner.width, inner.height))
    }

    /// Copies the region out of an RGB image (checked with [`Roi::check_within`]).
    pub fn crop_rgb(&self, rgb: &RgbImage) -> Result<RgbImage> {
        self.check_within(rgb.width, rgb.height)?;
        let (x, w, stride) = (self.x as usize, self.width as usize, rgb.width as usize * 3);
        let mut data = Vec::with_capacity(w * self.height as usize * 3);
        for row in rgb.data.chunks_exact(stride).skip(self.y as usize).take(self.height as usize) {
            data.extend_from_slice(&row[x * 3..(x + w) * 3]);
        }
        Ok(RgbImage { width: self.width, height: self.height, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn regions_are_checked() {
        assert!(Roi::new(0, 0, 4, 2).check_within(4, 2).is_ok());
        for bad in [Roi::new(0, 0, 0, 1), Roi::new(1, 0, 4, 2), Roi::new(0, u32::MAX, 1, 2)] {
            assert_eq!(bad.check_within(4, 2).unwrap_err().code(), ErrorCode::InvalidArgument);
        }
        assert!(Roi::new(1, 2, 3, 3).check_chroma_aligned("nv21").is_err());
        assert!(Roi::new(2, 2, 3, 3).check_chroma_aligned("nv21").is_ok());
        let outer = Roi::new(2, 2, 4, 4);
        assert_eq!(outer.compose(Roi::new(1, 1, 2, 2)).unwrap(), Roi::new(3, 3, 2, 2));
        assert!(outer.compose(Roi::new(3, 0, 2, 2)).is_err());
    }

    #[test]
    fn crop_copies_the_rectangle() {
        let data: Vec<u8> = (0..3 * 3 * 3).collect();
        let rgb = RgbImage { width: 3, height: 3, data };
        let out = Roi::new(1, 1, 2, 1).crop_rgb(&rgb).unwrap();
        assert_eq!((out.width, out.height), (2, 1));
        assert_eq!(out.data, (12..18).collect::<Vec<u8>>());
    }
}
