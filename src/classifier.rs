//! The [`Classifier`]: a loaded model plus preprocessing, post-processing and labels.

use crate::backend::{Backend, BackendKind};
use crate::error::{Error, ErrorCode, Result};
use crate::image_input::ImageInput;
use crate::labels::Labels;
use crate::model_info::{ModelInfo, OutputKind};
use crate::options::{ClassifierOptions, ModelSource};
use crate::postprocess::{softmax_in_place, top_k};
use crate::preprocess::{rgb_to_chw, DecodeLimits, PreprocessConfig};
use std::time::Instant;

/// One predicted class.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Index of the class in the model's output.
    pub class_id: usize,
    /// The class's label, or `""` when the classifier has none for it.
    pub label: String,
    /// Probability in [0, 1] (softmax applied when the model outputs logits).
    pub score: f32,
}

/// Wall-clock time of each stage, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Reading and decoding the file or bytes, or converting the raw buffer, to RGB.
    pub decode_ms: f64,
    /// Resize, crop and normalization into the input tensor.
    pub preprocess_ms: f64,
    /// The engine's run. In a batch, the whole batch's run (shared by its images).
    pub inference_ms: f64,
    /// Softmax and top-k.
    pub postprocess_ms: f64,
}

/// The result for one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// The top-k predictions, highest score first.
    pub predictions: Vec<Prediction>,
    /// Per-stage timings.
    pub timings: Timings,
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// An image classifier. Immutable after construction and `Send + Sync`: one classifier may
/// serve any number of threads at once (runs of the same batch size share one optimized plan,
/// each call uses its own state).
pub struct Classifier {
    backend: Box<dyn Backend>,
    labels: Labels,
    preprocess: PreprocessConfig,
    top_k: usize,
    limits: DecodeLimits,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("info", self.info())
            .field("preprocess", &self.preprocess)
            .field("top_k", &self.top_k)
            .finish()
    }
}

/// A model's serialized bytes: shared with the caller (`ModelSource::Bytes`), or read from its
/// file and owned here, so that a backend that decodes them can free them before it builds its
/// own copy of the weights.
enum ModelBytes {
    Shared(std::sync::Arc<[u8]>),
    Owned(Vec<u8>),
}

impl std::ops::Deref for ModelBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            ModelBytes::Shared(bytes) => bytes,
            ModelBytes::Owned(bytes) => bytes,
        }
    }
}

/// The model's bytes, its size, and the directory of its file (for external tensor data).
fn read_model(source: &ModelSource, max_bytes: u64) -> Result<(ModelBytes, u64, Option<String>)> {
    let too_big = |len: u64| {
        Error::new(
            ErrorCode::LimitExceeded,
            format!("the model is {len} bytes, over the limit of {max_bytes} bytes"),
        )
    };
    match source {
        ModelSource::Bytes(bytes) => {
            if bytes.len() as u64 > max_bytes {
                return Err(too_big(bytes.len() as u64));
            }
            Ok((ModelBytes::Shared(bytes.clone()), bytes.len() as u64, None))
        }
        ModelSource::Path(path) => {
            let bytes = crate::image_input::read_bounded(path, max_bytes).map_err(|e| {
                let code = e.code();
                let detail = if code == ErrorCode::LimitExceeded {
                    format!("the model is over the limit of {max_bytes} bytes")
                } else {
                    e.message().to_string()
                };
                Error::new(code, format!("reading model {}: {detail}", path.display()))
            })?;
            let len = bytes.len() as u64;
            let dir = path.parent().and_then(|d| d.to_str()).map(str::to_string);
            Ok((ModelBytes::Owned(bytes), len, dir))
        }
    }
}

