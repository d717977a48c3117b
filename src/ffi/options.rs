//! `resnext_options`: the builder a classifier is created from.
//!
//! Not thread-safe: build options on one thread, then create classifiers from them (the options
//! may be freed right after `resnext_classifier_new`, or reused for more classifiers).

#![allow(non_camel_case_types)]

use super::boundary::{bytes, guard, guard_value, reference, reference_mut, string};
use super::types::{resnext_preset, resnext_result};
use crate::backend::ort::execution::{ExecutionProvider, ProviderKind, TensorRtOptions};
use crate::backend::BackendKind;
use crate::error::Error;
use crate::labels::LabelSource;
use crate::options::{ClassifierOptions, CpuKernels, FileRange, ModelSource};
use crate::preprocess::{PreprocessConfig, Preset};
use std::path::PathBuf;
use std::sync::Arc;

/// Options for `resnext_classifier_new` (opaque). Create with `resnext_options_new`, free with
/// `resnext_options_free`.
pub struct resnext_options {
    /// Every setting, with the Rust API's defaults; its model is a placeholder until one is set.
    pub(super) settings: ClassifierOptions,
    pub(super) model_set: bool,
    /// The ONNX Runtime provider chosen with `resnext_options_set_execution_provider`.
    pub(super) provider: ProviderKind,
    /// Its GPU ordinal.
    pub(super) device_id: u32,
    /// TensorRT settings, kept even while another provider is chosen.
    pub(super) tensorrt: TensorRtOptions,
}

impl resnext_options {
    /// The Rust options, or an error when no model was set.
    pub(crate) fn to_options(&self) -> Result<ClassifierOptions, Error> {
        if !self.model_set {
            return Err(Error::new(
                crate::ErrorCode::NullArgument,
                "no model: call resnext_options_set_model_path, _set_model_bytes or _set_model_fd first",
            ));
        }
        let mut settings = self.settings.clone();
        settings.ort.provider = match self.provider {
            ProviderKind::Cpu => ExecutionProvider::Cpu,
            ProviderKind::Cuda => ExecutionProvider::Cuda { device_id: self.device_id },
            ProviderKind::TensorRt => ExecutionProvider::TensorRt {
                device_id: self.device_id,
                options: self.tensorrt.clone(),
            },
        };
        Ok(settings)
    }
}

/// Creates options with the defaults: preset `wsl-224`, top-5, all cores, ImageNet-1k labels,
/// tract backend, 100 M pixel and 4 GiB model limits. A model must still be set.
/// Returns NULL only if a panic was caught (see `resnext_last_error_message`).
#[no_mangle]
pub extern "C" fn resnext_options_new() -> *mut resnext_options {
    guard_value(std::ptr::null_mut(), || {
        let settings = ClassifierOptions::from_bytes(Vec::new());
        Ok(Box::into_raw(Box::new(resnext_options {
            settings,
            model_set: false,
            provider: ProviderKind::Cpu,
            device_id: 0,
            tensorrt: TensorRtOptions::default(),
        })))
    })
}

/// Frees options. NULL is a no-op. The options must not be used afterwards.
///
/// # Safety
/// `options` must be NULL or a pointer returned by `resnext_options_new` and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_free(options: *mut resnext_options) {
    if !options.is_null() {
        let boxed = unsafe { Box::from_raw(options) };
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(boxed)));
    }
}

pub(super) fn with_options(
    options: *mut resnext_options,
    f: impl FnOnce(&mut resnext_options) -> Result<(), Error>,
) -> resnext_result {
    guard(|| f(unsafe { reference_mut(options, "options") }?))
}

/// Sets the model to the ONNX file at `path` (NUL-terminated UTF-8; copied).
///
/// # Safety
/// `options` must be valid; `path` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_model_path(
    options: *mut resnext_options,
    path: *const std::os::raw::c_char,
) -> resnext_result {
    with_options(options, |o| {
        let path = unsafe { string(path, "path") }?;
        if path.is_empty() {
            return Err(Error::new(crate::ErrorCode::NullArgument, "`path` is empty"));
        }
        o.settings.model = ModelSource::Path(PathBuf::from(path));
        o.model_set = true;
        Ok(())
    })
}

