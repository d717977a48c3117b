//! AVX512-VNNI kernel (`vpdpbusd`: u8 activations broadcast, i8 packed weights).
//!
//! Register blocking: `MR` rows x `NV` panels of 16 columns, `MR * NV <= 24` i32 accumulator
//! zmm held over the whole K, then the fused epilogue straight from the registers. Loop
//! order: panel blocks (up to 64 columns) outer, row blocks inner, so the packed B block
//! (`64 x K_pad` bytes) stays hot in L1/L2 while A streams. K tails (K % 4) read the last
//! activation bytes with a masked load (never past the k-th byte of a row). N <= 8 uses the
//! `narrow` packing: two K groups per zmm (`vpbroadcastq` of 8 activation bytes), the two
//! halves summed at the end, so 8-column GEMMs keep all 16 lanes busy.

use core::arch::x86_64::*;

use super::epilogue::avx512::{
    col_const, empty_cols, finish16, finish_2x32, no_res, res_const, rq_const, ColConst, ResConst,
    RqConst,
};
use super::epilogue::ResidualParams;
use super::pack::Line;
use super::raw::Ctx;
use super::{PackedWeights, Requant, Residual};

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
    // checked `cpu::supports(Avx512Vnni | AmxInt8)` (both imply AVX-512 F/BW/VL/DQ/VNNI).
    // `QGemm::run_raw_out` asserted m >= 1, n >= 1, lda >= k, ldc >= n, rd >= n and that `a`
    // and the residual cover rows 0..m, and its caller guarantees C's rows 0..m (n bytes each,
    // stride ldc) writable and exclusive; the kernel reads only A[row][0..k], bias/scale[0..n],
    // residual[row][0..n] and writes only C[row][0..n] (masked loads/stores at the edges).
    unsafe {
        if res.is_some() {
            drive::<true>(&x, b, rq, rp)
        } else {
            drive::<false>(&x, b, rq, rp)
        }
    }
}

/// `match mr { v => call!(v), .. }` over the listed row counts (`call!` is a local macro
/// at the use site naming the monomorphized micro-kernel).
macro_rules! dispatch_mr {
    ($mr:expr, [$($v:literal),*], $call:ident) => {
        match $mr {
            $( $v => $call!($v), )*
            _ => unreachable!(),
        }
    };
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")]
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
    if x.n <= 8 {
        narrow::<RES>(x, b, rq, &kc, &rk);
        return;
    }
    let np = b.panel_count();
    let mut p = 0;
    while p < np {
        let nv = (np - p).min(4);
        match nv {
            4 => block::<4, RES>(x, b, rq, &kc, &rk, p),
            3 => block::<3, RES>(x, b, rq, &kc, &rk, p),
            2 => block::<2, RES>(x, b, rq, &kc, &rk, p),
            _ => block::<1, RES>(x, b, rq, &kc, &rk, p),
        }
        p += nv;
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")]
unsafe fn block<const NV: usize, const RES: bool>(
    x: &Ctx,
    b: &PackedWeights,
    rq: &Requant,
    kc: &RqConst,
    rk: &ResConst,
    p0: usize,
) {
    let mut cc = [col_const(rq, 16 * p0, (x.n - 16 * p0).min(16)); NV];
    for (j, c) in cc.iter_mut().enumerate() {
        let col0 = 16 * (p0 + j);
        *c = col_const(rq, col0, (x.n - col0).min(16));
    }
    let lps = b.lines_per_panel();
    let bp = b.panels.as_ptr().add(p0 * lps);
    let mrmax = match NV {
        4 => 6,
        3 => 8,
        2 => 12,
        _ => 16,
    };
    let mut m0 = 0;
    while m0 < x.m {
        let mr = (x.m - m0).min(mrmax);
        macro_rules! call {
            ($v:literal) => {
                micro::<$v, NV, RES>(x, bp, lps, &cc, kc, rk, m0, 16 * p0)
            };
        }
        match NV {
            4 => dispatch_mr!(mr, [1, 2, 3, 4, 5, 6], call),
            3 => dispatch_mr!(mr, [1, 2, 3, 4, 5, 6, 7, 8], call),
            2 => dispatch_mr!(mr, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], call),
            _ => dispatch_mr!(mr, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], call),
        }
        m0 += mr;
    }
}

/// `MR` rows (m0..m0+MR) x `NV` panels (columns from `col0`), whole K, then the epilogue.
// Not inlined into the row loop: the epilogue constants are then loaded after the K loop
// instead of being hoisted (and kept live, spilling accumulators) across it.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")]
#[inline(never)]
#[allow(clippy::too_many_arguments)]
unsafe fn micro<const MR: usize, const NV: usize, const RES: bool>(
    x: &Ctx,
    bp: *const Line,
    lps: usize,
    cc: &[ColConst; NV],
    kc: &RqConst,
    rk: &ResConst,
    m0: usize,
    col0: usize,
) {
    let acc = kloop::<MR, NV>(x, bp, lps, cc, m0);
    if RES {
        for (i, row) in acc.iter().enumerate() {
            let r = m0 + i;
            let cp = x.c.add(r * x.ldc + col0);
            let rp = x.r.wrapping_add(r * x.rld + col0);
            for j in 0..NV {
                finish16::<RES>(row[j], &cc[j], kc, rk, rp.wrapping_add(16 * j), cp.add(16 * j));
            }
        }
    } else {
        let zero = _mm512_setzero_si512();
        let none = empty_cols();
        let mut i = 0;
        while i < MR {
            let two = i + 1 < MR;
            let i1 = if two { i + 1 } else { i };
            let c0 = x.c.add((m0 + i) * x.ldc + col0);
            let c1 = if two { x.c.add((m0 + i1) * x.ldc + col0) } else { core::ptr::null_mut() };
            let mut j = 0;
            while j < NV {
                if j + 1 < NV {
                    finish_2x32(
                        acc[i][j],
                        acc[i][j + 1],
                        acc[i1][j],
                        acc[i1][j + 1],
                        &cc[j],
                        &cc[j + 1],
                        kc,
                        c0.add(16 * j),
                        if two { c1.add(16 * j) } else { c1 },
                    );
                } else {
                    finish_2x32(
                        acc[i][j],
                        zero,
                        acc[i1][j],
                        zero,
                        &cc[j],
                        &none,
                        kc,
                        c0.add(16 * j),
                        if two { c1.add(16 * j) } else { c1 },
                    );
                }
                j += 2;
            }
            i += 2;
        }
    }
}

