//! Rewrites of an ONNX graph applied before tract sees it.
//!
//! - [`widen_float16`]: turns a float16 graph into the equivalent float32 graph (initializers,
//!   constants, casts, declared types). On x86_64 tract has no fast float16 kernels, and widening
//!   at the graph level also avoids tract 0.23's failure on float16 `Gemm` with a bias.
//!   [`widen_float16_except`] leaves named initializers in float16 (the convolution weights the
//!   float kernel layer packs in float16 and widens in its kernel).
//! - [`split_gemm_bias`]: `Gemm(A, B, C)` with `beta = 1` becomes `Gemm(A, B)` + `Add(C)`, for
//!   graphs kept in float16 (tract 0.23 scales the bias by a float32 `beta`, which fails to type).
//! - [`fold_constant_dequantize`]: a `DequantizeLinear` of initializers (the weights and biases
//!   of a QDQ graph) becomes a float32 initializer, computed here in one pass instead of by
//!   tract's constant folding (which took about 12 s of a 13 s load for ResNeXt101_32x8d INT8).

use half::f16;
use std::collections::{HashMap, HashSet};
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

fn widen_graph(graph: &mut pb::GraphProto, keep: &HashSet<String>) -> bool {
    let mut complete = true;
    for t in graph.initializer.iter_mut().filter(|t| !keep.contains(&t.name)) {
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
                complete &= widen_graph(g, &HashSet::new());
            }
            for g in &mut attr.graphs {
                complete &= widen_graph(g, &HashSet::new());
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
    widen_float16_except(model, &HashSet::new())
}

/// [`widen_float16`], except the main graph's initializers named in `keep`, which stay as they
/// are (an FP16 model's convolution weights that the float kernel layer packs in float16).
/// Widening is idempotent: a second call with a smaller `keep` widens what the first one kept.
pub fn widen_float16_except(model: &mut pb::ModelProto, keep: &HashSet<String>) -> bool {
    model.graph.as_mut().is_none_or(|g| widen_graph(g, keep))
}

/// The values of a float32 tensor stored inline (`raw_data` or `float_data`); `None` for
/// another type or external data.
pub fn float_values(t: &pb::TensorProto) -> Option<Vec<f32>> {
    if t.data_type != FLOAT {
        return None;
    }
    if !t.raw_data.is_empty() {
        Some(
            t.raw_data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        )
    } else if !t.float_data.is_empty() || t.dims.iter().product::<i64>() == 0 {
        Some(t.float_data.clone())
    } else {
        None
    }
}

/// The graph's initializers by name.
pub fn initializers_by_name(graph: &pb::GraphProto) -> HashMap<&str, &pb::TensorProto> {
    graph.initializer.iter().map(|t| (t.name.as_str(), t)).collect()
}

/// A quantize/dequantize node's `axis` attribute (ONNX's default: 1).
pub fn axis_of(node: &pb::NodeProto) -> i64 {
    node.attribute.iter().find(|a| a.name == "axis").map_or(1, |a| a.i)
}

/// The values of an 8-bit or 32-bit integer tensor stored inline, widened to i64; `None` for
/// another type or external data.
fn integer_values(t: &pb::TensorProto) -> Option<Vec<i64>> {
    use pb::tensor_proto::DataType;
    let count: i64 = t.dims.iter().product();
    let dt = DataType::try_from(t.data_type).ok()?;
    let raw = &t.raw_data;
    let values: Vec<i64> = match dt {
        DataType::Int8 if !raw.is_empty() => raw.iter().map(|&b| b as i8 as i64).collect(),
        DataType::Uint8 if !raw.is_empty() => raw.iter().map(|&b| b as i64).collect(),
        DataType::Int32 if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64)
            .collect(),
        DataType::Int8 | DataType::Uint8 | DataType::Int32 => {
            t.int32_data.iter().map(|&v| v as i64).collect()
        }
        _ => return None,
    };
    (values.len() as i64 == count.max(1) || (count == 0 && values.is_empty())).then_some(values)
}

