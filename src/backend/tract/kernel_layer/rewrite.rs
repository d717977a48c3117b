//! Finds the quantized convolutions of a QDQ graph and replaces them by the kernel layer's
//! nodes (see the module documentation of [`super`]).
//!
//! Matched, per convolution (ONNX Runtime's `quantize_static`, QDQ format):
//!
//! ```text
//! x_q -> DequantizeLinear(x_s, x_zp) --\
//! w_q -> DequantizeLinear(w_s, 0) -------> Conv -> QuantizeLinear(y_s, y_zp) -> y_q
//! b_q -> DequantizeLinear(x_s*w_s, 0) -/   (bias optional, int32)
//! ```
//!
//! with per-tensor activation parameters (u8 or i8), int8 weights per tensor or per output
//! channel with zero points 0, and a 2-D convolution. Then, per residual addition:
//!
//! ```text
//! y_q (one of ours, read only here) -> DequantizeLinear --\
//!                              r_q -> DequantizeLinear ----> Add -> QuantizeLinear -> s_q
//! ```
//!
//! becomes the convolution's fused epilogue (its output is then `s_q`). Tensors between two of
//! our nodes stay NHWC u8 (i8 data is stored as u8 with 128 added, the zero point likewise);
//! `ResnextToNhwc` / `ResnextToNchw` nodes convert where tract's nodes read or write them.

use super::ops::{isa_code, CONV_OP, F32_CONV_OP, MAX_POOL_OP, TO_NCHW_OP, TO_NHWC_OP};
use crate::kernels::cpu::Isa;
use crate::onnx::rewrite::{
    axis_of, drop_unread_dequantize, drop_unused_initializers, float_values, initializers_by_name,
};
use std::collections::{HashMap, HashSet};
use tract_onnx::pb;

/// What [`place_kernel_layer`] did, for `info().compute` and the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    /// `Conv` nodes in the graph.
    pub convolutions: usize,
    /// Of those, replaced by the kernel layer's convolutions.
    pub placed: usize,
    /// Of those, float convolutions whose products run in bf16 (the bf16 mode).
    pub bf16: usize,
    /// The bf16 kernel they run on (the bf16 mode; `None` without it).
    pub bf16_isa: Option<crate::kernels::bgemm::BIsa>,
    /// Residual additions fused into a convolution's epilogue.
    pub fused_adds: usize,
    /// Max pools on the layer's tensors run by the layer.
    pub max_pools: usize,
    /// Layout conversions inserted between tract's nodes and ours.
    pub conversions: usize,
    /// Why each convolution left to tract was not matched (`name: reason`).
    pub unmatched: Vec<String>,
}

/// A per-tensor quantization: scale, zero point in the stored type, whether it is i8.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Quant {
    scale: f32,
    zero: i32,
    signed: bool,
}

impl Quant {
    /// The zero point in the layer's u8 domain (i8 data is stored with 128 added).
    fn zero_u8(&self) -> i64 {
        (self.zero + if self.signed { 128 } else { 0 }) as i64
    }
}

/// A one-element u8 or i8 zero point: its value and whether it is i8.
pub(crate) fn scalar_zero_point(t: &pb::TensorProto) -> Option<(i32, bool)> {
    use pb::tensor_proto::DataType;
    if t.dims.iter().product::<i64>() != 1 {
        return None;
    }
    let dt = DataType::try_from(t.data_type).ok()?;
    let signed = match dt {
        DataType::Uint8 => false,
        DataType::Int8 => true,
        _ => return None,
    };
    let value = match (t.int32_data.first(), t.raw_data.first()) {
        (Some(&v), _) => v,
        (None, Some(&b)) if signed => b as i8 as i32,
        (None, Some(&b)) => b as i32,
        (None, None) => return None,
    };
    Some((value, signed))
}

/// The graph as indexes: producers, consumers, initializers.
pub(super) struct Index<'g> {
    pub(super) graph: &'g pb::GraphProto,
    producer: HashMap<&'g str, usize>,
    consumers: HashMap<&'g str, Vec<usize>>,
    pub(super) initializers: HashMap<&'g str, &'g pb::TensorProto>,
    outputs: HashSet<&'g str>,
}

