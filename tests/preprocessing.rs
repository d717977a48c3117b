//! Preprocessing against the OpenCV reference (`tools/preprocess_ref.py`: cv2.imdecode,
//! cv2.resize INTER_LINEAR, centre crop, normalize) on real photographs from scikit-image, for
//! both presets, every pixel format and every rotation.
//!
//! Tolerance: max absolute difference of the normalized tensor <= 0.02 (about one intensity
//! level: 1 / 255 / 0.225 = 0.0174) for every case, JPEG included: JPEGs are decoded by
//! libjpeg-turbo with OpenCV's settings, to the same pixels (`tests/jpeg_decoding.rs`), so what
//! remains is the resize's rounding, as for PNG and raw buffers.

mod common;

use common::{fixture, manifest, max_abs_diff, read_npy};
use resnext::{ImageInput, PixelBuffer, PixelFormat, PreprocessConfig, Rotation};

fn triple(v: &serde_json::Value) -> [f32; 3] {
    let a = v.as_array().unwrap();
    [a[0].as_f64().unwrap() as f32, a[1].as_f64().unwrap() as f32, a[2].as_f64().unwrap() as f32]
}

fn run_case(case: &serde_json::Value) -> Vec<f32> {
    let config = PreprocessConfig {
        resize_short: case["resize_short"].as_u64().unwrap() as u32,
        crop: case["crop"].as_u64().unwrap() as u32,
        mean: triple(&case["mean"]),
        std: triple(&case["std"]),
    };
    let file = fixture(case["file"].as_str().unwrap());
    match case["kind"].as_str().unwrap() {
        "encoded" => resnext::preprocess_image(ImageInput::Path(&file), &config, 1 << 30).unwrap(),
        "raw" => {
            let data = std::fs::read(&file).unwrap();
            let buffer = PixelBuffer {
                data: &data,
                width: case["width"].as_u64().unwrap() as u32,
                height: case["height"].as_u64().unwrap() as u32,
                row_stride: case["stride"].as_u64().unwrap() as usize,
                format: PixelFormat::from_name(case["format"].as_str().unwrap()).unwrap(),
                rotation: Rotation::from_degrees(case["rotation"].as_u64().unwrap() as u32)
                    .unwrap(),
            };
            resnext::preprocess_image(ImageInput::Pixels(buffer), &config, 1 << 30).unwrap()
        }
        other => panic!("unknown case kind {other}"),
    }
}

#[test]
fn preprocessing_matches_opencv() {
    let cases = manifest("preprocess/manifest.json");
    let mut seen_formats = std::collections::HashSet::new();
    let mut seen_rotations = std::collections::HashSet::new();
    let mut seen_crops = std::collections::HashSet::new();
    let mut failures = Vec::new();
    let mut worst = 0f32;
    let mut worst_jpeg = 0f32;
    for case in &cases {
        let ours = run_case(case);
        let reference_path = fixture(case["reference"].as_str().unwrap());
        let (shape, reference) = read_npy(&reference_path);
        assert_eq!(shape[0], 1);
        let diff = max_abs_diff(&ours, &reference);
        let mean_diff = ours.iter().zip(&reference).map(|(a, b)| (a - b).abs()).sum::<f32>()
            / ours.len() as f32;
        let file = case["file"].as_str().unwrap();
        let kind = case["kind"].as_str().unwrap();
        let format = if kind == "raw" { case["format"].as_str().unwrap() } else { "encoded" };
        let rotation = case["rotation"].as_u64().unwrap_or(0);
        let is_jpeg = kind == "encoded" && (file.ends_with(".jpg") || file.ends_with(".jpeg"));
        println!(
            "{file} {format} rot{rotation} crop{}: max {diff:.4} mean {mean_diff:.5}",
            case["crop"]
        );
        if diff > 0.02 {
            failures.push(format!("{file} {format} rot{rotation}: max {diff} mean {mean_diff}"));
        }
        if is_jpeg {
            worst_jpeg = worst_jpeg.max(diff);
        } else {
            worst = worst.max(diff);
        }
        seen_formats.insert(format.to_string());
        seen_rotations.insert(rotation);
        seen_crops.insert(case["crop"].as_u64().unwrap());
    }
    println!(
        "{} cases; worst max abs difference: lossless inputs {worst:.4}, JPEG {worst_jpeg:.4}",
        cases.len()
    );
    assert!(failures.is_empty(), "cases over tolerance:\n{}", failures.join("\n"));
    for f in ["encoded", "rgb8", "bgr8", "rgba8", "bgra8", "nv21", "nv12"] {
        assert!(seen_formats.contains(f), "no case for {f}");
    }
    assert_eq!(seen_rotations.len(), 4, "{seen_rotations:?}");
    assert!(seen_crops.contains(&224) && seen_crops.contains(&320), "{seen_crops:?}");
}
