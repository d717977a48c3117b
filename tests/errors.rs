//! Every error path of the Rust API gives its documented code and a clear message.

mod common;

use common::fixture;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, recording the largest single allocation made by the calling thread
/// while [`largest_allocation`] watches it: "refused before allocating" is checked as a limit
/// that is hit or not, whatever the machine's speed or load.
struct PeakAllocator;

thread_local! {
    static WATCHING: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for PeakAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn record(size: usize) {
    // `try_with`: allocations during thread teardown, after the thread-locals are gone.
    let _ = WATCHING.try_with(|watching| {
        if watching.get() {
            let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
        }
    });
}

#[global_allocator]
static ALLOCATOR: PeakAllocator = PeakAllocator;

/// Runs `f` and returns its result with the largest single allocation it made on this thread.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|largest| largest.set(0));
    WATCHING.with(|watching| watching.set(true));
    let out = f();
    WATCHING.with(|watching| watching.set(false));
    (out, LARGEST.with(|largest| largest.get()))
}
use resnext::{
    Classifier, ClassifierOptions, ErrorCode, ImageInput, LabelSource, PixelBuffer, PixelFormat,
    PreprocessConfig, Rotation,
};

fn tiny_config() -> PreprocessConfig {
    PreprocessConfig { resize_short: 73, crop: 64, ..Default::default() }
}

fn tiny() -> Classifier {
    Classifier::new(
        ClassifierOptions::from_path(fixture("models/tiny_torch.onnx"))
            .preprocess(tiny_config())
            .labels(LabelSource::None),
    )
    .unwrap()
}

fn load_error(model: &str) -> resnext::Error {
    Classifier::new(
        ClassifierOptions::from_path(fixture(model))
            .preprocess(tiny_config())
            .labels(LabelSource::None),
    )
    .unwrap_err()
}

#[test]
fn missing_model_is_an_io_error() {
    let err = load_error("models/does_not_exist.onnx");
    assert_eq!(err.code(), ErrorCode::Io, "{err}");
    assert!(err.message().contains("does_not_exist.onnx"), "{err}");
}

#[test]
fn corrupt_models_are_decode_errors() {
    for model in ["models/truncated.onnx", "models/random.onnx"] {
        let err = load_error(model);
        assert_eq!(err.code(), ErrorCode::ModelDecode, "{model}: {err}");
        println!("{model}: {err}");
    }
    let empty = Classifier::new(ClassifierOptions::from_bytes(Vec::new())).unwrap_err();
    assert_eq!(empty.code(), ErrorCode::ModelDecode);
}

#[test]
fn non_classifiers_are_refused() {
    for model in
        ["models/not_classifier.onnx", "models/bad_input_rank.onnx", "models/unsupported_op.onnx"]
    {
        let err = load_error(model);
        assert_eq!(err.code(), ErrorCode::ModelUnsupported, "{model}: {err}");
        println!("{model}: {err}");
    }
}

#[test]
fn model_size_limit_is_checked_before_reading() {
    let err = Classifier::new(
        ClassifierOptions::from_path(fixture("models/tiny_torch.onnx")).max_model_bytes(1000),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::LimitExceeded, "{err}");
}

#[test]
fn model_from_bytes_equals_model_from_path() {
    let bytes = std::fs::read(fixture("models/tiny_torch.onnx")).unwrap();
    let from_bytes = Classifier::new(
        ClassifierOptions::from_bytes(bytes).preprocess(tiny_config()).labels(LabelSource::None),
    )
    .unwrap();
    let png = std::fs::read(fixture("preprocess/chelsea.png")).unwrap();
    let a = from_bytes.classify(ImageInput::Encoded(&png)).unwrap();
    let b = tiny().classify(ImageInput::Encoded(&png)).unwrap();
    assert_eq!(a.predictions, b.predictions);
}

