//! The kernel layer's nodes as tract operators: parsed from the nodes [`super::rewrite`]
//! writes (tract-hir expansions), typed into ops that own their packed weights.
//!
//! - `ResnextInt8Conv(x_nhwc, w, b[, r_nhwc])`: [`Int8Conv`], a quantized convolution with its
//!   requantization (and the fused residual addition) in NHWC u8.
//! - `ResnextF32Conv(x_nhwc, w[, b][, bn_scale, bn_bias, bn_mean, bn_var][, r_nhwc])`:
//!   [`F32Conv`], a float convolution (float32 weights, or an FP16 model's float16 ones packed
//!   as such; a following BatchNormalization folded into its weights at load, the residual
//!   addition and ReLU fused) in NHWC f32.
//! - `ResnextToNhwc(x)` / `ResnextToNchw(x)`: [`ConvertLayout`], layout and i8 <-> u8
//!   conversions where tract's nodes meet ours (f32 tensors: layout only).
//! - `ResnextMaxPool(x_nhwc)`: [`NhwcMaxPool`], on u8 or f32.

use super::conv::{AddParams, Geometry, QConv};
use super::fconv::{FConv, FloatKernels};
use crate::kernels::bgemm::{BGemm, BIsa};
use crate::kernels::cpu::Isa;
use crate::kernels::fgemm::{FGemm, FIsa};
use crate::kernels::qgemm::QGemm;
use std::sync::Arc;
use tract_linalg::multithread::{current_tract_executor, Executor};
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::expandable::{expand, Expansion};

/// The op type of the layer's quantized convolution nodes.
pub const CONV_OP: &str = "ResnextInt8Conv";
/// The op type of the layer's float convolution nodes.
pub const F32_CONV_OP: &str = "ResnextF32Conv";
/// The op type of the NCHW -> NHWC u8 conversion nodes.
pub const TO_NHWC_OP: &str = "ResnextToNhwc";
/// The op type of the NHWC u8 -> NCHW conversion nodes.
pub const TO_NCHW_OP: &str = "ResnextToNchw";
/// The op type of the NHWC u8 max pool nodes.
pub const MAX_POOL_OP: &str = "ResnextMaxPool";

/// Registers the layer's node types with `onnx`.
pub fn register(onnx: &mut tract_onnx::Onnx) {
    onnx.op_register.insert(CONV_OP, parse_conv);
    onnx.op_register.insert(F32_CONV_OP, parse_f32_conv);
    onnx.op_register.insert(TO_NHWC_OP, parse_to_nhwc);
    onnx.op_register.insert(TO_NCHW_OP, parse_to_nchw);
    onnx.op_register.insert(MAX_POOL_OP, parse_max_pool);
}

/// The `isa` attribute's values.
pub fn isa_code(isa: Isa) -> i64 {
    match isa {
        Isa::Scalar => 0,
        Isa::Avx512Vnni => 1,
        Isa::AmxInt8 => 2,
        Isa::Avx2 => 3,
    }
}

/// The f32 conv's `isa` attribute values.
pub fn fisa_code(isa: FIsa) -> i64 {
    match isa {
        FIsa::Scalar => 0,
        FIsa::Avx512 => 1,
        FIsa::Avx2 => 2,
    }
}

/// The f32 conv's `bf16` attribute values (0, or absent: f32 products).
pub fn bisa_code(isa: BIsa) -> i64 {
    match isa {
        BIsa::Amx => 1,
        BIsa::Avx512Bf16 => 2,
        BIsa::Scalar => 3,
    }
}

fn bisa_of(code: i64) -> Option<BIsa> {
    [BIsa::Amx, BIsa::Avx512Bf16, BIsa::Scalar].into_iter().find(|i| bisa_code(*i) == code)
}

fn fisa_of(code: i64) -> Option<FIsa> {
    FIsa::ALL.into_iter().find(|i| fisa_code(*i) == code)
}

fn isa_of(code: i64) -> Option<Isa> {
    Isa::ALL.into_iter().find(|i| isa_code(*i) == code)
}

fn int_attr(node: &NodeProto, name: &str) -> TractResult<i64> {
    node.attribute
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.i)
        .with_context(|| format!("{}: attribute {name} missing", node.name))
}

fn ints_attr(node: &NodeProto, name: &str) -> TractResult<Vec<i64>> {
    node.attribute
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.ints.clone())
        .with_context(|| format!("{}: attribute {name} missing", node.name))
}

fn floats_attr(node: &NodeProto, name: &str) -> Option<Vec<f32>> {
    node.attribute.iter().find(|a| a.name == name).map(|a| a.floats.clone())
}

fn byte(node: &NodeProto, name: &str) -> TractResult<u8> {
    u8::try_from(int_attr(node, name)?).with_context(|| format!("{name} out of range"))
}

fn usizes<const N: usize>(v: Vec<i64>) -> TractResult<[usize; N]> {
    let v: Vec<usize> = v.into_iter().map(usize::try_from).collect::<Result<_, _>>()?;
    v.try_into().map_err(|v: Vec<usize>| format_err!("{} values, {N} expected", v.len()))
}

