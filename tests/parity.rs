//! Outputs of the SDK against ONNX Runtime's on the same ONNX file and the same input tensor.
//!
//! Tolerances (max absolute difference of the raw output, logits or probabilities):
//! - FP32: 1e-4 x max(1, max |reference|), and the top-5 class ids equal, in order
//!   (measured: 2.0e-5 on ResNeXt50_32x4d and ResNeXt101_32x8d logits of magnitude ~20);
//! - FP16 (weights widened to f32 by the SDK, ORT runs float16): 1e-2 x max(1, max |reference|)
//!   and the top-1 class equal (measured: 7.5e-3 with float16 I/O, 2.7e-5 with float32 I/O);
//! - INT8 QDQ: 5e-2 x max(1, max |reference|) and the top-1 class equal on at least 3 rows of 4:
//!   both engines quantize activations, but a value on a rounding boundary may land one step
//!   apart and the step propagates (measured: 0.34 on logits of magnitude ~20);
//! - FP32 in the opt-in bf16 mode (the kernel layer's convolutions with whole 32-channel
//!   groups in bf16 on AMX): 2e-2 x max(1, max |reference|) and the top-1 class equal on every
//!   row (bf16 keeps 8 mantissa bits of each operand; each case prints its figure).
//!
//! Each case prints its figures (`cargo test -- --nocapture` shows them).

mod common;

use common::{fixture, manifest, max_abs_diff, read_npy, top_ids};
use resnext::{
    Classifier, ClassifierOptions, CpuKernels, LabelSource, OutputKind, Precision, PreprocessConfig,
};

fn classifier_for(case: &serde_json::Value, threads: usize) -> Classifier {
    classifier_with(case, threads, |options| options)
}

/// The case's classifier, with `configure` applied to its options.
fn classifier_with(
    case: &serde_json::Value,
    threads: usize,
    configure: impl FnOnce(ClassifierOptions) -> ClassifierOptions,
) -> Classifier {
    let model = fixture(case["model"].as_str().unwrap());
    let side = case["resolution"].as_u64().unwrap() as u32;
    let config = PreprocessConfig { resize_short: side, crop: side, ..Default::default() };
    let options = ClassifierOptions::from_path(&model)
        .preprocess(config)
        .threads(threads)
        .labels(LabelSource::None);
    Classifier::new(configure(options)).unwrap_or_else(|e| panic!("{}: {e}", model.display()))
}

fn tolerance(precision: &str) -> f32 {
    match precision {
        "fp32" => 1e-4,
        "fp16" => 1e-2,
        "int8" => 5e-2,
        other => panic!("unknown precision {other}"),
    }
}

fn check_case(case: &serde_json::Value, threads: usize) -> (f32, f32) {
    check_classifier(case, threads, classifier_for(case, threads))
}

/// The case's input tensor through `classifier`, next to ONNX Runtime's output for it.
struct Compared {
    input: Vec<f32>,
    reference: Vec<f32>,
    ours: Vec<f32>,
    batch: usize,
    /// max |ours - reference|.
    diff: f32,
    /// max(1, max |reference|): tolerances are relative to it.
    scale: f32,
}

fn compare(case: &serde_json::Value, classifier: &Classifier) -> Compared {
    let (shape, input) = read_npy(&fixture(case["input"].as_str().unwrap()));
    let (_, reference) = read_npy(&fixture(common::tract_reference(case)));
    let batch = shape[0] as usize;
    let ours = classifier.run_raw(&input, batch).unwrap();
    let diff = max_abs_diff(&ours, &reference);
    let scale = reference.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    Compared { input, reference, ours, batch, diff, scale }
}

