//! AVX512-VNNI kernel (`vpdpbusd`: u8 activations broadcast, i8 packed weights).
//!
//! Register blocking: `MR` rows x `NV` panels of 16 columns, `MR * NV <= 24` i32 accumulator
//! zmm held over the whole K, then the fused epilogue straight from the registers. Loop
//! order: panel blocks (up to 64 columns) outer, row blocks inner, so the packed B block
//! (`64 x K_pad` bytes) stays hot in L1/L2 while A streams. K tails (K % 4) read the last
//! activation bytes with a masked load (never past the k-th byte of a row). N <= 8 uses the
//! `narrow` packing: two K groups per zmm (`vpbroadcastq` of 8 activation bytes), the two
//! halves summed at the end, so 8-column GEMMs keep all 16 lanes busy.
//!
//! The implicit GEMM ([`run_shifted`]) is the same register blocks over K in segments (one per
//! tap), each segment's rows read in place from the padded image at its own pixel shift, and
//! an epilogue that writes each grid row to its output pixel or drops it ([`RowMap`]).

use core::arch::x86_64::*;

use super::epilogue::avx512::{
    col_const, empty_cols, finish16, finish_2x32, no_res, res_const, rq_const, ColConst, ResConst,
    RqConst,
};
use super::epilogue::ResidualParams;
use super::pack::Line;
use super::raw::Ctx;
use super::{PackedWeights, Requant, Residual, RowMap, ShiftedA};

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

/// The implicit GEMM of [`QGemm::run_shifted`](super::QGemm::run_shifted) on AVX512-VNNI.
pub(super) fn run_shifted(
    m: usize,
    a: ShiftedA<'_>,
    b: &PackedWeights,
    rq: &Requant,
    map: RowMap,
    c: *mut u8,
    ldc: usize,
) {
    let x = Ctx::new(m, a.data, a.lda, b, None, c, ldc);
    let segs = Segments { shifts: a.shifts, seg_k: a.seg_k, tail: 0, map: Some(map) };
    // SAFETY: reachable only through a `QGemm` built by `QGemm::new` (AVX512-VNNI checked).
    // `QGemm::run_shifted` asserted m, n >= 1, seg_k % 4 == 0, K = segments x seg_k and that
    // `a.data` holds rows 0..m at every shift (this kernel reads only rows `r + shift`, r < m,
    // bytes 0..seg_k of each: 4 at a time, inside the segment); B reads stay inside the packed
    // panels (K groups 0..K/4 of panels 0..N/16); the epilogue writes only mapped rows < m,
    // columns < n (masked stores), which the caller guarantees writable and exclusive.
    unsafe { drive_segments(&x, &segs, b, rq) }
}

/// The A rows one panel-kernel call reads: K in segments of `seg_k` bytes (a multiple of 4),
/// segment `s` read from row `r + shifts[s]` for output row `r`; then `tail` (< 4) more bytes
/// after the last segment's (a plain GEMM's K % 4). `map`: where the rows go (None: row r to
/// C row r).
struct Segments<'s> {
    shifts: &'s [usize],
    seg_k: usize,
    tail: usize,
    map: Option<RowMap>,
}

impl Segments<'_> {
    /// C at column `col0` of the destinations of rows `m0 .. m0 + MR`; null for a row the map
    /// drops. One division for the block: the rows' grid columns are stepped.
    ///
    /// # Safety
    /// Every kept row's destination is inside C (the caller's contract).
    #[inline(always)]
    unsafe fn dests<const MR: usize>(&self, x: &Ctx, m0: usize, col0: usize) -> [*mut u8; MR] {
        let mut out = [core::ptr::null_mut(); MR];
        match self.map {
            None => {
                for (i, p) in out.iter_mut().enumerate() {
                    *p = x.c.add((m0 + i) * x.ldc + col0);
                }
            }
            Some(map) => {
                let q = map.first + m0;
                let (mut y, mut col) = (q / map.wp, q % map.wp);
                for p in out.iter_mut() {
                    if col < map.wo {
                        *p = x.c.add((y * map.wo + col) * x.ldc + col0);
                    }
                    col += 1;
                    if col == map.wp {
                        (y, col) = (y + 1, 0);
                    }
                }
            }
        }
        out
    }
}

/// Panel blocks of up to 4 panels over the whole N, each over all rows (no residual). N <= 8
/// too runs on one masked panel: on ResNeXt's 8-channel groups (K = 9 x 8) a narrow-packing
/// variant took longer than two groups merged on one panel (the convolution's choice).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")]
unsafe fn drive_segments(x: &Ctx, segs: &Segments, b: &PackedWeights, rq: &Requant) {
    panel_blocks::<false>(x, segs, b, rq, &rq_const(rq), &no_res());
}

