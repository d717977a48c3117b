//! # resnext
//!
//! ResNeXt image classifiers (the ResNeXt101 WSL family and any ONNX classifier with an
//! N x 3 x H x W input and an N x C output) on CPU through tract, with PaddleClas's evaluation
//! preprocessing reproduced.
//!
//! ```no_run
//! use resnext::{Classifier, ClassifierOptions, ImageInput, Preset};
//! let classifier = Classifier::new(ClassifierOptions::from_path("model.onnx").preset(Preset::Wsl224))?;
//! let result = classifier.classify(ImageInput::Path("cat.jpg".as_ref()))?;
//! for p in &result.predictions {
//!     println!("{} {} {:.4}", p.class_id, p.label, p.score);
//! }
//! # Ok::<(), resnext::Error>(())
//! ```
//!
//! Errors are one type, [`Error`], with stable numeric [`ErrorCode`]s shared with the C ABI and
//! the Java API. A [`Classifier`] is `Send + Sync`.

#![warn(missing_docs)]

pub mod backend;
pub mod classifier;
pub mod error;
pub mod ffi;
pub mod image_input;
#[cfg(feature = "jni")]
pub mod jni;
pub mod kernels;
pub mod labels;
pub mod model_file;
pub mod model_info;
#[cfg(feature = "tract")]
pub mod onnx;
pub mod options;
pub mod postprocess;
pub mod preprocess;

pub use backend::ort::execution::{
    BatchProfile, ExecutionProvider, FallbackPolicy, OrtOptions, ProviderKind, TensorRtOptions,
};
pub use backend::BackendKind;
pub use classifier::{Classification, Classifier, Prediction, Timings};
pub use error::{Error, ErrorCode, Result};
pub use image_input::ImageInput;
pub use labels::{LabelSource, Labels};
pub use model_file::FileRange;
pub use model_info::{DType, Dim, ModelInfo, OutputKind, Precision, TensorInfo};
pub use options::{ClassifierOptions, CpuKernels, ModelSource};
pub use preprocess::{
    PixelBuffer, PixelFormat, PreprocessConfig, Preset, Roi, Rotation, YuvPlanes,
};

/// The crate version (`CARGO_PKG_VERSION`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Decodes (or converts) and preprocesses one image into a `1 x 3 x crop x crop` NCHW tensor,
/// without a model: the same pipeline a [`Classifier`] runs. Truncated image data is refused
/// (see [`preprocess_image_with_limits`] to accept it).
pub fn preprocess_image(
    image: ImageInput<'_>,
    config: &PreprocessConfig,
    max_pixels: u64,
) -> Result<Vec<f32>> {
    let limits = preprocess::DecodeLimits { max_pixels, ..Default::default() };
    preprocess_image_with_limits(image, config, &limits)
}

/// [`preprocess_image`] with every decoding limit and setting given: the pixel limit, and
/// whether truncated images decode to a partial frame.
pub fn preprocess_image_with_limits(
    image: ImageInput<'_>,
    config: &PreprocessConfig,
    limits: &preprocess::DecodeLimits,
) -> Result<Vec<f32>> {
    config.validate()?;
    let rgb = image.to_rgb(limits)?;
    let mut out = vec![0f32; config.image_len()];
    preprocess::rgb_to_chw(&rgb, config, &mut out)?;
    Ok(out)
}