/// The parsed `ResnextInt8Conv`: everything but the weights, which `wire` reads from the
/// constant inputs.
#[derive(Debug, Clone)]
struct Int8ConvSpec {
    strides: [usize; 2],
    pads: [usize; 4],
    dilations: [usize; 2],
    groups: usize,
    x_zero: u8,
    y_zero: u8,
    scales: Vec<f32>,
    add: Option<AddParams>,
    gemm: QGemm,
}

fn parse_conv(
    _ctx: &tract_onnx::model::ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let isa = isa_of(int_attr(node, "isa")?).context("unknown isa")?;
    let gemm = QGemm::new(isa).with_context(|| format!("this CPU cannot run {}", isa.name()))?;
    let pads: [usize; 4] = usizes(ints_attr(node, "pads")?)?;
    let add = match floats_attr(node, "add_ratios") {
        Some(r) if r.len() == 2 => Some(AddParams {
            r_zero: byte(node, "r_zero")?,
            ratio_a: r[0],
            ratio_b: r[1],
            add_zero: byte(node, "add_zero")?,
        }),
        Some(_) => bail!("{}: add_ratios needs 2 values", node.name),
        None => None,
    };
    let spec = Int8ConvSpec {
        strides: usizes(ints_attr(node, "strides")?)?,
        // ONNX: [top, left, bottom, right].
        pads,
        dilations: usizes(ints_attr(node, "dilations")?)?,
        groups: usize::try_from(int_attr(node, "group")?)?,
        x_zero: byte(node, "x_zero")?,
        y_zero: byte(node, "y_zero")?,
        scales: floats_attr(node, "scales").context("scales missing")?,
        add,
        gemm,
    };
    Ok((expand(spec), vec![]))
}

impl Expansion for Int8ConvSpec {
    fn name(&self) -> StaticName {
        CONV_OP.into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 3 + self.add.is_some() as usize)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, u8::datum_type())?;
        s.equals(&outputs[0].rank, 4)?;
        s.equals(&inputs[0].rank, 4)?;
        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[0].shape[3], &inputs[1].shape[0])?;
        if self.add.is_some() {
            s.equals(&inputs[3].shape, &outputs[0].shape)?;
        }
        s.given_2(&inputs[0].shape, &inputs[1].shape, move |s, x, w| {
            let (Ok(h), Ok(wd)) = (x[1].to_usize(), x[2].to_usize()) else { return Ok(()) };
            let (Ok(kh), Ok(kw)) = (w[2].to_usize(), w[3].to_usize()) else { return Ok(()) };
            let geometry = self.geometry(0, 0, [kh, kw]);
            let (ho, wo) = geometry.output_size(h, wd).context("kernel larger than input")?;
            s.equals(&outputs[0].shape[1], ho.to_dim())?;
            s.equals(&outputs[0].shape[2], wo.to_dim())
        })
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let konst = |i: usize, what: &str| {
            model
                .outlet_fact(inputs[i])?
                .konst
                .clone()
                .with_context(|| format!("{what} not constant"))
        };
        let w = konst(1, "weights")?;
        let b = konst(2, "bias")?;
        ensure!(w.datum_type().unquantized() == i8::datum_type(), "weights are not int8");
        ensure!(b.datum_type() == i32::datum_type(), "bias is not int32");
        let shape = w.shape();
        ensure!(shape.len() == 4, "weights are not 4-D");
        let cin = model.outlet_fact(inputs[0])?.shape[3].to_usize()?;
        let geometry =
            Geometry { cin, cout: shape[0], ..self.geometry(0, 0, [shape[2], shape[3]]) };
        ensure!(geometry.cin / self.groups == shape[1], "weights do not match the input channels");
        // SAFETY: the datum type is i8 or a quantized i8 (checked above): one byte per element.
        let weights = unsafe { w.as_slice_unchecked::<i8>() };
        let bias = b.try_as_plain_ram()?.as_slice::<i32>()?;
        let pool = executor_pool();
        let conv = QConv::new(
            geometry,
            weights,
            bias,
            &self.scales,
            self.x_zero,
            self.y_zero,
            self.add,
            self.gemm,
            None,
            // Typing runs on the classifier's pool: its threads pack the weights.
            &|items, f| run_bands(pool.as_deref(), items, f),
        )
        .map_err(|e| format_err!("{prefix}: {e}"))?;
        let mut activations = tvec![inputs[0]];
        if self.add.is_some() {
            activations.push(inputs[3]);
        }
        model.wire_node(prefix, Int8Conv { conv: Arc::new(conv) }, &activations)
    }
}

impl Int8ConvSpec {
    fn geometry(&self, cin: usize, cout: usize, kernel: [usize; 2]) -> Geometry {
        Geometry {
            cin,
            cout,
            groups: self.groups,
            kernel,
            strides: self.strides,
            pads: self.pads,
            dilations: self.dilations,
        }
    }
}

/// A quantized convolution of the kernel layer: NHWC u8 in (and the residual, when fused),
/// NHWC u8 out.
#[derive(Debug, Clone)]
pub struct Int8Conv {
    conv: Arc<QConv>,
}