impl<'g> Index<'g> {
    pub(super) fn new(graph: &'g pb::GraphProto) -> Self {
        let producer = graph
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
        Index {
            graph,
            producer,
            consumers,
            initializers: initializers_by_name(graph),
            outputs: graph.output.iter().map(|o| o.name.as_str()).collect(),
        }
    }

    pub(super) fn produced_by(&self, name: &str, op: &str) -> Option<usize> {
        self.producer.get(name).copied().filter(|&i| {
            let n = &self.graph.node[i];
            n.op_type == op && n.domain.is_empty()
        })
    }

    /// The only node reading `name`, when exactly one does and it is not a graph output.
    pub(super) fn only_consumer(&self, name: &str) -> Option<usize> {
        match self.consumers.get(name).map(Vec::as_slice) {
            Some(&[c]) if !self.outputs.contains(name) => Some(c),
            _ => None,
        }
    }

    fn floats(&self, name: &str) -> Option<Vec<f32>> {
        float_values(self.initializers.get(name)?)
    }

    /// The per-tensor parameters of a quantize or dequantize node.
    fn quant_of(&self, node: &pb::NodeProto) -> Result<Quant, &'static str> {
        let scale = match node.input.get(1).and_then(|s| self.floats(s)).as_deref() {
            Some(&[s]) if s.is_finite() && s > 0.0 => s,
            _ => return Err("activation scale is not one positive constant"),
        };
        let (zero, signed) = match node.input.get(2).filter(|s| !s.is_empty()) {
            None => (0, false),
            Some(name) => self
                .initializers
                .get(name.as_str())
                .and_then(|t| scalar_zero_point(t))
                .ok_or("activation zero point is not one u8/i8 constant")?,
        };
        Ok(Quant { scale, zero, signed })
    }
}

pub(super) fn ints_attr(node: &pb::NodeProto, name: &str) -> Option<Vec<i64>> {
    node.attribute.iter().find(|a| a.name == name).map(|a| a.ints.clone())
}

pub(super) fn attr_ints(name: &str, ints: Vec<i64>) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Ints as i32,
        ints,
        ..Default::default()
    }
}

pub(super) fn attr_int(name: &str, i: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        i,
        ..Default::default()
    }
}

pub(super) fn attr_floats(name: &str, floats: Vec<f32>) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Floats as i32,
        floats,
        ..Default::default()
    }
}

/// One matched convolution, ready to become a node of ours.
struct Matched {
    conv: usize,
    quantize: usize,
    x_q: String,
    w_q: String,
    b_q: Option<String>,
    y_q: String,
    x: Quant,
    y: Quant,
    node: pb::NodeProto,
}

