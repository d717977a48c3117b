//! The ONNX Runtime backend (feature `ort`) on its CPU provider, against Python ONNX Runtime's
//! reference outputs and against the tract backend; and the GPU providers' error and fallback
//! paths on a CPU-only runtime.
//!
//! Needs the ONNX Runtime library in `ORT_DYLIB_PATH` (scripts/test.sh points it at the one the
//! pinned `onnxruntime` wheel ships in `onnxruntime/capi/`).
//!
//! Tolerances (max absolute difference of raw outputs against Python ONNX Runtime 1.32 on the
//! same file and tensor): the same engine runs both, so 1e-5 x max(1, max |reference|) for every
//! precision (measured: see the printed figures). Against tract, on classified photographs
//! (probabilities): FP32 1e-4, FP16 1e-2, INT8 5e-2, top-1 equal; top-5 equal for FP32.

#![cfg(feature = "ort")]

mod common;

use common::{fixture, manifest, max_abs_diff, read_npy};
use resnext::{
    BackendKind, Classifier, ClassifierOptions, ErrorCode, ExecutionProvider, FallbackPolicy,
    ImageInput, LabelSource, PreprocessConfig, TensorRtOptions,
};
use std::path::PathBuf;

fn ort_library() -> PathBuf {
    let path = std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from).expect(
        "ORT_DYLIB_PATH is not set: point it at libonnxruntime.so (e.g. the onnxruntime wheel's \
         onnxruntime/capi/libonnxruntime.so.1.32.0; scripts/test.sh does)",
    );
    assert!(path.is_file(), "ORT_DYLIB_PATH={} does not exist", path.display());
    path
}

fn options(model: &str, side: u32) -> ClassifierOptions {
    let config = PreprocessConfig { resize_short: side, crop: side, ..Default::default() };
    ClassifierOptions::from_path(fixture(model)).preprocess(config).labels(LabelSource::None)
}

fn ort(model: &str, side: u32) -> ClassifierOptions {
    options(model, side).backend(BackendKind::Ort).ort_library(ort_library()).threads(2)
}

#[test]
fn cpu_provider_matches_python_onnxruntime_for_fp32_fp16_int8() {
    let mut seen = std::collections::BTreeSet::new();
    for case in manifest("parity/manifest.json") {
        let model = case["model"].as_str().unwrap();
        if model.contains("r101") && std::env::var("RESNEXT_FULL").as_deref() != Ok("1") {
            continue;
        }
        let side = case["resolution"].as_u64().unwrap() as u32;
        let classifier =
            Classifier::new(ort(model, side)).unwrap_or_else(|e| panic!("{model}: {e}"));
        let info = classifier.info();
        assert_eq!(info.backend, "ort");
        assert_eq!(info.provider, "cpu");
        assert_eq!(info.precision.name(), case["precision"].as_str().unwrap(), "{model}");
        let (shape, input) = read_npy(&fixture(case["input"].as_str().unwrap()));
        let (_, reference) = read_npy(&fixture(case["reference"].as_str().unwrap()));
        let ours = classifier.run_raw(&input, shape[0] as usize).unwrap();
        let diff = max_abs_diff(&ours, &reference);
        let scale = reference.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        println!(
            "ort cpu {model} b{}: max |diff| {diff:.2e} (bound {:.2e}) [{}]",
            shape[0],
            1e-5 * scale,
            info.compute
        );
        assert!(diff <= 1e-5 * scale, "{model}: {diff} over {}", 1e-5 * scale);
        seen.insert(case["precision"].as_str().unwrap().to_string());
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["fp16", "fp32", "int8"]);
}

