//! f32 GEMM family for convolutions: `C = epilogue(A x B)` in float32, on AVX-512, on AVX2 +
//! FMA, or the scalar reference.
//!
//! For every GEMM row `r < m` that the row map sends to C row `d` and column `n`:
//! `acc = bias[n]`, then `acc = fma(A[r][k], B[k][n], acc)` for `k = 0, 1, ..` in order, then
//! `acc += residual[d][n]` (a fused residual addition) and `acc = max(acc, 0)` (a fused ReLU).
//! Every kernel follows exactly this order with fused multiply-adds, so the SIMD kernels'
//! results are bit-identical to the reference's.
//!
//! A is always read as an implicit GEMM ([`ShiftedA`]): K is `shifts.len()` segments whose
//! rows are read in place, each shifted by a fixed number of pixels. A 1x1 convolution is one
//! segment with shift 0 read straight from the NHWC input; a k x k convolution reads a padded
//! copy of its input, one segment per tap, with the padding columns of the grid dropped by the
//! [`RowMap`]. No im2col buffer exists.
//!
//! Kernels: [`reference`](mod@reference) (portable scalar, the definition) and `avx512`
//! (AVX-512F, 12 rows x 32 columns or 24 rows x 16 columns of accumulators in zmm registers,
//! B broadcast-free, A broadcast per row), `avx2` (AVX2 + FMA + F16C, for CPUs without
//! AVX-512: 6 rows x 16 columns or 12 rows x 8 in ymm registers, the same panels); `simd`
//! holds what the two SIMD kernels share (panel loads, the row-block driver).
//! Single-threaded and thread safe.
//!
//! B's panels hold float32 or float16 values ([`PackedF32::pack`], [`PackedF32::pack_f16`]).
//! A float16 B value enters the product widened to float32 (exactly: every float16 is a
//! float32), so `B[k][n]` above is that widened value and both kernels still agree bit for
//! bit; float16 panels take half the memory (FP16 model files keep their weights in float16).

mod pack;
pub mod reference;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
mod simd;

#[cfg(test)]
mod tests;

pub use crate::kernels::qgemm::RowMap;
use half::f16;

/// Which f32 kernel runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FIsa {
    /// Portable Rust (`f32::mul_add`).
    Scalar,
    /// AVX-512F `vfmadd231ps` on zmm registers.
    Avx512,
    /// AVX2 + FMA `vfmadd231ps` on ymm registers (F16C widens float16 panels), for x86_64
    /// CPUs without AVX-512.
    Avx2,
}

impl FIsa {
    /// Every f32 kernel: the scalar reference, then the SIMD kernels from the best down.
    pub const ALL: [FIsa; 3] = [FIsa::Scalar, FIsa::Avx512, FIsa::Avx2];

    /// A short stable name: "scalar", "avx512", "avx2".
    pub fn name(self) -> &'static str {
        match self {
            FIsa::Scalar => "scalar",
            FIsa::Avx512 => "avx512",
            FIsa::Avx2 => "avx2",
        }
    }

    /// Whether this CPU can run it (AVX-512F, or AVX2 with FMA and F16C, detected at run time;
    /// cached by std).
    pub fn supported(self) -> bool {
        match self {
            FIsa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            FIsa::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            FIsa::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                    && std::arch::is_x86_feature_detected!("f16c")
            }
            #[cfg(not(target_arch = "x86_64"))]
            FIsa::Avx512 | FIsa::Avx2 => false,
        }
    }

    /// The best SIMD kernel this CPU runs (AVX-512, else AVX2), or `None` (no SIMD kernel: a
    /// CPU with neither, or another architecture).
    pub fn best_simd() -> Option<FIsa> {
        FIsa::ALL[1..].iter().copied().find(|isa| isa.supported())
    }
}

/// B (K x N) packed once: panels of 16 columns, `[N/16][K][16]`, the last panel's missing
/// columns zero, in float32 or float16 (the kernels widen float16 values as they load them).
pub struct PackedF32 {
    n: usize,
    k: usize,
    panels: Panels,
}

/// The panels' storage: one element type per packed B.
pub(super) enum Panels {
    F32(Vec<f32>),
    F16(Vec<f16>),
}

impl PackedF32 {
    /// `w` holds B transposed: row n (0..n) has the K weights of output column n, contiguous.
    /// Panics when `w.len() != n * k`.
    pub fn pack(w: &[f32], n: usize, k: usize) -> Self {
        PackedF32 { n, k, panels: Panels::F32(pack::pack(w, n, k)) }
    }

    /// [`PackedF32::pack`] for float16 weights: the panels keep them in float16 (2 bytes a
    /// value), and the kernels multiply by their exact float32 widening. Panics when
    /// `w.len() != n * k`.
    pub fn pack_f16(w: &[f16], n: usize, k: usize) -> Self {
        PackedF32 { n, k, panels: Panels::F16(pack::pack(w, n, k)) }
    }

    /// Whether the panels hold float16 values.
    pub fn is_f16(&self) -> bool {
        matches!(self.panels, Panels::F16(_))
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
        match &self.panels {
            Panels::F32(p) => p.len() * 4,
            Panels::F16(p) => p.len() * 2,
        }
    }

    /// B[kk][col] read back from the panels, widened to float32 (the reference reads B this
    /// way, so the tests check the packing too).
    fn weight(&self, kk: usize, col: usize) -> f32 {
        let at = ((col / 16) * self.k + kk) * 16 + col % 16;
        match &self.panels {
            Panels::F32(p) => p[at],
            Panels::F16(p) => p[at].to_f32(),
        }
    }
}

