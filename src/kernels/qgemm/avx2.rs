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
//! widened weight vectors, the activation vector and a product. Loop order: 8-column blocks
//! outer, rows inner, so the block's packed weights (`8 x K_pad` bytes) stay in L1 while A
//! streams. K tails (K % 4) gather the row's last bytes one by one (never past its k-th
//! byte); the packed weights are zero there.

use core::arch::x86_64::*;

use super::epilogue::avx2::{
    col_const, finish8, no_res, res_const, rq_const, ColConst, ResConst, RqConst,
};
use super::epilogue::ResidualParams;
use super::raw::Ctx;
use super::{PackedWeights, Requant, Residual};

/// Rows per micro-kernel call.
const MR: usize = 6;

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
    for col0 in (0..x.n).step_by(8) {
        let cc = col_const(rq, col0, (x.n - col0).min(8));
        // quarter (col0 % 16) / 4 of the panel's lines: 64 * lps bytes per panel
        let bq = lines.add((col0 / 16) * lps * 64 + (col0 % 16) * 4);
        let mut m0 = 0;
        while m0 < x.m {
            let mr = (x.m - m0).min(MR);
            match mr {
                1 => micro::<1, RES>(x, bq, &cc, &kc, &rk, m0, col0),
                2 => micro::<2, RES>(x, bq, &cc, &kc, &rk, m0, col0),
                3 => micro::<3, RES>(x, bq, &cc, &kc, &rk, m0, col0),
                4 => micro::<4, RES>(x, bq, &cc, &kc, &rk, m0, col0),
                5 => micro::<5, RES>(x, bq, &cc, &kc, &rk, m0, col0),
                _ => micro::<MR, RES>(x, bq, &cc, &kc, &rk, m0, col0),
            }
            m0 += mr;
        }
    }
}

/// `ROWS` rows (m0..m0 + ROWS) x the 8 columns from `col0`, whole K, then the epilogue.
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
#[allow(clippy::too_many_arguments)]
unsafe fn micro<const ROWS: usize, const RES: bool>(
    x: &Ctx,
    bq: *const u8,
    cc: &ColConst,
    kc: &RqConst,
    rk: &ResConst,
    m0: usize,
    col0: usize,
) {
    let acc = kloop::<ROWS>(x, bq, m0);
    for (i, [q0, q1]) in acc.iter().enumerate() {
        let row = m0 + i;
        // q0 lanes: columns 0..4 x (pair 0, pair 1); q1: columns 4..8. vphaddd gives
        // [c0 c1 c4 c5 | c2 c3 c6 c7], vpermq (0, 2, 1, 3) puts them in order.
        let s = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_hadd_epi32(*q0, *q1));
        finish8::<RES>(
            s,
            cc,
            kc,
            rk,
            x.r.wrapping_add(row * x.rld + col0),
            x.c.add(row * x.ldc + col0),
        );
    }
}

/// The K loop of [`micro`], on its own (never inlined) so that the epilogue's constants do
/// not compete with the accumulators for registers.
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
unsafe fn kloop<const ROWS: usize>(x: &Ctx, bq: *const u8, m0: usize) -> [[__m256i; 2]; ROWS] {
    let lda = x.lda;
    let a = x.a.add(m0 * lda);
    let (kg, kt) = (x.k / 4, x.k % 4);
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
