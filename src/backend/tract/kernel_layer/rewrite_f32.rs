//! Finds the float convolutions of an FP32 graph (or an FP16 one, float16 weights and all) and
//! replaces them by the kernel layer's `ResnextF32Conv` nodes (see the module documentation
//! of [`super`]).
//!
//! Matched, per convolution (torch exports and Paddle2ONNX exports):
//!
//! ```text
//! x -> Conv(w, b?) [-> BatchNormalization(constants)] [-> Relu] -> y
//! ```
//!
//! with a 4-D float32 (or float16: an FP16 model's, packed in float16) weight initializer, an
//! optional float32 bias initializer and a 2-D convolution; the BatchNormalization's constants
//! are folded into the weights when tract types the model. Then, per residual addition, `Add(y, s) [-> Relu]` where `y` is one of
//! ours (without a ReLU, read only by the addition) and the shortcut `s` is also one of ours
//! becomes the convolution's fused epilogue. A `MaxPool` reading one of our tensors runs in
//! NHWC too. Between two of our nodes activations stay NHWC f32.

use super::ops::{bisa_code, fisa_code, F32_CONV_OP, MAX_POOL_OP};
use super::rewrite::{
    attr_floats, attr_int, attr_ints, bridge_layouts, ints_attr, max_pool_window, Index, Placement,
};
use crate::kernels::bgemm::BIsa;
use crate::kernels::fgemm::FIsa;
use std::collections::{HashMap, HashSet};
use tract_onnx::pb;

fn is_float(t: &pb::TensorProto) -> bool {
    t.data_type == pb::tensor_proto::DataType::Float as i32
}

fn is_float16(t: &pb::TensorProto) -> bool {
    t.data_type == pb::tensor_proto::DataType::Float16 as i32
}

/// One matched convolution: the node of ours, the nodes it replaces, its final output.
struct Matched {
    /// Indices of the nodes it replaces (the Conv first).
    nodes: Vec<usize>,
    node: pb::NodeProto,
    output: String,
    relu: bool,
}

fn float_attr(node: &pb::NodeProto, name: &str, default: f32) -> f32 {
    node.attribute.iter().find(|a| a.name == name).map_or(default, |a| a.f)
}

