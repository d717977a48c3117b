//! Packing B for the bf16 kernels.

use super::{bf16_bits, K_STEP};

/// `w` is B transposed (row n = column n's K weights); returns `[ceil(n/16)][k/2][16][2]`
/// bf16 bits, the last panel's missing columns zero.
pub(super) fn pack(w: &[f32], n: usize, k: usize) -> Vec<u16> {
    assert_eq!(w.len(), n * k, "bgemm: {} weights for {n} x {k}", w.len());
    assert!(k.is_multiple_of(K_STEP), "bgemm: K = {k} is not a multiple of {K_STEP}");
    let panels = n.div_ceil(16);
    let mut out = vec![0u16; panels * k * 16];
    for col in 0..n {
        let (p, lane) = (col / 16, col % 16);
        for (kk, &v) in w[col * k..][..k].iter().enumerate() {
            out[((p * (k / 2) + kk / 2) * 16 + lane) * 2 + kk % 2] = bf16_bits(v);
        }
    }
    out
}
