//! AVX2 kernel for CPUs without VNNI: exact u8 x i8 products through i16 `vpmaddwd`.
//!
//! AVX2's own u8 x i8 instruction, `vpmaddubsw`, saturates its i16 pair sums (that is what
//! makes ONNX Runtime's AVX2 INT8 kernels inexact, see `docs/cpu.md`). This kernel widens both
//! operands to i16 instead (`vpmovzxbw` / `vpmovsxbw`) and multiplies with `vpmaddwd` (i16 x
//! i16 pair sums into i32, exact for every u8 x i8 pair), so its results are bit-identical to
//! the scalar reference. It runs at the f32 FMA rate (one `vpmaddwd` of 16 products per cycle
//! against two 8-lane FMAs), with a quarter of the f32 kernels' weight and activation bytes.
//!
//! Operands: the shared packed panels (`[N/16][K_pad/4][16][4]`). A 16-byte quarter of a
//! 64-byte line holds 4 columns x 4 K values; `vpmovsxbw` widens it to 16 i16 lanes, and the
//! row's 4 activations of that K group, widened and repeated 4 times (`vpbroadcastd` +
//! `vpmovzxbw`), multiply it: i32 lane 2c gets column c's first K pair, lane 2c + 1 its
//! second. The pairs are summed once after the K loop (`vphaddd` + `vpermq`), which puts the
//! 8 columns of two quarters in order.
//!
//! Register blocking: up to [`MR`] rows x 8 columns (two quarters): 12 accumulators, 2
//! widened weight vectors, the activation vector and a product.
//!
//! A GEMM of more than 8 columns widens its activations once, not once per 8-column block: a
//! block of rows (at most [`WIDE_BYTES`] of i16) is widened into a scratch buffer (K padded
//! with zeros to a multiple of 4), then every 8-column block runs over it, each row's 4
//! activations read with one `vpbroadcastq` (a load, no shuffle). On one core of an AMD EPYC
//! with AVX2 only, `qgemm_gops` put the 1x1 shapes with K >= 256 at 36-38 GOP/s with it (the
//! `vpmaddwd` peak `isa_peaks` measures there) and at 30-33 without.
//! Within a row block, 8-column blocks are outer and rows inner, so the block's packed
//! weights (`8 x K_pad` bytes) stay in L1 while the scratch streams from L2. A GEMM of at
//! most 8 columns reads each row once anyway: it widens in the K loop (`vpmovzxbw`), its K
//! tail (K % 4) gathered byte by byte (never past the row's k-th byte). The packed weights
//! are zero past K.

use core::arch::x86_64::*;

use super::epilogue::avx2::{
    col_const, finish8, no_res, res_const, rq_const, ColConst, ResConst, RqConst,
};
use super::epilogue::ResidualParams;
use super::raw::Ctx;
use super::{PackedWeights, Requant, Residual};

/// Rows per micro-kernel call.
const MR: usize = 6;
/// Bytes of widened (i16) activations per row block: a quarter of a 512 KiB L2.
const WIDE_BYTES: usize = 128 << 10;