#[test]
fn ort_and_tract_give_the_same_predictions_on_photographs() {
    let photos = ["chelsea.png", "coffee.png", "astronaut.png"];
    for (model, precision, bound) in [
        ("models/r50_torch.onnx", "fp32", 1e-4f32),
        ("models/r50_paddle.onnx", "fp32", 1e-4),
        ("models/r50_fp16.onnx", "fp16", 1e-2),
        ("models/r50_int8.onnx", "int8", 5e-2),
    ] {
        let tract = Classifier::new(options(model, 224).threads(2).top_k(5)).unwrap();
        let onnx = Classifier::new(ort(model, 224).top_k(5)).unwrap();
        for photo in photos {
            let path = fixture(&format!("preprocess/{photo}"));
            let a = tract.classify(ImageInput::Path(&path)).unwrap();
            let b = onnx.classify(ImageInput::Path(&path)).unwrap();
            let ids = |c: &resnext::Classification| {
                c.predictions.iter().map(|p| p.class_id).collect::<Vec<_>>()
            };
            let diff = a
                .predictions
                .iter()
                .zip(&b.predictions)
                .map(|(x, y)| (x.score - y.score).abs())
                .fold(0.0f32, f32::max);
            println!(
                "{model} {photo}: tract {:?} ort {:?} max score diff {diff:.2e}",
                ids(&a),
                ids(&b)
            );
            assert_eq!(a.predictions[0].class_id, b.predictions[0].class_id, "{model} {photo}");
            if precision == "fp32" {
                assert_eq!(ids(&a), ids(&b), "{model} {photo}: top-5");
            }
            if precision != "int8" || ids(&a) == ids(&b) {
                assert!(diff <= bound, "{model} {photo}: score diff {diff} over {bound}");
            }
        }
    }
}

/// The quantized Paddle2ONNX exports end in `Softmax -> QuantizeLinear -> DequantizeLinear`:
/// recognized as probabilities, so no second softmax is applied.
#[test]
fn quantized_paddle_exports_score_like_python_onnxruntime() {
    let chosen: Vec<_> = manifest("parity/manifest.json")
        .into_iter()
        .filter(|c| c["precision"] == "int8" && c["model"].as_str().unwrap().contains("paddle"))
        .collect();
    assert!(chosen.len() >= 4, "{} cases", chosen.len());
    for case in &chosen {
        let model = case["model"].as_str().unwrap();
        let side = case["resolution"].as_u64().unwrap() as u32;
        let classifier = Classifier::new(ort(model, side).top_k(5)).unwrap();
        assert_eq!(classifier.info().output_kind.name(), "probabilities", "{model}");
        let reference = case["reference"].as_str().unwrap();
        let worst = common::check_top5_probabilities(&classifier, case, reference, 1e-5);
        println!("ort {model} b{}: max score difference {worst:.2e}", case["batch"]);
    }
}

#[test]
fn batches_1_4_8_run_on_one_session() {
    let classifier = Classifier::new(ort("models/tiny_torch.onnx", 64)).unwrap();
    let per_image = 3 * 64 * 64;
    let one: Vec<f32> = (0..per_image).map(|i| ((i % 97) as f32 / 48.0) - 1.0).collect();
    let single = classifier.run_raw(&one, 1).unwrap();
    for batch in [1usize, 4, 8, 4, 1] {
        let input: Vec<f32> = one.iter().copied().cycle().take(per_image * batch).collect();
        let out = classifier.run_raw(&input, batch).unwrap();
        assert_eq!(out.len(), batch * single.len());
        for row in out.chunks(single.len()) {
            assert!(max_abs_diff(row, &single) <= 1e-5, "batch {batch}");
        }
    }
}

#[test]
fn gpu_providers_under_the_fail_policy_report_provider_unavailable() {
    let providers = [
        ExecutionProvider::Cuda { device_id: 0 },
        ExecutionProvider::TensorRt {
            device_id: 0,
            options: TensorRtOptions::default().fp16(true),
        },
    ];
    for provider in providers {
        let err = Classifier::new(
            ort("models/tiny_torch.onnx", 64)
                .execution_provider(provider.clone())
                .fallback(FallbackPolicy::Fail),
        )
        .err()
        .unwrap_or_else(|| panic!("{provider:?} ran on a CPU-only runtime"));
        println!("{}: {err}", provider.describe());
        assert_eq!(err.code(), ErrorCode::ProviderUnavailable, "{err}");
        let name = if provider.describe().starts_with("cuda") { "CUDA" } else { "TensorRT" };
        assert!(err.message().contains(name), "{err}");
    }
}

