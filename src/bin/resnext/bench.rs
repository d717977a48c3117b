//! `resnext bench`: cold start, latency per batch size and peak memory of one model.

use super::args::BenchArgs;
use super::commands::load_any_resolution;
use resnext::{ClassifierOptions, Error, LabelSource, Result};
use serde_json::json;
use std::time::Instant;

/// Peak resident set size of this process in MB (`VmHWM`), when the OS reports it.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// A deterministic input in the range of normalized images (a fixed LCG, no RNG crate).
fn synthetic_input(len: usize) -> Vec<f32> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub fn bench(args: BenchArgs) -> Result<i32> {
    if args.iters == 0 || args.batch.is_empty() || args.batch.contains(&0) {
        return Err(Error::invalid("--iters and every --batch size must be at least 1"));
    }
    let started = Instant::now();
    let options =
        ClassifierOptions::from_path(&args.model).labels(LabelSource::None).threads(args.threads);
    let classifier = load_any_resolution(args.engine.apply(options)?)?;
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;
    let info = classifier.info().clone();
    let per_image = 3 * info.height as usize * info.width as usize;
    let first = synthetic_input(per_image);
    classifier.classify_tensor(&first, 1)?;
    let first_result_ms = started.elapsed().as_secs_f64() * 1000.0;

    let mut results = Vec::new();
    for &batch in &args.batch {
        let input = synthetic_input(per_image * batch);
        for _ in 0..args.warmup {
            classifier.classify_tensor(&input, batch)?;
        }
        let mut times = Vec::with_capacity(args.iters);
        for _ in 0..args.iters {
            let t = Instant::now();
            classifier.classify_tensor(&input, batch)?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let median = percentile(&times, 0.5);
        let p90 = percentile(&times, 0.9);
        results.push((batch, median, p90, batch as f64 * 1000.0 / median));
        if !args.json {
            eprintln!("  batch {batch}: {median:.1} ms median over {} runs", args.iters);
        }
    }
    let peak = peak_rss_mb();
    let model = args.model.display().to_string();
    if args.json {
        let rows: Vec<_> = results
            .iter()
            .map(|(b, m, p, ips)| json!({"batch": b, "median_ms": m, "p90_ms": p, "images_per_s": ips}))
            .collect();
        println!(
            "{}",
            json!({
                "model": model,
                "backend": info.backend,
                "provider": info.provider,
                "precision": info.precision.name(),
                "threads": info.threads,
                "load_ms": load_ms,
                "first_result_ms": first_result_ms,
                "peak_rss_mb": peak,
                "results": rows,
            })
        );
        return Ok(0);
    }
    println!(
        "model {model} ({}, {} params, {}), backend {} on {} [{}], {} threads",
        info.precision.name(),
        info.parameters,
        info.output_kind.name(),
        info.backend,
        info.provider,
        info.compute,
        info.threads
    );
    println!(
        "load {load_ms:.0} ms, first result {first_result_ms:.0} ms, peak RSS {}",
        peak.map_or("n/a".to_string(), |p| format!("{p:.0} MB"))
    );
    let header: Vec<String> = results.iter().map(|r| format!("bs{}", r.0)).collect();
    let medians: Vec<String> = results.iter().map(|r| format!("{:.2}", r.1)).collect();
    println!(
        "| Model | CPU {} latency (ms, median) {} |",
        info.precision.name().to_uppercase(),
        header.join("/")
    );
    println!("|---|---|");
    let name = args.model.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
    println!("| {name} | {} |", medians.join(" / "));
    println!("{:>6} {:>11} {:>9} {:>10}", "batch", "median ms", "p90 ms", "images/s");
    for (b, m, p, ips) in &results {
        println!("{b:>6} {m:>11.2} {p:>9.2} {ips:>10.2}");
    }
    Ok(0)
}
