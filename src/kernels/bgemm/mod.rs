//! bf16 GEMM family on AMX for float convolutions: `C = epilogue(A x B)` with A and B rounded
//! to bfloat16 and every product accumulated in float32 (`tdpbf16ps`).
//!
//! For every GEMM row `r < m` that the row map sends to C row `d` and column `n`:
//! `acc = bias[n]`, then `acc += bf16(A[r][k]) * bf16(B[k][n])` for `k = 0, 1, ..` (each
//! product exact in float32), then `acc += residual[d][n]` and `acc = max(acc, 0)`. The AMX
//! kernel adds the products of one K step in its own order (and flushes denormals), so it
//! matches the [`reference`](mod@reference) to float32 rounding of the sums, not bit for bit.
//!
//! Rounding to bf16 is round-to-nearest-even with denormal inputs read as zero (what
//! `vcvtneps2bf16` does): [`BGemm::to_bf16`] converts A once per convolution input,
//! [`PackedBf16::pack`] converts B once at load.
//!
//! A is an implicit GEMM over bf16 rows read in place ([`ShiftedBf16`], the same shape as
//! `fgemm::ShiftedA`); each segment is a whole number of 32-value K steps, so a tile load of
//! 16 rows x 32 values needs no copy. Rows are read in blocks of 16: the caller's A covers
//! every row below `m` rounded up to 16 (the rows past `m` are computed and dropped).
//!
//! Kernels: the scalar `reference` (the definition), `amx` (2 x 2 tiles of 16 x 16
//! float32 accumulators, a C block's tiles stored to an L1 scratch for the AVX-512
//! epilogue) and `avx512` (`vdpbf16ps` on 12 x 32 or 24 x 16 register blocks, for CPUs with
//! AVX512-BF16 and no AMX, such as AMD Zen 4). Single-threaded per call and thread safe: each call configures and releases its
//! own thread's tiles.

mod pack;
pub mod reference;

#[cfg(target_arch = "x86_64")]
mod amx;
#[cfg(target_arch = "x86_64")]
mod avx512;

#[cfg(test)]
pub(crate) mod tests;

use crate::kernels::fgemm::dest;
pub use crate::kernels::fgemm::{Epilogue, RowMap};

/// Values of K per AMX bf16 step (one 64-byte tile row).
pub const K_STEP: usize = 32;

/// Which bf16 kernel runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BIsa {
    /// Portable Rust: the definition, for tests and for checking a CPU's results.
    Scalar,
    /// AMX-BF16 `tdpbf16ps` tiles, AVX512-BF16 conversion, AVX-512 epilogue.
    Amx,
    /// AVX512-BF16 `vdpbf16ps` on zmm registers (CPUs without AMX, such as AMD Zen 4); no
    /// tiled A ([`BGemm::reads_tiles`]).
    Avx512Bf16,
}

impl BIsa {
    /// A short stable name: "scalar", "amx-bf16", "avx512-bf16".
    pub fn name(self) -> &'static str {
        match self {
            BIsa::Scalar => "scalar",
            BIsa::Amx => "amx-bf16",
            BIsa::Avx512Bf16 => "avx512-bf16",
        }
    }

    /// How `info().compute` names it: "scalar reference kernels", "AMX", "AVX512-BF16".
    pub fn label(self) -> &'static str {
        match self {
            BIsa::Scalar => "scalar reference kernels",
            BIsa::Amx => "AMX",
            BIsa::Avx512Bf16 => "AVX512-BF16",
        }
    }

    /// The fastest bf16 kernel this CPU runs, if any: AMX, else AVX512-BF16.
    pub fn best() -> Option<BIsa> {
        [BIsa::Amx, BIsa::Avx512Bf16].into_iter().find(|i| i.supported())
    }

    /// Whether this CPU (and Linux's tile permission) can run it.
    pub fn supported(self) -> bool {
        match self {
            BIsa::Scalar => true,
            BIsa::Amx => crate::kernels::cpu::supports_amx_bf16(),
            BIsa::Avx512Bf16 => crate::kernels::cpu::supports_avx512_bf16(),
        }
    }
}

/// One float32 rounded to bf16 (round to nearest even, denormals to signed zero, NaN kept a
/// quiet NaN).
#[inline]
pub fn bf16_bits(v: f32) -> u16 {
    let bits = v.to_bits();
    if v.is_nan() {
        return ((bits >> 16) as u16) | 0x40;
    }
    if bits & 0x7f80_0000 == 0 {
        return ((bits >> 16) & 0x8000) as u16;
    }
    let round = 0x7fff + ((bits >> 16) & 1);
    (bits.wrapping_add(round) >> 16) as u16
}

/// A bf16 value widened back to float32 (exact).
#[inline]
pub fn bf16_value(b: u16) -> f32 {
    f32::from_bits((b as u32) << 16)
}