impl PartialEq for Int8Conv {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.conv, &other.conv)
    }
}

impl Eq for Int8Conv {}

impl Op for Int8Conv {
    fn name(&self) -> StaticName {
        CONV_OP.into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("{:?}", self.conv.geometry)])
    }

    op_as_typed_op!();
}

/// The NHWC output fact of a convolution of the layer on `input` (NHWC), of type `dt`.
fn conv_output_fact(g: &Geometry, input: &TypedFact, dt: DatumType) -> TractResult<TypedFact> {
    let s = &input.shape;
    ensure!(s.len() == 4, "input is not 4-D");
    let (ho, wo) =
        g.output_size(s[1].to_usize()?, s[2].to_usize()?).context("kernel larger than input")?;
    Ok(dt.fact([s[0].clone(), ho.to_dim(), wo.to_dim(), g.cout.to_dim()]))
}

/// The tract executor of the calling run: its rayon pool, or this thread alone.
fn executor_pool() -> Option<Arc<rayon::ThreadPool>> {
    match current_tract_executor() {
        Executor::MultiThread(pool) if pool.current_num_threads() > 1 => Some(pool),
        _ => None,
    }
}

/// Runs `f(band)` for every band on `pool` (or this thread).
fn run_bands(pool: Option<&rayon::ThreadPool>, bands: usize, f: &(dyn Fn(usize) + Sync)) {
    if bands > 1 && super::super::team::run_section(bands, f) {
        return;
    }
    match pool {
        Some(pool) if bands > 1 => {
            use rayon::prelude::*;
            pool.install(|| (0..bands).into_par_iter().for_each(f))
        }
        _ => (0..bands).for_each(f),
    }
}

impl EvalOp for Int8Conv {
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = &inputs[0];
        ensure!(x.datum_type().size_of() == 1 && x.rank() == 4, "input is not 4-D 8-bit");
        let [n, h, w, c] = [x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]];
        let g = &self.conv.geometry;
        ensure!(c == g.cin, "input has {c} channels, {} expected", g.cin);
        let (ho, wo) = g.output_size(h, w).context("kernel larger than input")?;
        // SAFETY: `QConv::run` writes every byte of its output (all pixels x all channels:
        // the convolution tests start from a guard value and compare every byte) before
        // anything reads it; on error the tensor is dropped unread.
        let mut out = unsafe { Tensor::uninitialized::<u8>(&[n, ho, wo, g.cout])? };
        let input = x.try_as_plain_ram()?;
        let residual = inputs.get(1).map(|r| r.try_as_plain_ram()).transpose()?;
        let pool = executor_pool();
        let workers = pool.as_ref().map_or(1, |p| p.current_num_threads());
        self.conv
            .run(
                input.as_bytes(),
                (n, h, w),
                residual.as_ref().map(|r| r.as_bytes()),
                out.as_bytes_mut(),
                workers,
                &|bands, f| run_bands(pool.as_deref(), bands, f),
            )
            .map_err(|e| format_err!("{e}"))?;
        Ok(tvec!(out.into_tvalue()))
    }

    op_out_of_plan!();
}

impl TypedOp for Int8Conv {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(conv_output_fact(&self.conv.geometry, inputs[0], u8::datum_type())?))
    }

    as_op!();
}

/// The parsed `ResnextF32Conv`: everything but the constants, which `wire` reads from the
/// inputs (weights, then the bias if `has_bias`, then the BatchNormalization's scale, bias,
/// mean and variance if `bn_epsilon` is set, then the residual if `residual`).
#[derive(Debug, Clone)]
struct F32ConvSpec {
    strides: [usize; 2],
    pads: [usize; 4],
    dilations: [usize; 2],
    groups: usize,
    has_bias: bool,
    bn_epsilon: Option<f32>,
    residual: bool,
    relu: bool,
    kernels: FloatKernels,
}

fn parse_f32_conv(
    _ctx: &tract_onnx::model::ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let isa = fisa_of(int_attr(node, "isa")?).context("unknown isa")?;
    let gemm = FGemm::new(isa).with_context(|| format!("this CPU cannot run {}", isa.name()))?;
    // `bf16 = bisa_code(..)`: the products run in bf16 on that kernel (written only for the
    // convolutions it fits).
    let bf16 = match node.attribute.iter().find(|a| a.name == "bf16").map_or(0, |a| a.i) {
        0 => None,
        code => {
            let isa = bisa_of(code).context("unknown bf16 kernel")?;
            Some(BGemm::new(isa).with_context(|| format!("this CPU cannot run {}", isa.name()))?)
        }
    };
    let spec = F32ConvSpec {
        strides: usizes(ints_attr(node, "strides")?)?,
        pads: usizes(ints_attr(node, "pads")?)?,
        dilations: usizes(ints_attr(node, "dilations")?)?,
        groups: usize::try_from(int_attr(node, "group")?)?,
        has_bias: int_attr(node, "has_bias")? != 0,
        bn_epsilon: floats_attr(node, "bn_epsilon").and_then(|v| v.first().copied()),
        residual: int_attr(node, "residual")? != 0,
        relu: int_attr(node, "relu")? != 0,
        kernels: FloatKernels { f32: gemm, bf16 },
    };
    ensure!(spec.groups > 0, "{}: zero groups", node.name);
    Ok((expand(spec), vec![]))
}

