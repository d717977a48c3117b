//! The portable scalar kernel: the reference every SIMD path must match bit for bit.

use super::epilogue::{requant_scalar, residual_scalar, ResidualParams};
use super::{PackedWeights, Requant, Residual, RowMap, ShiftedA};

/// Same contract as [`super::QGemm::run_raw_out`] (arguments already validated by the
/// caller; `c` valid for writes of rows `0..m`, columns `0..n`).
#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    m: usize,
    a: &[u8],
    lda: usize,
    b: &PackedWeights,
    rq: &Requant,
    res: Option<&Residual>,
    c: *mut u8,
    ldc: usize,
) {
    let (n, k) = (b.n(), b.k());
    let rp = res.map(|r| ResidualParams::new(r, rq.out_zp));
    let mut acc = vec![0i32; n];
    for row in 0..m {
        let arow = &a[row * lda..row * lda + k];
        acc.iter_mut().for_each(|x| *x = 0);
        for (kk, &av) in arow.iter().enumerate() {
            let av = av as i32;
            if av == 0 {
                continue;
            }
            for (col, x) in acc.iter_mut().enumerate() {
                *x = x.wrapping_add(av * b.weight(kk, col) as i32);
            }
        }
        // SAFETY: the caller guarantees row `row`'s columns 0..n of C are writable and not
        // accessed by anyone else during the call.
        let crow = unsafe { std::slice::from_raw_parts_mut(c.add(row * ldc), n) };
        for col in 0..n {
            let t = requant_scalar(acc[col], rq.bias[col], rq.scale[col], rq.out_zp, rq.lo, rq.hi);
            crow[col] = match (res, &rp) {
                (Some(r), Some(p)) => residual_scalar(t, r.data[row * r.ld + col], p),
                _ => t,
            };
        }
    }
}

/// Same contract as [`super::QGemm::run_shifted`] (arguments validated by the caller).
pub(super) fn run_shifted(
    m: usize,
    a: ShiftedA<'_>,
    b: &PackedWeights,
    rq: &Requant,
    map: RowMap,
    c: *mut u8,
    ldc: usize,
) {
    let n = b.n();
    let mut acc = vec![0i32; n];
    for row in 0..m {
        let Some(dest) = map.dest(row) else { continue };
        acc.iter_mut().for_each(|x| *x = 0);
        for (seg, &shift) in a.shifts.iter().enumerate() {
            let arow = &a.data[(row + shift) * a.lda..][..a.seg_k];
            for (kk, &av) in arow.iter().enumerate() {
                let kk = seg * a.seg_k + kk;
                for (col, x) in acc.iter_mut().enumerate() {
                    *x = x.wrapping_add(av as i32 * b.weight(kk, col) as i32);
                }
            }
        }
        // SAFETY: the caller guarantees C row `dest`'s columns 0..n writable and exclusive.
        let crow = unsafe { std::slice::from_raw_parts_mut(c.add(dest * ldc), n) };
        for col in 0..n {
            crow[col] =
                requant_scalar(acc[col], rq.bias[col], rq.scale[col], rq.out_zp, rq.lo, rq.hi);
        }
    }
}
