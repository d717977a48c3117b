//! One core's peak rate of each vector instruction the kernel families are built on, measured
//! on this machine: register-resident loops of 24 independent accumulators (no memory
//! traffic), single-threaded, best of 40 runs of about 30 ms (the machine is shared). The
//! benchmark report divides each kernel's rate by its instruction's peak from here, so that
//! "% of peak" is this CPU's, not another machine's.
//!
//! - `avx512-fma`: `vfmadd231ps` zmm, 32 FLOP per instruction (GFLOP/s).
//! - `avx512-bf16`: `vdpbf16ps` zmm, 64 FLOP per instruction (GFLOP/s).
//! - `avx512-vnni`: `vpdpbusd` zmm, 128 integer operations per instruction (GOP/s).
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

    #[target_feature(enable = "avx512f")]
    pub unsafe fn fma(seed: f32) -> f32 {
        let mut acc = [_mm512_set1_ps(seed); 24];
        let (b, c) = (_mm512_set1_ps(1.0 + 1e-7), _mm512_set1_ps(1e-9));
        for _ in 0..ITERS {
            for a in acc.iter_mut() {
                *a = _mm512_fmadd_ps(*a, b, c);
            }
        }
        let mut s = _mm512_setzero_ps();
        for a in acc {
            s = _mm512_add_ps(s, a);
        }
        _mm512_reduce_add_ps(s)
    }

    #[target_feature(enable = "avx512f,avx512bf16")]
    pub unsafe fn dpbf16(seed: f32) -> f32 {
        let mut acc = [_mm512_set1_ps(seed); 24];
        let b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3), _mm512_set1_ps(1e-3));
        let c = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3), _mm512_set1_ps(1e-3));
        for _ in 0..ITERS {
            for a in acc.iter_mut() {
                *a = _mm512_dpbf16_ps(*a, b, c);
            }
        }
        let mut s = _mm512_setzero_ps();
        for a in acc {
            s = _mm512_add_ps(s, a);
        }
        _mm512_reduce_add_ps(s)
    }

    #[target_feature(enable = "avx512f,avx512vnni")]
    pub unsafe fn vnni(seed: i32) -> i32 {
        let mut acc = [_mm512_set1_epi32(seed); 24];
        let (b, c) = (_mm512_set1_epi8(1), _mm512_set1_epi8(1));
        for _ in 0..ITERS {
            for a in acc.iter_mut() {
                *a = _mm512_dpbusd_epi32(*a, b, c);
            }
        }
        let mut s = _mm512_setzero_si512();
        for a in acc {
            s = _mm512_add_epi32(s, a);
        }
        _mm512_reduce_add_epi32(s)
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
