//! The raw operand views the SIMD kernels share: built once per call from operands that
//! `QGemm::run_raw_out` has validated, then read through pointers inside the kernels'
//! `#[target_feature]` code.

use super::{PackedWeights, Residual};

/// Raw views of one GEMM call's validated operands: A (`m` rows of at least `k` bytes, stride
/// `lda`), C (`m` rows of `n` bytes, stride `ldc`), the residual (`r`/`rld`, null and 0 without
/// one) and the packed weights' `n` and `k`. Holds no ownership: it lives for the call only.
pub(super) struct Ctx {
    pub a: *const u8,
    pub lda: usize,
    pub c: *mut u8,
    pub ldc: usize,
    pub r: *const u8,
    pub rld: usize,
    pub m: usize,
    pub n: usize,
    pub k: usize,
}

impl Ctx {
    pub fn new(
        m: usize,
        a: &[u8],
        lda: usize,
        b: &PackedWeights,
        res: Option<&Residual>,
        c: *mut u8,
        ldc: usize,
    ) -> Self {
        let (r, rld) = res.map_or((core::ptr::null(), 0), |r| (r.data.as_ptr(), r.ld));
        Ctx { a: a.as_ptr(), lda, c, ldc, r, rld, m, n: b.n(), k: b.k() }
    }
}