fn match_conv(index: &Index, i: usize, isa: Isa) -> Result<Matched, &'static str> {
    let g = index.graph;
    let conv = &g.node[i];
    let dq = |name: &str| index.produced_by(name, "DequantizeLinear").map(|i| &g.node[i]);
    let dq_x = conv.input.first().and_then(|x| dq(x)).ok_or("input is not dequantized")?;
    let dq_w = conv.input.get(1).and_then(|w| dq(w)).ok_or("weights are not dequantized")?;
    let bias = conv.input.get(2).filter(|b| !b.is_empty());
    let dq_b = match bias {
        Some(b) => Some(dq(b).ok_or("bias is not dequantized")?),
        None => None,
    };
    let y = &conv.output[0];
    let q = index.only_consumer(y).ok_or("output is read by more than one node")?;
    let quantize = &g.node[q];
    if quantize.op_type != "QuantizeLinear" {
        return Err("output is not quantized");
    }
    let x = index.quant_of(dq_x)?;
    let yq = index.quant_of(quantize)?;
    // Weights: an int8 initializer [Cout, Cin/g, kh, kw], zero points 0, per tensor or axis 0.
    let w = index.initializers.get(dq_w.input[0].as_str()).ok_or("weights are computed")?;
    if w.data_type != pb::tensor_proto::DataType::Int8 as i32 || w.dims.len() != 4 {
        return Err("weights are not a 4-D int8 constant");
    }
    let w_scale = dq_w.input.get(1).and_then(|s| index.floats(s)).ok_or("weight scale")?;
    let cout = w.dims[0] as usize;
    if !(w_scale.len() == 1 || (w_scale.len() == cout && axis_of(dq_w) == 0)) {
        return Err("weight scales are neither per tensor nor per output channel");
    }
    if let Some(zp) = dq_w.input.get(2).filter(|s| !s.is_empty()) {
        let t = index.initializers.get(zp.as_str()).ok_or("weight zero point is computed")?;
        let zero = t.raw_data.iter().all(|&b| b == 0) && t.int32_data.iter().all(|&v| v == 0);
        if !zero {
            return Err("weight zero points are not 0");
        }
    }
    let mut b_q = None;
    if let Some(dq_b) = dq_b {
        let t = index.initializers.get(dq_b.input[0].as_str()).ok_or("bias is computed")?;
        if t.data_type != pb::tensor_proto::DataType::Int32 as i32 {
            return Err("bias is not int32");
        }
        let b_scale = dq_b.input.get(1).and_then(|s| index.floats(s)).ok_or("bias scale")?;
        let matches = b_scale.len() == cout || b_scale.len() == 1;
        let ok = matches
            && (0..cout).all(|c| {
                let expected = x.scale * w_scale[if w_scale.len() == 1 { 0 } else { c }];
                let b = b_scale[if b_scale.len() == 1 { 0 } else { c }];
                (b - expected).abs() <= 1e-6 * expected.abs().max(f32::MIN_POSITIVE)
            });
        if !ok {
            return Err("bias scale is not input scale x weight scale");
        }
        b_q = Some(dq_b.input[0].clone());
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
    let scales: Vec<f32> = (0..cout)
        .map(|c| x.scale * w_scale[if w_scale.len() == 1 { 0 } else { c }] / yq.scale)
        .collect();
    let node = pb::NodeProto {
        name: format!("{}__resnext_int8", conv.name),
        op_type: CONV_OP.into(),
        domain: super::DOMAIN.into(),
        attribute: vec![
            attr_ints("strides", strides),
            attr_ints("pads", pads),
            attr_ints("dilations", dilations),
            attr_int("group", group),
            attr_int("x_zero", x.zero_u8()),
            attr_floats("scales", scales),
            attr_int("y_zero", yq.zero_u8()),
            attr_int("isa", isa_code(isa)),
        ],
        ..Default::default()
    };
    Ok(Matched {
        conv: i,
        quantize: q,
        x_q: dq_x.input[0].clone(),
        w_q: dq_w.input[0].clone(),
        b_q,
        y_q: quantize.output[0].clone(),
        x,
        y: yq,
        node,
    })
}

/// A residual `Add` that one of our convolutions can absorb.
struct FusedAdd {
    add: usize,
    quantize: usize,
    /// Index into the matched convolutions.
    conv: usize,
    r_q: String,
    out_q: String,
    /// Whether the shortcut and the sum are i8 (stored +128 in the layer).
    r_signed: bool,
    out_signed: bool,
    attributes: Vec<pb::AttributeProto>,
}

fn match_add(
    index: &Index,
    i: usize,
    ours: &HashMap<String, usize>,
    matched: &[Matched],
    taken: &HashSet<usize>,
) -> Option<FusedAdd> {
    let g = index.graph;
    let add = &g.node[i];
    if add.op_type != "Add" || !add.domain.is_empty() || add.input.len() != 2 {
        return None;
    }
    let q = index.only_consumer(&add.output[0])?;
    let quantize = &g.node[q];
    if quantize.op_type != "QuantizeLinear" {
        return None;
    }
    let out = index.quant_of(quantize).ok()?;
    let dqs: Vec<&pb::NodeProto> = add
        .input
        .iter()
        .map(|s| index.produced_by(s, "DequantizeLinear").map(|d| &g.node[d]))
        .collect::<Option<_>>()?;
    for side in 0..2 {
        let (mine, other) = (dqs[side], dqs[1 - side]);
        let Some(&conv) = ours.get(&mine.input[0]) else { continue };
        if taken.contains(&conv) || index.only_consumer(&mine.input[0]).is_none() {
            continue;
        }
        if index.only_consumer(&mine.output[0]) != Some(i) {
            continue;
        }
        let (Ok(a), Ok(r)) = (index.quant_of(mine), index.quant_of(other)) else { continue };
        if a != matched[conv].y {
            continue;
        }
        let attributes = vec![
            attr_int("r_zero", r.zero_u8()),
            attr_floats("add_ratios", vec![a.scale / out.scale, r.scale / out.scale]),
            attr_int("add_zero", out.zero_u8()),
        ];
        return Some(FusedAdd {
            add: i,
            quantize: q,
            conv,
            r_q: other.input[0].clone(),
            out_q: quantize.output[0].clone(),
            r_signed: r.signed,
            out_signed: out.signed,
            attributes,
        });
    }
    None
}

