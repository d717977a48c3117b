//! Register-blocked zmm tiles shared by the AVX-512 f32 kernel (`fgemm`) and the AVX512-BF16
//! kernel (`bgemm`): `MR` rows x `NV` 16-column panels of float32 accumulators, started from the
//! bias and written back by one epilogue (residual, ReLU, row map, last panel masked). Only the
//! K loop differs between the two kernels (their operands and multiply-add). The operands
//! ([`Operands`], [`Out`]'s fields), the row blocking and the B prefetch are also those of the
//! AVX2 f32 kernel, whose ymm tiles are in `kernels::ymm`.
//!
//! Everything here is `#[inline(always)]`, so it is compiled into each kernel's
//! `#[target_feature]` functions with that kernel's features.

use crate::kernels::fgemm::{dest, Epilogue, RowMap};
use core::arch::x86_64::*;

/// `match mr { v => call!(v, r, p), .. }` over the listed tile heights.
macro_rules! dispatch_mr {
    ($mr:expr, [$($v:literal),*], $call:ident, $r:expr, $p:expr) => {
        match $mr {
            $( $v => $call!($v, $r, $p), )*
            _ => unreachable!(),
        }
    };
}
pub(crate) use dispatch_mr;

/// Runs the tiles of a block of `rows` rows against every panel of B's `n` columns, two
/// panels at a time (the last odd one alone), in row tiles of [`tile_height`]:
/// `two!(MR, r, p)` / `one!(MR, r, p)` run the tile of height `MR` (a literal, for the const
/// generic) at block row `r` and panel `p` on two panels / one.
macro_rules! for_each_tile {
    ($n:expr, $rows:expr, $two:ident, $one:ident) => {{
        let (n, rows): (usize, usize) = ($n, $rows);
        let np = n.div_ceil(16);
        let mut p = 0;
        while p < np {
            let two = np - p >= 2;
            let height = $crate::kernels::zmm::tile_height(rows, two);
            let mut r = 0;
            while r < rows {
                let mr = (rows - r).min(height);
                if two {
                    $crate::kernels::zmm::dispatch_mr!(
                        mr,
                        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
                        $two,
                        r,
                        p
                    )
                } else {
                    $crate::kernels::zmm::dispatch_mr!(
                        mr,
                        [
                            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                            21, 22, 23, 24
                        ],
                        $one,
                        r,
                        p
                    )
                }
                r += mr;
            }
            p += if two { 2 } else { 1 };
        }
    }};
}
pub(crate) use for_each_tile;

/// Bytes of A per row block: a block's rows stay in L2 while every panel of B passes over them.
const BLOCK_BYTES: usize = 384 << 10;

/// How far ahead of a K step's B load (3 KiB: 48 K steps of f32 or bf16-pair panels) the
/// kernels prefetch into L1. B's panels stream from memory in a model run (ResNeXt101_32x8d's
/// 338 MB of weights fit no cache), where the hardware prefetchers alone left the f32 1x1
/// kernels at 0.64-0.82x their warm-cache speed (a probe like examples/fgemm_gflops's
/// "weights from memory" cells; with this prefetch that cell shows the rest of the gap). The
/// model's FP32 batch 1 went from 183-207 to 161-180 ms with it; 2 and 5 KiB ahead measured
/// the same within the noise.
const PREFETCH_BYTES: usize = 3 << 10;

/// Prefetches into L1 the line `PREFETCH_BYTES` after `p` (a B load of the K loop). Past the
/// end of a panel it touches the next panel or unmapped memory, which a prefetch never faults
/// on.
#[inline(always)]
pub(crate) fn prefetch_ahead<T>(p: *const T) {
    // SAFETY: a prefetch is a hint: it reads nothing into the program and never faults.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            p.cast::<i8>().wrapping_add(PREFETCH_BYTES),
        )
    }
}

/// Calls `f(m0, rows)` for the row blocks of `m` rows of `row_bytes` bytes of A each: blocks
/// of `BLOCK_BYTES` (a multiple of 24 rows), except that a last block of up to one and a half
/// blocks is taken whole (each block streams all of B once, and a short last block would
/// stream it again for a few rows: at batch 1, 49 rows of 2048 channels were 48 + 1).
pub(crate) fn for_each_row_block(m: usize, row_bytes: usize, mut f: impl FnMut(usize, usize)) {
    let block = (BLOCK_BYTES / row_bytes.max(1)).clamp(24, 1 << 20) / 24 * 24;
    let mut m0 = 0;
    while m0 < m {
        let left = m - m0;
        let rows = if left <= block + block / 2 { left } else { block };
        f(m0, rows);
        m0 += rows;
    }
}

/// The height of the row tiles of a block of `rows` rows: the fewest tiles of at most 12 rows
/// (two panels, `two`) or 24 (one panel), of even heights. A short last tile (1 of 49 rows)
/// would run too few accumulators to hide the multiply-add latency.
pub(crate) fn tile_height(rows: usize, two: bool) -> usize {
    let tiles = rows.div_ceil(if two { 12 } else { 24 }).max(1);
    rows.div_ceil(tiles)
}

