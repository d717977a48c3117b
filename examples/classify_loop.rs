//! Per-call time of the Rust API's `Classifier::classify(ImageInput::Path)`: the baseline the
//! Python package's overhead is measured against (`tools/python_bench.py`, run by
//! scripts/benchmarks.sh). Loads the model once, classifies the image `--warmup` times
//! untimed, then `--iters` times, and prints one JSON object with the median and p10 per call.
//!
//! ```text
//! cargo run --release --example classify_loop -- --model m.onnx --image cat.jpg \
//!     [--threads N] [--resize-short N --crop N] [--iters 200] [--warmup 20]
//! ```

use resnext::{Classifier, ClassifierOptions, ImageInput, LabelSource, Preset};
use std::path::PathBuf;
use std::time::Instant;

struct Args {
    model: PathBuf,
    image: PathBuf,
    threads: usize,
    resize_short: Option<u32>,
    crop: Option<u32>,
    iters: usize,
    warmup: usize,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        model: PathBuf::new(),
        image: PathBuf::new(),
        threads: 1,
        resize_short: None,
        crop: None,
        iters: 200,
        warmup: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|e| format!("{flag} {value}: {e}"));
        match flag.as_str() {
            "--model" => a.model = value.clone().into(),
            "--image" => a.image = value.clone().into(),
            "--threads" => a.threads = number()?,
            "--resize-short" => a.resize_short = Some(number()? as u32),
            "--crop" => a.crop = Some(number()? as u32),
            "--iters" => a.iters = number()?.max(1),
            "--warmup" => a.warmup = number()?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if a.model.as_os_str().is_empty() || a.image.as_os_str().is_empty() {
        return Err("--model and --image are required".into());
    }
    Ok(a)
}

fn main() {
    let args = parse().unwrap_or_else(|e| {
        eprintln!("classify_loop: {e}");
        std::process::exit(2);
    });
    let mut preprocess = Preset::Wsl224.config();
    preprocess.resize_short = args.resize_short.unwrap_or(preprocess.resize_short);
    preprocess.crop = args.crop.unwrap_or(preprocess.crop);
    let options = ClassifierOptions::from_path(&args.model)
        .preprocess(preprocess)
        .threads(args.threads)
        .labels(LabelSource::None);
    let classifier = Classifier::new(options).unwrap_or_else(|e| {
        eprintln!("classify_loop: {e}");
        std::process::exit(1);
    });
    let input = ImageInput::Path(&args.image);
    for _ in 0..args.warmup {
        classifier.classify(input).expect("classify");
    }
    let mut ms: Vec<f64> = (0..args.iters)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(classifier.classify(input).expect("classify"));
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    println!(
        "{{\"median_ms\": {:.6}, \"p10_ms\": {:.6}, \"iters\": {}, \"threads\": {}}}",
        ms[ms.len() / 2],
        ms[ms.len() / 10],
        args.iters,
        args.threads
    );
}
