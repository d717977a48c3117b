//! Inspection of an ONNX graph before it is handed to an engine: which tensor is the image
//! input, what the output is, which precision the weights have, how many parameters there are.

use crate::error::{Error, ErrorCode, Result};
use crate::model_info::{DType, Dim, OutputKind, Precision, TensorInfo};
use std::collections::{HashMap, HashSet};
use tract_onnx::pb;

/// What [`inspect`] learns from the protobuf alone.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The image input as declared.
    pub input: TensorInfo,
    /// The output as declared (shape may be empty when the file does not declare it).
    pub output: TensorInfo,
    /// Precision of the weights.
    pub precision: Precision,
    /// Whether the graph ends in `Softmax`.
    pub output_kind: OutputKind,
    /// Elements of all weight initializers.
    pub parameters: u64,
    /// `producer_name` of the file.
    pub producer: String,
}

fn dtype_of(elem_type: i32) -> DType {
    use pb::tensor_proto::DataType;
    match DataType::try_from(elem_type) {
        Ok(DataType::Float) => DType::F32,
        Ok(DataType::Float16) => DType::F16,
        Ok(other) => DType::Other(format!("{other:?}").to_lowercase()),
        Err(_) => DType::Other(format!("type {elem_type}")),
    }
}

fn tensor_info(value: &pb::ValueInfoProto) -> TensorInfo {
    let mut shape = Vec::new();
    let mut dtype = DType::Other("undefined".into());
    if let Some(pb::type_proto::Value::TensorType(t)) =
        value.r#type.as_ref().and_then(|t| t.value.as_ref())
    {
        dtype = dtype_of(t.elem_type);
        if let Some(s) = &t.shape {
            for d in &s.dim {
                shape.push(match &d.value {
                    Some(pb::tensor_shape_proto::dimension::Value::DimValue(v)) if *v > 0 => {
                        Dim::Fixed(*v as u64)
                    }
                    Some(pb::tensor_shape_proto::dimension::Value::DimParam(p))
                        if !p.is_empty() =>
                    {
                        Dim::Symbolic(p.clone())
                    }
                    _ => Dim::Symbolic("?".into()),
                });
            }
        }
    }
    TensorInfo { name: value.name.clone(), shape, dtype }
}

fn unsupported(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::ModelUnsupported, message)
}

/// Ops that only reshape or pass data through; skipped when looking for a final `Softmax`. The
/// quantize/dequantize pair is among them: a quantized graph ends in
/// `Softmax -> QuantizeLinear -> DequantizeLinear`, whose output is still probabilities.
const PASS_THROUGH: [&str; 8] = [
    "Identity",
    "Reshape",
    "Flatten",
    "Squeeze",
    "Cast",
    "Scale",
    "QuantizeLinear",
    "DequantizeLinear",
];

/// Inspects a decoded ONNX model. Refuses graphs that are not single-input, single-output
/// image classifiers with a float32 or float16 N x 3 x H x W input.
pub fn inspect(model: &pb::ModelProto) -> Result<Inspection> {
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| Error::new(ErrorCode::ModelDecode, "the ONNX file has no graph"))?;
    if graph.node.is_empty() {
        return Err(Error::new(ErrorCode::ModelDecode, "the ONNX graph has no nodes"));
    }
    let initializers: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<&pb::ValueInfoProto> =
        graph.input.iter().filter(|i| !initializers.contains(i.name.as_str())).collect();
    if inputs.len() != 1 {
        return Err(unsupported(format!(
            "an image classifier has exactly one input, this graph has {}",
            inputs.len()
        )));
    }
    if graph.output.len() != 1 {
        return Err(unsupported(format!(
            "an image classifier has exactly one output, this graph has {}",
            graph.output.len()
        )));
    }
    let input = tensor_info(inputs[0]);
    let output = tensor_info(&graph.output[0]);
    if !matches!(input.dtype, DType::F32 | DType::F16) {
        return Err(unsupported(format!(
            "input '{}' is {}; float32 or float16 is required",
            input.name, input.dtype
        )));
    }
    if input.shape.len() != 4 {
        return Err(unsupported(format!(
            "input '{}' has rank {} ({}); an image classifier takes N x 3 x H x W",
            input.name,
            input.shape.len(),
            shape_string(&input.shape)
        )));
    }
    if input.shape[1] != Dim::Fixed(3) {
        return Err(unsupported(format!(
            "input '{}' is {}; 3 channels (N x 3 x H x W) are required",
            input.name,
            shape_string(&input.shape)
        )));
    }
    if !output.shape.is_empty() && output.shape.len() != 2 {
        return Err(unsupported(format!(
            "output '{}' is {}; a classifier outputs N x C",
            output.name,
            shape_string(&output.shape)
        )));
    }

    let producers: HashMap<&str, &pb::NodeProto> =
        graph.node.iter().flat_map(|n| n.output.iter().map(move |o| (o.as_str(), n))).collect();
    let mut output_kind = OutputKind::Logits;
    let mut cursor = producers.get(output.name.as_str()).copied();
    while let Some(node) = cursor {
        if node.op_type == "Softmax" {
            output_kind = OutputKind::Probabilities;
            break;
        }
        if !PASS_THROUGH.contains(&node.op_type.as_str()) {
            break;
        }
        cursor = node.input.first().and_then(|i| producers.get(i.as_str()).copied());
    }

    let quantized = graph.node.iter().any(|n| {
        matches!(
            n.op_type.as_str(),
            "QuantizeLinear" | "DequantizeLinear" | "QLinearConv" | "ConvInteger" | "QLinearMatMul"
        )
    });
    let half = input.dtype == DType::F16
        || graph.initializer.iter().any(|t| dtype_of(t.data_type) == DType::F16);
    let precision = if quantized {
        Precision::Int8
    } else if half {
        Precision::Fp16
    } else {
        Precision::Fp32
    };
    // Parameters: weight tensors, not the scales and zero points of QDQ graphs.
    let quant_params: HashSet<&str> = graph
        .node
        .iter()
        .filter(|n| matches!(n.op_type.as_str(), "QuantizeLinear" | "DequantizeLinear"))
        .flat_map(|n| n.input.iter().skip(1).map(String::as_str))
        .collect();
    let parameters = graph
        .initializer
        .iter()
        .filter(|t| !quant_params.contains(t.name.as_str()))
        .map(|t| t.dims.iter().map(|d| (*d).max(0) as u64).product::<u64>())
        .sum();
    Ok(Inspection {
        input,
        output,
        precision,
        output_kind,
        parameters,
        producer: model.producer_name.clone(),
    })
}

/// `batch x 3 x 224 x 224`.
pub fn shape_string(shape: &[Dim]) -> String {
    shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(" x ")
}
