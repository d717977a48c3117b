//! Opt-in bf16 matrix products on Intel AMX for the tract backend (the `bf16_matmul` option).
//!
//! tract 0.23.9 ships an AMX kernel, `avx512amx_mmm_f32_16x16`, whose second packing
//! (`f32f32_bf16`) rounds both operands to bf16 while packing and multiplies them with
//! TDPBF16PS into f32 accumulators. Its kernel selection never asks for that packing: the
//! AMX tier answers with the kernel's name and `suitable_named` takes the kernel's first
//! packing, the plain f32 one. So with tract's own knob (`TRACT_AMX_BF16=1`) the AMX kernel
//! runs f32 panels and the results stay bit-identical to FP32.
//!
//! [`Bf16Lowering`] is a tract optimizer pass that runs before tract's code generation and
//! lowers the plain matrix products itself, with that packing: every float32 `EinSum` whose
//! first operand is a constant weight matrix (the 1x1 convolutions and the classifier once
//! tract has decluttered them) and whose product is large enough for the 16x16 tile (M and N
//! at least 16, K at least 32, every other axis of size 1) becomes an `OptMatMul` on the AMX
//! kernel, with the weights packed to bf16 once at load and the activations packed to bf16 by
//! [`PackBf16Activations`] on every run. tract's later passes fuse bias, ReLU and residual
//! additions into it as they do for their own products. Convolutions with a spatial kernel
//! (the 3x3 grouped ones, the stem) stay on tract's f32 lowering: lowering the grouped ones
//! too (an im2col of each group packed straight to bf16, one batched product over the groups)
//! was tried and measured no faster, the gather and packing costing what the products saved.
//!
//! The activations are packed by the crate's own `pack_bf16_k2`, which writes tract's
//! `PackedBf16K2` layout but pads k to a multiple of 32 with zero rows: the kernel reads B in
//! steps of 32 rows (as tract's A packing is padded), and tract's own B packer pads to 2 only,
//! so for a k that is not a multiple of 32 the kernel read past the packed data (a crash,
//! seen once in eight runs, or garbage multiplied by the zero padding of A).
//!
//! The accuracy cost is bf16's 8-bit mantissa on both operands of every lowered product;
//! BENCHMARKS.md measures it (top-1 agreement and score differences against FP32).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tract_core::internal::*;
use tract_core::ops::einsum::EinSum;
use tract_core::ops::matmul::optimized::{
    AddMatMulGeometry, MapOutputAxisToInput, MatMulOperand, OptMatMul, ProtoFusedSpec,
};
use tract_core::ops::matmul::pack::DynPackedExoticFact;
use tract_core::ops::matmul::ModePicker;
use tract_core::optim::{OptimizerSession, TypedPass};
use tract_linalg::mmm::{
    EagerPackedInput, MMMInputFormat, MMMInputValue, MatMatMul, PackedExoticFact,
    PackedMatrixStorage,
};

/// The AMX bf16 kernel's name in tract-linalg.
const KERNEL: &str = "avx512amx_mmm_f32_16x16";
/// The kernel's packing that rounds f32 operands to bf16.
const BF16_PACKING: usize = 1;

/// The AMX bf16 kernel, when this build has it (`tract_amx_bf16`), the CPU has AMX-BF16 and
/// the kernel granted this process the AMX tile state. `None` otherwise.
pub fn amx_bf16_kernel() -> Option<Box<dyn MatMatMul>> {
    tract_linalg::MmmDispatch::native()
        .runnable()
        .iter()
        .find(|k| k.name() == KERNEL && k.packings().len() > BF16_PACKING)
        .cloned()
}

/// The optimizer pass that lowers eligible float32 matrix products to the AMX bf16 kernel.
#[derive(Debug, Clone)]
pub struct Bf16Lowering {
    mmm: Box<dyn MatMatMul>,
    /// Products lowered so far, shared with the caller.
    lowered: Arc<AtomicUsize>,
}

