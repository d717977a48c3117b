//! `resnext.Classifier`: the Rust [`resnext::Classifier`] shared by Python threads. Every call
//! takes the Python inputs while holding the GIL, then releases it for decoding, preprocessing
//! and inference, so threads classify in parallel on one classifier.

use crate::errors::{guard, invalid, sdk_error, IntoPyResult};
use crate::images::{take, HeldImage, PixelArgs};
use crate::info::model_info;
use crate::options::{build, Settings};
use crate::results::Classification;
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use resnext::ErrorCode;
use std::sync::{Arc, RwLock};

/// An image classifier over an ONNX model. See the package documentation for every argument.
#[pyclass(module = "resnext", frozen)]
pub struct Classifier {
    /// `None` once closed.
    inner: RwLock<Option<Arc<resnext::Classifier>>>,
    /// The `ModelInfo` dataclass, built once.
    info: Py<PyAny>,
    /// The `PreprocessConfig` dataclass, built once.
    preprocess_config: Py<PyAny>,
}

impl Classifier {
    /// The classifier, or `resnext.ClosedError` after `close()`.
    fn get(&self, py: Python<'_>) -> PyResult<Arc<resnext::Classifier>> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.clone().ok_or_else(|| sdk_error(py, ErrorCode::Closed, "the classifier is closed"))
    }
}

/// A float32 `N x 3 x H x W` tensor as a C-order slice: read in place when C-contiguous,
/// copied in C order otherwise (strided views, Fortran order).
struct HeldTensor<'py> {
    array: numpy::PyReadonlyArrayDyn<'py, f32>,
    copy: Option<Vec<f32>>,
    batch: usize,
}

impl HeldTensor<'_> {
    fn data(&self) -> &[f32] {
        match &self.copy {
            Some(copy) => copy,
            // SAFETY: `take_tensor` keeps no copy only for a C-contiguous array, whose `len()`
            // elements start at its data pointer; the readonly borrow keeps it alive.
            None => unsafe { std::slice::from_raw_parts(self.array.data(), self.array.len()) },
        }
    }
}

fn take_tensor<'py>(
    tensor: &Bound<'py, PyAny>,
    classifier: &resnext::Classifier,
) -> PyResult<HeldTensor<'py>> {
    let py = tensor.py();
    let untyped = tensor
        .cast::<PyUntypedArray>()
        .map_err(|_| PyTypeError::new_err("the tensor must be a numpy float32 array"))?;
    let typed = untyped.cast::<PyArrayDyn<f32>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "the tensor must be float32, got dtype {} (convert with .astype(numpy.float32))",
            untyped.dtype()
        ))
    })?;
    let info = classifier.info();
    let want = [3usize, info.height as usize, info.width as usize];
    let shape = untyped.shape();
    if shape.len() != 4 || shape[1..] != want || shape[0] == 0 {
        return Err(invalid(
            py,
            format!(
                "the tensor must be N x {} x {} x {} (N >= 1), got shape {shape:?}",
                want[0], want[1], want[2]
            ),
        ));
    }
    let batch = shape[0];
    let array = typed.try_readonly().map_err(|e| invalid(py, e.to_string()))?;
    let copy = if untyped.is_c_contiguous() {
        None
    } else {
        Some(array.as_array().iter().copied().collect())
    };
    Ok(HeldTensor { array, copy, batch })
}

