//! Preprocessing parameters and the presets of the ResNeXt101 WSL family.

use crate::error::{Error, Result};

/// ImageNet mean, RGB order, in [0, 1] units.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet standard deviation, RGB order, in [0, 1] units.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The named preprocessing presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// ResNeXt101_32x{8,16,32,48}d_wsl: resize short side to 256, centre crop 224.
    Wsl224,
    /// Fix_ResNeXt101_32x48d_wsl: resize short side to 320, centre crop 320.
    Fix320,
}

impl Preset {
    /// The preset's name as the CLI spells it (`wsl-224`, `fix-320`).
    pub fn name(self) -> &'static str {
        match self {
            Preset::Wsl224 => "wsl-224",
            Preset::Fix320 => "fix-320",
        }
    }

    /// Parses `wsl-224` or `fix-320`.
    pub fn from_name(name: &str) -> Result<Preset> {
        match name {
            "wsl-224" => Ok(Preset::Wsl224),
            "fix-320" => Ok(Preset::Fix320),
            other => Err(Error::invalid(format!(
                "unknown preset '{other}' (expected wsl-224 or fix-320)"
            ))),
        }
    }

    /// The preset's full configuration.
    pub fn config(self) -> PreprocessConfig {
        let (resize_short, crop) = match self {
            Preset::Wsl224 => (256, 224),
            Preset::Fix320 => (320, 320),
        };
        PreprocessConfig { resize_short, crop, mean: IMAGENET_MEAN, std: IMAGENET_STD }
    }
}

/// Every number of the preprocessing pipeline. Start from a [`Preset`] and override fields.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreprocessConfig {
    /// Target length of the short side after resizing, in pixels.
    pub resize_short: u32,
    /// Side of the square centre crop, in pixels; at most `resize_short`.
    pub crop: u32,
    /// Per-channel mean (RGB, [0, 1] units) subtracted after scaling by 1/255.
    pub mean: [f32; 3],
    /// Per-channel standard deviation (RGB, [0, 1] units) divided by last; all non-zero.
    pub std: [f32; 3],
}

impl Default for PreprocessConfig {
    fn default() -> Self {
        Preset::Wsl224.config()
    }
}

/// Largest accepted `resize_short` / `crop`, to keep tensors reasonable.
pub const MAX_SIDE: u32 = 4096;

impl PreprocessConfig {
    /// Checks the numbers: non-zero sizes, `crop <= resize_short <= 4096`, finite mean and
    /// non-zero finite std.
    pub fn validate(&self) -> Result<()> {
        if self.crop == 0 || self.resize_short == 0 {
            return Err(Error::invalid("resize_short and crop must be positive"));
        }
        if self.resize_short > MAX_SIDE {
            return Err(Error::invalid(format!("resize_short must be at most {MAX_SIDE}")));
        }
        if self.crop > self.resize_short {
            return Err(Error::invalid(format!(
                "crop ({}) must not exceed resize_short ({})",
                self.crop, self.resize_short
            )));
        }
        if self.mean.iter().any(|m| !m.is_finite()) {
            return Err(Error::invalid("mean values must be finite"));
        }
        if self.std.iter().any(|s| !s.is_finite() || *s == 0.0) {
            return Err(Error::invalid("std values must be finite and non-zero"));
        }
        Ok(())
    }

    /// Number of f32 values of one preprocessed image (`3 * crop * crop`).
    pub fn image_len(&self) -> usize {
        3 * self.crop as usize * self.crop as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets() {
        assert_eq!(Preset::from_name("wsl-224").unwrap().config().crop, 224);
        assert_eq!(Preset::from_name("fix-320").unwrap().config().resize_short, 320);
        assert!(Preset::from_name("nope").is_err());
        assert_eq!(PreprocessConfig::default(), Preset::Wsl224.config());
    }

    #[test]
    fn validation() {
        let mut c = PreprocessConfig::default();
        assert!(c.validate().is_ok());
        c.crop = 300;
        assert!(c.validate().is_err());
        c = PreprocessConfig { std: [0.0, 1.0, 1.0], ..Default::default() };
        assert!(c.validate().is_err());
        c = PreprocessConfig { mean: [f32::NAN, 0.0, 0.0], ..Default::default() };
        assert!(c.validate().is_err());
    }
}
