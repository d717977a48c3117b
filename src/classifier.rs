//! The [`Classifier`]: a loaded model plus preprocessing, post-processing and labels.

use crate::backend::Backend;
use crate::error::{Error, ErrorCode, Result};
use crate::image_input::ImageInput;
use crate::labels::Labels;
use crate::model_info::{ModelInfo, OutputKind};
use crate::options::ClassifierOptions;
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
    /// The top-k predictions, highest score first (those under the score threshold dropped:
    /// possibly none).
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
    score_threshold: f32,
    limits: DecodeLimits,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("info", self.info())
            .field("preprocess", &self.preprocess)
            .field("top_k", &self.top_k)
            .field("score_threshold", &self.score_threshold)
            .finish()
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
        let backend = crate::backend::load(&options)?;
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
        check_score_threshold(options.score_threshold)?;
        Ok(Classifier {
            top_k: options.top_k.min(info.classes),
            score_threshold: options.score_threshold,
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

    /// The score below which predictions are dropped (0.0: none are; with a positive threshold
    /// NaN scores are dropped too).
    pub fn score_threshold(&self) -> f32 {
        self.score_threshold
    }

    /// The labels, indexed by class id.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// The label of class `class_id`: `""` when the classifier has none for it (no labels, or
    /// a shorter list allowed by `allow_label_mismatch`). A class id not below the model's
    /// class count is [`ErrorCode::InvalidArgument`].
    pub fn label(&self, class_id: usize) -> Result<&str> {
        let classes = self.info().classes;
        if class_id >= classes {
            return Err(Error::invalid(format!(
                "class id {class_id} is out of range: the model has {classes} classes"
            )));
        }
        Ok(self.labels.get(class_id))
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
                // Without a threshold every top-k prediction stays (NaN scores too, sorted last).
                .filter(|&(_, score)| self.score_threshold <= 0.0 || score >= self.score_threshold)
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

/// A score threshold must be a probability: finite, in [0, 1].
pub(crate) fn check_score_threshold(threshold: f32) -> Result<()> {
    if !(0.0..=1.0).contains(&threshold) {
        return Err(Error::invalid(format!("score_threshold must be in [0, 1], got {threshold}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn classifier_is_send_and_sync() {
        assert_send_sync::<Classifier>();
    }

    #[test]
    fn score_thresholds_are_probabilities() {
        for ok in [0.0, 0.5, 1.0] {
            assert!(check_score_threshold(ok).is_ok(), "{ok}");
        }
        for bad in [-0.1, 1.01, f32::NAN, f32::INFINITY] {
            assert_eq!(check_score_threshold(bad).unwrap_err().code(), ErrorCode::InvalidArgument);
        }
    }
}
