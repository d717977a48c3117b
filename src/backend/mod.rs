//! Inference backends. Each one turns an NCHW float32 batch into an N x C float32 score matrix;
//! everything else (preprocessing, softmax, top-k, labels, errors) is shared.

#[cfg(feature = "tract")]
pub mod amx_bf16;
pub mod execution;
#[cfg(feature = "tract")]
pub mod heap_trim;
#[cfg(feature = "tract")]
pub mod kernel_layer;
#[cfg(feature = "tract")]
pub mod onnx_inspect;
#[cfg(feature = "tract")]
pub mod onnx_rewrite;
#[cfg(feature = "tract")]
pub mod onnx_stream;
#[cfg(feature = "ort")]
pub mod ort;
#[cfg(feature = "tract")]
pub mod softmax_input;
#[cfg(feature = "tract")]
pub mod tract;

use crate::error::Result;
use crate::model_info::ModelInfo;

/// Which engine runs the model. The numeric values are part of the C ABI.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendKind {
    /// tract, pure Rust, CPU. The default.
    #[default]
    Tract = 0,
    /// ONNX Runtime through the `ort` crate (CPU, CUDA, TensorRT execution providers).
    Ort = 1,
}

impl BackendKind {
    /// The backend with this C ABI value, if any.
    pub fn from_u32(value: u32) -> Option<Self> {
        [BackendKind::Tract, BackendKind::Ort].into_iter().find(|b| *b as u32 == value)
    }

    /// `tract` or `ort`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Tract => "tract",
            BackendKind::Ort => "ort",
        }
    }
}

/// A loaded model ready to run. Implementations are shared by all threads of a classifier.
pub trait Backend: Send + Sync {
    /// Runs `batch` images of `3 x height x width` float32 values (NCHW, `input.len()` is
    /// `batch * 3 * height * width`) and returns `batch * classes` raw output scores.
    fn run(&self, input: &[f32], batch: usize) -> Result<Vec<f32>>;

    /// What the model is.
    fn info(&self) -> &ModelInfo;
}