fn check_classifier(
    case: &serde_json::Value,
    threads: usize,
    classifier: Classifier,
) -> (f32, f32) {
    let name = case["model"].as_str().unwrap();
    let precision = case["precision"].as_str().unwrap();
    let info = classifier.info().clone();
    assert_eq!(info.precision.name(), precision, "{name}: precision");
    assert_eq!(info.output_kind.name(), case["output_kind"].as_str().unwrap(), "{name}");
    assert_eq!(info.classes as u64, case["classes"].as_u64().unwrap(), "{name}: classes");
    assert_eq!(info.input.name, case["input_name"].as_str().unwrap(), "{name}: input name");

    let Compared { input, reference, ours, batch, diff, scale } = compare(case, &classifier);
    let bound = tolerance(precision) * scale;
    println!(
        "{name} b{batch} t{threads} [{precision}, {}]: max |ours - ort| = {diff:.3e} (bound {bound:.3e})",
        info.output_kind.name()
    );
    assert!(diff <= bound, "{name}: max abs diff {diff} > {bound}");

    let classes = info.classes;
    let mut top1_agree = 0;
    for (row, (a, b)) in ours.chunks(classes).zip(reference.chunks(classes)).enumerate() {
        if precision == "fp32" {
            assert_eq!(top_ids(a, 5), top_ids(b, 5), "{name}: top-5 of row {row}");
        }
        if top_ids(a, 1) == top_ids(b, 1) {
            top1_agree += 1;
        }
    }
    match precision {
        "int8" => {
            assert!(top1_agree * 4 >= batch * 3, "{name}: top-1 agrees on {top1_agree}/{batch}")
        }
        _ => assert_eq!(top1_agree, batch, "{name}: top-1"),
    }

    // The same tensor through the public classify path gives the same ranking.
    let results = classifier.classify_tensor(&input, batch).unwrap();
    for (result, b) in results.iter().zip(reference.chunks(classes)) {
        let mut expected = b.to_vec();
        if info.output_kind == OutputKind::Logits {
            resnext::postprocess::softmax_in_place(&mut expected);
        }
        let best = &result.predictions[0];
        if precision != "int8" {
            assert_eq!(best.class_id, top_ids(b, 1)[0]);
            assert!((best.score - expected[best.class_id]).abs() <= tolerance(precision));
        }
    }
    (diff, bound)
}

fn cases(filter: impl Fn(&serde_json::Value) -> bool) -> Vec<serde_json::Value> {
    let all = manifest("parity/manifest.json");
    let chosen: Vec<_> = all.into_iter().filter(|c| filter(c)).collect();
    assert!(!chosen.is_empty(), "no parity case matched");
    chosen
}

fn model_is(case: &serde_json::Value, prefix: &str) -> bool {
    let model = case["model"].as_str().unwrap();
    model.trim_start_matches("models/").starts_with(prefix)
}

#[test]
fn fp32_resnext50_torch_and_paddle_exports_match_onnxruntime() {
    let chosen = cases(|c| c["precision"] == "fp32" && model_is(c, "r50_"));
    let styles: std::collections::HashSet<_> =
        chosen.iter().map(|c| c["output_kind"].as_str().unwrap().to_string()).collect();
    assert!(styles.contains("logits") && styles.contains("probabilities"), "{styles:?}");
    for case in &chosen {
        check_case(case, 1);
    }
}

#[test]
fn fp32_with_two_threads_matches_onnxruntime() {
    for case in cases(|c| c["precision"] == "fp32" && model_is(c, "r50_torch")) {
        check_case(&case, 2);
    }
}

/// The FP32 models (torch and Paddle2ONNX exports, FP16 files widened at load) on each of the
/// kernel layer's float paths, and with the layer off (tract's own kernels), against ONNX
/// Runtime on the same file, with the FP32 tolerance. `auto` must place every convolution on
/// the AVX-512 kernels where the CPU has AVX-512F, else on the AVX2 ones where it has AVX2 +
/// FMA + F16C; `avx2` forces the AVX2 ones on an AVX-512 CPU.
#[test]
fn fp32_on_each_float_kernel_path_matches_onnxruntime() {
    let auto = match common::float_kernels() {
        Some(on) => format!("f32 on {on}: "),
        None => "f32".to_string(),
    };
    let mut paths = vec![
        (CpuKernels::Auto, auto.as_str()),
        (CpuKernels::Off, "f32"),
        (CpuKernels::Scalar, "f32 on scalar reference kernels: "),
    ];
    // The AVX2 f32 kernels forced, where `Auto` takes AVX-512.
    if common::float_kernels() != Some("AVX2") && common::avx2_kernels() {
        paths.push((CpuKernels::Avx2, "f32 on AVX2: "));
    }
    for (kernels, expected) in paths {
        // The scalar reference only on the tiny models (it is slow by design).
        let tiny_only = kernels == CpuKernels::Scalar;
        for case in cases(|c| {
            (c["precision"] == "fp32" || (c["precision"] == "fp16" && c["io_dtype"] == "f32"))
                && (!tiny_only || model_is(c, "tiny_"))
        }) {
            let classifier = classifier_with(&case, 2, |o| o.cpu_kernels(kernels));
            let compute = classifier.info().compute.clone();
            assert!(compute.starts_with(expected), "{}: {compute}", case["model"]);
            if kernels != CpuKernels::Off && expected != "f32" {
                let counts: Vec<&str> = compute.split(": ").nth(1).unwrap().split(' ').collect();
                let (placed, total): (usize, usize) =
                    (counts[0].parse().unwrap(), counts[2].parse().unwrap());
                // The tiny models' two narrowest grouped convolutions (1 and 2 output channels
                // per group) stay on tract's kernels by design; ResNeXt50's all fit.
                let left = if model_is(&case, "tiny_") { 2 } else { 0 };
                assert_eq!(placed + left, total, "{}: {compute}", case["model"]);
            } else {
                assert!(!compute.contains(" on "), "{}: {compute}", case["model"]);
            }
            print!("[{compute}] ");
            check_classifier(&case, 2, classifier);
        }
    }
}