impl Bf16Lowering {
    /// A pass lowering onto `mmm` (from [`amx_bf16_kernel`]); `lowered` counts the products.
    pub fn new(mmm: Box<dyn MatMatMul>, lowered: Arc<AtomicUsize>) -> Self {
        Bf16Lowering { mmm, lowered }
    }
}

/// Where the m, k and n axes of a plain matrix product sit: positions in the weights (A), the
/// activations (B) and the output (C), and their sizes.
struct MatMulAxes {
    a_m: usize,
    a_k: usize,
    b_k: usize,
    b_n: usize,
    c_m: usize,
    c_n: usize,
    m: usize,
    k: usize,
    n: usize,
}

/// The product's axes when `op` is a plain `A[m,k] x B[k,n] -> C[m,n]` once axes of size 1
/// are set aside, with the weights A as its input `a_input` (0 or 1) and the activations B as
/// the other; `None` for anything else.
fn plain_axes(
    op: &EinSum,
    a_input: usize,
    a_shape: &[usize],
    b_shape: &[usize],
    c_shape: &[usize],
) -> Option<MatMulAxes> {
    let (mut m, mut k, mut n) = (None, None, None);
    let b_input = 1 - a_input;
    for axis in op.axes.iter_all_axes() {
        let (a, b, c) = (&axis.inputs[a_input], &axis.inputs[b_input], &axis.outputs[0]);
        if a.len() > 1 || b.len() > 1 || c.len() > 1 {
            return None;
        }
        let size = a
            .first()
            .map(|&i| a_shape[i])
            .or(b.first().map(|&i| b_shape[i]))
            .or(c.first().map(|&i| c_shape[i]))?;
        if size == 1 {
            continue;
        }
        let slot = match (a.first(), b.first(), c.first()) {
            (Some(_), None, Some(_)) => &mut m,
            (Some(_), Some(_), None) => &mut k,
            (None, Some(_), Some(_)) => &mut n,
            _ => return None,
        };
        if slot.replace(axis).is_some() {
            return None;
        }
    }
    let (m, k, n) = (m?, k?, n?);
    let axes = MatMulAxes {
        a_m: m.inputs[a_input][0],
        a_k: k.inputs[a_input][0],
        b_k: k.inputs[b_input][0],
        b_n: n.inputs[b_input][0],
        c_m: m.outputs[0][0],
        c_n: n.outputs[0][0],
        m: a_shape[m.inputs[a_input][0]],
        k: a_shape[k.inputs[a_input][0]],
        n: b_shape[n.inputs[b_input][0]],
    };
    (b_shape[axes.b_k] == axes.k && c_shape[axes.c_m] == axes.m && c_shape[axes.c_n] == axes.n)
        .then_some(axes)
}

