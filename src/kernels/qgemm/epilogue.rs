//! The requantizing epilogue (and the fused QLinearAdd residual): the scalar definition and
//! the AVX-512 form the VNNI and AMX kernels share (16 columns per zmm), and the AVX2 form of
//! the AVX2 kernel (8 columns per ymm).
//!
//! Requantization follows ONNX Runtime's `MlasRequantizeOutput` (per-column scale):
//! `v = acc + bias` (wrapping i32 add), `f = (v as f32) * scale` (i32 -> f32 rounds to
//! nearest even, like `cvtdq2ps`), `f = maxps(f, 0 - zp)`, `f = minps(f, 255 - zp)` (with
//! MAXPS/MINPS semantics: a NaN `f` yields the bound), `t = cvtps2dq(f) + zp` (round half to
//! even), then `t = clamp(t, lo, hi)`.
//!
//! The residual follows MLAS's QLinearAdd on x86 (`MlasQLinearAddKernelAvx2Helper`): the zero
//! points are folded into one float constant *before* rounding,
//! `fixed = add_zp - (ratio_a * out_zp + ratio_b * r_zp)` (plain multiplies and adds),
//! `x = fma(t, ratio_a, fma(r, ratio_b, fixed))` (fused, B operand first, as MLAS does with
//! the GEMM output as its input A and the shortcut as its input B), `out = cvtps2dq(x)`
//! (out of range or NaN gives `i32::MIN`, as the instruction does), saturated to `[0, 255]`
//! (MLAS's `packs_epi32` + `packus_epi16`), then clamped to `[add_lo, add_hi]`.
//!
//! The SIMD form folds the clamps: `maxps(f, lo - zp)`, `minps(f, hi - zp)`, `cvtps2dq`,
//! `+ zp` gives exactly the scalar two-step result for every input (rounding is monotone and
//! exact on integers, and NaN maps to `lo` both ways); likewise the residual's two integer
//! clamps fold into one `[add_lo, add_hi]` clamp. The unit tests check both against each
//! other on hand-picked and random values.

use super::Residual;

/// `cvtps2dq` with the default MXCSR rounding (nearest, ties to even): NaN and values outside
/// the i32 range give the "integer indefinite" `i32::MIN`.
#[inline]
pub(crate) fn cvt_rne(f: f32) -> i32 {
    if f.is_nan() || !(-2147483648.0..2147483648.0).contains(&f) {
        i32::MIN
    } else {
        f.round_ties_even() as i32
    }
}

/// MAXPS(a, b): `a > b ? a : b` (so a NaN `a` yields `b`).
#[inline]
fn maxps(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else {
        b
    }
}

/// MINPS(a, b): `a < b ? a : b`.
#[inline]
fn minps(a: f32, b: f32) -> f32 {
    if a < b {
        a
    } else {
        b
    }
}

/// The requantization of one accumulator (see the module docs); the definition.
#[inline]
pub fn requant_scalar(acc: i32, bias: i32, scale: f32, zp: u8, lo: u8, hi: u8) -> u8 {
    let v = acc.wrapping_add(bias);
    let mut f = v as f32 * scale;
    f = maxps(f, (0 - zp as i32) as f32);
    f = minps(f, (255 - zp as i32) as f32);
    let t = cvt_rne(f).wrapping_add(zp as i32); // in [0, 255]
    t.max(lo as i32).min(hi as i32) as u8
}

/// The residual's constants, derived once per call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ResidualParams {
    pub ratio_a: f32,
    pub ratio_b: f32,
    pub fixed: f32,
    pub lo: u8,
    pub hi: u8,
}

impl ResidualParams {
    pub fn new(r: &Residual, out_zp: u8) -> Self {
        let fixed = r.add_zp as f32 - (r.ratio_a * out_zp as f32 + r.ratio_b * r.r_zp as f32);
        ResidualParams { ratio_a: r.ratio_a, ratio_b: r.ratio_b, fixed, lo: r.lo, hi: r.hi }
    }
}