#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    m: usize,
    a: &[u8],
    lda: usize,
    b: &PackedWeights,
    rq: &Requant,
    res: Option<&Residual>,
    c: *mut u8,
    ldc: usize,
) {
    let rp = res.map(|r| ResidualParams::new(r, rq.out_zp));
    let x = Ctx::new(m, a, lda, b, res, c, ldc);
    // SAFETY: this kernel is only reachable through a `QGemm` built by `QGemm::new`, which
    // checked `cpu::supports(Avx2)` (AVX2 and FMA). `QGemm::run_raw_out` asserted m >= 1,
    // n >= 1, lda >= k, ldc >= n, residual ld >= n and that `a` and the residual cover rows
    // 0..m, and its caller guarantees C's rows 0..m (n bytes each, stride ldc) writable and
    // exclusive. The kernel reads only A[row][0..k], bias/scale[0..n] (masked loads),
    // residual[row][0..n] and whole lines of the packed panels (16 columns each, so the 8-column
    // blocks never leave them), and writes only C[row][0..n].
    unsafe {
        if res.is_some() {
            drive::<true>(&x, b, rq, rp)
        } else {
            drive::<false>(&x, b, rq, rp)
        }
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn drive<const RES: bool>(
    x: &Ctx,
    b: &PackedWeights,
    rq: &Requant,
    rp: Option<ResidualParams>,
) {
    let kc = rq_const(rq);
    let rk = match rp {
        Some(p) => res_const(&p),
        None => no_res(),
    };
    let lps = b.lines_per_panel();
    let lines = b.panels.as_ptr() as *const u8;
    // quarter (col0 % 16) / 4 of the panel's lines: 64 * lps bytes per panel
    let quarter = |col0: usize| lines.add((col0 / 16) * lps * 64 + (col0 % 16) * 4);
    if x.n <= 8 {
        let cc = col_const(rq, 0, x.n);
        let a = Rows::Bytes { a: x.a, lda: x.lda, k: x.k };
        row_tiles::<RES>(x, a, x.m, quarter(0), &cc, &kc, &rk, 0, 0);
        return;
    }
    let kp = x.k.next_multiple_of(4);
    let block = (WIDE_BYTES / (2 * kp)).clamp(MR, 32 * MR) / MR * MR;
    // zeros past k stay zero: `widen` writes only the first k values of a row
    let mut wide = vec![0i16; block.min(x.m) * kp];
    for m0 in (0..x.m).step_by(block) {
        let rows = (x.m - m0).min(block);
        widen(x, m0, rows, kp, &mut wide);
        let a = Rows::Wide { a: wide.as_ptr(), kp };
        for col0 in (0..x.n).step_by(8) {
            let cc = col_const(rq, col0, (x.n - col0).min(8));
            row_tiles::<RES>(x, a, rows, quarter(col0), &cc, &kc, &rk, m0, col0);
        }
    }
}

/// Where a row tile's activations come from.
#[derive(Clone, Copy)]
enum Rows {
    /// A itself: row `r` at `a + r * lda`, `k` bytes.
    Bytes { a: *const u8, lda: usize, k: usize },
    /// A row block widened by [`widen`]: its row `r` at `a + r * kp`, zero past k.
    Wide { a: *const i16, kp: usize },
}

/// Rows `m0..m0 + rows` of A widened to i16 into `wide` (`kp` values a row).
#[target_feature(enable = "avx2,fma")]
unsafe fn widen(x: &Ctx, m0: usize, rows: usize, kp: usize, wide: &mut [i16]) {
    for r in 0..rows {
        let src = x.a.add((m0 + r) * x.lda);
        let dst = &mut wide[r * kp..r * kp + x.k];
        let mut j = 0;
        while j + 16 <= x.k {
            let v = _mm256_cvtepu8_epi16(_mm_loadu_si128(src.add(j) as *const __m128i));
            _mm256_storeu_si256(dst.as_mut_ptr().add(j) as *mut __m256i, v);
            j += 16;
        }
        for (t, d) in dst.iter_mut().enumerate().skip(j) {
            *d = *src.add(t) as i16;
        }
    }
}

/// The 8 columns from `col0` for `rows` rows of `a` (A's rows `m0..m0 + rows`), in tiles of
/// at most [`MR`] rows.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn row_tiles<const RES: bool>(
    x: &Ctx,
    a: Rows,
    rows: usize,
    bq: *const u8,
    cc: &ColConst,
    kc: &RqConst,
    rk: &ResConst,
    m0: usize,
    col0: usize,
) {
    let mut r = 0;
    while r < rows {
        let mr = (rows - r).min(MR);
        let t = Tile { a, first: r, m0: m0 + r, col0 };
        match mr {
            1 => micro::<1, RES>(x, t, bq, cc, kc, rk),
            2 => micro::<2, RES>(x, t, bq, cc, kc, rk),
            3 => micro::<3, RES>(x, t, bq, cc, kc, rk),
            4 => micro::<4, RES>(x, t, bq, cc, kc, rk),
            5 => micro::<5, RES>(x, t, bq, cc, kc, rk),
            _ => micro::<MR, RES>(x, t, bq, cc, kc, rk),
        }
        r += mr;
    }
}

/// One register tile: rows `first..` of `a`, which are A's (and C's) rows `m0..`, and the 8
/// columns from `col0`.
#[derive(Clone, Copy)]
struct Tile {
    a: Rows,
    first: usize,
    m0: usize,
    col0: usize,
}

/// `ROWS` rows of the tile x its 8 columns, whole K, then the epilogue.
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
unsafe fn micro<const ROWS: usize, const RES: bool>(
    x: &Ctx,
    t: Tile,
    bq: *const u8,
    cc: &ColConst,
    kc: &RqConst,
    rk: &ResConst,
) {
    let acc = match t.a {
        Rows::Bytes { a, lda, k } => kloop::<ROWS>(a.add(t.first * lda), lda, k, bq),
        Rows::Wide { a, kp } => kloop_wide::<ROWS>(a.add(t.first * kp), kp, bq),
    };
    for (i, [q0, q1]) in acc.iter().enumerate() {
        let row = t.m0 + i;
        // q0 lanes: columns 0..4 x (pair 0, pair 1); q1: columns 4..8. vphaddd gives
        // [c0 c1 c4 c5 | c2 c3 c6 c7], vpermq (0, 2, 1, 3) puts them in order.
        let s = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_hadd_epi32(*q0, *q1));
        finish8::<RES>(
            s,
            cc,
            kc,
            rk,
            x.r.wrapping_add(row * x.rld + t.col0),
            x.c.add(row * x.ldc + t.col0),
        );
    }
}

