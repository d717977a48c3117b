//! The AMX-BF16 kernel (`tdpbf16ps`: bf16 A tiles x bf16 B tiles, float32 C tiles), in stable
//! `asm!`, and the AVX512-BF16 conversion of A to the tiled layout (the row-major one is
//! `avx512::to_bf16`).
//!
//! Tiles (palette 1, all 16 rows x 64 bytes, [`crate::kernels::amx`]): tmm0..3 = the 2 x 2 C
//! tiles of a 32 x 32 block, tmm4/5 = A (rows 0..16 / 16..32, one 32-value K step), tmm6/7 =
//! B (two 16-column panels, 16 K pairs each). The C tiles start from the bias (stride-0 tile
//! loads), stay in their tiles over the whole K, then go to one of two 4 KiB L1 scratches from
//! which the AVX-512 epilogue adds the residual, clamps and writes the mapped rows (masked at
//! the last panel) while the tiles compute the next block. A block of 16 rows or fewer uses one A tile, an odd last panel one B tile.
//!
//! Loop order: chunks of panels whose packed B fits in ~512 KiB of L2, then 32-row blocks
//! (the block's A rows stay in L1/L2 while the chunk's panel pairs pass), then the pairs.
//!
//! Nothing between the tile configuration and its release can panic.

use core::arch::asm;
use core::arch::x86_64::*;

use super::{dest, Epilogue, PackedBf16, RowMap, ShiftedBf16, TiledBf16, K_STEP};
use crate::kernels::amx::{load_bias_tiles, load_tile_config, release_tiles, store_tiles};

/// The four 16 x 16 float32 C tiles of one block: tile (i, j) at `(2i + j) * 256`, row r at
/// `+16r`.
#[repr(C, align(64))]
struct CScratch([f32; 1024]);

/// Bytes of packed B per panel chunk.
const CHUNK_BYTES: usize = 512 << 10;

/// The arguments of one call, as raw pointers (validated by [`super::BGemm::run`]).
struct Ctx<'a> {
    a: *const u16,
    /// Bytes from one A row to the next as rows are counted (`2 lda` in row-major A; in
    /// tiled A a 16-row block's bytes / 16, so that `m0 * row_bytes` finds block `m0 / 16`).
    row_bytes: usize,
    /// Bytes between the rows of one A tile (`2 lda`; 64 in tiled A).
    stride: usize,
    /// Bytes from one K step to the next within a tile row (64; 1 KiB in tiled A).
    astep: usize,
    shifts: &'a [usize],
    ksteps: usize,
    b: *const u16,
    /// u16 values per panel (`16 * K`).
    panel: usize,
    m: usize,
    n: usize,
    res: *const f32,
    rld: usize,
    relu: bool,
    map: Option<RowMap>,
    c: *mut f32,
    ldc: usize,
}

pub(super) fn run(
    m: usize,
    a: ShiftedBf16<'_>,
    b: &PackedBf16,
    e: &Epilogue<'_>,
    map: Option<RowMap>,
    c: *mut f32,
    ldc: usize,
) {
    let reads = AReads {
        a: a.data.as_ptr(),
        row_bytes: 2 * a.lda,
        stride: 2 * a.lda,
        astep: 64,
        shifts: a.shifts,
        ksteps: a.seg_k / K_STEP,
    };
    // SAFETY: reachable only through a `BGemm` of `BIsa::Amx` (CPUID, XCR0 and the XTILEDATA
    // permission checked by `supports_amx_bf16`). `BGemm::run` asserted m, n >= 1, seg_k a
    // multiple of 32, K = segments x seg_k, and that `a.data` holds rows up to ceil16(m) at
    // every shift, so every A tile load (16 rows x 64 bytes at stride 2 lda, rows < ceil16(m))
    // stays inside it; B tile loads stay inside the packed panels (K / 32 tiles of 1 KiB per
    // panel); the epilogue reads the residual and writes C only at mapped rows of rows < m,
    // columns < n, which the caller guarantees valid and exclusive.
    unsafe { gemm(m, reads, b, e, map, c, ldc) }
}