/// Sets the model to ONNX bytes in memory. The bytes are copied: the caller may free them when
/// this returns.
///
/// # Safety
/// `options` must be valid; `data` NULL or `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_model_bytes(
    options: *mut resnext_options,
    data: *const u8,
    len: usize,
) -> resnext_result {
    with_options(options, |o| {
        let data = unsafe { bytes(data, len, "data") }?;
        o.settings.model = ModelSource::Bytes(Arc::from(data));
        o.model_set = true;
        Ok(())
    })
}

/// Sets the model to `length` bytes of the open file `fd` from `offset` (an Android asset's
/// `AAsset_openFileDescriptor64` or `AssetFileDescriptor` triple, or a whole file with offset 0
/// and its size as length). The descriptor stays the caller's: it is duplicated here (`dup`)
/// and never closed by the library, and the duplicate is read with positioned reads (`pread`)
/// by `resnext_classifier_new`, so the caller's file offset is unchanged; `fd` may be closed
/// as soon as this returns. The duplicate is closed when the model is replaced or the options
/// are freed. The size limit (`resnext_options_set_max_model_bytes`) applies to `length` as to
/// a file's size (`RESNEXT_RESULT_LIMIT_EXCEEDED` at `resnext_classifier_new`).
///
/// Fails with `RESNEXT_RESULT_INVALID_ARGUMENT` for a negative `fd`, `offset` or `length`, a
/// `length` of 0, a descriptor that is not open or not a regular file, or a range ending past
/// the end of the file; `RESNEXT_RESULT_IO` when the file's size cannot be read. The options
/// keep their previous model on failure. POSIX only (elsewhere: `RESNEXT_RESULT_INVALID_ARGUMENT`).
///
/// # Safety
/// `options` must be valid.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_model_fd(
    options: *mut resnext_options,
    fd: i32,
    offset: i64,
    length: i64,
) -> resnext_result {
    with_options(options, |o| {
        let range = file_range(fd, offset, length)?;
        o.settings.model = ModelSource::FileRange(range);
        o.model_set = true;
        Ok(())
    })
}

/// The checked range of `fd` (duplicated) for `resnext_options_set_model_fd`.
pub(crate) fn file_range(fd: i32, offset: i64, length: i64) -> Result<FileRange, Error> {
    if fd < 0 {
        return Err(Error::invalid(format!("file descriptor {fd} is negative")));
    }
    let offset = u64::try_from(offset)
        .map_err(|_| Error::invalid(format!("offset {offset} is negative")))?;
    let length = u64::try_from(length)
        .map_err(|_| Error::invalid(format!("length {length} is negative")))?;
    #[cfg(unix)]
    {
        // SAFETY: the descriptor is only borrowed for the `dup` inside `from_fd`; a descriptor
        // that is not open makes `dup` fail (EBADF), which is reported as an invalid argument.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        FileRange::from_fd(fd, offset, length)
    }
    #[cfg(not(unix))]
    {
        let _ = (offset, length);
        Err(Error::invalid("file descriptors are not supported on this platform"))
    }
}

/// Uses a preprocessing preset (one of `resnext_preset`).
///
/// # Safety
/// `options` must be valid.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_preset(
    options: *mut resnext_options,
    preset: u32,
) -> resnext_result {
    with_options(options, |o| {
        o.settings.preprocess = match preset {
            p if p == resnext_preset::Wsl224 as u32 => Preset::Wsl224.config(),
            p if p == resnext_preset::Fix320 as u32 => Preset::Fix320.config(),
            other => return Err(Error::invalid(format!("unknown preset {other}"))),
        };
        Ok(())
    })
}

