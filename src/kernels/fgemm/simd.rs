//! What the SIMD f32 kernels (`avx512`, `avx2`) share: how B's panel values (float32, or
//! float16 widened exactly) become float32 lanes ([`BElem`]), and one driver ([`run`]) that
//! checks nothing more, builds the operands and walks the row blocks, calling the kernel's
//! [`Drive::drive`] for each. A kernel is its `drive` (tiles over every panel of B) and tiles.

use super::{Epilogue, PackedF32, Panels, RowMap, ShiftedA};
use crate::kernels::zmm::{for_each_row_block, Operands, Out};
use core::arch::x86_64::*;
use half::f16;

/// An element of B's panels: how consecutive values become float32 lanes.
pub(super) trait BElem: Copy {
    /// The 16 values at `p`, as float32.
    ///
    /// # Safety
    /// `p .. p + 16` must be readable; the CPU must have AVX-512F (the callers are `avx512f`
    /// functions, into which this is inlined).
    unsafe fn load16(p: *const Self) -> __m512;

    /// The 8 values at `p`, as float32.
    ///
    /// # Safety
    /// `p .. p + 8` must be readable; the CPU must have AVX and F16C (the callers are
    /// `avx2,fma,f16c` functions, into which this is inlined).
    unsafe fn load8(p: *const Self) -> __m256;
}

impl BElem for f32 {
    #[inline(always)]
    unsafe fn load16(p: *const f32) -> __m512 {
        // SAFETY: the caller's contract.
        unsafe { _mm512_loadu_ps(p) }
    }

    #[inline(always)]
    unsafe fn load8(p: *const f32) -> __m256 {
        // SAFETY: the caller's contract.
        unsafe { _mm256_loadu_ps(p) }
    }
}

impl BElem for f16 {
    #[inline(always)]
    unsafe fn load16(p: *const f16) -> __m512 {
        // SAFETY: the caller's contract (16 f16 values are the 32 bytes read); the conversion
        // is exact (every float16 value is a float32 value).
        unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(p.cast::<__m256i>())) }
    }

    #[inline(always)]
    unsafe fn load8(p: *const f16) -> __m256 {
        // SAFETY: the caller's contract (8 f16 values are the 16 bytes read); exact as above.
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p.cast::<__m128i>())) }
    }
}

/// The arguments of one call (validated by [`super::FGemm::run`]): f32 rows of A, B's panels
/// of element `B`.
pub(super) type Ctx<'a, B> = Operands<'a, f32, B>;

/// A SIMD f32 kernel.
pub(super) trait Drive {
    /// Rows `m0 .. m0 + rows` of `x` against every panel of B, with the residual (`RES`) or
    /// without.
    ///
    /// # Safety
    /// The CPU has the kernel's instruction set; `x` is a validated call's operands (as
    /// [`run`] builds them) and rows `m0 .. m0 + rows` are within its M.
    unsafe fn drive<B: BElem, const RES: bool>(x: &Ctx<B>, m0: usize, rows: usize);
}

/// [`super::FGemm::run`] on kernel `K`, its arguments validated there.
pub(super) fn run<K: Drive>(
    m: usize,
    a: ShiftedA<'_>,
    b: &PackedF32,
    e: &Epilogue<'_>,
    map: Option<RowMap>,
    c: *mut f32,
    ldc: usize,
) {
    match &b.panels {
        Panels::F32(p) => run_on::<K, f32>(m, a, p.as_ptr(), b, e, map, c, ldc),
        Panels::F16(p) => run_on::<K, f16>(m, a, p.as_ptr(), b, e, map, c, ldc),
    }
}

/// [`run`] on B's panels `panels` (of `b`'s element type).
#[allow(clippy::too_many_arguments)]
fn run_on<K: Drive, B: BElem>(
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
    // SAFETY: reachable only through an `FGemm` built by `FGemm::new`, which checked that the
    // CPU runs `K`'s instruction set. `FGemm::run` asserted that A covers rows 0..m (+ every
    // shift) of seg_k values, the bias n values, the residual every C row written; its caller
    // guarantees the C rows written (n values each, stride ldc) valid and exclusive. The
    // kernels read A rows `(r + shift) * lda .. + seg_k` for r < m, B's panels (k x 16 each),
    // bias[0..n] and residual/C only at mapped rows, columns < n (masked at the last panel).
    // `panels` are `b`'s own (`b.n()` columns in 16-column panels of `b.k()` rows, float32 or
    // float16).
    for_each_row_block(m, 4 * b.k(), |m0, rows| unsafe {
        if e.residual.is_some() {
            K::drive::<B, true>(&x, m0, rows)
        } else {
            K::drive::<B, false>(&x, m0, rows)
        }
    });
}