/// A `MaxPool` that the layer runs on its own tensor.
struct Pool {
    pool: usize,
    quantize: usize,
    signed: bool,
    node: pb::NodeProto,
}

/// A `MaxPool` the layer's NHWC pool can run (2-D, one output, no ceil mode, storage order,
/// auto padding or dilation, positive strides and padding below the kernel): its kernel
/// shape, strides and pads.
pub(super) fn max_pool_window(pool: &pb::NodeProto) -> Option<(Vec<i64>, Vec<i64>, Vec<i64>)> {
    if pool.op_type != "MaxPool" || !pool.domain.is_empty() || pool.output.len() != 1 {
        return None;
    }
    let int = |name: &str, default: i64| {
        pool.attribute.iter().find(|a| a.name == name).map_or(default, |a| a.i)
    };
    if int("ceil_mode", 0) != 0 || int("storage_order", 0) != 0 {
        return None;
    }
    if pool.attribute.iter().any(|a| a.name == "auto_pad" && !a.s.is_empty() && a.s != b"NOTSET") {
        return None;
    }
    let kernel = ints_attr(pool, "kernel_shape").filter(|k| k.len() == 2)?;
    if ints_attr(pool, "dilations").is_some_and(|d| d.iter().any(|&v| v != 1)) {
        return None;
    }
    let strides = ints_attr(pool, "strides").unwrap_or_else(|| vec![1, 1]);
    let pads = ints_attr(pool, "pads").unwrap_or_else(|| vec![0; 4]);
    let bad = strides.len() != 2
        || pads.len() != 4
        || strides.iter().any(|&s| s <= 0)
        || kernel.iter().any(|&k| k <= 0)
        || pads.iter().zip(kernel.iter().cycle()).any(|(p, k)| *p < 0 || p >= k);
    (!bad).then_some((kernel, strides, pads))
}

/// `x_q (one of ours) -> DequantizeLinear -> MaxPool -> QuantizeLinear` with the same
/// quantization on both sides (ONNX Runtime's quantizer shares it): max commutes with it, so the
/// pool runs on the quantized values.
fn match_max_pool(index: &Index, i: usize, ours: &HashMap<String, bool>) -> Option<Pool> {
    let g = index.graph;
    let pool = &g.node[i];
    let (kernel, strides, pads) = max_pool_window(pool)?;
    let dq = &g.node[index.produced_by(pool.input.first()?, "DequantizeLinear")?];
    let signed = *ours.get(&dq.input[0])?;
    let q = index.only_consumer(&pool.output[0])?;
    let quantize = &g.node[q];
    if quantize.op_type != "QuantizeLinear" {
        return None;
    }
    let (a, b) = (index.quant_of(dq).ok()?, index.quant_of(quantize).ok()?);
    if a != b {
        return None;
    }
    let node = pb::NodeProto {
        name: format!("{}__resnext_nhwc", pool.name),
        op_type: MAX_POOL_OP.into(),
        domain: super::DOMAIN.into(),
        input: vec![dq.input[0].clone()],
        output: vec![quantize.output[0].clone()],
        attribute: vec![
            attr_ints("kernel_shape", kernel),
            attr_ints("strides", strides),
            attr_ints("pads", pads),
        ],
        ..Default::default()
    };
    Some(Pool { pool: i, quantize: q, signed, node })
}

