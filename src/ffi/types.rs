//! Plain C types of the ABI: the result enum, the constants of the `uint32_t` enumerations,
//! and the structs exchanged with the caller.

#![allow(non_camel_case_types)]

use crate::error::ErrorCode;
use std::os::raw::c_char;

/// Result of every fallible call. Values are stable: new codes are only ever appended.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum resnext_result {
    /// Success.
    Ok = 0,
    /// A required pointer or argument was NULL or empty.
    NullArgument = 1,
    /// An argument is out of range or inconsistent (zero size, bad rotation, unknown enum value).
    InvalidArgument = 2,
    /// A file could not be opened or read.
    Io = 3,
    /// The model bytes are not a valid ONNX model (truncated, corrupt, random bytes).
    ModelDecode = 4,
    /// The model is valid ONNX but not a supported image classifier.
    ModelUnsupported = 5,
    /// The inference engine failed.
    Inference = 6,
    /// The image could not be decoded.
    ImageDecode = 7,
    /// The image is zero-sized.
    ImageSize = 8,
    /// A pixel buffer is shorter than its width, height, stride and format require.
    BufferSize = 9,
    /// The labels do not match the model, or the label file is malformed.
    Labels = 10,
    /// A resource limit (pixels, model size, batch size) was exceeded.
    LimitExceeded = 11,
    /// The requested backend is not available in this build.
    BackendUnavailable = 12,
    /// A panic was caught; the call failed, the process is intact.
    Panic = 13,
    /// The handle is closed: thrown by the C++ wrapper (`resnext.hpp`) for a moved-from object.
    /// The C functions never return it (they cannot tell a freed handle from a live one: pass
    /// only live handles); Java throws `IllegalStateException` for a closed `Classifier`.
    Closed = 14,
    /// A string argument is not valid UTF-8.
    Utf8 = 15,
    /// The requested execution provider (CUDA, TensorRT) cannot run in this runtime or on this
    /// machine, and the fallback policy is `RESNEXT_FALLBACK_FAIL`.
    ProviderUnavailable = 16,
}

impl From<ErrorCode> for resnext_result {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::Ok => resnext_result::Ok,
            ErrorCode::NullArgument => resnext_result::NullArgument,
            ErrorCode::InvalidArgument => resnext_result::InvalidArgument,
            ErrorCode::Io => resnext_result::Io,
            ErrorCode::ModelDecode => resnext_result::ModelDecode,
            ErrorCode::ModelUnsupported => resnext_result::ModelUnsupported,
            ErrorCode::Inference => resnext_result::Inference,
            ErrorCode::ImageDecode => resnext_result::ImageDecode,
            ErrorCode::ImageSize => resnext_result::ImageSize,
            ErrorCode::BufferSize => resnext_result::BufferSize,
            ErrorCode::Labels => resnext_result::Labels,
            ErrorCode::LimitExceeded => resnext_result::LimitExceeded,
            ErrorCode::BackendUnavailable => resnext_result::BackendUnavailable,
            ErrorCode::Panic => resnext_result::Panic,
            ErrorCode::Closed => resnext_result::Closed,
            ErrorCode::Utf8 => resnext_result::Utf8,
            ErrorCode::ProviderUnavailable => resnext_result::ProviderUnavailable,
        }
    }
}

/// Pixel layouts, passed as `uint32_t` (an unknown value is `RESNEXT_RESULT_INVALID_ARGUMENT`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum resnext_pixel_format {
    /// 3 bytes a pixel: R, G, B.
    Rgb8 = 0,
    /// 3 bytes a pixel: B, G, R.
    Bgr8 = 1,
    /// 4 bytes a pixel: R, G, B, A (alpha ignored).
    Rgba8 = 2,
    /// 4 bytes a pixel: B, G, R, A (alpha ignored).
    Bgra8 = 3,
    /// Y plane, then interleaved V/U at half resolution (Android camera default). Width and
    /// height must be even: an odd one is `RESNEXT_RESULT_INVALID_ARGUMENT`.
    Nv21 = 4,
    /// Y plane, then interleaved U/V at half resolution. Width and height must be even: an odd
    /// one is `RESNEXT_RESULT_INVALID_ARGUMENT`.
    Nv12 = 5,
}

