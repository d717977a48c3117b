//! ONNX Runtime settings of `resnext_options`: the runtime library, the execution provider,
//! the fallback policy and TensorRT's engine options. They are accepted by every build; a build
//! without the `ort` feature refuses them in `resnext_classifier_new` with
//! `RESNEXT_RESULT_BACKEND_UNAVAILABLE` once `resnext_options_set_backend(o, RESNEXT_BACKEND_ORT)`
//! asks for that backend. Like the rest of `resnext_options`, not thread-safe.

use super::boundary::string;
use super::options::{resnext_options, with_options};
use super::types::resnext_result;
use crate::backend::ort::execution::{BatchProfile, FallbackPolicy, ProviderKind};
use crate::error::Error;
use std::os::raw::c_char;
use std::path::PathBuf;

/// An optional path argument: NULL or "" means "none".
unsafe fn optional_path(ptr: *const c_char, name: &str) -> Result<Option<PathBuf>, Error> {
    if ptr.is_null() {
        return Ok(None);
    }
    let s = unsafe { string(ptr, name) }?;
    Ok((!s.is_empty()).then(|| PathBuf::from(s)))
}

/// Sets the ONNX Runtime shared library to load (`libonnxruntime.so`; copied). NULL or ""
/// restores the default, the `ORT_DYLIB_PATH` environment variable. A process loads one
/// ONNX Runtime library: a classifier asking for another file later fails with
/// `RESNEXT_RESULT_INVALID_ARGUMENT`.
///
/// # Safety
/// `options` must be valid; `path` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_ort_library(
    options: *mut resnext_options,
    path: *const c_char,
) -> resnext_result {
    with_options(options, |o| {
        o.settings.ort.library_path = unsafe { optional_path(path, "path") }?;
        Ok(())
    })
}

/// Chooses ONNX Runtime's execution provider (one of `resnext_provider`) and, for CUDA and
/// TensorRT, the GPU ordinal `device_id` (ignored for the CPU). Default: CPU.
///
/// # Safety
/// `options` must be valid.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_execution_provider(
    options: *mut resnext_options,
    provider: u32,
    device_id: u32,
) -> resnext_result {
    with_options(options, |o| {
        o.provider = ProviderKind::from_u32(provider)
            .ok_or_else(|| Error::invalid(format!("unknown execution provider {provider}")))?;
        o.device_id = device_id;
        Ok(())
    })
}

/// Sets what happens when the execution provider cannot be used (one of `resnext_fallback`).
/// Default `RESNEXT_FALLBACK_FAIL`: `resnext_classifier_new` returns
/// `RESNEXT_RESULT_PROVIDER_UNAVAILABLE`. With `RESNEXT_FALLBACK_NEXT_PROVIDER` it tries
/// TensorRT, then CUDA, then the CPU, logging a warning for each one skipped; the provider in
/// use is `resnext_model_info.provider`.
///
/// # Safety
/// `options` must be valid.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_fallback(
    options: *mut resnext_options,
    policy: u32,
) -> resnext_result {
    with_options(options, |o| {
        o.settings.ort.fallback = FallbackPolicy::from_u32(policy)
            .ok_or_else(|| Error::invalid(format!("unknown fallback policy {policy}")))?;
        Ok(())
    })
}

/// TensorRT precision: `fp16` and `int8` are 0 or non-zero. `calibration_table` (NULL for
/// none; copied) names an INT8 calibration table inside the engine cache directory, needed for
/// INT8 on a float model (a QDQ model carries its own scales).
///
/// # Safety
/// `options` must be valid; `calibration_table` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_tensorrt_precision(
    options: *mut resnext_options,
    fp16: u32,
    int8: u32,
    calibration_table: *const c_char,
) -> resnext_result {
    with_options(options, |o| {
        let table = unsafe { optional_path(calibration_table, "calibration_table") }?;
        o.tensorrt.fp16 = fp16 != 0;
        o.tensorrt.int8 = int8 != 0;
        o.tensorrt.int8_calibration_table = table.map(|p| p.to_string_lossy().into_owned());
        Ok(())
    })
}

/// Largest scratch memory TensorRT may use while building an engine, in bytes (0: ONNX
/// Runtime's default).
///
/// # Safety
/// `options` must be valid.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_tensorrt_workspace(
    options: *mut resnext_options,
    bytes: u64,
) -> resnext_result {
    with_options(options, |o| {
        o.tensorrt.workspace_bytes = (bytes > 0).then_some(bytes);
        Ok(())
    })
}

/// Directories for TensorRT's engine cache and timing cache (each NULL or "" for none; copied;
/// created when missing). Engines are kept in a subdirectory keyed on the model's SHA-256, the
/// ONNX Runtime and TensorRT versions, the GPU and the precision options, and verified against
/// a manifest before use: a stale, foreign or corrupt engine is rebuilt with a warning.
///
/// # Safety
/// `options` must be valid; both paths NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_tensorrt_cache_dirs(
    options: *mut resnext_options,
    engine_cache_dir: *const c_char,
    timing_cache_dir: *const c_char,
) -> resnext_result {
    with_options(options, |o| {
        let engines = unsafe { optional_path(engine_cache_dir, "engine_cache_dir") }?;
        let timing = unsafe { optional_path(timing_cache_dir, "timing_cache_dir") }?;
        o.tensorrt.engine_cache_dir = engines;
        o.tensorrt.timing_cache_dir = timing;
        Ok(())
    })
}

/// Runs TensorRT on a Jetson deep-learning accelerator: `core` 0 or 1, or -1 for the GPU (the
/// default). Any other value is `RESNEXT_RESULT_INVALID_ARGUMENT` (the options unchanged).
///
/// # Safety
/// `options` must be valid.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_tensorrt_dla_core(
    options: *mut resnext_options,
    core: i32,
) -> resnext_result {
    with_options(options, |o| {
        o.tensorrt.dla_core = crate::backend::ort::execution::dla_core_from_i32(core)?;
        Ok(())
    })
}

/// TensorRT's optimization profile over the batch: one engine serves batches `min..=max` and
/// is tuned for `opt` (default 1, 4, 8). Requires `1 <= min <= opt <= max`.
///
/// # Safety
/// `options` must be valid.
#[no_mangle]
pub unsafe extern "C" fn resnext_options_set_tensorrt_batch_profile(
    options: *mut resnext_options,
    min: u32,
    opt: u32,
    max: u32,
) -> resnext_result {
    with_options(options, |o| {
        let profile = BatchProfile { min, opt, max };
        if !profile.is_valid() {
            return Err(Error::invalid(format!(
                "batch profile {min}/{opt}/{max}: needs 1 <= min <= opt <= max"
            )));
        }
        o.tensorrt.batch_profile = profile;
        Ok(())
    })
}
