//! Raw pixel buffers with arbitrary width, height, row stride, pixel format and rotation, and a
//! byte buffer whose length the input controls, through `PixelBuffer` -> RGB -> rotate ->
//! resize -> crop -> normalize (`resnext::preprocess_image(ImageInput::Pixels(..))`).
//!
//! Input layout (12-byte header, then the pixels):
//! `width: u16 LE, height: u16 LE, stride: u16 LE, format: u8, rotation: u8, flags: u8,
//! shape: u8, 2 bytes unused`. `format` is taken modulo 8 (6 and 7 are invalid values, which
//! must be refused); `rotation` modulo 5 indexes 0/90/180/270/45 degrees; flag bit 0 turns the
//! stride into `usize::MAX - stride` (overflowing sizes), bit 1 scales width and height by 256
//! (over the pixel limit), bit 2 claims 4 bytes fewer than present (length shorter than the
//! data the harness owns).

use crate::{check_tensor, contain_panics, expect_code};
use resnext::{
    ErrorCode, ImageInput, PixelBuffer, PixelFormat, PreprocessConfig, Preset, Rotation,
};

const MAX_PIXELS: u64 = 1 << 16;

/// One fuzz input through this target; aborts (after printing why) when an invariant fails.
pub fn run(data: &[u8]) {
    contain_panics();
    if data.len() < 12 {
        return;
    }
    let u16_at = |i: usize| u16::from_le_bytes([data[i], data[i + 1]]) as u32;
    let (mut width, mut height, stride) = (u16_at(0), u16_at(2), u16_at(4) as usize);
    let (format, rotation, flags, shape) = (data[6] % 8, data[7] % 5, data[8], data[9]);
    let mut pixels = &data[12..];
    if flags & 4 != 0 {
        pixels = &pixels[..pixels.len().saturating_sub(4)];
    }
    let stride = if flags & 1 != 0 { usize::MAX - stride } else { stride };
    if flags & 2 != 0 {
        width = width.saturating_mul(256);
        height = height.saturating_mul(256);
    }
    let Some(format) = PixelFormat::from_u32(format as u32) else {
        return; // not a format: the C ABI and JNI refuse it before a PixelBuffer exists
    };
    let rotation = match Rotation::from_degrees([0, 90, 180, 270, 45][rotation as usize]) {
        Ok(r) => r,
        Err(e) => {
            check!(e.code() == ErrorCode::InvalidArgument, "rotation 45: {e}");
            return;
        }
    };
    let (resize_short, crop) = [(8, 8), (16, 12), (7, 5), (33, 32)][shape as usize % 4];
    let config = PreprocessConfig { resize_short, crop, ..Preset::Wsl224.config() };
    let buffer =
        PixelBuffer::new(pixels, width, height, format).with_stride(stride).with_rotation(rotation);
    let result = resnext::preprocess_image(ImageInput::Pixels(buffer), &config, MAX_PIXELS);
    // Oracle: what must fail, whatever else happens.
    let too_short = buffer.required_len().is_none_or(|need| pixels.len() < need);
    let zero = width == 0 || height == 0;
    let over = width as u64 * height as u64 > MAX_PIXELS;
    match result {
        Ok(tensor) => {
            check!(
                !too_short && !zero && !over,
                "accepted a bad buffer: {width}x{height} stride {stride} {format:?} len {}",
                pixels.len()
            );
            check_tensor(&tensor, crop, "pixel_buffer");
        }
        Err(e) => {
            expect_code(
                &e,
                &[
                    ErrorCode::ImageSize,
                    ErrorCode::LimitExceeded,
                    ErrorCode::InvalidArgument,
                    ErrorCode::BufferSize,
                ],
                "pixel_buffer",
            );
            if zero {
                check!(e.code() == ErrorCode::ImageSize, "zero-sized buffer gave {e}");
            } else if over {
                check!(e.code() == ErrorCode::LimitExceeded, "buffer over the limit gave {e}");
            }
        }
    }
}
