//! Normalization of an RGB8 crop into a CHW float32 tensor.

use crate::error::{Error, Result};

/// Writes `(x * (1/255) - mean[c]) / std[c]` for each pixel of the `side` x `side` RGB8 `crop`
/// into `out` in CHW order, computed in float32 exactly as PaddleClas's `NormalizeImage`.
///
/// `out` must hold exactly `3 * side * side` values.
pub fn normalize_into_chw(
    crop: &[u8],
    side: u32,
    mean: &[f32; 3],
    std: &[f32; 3],
    out: &mut [f32],
) -> Result<()> {
    let plane = side as usize * side as usize;
    if crop.len() != plane * 3 || out.len() != plane * 3 {
        return Err(Error::invalid(format!(
            "normalize: expected {} bytes in and {} floats out, got {} and {}",
            plane * 3,
            plane * 3,
            crop.len(),
            out.len()
        )));
    }
    // One lookup table per channel: 256 entries computed with the reference's float32 ops.
    let scale = 1.0f32 / 255.0;
    let mut lut = [[0f32; 256]; 3];
    for (c, table) in lut.iter_mut().enumerate() {
        for (v, entry) in table.iter_mut().enumerate() {
            *entry = (v as f32 * scale - mean[c]) / std[c];
        }
    }
    let (r, rest) = out.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    for (i, px) in crop.chunks_exact(3).enumerate() {
        r[i] = lut[0][px[0] as usize];
        g[i] = lut[1][px[1] as usize];
        b[i] = lut[2][px[2] as usize];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_in_chw_order() {
        let crop = [255u8, 0, 128, 0, 255, 0, 10, 20, 30, 1, 2, 3];
        let mut out = vec![0f32; 12];
        normalize_into_chw(&crop, 2, &[0.5, 0.5, 0.5], &[0.5, 0.5, 0.5], &mut out).unwrap();
        assert!((out[0] - 1.0).abs() < 1e-6); // R of pixel 0
        assert!((out[1] + 1.0).abs() < 1e-6); // R of pixel 1
        assert!((out[4] + 1.0).abs() < 1e-6); // G of pixel 0
        assert!((out[8] - (128.0 / 255.0 - 0.5) / 0.5).abs() < 1e-6); // B of pixel 0
        assert!(normalize_into_chw(&crop, 3, &[0.0; 3], &[1.0; 3], &mut out).is_err());
    }
}