fn match_conv(
    index: &Index,
    i: usize,
    isa: FIsa,
    bf16: Option<BIsa>,
) -> Result<Matched, &'static str> {
    let g = index.graph;
    let conv = &g.node[i];
    let constant = |name: &str| index.initializers.get(name).copied().filter(|t| is_float(t));
    // Weights may also be float16: an FP16 model's, left so by the load (see
    // `crate::onnx::rewrite::widen_float16_except`) to be packed in float16.
    let w = conv
        .input
        .get(1)
        .and_then(|w| index.initializers.get(w.as_str()).copied())
        .filter(|t| is_float(t) || is_float16(t))
        .ok_or("weights are not a float32 or float16 constant")?;
    if w.dims.len() != 4 {
        return Err("not a 2-D convolution");
    }
    let cout = w.dims[0];
    let bias = conv.input.get(2).filter(|b| !b.is_empty());
    if let Some(b) = bias {
        let t = constant(b).ok_or("bias is not a float32 constant")?;
        if t.dims != [cout] {
            return Err("bias does not have one value per output channel");
        }
    }
    if ints_attr(conv, "kernel_shape").is_some_and(|k| k.len() != 2) {
        return Err("not a 2-D convolution");
    }
    if conv.attribute.iter().any(|a| a.name == "auto_pad" && !a.s.is_empty() && a.s != b"NOTSET") {
        return Err("auto_pad");
    }
    let group = conv.attribute.iter().find(|a| a.name == "group").map_or(1, |a| a.i);
    let strides = ints_attr(conv, "strides").unwrap_or_else(|| vec![1, 1]);
    let pads = ints_attr(conv, "pads").unwrap_or_else(|| vec![0; 4]);
    let dilations = ints_attr(conv, "dilations").unwrap_or_else(|| vec![1, 1]);
    if strides.len() != 2 || pads.len() != 4 || dilations.len() != 2 {
        return Err("strides, pads or dilations are not 2-D");
    }
    if group <= 0
        || strides.iter().chain(&dilations).any(|&v| v <= 0)
        || pads.iter().any(|&p| p < 0)
    {
        return Err("non-positive group, stride or dilation, or negative padding");
    }
    // Depthwise-like convolutions (one or two output channels per group) would fill a
    // sixteenth or an eighth of the kernel's registers: tract's own depthwise kernels do better.
    if cout % group != 0 || cout / group < 4 {
        return Err("fewer than 4 output channels per group (left to tract's depthwise kernels)");
    }
    let mut inputs = vec![conv.input[0].clone(), conv.input[1].clone()];
    inputs.extend(bias.cloned());
    let mut nodes = vec![i];
    let mut output = conv.output[0].clone();
    let mut attribute = vec![
        attr_ints("strides", strides),
        attr_ints("pads", pads),
        attr_ints("dilations", dilations),
        attr_int("group", group),
        attr_int("has_bias", bias.is_some() as i64),
        attr_int("isa", fisa_code(isa)),
    ];
    // The bf16 mode runs a convolution on its bf16 kernel where the kernel takes its groups.
    if let Some(b) =
        bf16.filter(|&b| super::fconv::bf16_fits(b, w.dims[1] as usize, group as usize))
    {
        attribute.push(attr_int("bf16", bisa_code(b)));
    }
    // A BatchNormalization with constant parameters, in inference mode.
    if let Some(b) = index.only_consumer(&output).map(|b| &g.node[b]) {
        let params = b.input.get(1..5).filter(|p| {
            p.len() == 4 && p.iter().all(|p| constant(p).is_some_and(|t| t.dims == [cout]))
        });
        let training = b.attribute.iter().any(|a| a.name == "training_mode" && a.i != 0);
        let one_output = b.output.iter().skip(1).all(|o| o.is_empty());
        if b.op_type == "BatchNormalization" && b.domain.is_empty() && !training && one_output {
            if let Some(params) = params {
                inputs.extend(params.iter().cloned());
                attribute.push(attr_floats("bn_epsilon", vec![float_attr(b, "epsilon", 1e-5)]));
                nodes.push(index.only_consumer(&output).expect("just found"));
                output = b.output[0].clone();
            }
        }
    }
    let relu = match index.only_consumer(&output).map(|r| (r, &g.node[r])) {
        Some((r, n)) if n.op_type == "Relu" && n.domain.is_empty() => {
            nodes.push(r);
            output = n.output[0].clone();
            true
        }
        _ => false,
    };
    let node = pb::NodeProto {
        name: format!("{}__resnext_f32", conv.name),
        op_type: F32_CONV_OP.into(),
        domain: super::DOMAIN.into(),
        input: inputs,
        attribute,
        ..Default::default()
    };
    Ok(Matched { nodes, node, output, relu })
}

/// A `MaxPool` on one of our tensors, with the attributes the layer's pool supports.
fn match_max_pool(index: &Index, i: usize, ours: &HashSet<String>) -> Option<pb::NodeProto> {
    let pool = &index.graph.node[i];
    let (kernel, strides, pads) = max_pool_window(pool)?;
    if !ours.contains(pool.input.first()?) {
        return None;
    }
    Some(pb::NodeProto {
        name: format!("{}__resnext_nhwc", pool.name),
        op_type: MAX_POOL_OP.into(),
        domain: super::DOMAIN.into(),
        input: vec![pool.input[0].clone()],
        output: vec![pool.output[0].clone()],
        attribute: vec![
            attr_ints("kernel_shape", kernel),
            attr_ints("strides", strides),
            attr_ints("pads", pads),
            attr_int("float", 1),
        ],
        ..Default::default()
    })
}

/// The initializers read only as input 1 (the weights) of nodes `weights_of` accepts: by no
/// other node, no other input, no node of a subgraph, and not a graph output.
fn read_only_as_weights(
    graph: &pb::GraphProto,
    weights_of: impl Fn(&pb::NodeProto) -> bool,
) -> HashSet<String> {
    fn others(graph: &pb::GraphProto, out: &mut HashSet<String>) {
        for node in &graph.node {
            out.extend(node.input.iter().cloned());
            for a in &node.attribute {
                a.g.iter().chain(&a.graphs).for_each(|g| others(g, out));
            }
        }
        out.extend(graph.output.iter().map(|o| o.name.clone()));
    }
    let mut weights = HashSet::new();
    let mut elsewhere: HashSet<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    for node in &graph.node {
        for (j, input) in node.input.iter().enumerate() {
            if j == 1 && weights_of(node) {
                weights.insert(input.clone());
            } else {
                elsewhere.insert(input.clone());
            }
        }
        for a in &node.attribute {
            a.g.iter().chain(&a.graphs).for_each(|g| others(g, &mut elsewhere));
        }
    }
    let initializers: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    weights.retain(|w| initializers.contains(w.as_str()) && !elsewhere.contains(w));
    weights
}

