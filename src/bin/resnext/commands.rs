//! The `classify`, `info` and `preprocess` subcommands.

use super::args::{ClassifyArgs, InfoArgs, PreprocessArgs};
use super::loading::{load_any_resolution, preprocess_config};
use resnext::{
    Classification, Classifier, ClassifierOptions, Error, ErrorCode, ImageInput, LabelSource,
    ModelInfo, Result,
};
use serde_json::json;

fn result_json(image: &str, result: &Classification) -> serde_json::Value {
    let predictions: Vec<_> = result
        .predictions
        .iter()
        .map(|p| json!({"class_id": p.class_id, "label": p.label, "score": p.score}))
        .collect();
    let t = &result.timings;
    json!({
        "image": image,
        "predictions": predictions,
        "timings_ms": {
            "decode": t.decode_ms,
            "preprocess": t.preprocess_ms,
            "inference": t.inference_ms,
            "postprocess": t.postprocess_ms,
        }
    })
}

fn print_result(image: &str, result: &Classification, as_json: bool) {
    if as_json {
        println!("{}", result_json(image, result));
        return;
    }
    println!("{image}");
    for (rank, p) in result.predictions.iter().enumerate() {
        println!("  {}. {:>4}  {:<40} {:.4}", rank + 1, p.class_id, p.label, p.score);
    }
    let t = &result.timings;
    println!(
        "  timings: decode {:.1} ms, preprocess {:.1} ms, inference {:.1} ms, postprocess {:.2} ms",
        t.decode_ms, t.preprocess_ms, t.inference_ms, t.postprocess_ms
    );
}

pub fn classify(args: ClassifyArgs) -> Result<i32> {
    let labels = match &args.labels {
        Some(path) => LabelSource::File(path.clone()),
        None => LabelSource::ImageNet1k,
    };
    let options = ClassifierOptions::from_path(&args.model)
        .preprocess(preprocess_config(&args.preprocess)?)
        .top_k(args.top_k)
        .score_threshold(args.score_threshold)
        .threads(args.threads)
        .labels(labels)
        .allow_label_mismatch(args.allow_label_mismatch)
        .max_pixels(args.preprocess.max_pixels)
        .allow_truncated_images(args.preprocess.allow_truncated_images);
    let classifier = Classifier::new(args.engine.apply(options)?)?;
    let mut failures = 0;
    if args.batch {
        let paths: Vec<ImageInput> = args.images.iter().map(|p| ImageInput::Path(p)).collect();
        let inputs: Vec<ImageInput> = paths.iter().map(|i| i.with_roi(args.roi)).collect();
        let results = classifier.classify_batch(&inputs)?;
        for (path, result) in args.images.iter().zip(&results) {
            print_result(&path.display().to_string(), result, args.json);
        }
    } else {
        for path in &args.images {
            let image = ImageInput::Path(path);
            match classifier.classify(image.with_roi(args.roi)) {
                Ok(result) => print_result(&path.display().to_string(), &result, args.json),
                Err(e) => {
                    failures += 1;
                    eprintln!("resnext: error: {} [{}]", e.message(), e.code().name());
                }
            }
        }
    }
    Ok(if failures > 0 { 1 } else { 0 })
}

fn info_json(info: &ModelInfo) -> serde_json::Value {
    let shape = |dims: &[resnext::Dim]| -> Vec<serde_json::Value> {
        dims.iter()
            .map(|d| match d {
                resnext::Dim::Fixed(n) => json!(n),
                resnext::Dim::Symbolic(s) => json!(s),
            })
            .collect()
    };
    json!({
        "inputs": [{"name": info.input.name, "shape": shape(&info.input.shape), "dtype": info.input.dtype.to_string()}],
        "outputs": [{"name": info.output.name, "shape": shape(&info.output.shape), "dtype": info.output.dtype.to_string()}],
        "height": info.height,
        "width": info.width,
        "precision": info.precision.name(),
        "output_kind": info.output_kind.name(),
        "classes": info.classes,
        "parameters": info.parameters,
        "model_bytes": info.model_bytes,
        "producer": info.producer,
        "backend": info.backend,
        "provider": info.provider,
        "compute": info.compute,
        "threads": info.threads,
    })
}

pub fn info(args: InfoArgs) -> Result<i32> {
    let options = ClassifierOptions::from_path(&args.model).labels(LabelSource::None).threads(1);
    let classifier = load_any_resolution(args.engine.apply(options)?)?;
    let info = classifier.info();
    if args.json {
        println!("{}", info_json(info));
        return Ok(0);
    }
    let dims = |d: &[resnext::Dim]| resnext::onnx::inspect::shape_string(d);
    println!("model:        {}", args.model.display());
    println!(
        "input:        {} [{}] {}",
        info.input.name,
        dims(&info.input.shape),
        info.input.dtype
    );
    println!(
        "output:       {} [{}] {}",
        info.output.name,
        dims(&info.output.shape),
        info.output.dtype
    );
    println!("precision:    {}", info.precision.name());
    println!("output kind:  {}", info.output_kind.name());
    println!("classes:      {}", info.classes);
    println!("parameters:   {} ({:.2} M)", info.parameters, info.parameters as f64 / 1e6);
    println!("file size:    {:.1} MB", info.model_bytes as f64 / 1e6);
    println!("producer:     {}", if info.producer.is_empty() { "-" } else { &info.producer });
    println!("backend:      {} on {} ({})", info.backend, info.provider, info.compute);
    Ok(0)
}

pub fn preprocess(args: PreprocessArgs) -> Result<i32> {
    let config = preprocess_config(&args.preprocess)?;
    let limits = resnext::preprocess::DecodeLimits {
        max_pixels: args.preprocess.max_pixels,
        allow_truncated: args.preprocess.allow_truncated_images,
    };
    let tensor =
        resnext::preprocess_image_with_limits(ImageInput::Path(&args.image), &config, &limits)?;
    let side = config.crop as u64;
    let io = |e: std::io::Error| {
        Error::new(ErrorCode::Io, format!("writing {}: {e}", args.out.display()))
    };
    let file = std::fs::File::create(&args.out).map_err(io)?;
    use npyz::WriterBuilder;
    let mut writer = npyz::WriteOptions::<f32>::new()
        .default_dtype()
        .shape(&[1, 3, side, side])
        .writer(std::io::BufWriter::new(file))
        .begin_nd()
        .map_err(io)?;
    writer.extend(tensor.iter().copied()).map_err(io)?;
    writer.finish().map_err(io)?;
    Ok(0)
}
