//! Which tract-linalg kernels this machine runs: the instruction set tract detected, every matrix
//! kernel it can run, the kernel it prefers per accumulator type, and, for each ONNX model given,
//! the matrix kernels of its optimized batch-1 plan (what a convolution or a Gemm really runs).
//!
//! ```text
//! cargo run --release --example tract_kernels -- MODEL.onnx...
//! qemu-aarch64-static -L /usr/aarch64-linux-gnu tract_kernels MODEL.onnx...   # cross-built
//! ```
//!
//! Float16 models are loaded without widening (float16 compute, as `widen_fp16(false)` does),
//! so their plans show the f16 kernels when the CPU has fp16 arithmetic. `scripts/cross-aarch64.sh`
//! runs it under emulation.

// Cargo.toml declares `required-features = ["tract"]`: cargo skips the example without it.
fn main() -> tract_onnx::prelude::TractResult<()> {
    report::main()
}

mod report {
    use std::collections::BTreeMap;
    use tract_core::ops::matmul::optimized::{OptMatMul, ProtoFusedSpec};
    use tract_linalg::MmmDispatch;
    use tract_onnx::prelude::*;
    use tract_onnx::tract_hir::infer::Factoid;

    pub fn main() -> TractResult<()> {
        // What tract reads on Linux aarch64: "Features" and "CPU part" of /proc/cpuinfo (fp16,
        // core kind) and AT_HWCAP (dot product). Under qemu-user, /proc/cpuinfo may be the host's.
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        for key in ["model name", "Features", "CPU implementer", "CPU part"] {
            let line = cpuinfo.lines().find(|l| l.starts_with(key));
            println!(
                "/proc/cpuinfo {key}: {}",
                line.and_then(|l| l.split_once(':')).map_or("-", |(_, v)| v.trim())
            );
        }
        #[cfg(all(target_arch = "aarch64", target_os = "linux"))]
        {
            extern "C" {
                fn getauxval(kind: u64) -> u64;
            }
            let hwcap = unsafe { getauxval(16) }; // AT_HWCAP
            let bits = [(1, "asimd"), (9, "fphp"), (10, "asimdhp"), (20, "asimddp"), (22, "sve")];
            let set: Vec<&str> =
                bits.iter().filter(|(b, _)| hwcap & (1u64 << b) != 0).map(|(_, n)| *n).collect();
            println!("AT_HWCAP: {hwcap:#x} ({})", set.join(" "));
        }
        let isa = tract_linalg::isa::native();
        println!("arch: {}", std::env::consts::ARCH);
        println!("tract isa: {isa:?} (rung: {})", isa.nickname());
        println!("tract has_fp16: {}", tract_linalg::has_fp16());
        #[cfg(target_arch = "aarch64")]
        {
            println!("tract aarch64 kind: {:?}", tract_linalg::arm64::Kind::choose());
            println!("tract has_dotprod: {}", tract_linalg::arm64::has_dotprod());
        }
        let dispatch = MmmDispatch::native();
        let runnable: Vec<String> =
            dispatch.runnable().iter().map(|k| k.name().to_string()).collect();
        println!("runnable mmm kernels ({}): {}", runnable.len(), runnable.join(" "));
        // Shapes of a ResNeXt convolution as a matrix product: m output channels, k = c_in x 3 x 3,
        // n = output pixels (n = 1: the classifier's Gemm at batch 1).
        for (dt, name) in
            [(DatumType::F32, "f32"), (DatumType::F16, "f16"), (DatumType::I32, "i8->i32")]
        {
            for n in [3136usize, 1] {
                let kernel = dispatch
                    .preferred_kernel(dt, Some(256), Some(1152), Some(n))
                    .map(|k| k.name().to_string())
                    .unwrap_or_else(|| "-".into());
                println!("preferred {name:>7} m=256 k=1152 n={n:<4}: {kernel}");
            }
        }

        for path in std::env::args().skip(1) {
            let mut proto = tract_onnx::onnx()
                .proto_model_for_path(&path)
                .map_err(|e| e.context(path.clone()))?;
            // What the SDK does for float16 compute (tract 0.23 cannot type a float16 Gemm bias).
            resnext::onnx::rewrite::split_gemm_bias(&mut proto);
            let onnx =
                tract_onnx::onnx().with_ignore_value_info(true).with_ignore_output_shapes(true);
            let mut model = onnx.model_for_proto_model(&proto)?;
            let fact = model.input_fact(0)?.clone();
            let dt = fact.datum_type.concretize().unwrap_or(f32::datum_type());
            let dims: Vec<TDim> =
                fact.shape.dims().map(|d| d.concretize().unwrap_or_else(|| 1.into())).collect();
            let (h, w) = (dims[2].to_i64()?, dims[3].to_i64()?);
            model.set_input_fact(
                0,
                InferenceFact::dt_shape(dt, tvec!(1, 3, h as usize, w as usize)),
            )?;
            let optimized = model.into_optimized()?;
            let mut kernels: BTreeMap<String, usize> = BTreeMap::new();
            for node in optimized.nodes() {
                if let Some(op) = node.op_as::<OptMatMul>() {
                    // Kernel name and the index of the packing (pair of operand formats) the
                    // plan uses with it: a kernel with several packings (e.g. AMX bf16, whose
                    // packing 1 converts f32 to bf16) only runs its fast path with the right one.
                    let packings: Vec<usize> = op
                        .micro_ops
                        .iter()
                        .filter_map(|m| match m {
                            ProtoFusedSpec::AddMatMul { packings, .. } => Some(packings.clone()),
                            _ => None,
                        })
                        .flatten()
                        .map(|(p, _)| p)
                        .collect();
                    let names: Vec<String> = op
                        .mmm
                        .iter()
                        .enumerate()
                        .map(|(i, k)| match packings.get(i) {
                            Some(p) => format!("{}/packing{p}", k.name()),
                            None => k.name().to_string(),
                        })
                        .collect();
                    *kernels.entry(names.join("|")).or_default() += 1;
                }
            }
            let listed: Vec<String> = kernels.iter().map(|(k, n)| format!("{k} x{n}")).collect();
            println!("{path} ({dt:?} input): {}", listed.join(", "));
        }
        Ok(())
    }
}
