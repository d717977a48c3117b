//! The portable scalar kernel: the definition the AMX kernel is checked against.

use super::{bf16_bits, bf16_value, dest, Epilogue, PackedBf16, RowMap, ShiftedBf16, TiledBf16};

/// Where row `r`'s value `kk` of a tiled A lives.
fn tiled_at(k: usize, r: usize, kk: usize) -> usize {
    ((r / 16) * (k / 32) + kk / 32) * 512 + (r % 16) * 32 + kk % 32
}

/// [`super::BGemm::to_bf16_tiled`] (arguments validated by the caller).
pub fn to_bf16_tiled(src: &[f32], rows: usize, k: usize, dst: &mut [u16]) {
    dst.fill(0);
    for r in 0..rows {
        for kk in 0..k {
            dst[tiled_at(k, r, kk)] = bf16_bits(src[r * k + kk]);
        }
    }
}

/// [`super::BGemm::run_tiled`] (arguments validated by the caller): the row-major reference on
/// the rows read back from the tiles.
pub(super) fn run_tiled(
    m: usize,
    a: TiledBf16<'_>,
    b: &PackedBf16,
    e: &Epilogue<'_>,
    c: *mut f32,
    ldc: usize,
) {
    let k = a.k;
    let rows: Vec<u16> =
        (0..m.next_multiple_of(16) * k).map(|i| a.data[tiled_at(k, i / k, i % k)]).collect();
    let a = ShiftedBf16 { data: &rows, lda: k, shifts: &[0], seg_k: k };
    run(m, a, b, e, None, c, ldc)
}

/// `dst[i] = bf16_bits(src[i])`.
pub fn to_bf16(src: &[f32], dst: &mut [u16]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = bf16_bits(s);
    }
}

/// Same contract as [`super::BGemm::run`] (arguments validated by the caller).
pub(super) fn run(
    m: usize,
    a: ShiftedBf16<'_>,
    b: &PackedBf16,
    e: &Epilogue<'_>,
    map: Option<RowMap>,
    c: *mut f32,
    ldc: usize,
) {
    let n = b.n();
    let mut acc = vec![0f32; n];
    for row in 0..m {
        let Some(d) = dest(map, row) else { continue };
        acc.copy_from_slice(e.bias);
        for (seg, &shift) in a.shifts.iter().enumerate() {
            let arow = &a.data[(row + shift) * a.lda..][..a.seg_k];
            for (kk, &av) in arow.iter().enumerate() {
                let (kk, av) = (seg * a.seg_k + kk, bf16_value(av));
                for (col, x) in acc.iter_mut().enumerate() {
                    // bf16 x bf16 is exact in float32: one rounding per addition.
                    *x += av * bf16_value(b.weight(kk, col));
                }
            }
        }
        if let Some((r, ld)) = e.residual {
            for (x, &v) in acc.iter_mut().zip(&r[d * ld..][..n]) {
                *x += v;
            }
        }
        if e.relu {
            for x in acc.iter_mut() {
                *x = if *x > 0.0 { *x } else { 0.0 };
            }
        }
        // SAFETY: the caller guarantees C row `d`'s columns 0..n writable and exclusive.
        let crow = unsafe { std::slice::from_raw_parts_mut(c.add(d * ldc), n) };
        crow.copy_from_slice(&acc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_to_bf16_is_nearest_even_with_denormals_flushed() {
        assert_eq!(bf16_bits(1.0), 0x3f80);
        // 1 + 2^-8 is half way between 1 and 1 + 2^-7: ties to even (1.0).
        assert_eq!(bf16_bits(1.0 + 1.0 / 256.0), 0x3f80);
        // 1 + 3 * 2^-8 is half way between 1 + 2^-7 and 1 + 2^-6: ties to even (1 + 2^-6).
        assert_eq!(bf16_bits(1.0 + 3.0 / 256.0), 0x3f82);
        assert_eq!(bf16_bits(1.0 + 1.5 / 256.0), 0x3f81);
        assert_eq!(bf16_bits(-2.5), 0xc020);
        assert_eq!(bf16_bits(f32::from_bits(1)), 0);
        assert_eq!(bf16_bits(-f32::from_bits(1)), 0x8000);
        assert_eq!(bf16_bits(f32::INFINITY), 0x7f80);
        assert_eq!(bf16_bits(f32::MAX), 0x7f80, "rounds up to infinity, as the hardware does");
        assert!(bf16_value(bf16_bits(f32::NAN)).is_nan());
        assert_eq!(bf16_value(0x3f81), 1.0 + 1.0 / 128.0);
    }
}