#[test]
fn fp16_both_io_kinds_match_onnxruntime() {
    let chosen = cases(|c| c["precision"] == "fp16");
    let io: std::collections::HashSet<_> =
        chosen.iter().map(|c| c["io_dtype"].as_str().unwrap().to_string()).collect();
    assert!(io.contains("f16") && io.contains("f32"), "{io:?}");
    for case in &chosen {
        check_case(case, 1);
    }
}

#[test]
fn fp16_native_compute_loads_and_runs() {
    // Without widening, tract runs float16 itself (slow on x86_64: only the tiny model here).
    let case = cases(|c| c["precision"] == "fp16" && model_is(c, "tiny_"))[0].clone();
    let side = case["resolution"].as_u64().unwrap() as u32;
    let classifier = Classifier::new(
        ClassifierOptions::from_path(fixture(case["model"].as_str().unwrap()))
            .preprocess(PreprocessConfig { resize_short: side, crop: side, ..Default::default() })
            .labels(LabelSource::None)
            .widen_fp16(false),
    )
    .unwrap();
    assert_eq!(classifier.info().precision, Precision::Fp16);
    let Compared { diff, scale, .. } = compare(&case, &classifier);
    println!("{} native f16: max diff {diff:.3e}", case["model"]);
    assert!(diff <= 5e-2 * scale, "{diff}"); // f16 arithmetic throughout: looser than widened
}

#[test]
fn int8_qdq_matches_onnxruntime() {
    for case in cases(|c| c["precision"] == "int8") {
        check_case(&case, 1);
    }
}

/// Paddle2ONNX exports quantized as ONNX Runtime's guide says (QUInt8 and QInt8 activations)
/// end in `Softmax -> QuantizeLinear -> DequantizeLinear`: the scores are ONNX Runtime's
/// probabilities (no second softmax, tract's integer softmax not used) and the top-5 its top-5.
#[test]
fn quantized_paddle_exports_score_like_onnxruntime() {
    let chosen =
        cases(|c| c["precision"] == "int8" && c["model"].as_str().unwrap().contains("paddle"));
    assert!(chosen.iter().any(|c| c["model"].as_str().unwrap().ends_with("_s8.onnx")));
    for case in &chosen {
        let classifier = classifier_with(case, 1, |o| o.top_k(5));
        assert_eq!(classifier.info().output_kind, OutputKind::Probabilities);
        let reference = common::tract_reference(case);
        let worst = common::check_top5_probabilities(&classifier, case, reference, 5e-2);
        println!("{} b{}: max score difference {worst:.2e}", case["model"], case["batch"]);
    }
}