/// `DequantizeLinear(q, scale, zero_point)` evaluated for initializer inputs, as ONNX defines
/// it: `(q - zero_point) * scale` in float32, per tensor or along `axis`.
fn dequantize(
    node: &pb::NodeProto,
    initializers: &HashMap<&str, &pb::TensorProto>,
) -> Option<pb::TensorProto> {
    let q = initializers.get(node.input.first()?.as_str())?;
    let scale = float_values(initializers.get(node.input.get(1)?.as_str())?)?;
    let zero = match node.input.get(2).filter(|s| !s.is_empty()) {
        Some(name) => integer_values(initializers.get(name.as_str())?)?,
        None => vec![0],
    };
    let values = integer_values(q)?;
    if scale.is_empty() || zero.len() != scale.len() {
        return None;
    }
    // Per tensor, or per slice along `axis` (default 1): element i belongs to channel
    // (i / inner) % dims[axis].
    let (channels, inner) = if scale.len() == 1 {
        (1, 1)
    } else {
        let rank = q.dims.len() as i64;
        let axis = axis_of(node);
        let axis = if axis < 0 { axis + rank } else { axis };
        if !(0..rank).contains(&axis) || q.dims[axis as usize] as usize != scale.len() {
            return None;
        }
        (scale.len(), q.dims[axis as usize + 1..].iter().product::<i64>().max(1) as usize)
    };
    let mut raw_data = Vec::with_capacity(values.len() * 4);
    for (i, run) in values.chunks(inner).enumerate() {
        let c = i % channels;
        let (zero, scale) = (zero[c], scale[c]);
        raw_data.extend(run.iter().flat_map(|&v| ((v - zero) as f32 * scale).to_le_bytes()));
    }
    Some(pb::TensorProto {
        name: node.output.first()?.clone(),
        dims: q.dims.clone(),
        data_type: FLOAT,
        raw_data,
        ..Default::default()
    })
}

/// Replaces every `DequantizeLinear` whose inputs are all initializers by the float32
/// initializer it computes, and drops the integer initializers nothing reads any more.
/// Returns how many were folded.
pub fn fold_constant_dequantize(model: &mut pb::ModelProto) -> usize {
    let Some(graph) = model.graph.as_mut() else { return 0 };
    let initializers = initializers_by_name(graph);
    // Node index -> the initializer replacing it.
    let folded: HashMap<usize, pb::TensorProto> = graph
        .node
        .iter()
        .enumerate()
        .filter(|(_, n)| n.op_type == "DequantizeLinear" && n.domain.is_empty())
        .filter_map(|(i, n)| Some((i, dequantize(n, &initializers)?)))
        .collect();
    if folded.is_empty() {
        return 0;
    }
    let count = folded.len();
    let nodes = std::mem::take(&mut graph.node);
    graph.node = nodes
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !folded.contains_key(i))
        .map(|(_, n)| n)
        .collect();
    graph.initializer.extend(folded.into_values());
    drop_unused_initializers(graph);
    count
}

/// The tensor names the graph reads: every node input and every graph output.
fn names_read(graph: &pb::GraphProto) -> HashSet<String> {
    graph
        .node
        .iter()
        .flat_map(|n| n.input.iter().cloned())
        .chain(graph.output.iter().map(|o| o.name.clone()))
        .collect()
}

/// Removes the `DequantizeLinear` nodes whose outputs nothing reads (left behind when a rewrite
/// absorbed their consumers). One pass is enough: a `DequantizeLinear` never reads another's
/// output (it reads integers and yields floats).
pub fn drop_unread_dequantize(graph: &mut pb::GraphProto) {
    let read = names_read(graph);
    graph
        .node
        .retain(|n| n.op_type != "DequantizeLinear" || n.output.iter().any(|o| read.contains(o)));
}