/// Replaces every matching quantized convolution (and the residual additions it can absorb)
/// by the kernel layer's nodes, with layout conversions where tract's nodes meet ours. A graph
/// without a match is left as it is.
pub fn place_kernel_layer(model: &mut pb::ModelProto, isa: Isa) -> Placement {
    let Some(graph) = model.graph.as_mut() else { return Placement::default() };
    let mut report = Placement::default();
    let (matched, adds, pools) = {
        let index = Index::new(graph);
        let mut matched = Vec::new();
        for (i, node) in graph.node.iter().enumerate() {
            if node.op_type != "Conv" || !node.domain.is_empty() {
                continue;
            }
            report.convolutions += 1;
            match match_conv(&index, i, isa) {
                Ok(m) => matched.push(m),
                Err(why) => report.unmatched.push(format!("{}: {why}", node.name)),
            }
        }
        let ours: HashMap<String, usize> =
            matched.iter().enumerate().map(|(k, m)| (m.y_q.clone(), k)).collect();
        let mut taken = HashSet::new();
        let mut adds = Vec::new();
        for i in 0..graph.node.len() {
            if let Some(a) = match_add(&index, i, &ours, &matched, &taken) {
                taken.insert(a.conv);
                adds.push(a);
            }
        }
        // The convolutions' final outputs (a fused addition's sum replaces the convolution's).
        let mut outputs: HashMap<String, bool> =
            matched.iter().map(|m| (m.y_q.clone(), m.y.signed)).collect();
        for a in &adds {
            outputs.remove(&matched[a.conv].y_q);
            outputs.insert(a.out_q.clone(), a.out_signed);
        }
        let pools = (0..graph.node.len())
            .filter_map(|i| match_max_pool(&index, i, &outputs))
            .collect::<Vec<_>>();
        (matched, adds, pools)
    };
    report.placed = matched.len();
    report.fused_adds = adds.len();
    report.max_pools = pools.len();
    if matched.is_empty() {
        return report;
    }
    // The quantized tensors our nodes produce (by their ONNX name) and whether they are i8.
    let mut produced: HashMap<String, bool> = HashMap::new();
    // Node index -> replacement; indices of nodes removed.
    let mut replace: HashMap<usize, pb::NodeProto> = HashMap::new();
    let mut removed: HashSet<usize> = HashSet::new();
    let mut signed_input: HashMap<String, bool> = HashMap::new();
    let mut by_conv: HashMap<usize, &FusedAdd> = HashMap::new();
    for a in &adds {
        by_conv.insert(a.conv, a);
    }
    let mut zero_biases = Vec::new();
    for (k, m) in matched.iter().enumerate() {
        let mut node = m.node.clone();
        // Always three inputs before the residual: a missing bias is an int32 zero vector.
        let bias = m.b_q.clone().unwrap_or_else(|| {
            let name = format!("{}__zero_bias", node.name);
            let cout = graph
                .initializer
                .iter()
                .find(|t| t.name == m.w_q)
                .map_or(0, |t| t.dims[0] as usize);
            zero_biases.push(pb::TensorProto {
                name: name.clone(),
                dims: vec![cout as i64],
                data_type: pb::tensor_proto::DataType::Int32 as i32,
                int32_data: vec![0; cout],
                ..Default::default()
            });
            name
        });
        node.input = vec![m.x_q.clone(), m.w_q.clone(), bias];
        signed_input.insert(m.x_q.clone(), m.x.signed);
        let mut output = m.y_q.clone();
        let mut output_signed = m.y.signed;
        if let Some(a) = by_conv.get(&k) {
            node.input.push(a.r_q.clone());
            node.attribute.extend(a.attributes.iter().cloned());
            output = a.out_q.clone();
            removed.insert(a.add);
            removed.insert(a.quantize);
            // The quantization of the sum's output decides how it is stored.
            output_signed = a.out_signed;
            signed_input.insert(a.r_q.clone(), a.r_signed);
        }
        node.output = vec![output.clone()];
        produced.insert(output, output_signed);
        removed.insert(m.quantize);
        replace.insert(m.conv, node);
    }
    for p in &pools {
        removed.insert(p.quantize);
        produced.insert(p.node.output[0].clone(), p.signed);
        replace.insert(p.pool, p.node.clone());
    }
    graph.initializer.extend(zero_biases);
    let old = std::mem::take(&mut graph.node);
    graph.node = old
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !removed.contains(i))
        .map(|(i, n)| replace.remove(&i).unwrap_or(n))
        .collect();
    // The dequantizations only the replaced nodes read (weights, biases, fused additions' inputs)
    // go before the layouts are decided: they are no reason to convert.
    drop_unread_dequantize(graph);
    let attrs = |signed: bool| vec![attr_int("signed", signed as i64)];
    let produced = produced.into_iter().map(|(k, v)| (k, attrs(v))).collect();
    let inputs = signed_input.into_iter().map(|(k, v)| (k, attrs(v))).collect();
    report.conversions = bridge_layouts(graph, &produced, &inputs);
    drop_unread_dequantize(graph);
    drop_unused_initializers(graph);
    report
}

