//! Typed options for the ONNX Runtime backend: which execution provider runs the model, how
//! TensorRT builds its engines, and what happens when a provider cannot be used.
//!
//! These types are always compiled (so the C ABI, JNI and CLI accept them in every build); a
//! build without the `ort` feature refuses them when the classifier is created.

use std::fmt;
use std::path::PathBuf;

/// Hardware an ONNX Runtime session runs on. The numeric values are part of the C ABI.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProviderKind {
    /// ONNX Runtime's CPU provider (always present).
    #[default]
    Cpu = 0,
    /// NVIDIA CUDA (cuDNN) provider.
    Cuda = 1,
    /// NVIDIA TensorRT provider (CUDA handles what TensorRT cannot).
    TensorRt = 2,
}

impl ProviderKind {
    /// The provider with this C ABI value, if any.
    pub fn from_u32(value: u32) -> Option<Self> {
        [ProviderKind::Cpu, ProviderKind::Cuda, ProviderKind::TensorRt]
            .into_iter()
            .find(|p| *p as u32 == value)
    }

    /// `cpu`, `cuda` or `tensorrt`.
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::Cpu => "cpu",
            ProviderKind::Cuda => "cuda",
            ProviderKind::TensorRt => "tensorrt",
        }
    }

    /// Parses `cpu`, `cuda` or `tensorrt` (also `trt`).
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "cpu" => Some(ProviderKind::Cpu),
            "cuda" => Some(ProviderKind::Cuda),
            "tensorrt" | "trt" => Some(ProviderKind::TensorRt),
            _ => None,
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What to do when the requested execution provider cannot be used (not compiled into the
/// ONNX Runtime library, no GPU, driver or library missing, engine build failure). The numeric
/// values are part of the C ABI.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FallbackPolicy {
    /// Fail with [`ErrorCode::ProviderUnavailable`](crate::ErrorCode::ProviderUnavailable). The
    /// default: a caller who asked for a GPU learns that there is none.
    #[default]
    Fail = 0,
    /// Try the next provider (TensorRT, then CUDA, then CPU), logging a warning for each one
    /// skipped. [`ModelInfo::provider`](crate::ModelInfo::provider) says which one runs.
    NextProvider = 1,
}

impl FallbackPolicy {
    /// The policy with this C ABI value, if any.
    pub fn from_u32(value: u32) -> Option<Self> {
        [FallbackPolicy::Fail, FallbackPolicy::NextProvider]
            .into_iter()
            .find(|p| *p as u32 == value)
    }
}

/// TensorRT engine options. Build with [`TensorRtOptions::default`] and the setters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TensorRtOptions {
    /// Build FP16 kernels where TensorRT finds them faster (default false).
    pub fp16: bool,
    /// Build INT8 kernels (default false). A QDQ model carries its own scales; a float model
    /// needs `int8_calibration_table`.
    pub int8: bool,
    /// TensorRT calibration table for INT8 on a float model (file name inside the engine cache
    /// directory, as ONNX Runtime expects).
    pub int8_calibration_table: Option<String>,
    /// Largest scratch memory TensorRT may use while building, in bytes (None: ONNX Runtime's
    /// default, 1 GiB).
    pub workspace_bytes: Option<u64>,
    /// Where built engines are cached. The SDK adds a subdirectory per key (model SHA-256, ONNX
    /// Runtime and TensorRT versions, device, precision options), so a changed model or an
    /// upgrade never loads a stale engine. None: no engine cache (every load builds the engine).
    pub engine_cache_dir: Option<PathBuf>,
    /// Where TensorRT's timing cache lives (it speeds up building engines for new shapes).
    pub timing_cache_dir: Option<PathBuf>,
    /// Run on a Jetson's deep-learning accelerator (DLA) core, 0 or 1 (at most
    /// [`MAX_DLA_CORE`]; another value fails `Classifier::new` with
    /// [`ErrorCode::InvalidArgument`](crate::ErrorCode::InvalidArgument)); None: the GPU.
    pub dla_core: Option<u32>,
    /// Smallest, typical and largest batch of the optimization profile (default 1, 4, 8).
    pub batch_profile: BatchProfile,
}

