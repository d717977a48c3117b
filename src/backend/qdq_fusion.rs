//! Fuses the QDQ pattern around each convolution of an INT8 graph into one `QLinearConv`, so
//! that tract runs the convolution on its integer kernels instead of in float.
//!
//! A QDQ model (ONNX Runtime's `quantize_static` with `QuantFormat.QDQ`) stores every quantized
//! convolution as
//!
//! ```text
//! x_q -> DequantizeLinear(x_s, x_zp) --\
//! w_q -> DequantizeLinear(w_s, w_zp) ---> Conv -> QuantizeLinear(y_s, y_zp) -> y_q
//! b_q -> DequantizeLinear(x_s*w_s, 0) -/   (bias optional, int32)
//! ```
//!
//! and tract 0.23 executes it literally: the weights are dequantized at load and the
//! convolution runs in float. This pass rewrites each such group into
//! `QLinearConv(x_q, x_s, x_zp, w_q, w_s, w_zp, y_s, y_zp, b_q)` producing `y_q`, which is the
//! operator-level (QOperator) form of the same computation: ONNX Runtime itself fuses the group
//! this way. `DequantizeLinear` nodes left without consumers are removed with their inputs'
//! initializers kept (they may be shared).
//!
//! A group is fused only when it matches exactly: the three (or two) `DequantizeLinear` feed the
//! `Conv` directly, the `Conv` output has the one `QuantizeLinear` as its only consumer (and is
//! not a graph output), every zero point is given, the weights are an initializer quantized per
//! tensor or per output channel (axis 0), and the bias scale equals `x_s * w_s`. Anything else is
//! left as it is and still runs in float.

use super::onnx_rewrite::{
    axis_of, drop_unread_dequantize, drop_unused_initializers, float_values, initializers_by_name,
};
use std::collections::{HashMap, HashSet};
use tract_onnx::pb;

/// What [`fuse_qdq_convolutions`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QdqFusion {
    /// `Conv` nodes in the graph.
    pub convolutions: usize,
    /// Of those, rewritten to `QLinearConv`.
    pub fused: usize,
}

/// Whether `bias_scale` is `x_scale * w_scale` (per channel; a per-tensor `w_scale` applies to
/// every channel), as `QLinearConv` requires of an int32 bias.
fn bias_scale_matches(bias_scale: &[f32], x_scale: &[f32], w_scale: &[f32]) -> bool {
    let [x] = x_scale else { return false };
    if w_scale.len() != 1 && w_scale.len() != bias_scale.len() {
        return false;
    }
    bias_scale.iter().enumerate().all(|(c, b)| {
        let expected = x * w_scale[if w_scale.len() == 1 { 0 } else { c }];
        (b - expected).abs() <= 1e-6 * expected.abs().max(f32::MIN_POSITIVE)
    })
}

