use super::*;
use half::f16;

/// A deterministic pseudo-random sequence in [-1, 1) (xorshift).
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn kernels() -> Vec<FGemm> {
    FIsa::ALL.into_iter().filter_map(FGemm::new).collect()
}

struct Case {
    m: usize,
    n: usize,
    seg_k: usize,
    shifts: Vec<usize>,
    lda: usize,
    map: Option<RowMap>,
    residual: bool,
    relu: bool,
}

/// How a case's B is packed.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Panel {
    /// Float32 weights in float32 panels.
    F32,
    /// The weights rounded to float16, in float16 panels.
    F16,
    /// The same float16-rounded weights, widened to float32 and packed in float32 panels.
    F16Widened,
}

/// Runs `case` on `gemm` with B packed as `panel`, C starting from a guard value; returns C.
fn run_case(gemm: FGemm, case: &Case, seed: u64, panel: Panel) -> Vec<f32> {
    let k = case.shifts.len() * case.seg_k;
    let max_shift = case.shifts.iter().copied().max().unwrap_or(0);
    let a = values((case.m - 1 + max_shift) * case.lda + case.seg_k, seed);
    let w = values(case.n * k, seed + 1);
    let bias = values(case.n, seed + 2);
    let rows = (0..case.m).filter_map(|r| dest(case.map, r)).max().map_or(0, |d| d + 1);
    let ldc = case.n + 3;
    let residual = values(rows * ldc, seed + 3);
    let halves: Vec<f16> = w.iter().map(|&v| f16::from_f32(v)).collect();
    let b = match panel {
        Panel::F32 => PackedF32::pack(&w, case.n, k),
        Panel::F16 => PackedF32::pack_f16(&halves, case.n, k),
        Panel::F16Widened => {
            let widened: Vec<f32> = halves.iter().map(|h| h.to_f32()).collect();
            PackedF32::pack(&widened, case.n, k)
        }
    };
    assert_eq!(b.is_f16(), panel == Panel::F16);
    let e = Epilogue {
        bias: &bias,
        residual: case.residual.then_some((&residual[..], ldc)),
        relu: case.relu,
    };
    let mut c = vec![f32::from_bits(0x7fc0_dead); rows * ldc];
    let sa = ShiftedA { data: &a, lda: case.lda, shifts: &case.shifts, seg_k: case.seg_k };
    // SAFETY: `c` holds every mapped row (rows x ldc values), exclusively ours.
    unsafe { gemm.run(case.m, sa, &b, &e, case.map, c.as_mut_ptr(), ldc) };
    c
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (m, n, seg_k, shifts) in [
        (1usize, 1usize, 1usize, vec![0usize]),
        (13, 16, 7, vec![0]),
        (25, 33, 64, vec![0]),
        (37, 48, 5, vec![0, 1, 2, 9, 10, 11]),
        (50, 8, 8, vec![0, 1, 2, 7, 8, 9, 14, 15, 16]),
        (24, 64, 32, vec![0, 3]),
        (100, 17, 3, (0..49).collect()),
        // K deeper than the AVX2 kernel's slice (256): 300 in three segments, sliced inside
        // the second; 520 in one.
        (30, 40, 100, vec![0, 1, 7]),
        (13, 24, 520, vec![0]),
    ] {
        for (residual, relu) in [(false, false), (true, false), (false, true), (true, true)] {
            let lda = seg_k + 5;
            out.push(Case { m, n, seg_k, shifts: shifts.clone(), lda, map: None, residual, relu });
            let map = RowMap { first: 3, wp: 7, wo: 5 };
            out.push(Case {
                m,
                n,
                seg_k,
                shifts: shifts.clone(),
                lda,
                map: Some(map),
                residual,
                relu,
            });
        }
    }
    out
}

/// Every kernel gives the reference's bits on every case (odd sizes, tails, maps, fusions),
/// and writes nothing but the mapped rows' first n columns.
#[test]
fn kernels_match_the_reference_bit_for_bit() {
    let reference = FGemm::new(FIsa::Scalar).unwrap();
    for (i, case) in cases().iter().enumerate() {
        let want = run_case(reference, case, i as u64, Panel::F32);
        for gemm in kernels() {
            let got = run_case(gemm, case, i as u64, Panel::F32);
            let same = want.iter().zip(&got).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{:?} differs on case {i} (m {} n {})", gemm.isa(), case.m, case.n);
        }
        let ldc = case.n + 3;
        for (at, v) in want.iter().enumerate() {
            let (row, col) = (at / ldc, at % ldc);
            let written = col < case.n && (0..case.m).any(|r| dest(case.map, r) == Some(row));
            assert_eq!(v.to_bits() == 0x7fc0_dead, !written, "case {i}: row {row} col {col}");
        }
    }
}