/// The float16 initializers of an FP16 model that may stay float16 when the layer runs: the
/// weights of `Conv` nodes (and read by nothing else) whose output no BatchNormalization reads
/// (folding one needs float32 weights). The load widens every other tensor, then
/// [`place_f32_layer`] takes what it matches ([`layer_weights`] says which) and the load
/// widens the rest.
pub fn float16_conv_weights(model: &pb::ModelProto) -> HashSet<String> {
    let Some(graph) = model.graph.as_ref() else { return HashSet::new() };
    let batch_normalized: HashSet<&str> = graph
        .node
        .iter()
        .filter(|n| n.op_type == "BatchNormalization")
        .filter_map(|n| n.input.first().map(String::as_str))
        .collect();
    let mut out = read_only_as_weights(graph, |n| {
        n.op_type == "Conv"
            && n.domain.is_empty()
            && !n.output.iter().any(|o| batch_normalized.contains(o.as_str()))
    });
    let f16: HashSet<&str> =
        graph.initializer.iter().filter(|t| is_float16(t)).map(|t| t.name.as_str()).collect();
    out.retain(|w| f16.contains(w.as_str()));
    out
}

/// The initializers read only as the weights of the layer's float convolutions (after
/// [`place_f32_layer`]): those that can be handed to the layer in float16.
pub fn layer_weights(model: &pb::ModelProto) -> HashSet<String> {
    let Some(graph) = model.graph.as_ref() else { return HashSet::new() };
    read_only_as_weights(graph, |n| n.op_type == F32_CONV_OP && n.domain == super::DOMAIN)
}

