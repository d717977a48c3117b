//! One classifier shared by many threads gives the same results as serial runs.

mod common;

use common::fixture;
use resnext::{
    Classifier, ClassifierOptions, CpuKernels, ImageInput, LabelSource, PreprocessConfig,
};
use std::sync::Arc;

#[test]
fn shared_classifier_matches_serial_results() {
    shared_matches_serial("models/tiny_paddle.onnx", CpuKernels::Auto);
}

/// The INT8 models on the kernel layer's operators (both quantization flavours, AMX or VNNI
/// as this CPU has them, and the scalar reference): the integer kernels are deterministic, so
/// shared runs equal serial ones exactly.
#[test]
fn shared_int8_classifier_on_the_kernel_layer_matches_serial_results() {
    for model in ["models/tiny_int8.onnx", "models/tiny_paddle_int8_s8.onnx"] {
        for kernels in [CpuKernels::Auto, CpuKernels::Scalar] {
            shared_matches_serial(model, kernels);
        }
    }
}

/// The FP32 models on the kernel layer's float convolutions (AVX-512 or AVX2 where the CPU has it;
/// the scalar reference, slow, is checked against ONNX Runtime in tests/parity.rs): each output
/// value is computed by one thread in a fixed order, so shared runs equal serial ones exactly.
#[test]
fn shared_fp32_classifier_on_the_kernel_layer_matches_serial_results() {
    for model in ["models/tiny_torch.onnx", "models/tiny_paddle.onnx"] {
        shared_matches_serial(model, CpuKernels::Auto);
    }
}

/// The FP32 models in the bf16 mode (their 1x1 and 32-channel-group convolutions on the AMX
/// bf16 kernel, each call with its own thread's tile state, or on AVX512-BF16): shared runs equal serial ones.
#[test]
fn shared_bf16_classifier_matches_serial_results() {
    for model in ["models/tiny_torch.onnx", "models/tiny_paddle.onnx"] {
        shared_matches_serial_with(model, CpuKernels::Auto, true);
    }
}

fn shared_matches_serial(model: &str, kernels: CpuKernels) {
    shared_matches_serial_with(model, kernels, false)
}

fn shared_matches_serial_with(model: &str, kernels: CpuKernels, bf16: bool) {
    let classifier = Arc::new(
        Classifier::new(
            ClassifierOptions::from_path(fixture(model))
                .bf16_matmul(bf16)
                .preprocess(PreprocessConfig { resize_short: 73, crop: 64, ..Default::default() })
                .labels(LabelSource::None)
                .allow_label_mismatch(true)
                .cpu_kernels(kernels)
                .threads(2),
        )
        .unwrap(),
    );
    let compute = &classifier.info().compute;
    // `Auto` engages the INT8 layer where the CPU has AVX512-VNNI or AMX-INT8 (else tract's
    // float path runs the QDQ graph); `Scalar` everywhere.
    let int8_layer = kernels == CpuKernels::Scalar
        || (kernels == CpuKernels::Auto
            && resnext::kernels::cpu::best() != resnext::kernels::cpu::Isa::Scalar);
    if model.contains("int8") && int8_layer {
        assert!(compute.starts_with("int8 on "), "{model}: {compute}");
    } else if kernels == CpuKernels::Scalar {
        assert!(compute.starts_with("f32 on scalar"), "{model}: {compute}");
    }
    if let Some(isa) = resnext::kernels::bgemm::BIsa::best().filter(|_| bf16) {
        assert!(compute.starts_with(&format!("bf16 on {}: ", isa.label())), "{model}: {compute}");
    }
    let images: Vec<Vec<u8>> = ["chelsea.png", "coffee.png", "astronaut.png"]
        .iter()
        .map(|f| std::fs::read(fixture(&format!("preprocess/{f}"))).unwrap())
        .collect();
    let serial: Vec<_> = images
        .iter()
        .map(|b| classifier.classify(ImageInput::Encoded(b)).unwrap().predictions)
        .collect();
    let images = Arc::new(images);
    let serial = Arc::new(serial);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (classifier, images, serial) = (classifier.clone(), images.clone(), serial.clone());
            std::thread::spawn(move || {
                for i in 0..30 {
                    let k = (t + i) % images.len();
                    if i % 5 == 0 {
                        // Batches of different sizes interleave with single images.
                        let batch: Vec<_> = images.iter().map(|b| ImageInput::Encoded(b)).collect();
                        let results = classifier.classify_batch(&batch).unwrap();
                        // A batch-3 plan may round differently from the batch-1 plan.
                        for (r, s) in results.iter().zip(serial.iter()) {
                            for (a, b) in r.predictions.iter().zip(s) {
                                assert_eq!(a.class_id, b.class_id);
                                assert!((a.score - b.score).abs() < 1e-5);
                            }
                        }
                    } else {
                        let r = classifier.classify(ImageInput::Encoded(&images[k])).unwrap();
                        assert_eq!(r.predictions, serial[k], "thread {t} iteration {i}");
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}
