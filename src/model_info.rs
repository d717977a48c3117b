//! What a loaded model is: input and output tensors, precision, output kind, size.

use std::fmt;

/// One dimension of a tensor as the ONNX file declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    /// A fixed size.
    Fixed(u64),
    /// A symbolic size such as `batch`, `N` or `DynamicDimension.0`.
    Symbolic(String),
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Symbolic(s) => f.write_str(s),
        }
    }
}

/// Element type of a tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DType {
    /// float32.
    F32,
    /// float16.
    F16,
    /// Anything else, by its ONNX name (refused for the image input).
    Other(String),
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DType::F32 => f.write_str("float32"),
            DType::F16 => f.write_str("float16"),
            DType::Other(s) => f.write_str(s),
        }
    }
}

/// A named tensor with its declared shape and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// The ONNX name.
    pub name: String,
    /// Declared dimensions.
    pub shape: Vec<Dim>,
    /// Element type.
    pub dtype: DType,
}

/// Numeric precision of the weights as exported.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// float32 weights.
    Fp32 = 0,
    /// float16 weights (`onnxconverter-common`'s conversion, with or without `keep_io_types`).
    Fp16 = 1,
    /// INT8 quantized, QDQ format (`QuantizeLinear` / `DequantizeLinear` pairs).
    Int8 = 2,
}

impl Precision {
    /// `fp32`, `fp16` or `int8`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
            Precision::Int8 => "int8",
        }
    }
}

/// What the model's output holds.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// Raw scores: the SDK applies softmax.
    Logits = 0,
    /// The graph ends in `Softmax`: scores are used as they are.
    Probabilities = 1,
}

impl OutputKind {
    /// `logits` or `probabilities`.
    pub fn name(self) -> &'static str {
        match self {
            OutputKind::Logits => "logits",
            OutputKind::Probabilities => "probabilities",
        }
    }
}

/// Everything the SDK learned about a model at load time.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// The image input (N x 3 x H x W).
    pub input: TensorInfo,
    /// The class-score output (N x C).
    pub output: TensorInfo,
    /// Input height in pixels the model runs at.
    pub height: u32,
    /// Input width in pixels the model runs at.
    pub width: u32,
    /// Number of classes C.
    pub classes: usize,
    /// Precision of the exported weights.
    pub precision: Precision,
    /// Logits or probabilities.
    pub output_kind: OutputKind,
    /// Number of weight parameters (elements of all initializers, quantization scales excluded).
    pub parameters: u64,
    /// Size of the ONNX file in bytes.
    pub model_bytes: u64,
    /// The exporter that wrote the file (`pytorch`, `PaddlePaddle`, ...), when recorded.
    pub producer: String,
    /// The backend running the model (`tract` or `ort`).
    pub backend: String,
    /// Where it runs: `cpu`, or `cuda:N` / `tensorrt:N` for an ONNX Runtime GPU provider (the
    /// provider actually in use, after any fallback).
    pub provider: String,
    /// How the backend computes, e.g. `f32`, or `f32 (fp16 weights widened at load)`.
    pub compute: String,
    /// Worker threads used by one inference.
    pub threads: usize,
}
