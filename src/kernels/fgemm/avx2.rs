//! The AVX2 + FMA f32 kernel, for x86_64 CPUs without AVX-512 (AMD Zen 1-3, Intel before Ice
//! Lake, Intel client cores since Alder Lake): `MR` rows x `W` ymm registers of one 16-column
//! panel of B in accumulators (6 x 2, or 12 x 1 on a panel of at most 8 columns: the tiles of
//! `kernels::ymm`), K walked segment by segment with one B load per register and one A
//! broadcast per row, then the epilogue from registers (masked at the last panel).
//! B's panels are those of the AVX-512 kernel (`[N/16][K][16]`); float16 panels are widened
//! exactly by `vcvtph2ps` (F16C) as they are loaded.
//!
//! Summing a deep K in slices of 256, the partial sums parked in C so that a panel's slice
//! stays in L1, was tried and measured slower on ResNeXt101_32x8d (445 against 422 ms, best of
//! 4 runs each, in turn; AMD EPYC Zen 3, 2 threads).

use super::simd::{BElem, Ctx, Drive};
use crate::kernels::ymm::{finish, for_each_ymm_tile, lanes, start};
use crate::kernels::zmm::prefetch_ahead;
use core::arch::x86_64::*;

/// The AVX2 + FMA + F16C kernel, for [`super::simd::run`].
pub(super) struct Avx2;

impl Drive for Avx2 {
    unsafe fn drive<B: BElem, const RES: bool>(x: &Ctx<B>, m0: usize, rows: usize) {
        // SAFETY: the trait's contract.
        unsafe { drive::<B, RES>(x, m0, rows) }
    }
}

/// Rows `m0 .. m0 + rows` against every panel of B.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn drive<B: BElem, const RES: bool>(x: &Ctx<B>, m0: usize, rows: usize) {
    macro_rules! full {
        ($v:literal, $r:expr, $p:expr) => {
            tile::<B, $v, 2, RES>(x, m0 + $r, $p)
        };
    }
    macro_rules! half {
        ($v:literal, $r:expr, $p:expr) => {
            tile::<B, $v, 1, RES>(x, m0 + $r, $p)
        };
    }
    for_each_ymm_tile!(x.out.n, rows, full, half);
}

/// Rows `m0 .. m0 + MR` x the `W` registers of panel `p0`: the whole K, then the epilogue.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline(never)]
unsafe fn tile<B: BElem, const MR: usize, const W: usize, const RES: bool>(
    x: &Ctx<B>,
    m0: usize,
    p0: usize,
) {
    let lanes = lanes::<W>(x.out.n, p0);
    let mut acc = start::<MR, W>(&x.out, p0, &lanes);
    let panel = 16 * x.k;
    let lda = x.lda;
    let mut kk = 0;
    for &shift in x.shifts {
        let a = x.a.add((m0 + shift) * lda);
        let mut bp = x.b.add(p0 * panel + 16 * kk);
        for c in 0..x.seg_k {
            let mut bv = [_mm256_setzero_ps(); W];
            for (j, v) in bv.iter_mut().enumerate() {
                *v = B::load8(bp.add(8 * j));
            }
            prefetch_ahead(bp);
            for (i, row) in acc.iter_mut().enumerate() {
                let av = _mm256_broadcast_ss(&*a.add(i * lda + c));
                for j in 0..W {
                    row[j] = _mm256_fmadd_ps(av, bv[j], row[j]);
                }
            }
            bp = bp.add(16);
        }
        kk += x.seg_k;
    }
    finish::<MR, W, RES>(&x.out, &acc, m0, p0, &lanes);
}
