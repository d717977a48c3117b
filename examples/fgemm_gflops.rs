//! GFLOP/s of the f32 GEMM kernels (`resnext::kernels::fgemm`) on ResNeXt101_32x8d's
//! convolution shapes, single-threaded: the best time of several `FGemm::run` calls (bias and
//! ReLU fused, no residual), as GFLOP/s = 2 x M x N x K / time, for every kernel this CPU
//! runs. Each shape is one segment (a 1x1 convolution read in place) except the 3x3 ones,
//! which are nine segments of the group's channels read shifted from a padded image, as the
//! kernel layer runs them. The f32 1x1 shapes with 1 MiB or more of weights also get a
//! "weights from memory" cell: the mean over calls that each read another copy of the
//! weights (512 MiB of copies), as a model run reads its weights once per image. Every
//! kernel's output is compared with the scalar reference's: bit for bit for the f32 kernels, within 1e-5 of the largest value for the bf16 AMX kernel
//! (`resnext::kernels::bgemm`, its inputs rounded to bf16 once before the timing, as the
//! kernel layer does per convolution input), which runs the shapes whose segments are whole
//! 32-value K steps.
//!
//! ```text
//! cargo run --release --example fgemm_gflops              # JSON on stdout
//! cargo run --release --example fgemm_gflops -- --min-ms 300
//! ```

use resnext::kernels::bgemm::{BGemm, BIsa, PackedBf16, ShiftedBf16, TiledBf16, K_STEP};
use resnext::kernels::fgemm::{Epilogue, FGemm, FIsa, PackedF32, ShiftedA};
use std::hint::black_box;
use std::time::Instant;

/// (M, channels per segment, segments, N, lda, what it is at batch 1, bf16 only).
const SHAPES: &[(usize, usize, usize, usize, usize, &str, bool)] = &[
    (3136, 256, 1, 256, 256, "1x1 256->256 at 56x56 (layer1 conv1/conv3)", false),
    (784, 512, 1, 512, 512, "1x1 512->512 at 28x28 (layer2 conv1/conv3)", false),
    (196, 1024, 1, 1024, 1024, "1x1 1024->1024 at 14x14 (layer3 conv1/conv3)", false),
    (49, 2048, 1, 2048, 2048, "1x1 2048->2048 at 7x7 (layer4 conv1/conv3)", false),
    (3248, 8, 9, 8, 256, "grouped 3x3, one group of 8 channels at 56x56 (layer1 conv2)", false),
    (
        3248,
        16,
        9,
        16,
        256,
        "grouped 3x3 on f32: 2 groups of 8 merged, as layer1 conv2 runs (1/2 of the products useful)",
        false,
    ),
    (840, 16, 9, 16, 512, "grouped 3x3, one group of 16 channels at 28x28 (layer2 conv2)", false),
    (224, 32, 9, 32, 1024, "grouped 3x3, one group of 32 channels at 14x14 (layer3 conv2)", false),
    (63, 64, 9, 64, 2048, "grouped 3x3, one group of 64 channels at 7x7 (layer4 conv2)", false),
    (
        3248,
        32,
        9,
        32,
        256,
        "grouped 3x3 on bf16: 4 groups of 8 merged (layer1 conv2; 1/4 of the products useful)",
        true,
    ),
    (
        840,
        32,
        9,
        32,
        512,
        "grouped 3x3 on bf16: 2 groups of 16 merged (layer2 conv2; 1/2 of the products useful)",
        true,
    ),
];

fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect()
}

/// The best time of `f` over at least 3 calls and `min_ms` milliseconds, and the calls made.
fn best_of(min_ms: f64, mut f: impl FnMut()) -> (f64, usize) {
    let mut best = f64::INFINITY;
    let start = Instant::now();
    let mut reps = 0;
    while reps < 3 || start.elapsed().as_secs_f64() * 1e3 < min_ms {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
        reps += 1;
    }
    (best, reps)
}

/// The "weights from memory" cells: the 1x1 shapes whose packed f32 weights are at least
/// this large, each call on another of `COLD_BYTES / size` copies.
const COLD_FROM_BYTES: usize = 1 << 20;
const COLD_BYTES: usize = 512 << 20;

/// The mean time of one call over one pass through copies of the weights that together
/// exceed the caches, as in a model run (whose weights are read once per image from memory),
/// rather than the same weights warm in the caches call after call.
fn weights_from_memory(
    gemm: &FGemm,
    m: usize,
    a: ShiftedA<'_>,
    n: usize,
    k: usize,
    e: &Epilogue<'_>,
    c: &mut [f32],
) -> f64 {
    let copies = COLD_BYTES.div_ceil(4 * n * k);
    let weights: Vec<PackedF32> =
        (0..copies).map(|i| PackedF32::pack(&values(n * k, 10 + i as u64), n, k)).collect();
    let start = Instant::now();
    for b in &weights {
        // SAFETY: `c` holds m rows of n values.
        unsafe { gemm.run(m, a, b, e, None, c.as_mut_ptr(), n) };
        black_box(&c);
    }
    start.elapsed().as_secs_f64() / copies as f64
}

