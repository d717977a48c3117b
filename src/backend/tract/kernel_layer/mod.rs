//! The SDK's own INT8 convolution layer inside tract.
//!
//! tract 0.23 runs a QDQ model's convolutions in float (or, fused into `QLinearConv`, on
//! integer kernels with unfused requantization), at 8x ONNX Runtime's time. This layer
//! replaces them, before tract parses the model, by operators of ours that run on the crate's
//! kernels ([`crate::kernels::qgemm`]: AMX-INT8, AVX512-VNNI, or the scalar reference):
//!
//! 1. [`rewrite`] finds each quantized `Conv` (with its `DequantizeLinear` inputs and its
//!    `QuantizeLinear` output) and each residual `Add` whose input one of them produces, and
//!    writes `ResnextInt8Conv` nodes (the addition fused into the convolution's epilogue), plus
//!    `ResnextToNhwc` / `ResnextToNchw` where tract's own nodes read or write the layer's
//!    tensors. Between two of our nodes activations stay NHWC u8 (i8 data with 128 added), so
//!    nothing is re-laid-out from block to block.
//! 2. [`ops`] registers those node types with tract's ONNX parser; each convolution packs its
//!    weights once when tract types the model.
//! 3. [`conv`] runs a convolution: one GEMM per group over output pixels (1x1 convolutions
//!    read the NHWC input in place, the others gather rows first), the pixels split over the
//!    classifier's threads.
//!
//! Float models take the same route through [`rewrite_f32`] (`ResnextF32Conv` nodes: a
//! convolution with its BatchNormalization, ReLU and residual addition, run by [`fconv`] on the
//! f32 kernels of [`crate::kernels::fgemm`], NHWC f32 between our nodes).
//!
//! What does not match stays on tract (the stem's max pool, the global pool, the classifier,
//! any convolution quantized another way), with a log line naming why.

pub mod conv;
pub mod fconv;
pub mod ops;
pub mod rewrite;
pub mod rewrite_f32;

pub use ops::register;
pub use rewrite::{place_kernel_layer, Placement};
pub use rewrite_f32::place_f32_layer;

use crate::error::{Error, ErrorCode, Result};
use crate::kernels::cpu::{self, Isa};
use crate::kernels::fgemm::FIsa;
use crate::options::CpuKernels;

/// The ONNX domain of the layer's nodes (never written to a file).
pub const DOMAIN: &str = "ai.resnext";

/// The kernels `choice` selects on this CPU: `None` when the layer is off (asked for, or
/// `Auto` on a CPU with neither AMX-INT8 nor AVX512-VNNI). A forced kernel this CPU cannot run
/// is a [`ErrorCode::BackendUnavailable`] error.
pub fn select(choice: CpuKernels) -> Result<Option<Isa>> {
    let forced = |isa: Isa| {
        if cpu::supports(isa) {
            Ok(Some(isa))
        } else {
            Err(Error::new(
                ErrorCode::BackendUnavailable,
                format!(
                    "the {} kernels were asked for, but this CPU (or the kernel's AMX \
                     permission) cannot run them",
                    isa.name()
                ),
            ))
        }
    };
    match choice {
        CpuKernels::Off => Ok(None),
        CpuKernels::Auto => Ok(match cpu::best() {
            Isa::Scalar => None,
            isa => Some(isa),
        }),
        CpuKernels::AmxInt8 => forced(Isa::AmxInt8),
        CpuKernels::Avx512Vnni => forced(Isa::Avx512Vnni),
        CpuKernels::Scalar => forced(Isa::Scalar),
        CpuKernels::Avx2 => forced(Isa::Avx2),
    }
}

/// The float kernels `choice` selects for an FP32 (or widened FP16) model: `None` when the
/// layer is off (asked for, or `Auto` on a CPU with neither AVX-512F nor AVX2 + FMA + F16C);
/// `Auto` takes AVX-512 where the CPU has it, else AVX2. The INT8 choices
/// (`AmxInt8`, `Avx512Vnni`) select the AVX-512 float kernels, which both imply; `Avx2` the
/// AVX2 ones; `Scalar` the scalar reference. A forced choice this CPU cannot run is an error,
/// as for INT8 models.
pub fn select_f32(choice: CpuKernels) -> Result<Option<FIsa>> {
    select(choice)?;
    let isa = match choice {
        CpuKernels::Off => None,
        CpuKernels::Scalar => Some(FIsa::Scalar),
        CpuKernels::Auto => FIsa::best_simd(),
        CpuKernels::AmxInt8 | CpuKernels::Avx512Vnni => Some(FIsa::Avx512),
        CpuKernels::Avx2 => Some(FIsa::Avx2),
    };
    match isa {
        Some(isa) if !isa.supported() => Err(Error::new(
            ErrorCode::BackendUnavailable,
            format!("the {} f32 kernels were asked for, but this CPU cannot run them", isa.name()),
        )),
        isa => Ok(isa),
    }
}

/// How `info().compute` describes the float layer's share of the model: "f32 on AVX-512: 104
/// of 104 convolutions, ..." ("f32 on AVX2: ..." on a CPU without AVX-512) or, in the bf16
/// mode, "bf16 on AMX: 103 of 104 convolutions, 1 f32 on AVX-512, ..." (or "bf16 on
/// AVX512-BF16: ..." on a CPU without AMX).
pub fn describe_f32(isa: FIsa, placement: &Placement) -> String {
    let on = match isa {
        FIsa::Avx512 => "AVX-512",
        FIsa::Avx2 => "AVX2",
        FIsa::Scalar => "scalar reference kernels",
    };
    let share = if let Some(bf16) = placement.bf16_isa.filter(|_| placement.bf16 > 0) {
        format!(
            "bf16 on {}: {} of {} convolutions, {} f32 on {on}",
            bf16.label(),
            placement.bf16,
            placement.convolutions,
            placement.placed - placement.bf16
        )
    } else {
        format!("f32 on {on}: {} of {} convolutions", placement.placed, placement.convolutions)
    };
    format!(
        "{share}, {} residual additions fused{}",
        placement.fused_adds,
        match placement.max_pools {
            0 => String::new(),
            n => format!(", {n} max pool{} in NHWC", if n == 1 { "" } else { "s" }),
        }
    )
}

/// How `info().compute` describes the layer's share of the model.
pub fn describe(isa: Isa, placement: &Placement) -> String {
    let on = match isa {
        Isa::AmxInt8 => "AMX",
        Isa::Avx512Vnni => "AVX512-VNNI",
        Isa::Avx2 => "AVX2",
        Isa::Scalar => "scalar reference kernels",
    };
    format!(
        "int8 on {on}: {} of {} convolutions, {} residual additions fused{}",
        placement.placed,
        placement.convolutions,
        placement.fused_adds,
        match placement.max_pools {
            0 => String::new(),
            n => format!(", {n} max pool{} in NHWC", if n == 1 { "" } else { "s" }),
        }
    )
}