/// Float16 panels, on odd sizes, tails, maps and fusions: every kernel gives the bits of the
/// reference on float32 panels of the same weights widened (the widening is exact and happens
/// before the multiply-add, so the products are the float32 ones), while the panels take half
/// the bytes.
#[test]
fn float16_panels_give_the_bits_of_their_widened_weights() {
    let reference = FGemm::new(FIsa::Scalar).unwrap();
    let mut differs_from_f32 = false;
    for (i, case) in cases().iter().enumerate() {
        let seed = 1000 + i as u64;
        let want = run_case(reference, case, seed, Panel::F16Widened);
        for gemm in kernels() {
            let got = run_case(gemm, case, seed, Panel::F16);
            let same = want.iter().zip(&got).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{:?} differs on f16 case {i} (m {} n {})", gemm.isa(), case.m, case.n);
        }
        // The rounding to float16 does show (the test would not notice f32 panels otherwise).
        let f32_panels = run_case(reference, case, seed, Panel::F32);
        differs_from_f32 |= want.iter().zip(&f32_panels).any(|(a, b)| a.to_bits() != b.to_bits());
    }
    assert!(differs_from_f32, "no case tells float16 weights from float32 ones");
    let (n, k) = (33, 7);
    let halves = vec![f16::from_f32(0.5); n * k];
    let wide = vec![0.5f32; n * k];
    // 3 panels of 16 columns x 7 rows.
    assert_eq!(PackedF32::pack_f16(&halves, n, k).packed_bytes(), 3 * 16 * 7 * 2);
    assert_eq!(PackedF32::pack(&wide, n, k).packed_bytes(), 3 * 16 * 7 * 4);
}

/// Float16 panels widen every float16 value exactly, subnormals, extremes and signed zeros
/// included, on every kernel (one column per value, A = 1, no bias).
#[test]
fn float16_panels_widen_every_kind_of_value() {
    let specials: Vec<f16> = [
        0x0000u16, 0x8000, 0x0001, 0x8001, 0x03ff, 0x0400, 0x3c00, 0xbc00, 0x7bff, 0xfbff, 0x3555,
        0x1234, 0xc321, 0x5000, 0x0200, 0x8200, 0x2e66,
    ]
    .into_iter()
    .map(f16::from_bits)
    .collect();
    let n = specials.len();
    let b = PackedF32::pack_f16(&specials, n, 1);
    let bias = vec![0f32; n];
    let e = Epilogue { bias: &bias, residual: None, relu: false };
    for gemm in kernels() {
        let mut c = vec![f32::NAN; n];
        let sa = ShiftedA { data: &[1.0], lda: 1, shifts: &[0], seg_k: 1 };
        // SAFETY: `c` holds one row of n values.
        unsafe { gemm.run(1, sa, &b, &e, None, c.as_mut_ptr(), n) };
        for (h, v) in specials.iter().zip(&c) {
            // 0 + 1 * w: the sum keeps -0 as +0 (0 + -0 = +0), every other value exact.
            let want = if h.to_f32() == 0.0 { 0.0f32 } else { h.to_f32() };
            assert_eq!(
                v.to_bits(),
                want.to_bits(),
                "{:?}: {h:?} ({:#06x})",
                gemm.isa(),
                h.to_bits()
            );
        }
    }
}

/// The reference against the plain formula in f64 (bias + sum of products, + residual, ReLU).
#[test]
fn reference_computes_the_formula() {
    let (m, n, seg_k, shifts, lda) = (9usize, 20usize, 6usize, vec![0usize, 2, 5], 8usize);
    let k = shifts.len() * seg_k;
    let a = values((m - 1 + 5) * lda + seg_k, 7);
    let w = values(n * k, 8);
    let bias = values(n, 9);
    let residual = values(m * n, 10);
    let b = PackedF32::pack(&w, n, k);
    let e = Epilogue { bias: &bias, residual: Some((&residual, n)), relu: true };
    let mut c = vec![0f32; m * n];
    let sa = ShiftedA { data: &a, lda, shifts: &shifts, seg_k };
    // SAFETY: `c` holds m rows of n values.
    unsafe { FGemm::new(FIsa::Scalar).unwrap().run(m, sa, &b, &e, None, c.as_mut_ptr(), n) };
    for r in 0..m {
        for col in 0..n {
            let mut want = bias[col] as f64;
            for (s, &shift) in shifts.iter().enumerate() {
                for j in 0..seg_k {
                    want += a[(r + shift) * lda + j] as f64 * w[col * k + s * seg_k + j] as f64;
                }
            }
            want = (want + residual[r * n + col] as f64).max(0.0);
            assert!((c[r * n + col] as f64 - want).abs() < 1e-5, "row {r} col {col}");
        }
    }
}