/// Removes the initializers no node reads and no graph output names (the integer weights and
/// scales a rewrite left behind), from the graph's inputs too: older exports list every
/// initializer as an input as well, and an input without its initializer would become a real
/// model input.
pub fn drop_unused_initializers(graph: &mut pb::GraphProto) {
    let used = names_read(graph);
    let dropped: HashSet<String> = graph
        .initializer
        .iter()
        .filter(|t| !used.contains(&t.name))
        .map(|t| t.name.clone())
        .collect();
    graph.initializer.retain(|t| !dropped.contains(&t.name));
    graph.input.retain(|i| !dropped.contains(&i.name));
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

    /// `widen_float16_except` leaves the named initializers alone and widens the rest (a
    /// second call with fewer names widens what the first kept).
    #[test]
    fn widening_keeps_the_named_initializers() {
        let half = |name: &str| pb::TensorProto {
            name: name.into(),
            data_type: FLOAT16,
            dims: vec![1],
            raw_data: f16::from_f32(0.5).to_le_bytes().to_vec(),
            ..Default::default()
        };
        let mut model = model_of(vec![], vec![half("w"), half("b")]);
        let keep: HashSet<String> = ["w".to_string()].into();
        assert!(widen_float16_except(&mut model, &keep));
        let types = |m: &pb::ModelProto| -> Vec<i32> {
            m.graph.as_ref().unwrap().initializer.iter().map(|t| t.data_type).collect()
        };
        assert_eq!(types(&model), [FLOAT16, FLOAT]);
        assert_eq!(model.graph.as_ref().unwrap().initializer[0].raw_data.len(), 2);
        assert!(widen_float16(&mut model));
        assert_eq!(types(&model), [FLOAT, FLOAT]);
        assert_eq!(model.graph.as_ref().unwrap().initializer[0].raw_data, 0.5f32.to_le_bytes());
    }

    /// A model whose graph is `nodes` and `initializer`, nothing else.
    fn model_of(node: Vec<pb::NodeProto>, initializer: Vec<pb::TensorProto>) -> pb::ModelProto {
        pb::ModelProto {
            graph: Some(pb::GraphProto { node, initializer, ..Default::default() }),
            ..Default::default()
        }
    }

    /// A node of type `op` from `inputs` to `outputs`.
    fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> pb::NodeProto {
        pb::NodeProto {
            op_type: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn folds_per_channel_dequantize_of_initializers() {
        use pb::tensor_proto::DataType;
        let tensor = |name: &str, dt: DataType, dims: Vec<i64>, raw: Vec<u8>| pb::TensorProto {
            name: name.into(),
            data_type: dt as i32,
            dims,
            raw_data: raw,
            ..Default::default()
        };
        let floats = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let axis_0 = pb::AttributeProto { name: "axis".into(), i: 0, ..Default::default() };
        let mut model = model_of(
            vec![
                pb::NodeProto {
                    attribute: vec![axis_0],
                    ..node("DequantizeLinear", &["w_q", "w_s", "w_zp"], &["w"])
                },
                node("Conv", &["x", "w"], &["y"]),
            ],
            vec![
                // 2 output channels x 3 values: [1, -2, 3], [4, 5, -128]
                tensor("w_q", DataType::Int8, vec![2, 3, 1, 1], vec![1, 254, 3, 4, 5, 128]),
                tensor("w_s", DataType::Float, vec![2], floats(&[0.5, 0.25])),
                tensor("w_zp", DataType::Int8, vec![2], vec![0, 255]),
            ],
        );
        assert_eq!(fold_constant_dequantize(&mut model), 1);
        let g = model.graph.unwrap();
        assert_eq!(g.node.len(), 1);
        assert_eq!(g.initializer.len(), 1);
        let w = &g.initializer[0];
        assert_eq!((w.name.as_str(), w.dims.as_slice()), ("w", &[2i64, 3, 1, 1][..]));
        // (q - zp) * scale: channel 0 zp 0 scale 0.5, channel 1 zp -1 scale 0.25
        assert_eq!(float_values(w).unwrap(), [0.5, -1.0, 1.5, 1.25, 1.5, -31.75]);
    }

    #[test]
    fn leaves_dequantize_of_activations_alone() {
        let mut model =
            model_of(vec![node("DequantizeLinear", &["x_q", "x_s", "x_zp"], &["x"])], vec![]);
        assert_eq!(fold_constant_dequantize(&mut model), 0);
        assert_eq!(model.graph.unwrap().node.len(), 1);
    }

    #[test]
    fn splits_gemm_bias() {
        let mut model = model_of(
            vec![pb::NodeProto { name: "fc".into(), ..node("Gemm", &["a", "b", "c"], &["y"]) }],
            vec![],
        );
        split_gemm_bias(&mut model);
        let nodes = &model.graph.as_ref().unwrap().node;
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].input, vec!["a", "b"]);
        assert_eq!(nodes[1].op_type, "Add");
        assert_eq!(nodes[1].output, vec!["y"]);
    }
}