#[test]
fn gpu_providers_under_the_fallback_policy_run_on_the_cpu_and_say_so() {
    let cache = std::env::temp_dir().join(format!("resnext-trt-cache-{}", std::process::id()));
    let provider = ExecutionProvider::TensorRt {
        device_id: 0,
        options: TensorRtOptions::default().fp16(true).engine_cache_dir(&cache),
    };
    let fallback = Classifier::new(
        ort("models/tiny_torch.onnx", 64)
            .execution_provider(provider)
            .fallback(FallbackPolicy::NextProvider),
    )
    .unwrap();
    assert_eq!(fallback.info().provider, "cpu");
    assert_eq!(fallback.info().backend, "ort");
    let cpu = Classifier::new(ort("models/tiny_torch.onnx", 64)).unwrap();
    let input = vec![0.25f32; 3 * 64 * 64];
    assert_eq!(fallback.run_raw(&input, 1).unwrap(), cpu.run_raw(&input, 1).unwrap());
    // TensorRT was never usable, so no engine cache was created for it.
    assert!(!cache.exists(), "{} was created without TensorRT", cache.display());

    let cuda = Classifier::new(
        ort("models/tiny_torch.onnx", 64)
            .execution_provider(ExecutionProvider::Cuda { device_id: 3 })
            .fallback(FallbackPolicy::NextProvider),
    )
    .unwrap();
    assert_eq!(cuda.info().provider, "cpu");
}

#[test]
fn a_second_runtime_library_in_one_process_is_refused() {
    Classifier::new(ort("models/tiny_torch.onnx", 64)).unwrap();
    let other = std::env::temp_dir().join("libonnxruntime-other.so");
    std::fs::write(&other, b"not a library").unwrap();
    let err = Classifier::new(ort("models/tiny_torch.onnx", 64).ort_library(&other)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument, "{err}");
    assert!(err.message().contains("already loaded"), "{err}");
    std::fs::remove_file(other).unwrap();
}

#[test]
fn malformed_models_give_the_same_errors_as_with_tract() {
    for (model, code) in [
        ("models/truncated.onnx", ErrorCode::ModelDecode),
        ("models/random.onnx", ErrorCode::ModelDecode),
        ("models/not_classifier.onnx", ErrorCode::ModelUnsupported),
        ("models/bad_input_rank.onnx", ErrorCode::ModelUnsupported),
    ] {
        let err = Classifier::new(ort(model, 64)).err().unwrap_or_else(|| panic!("{model} loaded"));
        assert_eq!(err.code(), code, "{model}: {err}");
    }
    let err = Classifier::new(ort("models/unsupported_op.onnx", 64)).unwrap_err();
    assert!(
        matches!(err.code(), ErrorCode::ModelUnsupported | ErrorCode::Inference),
        "unsupported op: {err}"
    );
}

#[test]
fn one_ort_classifier_serves_many_threads_with_identical_results() {
    let classifier =
        std::sync::Arc::new(Classifier::new(ort("models/tiny_torch.onnx", 64)).unwrap());
    let input: Vec<f32> = (0..3 * 64 * 64).map(|i| (i % 13) as f32 / 13.0).collect();
    let expected = classifier.run_raw(&input, 1).unwrap();
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (c, input, expected) = (classifier.clone(), input.clone(), expected.clone());
            std::thread::spawn(move || {
                for _ in 0..50 {
                    assert_eq!(c.run_raw(&input, 1).unwrap(), expected);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

/// A model that loads and then fails while running (fixture `fails_at_run.onnx`: a Gather
/// index out of range): ONNX Runtime refuses it with `Inference`, call after call, and the
/// session stays usable (tract panics on the same model: `Panic`, see tests/errors.rs).
#[test]
fn a_model_failing_while_running_is_an_inference_error() {
    let config = PreprocessConfig { resize_short: 73, crop: 64, ..Default::default() };
    let classifier = Classifier::new(
        ClassifierOptions::from_path(fixture("models/fails_at_run.onnx"))
            .preprocess(config)
            .labels(LabelSource::None)
            .backend(BackendKind::Ort)
            .ort_library(ort_library())
            .threads(1),
    )
    .unwrap();
    let photo = fixture("preprocess/chelsea.png");
    for _ in 0..2 {
        let err = classifier.classify(ImageInput::Path(&photo)).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Inference, "{err}");
        assert!(err.message().contains("Gather"), "{err}");
    }
}
