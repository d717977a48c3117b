//! The AVX512-BF16 kernel (`vdpbf16ps`: per 32-bit lane, two bf16 products added to a float32
//! accumulator) for CPUs without AMX, and the `vcvtneps2bf16` conversion of A that both x86
//! kernels use.
//!
//! The same register block as the f32 kernel (`fgemm`'s AVX-512 one, the tiles of
//! `kernels::zmm`): `MR` rows x `NV` 16-column panels of float32 accumulators in zmm
//! registers (12 x 2 or 24 x 1), started from the bias. Per K pair, one 64-byte load per panel of B (16 columns x 2 bf16, the packed
//! layout as it is) and one 32-bit broadcast per row of A (its two bf16 values); then the
//! residual and ReLU from registers, masked at the last panel. Each `vdpbf16ps` does twice
//! the multiply-adds of an f32 FMA: on AMD Zen 4 it runs at the FMA's rate (about 2x f32), on
//! Intel Sapphire Rapids at half of it (no gain there; its AMX kernel is the fast one).

use super::{Epilogue, PackedBf16, RowMap, ShiftedBf16};
use crate::kernels::zmm::{for_each_row_block, for_each_tile, prefetch_ahead, Operands, Out};
use core::arch::x86_64::*;

/// `dst[i] = bf16(src[i])` with `vcvtneps2bf16` (lengths checked by the caller).
pub(super) fn to_bf16(src: &[f32], dst: &mut [u16]) {
    // SAFETY: reachable only through a `BGemm` of `BIsa::Amx` or `BIsa::Avx512Bf16`, whose
    // support checks include AVX512-BF16 and AVX-512F/BW/VL; the loop reads `src` and writes
    // `dst` only below their common length (full vectors, then a masked tail).
    unsafe { convert(src, dst) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512bf16")]
unsafe fn convert(src: &[f32], dst: &mut [u16]) {
    let len = src.len().min(dst.len());
    let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
    let mut i = 0;
    while i + 16 <= len {
        let h = _mm512_cvtneps_pbh(_mm512_loadu_ps(s.add(i)));
        _mm256_storeu_si256(d.add(i) as *mut __m256i, core::mem::transmute::<__m256bh, __m256i>(h));
        i += 16;
    }
    if i < len {
        let mask = ((1u32 << (len - i)) - 1) as __mmask16;
        let h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, s.add(i)));
        _mm256_mask_storeu_epi16(
            d.add(i) as *mut i16,
            mask,
            core::mem::transmute::<__m256bh, __m256i>(h),
        );
    }
}

/// The arguments of one call (validated by [`super::BGemm::run`]): bf16 rows of A, bf16
/// panels of B.
type Ctx<'a> = Operands<'a, u16, u16>;

pub(super) fn run(
    m: usize,
    a: ShiftedBf16<'_>,
    b: &PackedBf16,
    e: &Epilogue<'_>,
    map: Option<RowMap>,
    c: *mut f32,
    ldc: usize,
) {
    let out = Out::new(e, b.n(), map, c, ldc);
    let x = Operands::new(a.data, a.lda, a.shifts, a.seg_k, b.panels.as_ptr(), b.k(), out);
    // SAFETY: reachable only through a `BGemm` of `BIsa::Avx512Bf16` (AVX512-BF16 and
    // AVX-512F/BW/VL/DQ checked by `supports_avx512_bf16`). `BGemm::run` asserted m, n >= 1,
    // seg_k a multiple of 32 (so every pair read is inside its segment), K = segments x
    // seg_k, and that `a.data` covers rows 0..m at every shift; the bias holds n values, the
    // residual every C row written; the caller guarantees the C rows written (n values each,
    // stride ldc) valid and exclusive. The kernel reads A rows `(r + shift) * lda .. + seg_k`
    // for r < m, B's panels (K x 16 bf16 each, `b.panels` holds ceil(n / 16) of them),
    // bias[0..n] and residual/C only at mapped rows, columns < n (masked at the last panel).
    for_each_row_block(m, 2 * b.k(), |m0, rows| unsafe {
        if e.residual.is_some() {
            drive::<true>(&x, m0, rows)
        } else {
            drive::<false>(&x, m0, rows)
        }
    });
}

/// Rows `m0 .. m0 + rows` against every panel of B, two panels at a time.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512bf16")]
unsafe fn drive<const RES: bool>(x: &Ctx, m0: usize, rows: usize) {
    macro_rules! two {
        ($v:literal, $r:expr, $p:expr) => {
            tile::<$v, 2, RES>(x, m0 + $r, $p)
        };
    }
    macro_rules! one {
        ($v:literal, $r:expr, $p:expr) => {
            tile::<$v, 1, RES>(x, m0 + $r, $p)
        };
    }
    for_each_tile!(x.out.n, rows, two, one);
}

/// Rows `m0 .. m0 + MR` x panels `p0 .. p0 + NV`: the whole K, then the epilogue.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512bf16")]
#[inline(never)]
unsafe fn tile<const MR: usize, const NV: usize, const RES: bool>(x: &Ctx, m0: usize, p0: usize) {
    let masks = x.out.masks::<NV>(p0);
    let mut acc = x.out.start::<MR, NV>(p0, &masks);
    // u16 values per panel: K pairs of 16 columns x 2.
    let panel = 16 * x.k;
    let lda = x.lda;
    let mut kk = 0;
    for &shift in x.shifts {
        let a = x.a.add((m0 + shift) * lda);
        let mut bp = x.b.add(p0 * panel + 16 * kk);
        let mut c = 0;
        while c < x.seg_k {
            let mut bv = [_mm512_setzero_ps(); NV];
            for (j, v) in bv.iter_mut().enumerate() {
                *v = _mm512_loadu_ps(bp.add(j * panel).cast::<f32>());
                prefetch_ahead(bp.add(j * panel));
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let pair = a.add(i * lda + c).cast::<i32>().read_unaligned();
                let av: __m512bh = core::mem::transmute(_mm512_set1_epi32(pair));
                for j in 0..NV {
                    let bj: __m512bh = core::mem::transmute(bv[j]);
                    row[j] = _mm512_dpbf16_ps(row[j], av, bj);
                }
            }
            bp = bp.add(32);
            c += 2;
        }
        kk += x.seg_k;
    }
    x.out.finish::<MR, NV, RES>(&acc, m0, p0, &masks);
}
