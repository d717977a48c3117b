//! u8 x i8 -> requantized u8 GEMM family (ONNX Runtime QLinearConv / MLAS semantics).
//!
//! For `m < M`, `n < N`: `acc = sum_k A[m][k] * B[k][n]` (exact i32), then the epilogue of
//! [`epilogue`]: `t = clamp(requant(acc + bias[n], scale[n], out_zp), lo, hi)` and, with a
//! [`Residual`], a fused QLinearAdd of `t` and the shortcut `r[m][n]`.
//!
//! Kernels: [`reference`](mod@reference) (portable scalar; the definition), `avx2` (AVX2
//! without VNNI: both operands widened to i16, `vpmaddwd`, exact), `avx512vnni` (AVX512-VNNI
//! `vpdpbusd`, register-blocked, 8-column GEMMs with two K groups per zmm) and `amx`
//! (AMX-INT8 `tdpbusd`, 32x32 C blocks held in 4 tiles over the whole K, epilogue from a
//! 4 KiB L1 scratch). All are single-threaded and thread safe; the SIMD kernels give results
//! bit-identical to the reference.
//!
//! [`QGemm::run_shifted`] is the implicit-GEMM variant for convolutions without im2col: K is
//! split into segments (the kernel's taps) whose A rows are read in place, each shifted by a
//! fixed number of pixels in a padded image ([`ShiftedA`]), and the epilogue drops the grid
//! rows that are padding ([`RowMap`]). AMX-INT8, AVX512-VNNI and the scalar reference
//! implement it.

pub mod epilogue;
mod pack;
#[cfg(target_arch = "x86_64")]
mod raw;
pub mod reference;

#[cfg(target_arch = "x86_64")]
mod amx;
#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512vnni;

#[cfg(test)]
mod tests;

use crate::kernels::cpu::{self, Isa};
use pack::Line;

/// B (K x N int8) packed once for every ISA: panels of 16 columns, K in groups of 4
/// (`[N/16][K_pad/4][16][4]`), K padded to a multiple of 64 (the AMX K step) with zeros; for
/// `N <= 8` also a second, 8-column layout (two K groups per 64-byte line).
pub struct PackedWeights {
    n: usize,
    k: usize,
    kpad: usize,
    panels: Vec<Line>,
    narrow: Vec<Line>,
    col_sums: Vec<i32>,
}

impl PackedWeights {
    /// `w` holds B transposed: row n (0..n) has the K weights of output column n, contiguous
    /// (ONNX's Conv weight layout for one group: Cout_g x (Cin_g*kh*kw), in the caller's K
    /// order).
    pub fn pack(w: &[i8], n: usize, k: usize) -> Self {
        let p = pack::pack(w, n, k);
        PackedWeights {
            n,
            k,
            kpad: p.kpad,
            panels: p.panels,
            narrow: p.narrow,
            col_sums: p.col_sums,
        }
    }

    /// Output columns (N).
    pub fn n(&self) -> usize {
        self.n
    }

    /// Reduction depth (K).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Sum over k of `B[k][n]`, per column (for the caller's zero-point folding).
    pub fn column_sums(&self) -> &[i32] {
        &self.col_sums
    }

    /// Bytes held by the packed weights.
    pub fn packed_bytes(&self) -> usize {
        (self.panels.len() + self.narrow.len()) * 64 + self.col_sums.len() * 4
    }

    /// Number of 16-column panels.
    fn panel_count(&self) -> usize {
        self.n.div_ceil(16)
    }

    /// 64-byte lines per panel (`kpad / 4`).
    fn lines_per_panel(&self) -> usize {
        self.kpad / 4
    }

    /// B[kk][col] read back from the packed panels (the reference kernel uses this, so the
    /// tests check the packing too).
    fn weight(&self, kk: usize, col: usize) -> i8 {
        self.panels[(col / 16) * self.lines_per_panel() + kk / 4].0[(col % 16) * 4 + kk % 4]
    }
}

impl std::fmt::Debug for PackedWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackedWeights")
            .field("n", &self.n)
            .field("k", &self.k)
            .finish_non_exhaustive()
    }
}

/// The requantization of the epilogue; `bias` and `scale` hold one entry per column.
#[derive(Clone, Debug)]
pub struct Requant {
    /// Added to each column's accumulator (the zero-point folding included).
    pub bias: Vec<i32>,
    /// Multiplies each column's biased accumulator (`x_scale * w_scale[n] / y_scale`).
    pub scale: Vec<f32>,
    /// The output zero point.
    pub out_zp: u8,
    /// Lower clamp of the output (0, or the zero point for a fused ReLU).
    pub lo: u8,
    /// Upper clamp of the output.
    pub hi: u8,
}