#[pymethods]
impl Classifier {
    /// Loads `model` (a path, ``os.PathLike``, the ONNX file's ``bytes``, or an open file
    /// descriptor ``int`` with ``model_offset`` and ``model_length``) and prepares it. The GIL
    /// is released while loading.
    #[new]
    #[pyo3(signature = (
        model, *, preset="wsl-224", resize_short=None, crop=None, mean=None, std=None,
        top_k=5, score_threshold=0.0, model_offset=0, model_length=None, threads=0, labels=None, allow_label_mismatch=false,
        max_pixels=resnext::preprocess::decode::DEFAULT_MAX_PIXELS,
        allow_truncated_images=false, max_model_bytes=resnext::options::DEFAULT_MAX_MODEL_BYTES,
        backend="tract", widen_fp16=true, bf16_matmul=false, cpu_kernels="auto",
        ort_library=None, execution_provider="cpu", device_id=0, fallback="fail", tensorrt=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new<'py>(
        py: Python<'py>,
        model: Bound<'py, PyAny>,
        preset: &str,
        resize_short: Option<u32>,
        crop: Option<u32>,
        mean: Option<[f32; 3]>,
        std: Option<[f32; 3]>,
        top_k: usize,
        score_threshold: f32,
        model_offset: i64,
        model_length: Option<i64>,
        threads: usize,
        labels: Option<Bound<'py, PyAny>>,
        allow_label_mismatch: bool,
        max_pixels: u64,
        allow_truncated_images: bool,
        max_model_bytes: u64,
        backend: &str,
        widen_fp16: bool,
        bf16_matmul: bool,
        cpu_kernels: &str,
        ort_library: Option<Bound<'py, PyAny>>,
        execution_provider: &str,
        device_id: u32,
        fallback: &str,
        tensorrt: Option<Bound<'py, PyDict>>,
    ) -> PyResult<Self> {
        guard(py, || {
            let settings = Settings {
                model,
                preset: preset.to_string(),
                resize_short,
                crop,
                mean,
                std,
                top_k,
                score_threshold,
                model_offset,
                model_length,
                threads,
                labels,
                allow_label_mismatch,
                max_pixels,
                allow_truncated_images,
                max_model_bytes,
                backend: backend.to_string(),
                widen_fp16,
                bf16_matmul,
                cpu_kernels: cpu_kernels.to_string(),
                ort_library,
                execution_provider: execution_provider.to_string(),
                device_id,
                fallback: fallback.to_string(),
                tensorrt,
            };
            let options = build(py, &settings)?;
            let classifier = py
                .detach(|| resnext::error::catch_panic(|| resnext::Classifier::new(options)))
                .py_err(py)?;
            let (info, preprocess_config) = model_info(py, &classifier)?;
            Ok(Classifier {
                inner: RwLock::new(Some(Arc::new(classifier))),
                info,
                preprocess_config,
            })
        })
    }

    /// Classifies one image: a path, encoded ``bytes``, a numpy ``uint8`` array (``H x W x 3``
    /// RGB, or BGR with ``pixel_format="bgr"``; ``H x W x 4``; an NV21/NV12 frame as a
    /// ``(H * 3 / 2) x W`` array), a camera frame as ``bytes`` with ``width``, ``height`` and
    /// ``pixel_format``, or a PIL image. ``rotation`` (0, 90, 180, 270, clockwise) applies to
    /// raw pixels. A planar YUV 4:2:0 frame is a `Yuv420`. ``roi=(x, y, width, height)``
    /// limits the call to that region of the source (before rotation, resize and crop; on
    /// YUV images ``x`` and ``y`` must be even), as if the image had been cropped first.
    /// Returns a `Classification`.
    #[pyo3(signature = (image, *, pixel_format=None, width=None, height=None, rotation=0, row_stride=0, roi=None))]
    fn classify(
        &self,
        py: Python<'_>,
        image: &Bound<'_, PyAny>,
        pixel_format: Option<&str>,
        width: Option<u32>,
        height: Option<u32>,
        rotation: u32,
        row_stride: usize,
        roi: Option<(i64, i64, i64, i64)>,
    ) -> PyResult<Classification> {
        guard(py, || {
            let classifier = self.get(py)?;
            let args =
                PixelArgs::parse(py, pixel_format, width, height, rotation, row_stride, roi)?;
            let held = take(image, &args)?;
            let whole = held.input();
            let input = whole.with_roi(args.roi);
            let result = py
                .detach(|| resnext::error::catch_panic(|| classifier.classify(input)))
                .py_err(py)?;
            Classification::from_sdk(py, result)
        })
    }

    /// Classifies several images (any of `classify`'s kinds; the keyword arguments apply to
    /// all) in one batched run. Fails as a whole if one image fails; the error names its index.
    #[pyo3(signature = (images, *, pixel_format=None, width=None, height=None, rotation=0, row_stride=0, roi=None))]
    fn classify_batch(
        &self,
        py: Python<'_>,
        images: &Bound<'_, PyAny>,
        pixel_format: Option<&str>,
        width: Option<u32>,
        height: Option<u32>,
        rotation: u32,
        row_stride: usize,
        roi: Option<(i64, i64, i64, i64)>,
    ) -> PyResult<Vec<Classification>> {
        guard(py, || {
            let classifier = self.get(py)?;
            let args =
                PixelArgs::parse(py, pixel_format, width, height, rotation, row_stride, roi)?;
            if images.is_instance_of::<pyo3::types::PyString>()
                || images.is_instance_of::<pyo3::types::PyBytes>()
            {
                return Err(PyTypeError::new_err(
                    "classify_batch takes a sequence of images (use classify for one)",
                ));
            }
            let held: Vec<HeldImage<'_>> = images
                .try_iter()
                .map_err(|_| PyTypeError::new_err("classify_batch takes a sequence of images"))?
                .map(|image| take(&image?, &args))
                .collect::<PyResult<_>>()?;
            let whole: Vec<resnext::ImageInput<'_>> = held.iter().map(HeldImage::input).collect();
            let inputs: Vec<resnext::ImageInput<'_>> =
                whole.iter().map(|input| input.with_roi(args.roi)).collect();
            let results = py
                .detach(|| resnext::error::catch_panic(|| classifier.classify_batch(&inputs)))
                .py_err(py)?;
            results.into_iter().map(|c| Classification::from_sdk(py, c)).collect()
        })
    }

    /// Classifies an already preprocessed float32 ``N x 3 x H x W`` tensor (as `preprocess`
    /// returns). Returns one `Classification` per image.
    fn classify_tensor(
        &self,
        py: Python<'_>,
        tensor: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<Classification>> {
        guard(py, || {
            let classifier = self.get(py)?;
            let held = take_tensor(tensor, &classifier)?;
            let (data, batch) = (held.data(), held.batch);
            let results = py
                .detach(|| resnext::error::catch_panic(|| classifier.classify_tensor(data, batch)))
                .py_err(py)?;
            results.into_iter().map(|c| Classification::from_sdk(py, c)).collect()
        })
    }

    /// Decodes (or converts) and preprocesses one image, as `classify` takes it, into the
    /// float32 ``1 x 3 x crop x crop`` tensor the model runs on.
    #[pyo3(signature = (image, *, pixel_format=None, width=None, height=None, rotation=0, row_stride=0, roi=None))]
    fn preprocess<'py>(
        &self,
        py: Python<'py>,
        image: &Bound<'py, PyAny>,
        pixel_format: Option<&str>,
        width: Option<u32>,
        height: Option<u32>,
        rotation: u32,
        row_stride: usize,
        roi: Option<(i64, i64, i64, i64)>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            let classifier = self.get(py)?;
            let args =
                PixelArgs::parse(py, pixel_format, width, height, rotation, row_stride, roi)?;
            let held = take(image, &args)?;
            let whole = held.input();
            let input = whole.with_roi(args.roi);
            let tensor = py
                .detach(|| resnext::error::catch_panic(|| classifier.preprocess(input)))
                .py_err(py)?;
            let crop = classifier.preprocess_config().crop as usize;
            Ok(PyArray1::from_vec(py, tensor).reshape([1, 3, crop, crop])?.into_any())
        })
    }

    /// Runs the model on a float32 ``N x 3 x H x W`` tensor and returns its raw ``N x C``
    /// output (logits or probabilities, as the model gives them) as float32.
    fn run_raw<'py>(
        &self,
        py: Python<'py>,
        tensor: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            let classifier = self.get(py)?;
            let held = take_tensor(tensor, &classifier)?;
            let (data, batch) = (held.data(), held.batch);
            let scores = py
                .detach(|| resnext::error::catch_panic(|| classifier.run_raw(data, batch)))
                .py_err(py)?;
            let classes = classifier.info().classes;
            Ok(PyArray1::from_vec(py, scores).reshape([batch, classes])?.into_any())
        })
    }

    /// What the model is and how it runs (a frozen `ModelInfo` dataclass).
    #[getter]
    fn info(&self, py: Python<'_>) -> Py<PyAny> {
        self.info.clone_ref(py)
    }

    /// The preprocessing this classifier applies (a frozen `PreprocessConfig` dataclass).
    #[getter]
    fn preprocess_config(&self, py: Python<'_>) -> Py<PyAny> {
        self.preprocess_config.clone_ref(py)
    }

    /// Predictions returned per image (top_k, clamped to the class count).
    #[getter]
    fn top_k(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.get(py)?.top_k())
    }

    /// Predictions scoring below this are dropped (0.0: none are).
    #[getter]
    fn score_threshold(&self, py: Python<'_>) -> PyResult<f32> {
        Ok(self.get(py)?.score_threshold())
    }

    /// The label of class ``class_id`` (``""`` when the classifier has none for it); a class id
    /// outside the model's classes raises `resnext.InvalidArgument`.
    fn label(&self, py: Python<'_>, class_id: i64) -> PyResult<String> {
        let classifier = self.get(py)?;
        let id = usize::try_from(class_id)
            .map_err(|_| invalid(py, format!("class id {class_id} is negative")))?;
        Ok(classifier.label(id).py_err(py)?.to_string())
    }

    /// The labels, indexed by class id (empty without labels).
    #[getter]
    fn labels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let classifier = self.get(py)?;
        let labels = classifier.labels();
        PyList::new(py, (0..labels.len()).map(|i| labels.get(i)))
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).is_none()
    }

    /// Frees the model now (calls already running finish first); later calls raise
    /// `resnext.ClosedError`. Closing twice is allowed.
    fn close(&self, py: Python<'_>) {
        let taken = self.inner.write().unwrap_or_else(|e| e.into_inner()).take();
        // The last reference may free gigabytes of weights: without the GIL.
        py.detach(move || drop(taken));
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        match self.get(py) {
            Ok(c) => {
                let info = c.info();
                format!(
                    "Classifier({}x{}, {} classes, {}, backend={}, provider={}, threads={})",
                    info.height,
                    info.width,
                    info.classes,
                    info.precision.name(),
                    info.backend,
                    info.provider,
                    info.threads
                )
            }
            Err(_) => "Classifier(closed)".to_string(),
        }
    }
}
