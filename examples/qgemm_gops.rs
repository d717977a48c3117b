//! GOP/s of each u8 x i8 GEMM kernel family (`resnext::kernels::qgemm`) on ResNeXt101_32x8d's
//! convolution shapes, single-threaded: for every ISA of `kernels::cpu::supported_isas()` and
//! every (M, K, N), the best time of several `QGemm::run` calls (requantization epilogue
//! included, no residual), as GOP/s = 2 x M x N x K / time. Every kernel's output is also
//! compared with the scalar reference's (they are specified bit-identical).
//!
//! ```text
//! cargo run --release --example qgemm_gops                  # JSON on stdout (one object)
//! cargo run --release --example qgemm_gops -- --min-ms 300 --isa amx-int8,avx512-vnni
//! ```
//!
//! Options: `--min-ms T` (time measured per shape and ISA, default 200: reps are repeated
//! until that much time has passed, at least `--min-reps`, default 3), `--isa a,b` (a subset
//! of the supported ISAs), `--shapes M,K,N;M,K,N...` (instead of the default list).
//! scripts/benchmarks.sh runs it and tools/benchmarks_report.py turns the JSON into a table.

use resnext::kernels::cpu::{self, Isa};
use resnext::kernels::qgemm::{PackedWeights, QGemm, Requant};
use std::hint::black_box;
use std::time::Instant;

/// (M, K, N, what it is in ResNeXt101_32x8d at batch 1): M = output pixels, K = input channels
/// x kernel window (of one group for the grouped convolutions), N = output channels (of one
/// group).
const SHAPES: &[(usize, usize, usize, &str)] = &[
    (3136, 256, 256, "1x1 256->256 at 56x56 (layer1 conv1/conv3)"),
    (3136, 64, 256, "1x1 64->256 at 56x56 (layer1.0 conv1, downsample)"),
    (784, 512, 512, "1x1 512->512 at 28x28 (layer2 conv1/conv3)"),
    (196, 1024, 1024, "1x1 1024->1024 at 14x14 (layer3 conv1/conv3)"),
    (49, 2048, 2048, "1x1 2048->2048 at 7x7 (layer4 conv1/conv3)"),
    (3136, 72, 8, "grouped 3x3, one group of 8 channels at 56x56 (layer1 conv2)"),
    (784, 288, 32, "grouped 3x3, one group of 32 channels, 784 pixels"),
    (196, 576, 64, "grouped 3x3, one group of 64 channels, 196 pixels"),
    (12544, 147, 64, "stem 7x7/2 3->64 at 112x112 (im2col K = 7x7x3)"),
];

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