impl std::fmt::Debug for PackedF32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackedF32")
            .field("n", &self.n)
            .field("k", &self.k)
            .field("f16", &self.is_f16())
            .finish_non_exhaustive()
    }
}

/// The A operand: `shifts.len()` segments of `seg_k` values; row `r` of segment `s` is
/// `data[(r + shifts[s]) * lda ..][..seg_k]`. B's K runs over the segments in the same order.
#[derive(Clone, Copy, Debug)]
pub struct ShiftedA<'a> {
    /// The rows (pixels), from row 0 on.
    pub data: &'a [f32],
    /// Values from one row to the next (the image's channels).
    pub lda: usize,
    /// Per segment, the row offset of its rows.
    pub shifts: &'a [usize],
    /// Values of K per segment.
    pub seg_k: usize,
}

/// What the epilogue adds and clamps.
#[derive(Clone, Copy, Debug)]
pub struct Epilogue<'a> {
    /// One value per column, the accumulators' start.
    pub bias: &'a [f32],
    /// A fused residual: C row `d` gets `residual[d * ld ..][..n]` added.
    pub residual: Option<(&'a [f32], usize)>,
    /// A fused ReLU after the addition.
    pub relu: bool,
}

impl Epilogue<'_> {
    /// Panics (naming the GEMM `family`) unless the bias has one value per column.
    pub(crate) fn check_bias(&self, family: &str, n: usize) {
        assert_eq!(self.bias.len(), n, "{family}: bias has {} values, N = {n}", self.bias.len());
    }

    /// Panics (naming `family`) unless a residual has `ld >= n` and covers every C row that
    /// rows `0..m` write through `map` (checked valid by the caller).
    pub(crate) fn check_residual(&self, family: &str, m: usize, n: usize, map: Option<RowMap>) {
        if let Some((r, ld)) = self.residual {
            let last = (0..m).rev().find_map(|row| dest(map, row));
            assert!(ld >= n, "{family}: residual ld {ld} < n {n}");
            if let Some(last) = last {
                assert!(r.len() >= last * ld + n, "{family}: residual too short");
            }
        }
    }
}

/// The kernel selected once (at model load).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FGemm {
    isa: FIsa,
}

impl FGemm {
    /// None when this CPU cannot run `isa`.
    pub fn new(isa: FIsa) -> Option<Self> {
        isa.supported().then_some(FGemm { isa })
    }

    /// The instruction set this kernel runs on.
    pub fn isa(&self) -> FIsa {
        self.isa
    }

    /// C = epilogue(A x B) for GEMM rows `0..m`: row `r` goes to C row `map.dest(r)` (dropped
    /// when `None`), or to row `r` without a map. Checks (panics on failure): `b.k()` equals
    /// `shifts.len() * seg_k`, `lda >= seg_k`, `ldc >= n`, `a.data` covers every row read
    /// (`(m - 1 + max(shifts)) * lda + seg_k` values), the bias has `n` values and the
    /// residual covers every C row written.
    ///
    /// # Safety
    /// For every C row `d` written, `c.add(d * ldc) .. c.add(d * ldc + n)` must be valid for
    /// writes and not accessed by anyone else during the call.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn run(
        &self,
        m: usize,
        a: ShiftedA<'_>,
        b: &PackedF32,
        epilogue: &Epilogue<'_>,
        map: Option<RowMap>,
        c: *mut f32,
        ldc: usize,
    ) {
        let n = b.n();
        epilogue.check_bias("fgemm", n);
        assert_eq!(a.shifts.len() * a.seg_k, b.k(), "fgemm: segments do not cover K");
        assert!(a.lda >= a.seg_k && ldc >= n, "fgemm: lda < seg_k or ldc < n");
        if m == 0 || n == 0 {
            return;
        }
        if let Some(map) = map {
            assert!(map.wp > 0 && map.wo <= map.wp, "fgemm: bad row map");
        }
        let max_shift = a.shifts.iter().copied().max().unwrap_or(0);
        assert!(
            a.data.len() >= (m - 1 + max_shift) * a.lda + a.seg_k,
            "fgemm: A too short ({} < {})",
            a.data.len(),
            (m - 1 + max_shift) * a.lda + a.seg_k
        );
        epilogue.check_residual("fgemm", m, n, map);
        match self.isa {
            FIsa::Scalar => reference::run(m, a, b, epilogue, map, c, ldc),
            #[cfg(target_arch = "x86_64")]
            FIsa::Avx512 => simd::run::<avx512::Avx512>(m, a, b, epilogue, map, c, ldc),
            #[cfg(target_arch = "x86_64")]
            FIsa::Avx2 => simd::run::<avx2::Avx2>(m, a, b, epilogue, map, c, ldc),
            #[cfg(not(target_arch = "x86_64"))]
            FIsa::Avx512 | FIsa::Avx2 => {
                unreachable!("FGemm::new only accepts supported kernels")
            }
        }
    }
}

/// The C row of GEMM row `r` (`map.dest(r)`, or `r` without a map); the bf16 family uses it
/// too.
#[inline]
pub(crate) fn dest(map: Option<RowMap>, r: usize) -> Option<usize> {
    match map {
        Some(map) => map.dest(r),
        None => Some(r),
    }
}
