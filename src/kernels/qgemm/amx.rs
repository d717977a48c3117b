//! AMX-INT8 kernel (`tdpbusd`: u8 A tiles x i8 B tiles, i32 C tiles), in stable `asm!`.
//!
//! Tiles (palette 1, all 16 rows x 64 bytes): tmm0..3 = the 2x2 C tiles of a 32x32 block,
//! tmm4/5 = A (rows 0..16 / 16..32, one 64-byte K step), tmm6/7 = B (two 16-column panels,
//! 16 K groups of 4). A C block stays in its tiles over the whole K; then the tiles go to a
//! 4 KiB L1 scratch and the epilogue (AVX-512, shared with the VNNI kernel) writes u8 from
//! there. Smaller variants (1 A tile for blocks of <= 16 rows, 1 B tile for an odd last
//! panel) keep M and N remainders cheap.
//!
//! A is read in place (tile loads with stride `lda`) for the full 64-byte K steps of full
//! 32-row blocks; the K remainder of those rows is copied (masked loads, never past the k-th
//! byte) into a zero-padded 32x64 scratch, and the last, partial row block is copied whole
//! into a zero-padded scratch once per call. B's padding is zero, so padded products vanish.
//!
//! Loop order: chunks of panels whose packed B fits in ~512 KiB of L2, then 32-row blocks
//! (the 32 x K A block stays in L1 for K <= 1024), then the panel pairs of the chunk.
//!
//! The tile state is per thread: `run` loads its own tile configuration and releases the
//! tiles (`tilerelease`) before returning, so concurrent calls from several threads are
//! independent. Nothing between `ldtilecfg` and `tilerelease` can panic.

use core::arch::asm;
use core::arch::x86_64::*;

use crate::kernels::amx::{load_bias_tiles, load_tile_config, release_tiles, store_tiles};

use super::epilogue::avx512::{
    col_const, empty_cols, finish16, finish_2x32, no_res, res_const, rq_const, ColConst, ResConst,
    RqConst,
};
use super::epilogue::ResidualParams;
use super::pack::Line;
use super::raw::Ctx;
use super::{PackedWeights, Requant, Residual, RowMap, ShiftedA};

/// The four 16x16 i32 C tiles of one block: tile (i, j) at `(2i + j) * 256`, row r at `+16r`.
#[repr(C, align(64))]
struct CScratch([i32; 1024]);