/// Kinds of [`resnext_image`], passed as `uint32_t`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum resnext_image_kind {
    /// An encoded image file on disk: `path`.
    File = 0,
    /// Encoded image bytes (JPEG, PNG, BMP, WebP): `data`, `len`.
    Encoded = 1,
    /// A raw pixel buffer: `data`, `len`, `width`, `height`, `row_stride`, `pixel_format`,
    /// `rotation`.
    Pixels = 2,
    /// A planar YUV 4:2:0 camera frame (Android's `YUV_420_888`), read in place: the Y plane
    /// at `data` (`len` bytes, `row_stride` between rows), the U and V planes at `u_data` and
    /// `v_data` (`u_len`, `v_len` bytes, `uv_row_stride` between rows, `uv_pixel_stride` 1 or
    /// 2 between samples), `width`, `height`, `rotation`.
    Yuv420 = 3,
}

/// Preprocessing presets, passed as `uint32_t`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum resnext_preset {
    /// Resize the short side to 256, centre crop 224 (ResNeXt101_32x*d_wsl).
    Wsl224 = 0,
    /// Resize the short side to 320, centre crop 320 (Fix_ResNeXt101_32x48d_wsl).
    Fix320 = 1,
}

/// Inference backends, passed as `uint32_t`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum resnext_backend {
    /// tract: pure Rust, CPU (the default).
    Tract = 0,
    /// ONNX Runtime (when compiled in).
    Ort = 1,
}

/// The SDK's own CPU kernels for the convolutions on the tract backend (INT8 QDQ models: the
/// named integer kernels; FP32 and widened FP16 models: the AVX-512 f32 kernels, or the AVX2
/// ones on a CPU without AVX-512, for every value but OFF, SCALAR and AVX2), passed as
/// `uint32_t` to `resnext_options_set_cpu_kernels`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum resnext_cpu_kernels {
    /// AMX-INT8 where the CPU has it, else AVX512-VNNI, else AVX2 + FMA (INT8 with exact 16-bit
    /// products), else tract's own path (the default).
    Auto = 0,
    /// tract's own path for every model (the kernel layer off).
    Off = 1,
    /// The AVX512-VNNI kernels, even on an AMX CPU; `RESNEXT_RESULT_BACKEND_UNAVAILABLE` from
    /// `resnext_classifier_new` where the CPU has no VNNI.
    Avx512Vnni = 2,
    /// The AMX-INT8 kernels; `RESNEXT_RESULT_BACKEND_UNAVAILABLE` where the CPU or the OS
    /// cannot run them.
    AmxInt8 = 3,
    /// The portable scalar reference kernels (slow: for checking the others).
    Scalar = 4,
    /// The AVX2 kernels (INT8 with exact 16-bit products, f32 on AVX2 + FMA), even on an
    /// AVX-512 CPU; `RESNEXT_RESULT_BACKEND_UNAVAILABLE` where the CPU lacks AVX2, FMA or F16C.
    Avx2 = 5,
}

/// ONNX Runtime execution providers, passed as `uint32_t`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum resnext_provider {
    /// ONNX Runtime's CPU provider (the default).
    Cpu = 0,
    /// NVIDIA CUDA.
    Cuda = 1,
    /// NVIDIA TensorRT (with CUDA for what TensorRT cannot run).
    Tensorrt = 2,
}

/// What happens when the requested execution provider cannot be used, passed as `uint32_t`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum resnext_fallback {
    /// Fail with `RESNEXT_RESULT_PROVIDER_UNAVAILABLE` (the default).
    Fail = 0,
    /// Try TensorRT, then CUDA, then the CPU, logging a warning for each provider skipped.
    NextProvider = 1,
}

/// Weight precision reported by [`resnext_model_info`].
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum resnext_precision {
    /// float32 weights.
    Fp32 = 0,
    /// float16 weights.
    Fp16 = 1,
    /// INT8 QDQ.
    Int8 = 2,
}

/// Output kind reported by [`resnext_model_info`].
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum resnext_output_kind {
    /// Raw scores: the library applies softmax.
    Logits = 0,
    /// The graph ends in Softmax.
    Probabilities = 1,
}

