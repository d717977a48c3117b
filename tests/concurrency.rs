//! One classifier shared by many threads gives the same results as serial runs.

mod common;

use common::fixture;
use resnext::{Classifier, ClassifierOptions, ImageInput, LabelSource, PreprocessConfig};
use std::sync::Arc;

#[test]
fn shared_classifier_matches_serial_results() {
    let classifier = Arc::new(
        Classifier::new(
            ClassifierOptions::from_path(fixture("models/tiny_paddle.onnx"))
                .preprocess(PreprocessConfig { resize_short: 73, crop: 64, ..Default::default() })
                .labels(LabelSource::None)
                .threads(2),
        )
        .unwrap(),
    );
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