impl F32ConvSpec {
    fn constants(&self) -> usize {
        1 + self.has_bias as usize + 4 * self.bn_epsilon.is_some() as usize
    }

    fn geometry(&self, cin: usize, cout: usize, kernel: [usize; 2]) -> Geometry {
        Geometry {
            cin,
            cout,
            groups: self.groups,
            kernel,
            strides: self.strides,
            pads: self.pads,
            dilations: self.dilations,
        }
    }
}

impl Expansion for F32ConvSpec {
    fn name(&self) -> StaticName {
        F32_CONV_OP.into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1 + self.constants() + self.residual as usize)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, f32::datum_type())?;
        s.equals(&outputs[0].rank, 4)?;
        s.equals(&inputs[0].rank, 4)?;
        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[0].shape[3], &inputs[1].shape[0])?;
        if self.residual {
            s.equals(&inputs[1 + self.constants()].shape, &outputs[0].shape)?;
        }
        s.given_2(&inputs[0].shape, &inputs[1].shape, move |s, x, w| {
            let (Ok(h), Ok(wd)) = (x[1].to_usize(), x[2].to_usize()) else { return Ok(()) };
            let (Ok(kh), Ok(kw)) = (w[2].to_usize(), w[3].to_usize()) else { return Ok(()) };
            let (ho, wo) = self
                .geometry(0, 0, [kh, kw])
                .output_size(h, wd)
                .context("kernel larger than input")?;
            s.equals(&outputs[0].shape[1], ho.to_dim())?;
            s.equals(&outputs[0].shape[2], wo.to_dim())
        })
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let konst = |i: usize, what: &str| -> TractResult<Arc<Tensor>> {
            let t = model
                .outlet_fact(inputs[i])?
                .konst
                .clone()
                .with_context(|| format!("{what} not constant"))?;
            Ok(t)
        };
        let float32 = |i: usize, what: &str| -> TractResult<Arc<Tensor>> {
            let t = konst(i, what)?;
            ensure!(t.datum_type() == f32::datum_type(), "{what} is not float32");
            Ok(t)
        };
        // The weights may be float16 (an FP16 model's, kept so by the load): packed as such.
        let weights = konst(1, "weights")?;
        ensure!(
            [f32::datum_type(), f16::datum_type()].contains(&weights.datum_type()),
            "weights are neither float32 nor float16"
        );
        ensure!(weights.rank() == 4, "weights are not 4-D");
        let shape = weights.shape().to_vec();
        let cout = shape[0];
        let bias = if self.has_bias { Some(float32(2, "bias")?) } else { None };
        ensure!(bias.as_ref().is_none_or(|b| b.len() == cout), "bias size is not {cout}");
        let bn = match self.bn_epsilon {
            Some(eps) => {
                let at = 2 + self.has_bias as usize;
                let p = [
                    float32(at, "scale")?,
                    float32(at + 1, "bias")?,
                    float32(at + 2, "mean")?,
                    float32(at + 3, "variance")?,
                ];
                ensure!(
                    p.iter().all(|t| t.len() == cout),
                    "batch normalization parameters do not have {cout} values"
                );
                Some((p, eps))
            }
            None => None,
        };
        let cin = model.outlet_fact(inputs[0])?.shape[3].to_usize()?;
        let geometry = self.geometry(cin, cout, [shape[2], shape[3]]);
        ensure!(cin / self.groups == shape[1], "weights do not match the input channels");
        FConv::check(&geometry, weights.len(), cout).map_err(|e| format_err!("{prefix}: {e}"))?;
        let recipe = Recipe {
            weights,
            bias,
            bn,
            residual: self.residual,
            relu: self.relu,
            kernels: self.kernels,
        };
        let conv = F32Conv {
            geometry: geometry.clone(),
            lazy: Arc::new(LazyConv {
                geometry,
                recipe: std::sync::Mutex::new(Some(recipe)),
                conv: std::sync::OnceLock::new(),
            }),
        };
        let mut activations = tvec![inputs[0]];
        if self.residual {
            activations.push(inputs[1 + self.constants()]);
        }
        model.wire_node(prefix, conv, &activations)
    }
}

/// What a float convolution is built from: its constants (shared with tract's graph, not
/// copied) and flags. Packing waits for the first run, so that at load the weights exist once
/// (tract drops its constant nodes once our node holds them), and each layer's original
/// weights are freed as soon as they are packed.
#[derive(Debug)]
struct Recipe {
    /// Float32, or float16 (an FP16 model's weights, packed in float16 panels unless a
    /// BatchNormalization has to be folded into them).
    weights: Arc<Tensor>,
    bias: Option<Arc<Tensor>>,
    /// The BatchNormalization's scale, bias, mean and variance, and its epsilon.
    bn: Option<([Arc<Tensor>; 4], f32)>,
    residual: bool,
    relu: bool,
    kernels: FloatKernels,
}