/// Replaces every matching float convolution (with the BatchNormalization, ReLU and residual
/// addition it can absorb) and the max pools on their tensors by the kernel layer's nodes,
/// with layout conversions where tract's nodes meet ours. A graph without a match is left as
/// it is. `bf16`: the convolutions that bf16 kernel takes (`fconv::bf16_fits`) run their
/// products in bf16 on it (the caller checked that this CPU can), counted in
/// [`Placement::bf16`].
pub fn place_f32_layer(model: &mut pb::ModelProto, isa: FIsa, bf16: Option<BIsa>) -> Placement {
    let Some(graph) = model.graph.as_mut() else { return Placement::default() };
    let mut report = Placement::default();
    // Node index -> its replacement (placed at the position of the last node it absorbs).
    let mut replace: HashMap<usize, pb::NodeProto> = HashMap::new();
    let mut removed: HashSet<usize> = HashSet::new();
    let mut produced: HashSet<String> = HashSet::new();
    {
        let index = Index::new(graph);
        let mut matched = Vec::new();
        for (i, node) in graph.node.iter().enumerate() {
            if node.op_type != "Conv" || !node.domain.is_empty() {
                continue;
            }
            report.convolutions += 1;
            match match_conv(&index, i, isa, bf16) {
                Ok(m) => matched.push(m),
                Err(why) => report.unmatched.push(format!("{}: {why}", node.name)),
            }
        }
        let by_output: HashMap<String, usize> =
            matched.iter().enumerate().map(|(k, m)| (m.output.clone(), k)).collect();
        let mut finals: HashSet<String> = matched.iter().map(|m| m.output.clone()).collect();
        // Residual additions: Add(y, s) with y one of ours without a ReLU, read only here, and
        // s one of ours too (so both have the convolution's NHWC shape).
        let mut taken = HashSet::new();
        for (i, add) in graph.node.iter().enumerate() {
            if add.op_type != "Add" || !add.domain.is_empty() || add.input.len() != 2 {
                continue;
            }
            for side in 0..2 {
                let (mine, other) = (&add.input[side], &add.input[1 - side]);
                let Some(&k) = by_output.get(mine) else { continue };
                let fits = !matched[k].relu
                    && !taken.contains(&k)
                    && index.only_consumer(mine) == Some(i)
                    && mine != other
                    && finals.contains(other);
                if !fits {
                    continue;
                }
                taken.insert(k);
                let m = &mut matched[k];
                m.node.input.push(other.clone());
                m.node.attribute.push(attr_int("residual", 1));
                m.nodes.push(i);
                finals.remove(&m.output);
                m.output = add.output[0].clone();
                if let Some(r) = index.only_consumer(&m.output) {
                    let n = &graph.node[r];
                    if n.op_type == "Relu" && n.domain.is_empty() {
                        m.nodes.push(r);
                        m.output = n.output[0].clone();
                        m.relu = true;
                    }
                }
                finals.insert(m.output.clone());
                report.fused_adds += 1;
                break;
            }
        }
        for mut m in matched {
            if !m.node.attribute.iter().any(|a| a.name == "residual") {
                m.node.attribute.push(attr_int("residual", 0));
            }
            m.node.attribute.push(attr_int("relu", m.relu as i64));
            m.node.output = vec![m.output.clone()];
            produced.insert(m.output.clone());
            let last = *m.nodes.iter().max().expect("the Conv");
            removed.extend(m.nodes.iter().copied());
            removed.remove(&last);
            replace.insert(last, m.node);
        }
        report.placed = replace.len();
        report.bf16 = replace
            .values()
            .filter(|n| n.attribute.iter().any(|a| a.name == "bf16" && a.i != 0))
            .count();
        report.bf16_isa = bf16;
        for i in 0..graph.node.len() {
            if removed.contains(&i) || replace.contains_key(&i) {
                continue;
            }
            if let Some(pool) = match_max_pool(&index, i, &produced) {
                produced.insert(pool.output[0].clone());
                replace.insert(i, pool);
                report.max_pools += 1;
            }
        }
    }
    if report.placed == 0 {
        return report;
    }
    // A fused addition's shortcut must exist before the node that reads it: every node of
    // ours sits where the last node it absorbs was, after both of the addition's operands.
    let old = std::mem::take(&mut graph.node);
    graph.node = old
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !removed.contains(i))
        .map(|(i, n)| replace.remove(&i).unwrap_or(n))
        .collect();
    let kind = vec![attr_int("signed", 0), attr_int("float", 1)];
    let produced_kinds = produced.iter().map(|p| (p.clone(), kind.clone())).collect();
    let inputs = graph
        .node
        .iter()
        .filter(|n| n.domain == super::DOMAIN)
        .flat_map(|n| n.input.first().cloned())
        .filter(|x| !produced.contains(x))
        .map(|x| (x, kind.clone()))
        .collect();
    report.conversions = bridge_layouts(graph, &produced_kinds, &inputs);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(name: &str, dims: &[i64]) -> pb::TensorProto {
        let len = dims.iter().product::<i64>() as usize;
        pb::TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: pb::tensor_proto::DataType::Float as i32,
            float_data: vec![0.5; len],
            ..Default::default()
        }
    }

    fn half(name: &str, dims: &[i64]) -> pb::TensorProto {
        let len = dims.iter().product::<i64>() as usize;
        pb::TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: pb::tensor_proto::DataType::Float16 as i32,
            raw_data: vec![0; 2 * len],
            ..Default::default()
        }
    }

    /// In an FP16 graph: a convolution's float16 weights may stay float16, unless a
    /// BatchNormalization follows it or another node (or input) reads them; the layer then
    /// takes the convolutions it matches (float16 weights and all), and `layer_weights` names
    /// exactly the weights it took, not the depthwise convolution's it left to tract.
    #[test]
    fn float16_weights_stay_only_where_the_layer_takes_them() {
        let mut graph = pb::GraphProto {
            input: vec![pb::ValueInfoProto { name: "x".into(), ..Default::default() }],
            output: vec![pb::ValueInfoProto { name: "y".into(), ..Default::default() }],
            ..Default::default()
        };
        graph.initializer = vec![
            half("w0", &[16, 16, 1, 1]),
            half("w1", &[16, 16, 1, 1]),
            half("shared", &[16, 16, 1, 1]),
            half("dw", &[16, 1, 3, 3]),
            tensor("b0", &[16]),
        ];
        for p in ["s", "b", "m", "v"] {
            graph.initializer.push(tensor(&format!("bn_{p}"), &[16]));
        }
        graph.node = vec![
            node("Conv", "c0", &["x", "w0", "b0"], "c0"),
            node("Relu", "r0", &["c0"], "a"),
            node("Conv", "c1", &["a", "w1"], "c1"),
            node("BatchNormalization", "bn", &["c1", "bn_s", "bn_b", "bn_m", "bn_v"], "n1"),
            node("Conv", "c2", &["n1", "shared"], "c2"),
            node("Add", "add", &["c2", "shared"], "s"),
            node("Conv", "depthwise", &["s", "dw"], "y"),
        ];
        graph.node[6].attribute.push(attr_int("group", 16));
        graph.node[6].attribute.push(attr_ints("pads", vec![1; 4]));
        let mut model = pb::ModelProto { graph: Some(graph), ..Default::default() };
        let mut kept: Vec<String> = float16_conv_weights(&model).into_iter().collect();
        kept.sort();
        assert_eq!(kept, ["dw", "w0"]);
        let placement = place_f32_layer(&mut model, FIsa::Scalar, None);
        assert_eq!(placement.placed, 3, "{placement:?}");
        let mut taken: Vec<String> = layer_weights(&model).into_iter().collect();
        taken.sort();
        // w1 (float32 by then, in the load) and the shared weights are read by our nodes too,
        // but only w0 and w1 are read by nothing else.
        assert_eq!(taken, ["w0", "w1"]);
    }

    fn node(op: &str, name: &str, inputs: &[&str], output: &str) -> pb::NodeProto {
        pb::NodeProto {
            name: name.into(),
            op_type: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            ..Default::default()
        }
    }

    /// A Paddle2ONNX-style block (Conv -> BatchNormalization -> Relu, Conv -> BN, Add -> Relu)
    /// and a depthwise convolution: the block becomes two of our nodes (one addition fused),
    /// the depthwise one stays on tract with its reason, and conversions bridge the layouts.
    #[test]
    fn blocks_are_fused_and_depthwise_convolutions_left_to_tract() {
        let mut graph = pb::GraphProto {
            input: vec![pb::ValueInfoProto { name: "x".into(), ..Default::default() }],
            output: vec![pb::ValueInfoProto { name: "y".into(), ..Default::default() }],
            ..Default::default()
        };
        graph.initializer = vec![
            tensor("w1", &[16, 16, 1, 1]),
            tensor("w2", &[16, 16, 3, 3]),
            tensor("dw", &[16, 1, 3, 3]),
        ];
        for bn in ["bn1", "bn2"] {
            for p in ["s", "b", "m", "v"] {
                graph.initializer.push(tensor(&format!("{bn}_{p}"), &[16]));
            }
        }
        graph.node = vec![
            node("Conv", "c0", &["x", "w1"], "c0"),
            node("Relu", "r0", &["c0"], "a"),
            node("Conv", "c1", &["a", "w1"], "c1"),
            node("BatchNormalization", "b1", &["c1", "bn1_s", "bn1_b", "bn1_m", "bn1_v"], "n1"),
            node("Relu", "r1", &["n1"], "t1"),
            node("Conv", "c2", &["t1", "w2"], "c2"),
            node("BatchNormalization", "b2", &["c2", "bn2_s", "bn2_b", "bn2_m", "bn2_v"], "n2"),
            node("Add", "add", &["n2", "a"], "s"),
            node("Relu", "r2", &["s"], "t2"),
            node("Conv", "depthwise", &["t2", "dw"], "y"),
        ];
        graph.node[5].attribute.push(attr_ints("pads", vec![1; 4]));
        graph.node[9].attribute.push(attr_int("group", 16));
        graph.node[9].attribute.push(attr_ints("pads", vec![1; 4]));
        let mut model = pb::ModelProto { graph: Some(graph), ..Default::default() };
        let placement = place_f32_layer(&mut model, FIsa::Scalar, None);
        assert_eq!((placement.convolutions, placement.placed, placement.fused_adds), (4, 3, 1));
        assert_eq!(placement.unmatched.len(), 1);
        assert!(placement.unmatched[0].starts_with("depthwise: fewer than 4"), "{placement:?}");
        let graph = model.graph.unwrap();
        let ops: Vec<&str> = graph.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(
            ops,
            ["ResnextToNhwc", F32_CONV_OP, F32_CONV_OP, F32_CONV_OP, "ResnextToNchw", "Conv"]
        );
        let last = &graph.node[3];
        // x, w, the BN's four constants, the shortcut; ReLU and residual flags set.
        assert_eq!(last.input.len(), 7);
        assert_eq!(last.input[6], "a__nhwc");
        let flag = |n: &pb::NodeProto, name: &str| {
            n.attribute.iter().find(|a| a.name == name).map(|a| a.i)
        };
        assert_eq!((flag(last, "residual"), flag(last, "relu")), (Some(1), Some(1)));
        assert_eq!(last.output, ["t2__nhwc"]);
        assert_eq!(graph.node[5].input[0], "t2");
    }
}