/// The highest DLA core number: Jetson Xavier and Orin have DLA cores 0 and 1.
pub const MAX_DLA_CORE: u32 = 1;

/// A DLA core as the C ABI and Java pass it: -1 for the GPU (None), 0 or 1 for a DLA core;
/// anything else is an [`ErrorCode::InvalidArgument`](crate::ErrorCode::InvalidArgument) error.
pub fn dla_core_from_i32(core: i32) -> crate::Result<Option<u32>> {
    match core {
        -1 => Ok(None),
        c if (0..=MAX_DLA_CORE as i32).contains(&c) => Ok(Some(c as u32)),
        other => Err(dla_core_error(other as i64)),
    }
}

fn dla_core_error(core: i64) -> crate::Error {
    crate::Error::invalid(format!(
        "DLA core {core}: Jetson DLA cores are 0 to {MAX_DLA_CORE} (-1 runs on the GPU)"
    ))
}

impl TensorRtOptions {
    /// Enables FP16 kernels.
    pub fn fp16(mut self, enable: bool) -> Self {
        self.fp16 = enable;
        self
    }

    /// Enables INT8 kernels, with a calibration table for float models.
    pub fn int8(mut self, enable: bool, calibration_table: Option<String>) -> Self {
        self.int8 = enable;
        self.int8_calibration_table = calibration_table;
        self
    }

    /// Sets the builder's workspace limit in bytes.
    pub fn workspace_bytes(mut self, bytes: u64) -> Self {
        self.workspace_bytes = Some(bytes);
        self
    }

    /// Caches built engines under `dir` (created if missing).
    pub fn engine_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.engine_cache_dir = Some(dir.into());
        self
    }

    /// Keeps TensorRT's timing cache under `dir` (created if missing).
    pub fn timing_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.timing_cache_dir = Some(dir.into());
        self
    }

    /// Runs on DLA core `core`, 0 or 1 (Jetson Xavier and Orin have two; a larger value fails
    /// `Classifier::new` with [`ErrorCode::InvalidArgument`](crate::ErrorCode::InvalidArgument)).
    pub fn dla_core(mut self, core: u32) -> Self {
        self.dla_core = Some(core);
        self
    }

    /// Sets the optimization profile's batch sizes.
    pub fn batch_profile(mut self, profile: BatchProfile) -> Self {
        self.batch_profile = profile;
        self
    }

    /// Checks the settings that need no GPU: the DLA core is at most [`MAX_DLA_CORE`].
    pub fn validate(&self) -> crate::Result<()> {
        match self.dla_core {
            Some(core) if core > MAX_DLA_CORE => Err(dla_core_error(core as i64)),
            _ => Ok(()),
        }
    }

    /// The precision TensorRT builds for: `int8`, `fp16` or `fp32`.
    pub fn precision_name(&self) -> &'static str {
        if self.int8 {
            "int8"
        } else if self.fp16 {
            "fp16"
        } else {
            "fp32"
        }
    }
}

/// TensorRT optimization profile over the batch dimension: one engine serves every batch from
/// `min` to `max` and is tuned for `opt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchProfile {
    /// Smallest batch.
    pub min: u32,
    /// The batch TensorRT tunes for.
    pub opt: u32,
    /// Largest batch; larger calls are refused by TensorRT.
    pub max: u32,
}

impl Default for BatchProfile {
    fn default() -> Self {
        BatchProfile { min: 1, opt: 4, max: 8 }
    }
}

impl BatchProfile {
    /// Whether `min <= opt <= max` and `min >= 1`.
    pub fn is_valid(&self) -> bool {
        self.min >= 1 && self.min <= self.opt && self.opt <= self.max
    }
}

/// An execution provider with its options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ExecutionProvider {
    /// ONNX Runtime's CPU provider; threads come from
    /// [`ClassifierOptions::threads`](crate::ClassifierOptions::threads).
    #[default]
    Cpu,
    /// CUDA on GPU `device_id`.
    Cuda {
        /// CUDA device ordinal.
        device_id: u32,
    },
    /// TensorRT on GPU `device_id`.
    TensorRt {
        /// CUDA device ordinal.
        device_id: u32,
        /// Engine options.
        options: TensorRtOptions,
    },
}