/// The tiny model stored after `skip` bytes of something else, as an asset inside an APK.
fn packed_model(skip: usize) -> (std::fs::File, u64) {
    use std::io::{Seek, Write};
    let model = std::fs::read(fixture("models/tiny_torch.onnx")).unwrap();
    let path =
        std::env::temp_dir().join(format!("resnext-packed-{}-{skip}.bin", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    file.write_all(&vec![0x5a; skip]).unwrap();
    file.write_all(&model).unwrap();
    file.rewind().unwrap();
    (file, model.len() as u64)
}

#[cfg(unix)]
#[test]
fn model_from_a_file_range_equals_model_from_path() {
    use resnext::FileRange;
    use std::io::Seek;
    use std::os::fd::AsFd;
    let (mut file, len) = packed_model(100);
    let options = |range| {
        ClassifierOptions::from_file_range(range)
            .preprocess(tiny_config())
            .labels(LabelSource::None)
    };
    let from_fd =
        Classifier::new(options(FileRange::from_fd(file.as_fd(), 100, len).unwrap())).unwrap();
    assert_eq!(file.stream_position().unwrap(), 0, "the caller's offset moved");
    let png = std::fs::read(fixture("preprocess/chelsea.png")).unwrap();
    let a = from_fd.classify(ImageInput::Encoded(&png)).unwrap();
    let b = tiny().classify(ImageInput::Encoded(&png)).unwrap();
    assert_eq!(a.predictions, b.predictions);
    // Ranges past the end, empty ranges: refused when the range is made.
    for (offset, length) in [(100, len + 1), (0, 0), (101 + len, 1), (u64::MAX, 1)] {
        let e = FileRange::from_fd(file.as_fd(), offset, length).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "{offset} {length}: {e}");
    }
    // The size limit applies to the range; a range one byte early is not a model.
    let range = FileRange::from_fd(file.as_fd(), 100, len).unwrap();
    let e = Classifier::new(options(range.clone()).max_model_bytes(len - 1)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::LimitExceeded, "{e}");
    let early = FileRange::from_fd(file.as_fd(), 99, len).unwrap();
    assert_eq!(Classifier::new(options(early)).unwrap_err().code(), ErrorCode::ModelDecode);
    // A file cut after the range was made: the read fails cleanly.
    file.set_len(50).unwrap();
    let e = Classifier::new(options(range)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
}

#[test]
fn score_threshold_drops_predictions_and_labels_are_looked_up_by_id() {
    let png = std::fs::read(fixture("preprocess/chelsea.png")).unwrap();
    let options = || {
        ClassifierOptions::from_path(fixture("models/tiny_torch.onnx"))
            .preprocess(tiny_config())
            .labels(LabelSource::List((0..10).map(|i| format!("class {i}")).collect()))
    };
    let all = Classifier::new(options()).unwrap().classify(ImageInput::Encoded(&png)).unwrap();
    assert_eq!(all.predictions.len(), 5);
    let cut = (all.predictions[1].score + all.predictions[2].score) / 2.0;
    assert!(all.predictions[1].score > all.predictions[2].score);
    let strict = Classifier::new(options().score_threshold(cut)).unwrap();
    assert_eq!(strict.score_threshold(), cut);
    let kept = strict.classify(ImageInput::Encoded(&png)).unwrap();
    assert_eq!(kept.predictions, all.predictions[..2]);
    assert!(all.predictions[0].score < 1.0);
    let none = Classifier::new(options().score_threshold(1.0)).unwrap();
    let batch =
        none.classify_batch(&[ImageInput::Encoded(&png), ImageInput::Encoded(&png)]).unwrap();
    assert!(batch.iter().all(|r| r.predictions.is_empty()));
    for bad in [-0.1, 1.5, f32::NAN] {
        let e = Classifier::new(options().score_threshold(bad)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "{bad}: {e}");
    }
    assert_eq!(strict.label(3).unwrap(), "class 3");
    assert_eq!(strict.label(all.predictions[0].class_id).unwrap(), all.predictions[0].label);
    let e = strict.label(10).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    assert!(e.message().contains("10 classes"), "{e}");
    assert_eq!(tiny().label(9).unwrap(), "");
}

#[test]
fn preprocessing_that_does_not_fit_the_model_is_refused() {
    let err = Classifier::new(
        ClassifierOptions::from_path(fixture("models/tiny_torch.onnx")).labels(LabelSource::None),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument, "{err}");
    assert!(err.message().contains("64x64"), "{err}");
}

#[test]
fn label_mismatch_is_an_error_unless_allowed() {
    // tiny models have 10 classes; the built-in list has 1000.
    let options =
        ClassifierOptions::from_path(fixture("models/tiny_torch.onnx")).preprocess(tiny_config());
    let err = Classifier::new(options.clone()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Labels, "{err}");
    let allowed = Classifier::new(options.clone().allow_label_mismatch(true)).unwrap();
    let png = std::fs::read(fixture("preprocess/chelsea.png")).unwrap();
    assert_eq!(allowed.classify(ImageInput::Encoded(&png)).unwrap().predictions.len(), 5);
    let ten: Vec<String> = (0..10).map(|i| format!("class {i}")).collect();
    let labelled = Classifier::new(options.labels(LabelSource::List(ten))).unwrap();
    let result = labelled.classify(ImageInput::Encoded(&png)).unwrap();
    let best = &result.predictions[0];
    assert_eq!(best.label, format!("class {}", best.class_id));
    let missing = Classifier::new(
        ClassifierOptions::from_path(fixture("models/tiny_torch.onnx"))
            .preprocess(tiny_config())
            .labels(LabelSource::File("no/such/labels.txt".into())),
    )
    .unwrap_err();
    assert_eq!(missing.code(), ErrorCode::Io);
}

#[test]
fn bad_images_are_refused() {
    let classifier = tiny();
    let png = std::fs::read(fixture("preprocess/chelsea.png")).unwrap();
    let cases: Vec<(&str, Vec<u8>, ErrorCode)> = vec![
        ("empty", vec![], ErrorCode::ImageDecode),
        ("garbage", b"GIF89a not really".to_vec(), ErrorCode::ImageDecode),
        ("truncated", png[..png.len() / 3].to_vec(), ErrorCode::ImageDecode),
        (
            "random",
            (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect(),
            ErrorCode::ImageDecode,
        ),
    ];
    for (name, bytes, code) in cases {
        let err = classifier.classify(ImageInput::Encoded(&bytes)).unwrap_err();
        assert_eq!(err.code(), code, "{name}: {err}");
    }
    let err = classifier.classify(ImageInput::Path("no/such/image.jpg".as_ref())).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Io, "{err}");
}

/// Prefixes of real photographs (JPEG and PNG): the first 3,000 bytes, half, and all but the
/// last 2 bytes. By default each fails with IMAGE_DECODE saying it is truncated, from bytes and
/// from a file; with `allow_truncated_images` the cuts after the headers classify as partial
/// frames, and a cut inside the headers still fails as truncated.
#[test]
fn truncated_photographs_are_refused_unless_allowed() {
    let strict = tiny();
    let lenient = Classifier::new(
        ClassifierOptions::from_path(fixture("models/tiny_torch.onnx"))
            .preprocess(tiny_config())
            .labels(LabelSource::None)
            .allow_truncated_images(true),
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("resnext-truncated-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for photo in ["rocket.jpg", "retina.jpg", "hubble_deep_field.jpg", "chelsea.png", "coffee.png"]
    {
        let bytes = std::fs::read(fixture(&format!("preprocess/{photo}"))).unwrap();
        let whole = strict.classify(ImageInput::Encoded(&bytes)).unwrap();
        assert_eq!(
            lenient.classify(ImageInput::Encoded(&bytes)).unwrap().predictions,
            whole.predictions
        );
        for cut in [3000, bytes.len() / 2, bytes.len() - 2] {
            let prefix = &bytes[..cut];
            let err = strict.classify(ImageInput::Encoded(prefix)).unwrap_err();
            assert_eq!(err.code(), ErrorCode::ImageDecode, "{photo}[..{cut}]: {err}");
            assert!(err.message().contains("truncated"), "{photo}[..{cut}]: {err}");
            let file = dir.join(format!("{cut}-{photo}"));
            std::fs::write(&file, prefix).unwrap();
            let err = strict.classify(ImageInput::Path(&file)).unwrap_err();
            assert_eq!(err.code(), ErrorCode::ImageDecode, "{}: {err}", file.display());
            assert!(err.message().contains("truncated"), "{}: {err}", file.display());
            match lenient.classify(ImageInput::Path(&file)) {
                Ok(partial) => assert_eq!(partial.predictions.len(), 5),
                // 3,000 bytes can end inside the headers (hubble's 12 kB EXIF, chelsea's iTXt).
                Err(e) if cut == 3000 => {
                    assert_eq!(e.code(), ErrorCode::ImageDecode, "{photo}[..{cut}]: {e}");
                    assert!(e.message().contains("truncated"), "{photo}[..{cut}]: {e}");
                }
                Err(e) => panic!("{photo}[..{cut}] with truncated images allowed: {e}"),
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn oversized_header_is_refused_without_allocating() {
    // PNG header claiming 100000 x 100000 (valid CRC): refused from the header alone.
    let mut bytes = std::fs::read(fixture("preprocess/chelsea.png")).unwrap();
    bytes[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bytes[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let mut crc = 0xFFFF_FFFFu32;
    for &b in &bytes[12..29] {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    bytes[29..33].copy_from_slice(&(!crc).to_be_bytes());
    let classifier = tiny();
    // Decoding 100000 x 100000 RGB would take 30 GB; refused from the header, the call's
    // largest allocation stays far below even one decoded row block of such an image.
    let (result, largest) = largest_allocation(|| classifier.classify(ImageInput::Encoded(&bytes)));
    let err = result.unwrap_err();
    assert_eq!(err.code(), ErrorCode::LimitExceeded, "{err}");
    assert!(largest < 4 << 20, "refusing the header allocated {largest} bytes at once");
}

/// Found by fuzzing (issue #8): an image within the pixel limit but with an extreme aspect
/// ratio (an 8 KB PNG of 1 x 2000000 pixels) made the short-side resize allocate 393 GB and
/// abort the process. It is now refused before the resize allocates.
#[test]
fn extreme_aspect_ratio_is_refused_not_a_crash() {
    let data = vec![128u8; 2_000_000 * 3];
    let thin = PixelBuffer::new(&data, 1, 2_000_000, PixelFormat::Rgb8);
    let classifier = tiny();
    // The resized image would be 256 x 512000000 pixels (393 GB); the refusal comes before the
    // resize allocates: nothing larger than a copy of the 6 MB input is allocated at once.
    let bound = 2 * data.len();
    let (result, largest) = largest_allocation(|| classifier.classify(ImageInput::Pixels(thin)));
    let err = result.unwrap_err();
    assert_eq!(err.code(), ErrorCode::LimitExceeded, "{err}");
    assert!(err.message().contains("aspect ratio"), "{err}");
    assert!(largest <= bound, "the refused resize allocated {largest} bytes at once");
    let (result, largest) = largest_allocation(|| {
        resnext::preprocess_image(
            ImageInput::Pixels(thin.with_rotation(Rotation::R90)),
            &PreprocessConfig::default(),
            100_000_000,
        )
    });
    let err = result.unwrap_err();
    assert_eq!(err.code(), ErrorCode::LimitExceeded, "{err}");
    assert!(largest <= bound, "the refused rotated resize allocated {largest} bytes at once");
}

/// `Classifier::preprocess` gives the tensor the classifier feeds its model: `3 x crop x crop`
/// values, equal to `preprocess_image` with the classifier's own configuration; its failures
/// carry the same codes as `classify`.
#[test]
fn classifier_preprocess_matches_preprocess_image() {
    let classifier = tiny();
    let bytes = std::fs::read(fixture("preprocess/chelsea.png")).unwrap();
    let tensor = classifier.preprocess(ImageInput::Encoded(&bytes)).unwrap();
    assert_eq!(tensor.len(), 3 * 64 * 64);
    let expected = resnext::preprocess_image(
        ImageInput::Encoded(&bytes),
        classifier.preprocess_config(),
        100_000_000,
    )
    .unwrap();
    assert_eq!(tensor, expected);
    assert!(tensor.iter().any(|v| *v != 0.0) && tensor.iter().all(|v| v.is_finite()));
    let err = classifier.preprocess(ImageInput::Encoded(&bytes[..100])).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ImageDecode, "{err}");
}

/// A model that loads but whose Gather indexes out of range while running (fixture
/// `fails_at_run.onnx`): tract panics inside the call; the SDK returns `Panic`, the process and
/// the classifier carry on (the same call fails the same way again).
#[test]
fn a_panic_while_running_is_the_panic_code() {
    let classifier = Classifier::new(
        ClassifierOptions::from_path(fixture("models/fails_at_run.onnx"))
            .preprocess(tiny_config())
            .labels(LabelSource::None),
    )
    .unwrap();
    let photo = fixture("preprocess/chelsea.png");
    for _ in 0..2 {
        let err = classifier.classify(ImageInput::Path(&photo)).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Panic, "{err}");
        assert!(err.message().contains("panic"), "{err}");
    }
}

#[test]
fn bad_pixel_buffers_are_refused() {
    let classifier = tiny();
    let data = vec![0u8; 100 * 100 * 3];
    let check = |buffer: PixelBuffer, code: ErrorCode| {
        let err = classifier.classify(ImageInput::Pixels(buffer)).unwrap_err();
        assert_eq!(err.code(), code, "{buffer:?}: {err}");
    };
    check(PixelBuffer::new(&data, 100, 101, PixelFormat::Rgb8), ErrorCode::BufferSize);
    check(PixelBuffer::new(&data, 100, 100, PixelFormat::Rgba8), ErrorCode::BufferSize);
    check(PixelBuffer::new(&data, 0, 100, PixelFormat::Rgb8), ErrorCode::ImageSize);
    check(
        PixelBuffer::new(&data, 100, 100, PixelFormat::Rgb8).with_stride(10),
        ErrorCode::InvalidArgument,
    );
    check(PixelBuffer::new(&data, 99, 100, PixelFormat::Nv21), ErrorCode::InvalidArgument);
    check(PixelBuffer::new(&data, 1 << 20, 1 << 20, PixelFormat::Nv21), ErrorCode::LimitExceeded);
    check(
        PixelBuffer::new(&data, 100, 100, PixelFormat::Rgb8).with_stride(usize::MAX / 2),
        ErrorCode::BufferSize,
    );
    // A small image that cannot be cropped after resizing is fine: it is resized up.
    let ok = classifier
        .classify(ImageInput::Pixels(PixelBuffer::new(&data[..12], 2, 2, PixelFormat::Rgb8)))
        .unwrap();
    assert_eq!(ok.predictions.len(), 5);
    assert!(Rotation::from_degrees(91).is_err());
}

#[test]
fn bad_tensors_and_batches_are_refused() {
    let classifier = tiny();
    let per_image = 3 * 64 * 64;
    let err = classifier.classify_tensor(&vec![0.0; per_image - 1], 1).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument, "{err}");
    let err = classifier.classify_tensor(&[], 0).unwrap_err();
    assert_eq!(err.code(), ErrorCode::LimitExceeded, "{err}");
    let err = classifier.classify_batch(&[]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument, "{err}");
    let png = std::fs::read(fixture("preprocess/chelsea.png")).unwrap();
    let err = classifier
        .classify_batch(&[ImageInput::Encoded(&png), ImageInput::Encoded(b"junk")])
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ImageDecode);
    assert!(err.message().starts_with("image 1:"), "{err}");
}

#[test]
fn invalid_options_are_refused() {
    let base =
        ClassifierOptions::from_path(fixture("models/tiny_torch.onnx")).labels(LabelSource::None);
    let bad = PreprocessConfig { resize_short: 64, crop: 73, ..Default::default() };
    assert_eq!(
        Classifier::new(base.clone().preprocess(bad)).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    // TensorRT's DLA cores are 0 and 1 (Jetson Xavier and Orin), as the C header says.
    for (core, ok) in [(0, true), (1, true), (2, false), (1000, false)] {
        let provider = resnext::ExecutionProvider::TensorRt {
            device_id: 0,
            options: resnext::TensorRtOptions::default().dla_core(core),
        };
        let result =
            Classifier::new(base.clone().preprocess(tiny_config()).execution_provider(provider));
        match result {
            Ok(_) => assert!(ok, "DLA core {core} accepted"),
            Err(e) => {
                assert!(!ok, "DLA core {core}: {e}");
                assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
                assert!(e.message().contains(&format!("DLA core {core}")), "{e}");
            }
        }
    }
    let zero_k = base.clone().preprocess(tiny_config()).top_k(0);
    assert_eq!(Classifier::new(zero_k).unwrap_err().code(), ErrorCode::InvalidArgument);
    let big_k = Classifier::new(base.preprocess(tiny_config()).top_k(50)).unwrap();
    let png = std::fs::read(fixture("preprocess/chelsea.png")).unwrap();
    assert_eq!(big_k.classify(ImageInput::Encoded(&png)).unwrap().predictions.len(), 10);
}

#[test]
fn device_files_and_huge_files_are_bounded() {
    // /dev/zero never ends: both the image and the model reads stop at their limits.
    let classifier = tiny();
    let err = classifier.classify(ImageInput::Path("/dev/zero".as_ref())).unwrap_err();
    assert!(matches!(err.code(), ErrorCode::LimitExceeded), "{err}");
    let err = Classifier::new(
        ClassifierOptions::from_path("/dev/zero")
            .max_model_bytes(1 << 20)
            .preprocess(tiny_config()),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::LimitExceeded, "{err}");
}
