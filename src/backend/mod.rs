//! Inference backends, one folder per engine: [`tract`] (pure Rust, CPU) and [`ort`] (ONNX
//! Runtime: CPU, CUDA, TensorRT). Each one turns an NCHW float32 batch into an N x C float32
//! score matrix; everything else (reading and inspecting the ONNX model in [`crate::onnx`],
//! preprocessing, softmax, top-k, labels, errors) is shared. [`load`] builds the engine a
//! classifier's options ask for.

pub mod ort;
#[cfg(feature = "tract")]
pub mod tract;

use crate::error::{Error, ErrorCode, Result};
use crate::model_info::ModelInfo;
use crate::options::ClassifierOptions;

/// Largest batch the SDK accepts in one call (every backend and surface).
pub const MAX_BATCH: usize = 256;

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

/// Loads the model into the engine `options.backend` names. A backend that is not compiled in
/// is [`ErrorCode::BackendUnavailable`], after checking that the model can be read (so that a
/// missing file is reported first).
pub fn load(options: &ClassifierOptions) -> Result<Box<dyn Backend>> {
    match options.backend {
        #[cfg(feature = "tract")]
        BackendKind::Tract => {
            let tract_options = tract::TractOptions::from_options(options);
            let backend =
                tract::TractBackend::open(&options.model, options.max_model_bytes, &tract_options)?;
            Ok(Box::new(backend))
        }
        #[cfg(feature = "ort")]
        BackendKind::Ort => {
            let (bytes, model_bytes, _) =
                crate::onnx::read_bytes(&options.model, options.max_model_bytes)?;
            let name = crate::onnx::read::source_name(&options.model);
            let ort_options = ort::OrtBackendOptions {
                ort: &options.ort,
                threads: options.effective_threads(),
                fallback_side: options.preprocess.crop,
                model_name: &name,
            };
            Ok(Box::new(ort::OrtBackend::load(&bytes, model_bytes, &ort_options)?))
        }
        #[allow(unreachable_patterns)]
        other => {
            check_readable(options)?;
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

/// Fails as reading the model would (missing file, over the size limit), without the ONNX
/// module (a build without engines).
fn check_readable(options: &ClassifierOptions) -> Result<()> {
    let max = options.max_model_bytes;
    match &options.model {
        crate::options::ModelSource::Bytes(bytes) if bytes.len() as u64 > max => Err(Error::new(
            ErrorCode::LimitExceeded,
            format!("the model is {} bytes, over the limit of {max} bytes", bytes.len()),
        )),
        crate::options::ModelSource::Bytes(_) => Ok(()),
        crate::options::ModelSource::FileRange(range) => range.read(max).map(drop),
        crate::options::ModelSource::Path(path) => {
            crate::image_input::read_bounded(path, max).map(drop).map_err(|e| {
                Error::new(e.code(), format!("reading model {}: {}", path.display(), e.message()))
            })
        }
    }
}
