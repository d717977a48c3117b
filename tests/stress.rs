//! The Rust side of the concurrency stress run (issue #8), the twin of `tests/c/stress.c` and
//! `tests/java/Stress.java`: one classifier shared by many threads doing thousands of
//! classifications, each compared bit for bit with the serial result for the same input.
//!
//! Ignored by default (it is a load test, not a unit test); `scripts/hardening.sh` runs it:
//!
//! ```sh
//! RESNEXT_STRESS_MODEL=testdata/models/tiny_torch.onnx RESNEXT_STRESS_SIDE=64 \
//! RESNEXT_STRESS_THREADS=8 RESNEXT_STRESS_TOTAL=4000 RESNEXT_STRESS_IMAGES=a.png:b.jpg \
//!   cargo test --release --features jni --test stress -- --ignored --nocapture
//! ```
//!
//! Without `RESNEXT_STRESS_MODEL` it uses the 8 x 8 fuzzing model `fuzz/models/tiny.onnx` and
//! the fuzzing seed images, so it needs no generated fixtures.

use resnext::{
    Classifier, ClassifierOptions, ImageInput, LabelSource, PixelBuffer, PixelFormat, Prediction,
    PreprocessConfig, Rotation,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A deterministic frame (gradient and blocks), `rows` rows of `stride` bytes.
fn synthetic(rows: usize, stride: usize, seed: usize) -> Vec<u8> {
    (0..rows * stride)
        .map(|i| {
            let (x, y) = (i % stride, i / stride);
            (x * 7 + y * 13 + seed * 31 + ((x / 16 + y / 16) % 2) * 90) as u8
        })
        .collect()
}

enum Owned {
    Path(PathBuf),
    Bytes(Vec<u8>),
    Pixels { data: Vec<u8>, stride: usize, format: PixelFormat, rotation: Rotation },
}

impl Owned {
    fn input(&self) -> ImageInput<'_> {
        match self {
            Owned::Path(p) => ImageInput::Path(p),
            Owned::Bytes(b) => ImageInput::Encoded(b),
            Owned::Pixels { data, stride, format, rotation } => ImageInput::Pixels(
                PixelBuffer::new(data, 96, 80, *format)
                    .with_stride(*stride)
                    .with_rotation(*rotation),
            ),
        }
    }
}

#[test]
#[ignore = "load test: scripts/hardening.sh runs it"]
fn stress_shared_classifier() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = std::env::var_os("RESNEXT_STRESS_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("fuzz/models/tiny.onnx"));
    let side = env_or("RESNEXT_STRESS_SIDE", 8) as u32;
    let threads = env_or("RESNEXT_STRESS_THREADS", 8).max(1);
    let total = env_or("RESNEXT_STRESS_TOTAL", 4000);
    let images: Vec<PathBuf> = match std::env::var("RESNEXT_STRESS_IMAGES") {
        Ok(list) => list.split(':').map(PathBuf::from).collect(),
        Err(_) => ["rgb.png", "rgb.jpg", "lossy.webp", "rgb.bmp", "exif6.jpg"]
            .iter()
            .map(|f| root.join("fuzz/seeds/image_decode").join(f))
            .collect(),
    };
    let classifier = Arc::new(
        Classifier::new(
            ClassifierOptions::from_path(&model)
                .preprocess(PreprocessConfig {
                    resize_short: side + side / 8,
                    crop: side,
                    ..Default::default()
                })
                .labels(LabelSource::None)
                .top_k(5)
                .threads(1),
        )
        .unwrap(),
    );
    let mut inputs = Vec::new();
    for path in &images {
        inputs.push(Owned::Path(path.clone()));
        inputs.push(Owned::Bytes(std::fs::read(path).unwrap()));
    }
    for (f, format) in PixelFormat::ALL.into_iter().enumerate() {
        for r in 0..4usize {
            let yuv = format.bytes_per_pixel().is_none();
            let stride = 96 * format.bytes_per_pixel().unwrap_or(1) + r * 4;
            let rows = if yuv { 120 } else { 80 };
            let rotation = Rotation::from_degrees(r as u32 * 90).unwrap();
            let data = synthetic(rows, stride, f * 4 + r);
            inputs.push(Owned::Pixels { data, stride, format, rotation });
        }
    }
    let inputs = Arc::new(inputs);
    let n = inputs.len();
    let classify = |c: &Classifier, k: usize| -> Vec<Prediction> {
        c.classify(inputs[k].input()).unwrap().predictions
    };
    let pair = |c: &Classifier, k: usize| -> Vec<Vec<Prediction>> {
        let batch = [inputs[k].input(), inputs[(k + 1) % n].input()];
        c.classify_batch(&batch).unwrap().into_iter().map(|r| r.predictions).collect()
    };
    let serial: Arc<Vec<_>> = Arc::new((0..n).map(|k| classify(&classifier, k)).collect());
    let serial_pairs: Arc<Vec<_>> = Arc::new((0..n).map(|k| pair(&classifier, k)).collect());
    let per_thread = total.div_ceil(threads);
    let divergent = Arc::new(AtomicUsize::new(0));
    let classifications = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (classifier, serial, serial_pairs) = (&classifier, &serial, &serial_pairs);
            let (divergent, classifications) = (&divergent, &classifications);
            let (classify, pair) = (&classify, &pair);
            scope.spawn(move || {
                for i in 0..per_thread {
                    let k = (t * 7 + i) % n;
                    let same = if i % 8 == 7 {
                        classifications.fetch_add(2, Ordering::Relaxed);
                        pair(classifier, k) == serial_pairs[k]
                    } else {
                        classifications.fetch_add(1, Ordering::Relaxed);
                        classify(classifier, k) == serial[k]
                    };
                    if !same {
                        divergent.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let secs = began.elapsed().as_secs_f64();
    let (done, bad) = (classifications.load(Ordering::Relaxed), divergent.load(Ordering::Relaxed));
    println!(
        "Rust stress: {threads} threads x {per_thread} calls = {} calls ({done} classifications, \
         {n} inputs) in {secs:.2} s: {:.0} classifications/s, {bad} divergent from serial, 0 failed",
        threads * per_thread,
        done as f64 / secs
    );
    assert_eq!(bad, 0, "{bad} results differ from the serial run");
}