/// The K loop of [`micro`], on its own (never inlined) so that the epilogue's constants do
/// not compete with the accumulators for registers (LLVM otherwise spills accumulators
/// inside the loop). The accumulators start from the bias.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")]
#[inline(never)]
unsafe fn kloop<const MR: usize, const NV: usize>(
    x: &Ctx,
    bp: *const Line,
    lps: usize,
    cc: &[ColConst; NV],
    m0: usize,
) -> [[__m512i; NV]; MR] {
    let lda = x.lda;
    let a = x.a.add(m0 * lda);
    let (kg, kt) = (x.k / 4, x.k % 4);
    // accumulators start from the bias (exact: wrapping i32 sums commute)
    let mut acc = [[_mm512_setzero_si512(); NV]; MR];
    for row in acc.iter_mut() {
        for j in 0..NV {
            row[j] = cc[j].bias;
        }
    }
    let mut bq = bp;
    for g in 0..kg {
        let mut bv = [_mm512_setzero_si512(); NV];
        for (j, v) in bv.iter_mut().enumerate() {
            *v = _mm512_load_si512(bq.add(j * lps) as *const _);
        }
        let ag = a.add(4 * g);
        for (i, row) in acc.iter_mut().enumerate() {
            let av = _mm512_set1_epi32((ag.add(i * lda) as *const i32).read_unaligned());
            for j in 0..NV {
                row[j] = _mm512_dpbusd_epi32(row[j], av, bv[j]);
            }
        }
        bq = bq.add(1);
    }
    if kt > 0 {
        let mask: __mmask16 = (1u16 << kt) - 1;
        let mut bv = [_mm512_setzero_si512(); NV];
        for (j, v) in bv.iter_mut().enumerate() {
            *v = _mm512_load_si512(bq.add(j * lps) as *const _);
        }
        let ag = a.add(4 * kg);
        for (i, row) in acc.iter_mut().enumerate() {
            let av =
                _mm512_broadcastd_epi32(_mm_maskz_loadu_epi8(mask, ag.add(i * lda) as *const i8));
            for j in 0..NV {
                row[j] = _mm512_dpbusd_epi32(row[j], av, bv[j]);
            }
        }
    }
    acc
}

/// N <= 8: the `narrow` packing, one zmm accumulator per row.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")]
unsafe fn narrow<const RES: bool>(
    x: &Ctx,
    b: &PackedWeights,
    rq: &Requant,
    kc: &RqConst,
    rk: &ResConst,
) {
    let cc = col_const(rq, 0, x.n);
    let bp = b.narrow.as_ptr();
    let mut m0 = 0;
    while m0 < x.m {
        let mr = (x.m - m0).min(16);
        macro_rules! call {
            ($v:literal) => {
                micro_narrow::<$v, RES>(x, bp, &cc, kc, rk, m0)
            };
        }
        dispatch_mr!(mr, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], call);
        m0 += mr;
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")]
#[inline(never)]
unsafe fn micro_narrow<const MR: usize, const RES: bool>(
    x: &Ctx,
    bp: *const Line,
    cc: &ColConst,
    kc: &RqConst,
    rk: &ResConst,
    m0: usize,
) {
    let lda = x.lda;
    let a = x.a.add(m0 * lda);
    let (kq, kt) = (x.k / 8, x.k % 8);
    let mut acc = [_mm512_setzero_si512(); MR];
    for h in 0..kq {
        let bv = _mm512_load_si512(bp.add(h) as *const _);
        let ah = a.add(8 * h);
        for (i, v) in acc.iter_mut().enumerate() {
            let av = _mm512_set1_epi64((ah.add(i * lda) as *const i64).read_unaligned());
            *v = _mm512_dpbusd_epi32(*v, av, bv);
        }
    }
    if kt > 0 {
        let mask: __mmask16 = (1u16 << kt) - 1;
        let bv = _mm512_load_si512(bp.add(kq) as *const _);
        let ah = a.add(8 * kq);
        for (i, v) in acc.iter_mut().enumerate() {
            let av =
                _mm512_broadcastq_epi64(_mm_maskz_loadu_epi8(mask, ah.add(i * lda) as *const i8));
            *v = _mm512_dpbusd_epi32(*v, av, bv);
        }
    }
    for (i, v) in acc.iter().enumerate() {
        let r = m0 + i;
        // lanes 2c / 2c+1 hold column c over the even / odd K groups
        let s = _mm512_add_epi32(*v, _mm512_srli_epi64::<32>(*v));
        let s = _mm512_add_epi32(_mm512_zextsi256_si512(_mm512_cvtepi64_epi32(s)), cc.bias);
        finish16::<RES>(s, cc, kc, rk, x.r.wrapping_add(r * x.rld), x.c.add(r * x.ldc));
    }
}
