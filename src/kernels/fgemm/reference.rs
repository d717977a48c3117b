//! The portable scalar kernel: the definition every SIMD path matches bit for bit.

use super::{dest, Epilogue, PackedF32, RowMap, ShiftedA};

/// Same contract as [`super::FGemm::run`] (arguments validated by the caller).
pub(super) fn run(
    m: usize,
    a: ShiftedA<'_>,
    b: &PackedF32,
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
                let kk = seg * a.seg_k + kk;
                for (col, x) in acc.iter_mut().enumerate() {
                    *x = av.mul_add(b.weight(kk, col), *x);
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
