//! Command-line arguments.

use crate::engine_flags::EngineFlags;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "resnext", version, about = "Classify images with ResNeXt ONNX models")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Classify images and print the top-k classes with per-stage timings.
    Classify(ClassifyArgs),
    /// Print what a model is: inputs, outputs, precision, output kind, classes, parameters.
    Info(InfoArgs),
    /// Write the preprocessed 1 x 3 x H x W float32 tensor of an image as a NumPy .npy file.
    Preprocess(PreprocessArgs),
    /// Measure cold start, latency per batch size (median, p90), throughput and peak memory.
    Bench(BenchArgs),
    /// Top-1 / top-5 accuracy over a labelled image set.
    Eval(EvalArgs),
}

/// Preprocessing flags shared by `classify` and `preprocess`.
#[derive(Args, Debug, Clone)]
pub struct PreprocessFlags {
    /// Preprocessing preset: wsl-224 (resize 256, crop 224) or fix-320 (resize 320, crop 320).
    #[arg(long, default_value = "wsl-224")]
    pub preset: String,
    /// Override: resize the short side to N pixels.
    #[arg(long, value_name = "N")]
    pub resize_short: Option<u32>,
    /// Override: centre crop N x N.
    #[arg(long, value_name = "N")]
    pub crop: Option<u32>,
    /// Override: per-channel mean (RGB, [0,1] units), e.g. 0.485,0.456,0.406.
    #[arg(long, value_name = "R,G,B")]
    pub mean: Option<String>,
    /// Override: per-channel std (RGB, [0,1] units), e.g. 0.229,0.224,0.225.
    #[arg(long, value_name = "R,G,B")]
    pub std: Option<String>,
    /// Largest accepted image, in pixels (width x height).
    #[arg(long, value_name = "N", default_value_t = resnext::preprocess::decode::DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
    /// Decode truncated images (a JPEG without its end marker, a PNG cut short) to a partial
    /// frame, the missing rows grey, instead of refusing them with IMAGE_DECODE.
    #[arg(long)]
    pub allow_truncated_images: bool,
}

#[derive(Args, Debug)]
pub struct ClassifyArgs {
    /// The ONNX model.
    #[arg(long, value_name = "M")]
    pub model: PathBuf,
    #[command(flatten)]
    pub preprocess: PreprocessFlags,
    #[command(flatten)]
    pub engine: EngineFlags,
    /// Number of predictions per image.
    #[arg(long, value_name = "K", default_value_t = 5)]
    pub top_k: usize,
    /// Drop predictions scoring below this probability (0 to 1; default 0: keep all top-k).
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub score_threshold: f32,
    /// Classify only this region of every image: `X,Y,WIDTH,HEIGHT` in the decoded (EXIF-upright)
    /// picture's pixels, before resize and crop; it must lie inside the image.
    #[arg(long, value_name = "X,Y,W,H", value_parser = parse_roi)]
    pub roi: Option<resnext::Roi>,
    /// Worker threads for one inference (0: all cores).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// Label file (one label per line, or PaddleClas's "<id> <name>"); default: ImageNet-1k.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Accept a label count that differs from the model's class count.
    #[arg(long)]
    pub allow_label_mismatch: bool,
    /// Classify all images in one batched run instead of one at a time.
    #[arg(long)]
    pub batch: bool,
    /// Print one JSON object per image and line.
    #[arg(long)]
    pub json: bool,
    /// Image files (JPEG, PNG, BMP, WebP).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// The ONNX model.
    #[arg(long, value_name = "M")]
    pub model: PathBuf,
    #[command(flatten)]
    pub engine: EngineFlags,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct PreprocessArgs {
    /// The image file.
    #[arg(long, value_name = "I")]
    pub image: PathBuf,
    #[command(flatten)]
    pub preprocess: PreprocessFlags,
    /// Output .npy file.
    #[arg(long, value_name = "T.npy")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The ONNX model.
    #[arg(long, value_name = "M")]
    pub model: PathBuf,
    /// Batch sizes, comma-separated.
    #[arg(long, value_name = "B,B,...", default_value = "1,4,8", value_delimiter = ',')]
    pub batch: Vec<usize>,
    #[command(flatten)]
    pub engine: EngineFlags,
    /// Worker threads for one inference (0: all cores).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// Untimed runs per batch size before measuring.
    #[arg(long, value_name = "W", default_value_t = 2)]
    pub warmup: usize,
    /// Timed runs per batch size.
    #[arg(long, value_name = "I", default_value_t = 10)]
    pub iters: usize,
    /// Also time decoding and preprocessing this encoded image (one thread, from memory, at
    /// least 20 runs).
    #[arg(long, value_name = "IMG")]
    pub image: Option<PathBuf>,
    /// Print a per-operator profile of the tract plan (the batch-1 plan every batch runs on;
    /// N runs).
    #[arg(long, value_name = "N")]
    pub profile: Option<usize>,
    /// Draw the latency chart (median and p90 per batch size) as SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The ONNX model.
    #[arg(long, value_name = "M")]
    pub model: PathBuf,
    /// A directory with one sub-directory per class (ImageNet validation layout: sub-directories
    /// sorted by name are classes 0, 1, 2...; all-numeric names are used as class ids), or a
    /// list file of `path label` lines (paths relative to the list file).
    #[arg(long, value_name = "DIR|LIST")]
    pub data: PathBuf,
    #[command(flatten)]
    pub preprocess: PreprocessFlags,
    #[command(flatten)]
    pub engine: EngineFlags,
    /// Worker threads for one inference (0: all cores).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// Images per batched run.
    #[arg(long, value_name = "B", default_value_t = 8)]
    pub batch_size: usize,
    /// Evaluate only the first N images.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `X,Y,WIDTH,HEIGHT` as a region of interest (four non-negative integers).
fn parse_roi(text: &str) -> Result<resnext::Roi, String> {
    let v: Vec<u32> = text
        .split(',')
        .map(|p| p.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{text:?}: {e} (expected X,Y,WIDTH,HEIGHT)"))?;
    match v[..] {
        [x, y, w, h] => Ok(resnext::Roi::new(x, y, w, h)),
        _ => Err(format!("{text:?}: expected four values X,Y,WIDTH,HEIGHT")),
    }
}
