//! The one error type of the SDK and its stable numeric codes.
//!
//! Every fallible call in the Rust API returns [`Result<T>`]. Each [`Error`] maps to an
//! [`ErrorCode`] whose numeric value is part of the stable ABI: the C ABI returns it and the Java
//! API carries it in `ResnextException`. Values are never renumbered; new codes are appended.

use std::fmt;

/// Stable numeric error codes shared by the Rust API, the C ABI and JNI.
///
/// `Ok` is 0 so that C callers can test `if (rc != RESNEXT_OK)`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Success.
    Ok = 0,
    /// A required pointer or argument was null or empty.
    NullArgument = 1,
    /// An argument is out of range or inconsistent (zero size, bad rotation, bad enum value...).
    InvalidArgument = 2,
    /// A file could not be opened or read.
    Io = 3,
    /// The model bytes are not a valid ONNX model (truncated, corrupt, random bytes).
    ModelDecode = 4,
    /// The model is valid ONNX but not an image classifier this SDK can run
    /// (input not N x 3 x H x W, output not N x C, unsupported input type).
    ModelUnsupported = 5,
    /// The inference engine failed to load, optimize or run the model.
    Inference = 6,
    /// The image bytes could not be decoded (corrupt, truncated, unknown format).
    ImageDecode = 7,
    /// The image is too large or too small (zero-sized, over the pixel limit).
    ImageSize = 8,
    /// A raw pixel buffer is shorter than its width, height, stride and format require.
    BufferSize = 9,
    /// The label list does not match the model's class count, or a label file is malformed.
    Labels = 10,
    /// A resource limit was exceeded (model size, pixel count, batch size).
    LimitExceeded = 11,
    /// The requested backend or execution provider is not available in this build or runtime.
    BackendUnavailable = 12,
    /// A panic was caught at the API boundary; the process is intact, the call failed.
    Panic = 13,
    /// The handle is closed. Only the C++ wrapper (`include/resnext.hpp`) reports it, for a
    /// moved-from object; the Rust API has no closable handle, the C ABI cannot detect a freed
    /// one (never returned there), and JNI throws `IllegalStateException` for a closed
    /// `Classifier`. Kept in the table so the numbering stays stable.
    Closed = 14,
    /// A string argument is not valid UTF-8.
    Utf8 = 15,
    /// The requested ONNX Runtime execution provider (CUDA, TensorRT) cannot run here: the
    /// runtime was built without it, or the GPU, driver or libraries are missing. Returned under
    /// [`FallbackPolicy::Fail`](crate::FallbackPolicy::Fail) (the default).
    ProviderUnavailable = 16,
}

impl ErrorCode {
    /// All codes, in numeric order.
    pub const ALL: [ErrorCode; 17] = [
        ErrorCode::Ok,
        ErrorCode::NullArgument,
        ErrorCode::InvalidArgument,
        ErrorCode::Io,
        ErrorCode::ModelDecode,
        ErrorCode::ModelUnsupported,
        ErrorCode::Inference,
        ErrorCode::ImageDecode,
        ErrorCode::ImageSize,
        ErrorCode::BufferSize,
        ErrorCode::Labels,
        ErrorCode::LimitExceeded,
        ErrorCode::BackendUnavailable,
        ErrorCode::Panic,
        ErrorCode::Closed,
        ErrorCode::Utf8,
        ErrorCode::ProviderUnavailable,
    ];

    /// The code for a numeric value, if it is one.
    pub fn from_u32(value: u32) -> Option<ErrorCode> {
        ErrorCode::ALL.get(value as usize).copied()
    }

    /// A short, static, human-readable description of the code.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::Ok => "success",
            ErrorCode::NullArgument => "a required argument was null or empty",
            ErrorCode::InvalidArgument => "invalid argument",
            ErrorCode::Io => "input/output error",
            ErrorCode::ModelDecode => "the model is not a valid ONNX file",
            ErrorCode::ModelUnsupported => "the model is not a supported image classifier",
            ErrorCode::Inference => "the inference engine failed",
            ErrorCode::ImageDecode => "the image could not be decoded",
            ErrorCode::ImageSize => "the image size is not acceptable",
            ErrorCode::BufferSize => "the pixel buffer is too small for its dimensions",
            ErrorCode::Labels => "the labels do not match the model",
            ErrorCode::LimitExceeded => "a resource limit was exceeded",
            ErrorCode::BackendUnavailable => "the requested backend is not available",
            ErrorCode::Panic => "an internal error (panic) was caught",
            ErrorCode::Closed => "the handle is closed",
            ErrorCode::Utf8 => "a string is not valid UTF-8",
            ErrorCode::ProviderUnavailable => "the requested execution provider is not available",
        }
    }

    /// A stable identifier such as `"MODEL_DECODE"`, used by the CLI's JSON errors.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::Ok => "OK",
            ErrorCode::NullArgument => "NULL_ARGUMENT",
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::Io => "IO",
            ErrorCode::ModelDecode => "MODEL_DECODE",
            ErrorCode::ModelUnsupported => "MODEL_UNSUPPORTED",
            ErrorCode::Inference => "INFERENCE",
            ErrorCode::ImageDecode => "IMAGE_DECODE",
            ErrorCode::ImageSize => "IMAGE_SIZE",
            ErrorCode::BufferSize => "BUFFER_SIZE",
            ErrorCode::Labels => "LABELS",
            ErrorCode::LimitExceeded => "LIMIT_EXCEEDED",
            ErrorCode::BackendUnavailable => "BACKEND_UNAVAILABLE",
            ErrorCode::Panic => "PANIC",
            ErrorCode::Closed => "CLOSED",
            ErrorCode::Utf8 => "UTF8",
            ErrorCode::ProviderUnavailable => "PROVIDER_UNAVAILABLE",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// An SDK error: a stable [`ErrorCode`] plus a detailed message for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    code: ErrorCode,
    message: String,
}

impl Error {
    /// An error with `code` and a detail message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Error {
        Error { code, message: message.into() }
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The detail message (does not repeat the code's static message).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// An [`ErrorCode::InvalidArgument`] error.
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::InvalidArgument, message)
    }

    /// Describes a caught panic payload.
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Error {
        let what = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "unknown panic payload".to_string()
        };
        Error::new(ErrorCode::Panic, format!("internal panic caught: {what}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.message(), self.message)
    }
}

impl std::error::Error for Error {}

/// The SDK's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Runs `f`, turning a panic (from our code or a dependency) into an [`ErrorCode::Panic`] error.
///
/// Used around calls into decoders and the inference engine so that a malformed input that
/// trips a dependency's assertion fails one call instead of the caller's process.
pub fn catch_panic<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => Err(Error::from_panic(payload.as_ref())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_dense_and_stable() {
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(*code as u32, i as u32);
            assert_eq!(ErrorCode::from_u32(i as u32), Some(*code));
        }
        assert_eq!(ErrorCode::from_u32(ErrorCode::ALL.len() as u32), None);
        assert_eq!(ErrorCode::ModelDecode as u32, 4);
        assert_eq!(ErrorCode::Utf8 as u32, 15);
    }

    #[test]
    fn panics_become_errors() {
        let err = catch_panic::<()>(|| panic!("boom")).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Panic);
        assert!(err.message().contains("boom"));
    }
}
