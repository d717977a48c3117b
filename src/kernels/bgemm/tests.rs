use super::*;

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

/// The kernels this CPU runs; `RESNEXT_REQUIRE_CPU_KERNELS=1` (CI) makes a missing AMX or
/// AVX512-BF16 kernel a failure rather than a silently shorter test where Linux lists
/// `amx_bf16` or `avx512_bf16`.
fn kernels() -> Vec<BGemm> {
    assert_required_kernels_run();
    [BIsa::Scalar, BIsa::Amx, BIsa::Avx512Bf16].into_iter().filter_map(BGemm::new).collect()
}

/// Fails when `RESNEXT_REQUIRE_CPU_KERNELS=1` and Linux lists `amx_bf16` or `avx512_bf16` but
/// that bf16 kernel cannot run (the unit tests of every user of the family call it).
pub(crate) fn assert_required_kernels_run() {
    for (isa, flag) in [(BIsa::Amx, "amx_bf16"), (BIsa::Avx512Bf16, "avx512_bf16")] {
        let required = crate::kernels::cpu::required_by_tests(flag);
        assert!(!required || isa.supported(), "{} required but not available", isa.name());
    }
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

/// Runs `case` on `gemm` (C starting from a guard value); returns C and, per value, the sum
/// of the magnitudes that went into it (the scale of its rounding error).
fn run_case(gemm: BGemm, case: &Case, seed: u64) -> (Vec<f32>, Vec<f64>) {
    let k = case.shifts.len() * case.seg_k;
    let max_shift = case.shifts.iter().copied().max().unwrap_or(0);
    let rows_a = case.m.next_multiple_of(16) - 1 + max_shift;
    let af = values(rows_a * case.lda + case.seg_k, seed);
    let mut a = vec![0u16; af.len()];
    gemm.to_bf16(&af, &mut a);
    let w = values(case.n * k, seed + 1);
    let bias = values(case.n, seed + 2);
    let rows = (0..case.m).filter_map(|r| dest(case.map, r)).max().map_or(0, |d| d + 1);
    let ldc = case.n + 3;
    let residual = values(rows * ldc, seed + 3);
    let b = PackedBf16::pack(&w, case.n, k);
    let e = Epilogue {
        bias: &bias,
        residual: case.residual.then_some((&residual[..], ldc)),
        relu: case.relu,
    };
    let mut c = vec![f32::from_bits(0x7fc0_dead); rows * ldc];
    let sa = ShiftedBf16 { data: &a, lda: case.lda, shifts: &case.shifts, seg_k: case.seg_k };
    // SAFETY: `c` holds every mapped row (rows x ldc values), exclusively ours.
    unsafe { gemm.run(case.m, sa, &b, &e, case.map, c.as_mut_ptr(), ldc) };
    let mut scale = vec![0f64; rows * ldc];
    for r in 0..case.m {
        let Some(d) = dest(case.map, r) else { continue };
        for col in 0..case.n {
            let mut s = bias[col].abs() as f64;
            for (seg, &shift) in case.shifts.iter().enumerate() {
                for kk in 0..case.seg_k {
                    let av = bf16_value(a[(r + shift) * case.lda + kk]) as f64;
                    s += (av * bf16_value(b.weight(seg * case.seg_k + kk, col)) as f64).abs();
                }
            }
            if case.residual {
                s += residual[d * ldc + col].abs() as f64;
            }
            scale[d * ldc + col] = s;
        }
    }
    (c, scale)
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (m, n, seg_k, shifts) in [
        (1usize, 1usize, 32usize, vec![0usize]),
        (13, 16, 32, vec![0]),
        (16, 17, 64, vec![0]),
        (17, 32, 32, vec![0]),
        (32, 48, 96, vec![0]),
        (45, 33, 256, vec![0]),
        (70, 100, 64, vec![0]),
        (37, 48, 32, vec![0, 1, 2, 9, 10, 11]),
        (64, 64, 64, vec![0, 1, 2, 10, 11, 12, 20, 21, 22]),
        (100, 290, 32, vec![0]),
    ] {
        for (lda_extra, map, residual, relu) in [
            (0usize, None, false, false),
            (32, None, true, true),
            (0, Some(RowMap { first: 3, wp: 10, wo: 8 }), false, true),
            (64, Some(RowMap { first: 0, wp: 9, wo: 9 }), true, false),
        ] {
            out.push(Case {
                m,
                n,
                seg_k,
                shifts: shifts.clone(),
                lda: seg_k + lda_extra,
                map,
                residual,
                relu,
            });
        }
    }
    out
}

/// Every kernel against the reference over odd shapes (M and N not multiples of the tiles,
/// K of one to eight steps, shifted segments, row maps, the fused residual and ReLU): within
/// 1e-6 of the magnitudes summed (float32 rounding of sums in another order), every mapped
/// value written and nothing else.
#[test]
fn kernels_match_the_reference() {
    let reference = BGemm::new(BIsa::Scalar).unwrap();
    for gemm in kernels() {
        for (i, case) in cases().iter().enumerate() {
            let (want, scale) = run_case(reference, case, i as u64);
            let (got, _) = run_case(gemm, case, i as u64);
            for (j, ((&g, &w), &s)) in got.iter().zip(&want).zip(&scale).enumerate() {
                if w.to_bits() == 0x7fc0_dead {
                    assert_eq!(
                        g.to_bits(),
                        0x7fc0_dead,
                        "{:?} case {i}: value {j} written",
                        gemm.isa()
                    );
                    continue;
                }
                assert!(
                    ((g - w) as f64).abs() <= 1e-6 * s + 1e-30,
                    "{:?} case {i} (m {} n {} seg_k {}): value {j} is {g}, reference {w}",
                    gemm.isa(),
                    case.m,
                    case.n,
                    case.seg_k
                );
            }
        }
    }
}

/// The reference against a float64 definition on bf16-rounded inputs.
#[test]
fn reference_is_the_bf16_product() {
    let gemm = BGemm::new(BIsa::Scalar).unwrap();
    let (m, n, k) = (5, 20, 64);
    let af = values(16 * k, 7);
    let mut a = vec![0u16; af.len()];
    gemm.to_bf16(&af, &mut a);
    let w = values(n * k, 8);
    let bias = values(n, 9);
    let b = PackedBf16::pack(&w, n, k);
    let mut c = vec![0f32; m * n];
    let e = Epilogue { bias: &bias, residual: None, relu: false };
    let sa = ShiftedBf16 { data: &a, lda: k, shifts: &[0], seg_k: k };
    // SAFETY: `c` holds m x n values.
    unsafe { gemm.run(m, sa, &b, &e, None, c.as_mut_ptr(), n) };
    for r in 0..m {
        for col in 0..n {
            let mut want = bias[col] as f64;
            for kk in 0..k {
                want += bf16_value(bf16_bits(af[r * k + kk])) as f64
                    * bf16_value(bf16_bits(w[col * k + kk])) as f64;
            }
            assert!((c[r * n + col] as f64 - want).abs() < 1e-5, "row {r} col {col}");
        }
    }
}

/// The AVX512-BF16 conversion (both x86 kernels) equals the scalar rounding on random values, ties, denormals,
/// infinities and NaN, at lengths that leave a masked tail.
#[test]
fn conversion_matches_the_reference() {
    let mut src = values(1000, 3);
    src.extend([
        1.0 + 1.0 / 256.0,
        1.0 + 3.0 / 256.0,
        f32::from_bits(1),
        -f32::from_bits(0x007f_ffff),
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MAX,
        f32::MIN_POSITIVE,
        0.0,
        -0.0,
    ]);
    for gemm in kernels().into_iter().filter(|g| g.isa() != BIsa::Scalar) {
        for len in [0, 1, 15, 16, 17, src.len()] {
            let mut got = vec![0xffffu16; len];
            gemm.to_bf16(&src[..len], &mut got);
            let mut want = vec![0u16; len];
            reference::to_bf16(&src[..len], &mut want);
            assert_eq!(got, want, "{:?}, length {len}", gemm.isa());
        }
        let mut nan = [0u16; 1];
        gemm.to_bf16(&[f32::NAN], &mut nan);
        assert!(bf16_value(nan[0]).is_nan());
    }
}

#[test]
#[should_panic(expected = "multiple of 32")]
fn segments_must_be_whole_k_steps() {
    let gemm = BGemm::new(BIsa::Scalar).unwrap();
    let b = PackedBf16::pack(&[0.0; 64], 1, 64);
    let a = vec![0u16; 16 * 64];
    let e = Epilogue { bias: &[0.0], residual: None, relu: false };
    let mut c = [0f32; 1];
    let sa = ShiftedBf16 { data: &a, lda: 64, shifts: &[0, 1, 2, 3], seg_k: 16 };
    // SAFETY: never reached: the checks panic first.
    unsafe { gemm.run(1, sa, &b, &e, None, c.as_mut_ptr(), 1) };
}

/// A K that is not a multiple of 32 cannot be packed.
#[test]
#[should_panic(expected = "not a multiple")]
fn packing_needs_whole_k_steps() {
    PackedBf16::pack(&[0.0; 40], 1, 40);
}

/// A that does not cover the 16-row blocks read is refused.
#[test]
#[should_panic(expected = "A too short")]
fn short_a_is_refused() {
    let gemm = BGemm::new(BIsa::Scalar).unwrap();
    let b = PackedBf16::pack(&[0.0; 32], 1, 32);
    let a = vec![0u16; 3 * 32];
    let e = Epilogue { bias: &[0.0], residual: None, relu: false };
    let mut c = [0f32; 3];
    let sa = ShiftedBf16 { data: &a, lda: 32, shifts: &[0], seg_k: 32 };
    // SAFETY: never reached: the checks panic first.
    unsafe { gemm.run(3, sa, &b, &e, None, c.as_mut_ptr(), 1) };
}

/// The tiled layout: the AVX512-BF16 conversion writes the scalar one's bits (zero rows after
/// the last), and every kernel's tiled GEMM matches the row-major reference on the same
/// values (the scalar one bit for bit), residual and ReLU fused, odd M and N.
#[test]
fn tiled_a_matches_row_major_a() {
    let reference = BGemm::new(BIsa::Scalar).unwrap();
    for (i, &(m, k, n)) in
        [(1usize, 32usize, 1usize), (17, 64, 33), (45, 256, 48), (100, 96, 290)].iter().enumerate()
    {
        let af = values(m * k, 40 + i as u64);
        let mut want_tiles = vec![0xffffu16; TiledBf16::len(m, k)];
        reference.to_bf16_tiled(&af, m, k, &mut want_tiles);
        let mut rows = vec![0u16; (m.next_multiple_of(16)) * k];
        reference.to_bf16(&af, &mut rows[..m * k]);
        let w = values(n * k, 41 + i as u64);
        let b = PackedBf16::pack(&w, n, k);
        let bias = values(n, 42 + i as u64);
        let ldc = n + 5;
        let residual = values(m * ldc, 43 + i as u64);
        let e = Epilogue { bias: &bias, residual: Some((&residual, ldc)), relu: true };
        let mut want = vec![0f32; m * ldc];
        let sa = ShiftedBf16 { data: &rows, lda: k, shifts: &[0], seg_k: k };
        // SAFETY: `want` holds m rows of ldc values.
        unsafe { reference.run(m, sa, &b, &e, None, want.as_mut_ptr(), ldc) };
        for gemm in kernels() {
            let mut tiles = vec![0xffffu16; TiledBf16::len(m, k)];
            gemm.to_bf16_tiled(&af, m, k, &mut tiles);
            assert_eq!(tiles, want_tiles, "{:?} case {i}: tiled conversion", gemm.isa());
            let mut got = vec![0f32; m * ldc];
            // SAFETY: `got` holds m rows of ldc values.
            unsafe {
                gemm.run_tiled(m, TiledBf16 { data: &tiles, k }, &b, &e, got.as_mut_ptr(), ldc)
            };
            for (j, (&g, &r)) in got.iter().zip(&want).enumerate() {
                let ok = if gemm.isa() == BIsa::Scalar {
                    g.to_bits() == r.to_bits()
                } else {
                    (g - r).abs() <= 1e-5 * (1.0 + r.abs()) * (k as f32).sqrt()
                };
                assert!(ok, "{:?} case {i}: value {j} is {g}, reference {r}", gemm.isa());
            }
        }
    }
}