/// Uses custom preprocessing: resize the short side to `resize_short`, centre crop `crop`,
/// then `(x / 255 - mean[c]) / std[c]`. `mean` and `std` point to 3 floats each (RGB order,
/// [0, 1] units). Checked here: `0 < crop <= resize_short <= 4096`, finite mean, non-zero std.
///
/// # Safety
/// `options` must be valid; `mean` and `std` NULL or 3 readable floats each.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_preprocess(
    options: *mut resnext_options,
    resize_short: u32,
    crop: u32,
    mean: *const f32,
    std: *const f32,
) -> resnext_result {
    with_options(options, |o| {
        let mean = unsafe { reference(mean.cast::<[f32; 3]>(), "mean") }?;
        let std = unsafe { reference(std.cast::<[f32; 3]>(), "std") }?;
        let config = PreprocessConfig { resize_short, crop, mean: *mean, std: *std };
        config.validate()?;
        o.settings.preprocess = config;
        Ok(())
    })
}

/// Sets the number of predictions per image (at least 1; clamped to the class count).
///
/// # Safety
/// `options` must be valid.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_top_k(
    options: *mut resnext_options,
    top_k: u32,
) -> resnext_result {
    with_options(options, |o| {
        if top_k == 0 {
            return Err(Error::invalid("top_k must be at least 1"));
        }
        o.settings.top_k = top_k as usize;
        Ok(())
    })
}

/// Drops predictions scoring below `threshold` (a probability in [0, 1]; default 0: none are
/// dropped), so a classify call may return fewer than top-k predictions, or none (`*count`
/// 0). NaN or a value outside [0, 1] is `RESNEXT_RESULT_INVALID_ARGUMENT`.
///
/// # Safety
/// `options` must be valid.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_score_threshold(
    options: *mut resnext_options,
    threshold: f32,
) -> resnext_result {
    with_options(options, |o| {
        crate::classifier::check_score_threshold(threshold)?;
        o.settings.score_threshold = threshold;
        Ok(())
    })
}

/// Sets the worker threads of one inference (0: all cores).
///
/// # Safety
/// `options` must be valid.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_threads(
    options: *mut resnext_options,
    threads: u32,
) -> resnext_result {
    with_options(options, |o| {
        if threads > 1024 {
            return Err(Error::invalid(format!("{threads} threads is not reasonable")));
        }
        o.settings.threads = threads as usize;
        Ok(())
    })
}

/// Reads labels from a file (one label per line, or PaddleClas's `<id> <name>`); the file is
/// read by `resnext_classifier_new`. NULL restores the built-in ImageNet-1k labels.
///
/// # Safety
/// `options` must be valid; `path` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_labels_file(
    options: *mut resnext_options,
    path: *const std::os::raw::c_char,
) -> resnext_result {
    with_options(options, |o| {
        o.settings.labels = if path.is_null() {
            LabelSource::ImageNet1k
        } else {
            LabelSource::File(PathBuf::from(unsafe { string(path, "path") }?))
        };
        Ok(())
    })
}

/// Uses no labels: predictions carry `""` as their label.
///
/// # Safety
/// `options` must be valid.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_no_labels(
    options: *mut resnext_options,
) -> resnext_result {
    with_options(options, |o| {
        o.settings.labels = LabelSource::None;
        Ok(())
    })
}

/// Accepts (non-zero) or refuses (0, the default) a label count that differs from the model's
/// class count.
///
/// # Safety
/// `options` must be valid.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_allow_label_mismatch(
    options: *mut resnext_options,
    allow: u32,
) -> resnext_result {
    with_options(options, |o| {
        o.settings.allow_label_mismatch = allow != 0;
        Ok(())
    })
}

/// Chooses the backend (one of `resnext_backend`). A backend not compiled in is refused by
/// `resnext_classifier_new` with `RESNEXT_RESULT_BACKEND_UNAVAILABLE`.
///
/// # Safety
/// `options` must be valid.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_backend(
    options: *mut resnext_options,
    backend: u32,
) -> resnext_result {
    with_options(options, |o| {
        o.settings.backend = BackendKind::from_u32(backend)
            .ok_or_else(|| Error::invalid(format!("unknown backend {backend}")))?;
        Ok(())
    })
}

