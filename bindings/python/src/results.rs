//! The result classes: `Prediction`, `Timings` and `Classification` (a sequence of
//! predictions with the call's timings).

use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;

/// One predicted class: its index in the model's output, its label (``""`` without labels)
/// and its probability in [0, 1].
#[pyclass(module = "resnext", frozen, eq)]
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Index of the class in the model's output.
    #[pyo3(get)]
    pub class_id: usize,
    /// The class's label, or ``""`` when the classifier has none for it.
    #[pyo3(get)]
    pub label: String,
    /// Probability in [0, 1] (softmax applied when the model outputs logits).
    #[pyo3(get)]
    pub score: f32,
}

#[pymethods]
impl Prediction {
    /// A prediction (results come from `Classifier.classify`; this is for tests and tools).
    #[new]
    fn new(class_id: usize, label: String, score: f32) -> Self {
        Prediction { class_id, label, score }
    }

    fn __repr__(&self) -> String {
        format!(
            "Prediction(class_id={}, label={:?}, score={:.6})",
            self.class_id, self.label, self.score
        )
    }
}

/// Wall-clock time of each stage of one call, in milliseconds. In a batch, ``inference_ms``
/// is the whole batch's run.
#[pyclass(module = "resnext", frozen, eq)]
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Timings {
    /// Reading and decoding the file or bytes, or converting the raw pixels, to RGB.
    #[pyo3(get)]
    pub decode_ms: f64,
    /// Resize, crop and normalization into the input tensor.
    #[pyo3(get)]
    pub preprocess_ms: f64,
    /// The engine's run.
    #[pyo3(get)]
    pub inference_ms: f64,
    /// Softmax and top-k.
    #[pyo3(get)]
    pub postprocess_ms: f64,
}

#[pymethods]
impl Timings {
    /// The sum of the four stages.
    #[getter]
    fn total_ms(&self) -> f64 {
        self.decode_ms + self.preprocess_ms + self.inference_ms + self.postprocess_ms
    }

    fn __repr__(&self) -> String {
        format!(
            "Timings(decode_ms={:.3}, preprocess_ms={:.3}, inference_ms={:.3}, postprocess_ms={:.3})",
            self.decode_ms, self.preprocess_ms, self.inference_ms, self.postprocess_ms
        )
    }
}

impl From<resnext::Timings> for Timings {
    fn from(t: resnext::Timings) -> Self {
        Timings {
            decode_ms: t.decode_ms,
            preprocess_ms: t.preprocess_ms,
            inference_ms: t.inference_ms,
            postprocess_ms: t.postprocess_ms,
        }
    }
}

/// The result for one image: its top-k predictions, highest score first, and the timings.
/// It is a sequence of `Prediction` (``result[0]`` is the best, ``len(result)`` is top-k).
#[pyclass(module = "resnext", frozen, sequence)]
pub struct Classification {
    /// The top-k predictions, highest score first.
    #[pyo3(get)]
    pub predictions: Vec<Py<Prediction>>,
    /// Per-stage timings.
    #[pyo3(get)]
    pub timings: Py<Timings>,
}

impl Classification {
    /// Wraps the SDK's result.
    pub fn from_sdk(py: Python<'_>, c: resnext::Classification) -> PyResult<Classification> {
        let predictions = c
            .predictions
            .into_iter()
            .map(|p| {
                Py::new(py, Prediction { class_id: p.class_id, label: p.label, score: p.score })
            })
            .collect::<PyResult<_>>()?;
        Ok(Classification { predictions, timings: Py::new(py, Timings::from(c.timings))? })
    }
}

#[pymethods]
impl Classification {
    /// The best prediction (``result[0]``), or ``None`` when the score threshold dropped every
    /// prediction.
    #[getter]
    fn top(&self, py: Python<'_>) -> Option<Py<Prediction>> {
        self.predictions.first().map(|p| p.clone_ref(py))
    }

    fn __len__(&self) -> usize {
        self.predictions.len()
    }

    fn __getitem__(&self, py: Python<'_>, index: isize) -> PyResult<Py<Prediction>> {
        let len = self.predictions.len() as isize;
        let i = if index < 0 { index + len } else { index };
        if i < 0 || i >= len {
            return Err(PyIndexError::new_err("prediction index out of range"));
        }
        Ok(self.predictions[i as usize].clone_ref(py))
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let preds: Vec<String> = self.predictions.iter().map(|p| p.get().__repr__()).collect();
        format!(
            "Classification([{}], {})",
            preds.join(", "),
            self.timings.bind(py).get().__repr__()
        )
    }
}