/// The activation inputs of one of our nodes (by slot): a convolution's x and residual, a
/// pool's x.
fn activation_slots(n: &pb::NodeProto) -> Vec<usize> {
    let flag = |name: &str| n.attribute.iter().any(|a| a.name == name && a.i != 0);
    match n.op_type.as_str() {
        CONV_OP if n.input.len() > 3 => vec![0, 3],
        F32_CONV_OP if flag("residual") => vec![0, n.input.len() - 1],
        _ => vec![0],
    }
}

/// Whether `n` is one of the layer's nodes that read and write NHWC tensors.
fn is_ours(n: &pb::NodeProto) -> bool {
    [CONV_OP, F32_CONV_OP, MAX_POOL_OP].contains(&n.op_type.as_str()) && n.domain == super::DOMAIN
}

/// Layouts: our nodes read and write `<name>__nhwc`; `ResnextToNhwc` / `ResnextToNchw`
/// nodes bridge to tract's nodes. `produced` maps the tensors our nodes write to the
/// attributes of their conversions (data kind), `inputs` likewise for the activations our
/// nodes read that tract's nodes (or the graph's inputs) produce. Returns the number of
/// conversions inserted.
pub(super) fn bridge_layouts(
    graph: &mut pb::GraphProto,
    produced: &HashMap<String, Vec<pb::AttributeProto>>,
    inputs: &HashMap<String, Vec<pb::AttributeProto>>,
) -> usize {
    let mut nodes = std::mem::take(&mut graph.node);
    let nhwc = |name: &str| format!("{name}__nhwc");
    let convert =
        |op: &str, name: String, input: String, output: String, attrs: &[pb::AttributeProto]| {
            pb::NodeProto {
                name,
                op_type: op.into(),
                domain: super::DOMAIN.into(),
                input: vec![input],
                output: vec![output],
                attribute: attrs.to_vec(),
                ..Default::default()
            }
        };
    let graph_outputs: HashSet<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    let mut needs_nchw: HashSet<String> = HashSet::new();
    let mut needs_nhwc: Vec<String> = Vec::new();
    let mut seen_nhwc: HashSet<String> = HashSet::new();
    for n in &nodes {
        if is_ours(n) {
            for slot in activation_slots(n) {
                let input = &n.input[slot];
                if !produced.contains_key(input) && seen_nhwc.insert(input.clone()) {
                    needs_nhwc.push(input.clone());
                }
            }
        } else {
            for input in &n.input {
                if produced.contains_key(input) {
                    needs_nchw.insert(input.clone());
                }
            }
        }
    }
    needs_nchw.extend(produced.keys().filter(|p| graph_outputs.contains(*p)).cloned());
    let mut out = Vec::with_capacity(nodes.len() + needs_nchw.len() + needs_nhwc.len());
    // NHWC conversions of graph inputs and initializers go first.
    let produced_here: HashSet<String> =
        nodes.iter().flat_map(|n| n.output.iter().cloned()).collect();
    for name in &needs_nhwc {
        if !produced_here.contains(name) {
            out.push(convert(TO_NHWC_OP, nhwc(name), name.clone(), nhwc(name), &inputs[name]));
        }
    }
    for mut n in nodes.drain(..) {
        if is_ours(&n) {
            for slot in activation_slots(&n) {
                n.input[slot] = nhwc(&n.input[slot]);
            }
            let name = n.output[0].clone();
            n.output[0] = nhwc(&name);
            out.push(n);
            if needs_nchw.contains(&name) {
                out.push(convert(
                    TO_NCHW_OP,
                    format!("{name}__nchw"),
                    nhwc(&name),
                    name.clone(),
                    &produced[&name],
                ));
            }
        } else {
            let outputs = n.output.clone();
            out.push(n);
            for o in outputs {
                if needs_nhwc.contains(&o) {
                    out.push(convert(TO_NHWC_OP, nhwc(&o), o.clone(), nhwc(&o), &inputs[&o]));
                }
            }
        }
    }
    graph.node = out;
    needs_nchw.len() + needs_nhwc.len()
}