impl Bf16Lowering {
    fn lower(
        &self,
        model: &TypedModel,
        node: &TypedNode,
        op: &EinSum,
    ) -> TractResult<Option<TypedModelPatch>> {
        if op.q_params.is_some() || node.inputs.len() != 2 || op.operating_dt != f32::datum_type() {
            return Ok(None);
        }
        let facts = model.node_input_facts(node.id)?;
        // The weights are whichever input is constant (tract's 1x1 convolutions put them
        // second); the other input is the activations.
        let Some((a_input, weights)) = (0..2).find_map(|i| {
            let other_varies = facts[1 - i].konst.is_none();
            facts[i].konst.clone().filter(|_| other_varies).map(|w| (i, w))
        }) else {
            return Ok(None);
        };
        let (a, b) = (facts[a_input], facts[1 - a_input]);
        let c = model.outlet_fact(node.id.into())?;
        if weights.datum_type() != f32::datum_type()
            || b.datum_type != f32::datum_type()
            || c.datum_type != f32::datum_type()
            || a.exotic_fact.is_some()
            || b.exotic_fact.is_some()
        {
            return Ok(None);
        }
        let (Some(b_shape), Some(c_shape)) = (b.shape.as_concrete(), c.shape.as_concrete()) else {
            return Ok(None);
        };
        let Some(axes) = plain_axes(op, a_input, weights.shape(), b_shape, c_shape) else {
            return Ok(None);
        };
        // The tile's own limits (tract's AMX tier uses the same: below them the AVX-512 f32
        // kernels waste less work on padding), and k before n in the activations, which are
        // packed from rows along n.
        if axes.m < 16 || axes.n < 16 || axes.k < 32 || axes.b_k > axes.b_n {
            return Ok(None);
        }
        let (a_format, b_format) = &self.mmm.packings()[BF16_PACKING];
        if !is_bf16_k2_16(&**b_format) {
            return Ok(None);
        }
        let packed_weights = a_format.prepare_one(&weights, axes.a_k, axes.a_m)?;

        let mut patch = TypedModelPatch::new("bf16 AMX matrix product");
        let activations = patch.tap_model(model, node.inputs[1 - a_input])?;
        let packed = patch.wire_node(
            format!("{}.pack_bf16", node.name),
            PackBf16Activations { format: b_format.clone(), k_axis: axes.b_k, n_axis: axes.b_n },
            &[activations],
        )?[0];
        let geo = AddMatMulGeometry {
            k: axes.k.to_dim(),
            c_to_a_axis_mapping: MapOutputAxisToInput(tvec!()),
            c_to_b_axis_mapping: MapOutputAxisToInput(tvec!()),
        };
        let store = unsafe { self.mmm.c_view(Some(axes.c_m), Some(axes.c_n)) };
        let product = OptMatMul::new(
            vec![self.mmm.clone()],
            ModePicker::Single,
            f32::fact(c_shape),
            Some(axes.c_m),
            Some(axes.c_n),
            vec![
                ProtoFusedSpec::AddMatMul {
                    geo,
                    a: MatMulOperand::Const(packed_weights),
                    b: MatMulOperand::Input(0),
                    packings: vec![(BF16_PACKING, None)],
                },
                ProtoFusedSpec::Store(vec![store]),
            ],
            false,
        )?;
        let output = patch.wire_node(format!("{}.bf16", node.name), product, &[packed])?[0];
        patch.shunt_outside(model, node.id.into(), output)?;
        Ok(Some(patch))
    }
}

impl TypedPass for Bf16Lowering {
    fn reset(&mut self) -> TractResult<()> {
        Ok(())
    }

    fn next(
        &mut self,
        _session: &mut OptimizerSession,
        model: &TypedModel,
    ) -> TractResult<Option<TypedModelPatch>> {
        for node in model.eval_order()? {
            let node = model.node(node);
            let patch = match node.op_as::<EinSum>() {
                Some(op) => self.lower(model, node, op)?,
                None => None,
            };
            if let Some(patch) = patch {
                self.lowered.fetch_add(1, Ordering::Relaxed);
                return Ok(Some(patch));
            }
        }
        Ok(None)
    }
}

/// Packs a float32 activation matrix (every axis but k and n of size 1) into the AMX bf16
/// kernel's B format, rounding to bf16, on every run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PackBf16Activations {
    format: Box<dyn MMMInputFormat>,
    k_axis: usize,
    n_axis: usize,
}

impl PackBf16Activations {
    fn output_shape<D: Clone>(&self, input: &[D]) -> TVec<D> {
        input
            .iter()
            .enumerate()
            .filter(|(ix, _)| *ix != self.k_axis && *ix != self.n_axis)
            .map(|(_, d)| d.clone())
            .collect()
    }
}

impl Op for PackBf16Activations {
    fn name(&self) -> StaticName {
        "PackBf16Activations".into()
    }

    op_as_typed_op!();
}

