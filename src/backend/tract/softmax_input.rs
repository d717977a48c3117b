//! Keeps the `Softmax` of a quantized graph in float for tract.
//!
//! ONNX Runtime's `quantize_static` wraps the classifier's final `Softmax` like every other op:
//!
//! ```text
//! logits -> QuantizeLinear -> DequantizeLinear -> Softmax -> QuantizeLinear -> DequantizeLinear
//! ```
//!
//! tract 0.23 types a `Softmax` whose input comes out of a quantize/dequantize pair as its
//! integer softmax (`quant_output_dt` fixed to u8 with scale 1/128), whose output is wrong for
//! these graphs: every class of a Paddle2ONNX ResNeXt quantized this way scored the same. This
//! rewrite replaces the pair in front of each `Softmax` by the same arithmetic in float32, as
//! ONNX defines it:
//!
//! ```text
//! QuantizeLinear:   q = clamp(round_half_even(x / scale) + zero_point, lo, hi)
//! DequantizeLinear: y = (q - zero_point) * scale
//! ```
//!
//! with `lo, hi` the range of the zero point's type (u8: 0..255, i8: -128..127). The values are
//! the same (every intermediate is a small integer, exact in float32); only tract's choice of
//! softmax changes. The pair after the `Softmax` is left as it is: it runs as float there.

use super::kernel_layer::rewrite::scalar_zero_point;
use crate::onnx::rewrite::{drop_unread_dequantize, float_values, initializers_by_name};
use std::collections::{HashMap, HashSet};
use tract_onnx::pb;

const FLOAT: i32 = pb::tensor_proto::DataType::Float as i32;

/// The scale, zero point and integer range of a per-tensor quantize/dequantize pair whose
/// parameters are initializers; `None` otherwise (per-channel, computed scales, other types).
fn pair_parameters(
    q: &pb::NodeProto,
    dq: &pb::NodeProto,
    initializers: &HashMap<&str, &pb::TensorProto>,
) -> Option<(f32, f32, f32, f32)> {
    let name = |n: &pb::NodeProto, i: usize| n.input.get(i).filter(|s| !s.is_empty()).cloned();
    if name(q, 1) != name(dq, 1) || name(q, 2) != name(dq, 2) {
        return None;
    }
    let [scale] = float_values(initializers.get(name(q, 1)?.as_str())?)?[..] else {
        return None;
    };
    let (zero, lo, hi) = match name(q, 2) {
        None => (0.0, 0.0, 255.0),
        Some(zp) => match scalar_zero_point(initializers.get(zp.as_str())?)? {
            (zero, false) => (zero as f32, 0.0, 255.0),
            (zero, true) => (zero as f32, -128.0, 127.0),
        },
    };
    (scale.is_finite() && scale > 0.0).then_some((scale, zero, lo, hi))
}

fn float_scalar(name: String, value: f32) -> pb::TensorProto {
    pb::TensorProto { name, data_type: FLOAT, float_data: vec![value], ..Default::default() }
}

fn op(op_type: &str, name: &str, inputs: &[&str], output: &str) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op_type.into(),
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        ..Default::default()
    }
}

