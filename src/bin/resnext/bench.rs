//! `resnext bench`: cold start, latency per batch size, per-stage timings and peak memory of
//! one model; optionally the preprocessing time of one image and an SVG latency chart.
//!
//! The input is deterministic (one 64-bit LCG image, repeated for every image of a batch), the
//! same sequence `tools/bench_peers.py` feeds ONNX Runtime.

use super::args::BenchArgs;
use super::loading::load_any_resolution;
use resnext::preprocess::decode::DecodeLimits;
use resnext::preprocess::rgb_to_chw;
use resnext::{ClassifierOptions, Error, ErrorCode, ImageInput, LabelSource, Result};
use serde_json::json;
use std::path::Path;
use std::time::Instant;

/// Peak resident set size of this process in MB (`VmHWM`), when the OS reports it.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// One image in the range of normalized images (a fixed LCG, no RNG crate), repeated `batch`
/// times.
fn synthetic_input(per_image: usize, batch: usize) -> Vec<f32> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let image: Vec<f32> = (0..per_image)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
        })
        .collect();
    image.repeat(batch)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

struct Row {
    batch: usize,
    median: f64,
    p90: f64,
    images_per_s: f64,
    /// Median of the engine run alone and of softmax + top-k, per batch run.
    inference: f64,
    postprocess: f64,
}

/// Times decoding and preprocessing of one encoded image from memory on this thread.
struct PreprocessTiming {
    width: u32,
    height: u32,
    decode: f64,
    preprocess: f64,
    total: f64,
}

fn time_preprocess(
    path: &Path,
    config: &resnext::PreprocessConfig,
    iters: usize,
) -> Result<PreprocessTiming> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::new(ErrorCode::Io, format!("{}: {e}", path.display())))?;
    let limits = DecodeLimits::default();
    let mut out = vec![0f32; config.image_len()];
    let (mut decode, mut pre, mut total) = (Vec::new(), Vec::new(), Vec::new());
    let (mut width, mut height) = (0, 0);
    for _ in 0..iters.max(20) {
        let t = Instant::now();
        let rgb = ImageInput::Encoded(&bytes).to_rgb(&limits)?;
        let d = ms(t);
        let t2 = Instant::now();
        rgb_to_chw(&rgb, config, &mut out)?;
        pre.push(ms(t2));
        total.push(ms(t));
        decode.push(d);
        (width, height) = (rgb.width, rgb.height);
    }
    for v in [&mut decode, &mut pre, &mut total] {
        v.sort_by(f64::total_cmp);
    }
    Ok(PreprocessTiming {
        width,
        height,
        decode: percentile(&decode, 0.5),
        preprocess: percentile(&pre, 0.5),
        total: percentile(&total, 0.5),
    })
}

