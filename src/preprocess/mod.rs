//! Image preprocessing: PaddleClas's evaluation pipeline, reproduced.
//!
//! The contract (SPEC.md, "Evaluation preprocessing"):
//! 1. decode to RGB ([`decode`]; JPEG through libjpeg-turbo, [`jpeg`]) or convert a raw pixel
//!    buffer or planar YUV frame to RGB ([`pixels`], [`yuv`]), taking the region of interest
//!    first ([`roi`]) and applying EXIF orientation or the caller's rotation;
//! 2. resize the short side to `resize_short` with OpenCV `INTER_LINEAR` bilinear interpolation
//!    (half-pixel centres, no antialiasing), new size rounded half-to-even like Python's `round`
//!    ([`resize`]);
//! 3. centre crop `crop` x `crop` at offsets `(W - crop) / 2`, `(H - crop) / 2`;
//! 4. `(x / 255 - mean) / std` in float32, HWC to CHW ([`tensor`]).
//!
//! Every stage is a pure function over owned or borrowed buffers; nothing here is shared state,
//! so all of it is thread-safe.

pub mod config;
pub mod decode;
pub mod jpeg;
pub mod pixels;
pub mod resize;
pub mod roi;
pub mod tensor;
pub mod yuv;

pub use config::{PreprocessConfig, Preset};
pub use decode::{decode_rgb, DecodeLimits};
pub use pixels::{PixelBuffer, PixelFormat, Rotation};
pub use roi::Roi;
pub use yuv::YuvPlanes;

use crate::error::Result;

/// An RGB8 image, tightly packed (`width * 3` bytes per row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes, row-major, R, G, B.
    pub data: Vec<u8>,
}

/// Runs resize, crop and normalization on a decoded RGB image, writing the CHW float32 tensor of
/// one image (`3 * crop * crop` values) into `out`.
pub fn rgb_to_chw(rgb: &RgbImage, config: &PreprocessConfig, out: &mut [f32]) -> Result<()> {
    config.validate()?;
    let cropped = resize::resize_short_and_crop(rgb, config.resize_short, config.crop)?;
    tensor::normalize_into_chw(&cropped, config.crop, &config.mean, &config.std, out)
}