/// Replaces the quantize/dequantize pair in front of every `Softmax` by float arithmetic (see
/// the module documentation). The pair's nodes stay when something else reads the quantized
/// tensor. Returns how many softmax inputs were rewritten.
pub fn dequantize_softmax_inputs(model: &mut pb::ModelProto) -> usize {
    let Some(graph) = model.graph.as_mut() else { return 0 };
    let producer: HashMap<&str, usize> = graph
        .node
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.output.iter().map(move |o| (o.as_str(), i)))
        .collect();
    let initializers = initializers_by_name(graph);
    // Softmax index -> (the float input x, scale, zero point, lo, hi).
    let mut found = Vec::new();
    for (i, softmax) in graph.node.iter().enumerate() {
        if softmax.op_type != "Softmax" || !softmax.domain.is_empty() {
            continue;
        }
        let Some(&d) = softmax.input.first().and_then(|s| producer.get(s.as_str())) else {
            continue;
        };
        let dq = &graph.node[d];
        if dq.op_type != "DequantizeLinear" {
            continue;
        }
        let Some(&q) = dq.input.first().and_then(|s| producer.get(s.as_str())) else {
            continue;
        };
        let q = &graph.node[q];
        if q.op_type != "QuantizeLinear" {
            continue;
        }
        if let Some(p) = pair_parameters(q, dq, &initializers) {
            found.push((i, q.input[0].clone(), p));
        }
    }
    let count = found.len();
    // From the last Softmax to the first: inserting before node i leaves earlier indices valid.
    for (i, x, (scale, zero, lo, hi)) in found.into_iter().rev() {
        let base = format!("{}__resnext_fake_quant", graph.node[i].name);
        let t = |s: &str| format!("{base}_{s}");
        graph.initializer.extend([
            float_scalar(t("scale"), scale),
            float_scalar(t("zero"), zero),
            float_scalar(t("lo"), lo),
            float_scalar(t("hi"), hi),
        ]);
        let nodes = [
            op("Div", &t("div"), &[&x, &t("scale")], &t("scaled")),
            op("Round", &t("round"), &[&t("scaled")], &t("rounded")),
            op("Add", &t("add_zero"), &[&t("rounded"), &t("zero")], &t("shifted")),
            op("Max", &t("max"), &[&t("shifted"), &t("lo")], &t("above")),
            op("Min", &t("min"), &[&t("above"), &t("hi")], &t("clamped")),
            op("Sub", &t("sub_zero"), &[&t("clamped"), &t("zero")], &t("centred")),
            op("Mul", &t("mul"), &[&t("centred"), &t("scale")], &t("dequantized")),
        ];
        graph.node[i].input[0] = t("dequantized");
        // Right before the Softmax, so the graph stays topologically sorted.
        graph.node.splice(i..i, nodes);
    }
    drop_unread_dequantize(graph);
    // The QuantizeLinear whose only reader was that DequantizeLinear goes too.
    let read: HashSet<String> = graph
        .node
        .iter()
        .flat_map(|n| n.input.iter().cloned())
        .chain(graph.output.iter().map(|o| o.name.clone()))
        .collect();
    graph
        .node
        .retain(|n| n.op_type != "QuantizeLinear" || n.output.iter().any(|o| read.contains(o)));
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(name: &str, v: f32) -> pb::TensorProto {
        float_scalar(name.into(), v)
    }

    fn zero_point(name: &str, dt: pb::tensor_proto::DataType, raw: u8) -> pb::TensorProto {
        pb::TensorProto {
            name: name.into(),
            data_type: dt as i32,
            raw_data: vec![raw],
            ..Default::default()
        }
    }

    /// logits -> Q -> DQ -> Softmax -> Q -> DQ -> output.
    fn quantized_head(dt: pb::tensor_proto::DataType, raw_zero: u8) -> pb::ModelProto {
        let graph = pb::GraphProto {
            node: vec![
                op("QuantizeLinear", "q1", &["logits", "s1", "z1"], "l_q"),
                op("DequantizeLinear", "dq1", &["l_q", "s1", "z1"], "l"),
                op("Softmax", "softmax", &["l"], "p"),
                op("QuantizeLinear", "q2", &["p", "s2", "z2"], "p_q"),
                op("DequantizeLinear", "dq2", &["p_q", "s2", "z2"], "output"),
            ],
            initializer: vec![
                floats("s1", 0.25),
                zero_point("z1", dt, raw_zero),
                floats("s2", 1.0 / 256.0),
                zero_point("z2", dt, raw_zero),
            ],
            output: vec![pb::ValueInfoProto { name: "output".into(), ..Default::default() }],
            ..Default::default()
        };
        pb::ModelProto { graph: Some(graph), ..Default::default() }
    }

    fn ops(model: &pb::ModelProto) -> Vec<String> {
        model.graph.as_ref().unwrap().node.iter().map(|n| n.op_type.clone()).collect()
    }

    fn scalar(model: &pb::ModelProto, suffix: &str) -> f32 {
        let g = model.graph.as_ref().unwrap();
        let t = g.initializer.iter().find(|t| t.name.ends_with(suffix)).unwrap();
        float_values(t).unwrap()[0]
    }

    #[test]
    fn the_pair_before_softmax_becomes_float_arithmetic() {
        use pb::tensor_proto::DataType;
        let mut model = quantized_head(DataType::Uint8, 3);
        assert_eq!(dequantize_softmax_inputs(&mut model), 1);
        assert_eq!(
            ops(&model),
            [
                "Div",
                "Round",
                "Add",
                "Max",
                "Min",
                "Sub",
                "Mul",
                "Softmax",
                "QuantizeLinear",
                "DequantizeLinear"
            ]
        );
        let g = model.graph.as_ref().unwrap();
        assert_eq!(g.node[0].input[0], "logits");
        assert_eq!(g.node[7].input[0], g.node[6].output[0]);
        assert_eq!(
            (scalar(&model, "_scale"), scalar(&model, "_zero"), scalar(&model, "_lo")),
            (0.25, 3.0, 0.0)
        );
        assert_eq!(scalar(&model, "_hi"), 255.0);
    }

    #[test]
    fn an_int8_zero_point_gives_the_signed_range() {
        use pb::tensor_proto::DataType;
        let mut model = quantized_head(DataType::Int8, (-128i8) as u8);
        assert_eq!(dequantize_softmax_inputs(&mut model), 1);
        assert_eq!(scalar(&model, "_zero"), -128.0);
        assert_eq!((scalar(&model, "_lo"), scalar(&model, "_hi")), (-128.0, 127.0));
    }

    #[test]
    fn a_float_softmax_is_left_alone() {
        use pb::tensor_proto::DataType;
        let mut model = quantized_head(DataType::Uint8, 0);
        let g = model.graph.as_mut().unwrap();
        g.node.drain(0..2);
        g.node[0].input[0] = "logits".into();
        let before = model.clone();
        assert_eq!(dequantize_softmax_inputs(&mut model), 0);
        assert_eq!(model, before);
    }
}
