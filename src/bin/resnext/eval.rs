//! `resnext eval`: top-1 / top-5 accuracy over a labelled image set.

use super::args::EvalArgs;
use super::loading::preprocess_config;
use resnext::{Classifier, ClassifierOptions, Error, ErrorCode, ImageInput, LabelSource, Result};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::new(ErrorCode::Io, format!("{}: {e}", path.display()))
}

fn is_image(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    matches!(ext.as_str(), "jpg" | "jpeg" | "png" | "bmp" | "webp")
}

/// `(image, class id)` pairs from a class-per-directory tree.
fn from_directory(dir: &Path) -> Result<Vec<(PathBuf, usize)>> {
    let mut classes: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    classes.sort();
    let numeric = classes.iter().all(|c| {
        c.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.parse::<usize>().is_ok())
    });
    let mut samples = Vec::new();
    for (index, class_dir) in classes.iter().enumerate() {
        let id = if numeric {
            class_dir
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.parse().ok())
                .unwrap_or(index)
        } else {
            index
        };
        let mut images: Vec<PathBuf> = std::fs::read_dir(class_dir)
            .map_err(|e| io(class_dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_image(p))
            .collect();
        images.sort();
        samples.extend(images.into_iter().map(|p| (p, id)));
    }
    Ok(samples)
}

/// `(image, class id)` pairs from a `path label` list file.
fn from_list(list: &Path) -> Result<Vec<(PathBuf, usize)>> {
    let text = std::fs::read_to_string(list).map_err(|e| io(list, e))?;
    let base = list.parent().unwrap_or(Path::new("."));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| {
            let (path, label) = line.trim().rsplit_once(char::is_whitespace).ok_or_else(|| {
                Error::invalid(format!("{}:{}: expected `path label`", list.display(), n + 1))
            })?;
            let label = label.parse::<usize>().map_err(|_| {
                Error::invalid(format!(
                    "{}:{}: label '{label}' is not a class id",
                    list.display(),
                    n + 1
                ))
            })?;
            Ok((base.join(path.trim()), label))
        })
        .collect()
}

pub fn eval(args: EvalArgs) -> Result<i32> {
    let mut samples =
        if args.data.is_dir() { from_directory(&args.data)? } else { from_list(&args.data)? };
    if let Some(limit) = args.limit {
        samples.truncate(limit);
    }
    if samples.is_empty() {
        return Err(Error::invalid(format!("no images found in {}", args.data.display())));
    }
    if args.batch_size == 0 {
        return Err(Error::invalid("--batch-size must be at least 1"));
    }
    let classifier = Classifier::new(
        args.engine.apply(
            ClassifierOptions::from_path(&args.model)
                .preprocess(preprocess_config(&args.preprocess)?)
                .threads(args.threads)
                .top_k(5)
                .labels(LabelSource::None)
                .max_pixels(args.preprocess.max_pixels)
                .allow_truncated_images(args.preprocess.allow_truncated_images),
        )?,
    )?;
    let progress = indicatif::ProgressBar::new(samples.len() as u64);
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} images, {per_sec} (eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    if args.json {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let started = Instant::now();
    let (mut top1, mut top5, mut failed) = (0usize, 0usize, 0usize);
    for chunk in samples.chunks(args.batch_size) {
        let inputs: Vec<ImageInput> = chunk.iter().map(|(p, _)| ImageInput::Path(p)).collect();
        let results = match classifier.classify_batch(&inputs) {
            Ok(results) => results.into_iter().map(Ok).collect::<Vec<_>>(),
            // One bad image must not fail its batch-mates: retry them one at a time.
            Err(_) => inputs.iter().map(|i| classifier.classify(*i)).collect(),
        };
        for ((path, label), result) in chunk.iter().zip(results) {
            match result {
                Ok(r) => {
                    let ids: Vec<usize> = r.predictions.iter().map(|p| p.class_id).collect();
                    top1 += (ids.first() == Some(label)) as usize;
                    top5 += ids.contains(label) as usize;
                }
                Err(e) => {
                    failed += 1;
                    progress.suspend(|| {
                        eprintln!(
                            "resnext: error: {}: {} [{}]",
                            path.display(),
                            e.message(),
                            e.code().name()
                        )
                    });
                }
            }
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let evaluated = samples.len() - failed;
    let ratio = |n: usize| if evaluated > 0 { n as f64 / evaluated as f64 } else { 0.0 };
    if args.json {
        println!(
            "{}",
            json!({
                "model": args.model.display().to_string(),
                "images": evaluated,
                "failed": failed,
                "top1": ratio(top1),
                "top5": ratio(top5),
                "images_per_s": samples.len() as f64 / seconds,
            })
        );
    } else {
        println!(
            "{} images ({failed} failed): top-1 {:.4}, top-5 {:.4}, {:.2} images/s",
            evaluated,
            ratio(top1),
            ratio(top5),
            samples.len() as f64 / seconds
        );
    }
    Ok(if failed > 0 { 1 } else { 0 })
}