/// A fused QLinearAdd: `out = sat(round(fma(t, ratio_a, fma(r, ratio_b, fixed))))` with
/// `fixed = add_zp - (ratio_a * out_zp + ratio_b * r_zp)`, clamped to `[lo, hi]`
/// (see [`epilogue`]). `data` row m is `data[m*ld .. m*ld + n]`.
#[derive(Clone, Copy, Debug)]
pub struct Residual<'a> {
    /// The shortcut's rows (u8, quantized with `r_zp`).
    pub data: &'a [u8],
    /// Bytes from one row of `data` to the next.
    pub ld: usize,
    /// The shortcut's zero point.
    pub r_zp: u8,
    /// `conv_scale / add_scale`.
    pub ratio_a: f32,
    /// `shortcut_scale / add_scale`.
    pub ratio_b: f32,
    /// The sum's zero point.
    pub add_zp: u8,
    /// Lower clamp of the sum.
    pub lo: u8,
    /// Upper clamp of the sum.
    pub hi: u8,
}

/// The A operand of an implicit GEMM over a padded image: a stride-1 convolution without
/// im2col. K is `shifts.len()` segments (the kernel's taps) of `seg_k` bytes; row `r` of
/// segment `s` is `data[(r + shifts[s]) * lda ..][..seg_k]` (the input pixel `shifts[s]`
/// pixels after grid pixel `r`, where the grid is the padded image's rows of `lda`-byte
/// pixels). B's K runs over the segments in the same order.
#[derive(Clone, Copy, Debug)]
pub struct ShiftedA<'a> {
    /// The padded image's pixels, from grid row 0 on.
    pub data: &'a [u8],
    /// Bytes per pixel of `data` (the image's channels).
    pub lda: usize,
    /// Per segment (tap), the pixel offset of its rows from the grid row.
    pub shifts: &'a [usize],
    /// Bytes of K per segment (a multiple of the kernel's `QGemm::shifted_seg_step`).
    pub seg_k: usize,
}

/// Where the rows of an implicit GEMM go: grid row `r` is the padded-width pixel
/// `q = first + r` (`q / wp`, `q % wp`); it is an output pixel when `q % wp < wo`, written
/// to C row `(q / wp) * wo + q % wp`; the other rows (the padding columns) are dropped.
#[derive(Clone, Copy, Debug)]
pub struct RowMap {
    /// The grid pixel of row 0.
    pub first: usize,
    /// Grid pixels per grid row (the padded width).
    pub wp: usize,
    /// Output pixels per output row (`<= wp`).
    pub wo: usize,
}

impl RowMap {
    /// The C row of grid row `r`, if it is an output pixel.
    #[inline]
    pub fn dest(&self, r: usize) -> Option<usize> {
        let q = self.first + r;
        (q % self.wp < self.wo).then(|| (q / self.wp) * self.wo + q % self.wp)
    }
}

/// The kernel selected once (e.g. at model load).
#[derive(Clone, Copy, Debug)]
pub struct QGemm {
    isa: Isa,
}

impl QGemm {
    /// None when `isa` is not supported here.
    pub fn new(isa: Isa) -> Option<Self> {
        cpu::supports(isa).then_some(QGemm { isa })
    }

    /// The best kernel this machine supports.
    pub fn best() -> Self {
        QGemm { isa: cpu::best() }
    }

