//! Register-blocked ymm tiles for the AVX2 f32 kernel (`fgemm::avx2`): `MR` rows x `W` ymm
//! registers (8 columns each) of one 16-column panel of B, started from the bias and written
//! back by one epilogue (residual, ReLU, row map, the last panel's missing columns masked).
//!
//! AVX2 has 16 ymm registers, so a tile holds at most 12 accumulators: 6 rows x 2 registers
//! (a whole panel) or, on a panel of at most 8 columns (the last one, or an 8-channel group),
//! 12 rows x 1 register. The operands and the row blocking are those of the zmm tiles
//! ([`crate::kernels::zmm::Operands`], [`crate::kernels::zmm::Out`]).
//!
//! Everything here is `#[inline(always)]`, so it is compiled into the kernel's
//! `#[target_feature]` functions with its features.

use crate::kernels::fgemm::dest;
use crate::kernels::zmm::Out;
use core::arch::x86_64::*;

/// Runs the tiles of a block of `rows` rows against every 16-column panel of B's `n` columns:
/// `full!(MR, r, p)` runs the 2-register tile of height `MR` (a literal) at block row `r` and
/// panel `p`, `half!(MR, r, p)` the 1-register tile, which a panel of at most 8 columns uses.
macro_rules! for_each_ymm_tile {
    ($n:expr, $rows:expr, $full:ident, $half:ident) => {{
        let (n, rows): (usize, usize) = ($n, $rows);
        let np = n.div_ceil(16);
        for p in 0..np {
            let half = n - 16 * p <= 8;
            let height = $crate::kernels::ymm::tile_height(rows, half);
            let mut r = 0;
            while r < rows {
                let mr = (rows - r).min(height);
                if half {
                    $crate::kernels::zmm::dispatch_mr!(
                        mr,
                        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
                        $half,
                        r,
                        p
                    )
                } else {
                    $crate::kernels::zmm::dispatch_mr!(mr, [1, 2, 3, 4, 5, 6], $full, r, p)
                }
                r += mr;
            }
        }
    }};
}
pub(crate) use for_each_ymm_tile;

/// The height of the row tiles of a block of `rows` rows: the fewest tiles of at most 6 rows
/// (two registers per row) or 12 (`half`: one), of equal heights, so that no short last tile
/// runs too few accumulators to hide the multiply-add latency.
pub(crate) fn tile_height(rows: usize, half: bool) -> usize {
    let tiles = rows.div_ceil(if half { 12 } else { 6 }).max(1);
    rows.div_ceil(tiles)
}

/// `-1` then `0` lanes: 8 consecutive values from `8 - count` on are the mask of the first
/// `count` lanes.
static LANES: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];

/// The columns of register `j` of panel `p0` that exist (0 to 8), and their lane mask.
#[derive(Clone, Copy)]
pub(crate) struct Lanes {
    count: usize,
    mask: __m256i,
}

impl Lanes {
    /// # Safety
    /// The CPU has AVX (callers are `avx2` functions, into which this is inlined).
    #[inline(always)]
    unsafe fn load(&self, p: *const f32) -> __m256 {
        // SAFETY: the caller's contract; a masked load reads the lanes < count only.
        unsafe {
            if self.count == 8 {
                _mm256_loadu_ps(p)
            } else {
                _mm256_maskload_ps(p, self.mask)
            }
        }
    }

    /// # Safety
    /// As for [`Lanes::load`]; `p .. p + count` valid for writes.
    #[inline(always)]
    unsafe fn store(&self, p: *mut f32, v: __m256) {
        // SAFETY: the caller's contract; a masked store writes the lanes < count only.
        unsafe {
            if self.count == 8 {
                _mm256_storeu_ps(p, v)
            } else {
                _mm256_maskstore_ps(p, self.mask, v)
            }
        }
    }
}

/// The lanes of the `W` registers of panel `p0` of a GEMM of `n` columns.
///
/// # Safety
/// The CPU has AVX; panel `p0` exists (`16 p0 < n`).
#[inline(always)]
pub(crate) unsafe fn lanes<const W: usize>(n: usize, p0: usize) -> [Lanes; W] {
    core::array::from_fn(|j| {
        let count = (n - 16 * p0).saturating_sub(8 * j).min(8);
        // SAFETY: 8 - count <= 8, so the 8 values read are inside LANES.
        let mask = unsafe { _mm256_loadu_si256(LANES.as_ptr().add(8 - count).cast()) };
        Lanes { count, mask }
    })
}

/// `MR x W` accumulators holding the bias of panel `p0` (missing columns zero).
///
/// # Safety
/// As for [`lanes`], with `lanes` those of panel `p0`.
#[inline(always)]
pub(crate) unsafe fn start<const MR: usize, const W: usize>(
    out: &Out,
    p0: usize,
    lanes: &[Lanes; W],
) -> [[__m256; W]; MR] {
    // SAFETY: the caller's contract; the loads read bias values < n only.
    unsafe {
        let row: [__m256; W] =
            core::array::from_fn(|j| lanes[j].load(out.bias.add(16 * p0 + 8 * j)));
        [row; MR]
    }
}

/// Writes GEMM rows `m0 .. m0 + MR` of panel `p0` from `acc`: plus the residual (`RES`),
/// clamped at zero (`out.relu`), to their mapped C rows (dropped rows skipped).
///
/// # Safety
/// As for [`start`]; the mapped C rows and their residual rows are valid, and the C rows not
/// accessed by anyone else during the call.
#[inline(always)]
pub(crate) unsafe fn finish<const MR: usize, const W: usize, const RES: bool>(
    out: &Out,
    acc: &[[__m256; W]; MR],
    m0: usize,
    p0: usize,
    lanes: &[Lanes; W],
) {
    // SAFETY: the caller's contract; every access is masked to columns < n.
    unsafe {
        let zero = _mm256_setzero_ps();
        for (i, row) in acc.iter().enumerate() {
            let Some(d) = dest(out.map, m0 + i) else { continue };
            let cp = out.c.add(d * out.ldc + 16 * p0);
            for j in 0..W {
                let mut v = row[j];
                if RES {
                    v = _mm256_add_ps(v, lanes[j].load(out.res.add(d * out.rld + 16 * p0 + 8 * j)));
                }
                if out.relu {
                    // maxps returns its second operand when either is NaN: NaN -> 0, and
                    // -0 -> +0, as the reference's `if x > 0 { x } else { 0 }`.
                    v = _mm256_max_ps(v, zero);
                }
                lanes[j].store(cp.add(8 * j), v);
            }
        }
    }
}