impl ExecutionProvider {
    /// The provider's kind.
    pub fn kind(&self) -> ProviderKind {
        match self {
            ExecutionProvider::Cpu => ProviderKind::Cpu,
            ExecutionProvider::Cuda { .. } => ProviderKind::Cuda,
            ExecutionProvider::TensorRt { .. } => ProviderKind::TensorRt,
        }
    }

    /// The GPU ordinal, or None for the CPU.
    pub fn device_id(&self) -> Option<u32> {
        match self {
            ExecutionProvider::Cpu => None,
            ExecutionProvider::Cuda { device_id }
            | ExecutionProvider::TensorRt { device_id, .. } => Some(*device_id),
        }
    }

    /// This provider followed by the ones tried after it under
    /// [`FallbackPolicy::NextProvider`]: TensorRT -> CUDA (same device) -> CPU; CUDA -> CPU.
    pub fn fallback_chain(&self) -> Vec<ExecutionProvider> {
        match self {
            ExecutionProvider::Cpu => vec![ExecutionProvider::Cpu],
            ExecutionProvider::Cuda { .. } => vec![self.clone(), ExecutionProvider::Cpu],
            ExecutionProvider::TensorRt { device_id, .. } => vec![
                self.clone(),
                ExecutionProvider::Cuda { device_id: *device_id },
                ExecutionProvider::Cpu,
            ],
        }
    }

    /// A short description such as `cpu`, `cuda:0` or `tensorrt:0`.
    pub fn describe(&self) -> String {
        match self.device_id() {
            Some(id) => format!("{}:{id}", self.kind()),
            None => self.kind().to_string(),
        }
    }
}

/// Everything the ONNX Runtime backend needs besides the shared classifier options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrtOptions {
    /// The ONNX Runtime shared library (`libonnxruntime.so`). None: the `ORT_DYLIB_PATH`
    /// environment variable. The library is loaded once per process: the first classifier that
    /// uses the backend decides which file, and a later request for a different file is refused.
    pub library_path: Option<PathBuf>,
    /// The provider to run on (default CPU).
    pub provider: ExecutionProvider,
    /// What happens when the provider cannot be used (default: fail).
    pub fallback: FallbackPolicy,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_chains_end_on_the_cpu() {
        let trt = ExecutionProvider::TensorRt { device_id: 1, options: TensorRtOptions::default() };
        let chain: Vec<String> = trt.fallback_chain().iter().map(|p| p.describe()).collect();
        assert_eq!(chain, ["tensorrt:1", "cuda:1", "cpu"]);
        let cuda: Vec<String> = ExecutionProvider::Cuda { device_id: 0 }
            .fallback_chain()
            .iter()
            .map(|p| p.describe())
            .collect();
        assert_eq!(cuda, ["cuda:0", "cpu"]);
        assert_eq!(ExecutionProvider::Cpu.fallback_chain(), [ExecutionProvider::Cpu]);
    }

    #[test]
    fn provider_names_round_trip() {
        for kind in [ProviderKind::Cpu, ProviderKind::Cuda, ProviderKind::TensorRt] {
            assert_eq!(ProviderKind::parse(kind.name()), Some(kind));
        }
        assert_eq!(ProviderKind::parse("TRT"), Some(ProviderKind::TensorRt));
        assert_eq!(ProviderKind::parse("gpu"), None);
    }

    #[test]
    fn precision_follows_the_strongest_flag() {
        let o = TensorRtOptions::default();
        assert_eq!(o.precision_name(), "fp32");
        assert_eq!(o.clone().fp16(true).precision_name(), "fp16");
        assert_eq!(o.fp16(true).int8(true, None).precision_name(), "int8");
    }

    #[test]
    fn batch_profile_validation() {
        assert!(BatchProfile::default().is_valid());
        assert!(!BatchProfile { min: 0, opt: 1, max: 1 }.is_valid());
        assert!(!BatchProfile { min: 4, opt: 2, max: 8 }.is_valid());
    }
}