    /// The instruction set this kernel runs on.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// C = epilogue(A x B) for M rows. A: row m is `a[m*lda .. m*lda+k]` (only those bytes are
    /// read). C: row m is `c[m*ldc .. m*ldc+n]`; only those bytes are written. Residual rows
    /// likewise `[m*ld .. m*ld+n]`. Panics (assert!) on slices too short for m/lda/ldc or
    /// requant vectors of the wrong length. Single-threaded; may be called from several
    /// threads at once (on disjoint C).
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &self,
        m: usize,
        a: &[u8],
        lda: usize,
        b: &PackedWeights,
        requant: &Requant,
        residual: Option<&Residual>,
        c: &mut [u8],
        ldc: usize,
    ) {
        if m > 0 && b.n() > 0 {
            assert!(ldc >= b.n(), "qgemm: ldc {ldc} < n {}", b.n());
            assert!(
                c.len() >= (m - 1) * ldc + b.n(),
                "qgemm: C slice too short ({} < {})",
                c.len(),
                (m - 1) * ldc + b.n()
            );
        }
        // SAFETY: `c` is an exclusive slice covering rows 0..m of n columns (asserted above).
        unsafe { self.run_raw_out(m, a, lda, b, requant, residual, c.as_mut_ptr(), ldc) }
    }

    /// Whether [`run_shifted`](Self::run_shifted) has a kernel of this ISA (AMX-INT8,
    /// AVX512-VNNI and the scalar reference); the others use im2col and [`run`](Self::run).
    pub fn has_shifted_kernel(&self) -> bool {
        self.shifted_seg_step().is_some()
    }

    /// The bytes of K a segment of [`run_shifted`](Self::run_shifted) must be a multiple of on
    /// this ISA: 64 on AMX-INT8 (its K step), 4 on AVX512-VNNI (one `vpdpbusd` group), 1 on
    /// the scalar reference; None without a shifted kernel.
    pub fn shifted_seg_step(&self) -> Option<usize> {
        match self.isa {
            Isa::AmxInt8 => Some(64),
            Isa::Avx512Vnni => Some(4),
            Isa::Scalar => Some(1),
            _ => None,
        }
    }

    /// C = epilogue(A x B) for the `m` grid rows of an implicit GEMM (see [`ShiftedA`],
    /// [`RowMap`]); no residual. `a.seg_k` must be a multiple of
    /// [`shifted_seg_step`](Self::shifted_seg_step), `b.k()` equal to
    /// `shifts.len() * seg_k`, and `a.data` must hold the rows read by whole 32-row blocks:
    /// `(m.next_multiple_of(32) - 1 + max(shifts)) * lda + seg_k` bytes (the kernel reads padded
    /// rows; only mapped rows `< m` are written). Panics when a check fails or the ISA has no
    /// shifted kernel.
    ///
    /// # Safety
    /// For every row `r < m` with `map.dest(r) == Some(d)`, the bytes
    /// `c.add(d * ldc) .. c.add(d * ldc + n)` must be valid for writes and neither read nor
    /// written by anyone else during the call.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn run_shifted(
        &self,
        m: usize,
        a: ShiftedA<'_>,
        b: &PackedWeights,
        requant: &Requant,
        map: RowMap,
        c: *mut u8,
        ldc: usize,
    ) {
        let n = b.n();
        let Some(step) = self.shifted_seg_step() else {
            panic!("qgemm: no shifted kernel for {:?}", self.isa)
        };
        assert_eq!(requant.bias.len(), n, "qgemm: requant.bias has the wrong length");
        assert_eq!(requant.scale.len(), n, "qgemm: requant.scale has the wrong length");
        assert!(
            a.seg_k > 0 && a.seg_k.is_multiple_of(step),
            "qgemm: seg_k {} not a multiple of {step}",
            a.seg_k
        );
        assert_eq!(a.shifts.len() * a.seg_k, b.k(), "qgemm: segments do not cover K");
        assert!(a.lda >= a.seg_k, "qgemm: lda {} < seg_k {}", a.lda, a.seg_k);
        assert!(ldc >= n && map.wp > 0 && map.wo <= map.wp, "qgemm: bad ldc or row map");
        if m == 0 || n == 0 {
            return;
        }
        let max_shift = a.shifts.iter().copied().max().unwrap_or(0);
        let rows = m.next_multiple_of(32) + max_shift;
        assert!(
            a.data.len() >= (rows - 1) * a.lda + a.seg_k,
            "qgemm: shifted A too short ({} < {})",
            a.data.len(),
            (rows - 1) * a.lda + a.seg_k
        );
        match self.isa {
            Isa::Scalar => reference::run_shifted(m, a, b, requant, map, c, ldc),
            #[cfg(target_arch = "x86_64")]
            Isa::AmxInt8 => amx::run_shifted(m, a, b, requant, map, c, ldc),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vnni => avx512vnni::run_shifted(m, a, b, requant, map, c, ldc),
            _ => unreachable!("checked by shifted_seg_step"),
        }
    }

    /// [`run`](Self::run) with C as a raw pointer, for callers whose threads write disjoint
    /// columns of one buffer (which `&mut` slices cannot express). Every other argument is
    /// checked as by `run`.
    ///
    /// # Safety
    /// For every row `r < m` the bytes `c.add(r * ldc) .. c.add(r * ldc + n)` must be valid
    /// for writes and neither read nor written by anyone else during the call.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn run_raw_out(
        &self,
        m: usize,
        a: &[u8],
        lda: usize,
        b: &PackedWeights,
        requant: &Requant,
        residual: Option<&Residual>,
        c: *mut u8,
        ldc: usize,
    ) {
        let (n, k) = (b.n(), b.k());
        assert_eq!(
            requant.bias.len(),
            n,
            "qgemm: requant.bias has {} entries, N = {n}",
            requant.bias.len()
        );
        assert_eq!(
            requant.scale.len(),
            n,
            "qgemm: requant.scale has {} entries, N = {n}",
            requant.scale.len()
        );
        if m == 0 || n == 0 {
            return;
        }
        assert!(lda >= k, "qgemm: lda {lda} < k {k}");
        assert!(ldc >= n, "qgemm: ldc {ldc} < n {n}");
        assert!(
            a.len() >= (m - 1) * lda + k,
            "qgemm: A slice too short ({} < {})",
            a.len(),
            (m - 1) * lda + k
        );
        if let Some(r) = residual {
            assert!(r.ld >= n, "qgemm: residual ld {} < n {n}", r.ld);
            assert!(r.data.len() >= (m - 1) * r.ld + n, "qgemm: residual slice too short");
        }
        match self.isa {
            Isa::Scalar => reference::run(m, a, lda, b, requant, residual, c, ldc),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => avx2::run(m, a, lda, b, requant, residual, c, ldc),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vnni => avx512vnni::run(m, a, lda, b, requant, residual, c, ldc),
            #[cfg(target_arch = "x86_64")]
            Isa::AmxInt8 => amx::run(m, a, lda, b, requant, residual, c, ldc),
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!("QGemm::new only accepts supported ISAs"),
        }
    }
}
