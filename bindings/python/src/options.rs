//! The `Classifier(...)` keyword arguments, turned into the Rust builder's
//! [`ClassifierOptions`]. Every option of the builder has a keyword; names and values follow
//! the CLI's spelling (`preset="fix-320"`, `cpu_kernels="avx512-vnni"`, `fallback="next"`).

use crate::errors::{invalid, IntoPyResult};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyString};
use resnext::{
    BackendKind, BatchProfile, ClassifierOptions, CpuKernels, ExecutionProvider, FallbackPolicy,
    LabelSource, Preset, TensorRtOptions,
};
use std::path::PathBuf;

/// The keyword arguments of `Classifier.__init__`, as Python gave them.
pub struct Settings<'py> {
    pub model: Bound<'py, PyAny>,
    pub preset: String,
    pub resize_short: Option<u32>,
    pub crop: Option<u32>,
    pub mean: Option<[f32; 3]>,
    pub std: Option<[f32; 3]>,
    pub top_k: usize,
    pub score_threshold: f32,
    pub model_offset: i64,
    pub model_length: Option<i64>,
    pub threads: usize,
    pub labels: Option<Bound<'py, PyAny>>,
    pub allow_label_mismatch: bool,
    pub max_pixels: u64,
    pub allow_truncated_images: bool,
    pub max_model_bytes: u64,
    pub backend: String,
    pub widen_fp16: bool,
    pub bf16_matmul: bool,
    pub cpu_kernels: String,
    pub ort_library: Option<Bound<'py, PyAny>>,
    pub execution_provider: String,
    pub device_id: u32,
    pub fallback: String,
    pub tensorrt: Option<Bound<'py, PyDict>>,
}

/// A `str` or `os.PathLike` as a path; `None` when `value` is neither.
pub fn as_path(value: &Bound<'_, PyAny>) -> PyResult<Option<PathBuf>> {
    if value.is_instance_of::<PyString>() {
        return Ok(Some(PathBuf::from(value.extract::<String>()?)));
    }
    if value.hasattr("__fspath__")? {
        return value.extract::<PathBuf>().map(Some);
    }
    Ok(None)
}

/// `model_length` bytes (default: to the end of the file) from `model_offset` of the open file
/// descriptor `fd`, which stays the caller's (duplicated, read with `pread`, never closed).
fn fd_options(
    py: Python<'_>,
    fd: i64,
    offset: i64,
    length: Option<i64>,
) -> PyResult<ClassifierOptions> {
    let fd = i32::try_from(fd)
        .ok()
        .filter(|fd| *fd >= 0)
        .ok_or_else(|| invalid(py, format!("file descriptor {fd} is not valid")))?;
    let offset = u64::try_from(offset)
        .map_err(|_| invalid(py, format!("model_offset {offset} is negative")))?;
    #[cfg(unix)]
    {
        // SAFETY: borrowed only for the `dup` in `from_fd`; a closed descriptor fails there.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let length = match length {
            Some(length) => u64::try_from(length)
                .map_err(|_| invalid(py, format!("model_length {length} is negative")))?,
            None => {
                let owned = borrowed.try_clone_to_owned().map_err(|e| {
                    invalid(py, format!("file descriptor {fd} cannot be duplicated: {e}"))
                })?;
                let size = std::fs::File::from(owned)
                    .metadata()
                    .map_err(|e| invalid(py, format!("file descriptor {fd}: {e}")))?
                    .len();
                size.checked_sub(offset).ok_or_else(|| {
                    invalid(
                        py,
                        format!("model_offset {offset} is past the end of the file ({size} bytes)"),
                    )
                })?
            }
        };
        let range = resnext::FileRange::from_fd(borrowed, offset, length).py_err(py)?;
        Ok(ClassifierOptions::from_file_range(range))
    }
    #[cfg(not(unix))]
    {
        let _ = (offset, length);
        Err(invalid(py, "file descriptors are not supported on this platform"))
    }
}

fn model_options(py: Python<'_>, s: &Settings<'_>) -> PyResult<ClassifierOptions> {
    let model = &s.model;
    let is_fd = !model.is_instance_of::<pyo3::types::PyBool>()
        && model.is_instance_of::<pyo3::types::PyInt>();
    if is_fd {
        return fd_options(py, model.extract::<i64>()?, s.model_offset, s.model_length);
    }
    if s.model_offset != 0 || s.model_length.is_some() {
        return Err(invalid(
            py,
            "model_offset and model_length apply to a file descriptor model (an int)",
        ));
    }
    if let Ok(bytes) = model.cast::<PyBytes>() {
        return Ok(ClassifierOptions::from_bytes(bytes.as_bytes()));
    }
    if let Ok(bytes) = model.cast::<PyByteArray>() {
        return Ok(ClassifierOptions::from_bytes(bytes.to_vec()));
    }
    match as_path(model)? {
        Some(path) => Ok(ClassifierOptions::from_path(path)),
        None => Err(PyTypeError::new_err(format!(
            "model must be a path (str or os.PathLike), the ONNX file's bytes or an open file \
             descriptor (int), not {}",
            model.get_type().name()?
        ))),
    }
}

