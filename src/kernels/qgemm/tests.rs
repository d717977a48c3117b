//! Tests of the qgemm family: every ISA this CPU supports against the scalar reference (bit
//! exact), the reference against a direct computation from the unpacked weights, the
//! epilogue against hand-computed values, and the packing's column sums.

use super::epilogue::{cvt_rne, requant_scalar, residual_scalar, ResidualParams};
use super::*;
use crate::kernels::cpu;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn u8(&mut self) -> u8 {
        (self.next() >> 56) as u8
    }
    fn i8(&mut self) -> i8 {
        (self.next() >> 56) as i8
    }
    fn f32(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

const GUARD: u8 = 0xA5;

/// (data, ld, r_zp, ratio_a, ratio_b, add_zp, lo, hi)
type ResSpec = (Vec<u8>, usize, u8, f32, f32, u8, u8, u8);

struct Case {
    m: usize,
    n: usize,
    lda: usize,
    ldc: usize,
    a: Vec<u8>,
    w: Vec<i8>,
    rq: Requant,
    res: Option<ResSpec>,
}

impl Case {
    fn random(rng: &mut Rng, m: usize, n: usize, k: usize, with_res: bool) -> Case {
        let lda = k + [0, 0, 1, 5, 64][rng.below(5) as usize];
        let ldc = n + [0, 0, 1, 3, 32][rng.below(5) as usize];
        // value ranges: full, or small (to make exact .5 ties likely with power-of-two scales)
        let small = rng.below(4) == 0;
        let a: Vec<u8> =
            (0..(m - 1) * lda + k).map(|_| if small { rng.u8() % 4 } else { rng.u8() }).collect();
        let w: Vec<i8> = (0..n * k).map(|_| if small { rng.i8() % 3 } else { rng.i8() }).collect();
        let typical = (k as f32).sqrt() * 128.0 * 74.0; // ~ std of acc for full-range values
        let mode = rng.below(6);
        let bias: Vec<i32> = (0..n)
            .map(|_| match mode {
                0 => 0,
                5 => (rng.next() as i32) / 2, // huge: saturation either way
                _ => ((rng.f32() * 2.0 - 1.0) * typical) as i32,
            })
            .collect();
        let scale: Vec<f32> = (0..n)
            .map(|_| match mode {
                0 | 1 => [0.5f32, 0.25, 1.0, 0.125][rng.below(4) as usize],
                2 => 1e4 * rng.f32(),                // saturating
                3 => -(rng.f32() * 255.0 / typical), // negative scales
                _ => (0.2 + 2.0 * rng.f32()) * 128.0 / typical,
            })
            .collect();
        let out_zp = if rng.below(3) == 0 { 0 } else { rng.u8() };
        let (mut lo, mut hi) = (0u8, 255u8);
        match rng.below(4) {
            0 => lo = out_zp, // fused ReLU
            1 => {
                lo = rng.u8();
                hi = rng.u8();
                if lo > hi && rng.below(4) != 0 {
                    std::mem::swap(&mut lo, &mut hi);
                }
            }
            _ => {}
        }
        let rq = Requant { bias, scale, out_zp, lo, hi };
        let res = with_res.then(|| {
            let ld = n + [0, 2, 17][rng.below(3) as usize];
            let data: Vec<u8> = (0..(m - 1) * ld + n).map(|_| rng.u8()).collect();
            let (ra, rb) = match rng.below(3) {
                0 => (0.5, 0.25),
                1 => (rng.f32() * 2.0, rng.f32() * 2.0),
                _ => (rng.f32() * 40.0, -rng.f32() * 3.0),
            };
            let (mut alo, mut ahi) = (0u8, 255u8);
            if rng.below(2) == 0 {
                alo = rng.u8() / 2;
                ahi = 128 + rng.u8() / 2;
            }
            (data, ld, rng.u8(), ra, rb, rng.u8(), alo, ahi)
        });
        Case { m, n, lda, ldc, a, w, rq, res }
    }

    /// Runs `g` with guard bytes around/between the C rows; checks them; returns C rows.
    fn run(&self, g: &QGemm, b: &PackedWeights) -> Vec<u8> {
        let clen = (self.m - 1) * self.ldc + self.n;
        let mut buf = vec![GUARD; clen + 64];
        let res = self.res.as_ref().map(|(data, ld, r_zp, ra, rb, add_zp, lo, hi)| Residual {
            data,
            ld: *ld,
            r_zp: *r_zp,
            ratio_a: *ra,
            ratio_b: *rb,
            add_zp: *add_zp,
            lo: *lo,
            hi: *hi,
        });
        g.run(self.m, &self.a, self.lda, b, &self.rq, res.as_ref(), &mut buf[..clen], self.ldc);
        let mut out = Vec::with_capacity(self.m * self.n);
        for row in 0..self.m {
            out.extend_from_slice(&buf[row * self.ldc..row * self.ldc + self.n]);
            if row + 1 < self.m {
                assert!(
                    buf[row * self.ldc + self.n..(row + 1) * self.ldc].iter().all(|&x| x == GUARD),
                    "{}: row padding of C row {row} written",
                    g.isa().name()
                );
            }
        }
        assert!(
            buf[clen..].iter().all(|&x| x == GUARD),
            "{}: bytes after C written",
            g.isa().name()
        );
        out
    }
}

fn check_shape(rng: &mut Rng, m: usize, n: usize, k: usize, with_res: bool, isas: &[Isa]) {
    let case = Case::random(rng, m, n, k, with_res);
    let b = PackedWeights::pack(&case.w, n, k);
    let want = case.run(&QGemm::new(Isa::Scalar).unwrap(), &b);
    for &isa in isas {
        let got = case.run(&QGemm::new(isa).unwrap(), &b);
        if got != want {
            let i = got.iter().zip(&want).position(|(x, y)| x != y).unwrap();
            panic!(
                "{} differs from reference: (m,n,k)=({m},{n},{k}) res={with_res} lda={} ldc={} at row {} col {}: got {} want {} (rq zp {} lo {} hi {})",
                isa.name(), case.lda, case.ldc, i / n, i % n, got[i], want[i], case.rq.out_zp, case.rq.lo, case.rq.hi
            );
        }
    }
}

fn simd_isas() -> Vec<Isa> {
    let v: Vec<Isa> = cpu::supported_isas().into_iter().filter(|&i| i != Isa::Scalar).collect();
    println!("SIMD ISAs under test: {:?}", v);
    let avx2 = cpu::required_by_tests("avx2") && cpu::required_by_tests("fma");
    assert!(!avx2 || v.contains(&Isa::Avx2), "Linux lists avx2 and fma, no AVX2 kernel");
    v
}

#[test]
fn all_isas_match_reference_small_and_odd() {
    let isas = simd_isas();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let ms = [1usize, 2, 3, 5, 16, 17, 31, 33];
    let ns = [1usize, 7, 8, 9, 16, 17, 33, 64];
    let ks = [1usize, 3, 4, 5, 8, 63, 64, 65, 72, 128, 144, 147];
    for &m in &ms {
        for &n in &ns {
            for &k in &ks {
                let with_res = rng.below(2) == 0;
                check_shape(&mut rng, m, n, k, with_res, &isas);
            }
        }
    }
}

#[test]
fn all_isas_match_reference_conv_shapes() {
    let isas = simd_isas();
    let mut rng = Rng(0xfeed_beef_0bad_cafe);
    let shapes: &[(usize, usize, usize)] = &[
        (49, 2048, 2048),
        (49, 64, 576),
        (196, 32, 288),
        (100, 8, 72),
        (97, 16, 144),
        (130, 64, 147),
        (65, 256, 64),
        (64, 256, 256),
        (37, 1024, 256),
        (49, 128, 1024),
        (50, 48, 200),
        (3, 2048, 2048),
        (70, 40, 576),
        (33, 300, 100),
        // several row blocks of the AVX2 kernel's widened activations, with K tails
        (250, 24, 147),
        (400, 16, 1001),
    ];
    for &(m, n, k) in shapes {
        for with_res in [false, true] {
            check_shape(&mut rng, m, n, k, with_res, &isas);
        }
    }
}

#[test]
fn all_isas_match_reference_random() {
    let isas = simd_isas();
    let mut rng = Rng(0x0dd_c0ffee);
    for _ in 0..300 {
        let m = 1 + rng.below(70) as usize;
        let n = 1 + rng.below(80) as usize;
        let k = 1 + rng.below(300) as usize;
        let with_res = rng.below(2) == 0;
        check_shape(&mut rng, m, n, k, with_res, &isas);
    }
}

#[test]
fn concurrent_calls_on_disjoint_rows() {
    let mut rng = Rng(77);
    let (m, n, k) = (200usize, 96usize, 200usize);
    let case = Case::random(&mut rng, m, n, k, true);
    let b = PackedWeights::pack(&case.w, n, k);
    let want = case.run(&QGemm::new(Isa::Scalar).unwrap(), &b);
    for isa in cpu::supported_isas() {
        let g = QGemm::new(isa).unwrap();
        let mut c = vec![0u8; m * case.ldc];
        let (data, ld, r_zp, ra, rb, add_zp, lo, hi) = case.res.clone().unwrap();
        let half = m / 2 + 3;
        let (c0, c1) = c.split_at_mut(half * case.ldc);
        std::thread::scope(|s| {
            for (t, cpart) in [(0usize, c0), (1, c1)] {
                let (case, b, data) = (&case, &b, &data);
                s.spawn(move || {
                    let (r0, r1) = if t == 0 { (0, half) } else { (half, m) };
                    for _ in 0..20 {
                        let res = Residual {
                            data: &data[r0 * ld..],
                            ld,
                            r_zp,
                            ratio_a: ra,
                            ratio_b: rb,
                            add_zp,
                            lo,
                            hi,
                        };
                        let clen = (r1 - r0 - 1) * case.ldc + n;
                        g.run(
                            r1 - r0,
                            &case.a[r0 * case.lda..],
                            case.lda,
                            b,
                            &case.rq,
                            Some(&res),
                            &mut cpart[..clen],
                            case.ldc,
                        );
                    }
                });
            }
        });
        for row in 0..m {
            assert_eq!(
                &c[row * case.ldc..row * case.ldc + n],
                &want[row * n..row * n + n],
                "{} row {row}",
                isa.name()
            );
        }
    }
}

/// The reference kernel (which reads B back from the packing) against a direct computation
/// from the unpacked weights and the scalar epilogue.
#[test]
fn reference_matches_direct_computation() {
    let mut rng = Rng(99);
    for &(m, n, k) in
        &[(3usize, 17usize, 65usize), (5, 8, 147), (2, 33, 1), (4, 1, 300), (7, 64, 72)]
    {
        let case = Case::random(&mut rng, m, n, k, true);
        let b = PackedWeights::pack(&case.w, n, k);
        let got = case.run(&QGemm::new(Isa::Scalar).unwrap(), &b);
        let (data, ld, r_zp, ra, rb, add_zp, lo, hi) = case.res.clone().unwrap();
        let p = ResidualParams::new(
            &Residual { data: &data, ld, r_zp, ratio_a: ra, ratio_b: rb, add_zp, lo, hi },
            case.rq.out_zp,
        );
        for row in 0..m {
            for col in 0..n {
                let acc: i64 = (0..k)
                    .map(|kk| case.a[row * case.lda + kk] as i64 * case.w[col * k + kk] as i64)
                    .sum();
                let t = requant_scalar(
                    acc as i32,
                    case.rq.bias[col],
                    case.rq.scale[col],
                    case.rq.out_zp,
                    case.rq.lo,
                    case.rq.hi,
                );
                let want = residual_scalar(t, data[row * ld + col], &p);
                assert_eq!(got[row * n + col], want, "({m},{n},{k}) row {row} col {col}");
            }
        }
    }
}

#[test]
fn column_sums_match_direct_sum() {
    let mut rng = Rng(5);
    for &(n, k) in &[(1usize, 1usize), (8, 72), (17, 147), (64, 576), (33, 2048)] {
        let w: Vec<i8> = (0..n * k).map(|_| rng.i8()).collect();
        let b = PackedWeights::pack(&w, n, k);
        assert_eq!((b.n(), b.k()), (n, k));
        for col in 0..n {
            let s: i32 = w[col * k..col * k + k].iter().map(|&x| x as i32).sum();
            assert_eq!(b.column_sums()[col], s);
        }
        // every packed weight reads back, padding is zero
        for col in 0..n.div_ceil(16) * 16 {
            for kk in 0..b.kpad {
                let want = if col < n && kk < k { w[col * k + kk] } else { 0 };
                assert_eq!(b.weight(kk, col), want);
            }
        }
    }
    // extremes
    let w = vec![-128i8; 3 * 2048];
    assert!(PackedWeights::pack(&w, 3, 2048).column_sums().iter().all(|&s| s == -128 * 2048));
}

/// The scalar epilogue against a direct float formula on hand-picked values.
#[test]
fn epilogue_hand_picked() {
    // (acc + bias) * scale, round half to even, + zp, saturate, clamp
    let direct = |v: i64, scale: f64, zp: i32, lo: i32, hi: i32| -> u8 {
        let x = v as f64 * scale;
        let r = x.round_ties_even();
        let t = (r + zp as f64).clamp(0.0, 255.0) as i32;
        t.max(lo).min(hi) as u8
    };
    let cases: &[(i32, i32, f32, u8, u8, u8)] = &[
        (5, 0, 0.5, 0, 0, 255),     // 2.5 -> 2
        (7, 0, 0.5, 0, 0, 255),     // 3.5 -> 4
        (-5, 0, 0.5, 10, 0, 255),   // -2.5 -> -2, +10 = 8
        (-7, 0, 0.5, 10, 0, 255),   // -3.5 -> -4 -> 6
        (1, 0, 0.5, 3, 0, 255),     // 0.5 -> 0 -> 3
        (3, 0, 0.5, 3, 0, 255),     // 1.5 -> 2 -> 5
        (100, 5, 1.0, 128, 0, 255), // 233
        (1000, 0, 1.0, 0, 0, 255),  // saturate high
        (-1000, 0, 1.0, 0, 0, 255), // saturate low
        (i32::MAX, 0, 1e30, 7, 0, 255),
        (i32::MIN, 0, 1e30, 7, 0, 255),
        (i32::MIN, 0, -1e30, 7, 0, 255),
        (300, -100, 0.25, 20, 20, 255), // 50 + 20 = 70
        (-300, 0, 0.25, 20, 20, 255),   // relu: -75 + 20 -> 0 -> clamp 20
        (509, 0, 0.5, 0, 0, 100),       // 254.5 -> 254 -> clamp 100
        (511, 0, 0.5, 0, 0, 255),       // 255.5 -> 256 -> 255
        (0, 0, 0.0, 77, 0, 255),
        (123, 0, 1.0, 0, 200, 100), // lo > hi: hi
    ];
    for &(acc, bias, scale, zp, lo, hi) in cases {
        let got = requant_scalar(acc, bias, scale, zp, lo, hi);
        let want = direct(acc as i64 + bias as i64, scale as f64, zp as i32, lo as i32, hi as i32);
        assert_eq!(got, want, "acc {acc} bias {bias} scale {scale} zp {zp} [{lo},{hi}]");
    }
    // wrapping bias add (MLAS adds in i32): i32::MAX + 1 wraps to i32::MIN
    assert_eq!(requant_scalar(i32::MAX, 1, 1.0, 0, 0, 255), 0);
    // NaN (0 * inf) behaves like MAXPS: the lower bound
    assert_eq!(requant_scalar(0, 0, f32::INFINITY, 9, 0, 255), 0);
    assert_eq!(requant_scalar(0, 0, f32::INFINITY, 9, 12, 255), 12);
    // cvtps2dq
    assert_eq!(cvt_rne(2.5), 2);
    assert_eq!(cvt_rne(-0.5), 0);
    assert_eq!(cvt_rne(3e9), i32::MIN);
    assert_eq!(cvt_rne(f32::NAN), i32::MIN);

    // residual: x = t*ra + r*rb + (add_zp - (ra*out_zp + rb*r_zp)), round half even
    let mk = |r_zp: u8, ra: f32, rb: f32, add_zp: u8, lo: u8, hi: u8, out_zp: u8| {
        ResidualParams::new(
            &Residual { data: &[], ld: 0, r_zp, ratio_a: ra, ratio_b: rb, add_zp, lo, hi },
            out_zp,
        )
    };
    // (t - 10)*0.5 + (r - 20)*0.25 + 100 with t = 15, r = 22: 2.5 + 0.5 + 100 = 103 exactly
    assert_eq!(residual_scalar(15, 22, &mk(20, 0.5, 0.25, 100, 0, 255, 10)), 103);
    // tie: t = 11: 0.5 + 0.5 + 100 = 101; t = 11, r = 20: 100.5 -> 100 (even)
    assert_eq!(residual_scalar(11, 20, &mk(20, 0.5, 0.25, 100, 0, 255, 10)), 100);
    // 101.5 -> 102
    assert_eq!(residual_scalar(13, 20, &mk(20, 0.5, 0.25, 100, 0, 255, 10)), 102);
    // zero point added before rounding: add_zp = 1, value 0.5 -> 1.5 -> 2 (after-rounding
    // order would give round(0.5) + 1 = 1)
    assert_eq!(residual_scalar(11, 20, &mk(20, 0.5, 0.25, 1, 0, 255, 10)), 2);
    // saturation and clamps
    assert_eq!(residual_scalar(255, 255, &mk(0, 10.0, 10.0, 0, 0, 255, 0)), 255);
    assert_eq!(residual_scalar(0, 255, &mk(0, 1.0, -10.0, 0, 0, 255, 0)), 0);
    assert_eq!(residual_scalar(255, 255, &mk(0, 1e30, 1e30, 0, 0, 255, 0)), 0); // cvt overflow -> i32::MIN -> 0
    assert_eq!(residual_scalar(200, 0, &mk(0, 1.0, 1.0, 0, 0, 150, 0)), 150);
    assert_eq!(residual_scalar(3, 0, &mk(0, 1.0, 1.0, 0, 9, 150, 0)), 9);
}

/// The folded SIMD clamps equal the scalar two-step definition (exhaustive over zp/lo/hi
/// triples on a set of float inputs), via single-row GEMMs of every SIMD ISA.
#[test]
fn epilogue_simd_matches_scalar_on_edge_values() {
    let isas = simd_isas();
    // K = 1, A = 1: acc = B[0][n]; bias sweeps the interesting values.
    let n = 48;
    let w: Vec<i8> = (0..n).map(|i| (i as i8).wrapping_mul(37)).collect();
    let b = PackedWeights::pack(&w, n, 1);
    let specials = [
        0i32,
        1,
        -1,
        2,
        3,
        5,
        7,
        255,
        256,
        509,
        510,
        511,
        -509,
        -511,
        i32::MAX - 200,
        i32::MIN + 200,
        1 << 30,
    ];
    let scales = [0.5f32, 0.25, 1.0, -0.5, 1e30, -1e30, f32::INFINITY, 0.0, 3.3e-3];
    let mut rng = Rng(3);
    for &zp in &[0u8, 1, 127, 128, 254, 255] {
        for _ in 0..8 {
            let lo = if rng.below(2) == 0 { zp } else { rng.u8() };
            let hi = if rng.below(2) == 0 { 255 } else { rng.u8() };
            let bias: Vec<i32> =
                (0..n).map(|_| specials[rng.below(specials.len() as u64) as usize]).collect();
            let scale: Vec<f32> =
                (0..n).map(|_| scales[rng.below(scales.len() as u64) as usize]).collect();
            let rq = Requant { bias, scale, out_zp: zp, lo, hi };
            let a = [1u8];
            let mut want = vec![0u8; n];
            QGemm::new(Isa::Scalar).unwrap().run(1, &a, 1, &b, &rq, None, &mut want, n);
            for &isa in &isas {
                let mut got = vec![0u8; n];
                QGemm::new(isa).unwrap().run(1, &a, 1, &b, &rq, None, &mut got, n);
                assert_eq!(got, want, "{} zp {zp} lo {lo} hi {hi}", isa.name());
            }
        }
    }
}

/// A direct computation of one shifted-GEMM output (from the unpacked weights).
fn shifted_direct(
    a: &ShiftedA<'_>,
    w: &[i8],
    k: usize,
    rq: &Requant,
    row: usize,
    col: usize,
) -> u8 {
    let mut acc = 0i32;
    for (seg, &shift) in a.shifts.iter().enumerate() {
        for kk in 0..a.seg_k {
            let x = a.data[(row + shift) * a.lda + kk] as i32;
            acc = acc.wrapping_add(x * w[col * k + seg * a.seg_k + kk] as i32);
        }
    }
    requant_scalar(acc, rq.bias[col], rq.scale[col], rq.out_zp, rq.lo, rq.hi)
}

#[test]
fn shifted_kernels_match_a_direct_computation() {
    let mut rng = Rng(0x5EED_5417);
    let isas: Vec<Isa> = cpu::supported_isas()
        .into_iter()
        .filter(|&i| QGemm::new(i).is_some_and(|g| g.has_shifted_kernel()))
        .collect();
    let required = crate::kernels::cpu::required_by_tests("amx_int8");
    assert!(!required || isas.contains(&Isa::AmxInt8), "AMX-INT8 required but not available");
    let required = crate::kernels::cpu::required_by_tests("avx512_vnni");
    assert!(!required || isas.contains(&Isa::Avx512Vnni), "AVX512-VNNI required but not available");
    // (m, n, seg_k, shifts, wp, wo): 3x3 taps over a padded width, odd sizes, several K steps;
    // the segments narrower than 64 bytes run on the ISAs whose step allows them (VNNI: 4)
    let cases: [(usize, usize, usize, Vec<usize>, usize, usize); 11] = [
        (7 * 9, 64, 64, vec![0, 1, 2, 9, 10, 11, 18, 19, 20], 9, 7),
        (14 * 16, 64, 64, vec![0, 1, 2, 16, 17, 18, 32, 33, 34], 16, 14),
        (5 * 8, 48, 128, vec![0, 1, 2, 8, 9, 10, 16, 17, 18], 8, 6),
        (33, 16, 64, vec![0, 3], 11, 11),
        (17, 100, 192, vec![0, 1, 5], 5, 4),
        (3, 32, 64, vec![2], 4, 1),
        (58 * 58, 16, 16, vec![0, 1, 2, 58, 59, 60, 116, 117, 118], 58, 56),
        (9 * 9, 32, 32, vec![0, 1, 2, 9, 10, 11, 18, 19, 20], 9, 7),
        (23, 8, 8, vec![0, 1, 2, 6, 7, 8], 6, 5),
        (40, 72, 36, vec![0, 4, 9], 10, 9),
        (19, 40, 4, vec![1, 2, 3, 4], 19, 19),
    ];
    for isa in isas {
        let gemm = QGemm::new(isa).unwrap();
        let step = gemm.shifted_seg_step().unwrap();
        for (case, (m, n, seg_k, shifts, wp, wo)) in cases.iter().enumerate() {
            let (m, n, seg_k) = (*m, *n, *seg_k);
            if !seg_k.is_multiple_of(step) {
                continue;
            }
            let k = shifts.len() * seg_k;
            let lda = seg_k + [0, 64, 7][case % 3];
            let rows = m.next_multiple_of(32) + shifts.iter().max().unwrap();
            let data: Vec<u8> = (0..rows * lda).map(|_| rng.u8()).collect();
            let w: Vec<i8> = (0..n * k).map(|_| rng.i8()).collect();
            let b = PackedWeights::pack(&w, n, k);
            let typical = (k as f32).sqrt() * 128.0 * 74.0;
            let rq = Requant {
                bias: (0..n).map(|_| rng.below(40000) as i32 - 20000).collect(),
                scale: (0..n).map(|_| (0.3 + rng.f32()) * 128.0 / typical).collect(),
                out_zp: rng.u8(),
                lo: 0,
                hi: 255,
            };
            let a = ShiftedA { data: &data, lda, shifts, seg_k };
            let map = RowMap { first: 0, wp: *wp, wo: *wo };
            let ldc = n + 3;
            let out_rows = m.div_ceil(*wp) * wo;
            let mut c = vec![GUARD; out_rows * ldc];
            // SAFETY: `c` holds every mapped row (m rows of the grid map into out_rows).
            unsafe { gemm.run_shifted(m, a, &b, &rq, map, c.as_mut_ptr(), ldc) };
            for row in 0..m {
                let Some(d) = map.dest(row) else { continue };
                for col in 0..n {
                    let want = shifted_direct(&a, &w, k, &rq, row, col);
                    assert_eq!(c[d * ldc + col], want, "{isa:?} case {case} row {row} col {col}");
                }
                assert!(
                    c[d * ldc + n..(d + 1) * ldc].iter().all(|&x| x == GUARD),
                    "{isa:?} case {case}: wrote past n"
                );
            }
            // rows that map nowhere stay untouched
            let written: std::collections::HashSet<usize> =
                (0..m).filter_map(|r| map.dest(r)).collect();
            for d in (0..out_rows).filter(|d| !written.contains(d)) {
                assert!(
                    c[d * ldc..(d + 1) * ldc].iter().all(|&x| x == GUARD),
                    "{isa:?} case {case}: row {d} written"
                );
            }
        }
    }
}
