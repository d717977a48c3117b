//! Short-side resize (OpenCV `INTER_LINEAR` semantics) and centre crop.
//!
//! The resampling is done by `fast_image_resize` with `ResizeAlg::Interpolation(Bilinear)`:
//! a fixed two-tap kernel at half-pixel centres, without the antialiasing support scaling that
//! its `Convolution` mode applies when downscaling — the same model as OpenCV's `INTER_LINEAR`.
//! Its fixed-point rounding differs from OpenCV's by at most one intensity level on some pixels.

use super::RgbImage;
use crate::error::{Error, ErrorCode, Result};
use fast_image_resize::images::{TypedImage, TypedImageRef};
use fast_image_resize::pixels::U8x3;
use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};

/// The size after resizing the short side to `resize_short`, rounded like PaddleClas:
/// `int(round(w * percent))` with Python's round-half-to-even on doubles.
pub fn short_side_size(width: u32, height: u32, resize_short: u32) -> (u32, u32) {
    let percent = resize_short as f64 / width.min(height) as f64;
    let w = (width as f64 * percent).round_ties_even().max(1.0) as u32;
    let h = (height as f64 * percent).round_ties_even().max(1.0) as u32;
    (w, h)
}

/// Largest intermediate image the short-side resize may produce: 64 M pixels (192 MB of RGB8).
/// The resize keeps the aspect ratio, so an image that passed the pixel limit can still be
/// blown up by it: a 1 x 2000000 PNG of 8 KB resized to a short side of 256 would need
/// 256 x 512000000 pixels (393 GB). 64 M pixels allow aspect ratios up to 1000:1 at 256.
pub const MAX_RESIZED_PIXELS: u64 = 64 << 20;

/// Resizes `rgb` so its short side is `resize_short`, then returns the centre `crop` x `crop`
/// region as tightly packed RGB8. Fails with [`ErrorCode::LimitExceeded`] before allocating
/// when the resized image would exceed [`MAX_RESIZED_PIXELS`].
pub fn resize_short_and_crop(rgb: &RgbImage, resize_short: u32, crop: u32) -> Result<Vec<u8>> {
    if rgb.width == 0 || rgb.height == 0 {
        return Err(Error::new(ErrorCode::ImageSize, "the image has zero width or height"));
    }
    let (new_w, new_h) = short_side_size(rgb.width, rgb.height, resize_short);
    // `short_side_size` saturates at u32::MAX, which is over the limit too.
    if new_w as u64 * new_h as u64 > MAX_RESIZED_PIXELS {
        return Err(Error::new(
            ErrorCode::LimitExceeded,
            format!(
                "resizing the {}x{} image to a short side of {resize_short} gives {new_w}x{new_h} \
                 pixels, over the limit of {MAX_RESIZED_PIXELS}: the aspect ratio is too extreme",
                rgb.width, rgb.height
            ),
        ));
    }
    if new_w < crop || new_h < crop {
        return Err(Error::new(
            ErrorCode::ImageSize,
            format!("resized image {new_w}x{new_h} is smaller than the {crop}x{crop} crop"),
        ));
    }
    let resized = if (new_w, new_h) == (rgb.width, rgb.height) {
        None
    } else {
        // The typed API (`resize_typed::<U8x3>`) rather than `resize` on untyped images: the
        // latter dispatches on the pixel type at run time, which compiles the resizers of all
        // of the crate's pixel types into the library (about 3 MB) for the one used here.
        let src = TypedImageRef::<U8x3>::from_buffer(rgb.width, rgb.height, &rgb.data)
            .map_err(|e| Error::invalid(format!("resize source: {e}")))?;
        let mut resized = vec![0u8; new_w as usize * new_h as usize * 3];
        let mut dst = TypedImage::<U8x3>::from_buffer(new_w, new_h, &mut resized)
            .map_err(|e| Error::invalid(format!("resize destination: {e}")))?;
        let options =
            ResizeOptions::new().resize_alg(ResizeAlg::Interpolation(FilterType::Bilinear));
        Resizer::new()
            .resize_typed(&src, &mut dst, &options)
            .map_err(|e| Error::invalid(format!("resize: {e}")))?;
        Some(resized)
    };
    let data: &[u8] = resized.as_deref().unwrap_or(&rgb.data);
    let x0 = ((new_w - crop) / 2) as usize;
    let y0 = ((new_h - crop) / 2) as usize;
    let row = new_w as usize * 3;
    let crop_row = crop as usize * 3;
    let mut out = Vec::with_capacity(crop_row * crop as usize);
    for y in y0..y0 + crop as usize {
        let start = y * row + x0 * 3;
        out.extend_from_slice(&data[start..start + crop_row]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_like_python() {
        assert_eq!(short_side_size(451, 300, 256), (385, 256));
        assert_eq!(short_side_size(300, 451, 256), (256, 385));
        assert_eq!(short_side_size(512, 512, 256), (256, 256));
        // 3 * 256 / 2 = 384.0 exactly; 5 * 256 / 2 = 640.
        assert_eq!(short_side_size(3, 2, 256), (384, 256));
    }

    #[test]
    fn crops_the_centre() {
        // A 4x4 image whose pixel value encodes its position; crop 2 without resizing.
        let mut data = Vec::new();
        for y in 0..4u8 {
            for x in 0..4u8 {
                data.extend_from_slice(&[y * 4 + x, 0, 0]);
            }
        }
        let img = RgbImage { width: 4, height: 4, data };
        let out = resize_short_and_crop(&img, 4, 2).unwrap();
        let reds: Vec<u8> = out.chunks(3).map(|p| p[0]).collect();
        assert_eq!(reds, vec![5, 6, 9, 10]);
    }

    #[test]
    fn constant_image_stays_constant() {
        let img = RgbImage { width: 640, height: 480, data: vec![77; 640 * 480 * 3] };
        let out = resize_short_and_crop(&img, 256, 224).unwrap();
        assert_eq!(out.len(), 224 * 224 * 3);
        assert!(out.iter().all(|&v| v == 77));
    }

    /// Regression (fuzzing, issue #8): an extreme aspect ratio made the resize allocate
    /// hundreds of gigabytes and abort the process; it is now refused before allocating.
    #[test]
    fn extreme_aspect_ratio_is_refused_before_allocating() {
        let img = RgbImage { width: 1, height: 2_000_000, data: vec![9; 2_000_000 * 3] };
        let err = resize_short_and_crop(&img, 256, 224).unwrap_err();
        assert_eq!(err.code(), ErrorCode::LimitExceeded, "{err}");
        assert!(err.message().contains("256x512000000"), "{err}");
        let img = RgbImage { width: 40_000_000, height: 1, data: vec![] };
        assert_eq!(
            resize_short_and_crop(&img, 4096, 8).unwrap_err().code(),
            ErrorCode::LimitExceeded
        );
        // 500:1 at 256 is still accepted (the limit allows 1000:1).
        let img = RgbImage { width: 500, height: 1, data: vec![5; 1500] };
        assert_eq!(resize_short_and_crop(&img, 256, 224).unwrap().len(), 224 * 224 * 3);
    }

    #[test]
    fn zero_sized_is_an_error() {
        let img = RgbImage { width: 0, height: 10, data: vec![] };
        assert_eq!(resize_short_and_crop(&img, 256, 224).unwrap_err().code(), ErrorCode::ImageSize);
    }
}
