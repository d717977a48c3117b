//! The tract engine options take effect and `info().compute` reports their effective values:
//! float16 widening on and off, bf16 products on and off (they run only where the CPU has
//! AMX-BF16 or AVX512-BF16; elsewhere compute says they are not available, and
//! `RESNEXT_REQUIRE_CPU_KERNELS=1` makes a missing kernel a failure where Linux lists its flag).

mod common;

use common::fixture;
use resnext::kernels::bgemm::BIsa;
use resnext::{Classifier, ClassifierOptions, CpuKernels, LabelSource, PreprocessConfig};

fn compute(model: &str, configure: impl FnOnce(ClassifierOptions) -> ClassifierOptions) -> String {
    let options = ClassifierOptions::from_path(fixture(model))
        .preprocess(PreprocessConfig { resize_short: 64, crop: 64, ..Default::default() })
        .labels(LabelSource::None)
        .threads(2);
    let classifier = Classifier::new(configure(options)).unwrap_or_else(|e| panic!("{model}: {e}"));
    classifier.info().compute.clone()
}

/// What the float kernel layer makes of the tiny model by default: its AVX-512 f32 kernels
/// where the CPU has AVX-512F, else its AVX2 ones where it has AVX2 + FMA + F16C (each
/// required by `RESNEXT_REQUIRE_CPU_KERNELS=1` where Linux lists its flags), else tract's.
fn default_float_compute() -> String {
    match common::float_kernels() {
        Some(on) => format!(
            "f32 on {on}: 15 of 17 convolutions, 4 residual additions fused, 1 max pool in NHWC"
        ),
        None => "f32".into(),
    }
}

#[test]
fn widen_fp16_chooses_float32_or_float16_compute() {
    let off = |o: ClassifierOptions| o.cpu_kernels(CpuKernels::Off);
    assert_eq!(compute("models/tiny_fp16.onnx", off), "f32 (float16 weights widened at load)");
    let layer = default_float_compute();
    let widened = compute("models/tiny_fp16.onnx", |o| o);
    if layer == "f32" {
        assert_eq!(widened, "f32 (float16 weights widened at load)");
    } else {
        // The float kernel layer packs the convolutions' float16 weights as they are.
        assert_eq!(
            widened,
            format!("{layer} (float16 weights kept as float16, widened in the kernel)")
        );
    }
    // The scalar reference kernels read float16 panels too.
    let scalar = compute("models/tiny_fp16.onnx", |o| o.cpu_kernels(CpuKernels::Scalar));
    assert_eq!(
        scalar,
        "f32 on scalar reference kernels: 15 of 17 convolutions, 4 residual additions fused, 1 max \
         pool in NHWC (float16 weights kept as float16, widened in the kernel)"
    );
    assert_eq!(compute("models/tiny_fp16.onnx", |o| o.widen_fp16(false)), "f16");
    assert_eq!(compute("models/tiny_torch.onnx", |o| o.widen_fp16(false)), layer);
}

/// Where the bf16 mode runs (the float kernel layer and a bf16 kernel): on AMX the tiny
/// model's convolutions with 8, 16 or a multiple of 32 channels per group, on AVX512-BF16
/// (no AMX) those with a multiple of 32.
fn tiny_bf16(isa: BIsa) -> String {
    let (on, bf16, f32) = match isa {
        BIsa::Amx => ("AMX", 11, 4),
        _ => ("AVX512-BF16", TINY_AVX512_BF16, 15 - TINY_AVX512_BF16),
    };
    format!(
        "bf16 on {on}: {bf16} of 17 convolutions, {f32} f32 on AVX-512, 4 residual additions \
         fused, 1 max pool in NHWC"
    )
}
/// The tiny model's convolutions with a multiple of 32 input channels per group.
const TINY_AVX512_BF16: usize = 10;
const NO_BF16: &str =
    "this CPU has neither AMX-BF16 (with Linux's tile permission) nor AVX512-BF16";

#[test]
fn bf16_matmul_runs_the_convolutions_on_amx_or_avx512_bf16_or_says_why_not() {
    let layer = default_float_compute();
    assert_eq!(compute("models/tiny_torch.onnx", |o| o), layer);
    assert_eq!(compute("models/tiny_torch.onnx", |o| o.bf16_matmul(false)), layer);
    assert_eq!(compute("models/tiny_torch.onnx", |o| o.cpu_kernels(CpuKernels::Off)), "f32");
    let on = compute("models/tiny_torch.onnx", |o| o.bf16_matmul(true));
    common::assert_required_bf16_kernels_run();
    let unavailable =
        |base: &str, why: &str| format!("{base} (bf16 products asked for, not available: {why})");
    let off =
        compute("models/tiny_torch.onnx", |o| o.bf16_matmul(true).cpu_kernels(CpuKernels::Off));
    let int8 = compute("models/tiny_int8.onnx", |o| o.bf16_matmul(true));
    let int8_default = compute("models/tiny_int8.onnx", |o| o);
    assert_eq!(
        int8,
        unavailable(&int8_default, "bf16 applies to float32 and float16 models"),
        "INT8 models keep their integer kernels"
    );
    match BIsa::best().filter(|_| layer != "f32") {
        Some(isa) => {
            let want = tiny_bf16(isa);
            assert_eq!(on, want);
            assert_eq!(off, unavailable("f32", "cpu_kernels turns the float kernel layer off"));
            // FP16: the bf16 panels are rounded from the float16 weights, the f32 ones keep
            // them.
            let fp16 = compute("models/tiny_fp16.onnx", |o| o.bf16_matmul(true));
            assert_eq!(fp16, format!("{want} (float16 weights kept as float16 until packed)"));
        }
        None => {
            assert_eq!(on, unavailable(&layer, NO_BF16));
            assert_eq!(off, unavailable("f32", NO_BF16));
            if layer != "f32" {
                let fp16 = compute("models/tiny_fp16.onnx", |o| o.bf16_matmul(true));
                let kept =
                    format!("{layer} (float16 weights kept as float16, widened in the kernel)");
                assert_eq!(fp16, unavailable(&kept, NO_BF16));
            }
        }
    }
}