/// The INT8 models on each of the crate's own kernel families, forced or by default, and with the kernel
/// layer off (tract's float path), against ONNX Runtime on the same QDQ file. Same INT8
/// tolerance. A family this CPU lacks is reported and skipped, unless
/// `RESNEXT_REQUIRE_CPU_KERNELS=1` (CI) makes that a failure where Linux lists the family's flag.
fn check_int8_kernels(kernels: CpuKernels, filter: impl Fn(&serde_json::Value) -> bool) {
    let isa = match kernels {
        CpuKernels::AmxInt8 => Some(resnext::kernels::cpu::Isa::AmxInt8),
        CpuKernels::Avx512Vnni => Some(resnext::kernels::cpu::Isa::Avx512Vnni),
        _ => None,
    };
    if let Some(isa) = isa.filter(|i| !resnext::kernels::cpu::supports(*i)) {
        let flag = match isa {
            resnext::kernels::cpu::Isa::AmxInt8 => "amx_int8",
            _ => "avx512_vnni",
        };
        let required = common::cpu_kernel_required(flag);
        assert!(!required, "RESNEXT_REQUIRE_CPU_KERNELS=1, Linux lists {flag}, no {isa:?} kernel");
        println!("SKIPPED: this CPU cannot run {isa:?}");
        return;
    }
    if kernels == CpuKernels::Avx2 && !common::avx2_kernels() {
        println!("SKIPPED: this CPU cannot run the AVX2 kernels");
        return;
    }
    use resnext::kernels::cpu::{best, Isa};
    if kernels == CpuKernels::Auto && common::cpu_kernel_required("avx2") {
        assert_ne!(best(), Isa::Scalar, "RESNEXT_REQUIRE_CPU_KERNELS=1, Linux lists avx2");
    }
    for case in cases(|c| c["precision"] == "int8" && filter(c)) {
        let classifier = classifier_with(&case, 2, |o| o.cpu_kernels(kernels));
        let compute = classifier.info().compute.clone();
        let expected = match (kernels, best()) {
            (CpuKernels::AmxInt8, _) | (CpuKernels::Auto, Isa::AmxInt8) => "int8 on AMX: ",
            (CpuKernels::Avx512Vnni, _) | (CpuKernels::Auto, Isa::Avx512Vnni) => {
                "int8 on AVX512-VNNI: "
            }
            (CpuKernels::Avx2, _) | (CpuKernels::Auto, Isa::Avx2) => "int8 on AVX2: ",
            (CpuKernels::Scalar, _) => "int8 on scalar reference kernels: ",
            _ => "f32 (QDQ graph",
        };
        assert!(compute.starts_with(expected), "{}: {compute}", case["model"]);
        // Every convolution of these models is quantized the way the layer takes.
        if compute.starts_with("int8 on ") {
            let counts: Vec<&str> = compute.split(": ").nth(1).unwrap().split(' ').collect();
            let (placed, total) = (counts[0], counts[2]);
            assert_eq!(placed, total, "{}: {compute}", case["model"]);
        }
        print!("[{compute}] ");
        check_classifier(&case, 2, classifier);
    }
}

#[test]
fn int8_on_amx_matches_onnxruntime() {
    check_int8_kernels(CpuKernels::AmxInt8, |_| true);
}

#[test]
fn int8_on_avx512_vnni_matches_onnxruntime() {
    check_int8_kernels(CpuKernels::Avx512Vnni, |_| true);
}

/// `Auto`: the best family here (the AVX2 kernel on a CPU without AVX512-VNNI).
#[test]
fn int8_on_the_default_kernels_matches_onnxruntime() {
    check_int8_kernels(CpuKernels::Auto, |_| true);
}

/// `Avx2` forced: the exact AVX2 kernel on every x86_64 CI machine, AVX-512 ones included
/// (only the tiny models where `Auto` already runs it).
#[test]
fn int8_on_avx2_matches_onnxruntime() {
    let auto_is_avx2 = resnext::kernels::cpu::best() == resnext::kernels::cpu::Isa::Avx2;
    check_int8_kernels(CpuKernels::Avx2, |c| !auto_is_avx2 || model_is(c, "tiny_"));
}

#[test]
fn int8_on_the_scalar_reference_kernels_matches_onnxruntime() {
    check_int8_kernels(CpuKernels::Scalar, |c| model_is(c, "tiny_"));
}

#[test]
fn int8_with_the_kernel_layer_off_matches_onnxruntime() {
    check_int8_kernels(CpuKernels::Off, |_| true);
}

#[test]
fn tiny_models_match_onnxruntime() {
    for case in cases(|c| model_is(c, "tiny_")) {
        check_case(&case, 1);
    }
}