/// Log levels given to the log callback, passed as `uint32_t`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum resnext_log_level {
    /// Logging off (as a maximum level).
    Off = 0,
    /// Errors.
    Error = 1,
    /// Warnings.
    Warn = 2,
    /// Information.
    Info = 3,
    /// Debugging detail.
    Debug = 4,
    /// Tracing detail.
    Trace = 5,
}

/// An image to classify. The library reads the memory it points to during the call only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct resnext_image {
    /// One of `resnext_image_kind`.
    pub kind: u32,
    /// `RESNEXT_IMAGE_KIND_FILE`: a NUL-terminated UTF-8 path. Otherwise ignored (may be NULL).
    pub path: *const c_char,
    /// `ENCODED` and `PIXELS`: the bytes; `YUV420`: the Y plane. Otherwise ignored (may be
    /// NULL).
    pub data: *const u8,
    /// Number of bytes at `data`.
    pub len: usize,
    /// `PIXELS` and `YUV420`: width in pixels.
    pub width: u32,
    /// `PIXELS` and `YUV420`: height in pixels.
    pub height: u32,
    /// `PIXELS`: bytes between row starts (0: tightly packed). For NV21/NV12 it applies to the
    /// Y plane and to the chroma plane, which starts at `row_stride * height`. `YUV420`: bytes
    /// between Y row starts (0: `width`).
    pub row_stride: usize,
    /// `PIXELS`: one of `resnext_pixel_format`.
    pub pixel_format: u32,
    /// `PIXELS` and `YUV420`: clockwise rotation applied before preprocessing: 0, 90, 180 or
    /// 270.
    pub rotation: u32,
    /// `YUV420`: the U (Cb) plane. Otherwise ignored (may be NULL).
    pub u_data: *const u8,
    /// Number of bytes at `u_data`.
    pub u_len: usize,
    /// `YUV420`: the V (Cr) plane; with pixel stride 2 it may overlap `u_data` (NV21/NV12
    /// memory). Otherwise ignored (may be NULL).
    pub v_data: *const u8,
    /// Number of bytes at `v_data`.
    pub v_len: usize,
    /// `YUV420`: bytes between U (and V) row starts; 0 for tightly packed
    /// (`ceil(width / 2) * uv_pixel_stride`). For `YUV420` a `row_stride` of 0 means `width`.
    pub uv_row_stride: usize,
    /// `YUV420`: bytes between two U (and two V) samples of a row: 1 (I420-like) or 2
    /// (NV12/NV21-like); anything else is `RESNEXT_RESULT_INVALID_ARGUMENT`.
    pub uv_pixel_stride: u32,
    /// Every kind: left edge of the region of interest, in the source's pixels (before
    /// rotation, resize and crop; for encoded images after their EXIF orientation). The four
    /// `roi_*` fields all 0 mean the whole image; otherwise the region must be non-empty and
    /// inside the image, with an even `roi_x` and `roi_y` on NV21, NV12 and `YUV420` images
    /// (`RESNEXT_RESULT_INVALID_ARGUMENT` otherwise).
    pub roi_x: u32,
    /// Top edge of the region of interest.
    pub roi_y: u32,
    /// Width of the region of interest.
    pub roi_width: u32,
    /// Height of the region of interest.
    pub roi_height: u32,
}

impl Default for resnext_image {
    /// A `FILE` image with every pointer NULL and every number 0: fill in what the kind uses.
    fn default() -> Self {
        resnext_image {
            kind: resnext_image_kind::File as u32,
            path: std::ptr::null(),
            data: std::ptr::null(),
            len: 0,
            width: 0,
            height: 0,
            row_stride: 0,
            pixel_format: 0,
            rotation: 0,
            u_data: std::ptr::null(),
            u_len: 0,
            v_data: std::ptr::null(),
            v_len: 0,
            uv_row_stride: 0,
            uv_pixel_stride: 0,
            roi_x: 0,
            roi_y: 0,
            roi_width: 0,
            roi_height: 0,
        }
    }
}