/// B (K x N) rounded to bf16 and packed once: per 16-column panel, per K step of 32, a
/// 16 x 64-byte tile of K pairs, `[N/16][K/2][16][2]`; the last panel's missing columns
/// zero.
pub struct PackedBf16 {
    n: usize,
    k: usize,
    panels: Vec<u16>,
}

impl PackedBf16 {
    /// `w` holds B transposed: row n (0..n) has the K weights of output column n. Panics when
    /// `w.len() != n * k` or K is not a multiple of [`K_STEP`].
    pub fn pack(w: &[f32], n: usize, k: usize) -> Self {
        PackedBf16 { n, k, panels: pack::pack(w, n, k) }
    }

    /// Output columns (N).
    pub fn n(&self) -> usize {
        self.n
    }

    /// Reduction depth (K).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Bytes held.
    pub fn packed_bytes(&self) -> usize {
        self.panels.len() * 2
    }

    /// B[kk][col] as bf16 bits, read back from the panels (the reference reads B this way, so
    /// the tests check the packing too).
    fn weight(&self, kk: usize, col: usize) -> u16 {
        self.panels[(((col / 16) * (self.k / 2) + kk / 2) * 16 + col % 16) * 2 + kk % 2]
    }
}

impl std::fmt::Debug for PackedBf16 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackedBf16").field("n", &self.n).field("k", &self.k).finish_non_exhaustive()
    }
}

/// The A operand in bf16 bits: `shifts.len()` segments of `seg_k` values; row `r` of segment
/// `s` is `data[(r + shifts[s]) * lda ..][..seg_k]`.
#[derive(Clone, Copy, Debug)]
pub struct ShiftedBf16<'a> {
    /// The rows (pixels), from row 0 on, as bf16 bits.
    pub data: &'a [u16],
    /// Values from one row to the next.
    pub lda: usize,
    /// Per segment, the row offset of its rows.
    pub shifts: &'a [usize],
    /// Values of K per segment (a multiple of [`K_STEP`]).
    pub seg_k: usize,
}

/// The A operand of a plain GEMM in tiled layout ([`BGemm::to_bf16_tiled`]): rows in blocks
/// of 16, each block `k / 32` tiles of 16 rows x 32 bf16 values (1 KiB, contiguous), block
/// `b`'s tile `s` at `data[(b * k / 32 + s) * 512 ..]`, row `r` of a tile at `+ 32 r`. Each
/// AMX tile load then reads 1 KiB of consecutive lines instead of 16 rows far apart.
#[derive(Clone, Copy, Debug)]
pub struct TiledBf16<'a> {
    /// The blocks, as bf16 bits.
    pub data: &'a [u16],
    /// Values per row (K, a multiple of [`K_STEP`]).
    pub k: usize,
}

impl TiledBf16<'_> {
    /// Values a tiled copy of `rows` rows of `k` values holds (whole 16-row blocks).
    pub fn len(rows: usize, k: usize) -> usize {
        rows.next_multiple_of(16) * k
    }
}

/// The kernel selected once (at model load).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BGemm {
    isa: BIsa,
}

impl BGemm {
    /// None when this CPU cannot run `isa`.
    pub fn new(isa: BIsa) -> Option<Self> {
        isa.supported().then_some(BGemm { isa })
    }

    /// The instruction set this kernel runs on.
    pub fn isa(&self) -> BIsa {
        self.isa
    }

    /// Whether [`BGemm::run_tiled`] and [`BGemm::to_bf16_tiled`] are worth using: on AMX,
    /// whose tile loads read 16 rows at once (the other kernels run them, as the reference
    /// does, but gain nothing).
    pub fn reads_tiles(&self) -> bool {
        self.isa == BIsa::Amx
    }

    /// `dst[i] = bf16_bits(src[i])` (AVX512-BF16 on the x86 kernels). Panics when the lengths
    /// differ.
    pub fn to_bf16(&self, src: &[f32], dst: &mut [u16]) {
        assert_eq!(src.len(), dst.len(), "bgemm: conversion lengths differ");
        match self.isa {
            BIsa::Scalar => reference::to_bf16(src, dst),
            #[cfg(target_arch = "x86_64")]
            BIsa::Amx | BIsa::Avx512Bf16 => avx512::to_bf16(src, dst),
            #[cfg(not(target_arch = "x86_64"))]
            BIsa::Amx | BIsa::Avx512Bf16 => {
                unreachable!("BGemm::new only accepts supported kernels")
            }
        }
    }

