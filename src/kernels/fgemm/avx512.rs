//! The AVX-512F f32 kernel: `MR` rows x `NV` 16-column panels of accumulators in zmm
//! registers (12 x 2 or 24 x 1, the tiles of `kernels::zmm`), K walked segment by segment
//! with one B load per panel and one A broadcast per row, then the epilogue from registers
//! (masked at the last panel).
//! One kernel body for both panel element types ([`BElem`]): float32 rows are loaded as they
//! are, float16 rows widened exactly by `vcvtph2ps` (AVX-512F) as they are loaded.

use super::{Epilogue, PackedF32, Panels, RowMap, ShiftedA};
use crate::kernels::zmm::{for_each_row_block, for_each_tile, prefetch_ahead, Operands, Out};
use core::arch::x86_64::*;
use half::f16;

/// An element of B's panels: how 16 consecutive values become 16 float32 lanes.
trait BElem: Copy {
    /// The 16 values at `p`, as float32.
    ///
    /// # Safety
    /// `p .. p + 16` must be readable; the CPU must have AVX-512F (the callers are
    /// `avx512f` functions, into which this is inlined).
    unsafe fn load16(p: *const Self) -> __m512;
}

impl BElem for f32 {
    #[inline(always)]
    unsafe fn load16(p: *const f32) -> __m512 {
        // SAFETY: the caller's contract.
        unsafe { _mm512_loadu_ps(p) }
    }
}

impl BElem for f16 {
    #[inline(always)]
    unsafe fn load16(p: *const f16) -> __m512 {
        // SAFETY: the caller's contract (16 f16 values are the 32 bytes read); the conversion
        // is exact (every float16 value is a float32 value).
        unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(p.cast::<__m256i>())) }
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
    let out = Out::new(e, b.n(), map, c, ldc);
    let x = Operands::new(a.data, a.lda, a.shifts, a.seg_k, panels, b.k(), out);
    // SAFETY: reachable only through an `FGemm` built by `FGemm::new`, which checked AVX-512F.
    // `FGemm::run` asserted that A covers rows 0..m (+ every shift) of seg_k values, the bias
    // n values, the residual every C row written; its caller guarantees the C rows written
    // (n values each, stride ldc) valid and exclusive. The kernel reads A rows
    // `(r + shift) * lda .. + seg_k` for r < m, B's panels (k x 16 each), bias[0..n] and
    // residual/C only at mapped rows, columns < n (masked at the last panel). `panels` are
    // `b`'s own (`b.n()` columns in 16-column panels of `b.k()` rows, float32 or float16).
    for_each_row_block(m, 4 * b.k(), |m0, rows| unsafe {
        if e.residual.is_some() {
            drive::<B, true>(&x, m0, rows)
        } else {
            drive::<B, false>(&x, m0, rows)
        }
    });
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