/// One call's operands as raw pointers (checked by the kernel's `run`): A as `shifts.len()`
/// segments of `seg_k` values, row `r` of segment `s` at `a + (r + shifts[s]) * lda`; B as
/// packed 16-column panels of `k` rows; and the epilogue.
pub(crate) struct Operands<'a, A, B> {
    pub a: *const A,
    pub lda: usize,
    pub shifts: &'a [usize],
    pub seg_k: usize,
    pub b: *const B,
    pub k: usize,
    pub out: Out,
}

impl<'a, A, B> Operands<'a, A, B> {
    /// A's rows `a` (`lda` apart, `seg_k` values per segment at `shifts`), B's panels `b` of
    /// `k` rows, and the epilogue `out`.
    pub(crate) fn new(
        a: &'a [A],
        lda: usize,
        shifts: &'a [usize],
        seg_k: usize,
        b: *const B,
        k: usize,
        out: Out,
    ) -> Self {
        Operands { a: a.as_ptr(), lda, shifts, seg_k, b, k, out }
    }
}

/// The epilogue of a GEMM's tiles: its bias, residual, ReLU and where its rows go, as raw
/// pointers checked by the kernel's `run` (`bias` holds `n` values, `res` every C row written at
/// stride `rld`, `c` every C row written at stride `ldc`).
pub(crate) struct Out {
    /// Columns (N).
    pub n: usize,
    pub bias: *const f32,
    /// Null without a residual (the tiles are then instantiated with `RES = false`).
    pub res: *const f32,
    pub rld: usize,
    pub relu: bool,
    /// GEMM row -> C row; `None`: row r is C row r.
    pub map: Option<RowMap>,
    pub c: *mut f32,
    pub ldc: usize,
}

impl Out {
    /// The epilogue `e` of a GEMM of `n` columns writing to `c` (stride `ldc`) through `map`.
    pub(crate) fn new(
        e: &Epilogue<'_>,
        n: usize,
        map: Option<RowMap>,
        c: *mut f32,
        ldc: usize,
    ) -> Self {
        let (res, rld) = e.residual.map_or((core::ptr::null(), 0), |(r, ld)| (r.as_ptr(), ld));
        Out { n, bias: e.bias.as_ptr(), res, rld, relu: e.relu, map, c, ldc }
    }

    /// The lane masks of panels `p0 .. p0 + NV` (the columns that exist).
    #[inline(always)]
    pub(crate) fn masks<const NV: usize>(&self, p0: usize) -> [__mmask16; NV] {
        core::array::from_fn(|j| {
            let count = (self.n - 16 * (p0 + j)).min(16);
            if count == 16 {
                0xffff
            } else {
                ((1u32 << count) - 1) as __mmask16
            }
        })
    }

    /// `MR x NV` accumulators holding the bias of panels `p0 ..` (masked lanes zero).
    ///
    /// # Safety
    /// The CPU has AVX-512F (callers are `avx512f` functions, into which this is inlined);
    /// panels `p0 .. p0 + NV` exist (`16 p0 < n`).
    #[inline(always)]
    pub(crate) unsafe fn start<const MR: usize, const NV: usize>(
        &self,
        p0: usize,
        masks: &[__mmask16; NV],
    ) -> [[__m512; NV]; MR] {
        // SAFETY: the caller's contract; the masked loads read bias values < n only.
        unsafe {
            let row: [__m512; NV] = core::array::from_fn(|j| {
                _mm512_maskz_loadu_ps(masks[j], self.bias.add(16 * (p0 + j)))
            });
            [row; MR]
        }
    }

    /// Writes GEMM rows `m0 .. m0 + MR` of panels `p0 ..` from `acc`: plus the residual
    /// (`RES`), clamped at zero (`relu`), to their mapped C rows (dropped rows skipped).
    ///
    /// # Safety
    /// As for [`Out::start`]; the mapped C rows and their residual rows are valid, and the C
    /// rows not accessed by anyone else during the call.
    #[inline(always)]
    pub(crate) unsafe fn finish<const MR: usize, const NV: usize, const RES: bool>(
        &self,
        acc: &[[__m512; NV]; MR],
        m0: usize,
        p0: usize,
        masks: &[__mmask16; NV],
    ) {
        // SAFETY: the caller's contract; every access is masked to columns < n.
        unsafe {
            let zero = _mm512_setzero_ps();
            for (i, row) in acc.iter().enumerate() {
                let Some(d) = dest(self.map, m0 + i) else { continue };
                let cp = self.c.add(d * self.ldc + 16 * p0);
                for j in 0..NV {
                    let mut v = row[j];
                    if RES {
                        let at = self.res.add(d * self.rld + 16 * (p0 + j));
                        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(masks[j], at));
                    }
                    if self.relu {
                        v = _mm512_max_ps(v, zero);
                    }
                    _mm512_mask_storeu_ps(cp.add(16 * j), masks[j], v);
                }
            }
        }
    }
}
