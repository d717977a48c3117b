//! Rewrites of an ONNX graph applied before tract sees it.
//!
//! - [`widen_float16`]: turns a float16 graph into the equivalent float32 graph (initializers,
//!   constants, casts, declared types). On x86_64 tract has no fast float16 kernels, and widening
//!   at the graph level also avoids tract 0.23's failure on float16 `Gemm` with a bias.
//! - [`split_gemm_bias`]: `Gemm(A, B, C)` with `beta = 1` becomes `Gemm(A, B)` + `Add(C)`, for
//!   graphs kept in float16 (tract 0.23 scales the bias by a float32 `beta`, which fails to type).

use half::f16;
use tract_onnx::pb;

const FLOAT: i32 = pb::tensor_proto::DataType::Float as i32;
const FLOAT16: i32 = pb::tensor_proto::DataType::Float16 as i32;

/// Converts one float16 tensor to float32 in place. Tensors whose data lives in an external
/// file are left alone (returns false).
fn widen_tensor(t: &mut pb::TensorProto) -> bool {
    if t.data_type != FLOAT16 {
        return true;
    }
    let values: Vec<f32> = if !t.raw_data.is_empty() {
        t.raw_data.chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()).collect()
    } else if !t.int32_data.is_empty() {
        t.int32_data.iter().map(|&bits| f16::from_bits(bits as u16).to_f32()).collect()
    } else if t.dims.iter().product::<i64>() == 0 {
        Vec::new()
    } else {
        return false;
    };
    t.data_type = FLOAT;
    t.int32_data.clear();
    t.raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    true
}

fn widen_value_info(v: &mut pb::ValueInfoProto) {
    if let Some(pb::type_proto::Value::TensorType(t)) =
        v.r#type.as_mut().and_then(|t| t.value.as_mut())
    {
        if t.elem_type == FLOAT16 {
            t.elem_type = FLOAT;
        }
    }
}

fn widen_graph(graph: &mut pb::GraphProto) -> bool {
    let mut complete = true;
    for t in &mut graph.initializer {
        complete &= widen_tensor(t);
    }
    for v in graph.input.iter_mut().chain(&mut graph.output).chain(&mut graph.value_info) {
        widen_value_info(v);
    }
    for node in &mut graph.node {
        for attr in &mut node.attribute {
            if let Some(t) = attr.t.as_mut() {
                complete &= widen_tensor(t);
            }
            for t in &mut attr.tensors {
                complete &= widen_tensor(t);
            }
            if let Some(g) = attr.g.as_mut() {
                complete &= widen_graph(g);
            }
            for g in &mut attr.graphs {
                complete &= widen_graph(g);
            }
            if matches!(attr.name.as_str(), "to" | "dtype") && attr.i == FLOAT16 as i64 {
                attr.i = FLOAT as i64;
            }
        }
    }
    complete
}

/// Widens every float16 tensor, cast and declared type of the model to float32. Returns false
/// when some float16 data lives in external files and could not be widened.
pub fn widen_float16(model: &mut pb::ModelProto) -> bool {
    model.graph.as_mut().is_none_or(widen_graph)
}

/// Splits the bias of every `Gemm` whose `beta` is 1 into a separate `Add`.
pub fn split_gemm_bias(model: &mut pb::ModelProto) {
    let Some(graph) = model.graph.as_mut() else { return };
    let mut nodes = Vec::with_capacity(graph.node.len());
    for mut node in std::mem::take(&mut graph.node) {
        let beta = node.attribute.iter().find(|a| a.name == "beta").map_or(1.0, |a| a.f);
        if node.op_type == "Gemm" && node.input.len() == 3 && beta == 1.0 && node.output.len() == 1
        {
            let bias = node.input.pop().unwrap_or_default();
            let output = node.output[0].clone();
            let product = format!("{output}__resnext_gemm_ab");
            node.output[0] = product.clone();
            node.attribute.retain(|a| a.name != "beta");
            let add = pb::NodeProto {
                name: format!("{}__resnext_bias", node.name),
                op_type: "Add".into(),
                input: vec![product, bias],
                output: vec![output],
                ..Default::default()
            };
            nodes.push(node);
            nodes.push(add);
        } else {
            nodes.push(node);
        }
    }
    graph.node = nodes;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widens_raw_and_int32_float16_data() {
        let mut raw = pb::TensorProto {
            data_type: FLOAT16,
            dims: vec![2],
            raw_data: [f16::from_f32(1.5), f16::from_f32(-2.0)]
                .iter()
                .flat_map(|h| h.to_le_bytes())
                .collect(),
            ..Default::default()
        };
        assert!(widen_tensor(&mut raw));
        assert_eq!(raw.data_type, FLOAT);
        assert_eq!(&raw.raw_data[..4], &1.5f32.to_le_bytes());
        assert_eq!(&raw.raw_data[4..], &(-2.0f32).to_le_bytes());
        let mut packed = pb::TensorProto {
            data_type: FLOAT16,
            dims: vec![1],
            int32_data: vec![f16::from_f32(0.25).to_bits() as i32],
            ..Default::default()
        };
        assert!(widen_tensor(&mut packed));
        assert_eq!(packed.raw_data, 0.25f32.to_le_bytes());
        let mut external =
            pb::TensorProto { data_type: FLOAT16, dims: vec![4], ..Default::default() };
        assert!(!widen_tensor(&mut external));
    }

    #[test]
    fn splits_gemm_bias() {
        let mut model = pb::ModelProto {
            graph: Some(pb::GraphProto {
                node: vec![pb::NodeProto {
                    name: "fc".into(),
                    op_type: "Gemm".into(),
                    input: vec!["a".into(), "b".into(), "c".into()],
                    output: vec!["y".into()],
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        split_gemm_bias(&mut model);
        let nodes = &model.graph.as_ref().unwrap().node;
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].input, vec!["a", "b"]);
        assert_eq!(nodes[1].op_type, "Add");
        assert_eq!(nodes[1].output, vec!["y"]);
    }
}