struct Args {
    min_ms: f64,
    min_reps: usize,
    isas: Option<Vec<String>>,
    cold_weights: bool,
    shapes: Vec<(usize, usize, usize, String)>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        min_ms: 200.0,
        min_reps: 3,
        isas: None,
        cold_weights: false,
        shapes: SHAPES.iter().map(|&(m, k, n, d)| (m, k, n, d.to_string())).collect(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--min-ms" => a.min_ms = value()?.parse().map_err(|e| format!("--min-ms: {e}"))?,
            "--min-reps" => {
                a.min_reps = value()?.parse().map_err(|e| format!("--min-reps: {e}"))?
            }
            "--cold-weights" => a.cold_weights = true,
            "--isa" => a.isas = Some(value()?.split(',').map(str::to_string).collect()),
            "--shapes" => {
                a.shapes = value()?
                    .split(';')
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        let v: Vec<usize> = s
                            .split(',')
                            .map(|x| x.trim().parse().map_err(|e| format!("--shapes {s}: {e}")))
                            .collect::<Result<_, _>>()?;
                        match v[..] {
                            [m, k, n] if m > 0 && k > 0 && n > 0 => Ok((m, k, n, String::new())),
                            _ => Err(format!("--shapes: {s} is not M,K,N")),
                        }
                    })
                    .collect::<Result<_, String>>()?
            }
            "-h" | "--help" => {
                println!(
                    "qgemm_gops [--min-ms T] [--min-reps R] [--isa a,b] [--shapes M,K,N;...] \
                     [--cold-weights]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// Best and median ms of `reps` (at least `min_reps`, and until `min_ms` has passed) calls;
/// `before` runs untimed before each call.
fn time_runs(
    min_ms: f64,
    min_reps: usize,
    mut before: impl FnMut(),
    mut run: impl FnMut(),
) -> (f64, f64, usize) {
    run(); // warm-up: caches, AMX tile state, page faults of C
    let mut times = Vec::new();
    let started = Instant::now();
    while times.len() < min_reps
        || (started.elapsed().as_secs_f64() * 1000.0 < min_ms && times.len() < 10_000)
    {
        before();
        let t = Instant::now();
        run();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (times[0], times[times.len() / 2], times.len())
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("qgemm_gops: {e}");
            std::process::exit(2);
        }
    };
    let isas: Vec<Isa> = cpu::supported_isas()
        .into_iter()
        .filter(|i| args.isas.as_ref().is_none_or(|want| want.iter().any(|w| w == i.name())))
        .collect();
    let mut rows = Vec::new();
    for (m, k, n, what) in &args.shapes {
        let (m, k, n) = (*m, *k, *n);
        let mut rng = Lcg(0x2545_F491_4F6C_DD1D ^ (m * 31 + k * 7 + n) as u64);
        let a: Vec<u8> = (0..m * k).map(|_| rng.next() as u8).collect();
        let w: Vec<i8> = (0..n * k).map(|_| rng.next() as u8 as i8).collect();
        let b = PackedWeights::pack(&w, n, k);
        // A scale that keeps outputs mostly inside [0, 255] for full-range inputs.
        let typical = (k as f32).sqrt() * 128.0 * 74.0;
        let requant = Requant {
            bias: (0..n).map(|i| (i as i32 % 17 - 8) * 100).collect(),
            scale: (0..n).map(|i| (0.5 + (i % 5) as f32 * 0.1) * 128.0 / typical).collect(),
            out_zp: 128,
            lo: 0,
            hi: 255,
        };
        // The scalar reference output, for the bit-identity check (computed once).
        let mut reference = vec![0u8; m * n];
        QGemm::new(Isa::Scalar).unwrap().run(m, &a, k, &b, &requant, None, &mut reference, n);
        for &isa in &isas {
            let gemm = QGemm::new(isa).expect("a supported ISA");
            let mut c = vec![0u8; m * n];
            // --cold-weights: as in a model whose weights exceed the caches, the packed
            // weights come from memory (a 512 MiB pass evicts them) while A, just written by
            // the previous layer, is in cache.
            let mut evict = if args.cold_weights { vec![1u8; 512 << 20] } else { Vec::new() };
            let before = || {
                if !evict.is_empty() {
                    for line in evict.chunks_mut(64) {
                        line[0] = line[0].wrapping_add(1);
                    }
                    black_box(&mut evict);
                    black_box(a.iter().step_by(64).map(|&x| x as u32).sum::<u32>());
                }
            };
            let (best, median, reps) = time_runs(args.min_ms, args.min_reps, before, || {
                gemm.run(m, black_box(&a), k, &b, &requant, None, &mut c, n);
                black_box(&mut c);
            });
            let mismatches = c.iter().zip(&reference).filter(|(x, y)| x != y).count();
            let ops = 2.0 * (m * n * k) as f64;
            rows.push(format!(
                "{{\"isa\": \"{}\", \"m\": {m}, \"k\": {k}, \"n\": {n}, \"shape\": \"{m}x{k}x{n}\", \
                 \"what\": \"{}\", \"best_ms\": {best:.6}, \"median_ms\": {median:.6}, \
                 \"reps\": {reps}, \"gops\": {:.3}, \"median_gops\": {:.3}, \
                 \"mismatches_vs_scalar\": {mismatches}}}",
                isa.name(),
                what.replace('"', "'"),
                ops / (best / 1000.0) / 1e9,
                ops / (median / 1000.0) / 1e9,
            ));
            eprintln!(
                "{:>12} {m:>6}x{k:>5}x{n:>5}: {:>8.1} GOP/s best of {reps} ({best:.3} ms){}",
                isa.name(),
                ops / (best / 1000.0) / 1e9,
                if mismatches > 0 {
                    format!(", {mismatches} outputs differ from scalar")
                } else {
                    String::new()
                }
            );
        }
    }
    let names: Vec<String> = isas.iter().map(|i| format!("\"{}\"", i.name())).collect();
    println!(
        "{{\"threads\": 1, \"isas\": [{}], \"min_ms\": {}, \"results\": [{}]}}",
        names.join(", "),
        args.min_ms,
        rows.join(", ")
    );
}