impl Recipe {
    /// The packed convolution (the BatchNormalization folded in, as ONNX Runtime's graph
    /// optimizer folds it: `w * scale / sqrt(var + eps)`, `(b - mean) * that + bias`).
    ///
    /// Float16 weights without a BatchNormalization go into float16 panels straight from
    /// their tensor (never widened as a whole); with one, they are widened for the folding.
    fn build(self, geometry: &Geometry) -> Result<FConv, String> {
        let values = |t: &Tensor| -> Result<Vec<f32>, String> {
            let plain = t.try_as_plain_ram().map_err(|e| e.to_string())?;
            if t.datum_type() == f16::datum_type() {
                let halves = plain.as_slice::<f16>().map_err(|e| e.to_string())?;
                return Ok(halves.iter().map(|h| h.to_f32()).collect());
            }
            Ok(plain.as_slice::<f32>().map_err(|e| e.to_string())?.to_vec())
        };
        let cout = geometry.cout;
        let mut bias = match &self.bias {
            Some(b) => values(b)?,
            None => vec![0.0; cout],
        };
        if self.weights.datum_type() == f16::datum_type() && self.bn.is_none() {
            let conv = {
                let plain = self.weights.try_as_plain_ram().map_err(|e| e.to_string())?;
                let halves = plain.as_slice::<f16>().map_err(|e| e.to_string())?;
                let (residual, relu) = (self.residual, self.relu);
                FConv::new_f16(geometry.clone(), halves, &bias, residual, relu, self.kernels)
            };
            drop(self.weights);
            return conv;
        }
        let mut weights = values(&self.weights)?;
        drop(self.weights);
        if let Some((p, eps)) = &self.bn {
            let [scale, shift, mean, var] = [&p[0], &p[1], &p[2], &p[3]].map(|t| values(t));
            let (scale, shift, mean, var) = (scale?, shift?, mean?, var?);
            let per_channel = weights.len() / cout;
            for c in 0..cout {
                let f = scale[c] / (var[c] + eps).sqrt();
                weights[c * per_channel..][..per_channel].iter_mut().for_each(|w| *w *= f);
                bias[c] = (bias[c] - mean[c]) * f + shift[c];
            }
        }
        FConv::new(geometry.clone(), &weights, &bias, self.residual, self.relu, self.kernels)
    }
}

/// A float convolution packed on its first run (see [`Recipe`]); thread safe: concurrent
/// first runs wait for one packing.
#[derive(Debug)]
struct LazyConv {
    geometry: Geometry,
    recipe: std::sync::Mutex<Option<Recipe>>,
    conv: std::sync::OnceLock<Result<FConv, String>>,
}

impl LazyConv {
    fn get(&self) -> TractResult<&FConv> {
        let built = self.conv.get_or_init(|| {
            let recipe = self.recipe.lock().unwrap_or_else(|p| p.into_inner()).take();
            match recipe {
                Some(r) => r.build(&self.geometry),
                None => Err("the convolution's constants are gone".into()),
            }
        });
        built.as_ref().map_err(|e| format_err!("packing the convolution: {e}"))
    }
}

/// A float convolution of the kernel layer: NHWC f32 in (and the residual, when fused), NHWC
/// f32 out.
#[derive(Debug, Clone)]
pub struct F32Conv {
    geometry: Geometry,
    lazy: Arc<LazyConv>,
}

impl PartialEq for F32Conv {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.lazy, &other.lazy)
    }
}

impl Eq for F32Conv {}

impl Op for F32Conv {
    fn name(&self) -> StaticName {
        F32_CONV_OP.into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("{:?}", self.geometry)])
    }

    op_as_typed_op!();
}

impl EvalOp for F32Conv {
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = &inputs[0];
        ensure!(x.datum_type() == f32::datum_type() && x.rank() == 4, "input is not 4-D f32");
        let [n, h, w, c] = [x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]];
        let conv = self.lazy.get()?;
        let g = &conv.geometry;
        ensure!(c == g.cin, "input has {c} channels, {} expected", g.cin);
        let (ho, wo) = g.output_size(h, w).context("kernel larger than input")?;
        // SAFETY: `FConv::run` writes every value of its output (the convolution tests start
        // from NaN and compare every value) before anything reads it; on error the tensor is
        // dropped unread.
        let mut out = unsafe { Tensor::uninitialized::<f32>(&[n, ho, wo, g.cout])? };
        let input = x.try_as_plain_ram()?;
        let residual = inputs.get(1).map(|r| r.try_as_plain_ram()).transpose()?;
        let residual = residual.as_ref().map(|r| r.as_slice::<f32>()).transpose()?;
        let pool = executor_pool();
        let workers = pool.as_ref().map_or(1, |p| p.current_num_threads());
        conv.run(
            input.as_slice::<f32>()?,
            (n, h, w),
            residual,
            out.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?,
            workers,
            &|items, f| run_bands(pool.as_deref(), items, f),
        )
        .map_err(|e| format_err!("{e}"))?;
        Ok(tvec!(out.into_tvalue()))
    }

    op_out_of_plan!();
}