#[test]
fn full_resnext101_32x8d_matches_onnxruntime() {
    let chosen: Vec<_> = manifest("parity/manifest.json")
        .into_iter()
        .filter(|c| model_is(c, "r101_32x8d"))
        .collect();
    if chosen.is_empty() && std::env::var_os("RESNEXT_REQUIRE_FULL").is_none() {
        // The 355 MB model is generated only with `make_test_fixtures.py --full`, which CI runs
        // (and sets RESNEXT_REQUIRE_FULL so that its absence fails there).
        println!("r101_32x8d fixture not generated; skipped (run make_test_fixtures.py --full)");
        return;
    }
    assert!(!chosen.is_empty(), "RESNEXT_REQUIRE_FULL is set but r101_32x8d was not generated");
    for case in &chosen {
        let started = std::time::Instant::now();
        check_case(case, 2);
        println!("r101_32x8d: load + run in {:?}", started.elapsed());
    }
}

#[test]
fn batch_sizes_1_4_8_run_on_one_classifier() {
    let case = cases(|c| model_is(c, "r50_torch") && c["batch"] == 4)[0].clone();
    let classifier = classifier_for(&case, 2);
    let (shape, input) = read_npy(&fixture(case["input"].as_str().unwrap()));
    let (_, reference) = read_npy(&fixture(case["reference"].as_str().unwrap()));
    assert_eq!(shape[0], 4);
    let per_image = input.len() / 4;
    let classes = classifier.info().classes;
    let bound = tolerance("fp32") * reference.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for batch in [1usize, 4, 8, 4, 1] {
        let tensor: Vec<f32> = (0..batch)
            .flat_map(|i| input[(i % 4) * per_image..(i % 4 + 1) * per_image].iter().copied())
            .collect();
        let ours = classifier.run_raw(&tensor, batch).unwrap();
        let expected: Vec<f32> = (0..batch)
            .flat_map(|i| reference[(i % 4) * classes..(i % 4 + 1) * classes].iter().copied())
            .collect();
        let diff = max_abs_diff(&ours, &expected);
        println!("r50 batch {batch}: max diff {diff:.3e}");
        assert!(diff <= bound, "batch {batch}: {diff}");
    }
}

/// The opt-in bf16 mode (AMX, else AVX512-BF16): the float kernel layer's convolutions run
/// their products in bf16, on ResNeXt50 from both graph styles (against ONNX Runtime's FP32 outputs) and from
/// the FP16 files (against ONNX Runtime's run of the same file). Tolerance: 2e-2 x max(1, max |reference|) and
/// the top-1 class equal on every row (bf16 keeps 8 mantissa bits of each operand). Where the
/// CPU has neither the option must leave the model in f32, say so, and still match at the
/// FP32 tolerance.
#[test]
fn bf16_matmul_mode_stays_close_to_onnxruntime_fp32() {
    use resnext::kernels::bgemm::BIsa;
    common::assert_required_bf16_kernels_run();
    let bf16 = BIsa::best().filter(|_| resnext::kernels::fgemm::FIsa::Avx512.supported());
    let r50 = |c: &serde_json::Value| model_is(c, "r50_torch") || model_is(c, "r50_paddle");
    // FP16 files too (float16 weights rounded to bf16 at packing), against ONNX Runtime's
    // float16 run of the same file.
    let fp16 = |c: &serde_json::Value| model_is(c, "r50_fp16") && c["precision"] == "fp16";
    let cases = cases(|c| (r50(c) && c["precision"] == "fp32") || fp16(c));
    assert!(cases.len() >= 4, "both graph styles and both FP16 files");
    for case in cases {
        let classifier = classifier_with(&case, 2, |o| o.bf16_matmul(true));
        let compute = classifier.info().compute.clone();
        let Some(isa) = bf16 else {
            assert!(compute.contains("bf16 products asked for, not available"), "{compute}");
            check_classifier(&case, 2, classifier);
            continue;
        };
        assert!(compute.starts_with(&format!("bf16 on {}: ", isa.label())), "{compute}");
        let Compared { reference, ours, batch, diff, scale, .. } = compare(&case, &classifier);
        println!(
            "{} [{compute}] batch {batch}: max diff {diff:.3e} (scale {scale:.1})",
            case["model"]
        );
        assert!(diff <= 2e-2 * scale, "{diff}");
        let classes = reference.len() / batch;
        for row in 0..batch {
            let span = row * classes..(row + 1) * classes;
            assert_eq!(top_ids(&ours[span.clone()], 1), top_ids(&reference[span], 1), "row {row}");
        }
    }
}