impl Classifier {
    /// Loads the model and prepares it for batch 1. Fails with a clear error for a missing,
    /// corrupt or non-classifier model, preprocessing that does not fit the model's input, or
    /// labels that do not match its classes.
    pub fn new(options: ClassifierOptions) -> Result<Classifier> {
        options.preprocess.validate()?;
        if let crate::ExecutionProvider::TensorRt { options: trt, .. } = &options.ort.provider {
            trt.validate()?;
        }
        let labels = crate::labels::Labels::load(&options.labels)?;
        let backend = load_backend(&options)?;
        let info = backend.info();
        if info.height != options.preprocess.crop || info.width != options.preprocess.crop {
            return Err(Error::invalid(format!(
                "preprocessing crops {c}x{c} but the model's input is {}x{}: choose the preset \
                 or crop size the model was exported for",
                info.height,
                info.width,
                c = options.preprocess.crop
            )));
        }
        let unlabeled = matches!(options.labels, crate::labels::LabelSource::None);
        if !unlabeled && labels.len() != info.classes && !options.allow_label_mismatch {
            return Err(Error::new(
                ErrorCode::Labels,
                format!(
                    "{} labels for a model with {} classes (give a matching label file, or allow \
                     the mismatch)",
                    labels.len(),
                    info.classes
                ),
            ));
        }
        if options.top_k == 0 {
            return Err(Error::invalid("top_k must be at least 1"));
        }
        Ok(Classifier {
            top_k: options.top_k.min(info.classes),
            backend,
            labels,
            preprocess: options.preprocess,
            limits: DecodeLimits {
                max_pixels: options.max_pixels,
                allow_truncated: options.allow_truncated_images,
            },
        })
    }

    /// What the model is, and how it runs.
    pub fn info(&self) -> &ModelInfo {
        self.backend.info()
    }

    /// The preprocessing this classifier applies.
    pub fn preprocess_config(&self) -> &PreprocessConfig {
        &self.preprocess
    }

    /// Predictions returned per image (the requested top-k, clamped to the class count).
    pub fn top_k(&self) -> usize {
        self.top_k
    }

    /// The labels, indexed by class id.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// Decodes (or converts) and preprocesses one image into a `3 x crop x crop` CHW tensor.
    pub fn preprocess(&self, image: ImageInput<'_>) -> Result<Vec<f32>> {
        let mut out = vec![0f32; self.preprocess.image_len()];
        self.preprocess_into(image, &mut out)?;
        Ok(out)
    }

    fn preprocess_into(&self, image: ImageInput<'_>, out: &mut [f32]) -> Result<Timings> {
        let started = Instant::now();
        let rgb = image.to_rgb(&self.limits)?;
        let decode_ms = ms(started);
        let started = Instant::now();
        rgb_to_chw(&rgb, &self.preprocess, out)?;
        Ok(Timings { decode_ms, preprocess_ms: ms(started), ..Timings::default() })
    }

    /// Classifies one image.
    pub fn classify(&self, image: ImageInput<'_>) -> Result<Classification> {
        Ok(self.classify_batch(&[image])?.remove(0))
    }

