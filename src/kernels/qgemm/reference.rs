//! The portable scalar kernel: the reference every SIMD path must match bit for bit.

use super::epilogue::{requant_scalar, residual_scalar, ResidualParams};
use super::{PackedWeights, Requant, Residual};

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
