//! Packing B for the f32 kernels (float32 or float16 panels, the same layout).

/// `w` is B transposed (row n = column n's K weights); returns `[ceil(n/16)][k][16]`, the
/// last panel's missing columns zero (`T::default()`). The values are copied, never rounded.
pub(super) fn pack<T: Copy + Default>(w: &[T], n: usize, k: usize) -> Vec<T> {
    assert_eq!(w.len(), n * k, "fgemm: {} weights for {n} x {k}", w.len());
    let panels = n.div_ceil(16);
    let mut out = vec![T::default(); panels * k * 16];
    for col in 0..n {
        let (p, lane) = (col / 16, col % 16);
        for (kk, &v) in w[col * k..][..k].iter().enumerate() {
            out[(p * k + kk) * 16 + lane] = v;
        }
    }
    out
}
