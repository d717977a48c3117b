//! One core's peak rate of each vector instruction the kernel families are built on, measured
//! on this machine: register-resident loops of 24 independent accumulators (12 for ymm, which
//! has 16 registers; no memory
//! traffic), single-threaded, best of 40 runs of about 30 ms (the machine is shared). The
//! benchmark report divides each kernel's rate by its instruction's peak from here, so that
//! "% of peak" is this CPU's, not another machine's.
//!
//! - `avx512-fma`: `vfmadd231ps` zmm, 32 FLOP per instruction (GFLOP/s).
//! - `avx512-bf16`: `vdpbf16ps` zmm, 64 FLOP per instruction (GFLOP/s).
//! - `avx512-vnni`: `vpdpbusd` zmm, 128 integer operations per instruction (GOP/s).
//! - `avx2-fma`: `vfmadd231ps` ymm, 16 FLOP per instruction (GFLOP/s), the AVX2 f32 kernel's
//!   instruction (CPUs without AVX-512).
//! - `avx2`: `vpmaddwd` ymm + `vpaddd`, 32 integer operations (16 products, 16 sums) per
//!   `vpmaddwd`, the INT8 AVX2 kernel's instruction pair (CPUs without VNNI; GOP/s).
//!
//! AMX is not measured here (its tile loop needs the tile configuration the kernels own); the
//! report keeps `../shared/perfprobe`'s figures for AMX and says so. An instruction this CPU
//! lacks is left out.
//!
//! ```text
//! cargo run --release --example isa_peaks     # JSON on stdout
//! ```

use std::hint::black_box;
use std::time::Instant;

#[cfg(target_arch = "x86_64")]
mod loops {
    use core::arch::x86_64::*;

    /// Iterations of the 24-instruction body per call.
    pub const ITERS: usize = 4_000_000;

    /// `N` independent chains of `step` from `init`, `ITERS` steps each (inlined into the
    /// `#[target_feature]` functions below, whose instruction `step` is).
    #[inline(always)]
    fn chains<T: Copy, const N: usize>(init: T, step: impl Fn(T) -> T) -> [T; N] {
        let mut acc = [init; N];
        for _ in 0..ITERS {
            for a in acc.iter_mut() {
                *a = step(*a);
            }
        }
        acc
    }

    /// The sum of every lane of `acc` (so that no chain is optimized away).
    #[target_feature(enable = "avx512f")]
    unsafe fn sum_ps(acc: [__m512; 24]) -> f32 {
        _mm512_reduce_add_ps(acc.into_iter().fold(_mm512_setzero_ps(), |s, a| _mm512_add_ps(s, a)))
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn fma(seed: f32) -> f32 {
        let (b, c) = (_mm512_set1_ps(1.0 + 1e-7), _mm512_set1_ps(1e-9));
        sum_ps(chains(_mm512_set1_ps(seed), |a| _mm512_fmadd_ps(a, b, c)))
    }

    /// 12 chains of `vfmadd231ps` ymm (AVX2 has 16 ymm registers).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn fma_ymm(seed: f32) -> f32 {
        let (b, c) = (_mm256_set1_ps(1.0 + 1e-7), _mm256_set1_ps(1e-9));
        let acc: [__m256; 12] = chains(_mm256_set1_ps(seed), |a| _mm256_fmadd_ps(a, b, c));
        let sum = acc.into_iter().fold(_mm256_setzero_ps(), |s, a| _mm256_add_ps(s, a));
        let mut lanes = [0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), sum);
        lanes.iter().sum()
    }

    /// 12 chains of `vpaddd(acc, vpmaddwd(a, b))` ymm, the AVX2 INT8 kernel's step.
    #[target_feature(enable = "avx2")]
    pub unsafe fn madd_ymm(seed: i32) -> i32 {
        // the product reads the chain (a loop-invariant one would be hoisted out)
        let b = _mm256_set1_epi16(5);
        let acc: [__m256i; 12] =
            chains(_mm256_set1_epi32(seed), |s| _mm256_add_epi32(s, _mm256_madd_epi16(s, b)));
        let sum = acc.into_iter().fold(_mm256_setzero_si256(), |s, a| _mm256_add_epi32(s, a));
        let mut lanes = [0i32; 8];
        _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, sum);
        lanes.iter().fold(0i32, |s, &l| s.wrapping_add(l))
    }

    #[target_feature(enable = "avx512f,avx512bf16")]
    pub unsafe fn dpbf16(seed: f32) -> f32 {
        let b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3), _mm512_set1_ps(1e-3));
        sum_ps(chains(_mm512_set1_ps(seed), |a| _mm512_dpbf16_ps(a, b, b)))
    }

    #[target_feature(enable = "avx512f,avx512vnni")]
    pub unsafe fn vnni(seed: i32) -> i32 {
        let b = _mm512_set1_epi8(1);
        let acc: [__m512i; 24] = chains(_mm512_set1_epi32(seed), |a| _mm512_dpbusd_epi32(a, b, b));
        _mm512_reduce_add_epi32(
            acc.into_iter().fold(_mm512_setzero_si512(), |s, a| _mm512_add_epi32(s, a)),
        )
    }
}

/// The best of `runs` timings of `f`, in seconds.
fn best_of(runs: usize, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let mut rows: Vec<String> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        let ops = (24 * loops::ITERS) as f64;
        let row = |isa: &str, what: &str, unit: &str, per_instruction: f64, secs: f64| {
            format!(
                "{{\"isa\":\"{isa}\",\"instruction\":\"{what}\",\"unit\":\"{unit}\",\"peak\":{:.1}}}",
                ops * per_instruction / secs / 1e9
            )
        };
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: AVX2 and FMA checked above.
            let s = best_of(40, || {
                black_box(unsafe { loops::fma_ymm(black_box(1.0)) });
            });
            // 12 chains, not 24: half the instructions per call.
            rows.push(row("avx2-fma", "vfmadd231ps ymm", "GFLOP/s", 8.0, s));
        }
        if is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 checked above.
            let s = best_of(40, || {
                black_box(unsafe { loops::madd_ymm(black_box(1)) });
            });
            // 12 chains: half the instructions per call, as for avx2-fma.
            rows.push(row("avx2", "vpmaddwd ymm", "GOP/s", 16.0, s));
        }
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F checked above.
            let s = best_of(40, || {
                black_box(unsafe { loops::fma(black_box(1.0)) });
            });
            rows.push(row("avx512-fma", "vfmadd231ps zmm", "GFLOP/s", 32.0, s));
        }
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bf16") {
            // SAFETY: AVX-512F and AVX512-BF16 checked above.
            let s = best_of(40, || {
                black_box(unsafe { loops::dpbf16(black_box(1.0)) });
            });
            rows.push(row("avx512-bf16", "vdpbf16ps zmm", "GFLOP/s", 64.0, s));
        }
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vnni") {
            // SAFETY: AVX-512F and AVX512-VNNI checked above.
            let s = best_of(40, || {
                black_box(unsafe { loops::vnni(black_box(1)) });
            });
            rows.push(row("avx512-vnni", "vpdpbusd zmm", "GOP/s", 128.0, s));
        }
    }
    println!("{{\"threads\":1,\"peaks\":[{}]}}", rows.join(","));
}
