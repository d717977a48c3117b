//! Encoded image bytes (JPEG, PNG, BMP, WebP, or anything) through decoding, EXIF orientation,
//! resize, crop and normalization: `resnext::preprocess_image(ImageInput::Encoded(..))`, the
//! path every surface's "classify these bytes" takes before inference.
//!
//! A small pixel limit (64 K pixels) keeps iterations fast and makes every header over it a
//! decompression-bomb case: those must fail with `LimitExceeded` before the pixels are decoded
//! (run with `-malloc_limit_mb` to catch an allocation that slips through).

use crate::{check_tensor, contain_panics, expect_code};
use resnext::{ErrorCode, ImageInput, PreprocessConfig, Preset};

const MAX_PIXELS: u64 = 1 << 16;

/// One fuzz input through this target; aborts (after printing why) when an invariant fails.
pub fn run(data: &[u8]) {
    contain_panics();
    // The input's length picks one of a few preprocessing shapes (upscaling and downscaling,
    // odd sizes), so the image bytes themselves stay untouched for the decoders.
    let (resize_short, crop) = [(8, 8), (16, 12), (7, 5), (33, 32)][data.len() % 4];
    let config = PreprocessConfig { resize_short, crop, ..Preset::Wsl224.config() };
    match resnext::preprocess_image(ImageInput::Encoded(data), &config, MAX_PIXELS) {
        Ok(tensor) => check_tensor(&tensor, crop, "image_decode"),
        Err(e) => expect_code(
            &e,
            &[ErrorCode::ImageDecode, ErrorCode::ImageSize, ErrorCode::LimitExceeded],
            "image_decode",
        ),
    }
}