    /// `src` (`rows` x `k` values, row-major) rounded to bf16 into `dst` in the tiled layout
    /// of [`TiledBf16`] (the rows of the last block past `rows` are zeros). Panics when `k`
    /// is not a multiple of [`K_STEP`], `src.len() != rows * k` or `dst.len() !=
    /// TiledBf16::len(rows, k)`.
    pub fn to_bf16_tiled(&self, src: &[f32], rows: usize, k: usize, dst: &mut [u16]) {
        assert!(k.is_multiple_of(K_STEP), "bgemm: K = {k} is not a multiple of 32");
        assert_eq!(src.len(), rows * k, "bgemm: {} values for {rows} x {k}", src.len());
        assert_eq!(dst.len(), TiledBf16::len(rows, k), "bgemm: tiled buffer size");
        match self.isa {
            BIsa::Scalar | BIsa::Avx512Bf16 => reference::to_bf16_tiled(src, rows, k, dst),
            #[cfg(target_arch = "x86_64")]
            BIsa::Amx => amx::to_bf16_tiled(src, rows, k, dst),
            #[cfg(not(target_arch = "x86_64"))]
            BIsa::Amx => unreachable!("BGemm::new only accepts supported kernels"),
        }
    }

    /// C = epilogue(A x B) for rows `0..m` of a tiled A (row `r` to C row `r`). Checks
    /// (panics on failure): `a.k == b.k()` (a multiple of [`K_STEP`]), `ldc >= n`, `a.data`
    /// holds the blocks of `m` rows, the bias has `n` values and the residual covers the `m`
    /// rows.
    ///
    /// # Safety
    /// C rows `0..m` (`n` values each, stride `ldc`) must be valid for writes and not accessed
    /// by anyone else during the call.
    pub unsafe fn run_tiled(
        &self,
        m: usize,
        a: TiledBf16<'_>,
        b: &PackedBf16,
        epilogue: &Epilogue<'_>,
        c: *mut f32,
        ldc: usize,
    ) {
        let n = b.n();
        epilogue.check_bias("bgemm", n);
        assert!(a.k == b.k() && a.k.is_multiple_of(K_STEP), "bgemm: A's K does not match B's");
        assert!(ldc >= n, "bgemm: ldc < n");
        if m == 0 || n == 0 {
            return;
        }
        assert!(a.data.len() >= TiledBf16::len(m, a.k), "bgemm: tiled A too short");
        epilogue.check_residual("bgemm", m, n, None);
        match self.isa {
            BIsa::Scalar | BIsa::Avx512Bf16 => reference::run_tiled(m, a, b, epilogue, c, ldc),
            #[cfg(target_arch = "x86_64")]
            BIsa::Amx => amx::run_tiled(m, a, b, epilogue, c, ldc),
            #[cfg(not(target_arch = "x86_64"))]
            BIsa::Amx => unreachable!("BGemm::new only accepts supported kernels"),
        }
    }

    /// C = epilogue(A x B) for GEMM rows `0..m`: row `r` goes to C row `map.dest(r)` (dropped
    /// when `None`), or to row `r` without a map. Checks (panics on failure): `b.k()` equals
    /// `shifts.len() * seg_k`, `seg_k` is a multiple of [`K_STEP`], `lda >= seg_k`,
    /// `ldc >= n`, `a.data` covers every row read (`(ceil16(m) - 1 + max(shifts)) * lda +
    /// seg_k` values), the bias has `n` values and the residual covers every C row written.
    ///
    /// # Safety
    /// For every C row `d` written, `c.add(d * ldc) .. c.add(d * ldc + n)` must be valid for
    /// writes and not accessed by anyone else during the call.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn run(
        &self,
        m: usize,
        a: ShiftedBf16<'_>,
        b: &PackedBf16,
        epilogue: &Epilogue<'_>,
        map: Option<RowMap>,
        c: *mut f32,
        ldc: usize,
    ) {
        let n = b.n();
        epilogue.check_bias("bgemm", n);
        assert_eq!(a.shifts.len() * a.seg_k, b.k(), "bgemm: segments do not cover K");
        assert!(a.seg_k.is_multiple_of(K_STEP), "bgemm: seg_k {} not a multiple of 32", a.seg_k);
        assert!(a.lda >= a.seg_k && ldc >= n, "bgemm: lda < seg_k or ldc < n");
        if m == 0 || n == 0 {
            return;
        }
        if let Some(map) = map {
            assert!(map.wp > 0 && map.wo <= map.wp, "bgemm: bad row map");
        }
        let max_shift = a.shifts.iter().copied().max().unwrap_or(0);
        let need = (m.next_multiple_of(16) - 1 + max_shift) * a.lda + a.seg_k;
        assert!(a.data.len() >= need, "bgemm: A too short ({} < {need})", a.data.len());
        epilogue.check_residual("bgemm", m, n, map);
        match self.isa {
            BIsa::Scalar => reference::run(m, a, b, epilogue, map, c, ldc),
            #[cfg(target_arch = "x86_64")]
            BIsa::Amx => amx::run(m, a, b, epilogue, map, c, ldc),
            #[cfg(target_arch = "x86_64")]
            BIsa::Avx512Bf16 => avx512::run(m, a, b, epilogue, map, c, ldc),
            #[cfg(not(target_arch = "x86_64"))]
            BIsa::Amx | BIsa::Avx512Bf16 => {
                unreachable!("BGemm::new only accepts supported kernels")
            }
        }
    }
}
