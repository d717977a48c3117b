//! One behavioural suite run against both surfaces: each case goes through the Rust API and
//! through the C ABI (called from Rust), and both must give the same error code, or the same
//! predictions.

mod common;

use common::fixture;
use resnext::ffi::classifier::*;
use resnext::ffi::options::*;
use resnext::ffi::types::*;
use resnext::{
    Classifier, ClassifierOptions, ErrorCode, ImageInput, LabelSource, PixelBuffer, PixelFormat,
    PreprocessConfig, Rotation,
};
use std::ffi::{CStr, CString};

/// An image case, expressed once for both surfaces.
#[derive(Clone)]
enum Case {
    Encoded(Vec<u8>),
    Pixels { data: Vec<u8>, width: u32, height: u32, stride: usize, format: u32, rotation: u32 },
    File(String),
}

fn rust_result(c: &Classifier, case: &Case) -> Result<Vec<(usize, f32)>, ErrorCode> {
    let input = match case {
        Case::Encoded(bytes) => ImageInput::Encoded(bytes),
        Case::File(path) => ImageInput::Path(path.as_ref()),
        Case::Pixels { data, width, height, stride, format, rotation } => {
            let format = PixelFormat::from_u32(*format).ok_or(ErrorCode::InvalidArgument)?;
            let rotation = Rotation::from_degrees(*rotation).map_err(|e| e.code())?;
            ImageInput::Pixels(PixelBuffer {
                data,
                width: *width,
                height: *height,
                row_stride: *stride,
                format,
                rotation,
            })
        }
    };
    c.classify(input)
        .map(|r| r.predictions.iter().map(|p| (p.class_id, p.score)).collect())
        .map_err(|e| e.code())
}

fn c_result(c: *const resnext_classifier, case: &Case) -> Result<Vec<(usize, f32)>, u32> {
    let path = match case {
        Case::File(p) => CString::new(p.as_str()).unwrap(),
        _ => CString::default(),
    };
    let image = match case {
        Case::Encoded(bytes) => resnext_image {
            kind: resnext_image_kind::Encoded as u32,
            data: bytes.as_ptr(),
            len: bytes.len(),
            ..Default::default()
        },
        Case::File(_) => resnext_image { path: path.as_ptr(), ..Default::default() },
        Case::Pixels { data, width, height, stride, format, rotation } => resnext_image {
            kind: resnext_image_kind::Pixels as u32,
            data: data.as_ptr(),
            len: data.len(),
            width: *width,
            height: *height,
            row_stride: *stride,
            pixel_format: *format,
            rotation: *rotation,
            ..Default::default()
        },
    };
    let mut out = [resnext_prediction { class_id: 0, score: 0.0, label: std::ptr::null() }; 5];
    let mut count = 0usize;
    let rc = unsafe {
        resnext_classify(c, &image, out.as_mut_ptr(), out.len(), &mut count, std::ptr::null_mut())
    };
    if rc != resnext_result::Ok {
        return Err(rc as u32);
    }
    Ok(out[..count].iter().map(|p| (p.class_id as usize, p.score)).collect())
}

#[test]
fn rust_api_and_c_abi_behave_the_same() {
    let model = fixture("models/tiny_torch.onnx");
    let config = PreprocessConfig { resize_short: 73, crop: 64, ..Default::default() };
    let rust = Classifier::new(
        ClassifierOptions::from_path(&model)
            .preprocess(config)
            .labels(LabelSource::None)
            .threads(1),
    )
    .unwrap();
    let options = resnext_options_new();
    let path = CString::new(model.to_str().unwrap()).unwrap();
    let (mean, std) = (config.mean, config.std);
    let mut c: *mut resnext_classifier = std::ptr::null_mut();
    unsafe {
        assert_eq!(resnext_options_set_model_path(options, path.as_ptr()), resnext_result::Ok);
        assert_eq!(
            resnext_options_set_preprocess(options, 73, 64, mean.as_ptr(), std.as_ptr()),
            resnext_result::Ok
        );
        assert_eq!(resnext_options_set_no_labels(options), resnext_result::Ok);
        assert_eq!(resnext_options_set_threads(options, 1), resnext_result::Ok);
        assert_eq!(resnext_classifier_new(options, &mut c), resnext_result::Ok);
        resnext_options_free(options);
    }

    let png = std::fs::read(fixture("preprocess/chelsea.png")).unwrap();
    let grey = vec![128u8; 40 * 30 * 4];
    let pixels = |data: &[u8], width, height, stride, format: PixelFormat, rotation| Case::Pixels {
        data: data.to_vec(),
        width,
        height,
        stride,
        format: format as u32,
        rotation,
    };
    let cases: Vec<(&str, Case)> = vec![
        ("png", Case::Encoded(png.clone())),
        ("truncated png", Case::Encoded(png[..png.len() / 2].to_vec())),
        ("empty bytes", Case::Encoded(Vec::new())),
        ("garbage", Case::Encoded(b"definitely not an image".to_vec())),
        ("file", Case::File(fixture("preprocess/coffee.png").to_string_lossy().into_owned())),
        ("missing file", Case::File("no/such/file.png".into())),
        ("rgba", pixels(&grey, 40, 30, 0, PixelFormat::Rgba8, 0)),
        ("bgr rotated", pixels(&grey, 20, 30, 80, PixelFormat::Bgr8, 270)),
        ("nv21 rotated", pixels(&grey[..40 * 30 * 3 / 2], 40, 30, 0, PixelFormat::Nv21, 90)),
        ("short buffer", pixels(&grey[..100], 40, 30, 0, PixelFormat::Rgb8, 0)),
        ("small stride", pixels(&grey, 40, 30, 10, PixelFormat::Rgb8, 0)),
        ("zero width", pixels(&grey, 0, 30, 0, PixelFormat::Rgb8, 0)),
        ("odd nv12", pixels(&grey, 39, 30, 0, PixelFormat::Nv12, 0)),
        ("bad rotation", pixels(&grey, 40, 30, 0, PixelFormat::Rgb8, 45)),
        ("huge", pixels(&grey, 1 << 16, 1 << 16, 0, PixelFormat::Rgb8, 0)),
    ];
    let mut bad_format = pixels(&grey, 40, 30, 0, PixelFormat::Rgb8, 0);
    if let Case::Pixels { format, .. } = &mut bad_format {
        *format = 6;
    }
    let cases = cases.into_iter().chain(std::iter::once(("unknown format", bad_format)));
    let mut errors_seen = 0;
    for (name, case) in cases {
        let a = rust_result(&rust, &case);
        let b = c_result(c, &case);
        match (&a, &b) {
            (Ok(x), Ok(y)) => assert_eq!(x, y, "{name}: predictions differ"),
            (Err(x), Err(y)) => {
                assert_eq!(*x as u32, *y, "{name}: codes differ");
                errors_seen += 1;
            }
            _ => panic!("{name}: Rust gave {a:?}, C gave {b:?}"),
        }
        println!(
            "{name}: {}",
            match &a {
                Ok(_) => "ok on both".to_string(),
                Err(code) => format!("code {code:?} on both"),
            }
        );
    }
    assert!(errors_seen >= 10);
    unsafe {
        let message = CStr::from_ptr(resnext_last_error_message()).to_str().unwrap();
        assert!(message.contains("rotation") || message.contains("format"), "{message}");
        resnext_classifier_free(c);
    }
}
