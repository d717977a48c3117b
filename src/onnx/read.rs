//! Reading a model: its bytes from a path or the caller's buffer under the size limit, decoded
//! to a protobuf, or (FP32 files, and FP16 ones when asked) decoded without its weights so that the engine reads them one
//! tensor at a time (see [`super::stream`]).

use super::inspect::inspect;
use super::stream::read_without_weights;
use crate::error::{catch_panic, Error, ErrorCode, Result};
use crate::model_info::Precision;
use crate::options::ModelSource;
use prost::Message;
use std::sync::Arc;
use tract_onnx::pb;

/// A model's serialized bytes: shared with the caller (`ModelSource::Bytes`), or read from its
/// file and owned, so that whoever decodes them can free them before building its own copy of
/// the weights.
pub enum ModelBytes {
    /// The caller's bytes (not copied).
    Shared(Arc<[u8]>),
    /// Read from the model's file.
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

/// A decoded model, ready for an engine.
pub struct DecodedModel {
    /// The graph. Initializers may refer to external data in `model_dir` (models over 2 GB,
    /// and the weights of a streamed FP32 or FP16 file).
    pub proto: pb::ModelProto,
    /// Where external tensor data is looked up: the model file's directory (`None` for bytes).
    pub model_dir: Option<String>,
    /// The model file's (or buffer's) size in bytes.
    pub file_bytes: u64,
    /// Whether the initializers' data was left in the file (streamed): each initializer with
    /// external data then refers to its bytes in the model file ([`super::stream::read_back`]).
    pub streamed: bool,
}

/// A printable name of the model: its path, or "the model bytes".
pub fn source_name(source: &ModelSource) -> String {
    match source {
        ModelSource::Path(p) => p.display().to_string(),
        ModelSource::Bytes(_) => "the model bytes".to_string(),
        ModelSource::FileRange(range) => range.describe(),
    }
}

/// The model's bytes, their count, and the directory of its file (for external tensor data).
/// Over `max_bytes` is [`ErrorCode::LimitExceeded`], checked before the file is read; an
/// unreadable file is [`ErrorCode::Io`].
pub fn read_bytes(
    source: &ModelSource,
    max_bytes: u64,
) -> Result<(ModelBytes, u64, Option<String>)> {
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
        ModelSource::FileRange(range) => {
            let bytes = range.read(max_bytes)?;
            let len = bytes.len() as u64;
            Ok((ModelBytes::Owned(bytes), len, None))
        }
    }
}

/// Decodes ONNX bytes (a protobuf `ModelProto`): [`ErrorCode::ModelDecode`] for empty,
/// truncated or corrupt bytes. The bytes are consumed: prost decodes from a `bytes::Bytes`
/// over them, so each tensor's data is copied once, into its `raw_data` (from a plain slice,
/// prost copies it twice: into a `Bytes`, then into the `Vec`), and the file's copy is freed
/// on return.
pub fn decode(bytes: ModelBytes) -> Result<pb::ModelProto> {
    if bytes.is_empty() {
        return Err(Error::new(ErrorCode::ModelDecode, "the model is empty (0 bytes)"));
    }
    let buffer = match bytes {
        ModelBytes::Owned(vec) => prost::bytes::Bytes::from(vec),
        ModelBytes::Shared(shared) => prost::bytes::Bytes::from_owner(shared),
    };
    // prost straight from the buffer: tract's `proto_model_for_read` would first copy the whole
    // file into a buffer of its own (one more copy of the weights at the peak).
    catch_panic(|| {
        pb::ModelProto::decode(buffer).map_err(|e| {
            Error::new(ErrorCode::ModelDecode, format!("decoding the ONNX protobuf: {e}"))
        })
    })
}

/// Reads and decodes the model. With `stream_fp32`, an FP32 model file is decoded without its
/// weights (each initializer becomes a reference to its bytes in the file, read by the engine
/// one tensor at a time); with `stream_fp16`, an FP16 model file too (the engine reads back
/// the tensors it widens, see [`super::stream::read_back`]). Other models, and models given
/// as bytes, are decoded whole, and the file's bytes are freed once decoded.
pub fn read_decoded(
    source: &ModelSource,
    max_bytes: u64,
    stream_fp32: bool,
    stream_fp16: bool,
) -> Result<DecodedModel> {
    if let (true, ModelSource::Path(path)) = (stream_fp32 || stream_fp16, source) {
        if let Some(model) = streamed(path, max_bytes, stream_fp32, stream_fp16) {
            return Ok(model);
        }
    }
    let (bytes, file_bytes, model_dir) = read_bytes(source, max_bytes)?;
    // The weights now live in `proto`; the file's copy is freed by `decode`, before the engine
    // makes its own.
    let proto = decode(bytes)?;
    Ok(DecodedModel { proto, model_dir, file_bytes, streamed: false })
}

/// An FP32 (`fp32`) or FP16 (`fp16`) model file decoded without its weights; `None` when the
/// walk fails or the model needs its weights in memory for a rewrite (INT8 folding and fusion,
/// float16 widening unless asked for), so that the caller decodes it the ordinary way.
fn streamed(
    path: &std::path::Path,
    max_bytes: u64,
    fp32: bool,
    fp16: bool,
) -> Option<DecodedModel> {
    let streamed = read_without_weights(path, max_bytes)
        .map_err(|e| log::debug!("reading {} in one piece ({e})", path.display()))
        .ok()?;
    let inspection = inspect(&streamed.proto).ok()?;
    let precision = inspection.precision;
    ((precision == Precision::Fp32 && fp32) || (precision == Precision::Fp16 && fp16)).then(|| {
        log::debug!(
            "{} initializers are read from {} one at a time",
            streamed.streamed_initializers,
            path.display()
        );
        DecodedModel {
            proto: streamed.proto,
            model_dir: Some(streamed.model_dir),
            file_bytes: streamed.file_bytes,
            streamed: true,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_over_the_limit_are_refused_before_decoding() {
        let source = ModelSource::Bytes(Arc::from(vec![0u8; 16]));
        let e = read_bytes(&source, 15).err().unwrap();
        assert_eq!(e.code(), ErrorCode::LimitExceeded);
        assert!(read_bytes(&source, 16).is_ok());
    }

    #[test]
    fn a_missing_file_is_an_io_error_naming_it() {
        let source = ModelSource::Path("/nonexistent/model.onnx".into());
        let e = read_decoded(&source, 1 << 20, true, true).err().unwrap();
        assert_eq!(e.code(), ErrorCode::Io);
        assert!(e.message().contains("/nonexistent/model.onnx"), "{}", e.message());
    }

    #[test]
    fn empty_and_random_bytes_are_decode_errors() {
        assert_eq!(decode(ModelBytes::Owned(vec![])).err().unwrap().code(), ErrorCode::ModelDecode);
        let junk: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37) ^ 0xa5).collect();
        let shared = ModelBytes::Shared(Arc::from(junk.clone()));
        assert_eq!(decode(shared).err().unwrap().code(), ErrorCode::ModelDecode);
        assert_eq!(decode(ModelBytes::Owned(junk)).err().unwrap().code(), ErrorCode::ModelDecode);
    }
}