impl EvalOp for PackBf16Activations {
    fn eval(&self, _ctx: &EvalContext, mut inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = inputs.remove(0);
        let shape = self.output_shape(input.shape());
        ensure!(shape.iter().all(|d| *d == 1), "bf16 packing expects a single matrix");
        let (k, n) = (input.shape()[self.k_axis], input.shape()[self.n_axis]);
        // Rows along n are contiguous: k comes before n and every other axis is 1 (checked
        // when lowering), and tract tensors are in standard layout.
        ensure!(self.k_axis < self.n_axis, "bf16 packing expects k before n");
        let view = input.to_plain_array_view::<f32>()?;
        let values = view.as_slice().context("bf16 packing: input not contiguous")?;
        let packed = pack_bf16_k2(self.format.clone(), k, n, |r, out| {
            out.copy_from_slice(&values[r * n..(r + 1) * n])
        });
        let storage = PackedMatrixStorage::new_batched(&shape, tvec![packed]);
        Ok(tvec!(storage.into_tensor(input.datum_type()).into_tvalue()))
    }

    op_out_of_plan!();
}

impl TypedOp for PackBf16Activations {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = &inputs[0].shape;
        let exotic = DynPackedExoticFact {
            k: shape[self.k_axis].clone(),
            mn: shape[self.n_axis].clone(),
            packers: vec![self.format.clone()],
        };
        Ok(tvec!(inputs[0]
            .datum_type
            .fact(self.output_shape(&shape.to_tvec()))
            .with_exotic_fact(exotic)))
    }

    as_op!();
}

/// Rounds `x` to bf16 (round to nearest even; NaN stays a quiet NaN), as tract's packers do;
/// the NaN case is a select rather than a branch, so the packing loops vectorize.
#[inline]
fn bf16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    let rounded = (bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16) as u16;
    if x.is_nan() {
        ((bits >> 16) as u16) | 0x40
    } else {
        rounded
    }
}

/// Whether `format` is the AMX kernel's bf16 B packing with 16-column panels, whose layout
/// [`pack_bf16_k2`] writes.
fn is_bf16_k2_16(format: &dyn MMMInputFormat) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        format
            .downcast_ref::<tract_linalg::x86_64::amx_bf16::PackedBf16K2>()
            .is_some_and(|f| f.r == 16)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = format;
        false
    }
}

/// Packs a k x n float32 matrix, produced one row at a time by `row(r, out)`, into tract's
/// `PackedBf16K2` layout with 16-column panels (the AMX bf16 kernel's B operand): panel `p`
/// holds columns `16p..16p+16`, as consecutive pairs of rows, each column's two values side by
/// side. Values rounded to bf16 as tract's own packer does (tests compare the two); faster
/// than it, which rounds element by element through a strided view.
fn pack_bf16_k2(
    format: Box<dyn MMMInputFormat>,
    k: usize,
    n: usize,
    mut row: impl FnMut(usize, &mut [f32]),
) -> Box<dyn MMMInputValue> {
    const R: usize = 16;
    // Padded with zero rows to a whole TDPBF16PS step (32), as tract's A packing is: the
    // kernel reads B in steps of 32 rows, and tract's own B packer pads to 2 only, so for a k
    // that is not a multiple of 32 the kernel read past each panel (and past the last one).
    let k_padded = k.div_ceil(32) * 32;
    let panel_values = k_padded * R;
    let panels = n.div_ceil(R);
    let mut blob = unsafe { Blob::new_for_size_and_align(panels * panel_values * 2, 64) };
    blob.as_bytes_mut().fill(0);
    // Rows go in pairs: each u32 of a panel is one column's (row 2b, row 2b+1) pair, so a
    // pair of rows is written as 16 consecutive u32s per panel, which vectorizes.
    let (mut even, mut odd) = (vec![0f32; n], vec![0f32; n]);
    {
        let words = panel_values / 2;
        // SAFETY: the blob is 64-byte aligned and holds panels * words u32s.
        let dst = unsafe {
            std::slice::from_raw_parts_mut(blob.as_mut_ptr() as *mut u32, panels * words)
        };
        for pair in 0..k.div_ceil(2) {
            row(2 * pair, &mut even);
            if 2 * pair + 1 < k {
                row(2 * pair + 1, &mut odd);
            } else {
                odd.fill(0.0);
            }
            for (p, (lo, hi)) in even.chunks(R).zip(odd.chunks(R)).enumerate() {
                let out = &mut dst[p * words + pair * R..][..lo.len()];
                for ((o, &a), &b) in out.iter_mut().zip(lo).zip(hi) {
                    *o = bf16_bits(a) as u32 | (bf16_bits(b) as u32) << 16;
                }
            }
        }
    }
    Box::new(EagerPackedInput {
        fact: PackedExoticFact { format, mn: n.to_dim(), k },
        packed: Arc::new(blob),
        panel_bytes: panel_values * 2,
        mn: n,
    })
}