fn labels(labels: Option<&Bound<'_, PyAny>>) -> PyResult<LabelSource> {
    let Some(labels) = labels else { return Ok(LabelSource::ImageNet1k) };
    if labels.is_none() {
        return Ok(LabelSource::ImageNet1k);
    }
    if let Ok(false) = labels.extract::<bool>() {
        return Ok(LabelSource::None);
    }
    if let Some(path) = as_path(labels)? {
        return Ok(LabelSource::File(path));
    }
    match labels.extract::<Vec<String>>() {
        Ok(list) => Ok(LabelSource::List(list)),
        Err(_) => Err(PyTypeError::new_err(format!(
            "labels must be None (ImageNet-1k), False (no labels), a label file path or a \
             sequence of str, not {}",
            labels.get_type().name()?
        ))),
    }
}

fn tensorrt(py: Python<'_>, options: Option<&Bound<'_, PyDict>>) -> PyResult<TensorRtOptions> {
    let mut trt = TensorRtOptions::default();
    let Some(options) = options else { return Ok(trt) };
    for (key, value) in options.iter() {
        let key: String = key.extract()?;
        match key.as_str() {
            "fp16" => trt.fp16 = value.extract()?,
            "int8" => trt.int8 = value.extract()?,
            "int8_calibration_table" => trt.int8_calibration_table = value.extract()?,
            "workspace_bytes" => trt.workspace_bytes = value.extract()?,
            "engine_cache_dir" => trt.engine_cache_dir = value.extract()?,
            "timing_cache_dir" => trt.timing_cache_dir = value.extract()?,
            "dla_core" => trt.dla_core = value.extract()?,
            "batch_profile" => {
                let (min, opt, max): (u32, u32, u32) = value.extract()?;
                trt.batch_profile = BatchProfile { min, opt, max };
                if !trt.batch_profile.is_valid() {
                    return Err(invalid(
                        py,
                        format!("tensorrt batch_profile ({min}, {opt}, {max}) needs 1 <= min <= opt <= max"),
                    ));
                }
            }
            other => {
                return Err(PyTypeError::new_err(format!(
                    "unknown tensorrt option '{other}' (fp16, int8, int8_calibration_table, \
                     workspace_bytes, engine_cache_dir, timing_cache_dir, dla_core, batch_profile)"
                )))
            }
        }
    }
    Ok(trt)
}

fn provider(py: Python<'_>, s: &Settings<'_>) -> PyResult<ExecutionProvider> {
    let kind = resnext::ProviderKind::parse(&s.execution_provider).ok_or_else(|| {
        invalid(
            py,
            format!(
                "unknown execution_provider '{}' (cpu, cuda or tensorrt)",
                s.execution_provider
            ),
        )
    })?;
    if s.tensorrt.is_some() && kind != resnext::ProviderKind::TensorRt {
        return Err(invalid(py, "tensorrt options need execution_provider=\"tensorrt\""));
    }
    Ok(match kind {
        resnext::ProviderKind::Cpu => ExecutionProvider::Cpu,
        resnext::ProviderKind::Cuda => ExecutionProvider::Cuda { device_id: s.device_id },
        resnext::ProviderKind::TensorRt => ExecutionProvider::TensorRt {
            device_id: s.device_id,
            options: tensorrt(py, s.tensorrt.as_ref())?,
        },
    })
}

/// Builds the Rust options, refusing unknown names and values with `resnext.InvalidArgument`
/// (a `ValueError`) and wrong types with `TypeError`.
pub fn build(py: Python<'_>, s: &Settings<'_>) -> PyResult<ClassifierOptions> {
    let mut preprocess = Preset::from_name(&s.preset).py_err(py)?.config();
    if let Some(v) = s.resize_short {
        preprocess.resize_short = v;
    }
    if let Some(v) = s.crop {
        preprocess.crop = v;
    }
    if let Some(v) = s.mean {
        preprocess.mean = v;
    }
    if let Some(v) = s.std {
        preprocess.std = v;
    }
    let backend = match s.backend.as_str() {
        "tract" => BackendKind::Tract,
        "ort" | "onnxruntime" => BackendKind::Ort,
        other => {
            return Err(invalid(py, format!("unknown backend '{other}' (tract or ort)")));
        }
    };
    let cpu_kernels = CpuKernels::from_name(&s.cpu_kernels).ok_or_else(|| {
        invalid(py, format!("unknown cpu_kernels '{}' ({})", s.cpu_kernels, CpuKernels::names()))
    })?;
    let fallback = match s.fallback.as_str() {
        "fail" => FallbackPolicy::Fail,
        "next" | "next-provider" => FallbackPolicy::NextProvider,
        other => return Err(invalid(py, format!("unknown fallback '{other}' (fail or next)"))),
    };
    let mut options = model_options(py, s)?
        .preprocess(preprocess)
        .top_k(s.top_k)
        .score_threshold(s.score_threshold)
        .threads(s.threads)
        .labels(labels(s.labels.as_ref())?)
        .allow_label_mismatch(s.allow_label_mismatch)
        .max_pixels(s.max_pixels)
        .allow_truncated_images(s.allow_truncated_images)
        .max_model_bytes(s.max_model_bytes)
        .backend(backend)
        .widen_fp16(s.widen_fp16)
        .bf16_matmul(s.bf16_matmul)
        .cpu_kernels(cpu_kernels)
        .execution_provider(provider(py, s)?)
        .fallback(fallback);
    if let Some(library) = &s.ort_library {
        match as_path(library)? {
            Some(path) => options = options.ort_library(path),
            None => return Err(PyTypeError::new_err("ort_library must be a str or os.PathLike")),
        }
    }
    Ok(options)
}
