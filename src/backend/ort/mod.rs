//! The ONNX Runtime backend: its options ([`execution`], always compiled so that every surface
//! accepts them) and, with the `ort` feature, the session ([`session`]) on the CPU, CUDA or
//! TensorRT execution provider, the runtime library's loading ([`runtime`]), the TensorRT
//! engine cache ([`engine_cache`]) and the GPU probes ([`gpu_probe`]).

#[cfg(feature = "ort")]
pub mod engine_cache;
pub mod execution;
#[cfg(feature = "ort")]
pub mod gpu_probe;
#[cfg(feature = "ort")]
pub mod runtime;
#[cfg(feature = "ort")]
pub mod session;

#[cfg(feature = "ort")]
pub use session::{OrtBackend, OrtBackendOptions};