fn main() {
    let mut min_ms = 200.0;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--min-ms" => {
                min_ms = args.get(i + 1).and_then(|v| v.parse().ok()).expect("--min-ms N");
                i += 1;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 1;
    }
    let kernels: Vec<FGemm> = FIsa::ALL[1..].iter().copied().filter_map(FGemm::new).collect();
    let reference = FGemm::new(FIsa::Scalar).expect("scalar");
    let bf16: Vec<BGemm> =
        [BIsa::Amx, BIsa::Avx512Bf16].into_iter().filter_map(BGemm::new).collect();
    let bf16_reference = BGemm::new(BIsa::Scalar).expect("scalar");
    let mut rows = Vec::new();
    for &(m, seg_k, segs, n, lda, what, bf16_only) in SHAPES {
        // 3x3 taps on a grid of rows `wp` pixels wide (the padded width: M / rows of output).
        let wp = if segs == 9 { (m as f64).sqrt().round() as usize } else { 1 };
        let shifts: Vec<usize> = if segs == 9 {
            (0..3).flat_map(|y| (0..3).map(move |x| y * wp + x)).collect()
        } else {
            vec![0]
        };
        let max_shift = shifts.iter().copied().max().unwrap();
        let a = values((m.next_multiple_of(16) + max_shift) * lda, 1);
        let k = seg_k * segs;
        let b = PackedF32::pack(&values(n * k, 2), n, k);
        let bias = values(n, 3);
        let e = Epilogue { bias: &bias, residual: None, relu: true };
        let sa = ShiftedA { data: &a, lda, shifts: &shifts, seg_k };
        let mut cells = Vec::new();
        let mut want = vec![0f32; m * n];
        if !bf16_only {
            // SAFETY: `want` holds m rows of n values.
            unsafe { reference.run(m, sa, &b, &e, None, want.as_mut_ptr(), n) };
        }
        for gemm in kernels.iter().filter(|_| !bf16_only) {
            let mut c = vec![0f32; m * n];
            let (best, _) = best_of(min_ms, || {
                // SAFETY: `c` holds m rows of n values.
                unsafe { gemm.run(m, sa, &b, &e, None, c.as_mut_ptr(), n) };
                black_box(&c);
            });
            let same = c.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits());
            let gflops = 2.0 * (m * n * k) as f64 / best / 1e9;
            cells.push(format!(
                "{{\"isa\":\"{}\",\"gflops\":{gflops:.1},\"ms\":{:.4},\"matches_reference\":{same}}}",
                gemm.isa().name(),
                best * 1e3
            ));
            if segs == 1 && 4 * n * k >= COLD_FROM_BYTES {
                let mean = weights_from_memory(gemm, m, sa, n, k, &e, &mut c);
                cells.push(format!(
                    "{{\"isa\":\"{} (weights from memory)\",\"gflops\":{:.1},\"ms\":{:.4},\"matches_reference\":{same}}}",
                    gemm.isa().name(),
                    2.0 * (m * n * k) as f64 / mean / 1e9,
                    mean * 1e3
                ));
            }
        }
        let bf16_kernels = bf16.iter().filter(|_| seg_k.is_multiple_of(K_STEP));
        for &gemm in bf16_kernels {
            let mut a16 = vec![0u16; a.len()];
            gemm.to_bf16(&a, &mut a16);
            let b16 = PackedBf16::pack(&values(n * k, 2), n, k);
            let sa16 = ShiftedBf16 { data: &a16, lda, shifts: &shifts, seg_k };
            let mut want = vec![0f32; m * n];
            // SAFETY: `want` holds m rows of n values.
            unsafe { bf16_reference.run(m, sa16, &b16, &e, None, want.as_mut_ptr(), n) };
            let mut c = vec![0f32; m * n];
            let (best, _) = best_of(min_ms, || {
                // SAFETY: `c` holds m rows of n values.
                unsafe { gemm.run(m, sa16, &b16, &e, None, c.as_mut_ptr(), n) };
                black_box(&c);
            });
            let scale = want.iter().fold(0f32, |s, v| s.max(v.abs()));
            let same = c.iter().zip(&want).all(|(x, y)| (x - y).abs() <= 1e-5 * scale);
            cells.push(format!(
                "{{\"isa\":\"{}\",\"gflops\":{:.1},\"ms\":{:.4},\"matches_reference\":{same}}}",
                gemm.isa().name(),
                2.0 * (m * n * k) as f64 / best / 1e9,
                best * 1e3
            ));
            if segs == 1 && lda == seg_k && gemm.reads_tiles() {
                // A 1x1 convolution as the layer runs it on bf16: A in tiled layout.
                let mut tiles = vec![0u16; TiledBf16::len(m, k)];
                gemm.to_bf16_tiled(&a[..m * k], m, k, &mut tiles);
                let ta = TiledBf16 { data: &tiles, k };
                let (best, _) = best_of(min_ms, || {
                    // SAFETY: `c` holds m rows of n values.
                    unsafe { gemm.run_tiled(m, ta, &b16, &e, c.as_mut_ptr(), n) };
                    black_box(&c);
                });
                let same = c.iter().zip(&want).all(|(x, y)| (x - y).abs() <= 1e-5 * scale);
                cells.push(format!(
                    "{{\"isa\":\"amx-bf16 (tiled A)\",\"gflops\":{:.1},\"ms\":{:.4},\"matches_reference\":{same}}}",
                    2.0 * (m * n * k) as f64 / best / 1e9,
                    best * 1e3
                ));
            }
        }
        rows.push(format!(
            "{{\"m\":{m},\"k\":{k},\"n\":{n},\"what\":\"{what}\",\"kernels\":[{}]}}",
            cells.join(",")
        ));
    }
    println!("{{\"shapes\":[{}]}}", rows.join(","));
}