/// A hand-written SVG chart: median (bar) and p90 (tick) latency per batch size.
fn svg_chart(title: &str, rows: &[Row]) -> String {
    let (w, h, left, bottom, top) = (640.0, 400.0, 70.0, 50.0, 40.0);
    let plot_h = h - bottom - top;
    let max = rows.iter().map(|r| r.p90.max(r.median)).fold(1e-9, f64::max) * 1.1;
    let slot = (w - left - 20.0) / rows.len().max(1) as f64;
    let y = |v: f64| top + plot_h * (1.0 - v / max);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" \
         fill=\"white\"/>\n<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">{}</text>\n",
        w / 2.0,
        xml_escape(title)
    );
    for i in 0..=4 {
        let v = max * i as f64 / 4.0;
        s += &format!(
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{v:.0}</text>\n",
            w - 20.0,
            left - 6.0,
            y(v) + 4.0,
            y = y(v)
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let x = left + slot * (i as f64 + 0.25);
        let bw = slot * 0.5;
        s += &format!(
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"#4878a8\"/>\
             <line x1=\"{x:.1}\" x2=\"{:.1}\" y1=\"{p:.1}\" y2=\"{p:.1}\" stroke=\"#c03030\" \
             stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{:.1}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">batch {}</text>\n",
            y(r.median),
            y(0.0) - y(r.median),
            x + bw,
            x + bw / 2.0,
            y(r.median) - 6.0,
            r.median,
            x + bw / 2.0,
            h - bottom + 18.0,
            r.batch,
            p = y(r.p90),
        );
    }
    s += &format!(
        "<text x=\"16\" y=\"{:.1}\" transform=\"rotate(-90 16 {:.1})\" text-anchor=\"middle\">\
         latency (ms): bar median, red p90</text>\n</svg>\n",
        top + plot_h / 2.0,
        top + plot_h / 2.0
    );
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `--profile N`: the per-operator times of the tract plan (the batch-1 plan every batch runs
/// on, image by image).
fn profile(args: &BenchArgs, crop: u32, threads: usize, runs: usize) -> Result<serde_json::Value> {
    use resnext::backend::tract::{TractBackend, TractOptions};
    let options = args.engine.apply(ClassifierOptions::from_path(&args.model).threads(threads))?;
    let mut tract_options = TractOptions::from_options(&options);
    tract_options.fallback_side = crop;
    let backend = TractBackend::open(&options.model, options.max_model_bytes, &tract_options)?;
    let batch = 1;
    let p = backend.profile(runs)?;
    let row = |o: &resnext::backend::tract::OpTime| {
        json!({"name": o.name, "op": o.op, "count": o.count, "ms": o.ms,
               "share": o.ms / p.total_ms})
    };
    if !args.json {
        println!(
            "profile: batch {batch}, {threads} threads, median of {runs} runs, {:.1} ms in nodes",
            p.total_ms
        );
        println!("{:>9} {:>6} {:>6}  operator", "ms", "share", "nodes");
        for o in &p.by_op {
            println!(
                "{:>9.2} {:>5.1}% {:>6}  {}",
                o.ms,
                100.0 * o.ms / p.total_ms,
                o.count,
                o.name
            );
        }
        println!("most expensive nodes:");
        for o in p.top_nodes.iter().take(15) {
            println!("{:>9.2} {:>5.1}%  {} {}", o.ms, 100.0 * o.ms / p.total_ms, o.op, o.name);
        }
    }
    Ok(json!({"batch": batch, "threads": threads, "runs": runs, "total_ms": p.total_ms,
              "by_op": p.by_op.iter().map(row).collect::<Vec<_>>(),
              "top_nodes": p.top_nodes.iter().map(row).collect::<Vec<_>>()}))
}

pub fn bench(args: BenchArgs) -> Result<i32> {
    if let Some(runs) = args.profile {
        if args.batch.is_empty() || args.batch[0] == 0 {
            return Err(Error::invalid("--batch must be at least 1"));
        }
        let threads = if args.threads == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        } else {
            args.threads
        };
        let crop = resnext::Preset::Wsl224.config().crop;
        let value = profile(&args, crop, threads, runs)?;
        if args.json {
            println!("{}", json!({"model": args.model.display().to_string(), "profile": value}));
        }
        return Ok(0);
    }
    if args.iters == 0 || args.batch.is_empty() || args.batch.contains(&0) {
        return Err(Error::invalid("--iters and every --batch size must be at least 1"));
    }
    if let Some(plot) = &args.plot {
        let ext = plot.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if ext != "svg" {
            return Err(Error::invalid("--plot writes SVG: give a file name ending in .svg"));
        }
    }
    let started = Instant::now();
    let options =
        ClassifierOptions::from_path(&args.model).labels(LabelSource::None).threads(args.threads);
    let classifier = load_any_resolution(args.engine.apply(options)?)?;
    let load_ms = ms(started);
    let info = classifier.info().clone();
    let per_image = 3 * info.height as usize * info.width as usize;
    let first = synthetic_input(per_image, 1);
    classifier.classify_tensor(&first, 1)?;
    let first_result_ms = ms(started);
    let peak_after_load = peak_rss_mb();

    let total_runs: usize = args.batch.len() * (args.warmup + args.iters);
    let progress = indicatif::ProgressBar::new(total_runs as u64);
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} runs {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    if args.json {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut results = Vec::new();
    for &batch in &args.batch {
        progress.set_message(format!("(batch {batch})"));
        let input = synthetic_input(per_image, batch);
        for _ in 0..args.warmup {
            classifier.classify_tensor(&input, batch)?;
            progress.inc(1);
        }
        let (mut times, mut inference, mut post) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..args.iters {
            let t = Instant::now();
            let out = classifier.classify_tensor(&input, batch)?;
            times.push(ms(t));
            inference.push(out[0].timings.inference_ms);
            post.push(out.iter().map(|c| c.timings.postprocess_ms).sum::<f64>());
            progress.inc(1);
        }
        for v in [&mut times, &mut inference, &mut post] {
            v.sort_by(f64::total_cmp);
        }
        let median = percentile(&times, 0.5);
        results.push(Row {
            batch,
            median,
            p90: percentile(&times, 0.9),
            images_per_s: batch as f64 * 1000.0 / median,
            inference: percentile(&inference, 0.5),
            postprocess: percentile(&post, 0.5),
        });
    }
    progress.finish_and_clear();
    let peak = peak_rss_mb();
    let preprocess = match &args.image {
        Some(path) => Some(time_preprocess(path, classifier.preprocess_config(), args.iters)?),
        None => None,
    };
    let model = args.model.display().to_string();
    let name = args.model.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
    if let Some(plot) = &args.plot {
        let title = format!(
            "{name}: {} {} on {} threads",
            info.backend,
            info.precision.name().to_uppercase(),
            info.threads
        );
        std::fs::write(plot, svg_chart(&title, &results))
            .map_err(|e| Error::new(ErrorCode::Io, format!("{}: {e}", plot.display())))?;
    }
    if args.json {
        let rows: Vec<_> = results
            .iter()
            .map(|r| {
                json!({"batch": r.batch, "median_ms": r.median, "p90_ms": r.p90,
                       "images_per_s": r.images_per_s,
                       "stages": {"inference_ms": r.inference, "postprocess_ms": r.postprocess}})
            })
            .collect();
        let pre = preprocess.as_ref().map(|p| {
            json!({"image": args.image.as_ref().map(|i| i.display().to_string()),
                   "width": p.width, "height": p.height, "decode_ms": p.decode,
                   "preprocess_ms": p.preprocess, "median_ms": p.total})
        });
        println!(
            "{}",
            json!({
                "model": model,
                "backend": info.backend,
                "provider": info.provider,
                "precision": info.precision.name(),
                "compute": info.compute,
                "model_bytes": info.model_bytes,
                "threads": info.threads,
                "load_ms": load_ms,
                "first_result_ms": first_result_ms,
                "peak_rss_after_first_result_mb": peak_after_load,
                "peak_rss_mb": peak,
                "results": rows,
                "preprocess": pre,
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
    let header: Vec<String> = results.iter().map(|r| format!("bs{}", r.batch)).collect();
    let medians: Vec<String> = results.iter().map(|r| format!("{:.2}", r.median)).collect();
    println!(
        "| Model | CPU {} latency (ms, median) {} |",
        info.precision.name().to_uppercase(),
        header.join("/")
    );
    println!("|---|---|");
    println!("| {name} | {} |", medians.join(" / "));
    println!(
        "{:>6} {:>11} {:>9} {:>10} {:>13} {:>15}",
        "batch", "median ms", "p90 ms", "images/s", "inference ms", "postprocess ms"
    );
    for r in &results {
        println!(
            "{:>6} {:>11.2} {:>9.2} {:>10.2} {:>13.2} {:>15.3}",
            r.batch, r.median, r.p90, r.images_per_s, r.inference, r.postprocess
        );
    }
    if let Some(p) = preprocess {
        println!(
            "preprocess {}x{} image: {:.2} ms (decode {:.2} ms + resize/crop/normalize {:.2} ms)",
            p.width, p.height, p.total, p.decode, p.preprocess
        );
    }
    Ok(0)
}