impl TypedOp for F32Conv {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(conv_output_fact(&self.geometry, inputs[0], f32::datum_type())?))
    }

    as_op!();
}

/// A layout conversion between tract's NCHW tensors and the layer's NHWC u8 ones.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Convert {
    to_nhwc: bool,
    signed: bool,
    /// f32 data (layout only); otherwise one-byte data.
    float: bool,
}

/// The optional `float` attribute (0 when absent).
fn float_attr(node: &NodeProto) -> bool {
    node.attribute.iter().any(|a| a.name == "float" && a.i != 0)
}

fn parse_to_nhwc(
    _ctx: &tract_onnx::model::ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let signed = int_attr(node, "signed")? != 0;
    Ok((expand(Convert { to_nhwc: true, signed, float: float_attr(node) }), vec![]))
}

fn parse_to_nchw(
    _ctx: &tract_onnx::model::ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let signed = int_attr(node, "signed")? != 0;
    Ok((expand(Convert { to_nhwc: false, signed, float: float_attr(node) }), vec![]))
}

impl Convert {
    fn output_dt(&self) -> DatumType {
        if self.float {
            f32::datum_type()
        } else if self.to_nhwc || !self.signed {
            u8::datum_type()
        } else {
            i8::datum_type()
        }
    }

    /// Where output axis i comes from.
    fn perm(&self) -> [usize; 4] {
        if self.to_nhwc {
            [0, 2, 3, 1]
        } else {
            [0, 3, 1, 2]
        }
    }
}

impl Expansion for Convert {
    fn name(&self) -> StaticName {
        if self.to_nhwc { TO_NHWC_OP } else { TO_NCHW_OP }.into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, self.output_dt())?;
        s.equals(&inputs[0].rank, 4)?;
        s.equals(&outputs[0].rank, 4)?;
        for (o, i) in self.perm().into_iter().enumerate() {
            s.equals(&outputs[0].shape[o], &inputs[0].shape[i])?;
        }
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, ConvertLayout(self.clone()), inputs)
    }
}

/// The typed layout conversion.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConvertLayout(Convert);

impl Op for ConvertLayout {
    fn name(&self) -> StaticName {
        Expansion::name(&self.0)
    }

    op_as_typed_op!();
}

impl EvalOp for ConvertLayout {
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = &inputs[0];
        if self.0.float {
            return self.eval_f32(x);
        }
        ensure!(x.datum_type().size_of() == 1 && x.rank() == 4, "input is not 4-D 8-bit");
        let s = x.shape();
        let perm = self.0.perm();
        let out_shape: Vec<usize> = perm.iter().map(|&i| s[i]).collect();
        // SAFETY: a plain tensor of one-byte elements, every byte written below.
        let mut out = unsafe { Tensor::uninitialized_dt(self.0.output_dt(), &out_shape)? };
        let src = x.try_as_plain_ram()?;
        let src = src.as_bytes();
        let dst = out.as_bytes_mut();
        let flip = if self.0.signed { 0x80 } else { 0 };
        let (n, a, b) = if self.0.to_nhwc {
            (s[0], s[1], s[2] * s[3]) // NCHW: a = C, b = H*W -> [n][b][a]
        } else {
            (s[0], s[1] * s[2], s[3]) // NHWC: a = H*W, b = C -> [n][b][a]
        };
        for image in 0..n {
            let src = &src[image * a * b..][..a * b];
            let dst = &mut dst[image * a * b..][..a * b];
            for i in 0..a {
                for j in 0..b {
                    dst[j * a + i] = src[i * b + j] ^ flip;
                }
            }
        }
        Ok(tvec!(out.into_tvalue()))
    }

    op_out_of_plan!();
}

impl ConvertLayout {
    /// The f32 conversion: a transposition of each image's two inner axes.
    fn eval_f32(&self, x: &TValue) -> TractResult<TVec<TValue>> {
        ensure!(x.datum_type() == f32::datum_type() && x.rank() == 4, "input is not 4-D f32");
        let s = x.shape();
        let out_shape: Vec<usize> = self.0.perm().iter().map(|&i| s[i]).collect();
        // SAFETY: every value is written below.
        let mut out = unsafe { Tensor::uninitialized::<f32>(&out_shape)? };
        let src = x.try_as_plain_ram()?;
        let src = src.as_slice::<f32>()?;
        let mut dst = out.try_as_plain_ram_mut()?;
        let dst = dst.as_slice_mut::<f32>()?;
        let (n, a, b) =
            if self.0.to_nhwc { (s[0], s[1], s[2] * s[3]) } else { (s[0], s[1] * s[2], s[3]) };
        for image in 0..n {
            let src = &src[image * a * b..][..a * b];
            let dst = &mut dst[image * a * b..][..a * b];
            // Blocks of 16 x 16 keep both sides' lines in cache.
            for i0 in (0..a).step_by(16) {
                for j0 in (0..b).step_by(16) {
                    for i in i0..(i0 + 16).min(a) {
                        for j in j0..(j0 + 16).min(b) {
                            dst[j * a + i] = src[i * b + j];
                        }
                    }
                }
            }
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for ConvertLayout {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let s = &inputs[0].shape;
        ensure!(s.len() == 4, "input is not 4-D");
        let shape: TVec<TDim> = self.0.perm().iter().map(|&i| s[i].clone()).collect();
        Ok(tvec!(self.0.output_dt().fact(shape)))
    }

    as_op!();
}

/// A 2-D max pool on the layer's NHWC u8 tensors. Exact on quantized data: the pool's input and
/// output share one quantization (the rewrite checks it), and max commutes with it. Padding is
/// ignored, as ONNX pads a max pool with -inf.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NhwcMaxPool {
    /// f32 data; otherwise u8.
    float: bool,
    kernel: [usize; 2],
    strides: [usize; 2],
    /// top, left, bottom, right.
    pads: [usize; 4],
}

fn parse_max_pool(
    _ctx: &tract_onnx::model::ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let pool = NhwcMaxPool {
        float: float_attr(node),
        kernel: usizes(ints_attr(node, "kernel_shape")?)?,
        strides: usizes(ints_attr(node, "strides")?)?,
        pads: usizes(ints_attr(node, "pads")?)?,
    };
    ensure!(
        pool.kernel.iter().chain(&pool.strides).all(|&v| v > 0),
        "{}: zero kernel size or stride",
        node.name
    );
    Ok((expand(pool), vec![]))
}

impl NhwcMaxPool {
    fn dt(&self) -> DatumType {
        if self.float {
            f32::datum_type()
        } else {
            u8::datum_type()
        }
    }