/// `CpuKernels::Avx2` runs the AVX2 kernels even on an AVX-512 CPU: INT8 models on the AVX2
/// INT8 kernel, float models on the AVX2 f32 kernels; the bf16 mode (it needs the AVX-512 float
/// kernels beside it) says why it does not apply. A CPU without AVX2 refuses the choice with
/// `BackendUnavailable` when the classifier is created.
#[test]
fn cpu_kernels_avx2_runs_the_avx2_kernels_or_is_refused() {
    let avx2 = |o: ClassifierOptions| o.cpu_kernels(CpuKernels::Avx2);
    if !common::avx2_kernels() {
        let options = ClassifierOptions::from_path(fixture("models/tiny_int8.onnx"))
            .cpu_kernels(CpuKernels::Avx2);
        let err = Classifier::new(options).expect_err("the AVX2 kernels on a CPU without AVX2");
        assert_eq!(err.code(), resnext::ErrorCode::BackendUnavailable, "{err}");
        return;
    }
    let float =
        "f32 on AVX2: 15 of 17 convolutions, 4 residual additions fused, 1 max pool in NHWC";
    assert_eq!(compute("models/tiny_torch.onnx", avx2), float);
    let int8 = compute("models/tiny_int8.onnx", avx2);
    assert!(int8.starts_with("int8 on AVX2: 17 of 17 convolutions, "), "{int8}");
    let bf16 = compute("models/tiny_torch.onnx", |o| avx2(o).bf16_matmul(true));
    match BIsa::best() {
        Some(_) => assert_eq!(
            bf16,
            format!(
                "{float} (bf16 products asked for, not available: cpu_kernels selects float \
                 kernels without the AVX-512 the bf16 kernels need)"
            )
        ),
        None => {
            assert_eq!(bf16, format!("{float} (bf16 products asked for, not available: {NO_BF16})"))
        }
    }
}

/// An FP16 file on the float kernel layer: read from its path (streamed, the float16 weights
/// read by tract from the file, the rest read back to be widened) or given as bytes (decoded
/// whole), and on the scalar or (where the CPU has them) the AVX-512 or AVX2 kernels, its float16
/// panels give the same raw outputs bit for bit (the kernels widen exactly and sum in one
/// order).
#[test]
fn fp16_outputs_do_not_depend_on_how_the_file_is_read_or_the_kernel() {
    let path = fixture("models/tiny_fp16.onnx");
    let bytes = std::fs::read(&path).unwrap();
    let load = |options: ClassifierOptions| {
        let options = options
            .preprocess(PreprocessConfig { resize_short: 64, crop: 64, ..Default::default() })
            .labels(LabelSource::None)
            .threads(2);
        Classifier::new(options).unwrap()
    };
    let scalar = |o: ClassifierOptions| o.cpu_kernels(CpuKernels::Scalar);
    let reference = load(scalar(ClassifierOptions::from_path(&path)));
    let info = reference.info();
    let input: Vec<f32> = (0..2 * 3 * info.height as usize * info.width as usize)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let want = reference.run_raw(&input, 2).unwrap();
    assert!(want.iter().any(|v| *v != 0.0) && want.iter().all(|v| v.is_finite()));
    let mut others = vec![(
        "bytes, scalar".to_string(),
        load(scalar(ClassifierOptions::from_bytes(bytes.clone()))),
    )];
    if let Some(on) = common::float_kernels() {
        others.push((format!("path, {on}"), load(ClassifierOptions::from_path(&path))));
        others.push((format!("bytes, {on}"), load(ClassifierOptions::from_bytes(bytes))));
    }
    if common::float_kernels() != Some("AVX2") && common::avx2_kernels() {
        let forced = ClassifierOptions::from_path(&path).cpu_kernels(CpuKernels::Avx2);
        others.push(("path, AVX2 forced".to_string(), load(forced)));
    }
    let kept = "(float16 weights kept as float16, widened in the kernel)";
    assert!(info.compute.ends_with(kept), "{}", info.compute);
    for (how, classifier) in &others {
        assert!(classifier.info().compute.ends_with(kept), "{how}: {}", classifier.info().compute);
        let got = classifier.run_raw(&input, 2).unwrap();
        let same = want.len() == got.len()
            && want.iter().zip(&got).all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{how}: outputs differ from the streamed file's on the scalar kernels");
    }
}
