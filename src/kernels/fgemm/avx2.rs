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

use super::{Epilogue, PackedF32, Panels, RowMap, ShiftedA};
use crate::kernels::ymm::{finish, for_each_ymm_tile, lanes, start};
use crate::kernels::zmm::{for_each_row_block, prefetch_ahead, Operands};
use core::arch::x86_64::*;
use half::f16;

/// An element of B's panels: how 8 consecutive values become 8 float32 lanes.
trait BElem: Copy {
    /// The 8 values at `p`, as float32.
    ///
    /// # Safety
    /// `p .. p + 8` must be readable; the CPU must have AVX and F16C (the callers are
    /// `avx2,fma,f16c` functions, into which this is inlined).
    unsafe fn load8(p: *const Self) -> __m256;
}

impl BElem for f32 {
    #[inline(always)]
    unsafe fn load8(p: *const f32) -> __m256 {
        // SAFETY: the caller's contract.
        unsafe { _mm256_loadu_ps(p) }
    }
}

impl BElem for f16 {
    #[inline(always)]
    unsafe fn load8(p: *const f16) -> __m256 {
        // SAFETY: the caller's contract (8 f16 values are the 16 bytes read); the conversion
        // is exact (every float16 value is a float32 value).
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p.cast::<__m128i>())) }
    }
}

/// The arguments of one call (validated by [`super::FGemm::run`]): f32 rows of A, B's
/// panels of element `B`.
type Ctx<'a, B> = Operands<'a, f32, B>;

pub(super) fn run(
    m: usize,
    a: ShiftedA<'_>,
    b: &PackedF32,
    e: &Epilogue<'_>,
    map: Option<RowMap>,
    c: *mut f32,
    ldc: usize,
) {
    match &b.panels {
        Panels::F32(p) => run_on(m, a, p.as_ptr(), b, e, map, c, ldc),
        Panels::F16(p) => run_on(m, a, p.as_ptr(), b, e, map, c, ldc),
    }
}

/// [`run`] on B's panels `panels` (of `b`'s element type).
#[allow(clippy::too_many_arguments)]
fn run_on<B: BElem>(
    m: usize,
    a: ShiftedA<'_>,
    panels: *const B,
    b: &PackedF32,
    e: &Epilogue<'_>,
    map: Option<RowMap>,
    c: *mut f32,
    ldc: usize,
) {
    let out = crate::kernels::zmm::Out::new(e, b.n(), map, c, ldc);
    let x = Operands::new(a.data, a.lda, a.shifts, a.seg_k, panels, b.k(), out);
    // SAFETY: reachable only through an `FGemm` built by `FGemm::new`, which checked AVX2,
    // FMA and F16C. `FGemm::run` asserted that A covers rows 0..m (+ every shift) of seg_k
    // values, the bias n values, the residual every C row written; its caller guarantees the C
    // rows written (n values each, stride ldc) valid and exclusive. The kernel reads A rows
    // `(r + shift) * lda .. + seg_k` for r < m, B's panels (k x 16 each; a 1-register tile
    // reads the first 8 values of each panel row), bias[0..n] and residual/C only at mapped
    // rows, columns < n (masked at the last panel). `panels` are `b`'s own (`b.n()` columns in
    // 16-column panels of `b.k()` rows, float32 or float16).
    for_each_row_block(m, 4 * b.k(), |m0, rows| unsafe {
        if e.residual.is_some() {
            drive::<B, true>(&x, m0, rows)
        } else {
            drive::<B, false>(&x, m0, rows)
        }
    });
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
