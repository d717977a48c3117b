//! ONNX model bytes through everything `Classifier::new` does: the size limit, protobuf
//! decoding, graph inspection (input, output, precision, parameters), float16 widening, tract's
//! parsing, typing, decluttering and the optimization of the batch-1 plan; then, when the model
//! loads, `info()` and one classification of an 8 x 8 image.
//!
//! The seeds are 8 x 8 classifiers of a few hundred bytes (fuzz/make_seeds.py) so a load takes
//! milliseconds; `max_model_bytes` is 64 KiB so larger inputs exercise the limit.

use crate::{contain_panics, expect_code};
use resnext::{
    Classifier, ClassifierOptions, ErrorCode, ImageInput, LabelSource, PixelBuffer, PixelFormat,
    PreprocessConfig, Preset,
};

/// One fuzz input through this target; aborts (after printing why) when an invariant fails.
pub fn run(data: &[u8]) {
    contain_panics();
    let config = PreprocessConfig { resize_short: 8, crop: 8, ..Preset::Wsl224.config() };
    let options = ClassifierOptions::from_bytes(data.to_vec())
        .preprocess(config)
        .threads(1)
        .top_k(3)
        .labels(LabelSource::None)
        .max_model_bytes(64 << 10);
    match Classifier::new(options) {
        Ok(classifier) => {
            let info = classifier.info();
            check!(info.classes > 0 && info.height == 8 && info.width == 8, "bad info {info:?}");
            check!(
                classifier.top_k() >= 1 && classifier.top_k() <= 3,
                "top_k {}",
                classifier.top_k()
            );
            let pixels = [128u8; 8 * 8 * 3];
            let image = ImageInput::Pixels(PixelBuffer::new(&pixels, 8, 8, PixelFormat::Rgb8));
            match classifier.classify(image) {
                Ok(result) => {
                    check!(
                        result.predictions.len() == classifier.top_k(),
                        "{} predictions for top-{}",
                        result.predictions.len(),
                        classifier.top_k()
                    );
                    for p in &result.predictions {
                        check!(
                            p.class_id < info.classes,
                            "class {} of {}",
                            p.class_id,
                            info.classes
                        );
                    }
                }
                // A graph that loads can still fail at run time (a Reshape to an impossible
                // shape...): that must be an error, not a crash.
                Err(e) => expect_code(&e, &[ErrorCode::Inference], "model_load classify"),
            }
        }
        Err(e) => expect_code(
            &e,
            &[
                ErrorCode::ModelDecode,
                ErrorCode::ModelUnsupported,
                ErrorCode::InvalidArgument,
                ErrorCode::LimitExceeded,
                ErrorCode::Inference,
            ],
            "model_load",
        ),
    }
}