/// One predicted class.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct resnext_prediction {
    /// Index of the class in the model's output.
    pub class_id: u32,
    /// Probability in [0, 1].
    pub score: f32,
    /// The class label, NUL-terminated UTF-8, never NULL (`""` when the classifier has no
    /// label for the class). Owned by the classifier: valid until `resnext_classifier_free`.
    pub label: *const c_char,
}

/// Wall-clock time of each stage, in milliseconds.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct resnext_timings {
    /// Reading and decoding (or converting a raw buffer) to RGB.
    pub decode_ms: f64,
    /// Resize, crop and normalization.
    pub preprocess_ms: f64,
    /// The engine's run (in a batch: the whole batch's run).
    pub inference_ms: f64,
    /// Softmax and top-k.
    pub postprocess_ms: f64,
}

/// What a classifier's model is. The strings are owned by the classifier: valid until
/// `resnext_classifier_free`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct resnext_model_info {
    /// Name of the image input.
    pub input_name: *const c_char,
    /// Name of the score output.
    pub output_name: *const c_char,
    /// Input height in pixels.
    pub height: u32,
    /// Input width in pixels.
    pub width: u32,
    /// Number of classes.
    pub classes: u32,
    /// One of `resnext_precision`.
    pub precision: u32,
    /// One of `resnext_output_kind`.
    pub output_kind: u32,
    /// 1 when the ONNX input is float16, 0 for float32.
    pub input_is_f16: u32,
    /// Number of weight parameters.
    pub parameters: u64,
    /// Worker threads of one inference.
    pub threads: u32,
    /// Predictions returned per image (the top-k).
    pub top_k: u32,
    /// Backend name (`"tract"`).
    pub backend: *const c_char,
    /// How the backend computes, e.g. `"f32 (float16 weights widened at load)"`.
    pub compute: *const c_char,
    /// Where the model runs: `"cpu"` for tract and ONNX Runtime's CPU provider, `"cuda:0"`,
    /// `"tensorrt:0"` for a GPU provider (the one actually in use after any fallback).
    pub provider: *const c_char,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::PixelFormat;

    #[test]
    fn c_values_mirror_the_rust_enums() {
        for code in ErrorCode::ALL {
            assert_eq!(resnext_result::from(code) as u32, code as u32, "{code:?}");
        }
        let formats = [
            resnext_pixel_format::Rgb8,
            resnext_pixel_format::Bgr8,
            resnext_pixel_format::Rgba8,
            resnext_pixel_format::Bgra8,
            resnext_pixel_format::Nv21,
            resnext_pixel_format::Nv12,
        ];
        for (c, rust) in formats.iter().zip(PixelFormat::ALL) {
            assert_eq!(*c as u32, rust as u32);
        }
        assert_eq!(resnext_precision::Int8 as u32, crate::Precision::Int8 as u32);
        assert_eq!(
            resnext_output_kind::Probabilities as u32,
            crate::OutputKind::Probabilities as u32
        );
        assert_eq!(resnext_backend::Ort as u32, crate::BackendKind::Ort as u32);
        use crate::CpuKernels;
        for (c, rust) in [
            (resnext_cpu_kernels::Auto, CpuKernels::Auto),
            (resnext_cpu_kernels::Off, CpuKernels::Off),
            (resnext_cpu_kernels::Avx512Vnni, CpuKernels::Avx512Vnni),
            (resnext_cpu_kernels::AmxInt8, CpuKernels::AmxInt8),
            (resnext_cpu_kernels::Scalar, CpuKernels::Scalar),
            (resnext_cpu_kernels::Avx2, CpuKernels::Avx2),
        ] {
            assert_eq!(c as u32, rust as u32);
        }
        use crate::backend::ort::execution::{FallbackPolicy, ProviderKind};
        assert_eq!(resnext_provider::Cpu as u32, ProviderKind::Cpu as u32);
        assert_eq!(resnext_provider::Cuda as u32, ProviderKind::Cuda as u32);
        assert_eq!(resnext_provider::Tensorrt as u32, ProviderKind::TensorRt as u32);
        assert_eq!(resnext_fallback::Fail as u32, FallbackPolicy::Fail as u32);
        assert_eq!(resnext_fallback::NextProvider as u32, FallbackPolicy::NextProvider as u32);
    }
}