/// The K loop of [`micro`] on A's bytes (`k` of each row of `a`, stride `lda`), on its own
/// (never inlined) so that the epilogue's constants do not compete with the accumulators for
/// registers.
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
unsafe fn kloop<const ROWS: usize>(
    a: *const u8,
    lda: usize,
    k: usize,
    bq: *const u8,
) -> [[__m256i; 2]; ROWS] {
    let (kg, kt) = (k / 4, k % 4);
    let mut acc = [[_mm256_setzero_si256(); 2]; ROWS];
    let mut bp = bq;
    for g in 0..kg {
        // 16-byte aligned: lines are 64-byte aligned, quarters at multiples of 16
        let b0 = _mm256_cvtepi8_epi16(_mm_load_si128(bp as *const __m128i));
        let b1 = _mm256_cvtepi8_epi16(_mm_load_si128(bp.add(16) as *const __m128i));
        let ag = a.add(4 * g);
        for (i, row) in acc.iter_mut().enumerate() {
            let word = (ag.add(i * lda) as *const i32).read_unaligned();
            let av = _mm256_cvtepu8_epi16(_mm_set1_epi32(word));
            row[0] = _mm256_add_epi32(row[0], _mm256_madd_epi16(av, b0));
            row[1] = _mm256_add_epi32(row[1], _mm256_madd_epi16(av, b1));
        }
        bp = bp.add(64);
    }
    if kt > 0 {
        let b0 = _mm256_cvtepi8_epi16(_mm_load_si128(bp as *const __m128i));
        let b1 = _mm256_cvtepi8_epi16(_mm_load_si128(bp.add(16) as *const __m128i));
        let ag = a.add(4 * kg);
        for (i, row) in acc.iter_mut().enumerate() {
            let mut word = 0u32;
            for t in 0..kt {
                word |= (*ag.add(i * lda + t) as u32) << (8 * t);
            }
            let av = _mm256_cvtepu8_epi16(_mm_set1_epi32(word as i32));
            row[0] = _mm256_add_epi32(row[0], _mm256_madd_epi16(av, b0));
            row[1] = _mm256_add_epi32(row[1], _mm256_madd_epi16(av, b1));
        }
    }
    acc
}

/// The K loop of [`micro`] on widened rows (`kp` i16 values each, zero past k, a multiple of
/// 4): each group of 4 activations is one 8-byte `vpbroadcastq`.
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
unsafe fn kloop_wide<const ROWS: usize>(
    a: *const i16,
    kp: usize,
    bq: *const u8,
) -> [[__m256i; 2]; ROWS] {
    let mut acc = [[_mm256_setzero_si256(); 2]; ROWS];
    let mut bp = bq;
    for g in 0..kp / 4 {
        let b0 = _mm256_cvtepi8_epi16(_mm_load_si128(bp as *const __m128i));
        let b1 = _mm256_cvtepi8_epi16(_mm_load_si128(bp.add(16) as *const __m128i));
        let ag = a.add(4 * g);
        for (i, row) in acc.iter_mut().enumerate() {
            let av = _mm256_set1_epi64x((ag.add(i * kp) as *const i64).read_unaligned());
            row[0] = _mm256_add_epi32(row[0], _mm256_madd_epi16(av, b0));
            row[1] = _mm256_add_epi32(row[1], _mm256_madd_epi16(av, b1));
        }
        bp = bp.add(64);
    }
    acc
}