/// The K remainder of a full 32-row block: row r at `64r`, zero padded.
#[repr(C, align(64))]
struct ATail([u8; 32 * 64]);

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
    if b.n() <= 8 {
        // 8-column GEMMs: a C tile would be half empty and the work is epilogue bound; the
        // VNNI narrow kernel (two K groups per zmm) is faster (AMX implies AVX512-VNNI).
        super::avx512vnni::run(m, a, lda, b, rq, res, c, ldc);
        return;
    }
    let rp = res.map(|r| ResidualParams::new(r, rq.out_zp));
    let x = Ctx::new(m, a, lda, b, res, c, ldc);
    // The last partial row block (m % 32 rows), copied whole and zero padded to 32 rows x
    // kpad, so its tile loads stay inside this buffer.
    let mfull = m / 32 * 32;
    let mut mtail = Vec::new();
    if mfull < m {
        mtail = vec![0u8; 32 * b.kpad];
        for row in mfull..m {
            let off = (row - mfull) * b.kpad;
            mtail[off..off + x.k].copy_from_slice(&a[row * lda..row * lda + x.k]);
        }
    }
    // SAFETY: reachable only through a `QGemm` built by `QGemm::new(Isa::AmxInt8)`, which
    // checked CPUID (AMX-TILE, AMX-INT8, AVX-512 F/BW/VL/DQ/VNNI), XCR0 and obtained the
    // XTILEDATA permission for the process. `QGemm::run_raw_out` asserted m, n >= 1, lda >= k,
    // ldc >= n, residual ld >= n and that a and the residual cover rows 0..m; its caller
    // guarantees that C's rows 0..m (n bytes each, stride ldc) are writable and exclusive. Tile loads of
    // A in place touch only A[row][0..64*(k/64)] of rows of full 32-row blocks (< m); all other
    // A reads are masked to [0, k) or come from `mtail` (32 x kpad bytes); B tile loads stay
    // inside the packed panels (kpad/64 steps of 1 KiB per panel); C/residual accesses are
    // masked to columns < n of rows < m.
    unsafe {
        if res.is_some() {
            drive::<true>(&x, b, rq, rp, &mtail)
        } else {
            drive::<false>(&x, b, rq, rp, &mtail)
        }
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")]
unsafe fn drive<const RES: bool>(
    x: &Ctx,
    b: &PackedWeights,
    rq: &Requant,
    rp: Option<ResidualParams>,
    mtail: &[u8],
) {
    let kc = rq_const(rq);
    let rk = match rp {
        Some(p) => res_const(&p),
        None => no_res(),
    };
    let kpad = b.kpad;
    let ksteps = kpad / 64;
    let kfull = x.k / 64;
    let ktl = x.k % 64;
    let lps = b.lines_per_panel();
    let np = b.panel_count();
    let bp = b.panels.as_ptr();
    // panels per chunk: packed B of the chunk <= 512 KiB, even, >= 2
    let chunk = ((512 * 1024) / (kpad * 16).max(1)).max(2) & !1;

    let bias = panel_bias(rq, np);
    let mut atail = ATail([0; 32 * 64]);
    // Two C scratch buffers: the epilogue of block i-1 runs (on the vector units) while the
    // tiles compute block i; block i is stored after that epilogue.
    let mut cs = [CScratch([0; 1024]), CScratch([0; 1024])];
    let mut pending: Option<(usize, usize, usize, usize, usize)> = None; // (buf, m0, mr, p, nt)
    let mut cur = 0usize;
    load_tile_config();

    let mut pc0 = 0;
    while pc0 < np {
        let pc1 = (pc0 + chunk).min(np);
        let mut m0 = 0;
        while m0 < x.m {
            let mr = (x.m - m0).min(32);
            let two_a = mr > 16;
            let (asrc, alda, nsteps, tail) = if mr == 32 {
                if ktl > 0 {
                    let mask: __mmask64 = (1u64 << ktl) - 1;
                    for r in 0..32 {
                        let src = x.a.add((m0 + r) * x.lda + kfull * 64);
                        let v = _mm512_maskz_loadu_epi8(mask, src as *const i8);
                        _mm512_store_si512(atail.0.as_mut_ptr().add(64 * r) as *mut _, v);
                    }
                }
                (x.a.add(m0 * x.lda), x.lda, kfull, ktl > 0)
            } else {
                (mtail.as_ptr(), kpad, ksteps, false)
            };
            let mut p = pc0;
            while p < pc1 {
                let two_b = pc1 - p >= 2;
                let b0 = bp.add(p * lps);
                let b1 = if two_b { bp.add((p + 1) * lps) } else { b0 };
                load_bias_tiles(
                    two_a,
                    bias.as_ptr().add(16 * p) as *const u8,
                    bias.as_ptr().add(16 * p + if two_b { 16 } else { 0 }) as *const u8,
                );
                if nsteps > 0 {
                    compute(two_a, two_b, asrc, alda, b0, b1, nsteps);
                }
                if tail {
                    let o = kfull * 16;
                    compute(two_a, two_b, atail.0.as_ptr(), 64, b0.add(o), b1.add(o), 1);
                }
                if let Some((buf, pm0, pmr, pp, pnt)) = pending {
                    epilogue::<RES>(x, rq, &kc, &rk, &cs[buf], pm0, pmr, pp, pnt);
                }
                store_tiles(two_a, two_b, cs[cur].0.as_mut_ptr() as *mut u8);
                let nt = if two_b { 2 } else { 1 };
                pending = Some((cur, m0, mr, p, nt));
                cur ^= 1;
                p += nt;
            }
            m0 += mr;
        }
        pc0 = pc1;
    }
    if let Some((buf, pm0, pmr, pp, pnt)) = pending {
        epilogue::<RES>(x, rq, &kc, &rk, &cs[buf], pm0, pmr, pp, pnt);
    }
    // SAFETY: this thread loaded the tile configuration above.
    release_tiles();
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn epilogue<const RES: bool>(
    x: &Ctx,
    rq: &Requant,
    kc: &RqConst,
    rk: &ResConst,
    cs: &CScratch,
    m0: usize,
    mr: usize,
    p: usize,
    nt: usize,
) {
    let col0 = 16 * p;
    let cc0 = col_const(rq, col0, (x.n - col0).min(16));
    let cc: [ColConst; 2] = if nt == 2 {
        [cc0, col_const(rq, col0 + 16, (x.n - col0 - 16).min(16))]
    } else {
        [cc0, cc0]
    };
    let base = cs.0.as_ptr();
    let at =
        |r: usize, j: usize| base.add((2 * (r / 16) + j) * 256 + 16 * (r % 16)) as *const __m512i;
    if RES {
        for r in 0..mr {
            let row = m0 + r;
            let cp = x.c.add(row * x.ldc + col0);
            let rp = x.r.wrapping_add(row * x.rld + col0);
            for (j, ccj) in cc.iter().enumerate().take(nt) {
                finish16::<RES>(
                    _mm512_load_si512(at(r, j) as *const _),
                    ccj,
                    kc,
                    rk,
                    rp.wrapping_add(16 * j),
                    cp.add(16 * j),
                );
            }
        }
    } else {
        let cc1 = if nt == 2 { cc[1] } else { empty_cols() };
        let mut r = 0;
        while r < mr {
            let two = r + 1 < mr;
            let r1 = if two { r + 1 } else { r };
            let c0 = x.c.add((m0 + r) * x.ldc + col0);
            let c1 = if two { x.c.add((m0 + r1) * x.ldc + col0) } else { core::ptr::null_mut() };
            // with nt == 1 the second half reads stale (finite) scratch data, masked off
            finish_2x32(
                _mm512_load_si512(at(r, 0) as *const _),
                _mm512_load_si512(at(r, 1) as *const _),
                _mm512_load_si512(at(r1, 0) as *const _),
                _mm512_load_si512(at(r1, 1) as *const _),
                &cc[0],
                &cc1,
                kc,
                c0,
                c1,
            );
            r += 2;
        }
    }
}

/// Configures this thread's tiles as both drivers use them (palette 1): tmm0..7 all 16 rows x
/// 64 bytes.
///
/// The bias padded with zeros to whole 16-column panels: the C tiles start from it (tile
/// loads with stride 0 read 16 entries per panel).
fn panel_bias(rq: &Requant, panels: usize) -> Vec<i32> {
    let mut bias = vec![0i32; panels * 16];
    bias[..rq.bias.len()].copy_from_slice(&rq.bias);
    bias
}

/// The implicit GEMM of [`super::QGemm::run_shifted`]: for each panel pair (outer: its B,
/// `taps x seg_k x 32` bytes, stays in L1/L2) and each 32-row block of grid rows, one K step
/// loop per segment with A tiles loaded in place at the segment's row shift (stride `lda`),
/// then the epilogue writes the mapped rows.
pub(super) fn run_shifted(
    m: usize,
    a: ShiftedA<'_>,
    b: &PackedWeights,
    rq: &Requant,
    map: RowMap,
    c: *mut u8,
    ldc: usize,
) {
    // SAFETY: reachable only through a `QGemm` of `Isa::AmxInt8` (CPUID, XCR0 and the
    // XTILEDATA permission checked by `QGemm::new`). `run_shifted` asserted m, n >= 1,
    // seg_k % 64 == 0, K = segments x seg_k, and that `a.data` holds every row of whole
    // 32-row blocks at every shift (all A tile loads, 16 rows x 64 bytes at stride lda, stay
    // inside it); B tile loads stay inside the packed panels (K = kpad, no padding); the
    // epilogue writes only mapped rows < m, columns < n, which the caller guarantees writable.
    unsafe { drive_shifted(m, &a, b, rq, &map, c, ldc) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")]
unsafe fn drive_shifted(
    m: usize,
    a: &ShiftedA<'_>,
    b: &PackedWeights,
    rq: &Requant,
    map: &RowMap,
    c: *mut u8,
    ldc: usize,
) {
    let kc = rq_const(rq);
    let ksteps = a.seg_k / 64;
    let lps = b.lines_per_panel();
    let np = b.panel_count();
    let bp = b.panels.as_ptr();
    let n = b.n();
    let bias = panel_bias(rq, np);
    let mut cs = [CScratch([0; 1024]), CScratch([0; 1024])];
    let mut pending: Option<(usize, usize, usize, usize, usize)> = None; // (buf, m0, mr, p, nt)
    let mut cur = 0usize;
    load_tile_config();
    let base = a.data.as_ptr();
    let mut p = 0;
    while p < np {
        let two_b = np - p >= 2;
        let nt = if two_b { 2 } else { 1 };
        let b0 = bp.add(p * lps);
        let b1 = if two_b { bp.add((p + 1) * lps) } else { b0 };
        let mut m0 = 0;
        while m0 < m {
            let mr = (m - m0).min(32);
            let two_a = mr > 16;
            load_bias_tiles(
                two_a,
                bias.as_ptr().add(16 * p) as *const u8,
                bias.as_ptr().add(16 * p + if two_b { 16 } else { 0 }) as *const u8,
            );
            for (seg, &shift) in a.shifts.iter().enumerate() {
                let o = seg * ksteps * 16;
                let arow = base.add((m0 + shift) * a.lda);
                compute(two_a, two_b, arow, a.lda, b0.add(o), b1.add(o), ksteps);
            }
            if let Some((buf, pm0, pmr, pp, pnt)) = pending {
                epilogue_mapped(rq, &kc, &cs[buf], map, c, ldc, n, pm0, pmr, pp, pnt);
            }
            store_tiles(two_a, two_b, cs[cur].0.as_mut_ptr() as *mut u8);
            pending = Some((cur, m0, mr, p, nt));
            cur ^= 1;
            m0 += mr;
        }
        p += nt;
    }
    if let Some((buf, pm0, pmr, pp, pnt)) = pending {
        epilogue_mapped(rq, &kc, &cs[buf], map, c, ldc, n, pm0, pmr, pp, pnt);
    }
    // SAFETY: this thread loaded the tile configuration above.
    release_tiles();
}

/// The epilogue of one block of [`drive_shifted`]: rows `m0 .. m0 + mr` of the scratch's
/// tiles, each written to its mapped C row (dropped when it is a padding column).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn epilogue_mapped(
    rq: &Requant,
    kc: &RqConst,
    cs: &CScratch,
    map: &RowMap,
    c: *mut u8,
    ldc: usize,
    n: usize,
    m0: usize,
    mr: usize,
    p: usize,
    nt: usize,
) {
    let col0 = 16 * p;
    let cc0 = col_const(rq, col0, (n - col0).min(16));
    let cc1 = if nt == 2 { col_const(rq, col0 + 16, (n - col0 - 16).min(16)) } else { cc0 };
    let rk = no_res();
    let at = |r: usize, j: usize| {
        cs.0.as_ptr().add((2 * (r / 16) + j) * 256 + 16 * (r % 16)) as *const __m512i
    };
    for r in 0..mr {
        let Some(dest) = map.dest(m0 + r) else { continue };
        let cp = c.add(dest * ldc + col0);
        let acc0 = _mm512_load_si512(at(r, 0) as *const _);
        finish16::<false>(acc0, &cc0, kc, &rk, core::ptr::null(), cp);
        if nt == 2 {
            let acc1 = _mm512_load_si512(at(r, 1) as *const _);
            finish16::<false>(acc1, &cc1, kc, &rk, core::ptr::null(), cp.add(16));
        }
    }
}

/// Loads the used C tiles with the bias: every row of tmm0/tmm2 = `b0[0..16]`, of
/// `steps` (>= 1) K steps of 64: A tile rows at `a + r*lda` (+64 per step; second A tile 16
/// rows further), B tiles at `b0`/`b1` (+1 KiB per step). Accumulates into tmm0..3.
#[inline(always)]
unsafe fn compute(
    two_a: bool,
    two_b: bool,
    a: *const u8,
    lda: usize,
    b0: *const Line,
    b1: *const Line,
    steps: usize,
) {
    // SAFETY (caller): tiles configured; every tile load reads 16 rows x 64 bytes that the
    // caller guarantees readable (see `run`); `steps >= 1`.
    let a1 = a.wrapping_add(16 * lda);
    match (two_a, two_b) {
        (true, true) => asm!(
            "2:",
            "tileloadd tmm4, [{a0} + {lda}*1]",
            "tileloadd tmm6, [{b0} + {s}*1]",
            "tileloadd tmm7, [{b1} + {s}*1]",
            "tdpbusd tmm0, tmm4, tmm6",
            crate::kernels::amx::prefetch_b_tile!("b0"),
            crate::kernels::amx::prefetch_b_tile!("b1"),
            "tileloadd tmm5, [{a1} + {lda}*1]",
            "tdpbusd tmm1, tmm4, tmm7",
            "tdpbusd tmm2, tmm5, tmm6",
            "tdpbusd tmm3, tmm5, tmm7",
            "add {a0}, 64",
            "add {a1}, 64",
            "add {b0}, 1024",
            "add {b1}, 1024",
            "dec {n}",
            "jnz 2b",
            a0 = inout(reg) a => _, a1 = inout(reg) a1 => _, lda = in(reg) lda,
            b0 = inout(reg) b0 => _, b1 = inout(reg) b1 => _, s = in(reg) 64usize,
            n = inout(reg) steps => _, options(nostack)
        ),
        (true, false) => asm!(
            "2:",
            "tileloadd tmm4, [{a0} + {lda}*1]",
            "tileloadd tmm6, [{b0} + {s}*1]",
            "tdpbusd tmm0, tmm4, tmm6",
            "tileloadd tmm5, [{a1} + {lda}*1]",
            "tdpbusd tmm2, tmm5, tmm6",
            "add {a0}, 64",
            "add {a1}, 64",
            "add {b0}, 1024",
            "dec {n}",
            "jnz 2b",
            a0 = inout(reg) a => _, a1 = inout(reg) a1 => _, lda = in(reg) lda,
            b0 = inout(reg) b0 => _, s = in(reg) 64usize,
            n = inout(reg) steps => _, options(nostack)
        ),
        (false, true) => asm!(
            "2:",
            "tileloadd tmm4, [{a0} + {lda}*1]",
            "tileloadd tmm6, [{b0} + {s}*1]",
            "tileloadd tmm7, [{b1} + {s}*1]",
            "tdpbusd tmm0, tmm4, tmm6",
            "tdpbusd tmm1, tmm4, tmm7",
            "add {a0}, 64",
            "add {b0}, 1024",
            "add {b1}, 1024",
            "dec {n}",
            "jnz 2b",
            a0 = inout(reg) a => _, lda = in(reg) lda,
            b0 = inout(reg) b0 => _, b1 = inout(reg) b1 => _, s = in(reg) 64usize,
            n = inout(reg) steps => _, options(nostack)
        ),
        (false, false) => asm!(
            "2:",
            "tileloadd tmm4, [{a0} + {lda}*1]",
            "tileloadd tmm6, [{b0} + {s}*1]",
            "tdpbusd tmm0, tmm4, tmm6",
            "add {a0}, 64",
            "add {b0}, 1024",
            "dec {n}",
            "jnz 2b",
            a0 = inout(reg) a => _, lda = in(reg) lda,
            b0 = inout(reg) b0 => _, s = in(reg) 64usize,
            n = inout(reg) steps => _, options(nostack)
        ),
    }
}