    /// The pool over `src` (NHWC, `n x h x w x c`) into `dst` (`n x ho x wo x c`, which starts
    /// at the type's smallest value).
    fn pool<T: Copy + PartialOrd>(&self, src: &[T], dst: &mut [T], [n, h, w, c]: [usize; 4]) {
        let (ho, wo) = self.output_size(h, w).expect("checked by the caller");
        let window = |o: usize, axis: usize, size: usize| {
            let start = (o * self.strides[axis]) as isize - self.pads[axis] as isize;
            let end = (start + self.kernel[axis] as isize).min(size as isize);
            (start.max(0) as usize)..(end.max(0) as usize)
        };
        for image in 0..n {
            let src = &src[image * h * w * c..][..h * w * c];
            let dst = &mut dst[image * ho * wo * c..][..ho * wo * c];
            for oy in 0..ho {
                let rows = window(oy, 0, h);
                for ox in 0..wo {
                    let cols = window(ox, 1, w);
                    let out = &mut dst[(oy * wo + ox) * c..][..c];
                    for iy in rows.clone() {
                        for ix in cols.clone() {
                            let pixel = &src[(iy * w + ix) * c..][..c];
                            for (o, &v) in out.iter_mut().zip(pixel) {
                                // A NaN input is never the maximum. A select, not a
                                // conditional store, so the loop vectorizes (maxps/pmaxub).
                                *o = if v > *o { v } else { *o };
                            }
                        }
                    }
                }
            }
        }
    }

    /// Output height and width; `None` when the window does not fit.
    fn output_size(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        let side = |size: usize, axis: usize| {
            let padded = size + self.pads[axis] + self.pads[axis + 2];
            (padded >= self.kernel[axis])
                .then(|| (padded - self.kernel[axis]) / self.strides[axis] + 1)
        };
        Some((side(h, 0)?, side(w, 1)?))
    }
}

impl Expansion for NhwcMaxPool {
    fn name(&self) -> StaticName {
        MAX_POOL_OP.into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, self.dt())?;
        s.equals(&inputs[0].rank, 4)?;
        s.equals(&outputs[0].rank, 4)?;
        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[0].shape[3], &inputs[0].shape[3])?;
        s.given(&inputs[0].shape, move |s, x| {
            let (Ok(h), Ok(w)) = (x[1].to_usize(), x[2].to_usize()) else { return Ok(()) };
            let (ho, wo) = self.output_size(h, w).context("pool window larger than input")?;
            s.equals(&outputs[0].shape[1], ho.to_dim())?;
            s.equals(&outputs[0].shape[2], wo.to_dim())
        })
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, self.clone(), inputs)
    }
}

impl Op for NhwcMaxPool {
    fn name(&self) -> StaticName {
        MAX_POOL_OP.into()
    }

    op_as_typed_op!();
}

impl EvalOp for NhwcMaxPool {
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = &inputs[0];
        ensure!(x.datum_type() == self.dt() && x.rank() == 4, "input is not 4-D {:?}", self.dt());
        let [n, h, w, c] = [x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]];
        let (ho, wo) = self.output_size(h, w).context("pool window larger than input")?;
        let src = x.try_as_plain_ram()?;
        let out = if self.float {
            let mut out = Tensor::zero::<f32>(&[n, ho, wo, c])?;
            let mut dst = out.try_as_plain_ram_mut()?;
            let dst = dst.as_slice_mut::<f32>()?;
            dst.fill(f32::NEG_INFINITY);
            self.pool(src.as_slice::<f32>()?, dst, [n, h, w, c]);
            out
        } else {
            // An empty window (pads >= kernel never matches) leaves 0, the smallest u8.
            let mut out = Tensor::zero::<u8>(&[n, ho, wo, c])?;
            self.pool(src.as_bytes(), out.as_bytes_mut(), [n, h, w, c]);
            out
        };
        Ok(tvec!(out.into_tvalue()))
    }

    op_out_of_plan!();
}

