//! JPEG decoding against `cv2.imread` (libjpeg-turbo's defaults): the scikit-image JPEG
//! photographs and JPEGs the fixture generator encodes in every mode (4:4:4, 4:2:2, 4:2:0, odd
//! sizes, progressive, restart markers, grayscale, CMYK, EXIF orientation 6) decode to exactly
//! the pixels OpenCV decodes (max difference 0; `tools/make_test_fixtures.py`, jpeg/).

mod common;

use common::{fixture, manifest};
use resnext::preprocess::{decode_rgb, DecodeLimits};

fn read_npy_u8(path: &std::path::Path) -> (Vec<u64>, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().to_vec();
    (shape, npy.into_vec::<u8>().unwrap())
}

#[test]
fn jpeg_pixels_equal_cv2_imread() {
    let entries = manifest("preprocess/jpeg/manifest.json");
    let mut failures = Vec::new();
    let mut modes = std::collections::HashSet::new();
    for entry in &entries {
        let file = entry["file"].as_str().unwrap();
        let mode = entry["mode"].as_str().unwrap();
        let bytes = std::fs::read(fixture(file)).unwrap();
        let ours =
            decode_rgb(&bytes, &DecodeLimits::default()).unwrap_or_else(|e| panic!("{file}: {e}"));
        let (shape, reference) = read_npy_u8(&fixture(entry["decoded"].as_str().unwrap()));
        assert_eq!(
            shape,
            [ours.height as u64, ours.width as u64, 3],
            "{file}: decoded {}x{}",
            ours.width,
            ours.height
        );
        let max = ours.data.iter().zip(&reference).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
        let differ = ours
            .data
            .chunks_exact(3)
            .zip(reference.chunks_exact(3))
            .filter(|(a, b)| a != b)
            .count();
        println!("{file} ({mode}, {}x{}): max difference {max}", ours.width, ours.height);
        if max != 0 {
            failures.push(format!("{file} ({mode}): max difference {max}, {differ} pixels differ"));
        }
        modes.insert(mode.to_string());
    }
    assert!(
        failures.is_empty(),
        "JPEGs decoded differently from cv2.imread:\n{}",
        failures.join("\n")
    );
    for mode in ["photo", "444", "422", "420", "420_prog", "gray", "gray_prog", "cmyk", "exif6"] {
        assert!(modes.contains(mode), "no JPEG for mode {mode}");
    }
    assert!(entries.iter().filter(|e| e["mode"] == "photo").count() >= 3);
}