/// The panels in blocks of up to 4 (64 columns), each block over all rows.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")]
unsafe fn panel_blocks<const RES: bool>(
    x: &Ctx,
    segs: &Segments,
    b: &PackedWeights,
    rq: &Requant,
    kc: &RqConst,
    rk: &ResConst,
) {
    let np = b.panel_count();
    let mut p = 0;
    while p < np {
        let nv = (np - p).min(4);
        match nv {
            4 => block::<4, RES>(x, segs, b, rq, kc, rk, p),
            3 => block::<3, RES>(x, segs, b, rq, kc, rk, p),
            2 => block::<2, RES>(x, segs, b, rq, kc, rk, p),
            _ => block::<1, RES>(x, segs, b, rq, kc, rk, p),
        }
        p += nv;
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
    let segs = Segments { shifts: &[0], seg_k: x.k / 4 * 4, tail: x.k % 4, map: None };
    panel_blocks::<RES>(x, &segs, b, rq, &kc, &rk);
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")]
unsafe fn block<const NV: usize, const RES: bool>(
    x: &Ctx,
    segs: &Segments,
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
                micro::<$v, NV, RES>(x, segs, bp, lps, &cc, kc, rk, m0, 16 * p0)
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

/// `MR` rows (m0..m0+MR) x `NV` panels (columns from `col0`), whole K, then the epilogue
/// (with a residual only for a plain GEMM: `segs.map` None).
// Not inlined into the row loop: the epilogue constants are then loaded after the K loop
// instead of being hoisted (and kept live, spilling accumulators) across it.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")]
#[inline(never)]
#[allow(clippy::too_many_arguments)]
unsafe fn micro<const MR: usize, const NV: usize, const RES: bool>(
    x: &Ctx,
    segs: &Segments,
    bp: *const Line,
    lps: usize,
    cc: &[ColConst; NV],
    kc: &RqConst,
    rk: &ResConst,
    m0: usize,
    col0: usize,
) {
    let acc = kloop::<MR, NV>(x, segs, bp, lps, cc, m0);
    let dests = segs.dests::<MR>(x, m0, col0);
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
            let (c0, c1) = (dests[i], if two { dests[i + 1] } else { core::ptr::null_mut() });
            // Accumulator rows (r0, r1) to C rows (c0, c1): a dropped row 0 gives its place to
            // row 1; c1 null writes one row.
            let (r0, r1, c0, c1) = match (c0.is_null(), c1.is_null()) {
                (false, false) => (i, i + 1, c0, c1),
                (false, true) => (i, i, c0, c1),
                (true, false) => (i + 1, i + 1, c1, core::ptr::null_mut()),
                (true, true) => {
                    i += 2;
                    continue;
                }
            };
            let at = |c: *mut u8, j: usize| if c.is_null() { c } else { c.add(16 * j) };
            let mut j = 0;
            while j < NV {
                let (cc1, a01, a11) = if j + 1 < NV {
                    (&cc[j + 1], acc[r0][j + 1], acc[r1][j + 1])
                } else {
                    (&none, zero, zero)
                };
                finish_2x32(
                    acc[r0][j],
                    a01,
                    acc[r1][j],
                    a11,
                    &cc[j],
                    cc1,
                    kc,
                    at(c0, j),
                    at(c1, j),
                );
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
    segs: &Segments,
    bp: *const Line,
    lps: usize,
    cc: &[ColConst; NV],
    m0: usize,
) -> [[__m512i; NV]; MR] {
    let lda = x.lda;
    // accumulators start from the bias (exact: wrapping i32 sums commute)
    let mut acc = [[_mm512_setzero_si512(); NV]; MR];
    for row in acc.iter_mut() {
        for j in 0..NV {
            row[j] = cc[j].bias;
        }
    }
    let mut bq = bp;
    let mut a = x.a.add(m0 * lda);
    for &shift in segs.shifts {
        a = x.a.add((m0 + shift) * lda);
        for g in 0..segs.seg_k / 4 {
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
    }
    let kt = segs.tail;
    if kt > 0 {
        let mask: __mmask16 = (1u16 << kt) - 1;
        let mut bv = [_mm512_setzero_si512(); NV];
        for (j, v) in bv.iter_mut().enumerate() {
            *v = _mm512_load_si512(bq.add(j * lps) as *const _);
        }
        let ag = a.add(segs.seg_k);
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