impl TypedOp for NhwcMaxPool {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let s = &inputs[0].shape;
        ensure!(s.len() == 4, "input is not 4-D");
        let (ho, wo) = self
            .output_size(s[1].to_usize()?, s[2].to_usize()?)
            .context("pool window larger than input")?;
        Ok(tvec!(self.dt().fact([s[0].clone(), ho.to_dim(), wo.to_dim(), s[3].clone()])))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `pool` on one `h x w x c` image; returns its output, whose shape it checks.
    fn run_pool<T: Datum + Copy>(pool: &NhwcMaxPool, x: &[T], [h, w, c]: [usize; 3]) -> Vec<T> {
        let (ho, wo) = pool.output_size(h, w).unwrap();
        let input = Tensor::from_shape(&[1, h, w, c], x).unwrap();
        let out = pool.eval(&EvalContext::out_of_plan(), tvec![input.into_tvalue()]).unwrap();
        assert_eq!(out[0].shape(), &[1, ho, wo, c]);
        out[0].try_as_plain_ram().unwrap().as_slice::<T>().unwrap().to_vec()
    }

    /// The reference: a direct max over each window's in-bounds pixels (padding ignored),
    /// starting from `lowest`; a value replaces the best only when greater (so NaN never does).
    fn direct_max<T: Copy + PartialOrd>(
        x: &[T],
        [h, w, c]: [usize; 3],
        (k, s, p): (usize, usize, usize),
        lowest: T,
    ) -> Vec<T> {
        let side = |size: usize| (size + 2 * p - k) / s + 1;
        let (ho, wo) = (side(h), side(w));
        let mut out = vec![lowest; ho * wo * c];
        let windows = (0..ho * wo).flat_map(|o| (0..k * k).map(move |t| (o, t / k, t % k)));
        for (o, ky, kx) in windows {
            let (iy, ix) = ((o / wo * s + ky).checked_sub(p), (o % wo * s + kx).checked_sub(p));
            let (Some(iy), Some(ix)) = (iy, ix) else { continue };
            if iy >= h || ix >= w {
                continue;
            }
            let pixel = &x[(iy * w + ix) * c..][..c];
            for (best, &v) in out[o * c..][..c].iter_mut().zip(pixel) {
                if v > *best {
                    *best = v;
                }
            }
        }
        out
    }

    /// The f32 pool against a direct max over each window: a NaN is never the maximum, a
    /// window of NaN only gives -inf, and -inf / +inf / -0.0 pass through as values.
    #[test]
    fn nhwc_max_pool_f32_matches_a_direct_max_and_skips_nan() {
        let (h, w, c, k, s, p) = (9usize, 7usize, 19usize, 3usize, 2usize, 1usize);
        let pool = NhwcMaxPool { float: true, kernel: [k, k], strides: [s, s], pads: [p; 4] };
        let special = [f32::NAN, f32::NEG_INFINITY, f32::INFINITY, -0.0, 0.0];
        let mut x: Vec<f32> = (0..h * w * c)
            .map(|i| match i % 13 {
                0..=4 => special[i % 13],
                _ => ((i * 7919 % 251) as f32 - 125.0) * 0.37,
            })
            .collect();
        // One channel all NaN: every window of it gives -inf.
        for px in 0..h * w {
            x[px * c + 3] = f32::NAN;
        }
        let got = run_pool(&pool, &x, [h, w, c]);
        let (_, wo) = pool.output_size(h, w).unwrap();
        let want = direct_max(&x, [h, w, c], (k, s, p), f32::NEG_INFINITY);
        for (i, (g, best)) in got.iter().zip(&want).enumerate() {
            let (oy, ox, ch) = (i / c / wo, i / c % wo, i % c);
            assert_eq!(g.to_bits(), best.to_bits(), "({oy},{ox},{ch}): {g} vs {best}");
            if ch == 3 {
                assert_eq!(*g, f32::NEG_INFINITY);
            }
        }
    }

    /// The pool against a direct max over each window (padding ignored), odd sizes and edges.
    #[test]
    fn nhwc_max_pool_matches_a_direct_max() {
        for (h, w, c, k, s, p) in [
            (9usize, 7usize, 5usize, 3usize, 2usize, 1usize),
            (8, 8, 3, 2, 2, 0),
            (5, 6, 16, 3, 1, 1),
        ] {
            let pool = NhwcMaxPool { float: false, kernel: [k, k], strides: [s, s], pads: [p; 4] };
            let x: Vec<u8> = (0..h * w * c).map(|i| (i * 7919 % 251) as u8).collect();
            let got = run_pool(&pool, &x, [h, w, c]);
            assert_eq!(
                got,
                direct_max(&x, [h, w, c], (k, s, p), 0u8),
                "{h}x{w}x{c} k{k} s{s} p{p}"
            );
        }
    }
}