/// [`super::BGemm::run_tiled`]: A in 16-row blocks of contiguous 1 KiB tiles.
pub(super) fn run_tiled(
    m: usize,
    a: TiledBf16<'_>,
    b: &PackedBf16,
    e: &Epilogue<'_>,
    c: *mut f32,
    ldc: usize,
) {
    let reads = AReads {
        a: a.data.as_ptr(),
        // A 16-row block is K / 32 tiles of 1 KiB: 2 K bytes per row, as in row-major A.
        row_bytes: 2 * a.k,
        stride: 64,
        astep: 1024,
        shifts: &[0],
        ksteps: a.k / K_STEP,
    };
    // SAFETY: as in `run`; `BGemm::run_tiled` asserted K = a.k (a multiple of 32) and that
    // `a.data` holds ceil16(m) / 16 blocks of K / 32 tiles, so the A tile loads of block
    // `m0 / 16` (and the next) at 64-byte stride, 1 KiB per step, stay inside it.
    unsafe { gemm(m, reads, b, e, None, c, ldc) }
}

/// How the kernel walks A (row-major or tiled; see [`Ctx`]).
struct AReads<'a> {
    a: *const u16,
    row_bytes: usize,
    stride: usize,
    astep: usize,
    shifts: &'a [usize],
    ksteps: usize,
}

/// The rest of one call's [`Ctx`] (the bias padded to whole panels, which the C tiles load),
/// then the kernel.
///
/// # Safety
/// The contract of [`run`] / [`run_tiled`] for `reads`, `b`, `e`, `map` and `c`.
unsafe fn gemm(
    m: usize,
    reads: AReads<'_>,
    b: &PackedBf16,
    e: &Epilogue<'_>,
    map: Option<RowMap>,
    c: *mut f32,
    ldc: usize,
) {
    let (res, rld) = e.residual.map_or((core::ptr::null(), 0), |(r, ld)| (r.as_ptr(), ld));
    let mut bias = vec![0f32; b.n().div_ceil(16) * 16];
    bias[..b.n()].copy_from_slice(e.bias);
    let AReads { a, row_bytes, stride, astep, shifts, ksteps } = reads;
    let x = Ctx {
        a,
        row_bytes,
        stride,
        astep,
        shifts,
        ksteps,
        b: b.panels.as_ptr(),
        panel: 16 * b.k(),
        m,
        n: b.n(),
        res,
        rld,
        relu: e.relu,
        map,
        c,
        ldc,
    };
    // SAFETY: the caller's contract; bias tile loads read 16 values of `bias` (whole panels).
    if e.residual.is_some() {
        drive::<true>(&x, &bias)
    } else {
        drive::<false>(&x, &bias)
    }
}