    /// Classifies several images in one batched run. Fails as a whole if any image fails; the
    /// error names the image's index.
    pub fn classify_batch(&self, images: &[ImageInput<'_>]) -> Result<Vec<Classification>> {
        if images.is_empty() {
            return Err(Error::invalid("the batch is empty"));
        }
        let per_image = self.preprocess.image_len();
        let mut tensor = vec![0f32; per_image * images.len()];
        let mut timings = Vec::with_capacity(images.len());
        for (i, (image, out)) in images.iter().zip(tensor.chunks_exact_mut(per_image)).enumerate() {
            let t = self.preprocess_into(*image, out).map_err(|e| {
                if images.len() > 1 {
                    Error::new(e.code(), format!("image {i}: {}", e.message()))
                } else {
                    e
                }
            })?;
            timings.push(t);
        }
        self.run_and_rank(&tensor, images.len(), timings)
    }

    /// Classifies an already preprocessed NCHW float32 tensor of `batch` images
    /// (`batch * 3 * height * width` values, as [`ModelInfo`] gives height and width).
    pub fn classify_tensor(&self, nchw: &[f32], batch: usize) -> Result<Vec<Classification>> {
        self.run_and_rank(nchw, batch, vec![Timings::default(); batch])
    }

    /// Runs the model and returns the raw output rows (`batch * classes` scores, logits or
    /// probabilities as the model gives them).
    pub fn run_raw(&self, nchw: &[f32], batch: usize) -> Result<Vec<f32>> {
        self.backend.run(nchw, batch)
    }

    fn run_and_rank(
        &self,
        nchw: &[f32],
        batch: usize,
        mut timings: Vec<Timings>,
    ) -> Result<Vec<Classification>> {
        let started = Instant::now();
        let mut scores = self.backend.run(nchw, batch)?;
        let inference_ms = ms(started);
        let classes = self.info().classes;
        let logits = self.info().output_kind == OutputKind::Logits;
        let mut results = Vec::with_capacity(batch);
        for (row, t) in scores.chunks_exact_mut(classes).zip(timings.iter_mut()) {
            let started = Instant::now();
            if logits {
                softmax_in_place(row);
            }
            let predictions = top_k(row, self.top_k)
                .into_iter()
                .map(|(class_id, score)| Prediction {
                    class_id,
                    label: self.labels.get(class_id).to_string(),
                    score,
                })
                .collect();
            t.inference_ms = inference_ms;
            t.postprocess_ms = ms(started);
            results.push(Classification { predictions, timings: *t });
        }
        Ok(results)
    }
}

/// An FP32 model file decoded without its weights, which tract then reads one tensor at a time
/// (see `backend::onnx_stream`); `None` when the walk fails or the model needs its weights in
/// memory for a rewrite (float16 widening, INT8 folding and fusion), so that the caller decodes
/// it the ordinary way.
#[cfg(feature = "tract")]
fn streamed_fp32(
    path: &std::path::Path,
    max_bytes: u64,
) -> Option<crate::backend::onnx_stream::StreamedModel> {
    let streamed = crate::backend::onnx_stream::read_without_weights(path, max_bytes)
        .map_err(|e| log::debug!("tract: reading {} in one piece ({e})", path.display()))
        .ok()?;
    let inspection = crate::backend::onnx_inspect::inspect(&streamed.proto).ok()?;
    (inspection.precision == crate::model_info::Precision::Fp32).then(|| {
        log::debug!(
            "tract: {} initializers are read from {} one at a time",
            streamed.streamed_initializers,
            path.display()
        );
        streamed
    })
}

fn load_backend(options: &ClassifierOptions) -> Result<Box<dyn Backend>> {
    match options.backend {
        #[cfg(feature = "tract")]
        BackendKind::Tract => {
            use crate::backend::tract::{Fp16Compute, TractBackend, TractOptions};
            let tract_options = TractOptions {
                threads: options.effective_threads(),
                fp16: if options.widen_fp16 {
                    Fp16Compute::WidenToF32
                } else {
                    Fp16Compute::Native
                },
                fallback_side: options.preprocess.crop,
                bf16_matmul: options.bf16_matmul,
                cpu_kernels: options.cpu_kernels,
            };
            if let ModelSource::Path(path) = &options.model {
                if let Some(s) = streamed_fp32(path, options.max_model_bytes) {
                    let backend = TractBackend::load(
                        s.proto,
                        Some(&s.model_dir),
                        s.file_bytes,
                        &tract_options,
                    )?;
                    return Ok(Box::new(backend));
                }
            }
            let (bytes, model_bytes, model_dir) =
                read_model(&options.model, options.max_model_bytes)?;
            let proto = TractBackend::decode(&bytes)?;
            // The weights now live in `proto`: free the file's copy before tract makes its own.
            drop(bytes);
            let backend =
                TractBackend::load(proto, model_dir.as_deref(), model_bytes, &tract_options)?;
            Ok(Box::new(backend))
        }
        #[cfg(feature = "ort")]
        BackendKind::Ort => {
            use crate::backend::ort::{OrtBackend, OrtBackendOptions};
            let (bytes, model_bytes, _) = read_model(&options.model, options.max_model_bytes)?;
            let name = match &options.model {
                crate::options::ModelSource::Path(p) => p.display().to_string(),
                crate::options::ModelSource::Bytes(_) => "the model bytes".to_string(),
            };
            let ort_options = OrtBackendOptions {
                ort: &options.ort,
                threads: options.effective_threads(),
                fallback_side: options.preprocess.crop,
                model_name: &name,
            };
            Ok(Box::new(OrtBackend::load(&bytes, model_bytes, &ort_options)?))
        }
        #[allow(unreachable_patterns)]
        other => {
            // Still checks that the model can be read, so that a missing file is reported first.
            read_model(&options.model, options.max_model_bytes)?;
            Err(Error::new(
                ErrorCode::BackendUnavailable,
                format!(
                    "the {} backend is not compiled into this build of libresnext",
                    other.name()
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn classifier_is_send_and_sync() {
        assert_send_sync::<Classifier>();
    }
}
