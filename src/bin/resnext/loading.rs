//! What the subcommands share, below all of them: the preprocessing the flags describe, and
//! loading a model whose resolution is not known in advance.

use super::args::PreprocessFlags;
use resnext::{Classifier, ClassifierOptions, Error, ErrorCode, PreprocessConfig, Preset, Result};

/// `a,b,c` as three numbers (the `--mean` and `--std` flags).
fn parse_triple(flag: &str, text: &str) -> Result<[f32; 3]> {
    let values: Vec<f32> = text
        .split(',')
        .map(|v| v.trim().parse::<f32>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| {
            Error::invalid(format!("--{flag} expects three numbers like 0.5,0.5,0.5, got '{text}'"))
        })?;
    values.try_into().map_err(|_| {
        Error::invalid(format!("--{flag} expects exactly three numbers, got '{text}'"))
    })
}

/// The preprocessing the flags describe: the preset, then each number given.
pub fn preprocess_config(flags: &PreprocessFlags) -> Result<PreprocessConfig> {
    let mut config = Preset::from_name(&flags.preset)?.config();
    if let Some(n) = flags.resize_short {
        config.resize_short = n;
    }
    if let Some(n) = flags.crop {
        config.crop = n;
    }
    if let Some(m) = &flags.mean {
        config.mean = parse_triple("mean", m)?;
    }
    if let Some(s) = &flags.std {
        config.std = parse_triple("std", s)?;
    }
    config.validate()?;
    Ok(config)
}

/// `info` does not know the model's resolution in advance: when the default crop does not fit,
/// retry with the resolution the error reports.
pub fn load_any_resolution(options: ClassifierOptions) -> Result<Classifier> {
    match Classifier::new(options.clone()) {
        Err(e)
            if e.code() == ErrorCode::InvalidArgument
                && e.message().contains("model's input is") =>
        {
            let side = e
                .message()
                .split("model's input is ")
                .nth(1)
                .and_then(|s| s.split('x').next())
                .and_then(|s| s.parse::<u32>().ok())
                .ok_or(e)?;
            let config = PreprocessConfig { resize_short: side, crop: side, ..Default::default() };
            Classifier::new(options.preprocess(config))
        }
        other => other,
    }
}