/// `dst` = `src` (`rows` x `k` f32, row-major) rounded to bf16 in tiled layout: 16-row
/// blocks of `k / 32` tiles of 16 rows x 32 values (lengths checked by the caller; the rows
/// of the last block past `rows` are zeros).
pub(super) fn to_bf16_tiled(src: &[f32], rows: usize, k: usize, dst: &mut [u16]) {
    // SAFETY: reachable only through a `BGemm` of `BIsa::Amx` (AVX512-BF16 checked); the
    // caller asserted `src.len() == rows * k`, `k % 32 == 0` and `dst.len() == ceil16(rows) *
    // k`: every load reads 32 values of a row of `src`, every store writes 64 bytes inside
    // `dst`.
    unsafe { convert_tiled(src, rows, k, dst) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512bf16")]
unsafe fn convert_tiled(src: &[f32], rows: usize, k: usize, dst: &mut [u16]) {
    let steps = k / K_STEP;
    let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
    for r in 0..rows.next_multiple_of(16) {
        for step in 0..steps {
            let at = ((r / 16) * steps + step) * 512 + (r % 16) * 32;
            let v = if r < rows {
                let p = s.add(r * k + step * 32);
                _mm512_cvtne2ps_pbh(_mm512_loadu_ps(p.add(16)), _mm512_loadu_ps(p))
            } else {
                core::mem::transmute::<__m512i, __m512bh>(_mm512_setzero_si512())
            };
            _mm512_storeu_si512(d.add(at) as *mut _, core::mem::transmute::<__m512bh, __m512i>(v));
        }
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq")]
unsafe fn drive<const RES: bool>(x: &Ctx, bias: &[f32]) {
    let np = x.n.div_ceil(16);
    let chunk = (CHUNK_BYTES / (2 * x.panel).max(1)).max(2) & !1;
    // Two C scratch buffers: the epilogue of block i-1 runs (on the vector units) while the
    // tiles compute block i; block i is stored after that epilogue.
    let mut cs = [CScratch([0.0; 1024]), CScratch([0.0; 1024])];
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
            let mut p = pc0;
            while p < pc1 {
                let two_b = pc1 - p >= 2;
                let nt = if two_b { 2 } else { 1 };
                let b0 = x.b.add(p * x.panel);
                let b1 = if two_b { b0.add(x.panel) } else { b0 };
                let (b0_bias, b1_bias) =
                    (bias.as_ptr().add(16 * p), bias.as_ptr().add(16 * (p + nt - 1)));
                load_bias_tiles(two_a, b0_bias as *const u8, b1_bias as *const u8);
                for (seg, &shift) in x.shifts.iter().enumerate() {
                    let o = seg * x.ksteps * 512;
                    let a0 = (x.a as *const u8).add((m0 + shift) * x.row_bytes);
                    let a1 = a0.wrapping_add(16 * x.row_bytes);
                    let a = (a0, a1, x.stride, x.astep);
                    compute(two_a, two_b, a, b0.add(o), b1.add(o), x.ksteps);
                }
                if let Some((buf, pm0, pmr, pp, pnt)) = pending {
                    epilogue::<RES>(x, &cs[buf], pm0, pmr, pp, pnt);
                }
                store_tiles(two_a, two_b, cs[cur].0.as_mut_ptr() as *mut u8);
                pending = Some((cur, m0, mr, p, nt));
                cur ^= 1;
                p += nt;
            }
            m0 += mr;
        }
        pc0 = pc1;
    }
    if let Some((buf, pm0, pmr, pp, pnt)) = pending {
        epilogue::<RES>(x, &cs[buf], pm0, pmr, pp, pnt);
    }
    // SAFETY: this thread loaded the tile configuration above.
    release_tiles();
}

/// The lane mask of panel `p`'s columns that exist.
#[inline(always)]
fn lanes(n: usize, p: usize) -> __mmask16 {
    let count = (n - 16 * p).min(16);
    if count == 16 {
        0xffff
    } else {
        ((1u32 << count) - 1) as __mmask16
    }
}

/// Rows `m0 .. m0 + mr` of the block in `cs`, panels `p .. p + nt`: residual, ReLU, store.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq")]
#[inline]
unsafe fn epilogue<const RES: bool>(
    x: &Ctx,
    cs: &CScratch,
    m0: usize,
    mr: usize,
    p: usize,
    nt: usize,
) {
    let masks = [lanes(x.n, p), if nt == 2 { lanes(x.n, p + 1) } else { 0 }];
    let zero = _mm512_setzero_ps();
    for r in 0..mr {
        let Some(d) = dest(x.map, m0 + r) else { continue };
        for (j, &mask) in masks.iter().enumerate().take(nt) {
            let mut v = _mm512_load_ps(cs.0.as_ptr().add((2 * (r / 16) + j) * 256 + 16 * (r % 16)));
            let col = 16 * (p + j);
            if RES {
                v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, x.res.add(d * x.rld + col)));
            }
            if x.relu {
                v = _mm512_max_ps(v, zero);
            }
            _mm512_mask_storeu_ps(x.c.add(d * x.ldc + col), mask, v);
        }
    }
}