/// Chooses the CPU kernels for the convolutions on the tract backend (one of
/// `resnext_cpu_kernels`; default `RESNEXT_CPU_KERNELS_AUTO`). A kernel family this CPU cannot
/// run is refused by `resnext_classifier_new` with `RESNEXT_RESULT_BACKEND_UNAVAILABLE`; an
/// unknown value here with `RESNEXT_RESULT_INVALID_ARGUMENT`. FP32 and widened FP16 models run
/// on the AVX-512 f32 kernels (where the CPU has AVX-512F; else the AVX2 ones, where it has
/// AVX2, FMA and F16C) for every value but OFF (tract's own kernels), SCALAR (the scalar f32
/// reference) and AVX2 (the AVX2 f32 kernels), unless bf16 products are asked for.
///
/// # Safety
/// `options` must be valid.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_cpu_kernels(
    options: *mut resnext_options,
    kernels: u32,
) -> resnext_result {
    with_options(options, |o| {
        o.settings.cpu_kernels = CpuKernels::from_u32(kernels)
            .ok_or_else(|| Error::invalid(format!("unknown CPU kernels {kernels}")))?;
        Ok(())
    })
}

/// tract backend, opt-in (non-zero; 0 is the default, float32): a float model's convolutions
/// whose groups have 8, 16 or a multiple of 32 input channels (all of a ResNeXt's but the stem) run in
/// bf16 on Intel AMX, float32 accumulation; without AMX, on AVX512-BF16 (AMD Zen 4 and later)
/// those with 16 or a multiple of 32. Ignored with a warning on a CPU with neither,
/// with the CPU kernels off and for INT8 models; `resnext_model_info.compute` says how many
/// convolutions run in bf16, or why bf16 is not available.
///
/// # Safety
/// `options` must be valid.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_bf16_matmul(
    options: *mut resnext_options,
    enable: u32,
) -> resnext_result {
    with_options(options, |o| {
        o.settings.bf16_matmul = enable != 0;
        Ok(())
    })
}

/// tract backend: widens float16 weights to float32 at load (non-zero, the default) or keeps
/// float16 arithmetic (0; for CPUs with native fp16). `resnext_model_info.compute` says which.
///
/// # Safety
/// `options` must be valid.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_widen_fp16(
    options: *mut resnext_options,
    widen: u32,
) -> resnext_result {
    with_options(options, |o| {
        o.settings.widen_fp16 = widen != 0;
        Ok(())
    })
}

/// Sets the largest accepted image `width * height` (checked before decoding; at least 1).
///
/// # Safety
/// `options` must be valid.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_max_pixels(
    options: *mut resnext_options,
    max_pixels: u64,
) -> resnext_result {
    with_options(options, |o| {
        if max_pixels == 0 {
            return Err(Error::invalid("max_pixels must be at least 1"));
        }
        o.settings.max_pixels = max_pixels;
        Ok(())
    })
}

/// Accepts (non-zero) or refuses (0, the default) truncated image data: a JPEG without its
/// end-of-image marker, a PNG cut before its end. Refused, a classify call fails with
/// `RESNEXT_RESULT_IMAGE_DECODE` and a message saying the data is truncated; accepted, the
/// partial frame is classified (the missing rows grey). Data cut inside its headers fails
/// either way.
///
/// # Safety
/// `options` must be valid.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_allow_truncated_images(
    options: *mut resnext_options,
    allow: u32,
) -> resnext_result {
    with_options(options, |o| {
        o.settings.allow_truncated_images = allow != 0;
        Ok(())
    })
}

/// Sets the largest accepted model size in bytes (checked before reading; at least 1).
///
/// # Safety
/// `options` must be valid.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_max_model_bytes(
    options: *mut resnext_options,
    max_model_bytes: u64,
) -> resnext_result {
    with_options(options, |o| {
        if max_model_bytes == 0 {
            return Err(Error::invalid("max_model_bytes must be at least 1"));
        }
        o.settings.max_model_bytes = max_model_bytes;
        Ok(())
    })
}