/// The fused QLinearAdd of one output (see the module docs); `t` is the requantized GEMM
/// output, `r` the shortcut value.
#[inline]
pub(crate) fn residual_scalar(t: u8, r: u8, p: &ResidualParams) -> u8 {
    let x = (t as f32).mul_add(p.ratio_a, (r as f32).mul_add(p.ratio_b, p.fixed));
    let q = cvt_rne(x).clamp(0, 255);
    q.max(p.lo as i32).min(p.hi as i32) as u8
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512 {
    //! 16-column AVX-512 epilogue shared by the VNNI and the AMX kernels. Every function needs
    //! AVX-512 F/BW/VL (the callers are `#[target_feature]` functions that enable them and run
    //! only where `cpu::supports` said so).
    use super::ResidualParams;
    use crate::kernels::qgemm::Requant;
    use core::arch::x86_64::*;

    /// Per-call broadcast constants of the requantization.
    #[derive(Clone, Copy)]
    pub(crate) struct RqConst {
        pub fmin: __m512,
        pub fmax: __m512,
        pub zp: __m512i,
    }

    /// Per-call broadcast constants of the residual.
    #[derive(Clone, Copy)]
    pub(crate) struct ResConst {
        pub ra: __m512,
        pub rb: __m512,
        pub fixed: __m512,
        pub lo: __m512i,
        pub hi: __m512i,
    }

    /// Per-16-column constants.
    #[derive(Clone, Copy)]
    pub(crate) struct ColConst {
        pub bias: __m512i,
        pub scale: __m512,
        pub mask: __mmask16,
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    #[inline]
    pub(crate) unsafe fn rq_const(rq: &Requant) -> RqConst {
        let zp = rq.out_zp as i32;
        RqConst {
            fmin: _mm512_set1_ps((rq.lo as i32 - zp) as f32),
            fmax: _mm512_set1_ps((rq.hi as i32 - zp) as f32),
            zp: _mm512_set1_epi32(zp),
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    #[inline]
    pub(crate) unsafe fn res_const(p: &ResidualParams) -> ResConst {
        ResConst {
            ra: _mm512_set1_ps(p.ratio_a),
            rb: _mm512_set1_ps(p.ratio_b),
            fixed: _mm512_set1_ps(p.fixed),
            lo: _mm512_set1_epi32(p.lo as i32),
            hi: _mm512_set1_epi32(p.hi as i32),
        }
    }

    /// Constants of the 16 columns starting at `col0` (`ncols` of them valid, 1..=16): only
    /// the valid entries of `bias`/`scale` are read.
    ///
    /// # Safety
    /// `col0 + ncols <= rq.bias.len()` and `<= rq.scale.len()`; AVX-512 F/BW/VL available.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    #[inline]
    pub(crate) unsafe fn col_const(rq: &Requant, col0: usize, ncols: usize) -> ColConst {
        let mask: __mmask16 = if ncols >= 16 { 0xffff } else { (1u16 << ncols) - 1 };
        ColConst {
            bias: _mm512_maskz_loadu_epi32(mask, rq.bias.as_ptr().add(col0)),
            scale: _mm512_maskz_loadu_ps(mask, rq.scale.as_ptr().add(col0)),
            mask,
        }
    }

    /// Requantizes 16 accumulators (which already include the bias: both kernels start their
    /// accumulators from it, an exact reordering of the wrapping i32 sum) to 16 i32 values in
    /// `[0, 255]`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    #[inline]
    pub(crate) unsafe fn requant16(acc: __m512i, cc: &ColConst, k: &RqConst) -> __m512i {
        _mm512_add_epi32(requant16_nozp(acc, cc, k), k.zp)
    }

    /// As [`requant16`] without the final `+ zp`: values in `[lo - zp, hi - zp]`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    #[inline]
    pub(crate) unsafe fn requant16_nozp(acc: __m512i, cc: &ColConst, k: &RqConst) -> __m512i {
        let f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), cc.scale);
        let f = _mm512_min_ps(_mm512_max_ps(f, k.fmin), k.fmax);
        _mm512_cvtps_epi32(f)
    }

    /// Epilogue without residual of a 2-row x 32-column piece: `r0c0`/`r0c1` are row 0's
    /// accumulators of columns 0..16 / 16..32 (constants `cc0`/`cc1`), `r1c*` row 1's. Packs
    /// the four vectors into one zmm (`vpackssdw` x2, `+ zp` on i16, `vpackuswb`, `vpermd`:
    /// exact, every value is in [0, 255]) and writes the masked columns of row 0 to `c0` and,
    /// when `c1` is not null, of row 1 to `c1`.
    ///
    /// # Safety
    /// The masked bytes of `c0` (and `c1` when not null) are writable.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn finish_2x32(
        r0c0: __m512i,
        r0c1: __m512i,
        r1c0: __m512i,
        r1c1: __m512i,
        cc0: &ColConst,
        cc1: &ColConst,
        k: &RqConst,
        c0: *mut u8,
        c1: *mut u8,
    ) {
        let i00 = requant16_nozp(r0c0, cc0, k);
        let i01 = requant16_nozp(r0c1, cc1, k);
        let i10 = requant16_nozp(r1c0, cc0, k);
        let i11 = requant16_nozp(r1c1, cc1, k);
        let zp16 = _mm512_packs_epi32(k.zp, k.zp);
        let x = _mm512_add_epi16(_mm512_packs_epi32(i00, i01), zp16);
        let y = _mm512_add_epi16(_mm512_packs_epi32(i10, i11), zp16);
        let z = _mm512_packus_epi16(x, y);
        // dword 4l+q of z holds elements 4l..4l+4 of vector q (q: i00, i01, i10, i11)
        let idx = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
        let z = _mm512_permutexvar_epi32(idx, z);
        let mask = (cc0.mask as u32) | ((cc1.mask as u32) << 16);
        _mm256_mask_storeu_epi8(c0 as *mut i8, mask, _mm512_castsi512_si256(z));
        if !c1.is_null() {
            _mm256_mask_storeu_epi8(c1 as *mut i8, mask, _mm512_extracti64x4_epi64::<1>(z));
        }
    }

    /// Column constants that select nothing (pads a missing second 16-column half).
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    #[inline]
    pub(crate) unsafe fn empty_cols() -> ColConst {
        ColConst { bias: _mm512_setzero_si512(), scale: _mm512_setzero_ps(), mask: 0 }
    }

    /// The residual on 16 requantized values; reads the `mask`ed bytes of `r` only.
    ///
    /// # Safety
    /// The bytes of `r` selected by `mask` are readable.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    #[inline]
    pub(crate) unsafe fn residual16(
        t: __m512i,
        r: *const u8,
        mask: __mmask16,
        k: &ResConst,
    ) -> __m512i {
        let rv =
            _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, r as *const i8)));
        let x = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), k.ra, _mm512_fmadd_ps(rv, k.rb, k.fixed));
        _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(x), k.lo), k.hi)
    }

    /// Writes the low byte of each `mask`ed lane of `v` (values already in 0..=255) to `c`.
    ///
    /// # Safety
    /// The bytes of `c` selected by `mask` are writable.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    #[inline]
    pub(crate) unsafe fn store16(c: *mut u8, mask: __mmask16, v: __m512i) {
        _mm512_mask_cvtepi32_storeu_epi8(c as *mut i8, mask, v);
    }

    /// Full epilogue of one 16-column vector of one row.
    ///
    /// # Safety
    /// As [`residual16`] and [`store16`] for `r` (when `RES`) and `c`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    #[inline]
    pub(crate) unsafe fn finish16<const RES: bool>(
        acc: __m512i,
        cc: &ColConst,
        k: &RqConst,
        rk: &ResConst,
        r: *const u8,
        c: *mut u8,
    ) {
        let mut v = requant16(acc, cc, k);
        if RES {
            v = residual16(v, r, cc.mask, rk);
        }
        store16(c, cc.mask, v);
    }

    /// Placeholder residual constants for calls without a residual (never used then).
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    #[inline]
    pub(crate) unsafe fn no_res() -> ResConst {
        let z = _mm512_setzero_ps();
        let zi = _mm512_setzero_si512();
        ResConst { ra: z, rb: z, fixed: z, lo: zi, hi: zi }
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    //! 8-column AVX2 form of the epilogue, for the AVX2 kernel: the same instructions as the
    //! AVX-512 form on 8 lanes (`cvtdq2ps`, `mulps`, `maxps`/`minps`, `cvtps2dq`, the
    //! residual's FMAs), with lane masks as vectors and the partial stores of a tail block
    //! done byte by byte. Every function needs AVX2 and FMA (the callers are
    //! `#[target_feature]` functions that enable them and run only where `cpu::supports` said
    //! so).
    use super::ResidualParams;
    use crate::kernels::qgemm::Requant;
    use core::arch::x86_64::*;

    /// Per-call broadcast constants of the requantization.
    #[derive(Clone, Copy)]
    pub(crate) struct RqConst {
        pub fmin: __m256,
        pub fmax: __m256,
        pub zp: __m256i,
    }

    /// Per-call broadcast constants of the residual.
    #[derive(Clone, Copy)]
    pub(crate) struct ResConst {
        pub ra: __m256,
        pub rb: __m256,
        pub fixed: __m256,
        pub lo: __m256i,
        pub hi: __m256i,
    }

    /// Per-8-column constants: `ncols` (1..=8) of the lanes are valid.
    #[derive(Clone, Copy)]
    pub(crate) struct ColConst {
        pub bias: __m256i,
        pub scale: __m256,
        pub ncols: usize,
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) unsafe fn rq_const(rq: &Requant) -> RqConst {
        let zp = rq.out_zp as i32;
        RqConst {
            fmin: _mm256_set1_ps((rq.lo as i32 - zp) as f32),
            fmax: _mm256_set1_ps((rq.hi as i32 - zp) as f32),
            zp: _mm256_set1_epi32(zp),
        }
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) unsafe fn res_const(p: &ResidualParams) -> ResConst {
        ResConst {
            ra: _mm256_set1_ps(p.ratio_a),
            rb: _mm256_set1_ps(p.ratio_b),
            fixed: _mm256_set1_ps(p.fixed),
            lo: _mm256_set1_epi32(p.lo as i32),
            hi: _mm256_set1_epi32(p.hi as i32),
        }
    }

    /// Placeholder residual constants for calls without a residual (never used then).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) unsafe fn no_res() -> ResConst {
        let z = _mm256_setzero_ps();
        let zi = _mm256_setzero_si256();
        ResConst { ra: z, rb: z, fixed: z, lo: zi, hi: zi }
    }

    /// Constants of the 8 columns starting at `col0` (`ncols` of them valid, 1..=8): only the
    /// valid entries of `bias`/`scale` are read (masked loads).
    ///
    /// # Safety
    /// `col0 + ncols <= rq.bias.len()` and `<= rq.scale.len()`; AVX2 available.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) unsafe fn col_const(rq: &Requant, col0: usize, ncols: usize) -> ColConst {
        let mask = _mm256_cmpgt_epi32(
            _mm256_set1_epi32(ncols as i32),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        );
        ColConst {
            bias: _mm256_maskload_epi32(rq.bias.as_ptr().add(col0), mask),
            scale: _mm256_maskload_ps(rq.scale.as_ptr().add(col0), mask),
            ncols,
        }
    }

    /// Requantizes 8 accumulators (without the bias: it is added here, a wrapping i32 add as
    /// in the definition) to 8 i32 values in `[lo, hi]`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) unsafe fn requant8(acc: __m256i, cc: &ColConst, k: &RqConst) -> __m256i {
        let f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(acc, cc.bias)), cc.scale);
        let f = _mm256_min_ps(_mm256_max_ps(f, k.fmin), k.fmax);
        _mm256_add_epi32(_mm256_cvtps_epi32(f), k.zp)
    }

    /// The residual on 8 requantized values; reads `ncols` bytes of `r` only.
    ///
    /// # Safety
    /// `r .. r + ncols` is readable.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) unsafe fn residual8(
        t: __m256i,
        r: *const u8,
        ncols: usize,
        k: &ResConst,
    ) -> __m256i {
        let bytes = if ncols == 8 {
            _mm_loadl_epi64(r as *const __m128i)
        } else {
            let mut buf = [0u8; 8];
            core::ptr::copy_nonoverlapping(r, buf.as_mut_ptr(), ncols);
            _mm_loadl_epi64(buf.as_ptr() as *const __m128i)
        };
        let rv = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
        let x = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t), k.ra, _mm256_fmadd_ps(rv, k.rb, k.fixed));
        _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(x), k.lo), k.hi)
    }

    /// Writes the low byte of the first `ncols` lanes of `v` (values in 0..=255) to `c`.
    ///
    /// # Safety
    /// `c .. c + ncols` is writable.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) unsafe fn store8(c: *mut u8, ncols: usize, v: __m256i) {
        // per 128-bit lane: i32 -> u16 -> u8 (exact, values are in 0..=255); dword 0 of each
        // lane then holds its 4 values
        let p = _mm256_packus_epi16(_mm256_packus_epi32(v, v), _mm256_setzero_si256());
        let lo = _mm_cvtsi128_si32(_mm256_castsi256_si128(p)) as u32;
        let hi = _mm_cvtsi128_si32(_mm256_extracti128_si256::<1>(p)) as u32;
        let bytes = ((hi as u64) << 32 | lo as u64).to_le_bytes();
        core::ptr::copy_nonoverlapping(bytes.as_ptr(), c, ncols);
    }

    /// Full epilogue of one 8-column vector of one row.
    ///
    /// # Safety
    /// As [`residual8`] (when `RES`) for `r` and [`store8`] for `c`, with `cc.ncols` bytes.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) unsafe fn finish8<const RES: bool>(
        acc: __m256i,
        cc: &ColConst,
        k: &RqConst,
        rk: &ResConst,
        r: *const u8,
        c: *mut u8,
    ) {
        let mut v = requant8(acc, cc, k);
        if RES {
            v = residual8(v, r, cc.ncols, rk);
        }
        store8(c, cc.ncols, v);
    }
}
