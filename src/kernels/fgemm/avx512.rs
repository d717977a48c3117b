//! The AVX-512F f32 kernel: `MR` rows x `NV` 16-column panels of accumulators in zmm
//! registers (12 x 2 or 24 x 1), K walked segment by segment with one B load per panel and
//! one A broadcast per row, then the epilogue from registers (masked at the last panel).
//! One kernel body for both panel element types ([`BElem`]): float32 rows are loaded as they
//! are, float16 rows widened exactly by `vcvtph2ps` (AVX-512F) as they are loaded.

use super::{block_rows, dest, Epilogue, PackedF32, Panels, RowMap, ShiftedA};
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

/// The arguments of one call, as raw pointers (validated by [`super::FGemm::run`]).
struct Ctx<'a, B> {
    a: *const f32,
    lda: usize,
    shifts: &'a [usize],
    seg_k: usize,
    b: *const B,
    k: usize,
    n: usize,
    bias: *const f32,
    res: *const f32,
    rld: usize,
    relu: bool,
    map: Option<RowMap>,
    c: *mut f32,
    ldc: usize,
}

/// Rows of A per block: the block's rows (`BLOCK_BYTES` of A) stay in L2 while every panel
/// of B passes over them.
const BLOCK_BYTES: usize = 384 << 10;

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
    let (res, rld) = e.residual.map_or((core::ptr::null(), 0), |(r, ld)| (r.as_ptr(), ld));
    let x = Ctx {
        a: a.data.as_ptr(),
        lda: a.lda,
        shifts: a.shifts,
        seg_k: a.seg_k,
        b: panels,
        k: b.k(),
        n: b.n(),
        bias: e.bias.as_ptr(),
        res,
        rld,
        relu: e.relu,
        map,
        c,
        ldc,
    };
    let block = (BLOCK_BYTES / (4 * b.k().max(1))).clamp(24, 1 << 20) / 24 * 24;
    // SAFETY: reachable only through an `FGemm` built by `FGemm::new`, which checked AVX-512F.
    // `FGemm::run` asserted that A covers rows 0..m (+ every shift) of seg_k values, the bias
    // n values, the residual every C row written; its caller guarantees the C rows written
    // (n values each, stride ldc) valid and exclusive. The kernel reads A rows
    // `(r + shift) * lda .. + seg_k` for r < m, B's panels (k x 16 each), bias[0..n] and
    // residual/C only at mapped rows, columns < n (masked at the last panel). `panels` are
    // `b`'s own (`b.n()` columns in 16-column panels of `b.k()` rows, float32 or float16).
    unsafe {
        let mut m0 = 0;
        while m0 < m {
            let rows = block_rows(m - m0, block);
            if e.residual.is_some() {
                drive::<B, true>(&x, m0, rows)
            } else {
                drive::<B, false>(&x, m0, rows)
            }
            m0 += rows;
        }
    }
}

/// `match mr { v => call!(v), .. }` over the listed row counts.
macro_rules! dispatch_mr {
    ($mr:expr, [$($v:literal),*], $call:ident) => {
        match $mr {
            $( $v => $call!($v), )*
            _ => unreachable!(),
        }
    };
}

/// Rows `m0 .. m0 + rows` against every panel of B, two panels at a time.
#[target_feature(enable = "avx512f")]
unsafe fn drive<B: BElem, const RES: bool>(x: &Ctx<B>, m0: usize, rows: usize) {
    let np = x.n.div_ceil(16);
    let mut p = 0;
    while p < np {
        let two = np - p >= 2;
        // The fewest tiles of at most 12 (two panels) or 24 rows, of even heights: a short
        // last tile (1 of 49 rows) would run too few accumulators to hide the FMA latency.
        let tiles = rows.div_ceil(if two { 12 } else { 24 });
        let height = rows.div_ceil(tiles);
        let mut r = 0;
        while r < rows {
            let mr = (rows - r).min(height);
            macro_rules! call2 {
                ($v:literal) => {
                    tile::<B, $v, 2, RES>(x, m0 + r, p)
                };
            }
            macro_rules! call1 {
                ($v:literal) => {
                    tile::<B, $v, 1, RES>(x, m0 + r, p)
                };
            }
            if two {
                dispatch_mr!(mr, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], call2)
            } else {
                dispatch_mr!(
                    mr,
                    [
                        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                        22, 23, 24
                    ],
                    call1
                )
            }
            r += mr;
        }
        p += if two { 2 } else { 1 };
    }
}

/// The lane mask of panel `p`'s columns that exist.
#[inline(always)]
fn lanes(n: usize, p: usize) -> __mmask16 {
    let count = (n - 16 * p).min(16);
    if count == 16 {
        0xffff
    } else {
        ((1u32 << count) - 1) as __mmask16
    }
}

/// Rows `m0 .. m0 + MR` x panels `p0 .. p0 + NV`: the whole K, then the epilogue.
#[target_feature(enable = "avx512f")]
#[inline(never)]
unsafe fn tile<B: BElem, const MR: usize, const NV: usize, const RES: bool>(
    x: &Ctx<B>,
    m0: usize,
    p0: usize,
) {
    let masks: [__mmask16; NV] = core::array::from_fn(|j| lanes(x.n, p0 + j));
    let mut acc = [[_mm512_setzero_ps(); NV]; MR];
    for row in acc.iter_mut() {
        for j in 0..NV {
            row[j] = _mm512_maskz_loadu_ps(masks[j], x.bias.add(16 * (p0 + j)));
        }
    }
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
    let zero = _mm512_setzero_ps();
    for (i, row) in acc.iter().enumerate() {
        let Some(d) = dest(x.map, m0 + i) else { continue };
        let cp = x.c.add(d * x.ldc + 16 * p0);
        for j in 0..NV {
            let mut v = row[j];
            if RES {
                let r = _mm512_maskz_loadu_ps(masks[j], x.res.add(d * x.rld + 16 * (p0 + j)));
                v = _mm512_add_ps(v, r);
            }
            if x.relu {
                v = _mm512_max_ps(v, zero);
            }
            _mm512_mask_storeu_ps(cp.add(16 * j), masks[j], v);
        }
    }
}