/// Rewrites every QDQ-wrapped `Conv` of the main graph into a `QLinearConv` (see the module
/// documentation). Returns how many convolutions there were and how many were fused; a graph
/// without a matching group is left untouched.
pub fn fuse_qdq_convolutions(model: &mut pb::ModelProto) -> QdqFusion {
    let Some(graph) = model.graph.as_mut() else { return QdqFusion::default() };
    let producer: HashMap<&str, usize> = graph
        .node
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.output.iter().map(move |o| (o.as_str(), i)))
        .collect();
    let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, n) in graph.node.iter().enumerate() {
        for input in n.input.iter().filter(|s| !s.is_empty()) {
            consumers.entry(input.as_str()).or_default().push(i);
        }
    }
    let graph_outputs: HashSet<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
    let initializers = initializers_by_name(graph);
    let dq = |name: &str| {
        producer
            .get(name)
            .map(|&i| &graph.node[i])
            .filter(|n| n.op_type == "DequantizeLinear" && n.input.len() == 3)
    };

    let mut report = QdqFusion::default();
    // Conv node index -> (replacement, index of the QuantizeLinear it absorbs).
    let mut rewrites: HashMap<usize, (pb::NodeProto, usize)> = HashMap::new();
    for (i, conv) in graph.node.iter().enumerate() {
        if conv.op_type != "Conv" || !conv.domain.is_empty() {
            continue;
        }
        report.convolutions += 1;
        let (Some(x), Some(w)) = (conv.input.first(), conv.input.get(1)) else { continue };
        let bias = conv.input.get(2).filter(|b| !b.is_empty());
        let (Some(dq_x), Some(dq_w)) = (dq(x), dq(w)) else { continue };
        let dq_b = match bias {
            Some(b) => match dq(b) {
                Some(n) => Some(n),
                None => continue,
            },
            None => None,
        };
        let y = &conv.output[0];
        let q = match consumers.get(y.as_str()).map(Vec::as_slice) {
            Some(&[q]) if !graph_outputs.contains(y.as_str()) => &graph.node[q],
            _ => continue,
        };
        if q.op_type != "QuantizeLinear" || q.input.len() != 3 || q.input[0] != *y {
            continue;
        }
        // Weights: an initializer, per tensor or per output channel.
        let Some(w_scale) = initializers.get(dq_w.input[1].as_str()) else { continue };
        if !initializers.contains_key(dq_w.input[0].as_str()) {
            continue;
        }
        let Some(w_scale) = float_values(w_scale) else { continue };
        if w_scale.len() > 1 && axis_of(dq_w) != 0 {
            continue;
        }
        let Some(x_scale) = initializers.get(dq_x.input[1].as_str()).and_then(|t| float_values(t))
        else {
            continue;
        };
        if let Some(dq_b) = dq_b {
            let b_scale = initializers.get(dq_b.input[1].as_str()).and_then(|t| float_values(t));
            if !b_scale.is_some_and(|b| bias_scale_matches(&b, &x_scale, &w_scale)) {
                continue;
            }
        }
        let mut inputs = vec![
            dq_x.input[0].clone(),
            dq_x.input[1].clone(),
            dq_x.input[2].clone(),
            dq_w.input[0].clone(),
            dq_w.input[1].clone(),
            dq_w.input[2].clone(),
            q.input[1].clone(),
            q.input[2].clone(),
        ];
        if let Some(dq_b) = dq_b {
            inputs.push(dq_b.input[0].clone());
        }
        let fused = pb::NodeProto {
            input: inputs,
            output: vec![q.output[0].clone()],
            name: format!("{}_qlinear", conv.name),
            op_type: "QLinearConv".into(),
            attribute: conv.attribute.clone(),
            ..Default::default()
        };
        let q_index = producer[q.output[0].as_str()];
        rewrites.insert(i, (fused, q_index));
    }
    report.fused = rewrites.len();
    if rewrites.is_empty() {
        return report;
    }

    let absorbed: HashSet<usize> = rewrites.values().map(|(_, q)| *q).collect();
    let old = std::mem::take(&mut graph.node);
    graph.node = old
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !absorbed.contains(i))
        .map(|(i, n)| rewrites.remove(&i).map_or(n, |(fused, _)| fused))
        .collect();
    // The weights' and biases' DequantizeLinear, and the activations' unless a residual Add
    // still reads them.
    drop_unread_dequantize(graph);
    // Initializers only the removed nodes read (the float bias scales) are dropped too.
    drop_unused_initializers(graph);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(op: &str, inputs: &[&str], output: &str) -> pb::NodeProto {
        pb::NodeProto {
            op_type: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            name: output.into(),
            ..Default::default()
        }
    }

    fn floats(name: &str, values: &[f32]) -> pb::TensorProto {
        pb::TensorProto {
            name: name.into(),
            dims: if values.len() == 1 { vec![] } else { vec![values.len() as i64] },
            data_type: pb::tensor_proto::DataType::Float as i32,
            float_data: values.to_vec(),
            ..Default::default()
        }
    }

    fn int_tensor(name: &str, data_type: pb::tensor_proto::DataType) -> pb::TensorProto {
        pb::TensorProto { name: name.into(), data_type: data_type as i32, ..Default::default() }
    }

    /// Per output channel: `axis = 0`.
    fn per_channel(n: pb::NodeProto) -> pb::NodeProto {
        let axis = pb::AttributeProto {
            name: "axis".into(),
            i: 0,
            r#type: pb::attribute_proto::AttributeType::Int as i32,
            ..Default::default()
        };
        pb::NodeProto { attribute: vec![axis], ..n }
    }

    /// x_q -> DQ -> Conv(DQ(w), DQ(b)) -> Q -> DQ -> output, per-channel weights (2 channels).
    fn qdq_model(bias_scale: &[f32]) -> pb::ModelProto {
        use pb::tensor_proto::DataType;
        let graph = pb::GraphProto {
            node: vec![
                node("DequantizeLinear", &["x_q", "x_s", "x_zp"], "x"),
                per_channel(node("DequantizeLinear", &["w_q", "w_s", "w_zp"], "w")),
                per_channel(node("DequantizeLinear", &["b_q", "b_s", "b_zp"], "b")),
                node("Conv", &["x", "w", "b"], "y"),
                node("QuantizeLinear", &["y", "y_s", "y_zp"], "y_q"),
                node("DequantizeLinear", &["y_q", "y_s", "y_zp"], "output"),
            ],
            initializer: vec![
                floats("x_s", &[0.5]),
                int_tensor("x_zp", DataType::Uint8),
                int_tensor("w_q", DataType::Int8),
                floats("w_s", &[0.25, 0.125]),
                int_tensor("w_zp", DataType::Int8),
                int_tensor("b_q", DataType::Int32),
                floats("b_s", bias_scale),
                int_tensor("b_zp", DataType::Int32),
                floats("y_s", &[0.1]),
                int_tensor("y_zp", DataType::Uint8),
            ],
            output: vec![pb::ValueInfoProto { name: "output".into(), ..Default::default() }],
            ..Default::default()
        };
        pb::ModelProto { graph: Some(graph), ..Default::default() }
    }

    #[test]
    fn a_qdq_convolution_becomes_one_qlinearconv() {
        let mut model = qdq_model(&[0.125, 0.0625]);
        assert_eq!(fuse_qdq_convolutions(&mut model), QdqFusion { convolutions: 1, fused: 1 });
        let g = model.graph.unwrap();
        let ops: Vec<&str> = g.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(ops, ["QLinearConv", "DequantizeLinear"]);
        assert_eq!(
            g.node[0].input,
            ["x_q", "x_s", "x_zp", "w_q", "w_s", "w_zp", "y_s", "y_zp", "b_q"]
        );
        assert_eq!(g.node[0].output, ["y_q"]);
        assert!(g.initializer.iter().all(|t| t.name != "b_s" && t.name != "b_zp"));
    }

    #[test]
    fn a_bias_on_another_scale_is_left_in_float() {
        let mut model = qdq_model(&[0.3, 0.0625]);
        let before = model.clone();
        assert_eq!(fuse_qdq_convolutions(&mut model), QdqFusion { convolutions: 1, fused: 0 });
        assert_eq!(model, before);
    }

    #[test]
    fn a_convolution_read_in_float_elsewhere_is_left_in_float() {
        let mut model = qdq_model(&[0.125, 0.0625]);
        let g = model.graph.as_mut().unwrap();
        g.node.push(node("Relu", &["y"], "side"));
        g.output.push(pb::ValueInfoProto { name: "side".into(), ..Default::default() });
        assert_eq!(fuse_qdq_convolutions(&mut model).fused, 0);
    }
}
