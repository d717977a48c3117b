//! The AVX-512F f32 kernel: `MR` rows x `NV` 16-column panels of accumulators in zmm
//! registers (12 x 2 or 24 x 1, the tiles of `kernels::zmm`), K walked segment by segment
//! with one B load per panel and one A broadcast per row, then the epilogue from registers
//! (masked at the last panel).
//! One kernel body for both panel element types ([`BElem`]): float32 rows are loaded as they
//! are, float16 rows widened exactly by `vcvtph2ps` (AVX-512F) as they are loaded.

use super::simd::{BElem, Ctx, Drive};
use crate::kernels::zmm::{for_each_tile, prefetch_ahead};
use core::arch::x86_64::*;

/// The AVX-512F kernel, for [`super::simd::run`].
pub(super) struct Avx512;

impl Drive for Avx512 {
    unsafe fn drive<B: BElem, const RES: bool>(x: &Ctx<B>, m0: usize, rows: usize) {
        // SAFETY: the trait's contract.
        unsafe { drive::<B, RES>(x, m0, rows) }
    }
}

/// Rows `m0 .. m0 + rows` against every panel of B, two panels at a time.
#[target_feature(enable = "avx512f")]
unsafe fn drive<B: BElem, const RES: bool>(x: &Ctx<B>, m0: usize, rows: usize) {
    macro_rules! two {
        ($v:literal, $r:expr, $p:expr) => {
            tile::<B, $v, 2, RES>(x, m0 + $r, $p)
        };
    }
    macro_rules! one {
        ($v:literal, $r:expr, $p:expr) => {
            tile::<B, $v, 1, RES>(x, m0 + $r, $p)
        };
    }
    for_each_tile!(x.out.n, rows, two, one);
}

/// Rows `m0 .. m0 + MR` x panels `p0 .. p0 + NV`: the whole K, then the epilogue.
#[target_feature(enable = "avx512f")]
#[inline(never)]
unsafe fn tile<B: BElem, const MR: usize, const NV: usize, const RES: bool>(
    x: &Ctx<B>,
    m0: usize,
    p0: usize,
) {
    let masks = x.out.masks::<NV>(p0);
    let mut acc = x.out.start::<MR, NV>(p0, &masks);
    let panel = 16 * x.k;
    let lda = x.lda;
    let mut kk = 0;
    for &shift in x.shifts {
        let a = x.a.add((m0 + shift) * lda);
        let mut bp = x.b.add(p0 * panel + 16 * kk);
        for c in 0..x.seg_k {
            let mut bv = [_mm512_setzero_ps(); NV];
            for (j, v) in bv.iter_mut().enumerate() {
                *v = B::load16(bp.add(j * panel));
                prefetch_ahead(bp.add(j * panel));
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_ps(*a.add(i * lda + c));
                for j in 0..NV {
                    row[j] = _mm512_fmadd_ps(av, bv[j], row[j]);
                }
            }
            bp = bp.add(16);
        }
        kk += x.seg_k;
    }
    x.out.finish::<MR, NV, RES>(&acc, m0, p0, &masks);
}