/// Loads the C tiles with the bias: every row of tmm0/tmm2 = `b0[0..16]`, of tmm1/tmm3 =
/// `b1[0..16]` (stride-0 tile loads; the unused tiles of a narrow block are loaded too and
/// `steps` (>= 1) K steps of 32 values: the two A tiles' rows at `a + r * lda` and
/// `a1 + r * lda` bytes (+`astep` per step: 64 in row-major A, 1 KiB in tiled A), B tiles at
/// `b0` / `b1` (+1 KiB per step). Accumulates into tmm0..3.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn compute(
    two_a: bool,
    two_b: bool,
    (a, a1, lda, astep): (*const u8, *const u8, usize, usize),
    b0: *const u16,
    b1: *const u16,
    steps: usize,
) {
    // SAFETY (caller): tiles configured; every tile load reads 16 rows x 64 bytes that the
    // caller guarantees readable (see `run`); `steps >= 1`.
    match (two_a, two_b) {
        (true, true) => asm!(
            "2:",
            "tileloadd tmm4, [{a0} + {lda}*1]",
            "tileloadd tmm6, [{b0} + {s}*1]",
            "tileloadd tmm7, [{b1} + {s}*1]",
            "tdpbf16ps tmm0, tmm4, tmm6",
            crate::kernels::amx::prefetch_b_tile!("b0"),
            crate::kernels::amx::prefetch_b_tile!("b1"),
            "tileloadd tmm5, [{a1} + {lda}*1]",
            "tdpbf16ps tmm1, tmm4, tmm7",
            "tdpbf16ps tmm2, tmm5, tmm6",
            "tdpbf16ps tmm3, tmm5, tmm7",
            "add {a0}, {astep}",
            "add {a1}, {astep}",
            "add {b0}, 1024",
            "add {b1}, 1024",
            "dec {n}",
            "jnz 2b",
            a0 = inout(reg) a => _, a1 = inout(reg) a1 => _, lda = in(reg) lda, astep = in(reg) astep,
            b0 = inout(reg) b0 => _, b1 = inout(reg) b1 => _, s = in(reg) 64usize,
            n = inout(reg) steps => _, options(nostack)
        ),
        (true, false) => asm!(
            "2:",
            "tileloadd tmm4, [{a0} + {lda}*1]",
            "tileloadd tmm6, [{b0} + {s}*1]",
            "tdpbf16ps tmm0, tmm4, tmm6",
            "tileloadd tmm5, [{a1} + {lda}*1]",
            "tdpbf16ps tmm2, tmm5, tmm6",
            "add {a0}, {astep}",
            "add {a1}, {astep}",
            "add {b0}, 1024",
            "dec {n}",
            "jnz 2b",
            a0 = inout(reg) a => _, a1 = inout(reg) a1 => _, lda = in(reg) lda, astep = in(reg) astep,
            b0 = inout(reg) b0 => _, s = in(reg) 64usize,
            n = inout(reg) steps => _, options(nostack)
        ),
        (false, true) => asm!(
            "2:",
            "tileloadd tmm4, [{a0} + {lda}*1]",
            "tileloadd tmm6, [{b0} + {s}*1]",
            "tileloadd tmm7, [{b1} + {s}*1]",
            "tdpbf16ps tmm0, tmm4, tmm6",
            "tdpbf16ps tmm1, tmm4, tmm7",
            "add {a0}, {astep}",
            "add {b0}, 1024",
            "add {b1}, 1024",
            "dec {n}",
            "jnz 2b",
            a0 = inout(reg) a => _, lda = in(reg) lda, astep = in(reg) astep,
            b0 = inout(reg) b0 => _, b1 = inout(reg) b1 => _, s = in(reg) 64usize,
            n = inout(reg) steps => _, options(nostack)
        ),
        (false, false) => asm!(
            "2:",
            "tileloadd tmm4, [{a0} + {lda}*1]",
            "tileloadd tmm6, [{b0} + {s}*1]",
            "tdpbf16ps tmm0, tmm4, tmm6",
            "add {a0}, {astep}",
            "add {b0}, 1024",
            "dec {n}",
            "jnz 2b",
            a0 = inout(reg) a => _, lda = in(reg) lda, astep = in(reg) astep,
            b0 = inout(reg) b0 => _, s = in(reg) 64usize,
            n = inout(reg) steps => _, options(nostack)
        ),
    }
}