#[cfg(test)]
mod tests {
    /// The AMX bf16 kernel; without it the test is reported as skipped, unless
    /// `RESNEXT_REQUIRE_CPU_KERNELS=1` (CI, on a CPU with AMX) makes its absence a failure.
    fn amx_bf16_kernel_or_skip() -> Option<Box<dyn MatMatMul>> {
        let kernel = amx_bf16_kernel();
        if kernel.is_none() {
            let required = std::env::var("RESNEXT_REQUIRE_CPU_KERNELS").as_deref() == Ok("1");
            assert!(!required, "RESNEXT_REQUIRE_CPU_KERNELS=1 but there is no AMX bf16 kernel");
            eprintln!("skipped: no AMX bf16 kernel on this CPU or build");
        }
        kernel
    }

    use super::*;
    use tract_core::optim::Optimizer;

    /// Deterministic values in [-1, 1).
    fn seeded(shape: &[usize], seed: u32) -> Tensor {
        let len: usize = shape.iter().product();
        let mut state = seed.wrapping_mul(2654435761).max(1);
        let values: Vec<f32> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % 2000) as f32 / 1000.0 - 1.0
            })
            .collect();
        Tensor::from_shape(shape, &values).unwrap()
    }

    fn values(t: &Tensor) -> Vec<f32> {
        t.to_plain_array_view::<f32>().unwrap().iter().copied().collect()
    }

    /// Each value rounded to bf16 as the packers round it (`fast_packer_matches_tract_packer`
    /// checks `bf16_bits` against tract's packer).
    fn bf16_round(t: &Tensor) -> Vec<f32> {
        values(t).iter().map(|&x| f32::from_bits((bf16_bits(x) as u32) << 16)).collect()
    }

    /// `W[m,k] x X[k,n]` as tract's 1x1 convolutions declutter it (weights second), with the
    /// pass under test in front of tract's code generation.
    fn plan(
        m: usize,
        k: usize,
        n: usize,
        mmm: Option<Box<dyn MatMatMul>>,
    ) -> (Arc<TypedRunnableModel>, usize, Tensor) {
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact([k, n])).unwrap();
        let weights = seeded(&[m, k], 7);
        let w = model.add_const("w", weights.clone()).unwrap();
        let y = model
            .wire_node(
                "product",
                EinSum::new("kn,mk->mn".parse().unwrap(), f32::datum_type()),
                &[x, w],
            )
            .unwrap();
        model.select_output_outlets(&y).unwrap();
        let mut model = model.into_decluttered().unwrap();
        let lowered = Arc::new(AtomicUsize::new(0));
        let mut codegen = Optimizer::codegen();
        if let Some(mmm) = mmm {
            codegen.add_pass(2, Box::new(Bf16Lowering::new(mmm, lowered.clone())));
        }
        model.optimize_with_session(&mut codegen.session()).unwrap();
        let plan = model.into_runnable().unwrap();
        (plan, lowered.load(Ordering::Relaxed), weights)
    }

    fn reference(w: &[f32], x: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| w[i * k + p] * x[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn lowered_product_matches_a_bf16_reference() {
        let Some(mmm) = amx_bf16_kernel_or_skip() else { return };
        // k = 40 is not a whole TDPBF16PS step (32): the padding rows must read as zeros.
        for (m, k, n) in [(48, 96, 40), (32, 40, 24)] {
            check_lowered_product(m, k, n, mmm.clone());
        }
    }

    fn check_lowered_product(m: usize, k: usize, n: usize, mmm: Box<dyn MatMatMul>) {
        let (plan, lowered, weights) = plan(m, k, n, Some(mmm));
        assert_eq!(lowered, 1);
        let x = seeded(&[k, n], 11);
        let out = plan.run(tvec![x.clone().into_tvalue()]).unwrap();
        let out = values(&out[0]);
        // Against the product of the bf16-rounded operands (what the kernel multiplies): only
        // the f32 summation order differs.
        let rounded = reference(&bf16_round(&weights), &bf16_round(&x), m, k, n);
        let exact = reference(&values(&weights), &values(&x), m, k, n);
        let max_diff =
            |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(p, q)| (p - q).abs()).fold(0f32, f32::max);
        assert!(max_diff(&out, &rounded) < 1e-4, "vs bf16 reference {}", max_diff(&out, &rounded));
        // Against the f32 product: bf16's 8-bit mantissa on both operands, over K = 96 terms
        // of magnitude below 1.
        let to_f32 = max_diff(&out, &exact);
        assert!(to_f32 > 0.0 && to_f32 < 0.1, "vs f32 reference {to_f32}");
    }

    #[test]
    fn products_below_the_tile_stay_on_tract_kernels() {
        let Some(mmm) = amx_bf16_kernel_or_skip() else { return };
        // K 16 is below one TDPBF16PS step (32), M 8 below the 16-row tile.
        assert_eq!(plan(64, 16, 64, Some(mmm.clone())).1, 0);
        assert_eq!(plan(8, 64, 64, Some(mmm)).1, 0);
    }

    /// The crate's fused packer writes tract's `PackedBf16K2` layout: each panel holds exactly
    /// the bytes of tract's packer, including a partial last panel, an odd k, a NaN, halfway
    /// cases and -0, followed by zero rows up to a multiple of 32 (tract's packer stops at a
    /// multiple of 2, short of what the kernel reads).
    #[test]
    fn fast_packer_matches_tract_packer() {
        let Some(mmm) = amx_bf16_kernel_or_skip() else { return };
        let format = mmm.packings()[BF16_PACKING].1.clone();
        assert!(is_bf16_k2_16(&*format), "{format}");
        let (k, n) = (37, 45);
        let mut values: Vec<f32> =
            (0..k * n).map(|i| ((i * 7919) % 1000) as f32 / 37.0 - 13.0).collect();
        values[5] = f32::NAN;
        values[6] = f32::from_bits(0x3f80_8000); // exactly halfway between two bf16 values
        values[7] = f32::from_bits(0x3f81_8000);
        values[8] = -0.0;
        let matrix = Tensor::from_shape(&[k, n], &values).unwrap();
        let theirs = format.prepare_one(&matrix, 0, 1).unwrap();
        let ours = pack_bf16_k2(format.clone(), k, n, |r, out| {
            out.copy_from_slice(&values[r * n..(r + 1) * n])
        });
        let theirs = theirs.downcast_ref::<EagerPackedInput>().unwrap();
        let ours = ours.downcast_ref::<EagerPackedInput>().unwrap();
        assert_eq!(ours.mn, theirs.mn);
        assert_eq!(theirs.panel_bytes, 38 * 16 * 2);
        assert_eq!(ours.panel_bytes, 64 * 16 * 2);
        let panels = n.div_ceil(16);
        assert_eq!(ours.packed.as_bytes().len(), panels * ours.panel_bytes);
        for p in 0..panels {
            let mine = &ours.packed.as_bytes()[p * ours.panel_bytes..][..ours.panel_bytes];
            let tracts = &theirs.packed.as_bytes()[p * theirs.panel_bytes..][..theirs.panel_bytes];
            assert_eq!(&mine[..theirs.panel_bytes], tracts, "panel {p}");
            assert!(mine[theirs.panel_bytes..].iter().all(|b| *b == 0), "panel {p} padding");
        }
    }
}
