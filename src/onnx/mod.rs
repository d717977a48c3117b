//! The ONNX work both engines share: reading a model (from a path or bytes, under a size limit,
//! streaming FP32 weights from the file when it can: [`read`]), inspecting its graph
//! ([`inspect`]), rewriting it for the engine ([`rewrite`]: float16 widening, Gemm bias split,
//! constant DequantizeLinear folding) and decoding a file without its weights ([`stream`]).
//!
//! Everything here works on the protobuf (`tract_onnx::pb`), before any engine sees the model.

pub mod inspect;
pub mod read;
pub mod rewrite;
pub mod stream;

pub use read::{decode, read_bytes, read_decoded, DecodedModel, ModelBytes};
