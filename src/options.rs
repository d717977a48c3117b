//! Options a [`Classifier`](crate::Classifier) is built from.

use crate::backend::ort::execution::{ExecutionProvider, FallbackPolicy, OrtOptions};
use crate::backend::BackendKind;
use crate::labels::LabelSource;
pub use crate::model_file::FileRange;
use crate::preprocess::decode::DEFAULT_MAX_PIXELS;
use crate::preprocess::{PreprocessConfig, Preset};
use std::path::PathBuf;
use std::sync::Arc;

/// Default largest model file accepted: 4 GiB (the largest family member, Fix 32x48d in FP32,
/// is about 1.8 GB).
pub const DEFAULT_MAX_MODEL_BYTES: u64 = 4 << 30;

/// Which of the SDK's own CPU kernels run the convolutions on the tract backend: INT8 (QDQ)
/// models on AMX-INT8, AVX512-VNNI, AVX2 (CPUs without VNNI) or the scalar reference; FP32
/// models (and FP16 ones, their convolution weights kept float16) on the AVX-512 f32 kernels
/// wherever the CPU has AVX-512F, else on the AVX2 f32 kernels where it has AVX2 + FMA + F16C,
/// for every choice but `Off`, `Scalar` (the scalar f32 reference) and `Avx2` (the AVX2 f32
/// kernels even on an AVX-512 CPU). The numeric values are part of the C ABI.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CpuKernels {
    /// The best this CPU has: AMX-INT8, else AVX512-VNNI, else AVX2 + FMA (INT8 with exact
    /// 16-bit products); on a CPU with none of them, tract's own path (the default).
    #[default]
    Auto = 0,
    /// tract's own path for every model (the kernel layer off).
    Off = 1,
    /// The AVX512-VNNI kernels, even where AMX is available; an error where VNNI is not.
    Avx512Vnni = 2,
    /// The AMX-INT8 kernels; an error where the CPU or the OS cannot run them.
    AmxInt8 = 3,
    /// The portable scalar reference kernels (slow: for checking the others).
    Scalar = 4,
    /// The AVX2 kernels (INT8 with exact 16-bit products on `vpmaddwd`, f32 on AVX2 + FMA),
    /// even where AVX-512 is available; an error where the CPU lacks AVX2, FMA or F16C.
    Avx2 = 5,
}

impl CpuKernels {
    /// Every choice, in C ABI order.
    pub const ALL: [CpuKernels; 6] = [
        CpuKernels::Auto,
        CpuKernels::Off,
        CpuKernels::Avx512Vnni,
        CpuKernels::AmxInt8,
        CpuKernels::Scalar,
        CpuKernels::Avx2,
    ];

    /// The choice with this C ABI value, if any.
    pub fn from_u32(value: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|k| *k as u32 == value)
    }

    /// `auto`, `off`, `avx512-vnni`, `amx-int8`, `scalar` or `avx2` (the CLI's spelling).
    pub fn name(self) -> &'static str {
        match self {
            CpuKernels::Auto => "auto",
            CpuKernels::Off => "off",
            CpuKernels::Avx512Vnni => "avx512-vnni",
            CpuKernels::AmxInt8 => "amx-int8",
            CpuKernels::Scalar => "scalar",
            CpuKernels::Avx2 => "avx2",
        }
    }

    /// Every choice's name, comma-separated (for error messages).
    pub fn names() -> String {
        Self::ALL.map(|k| k.name()).join(", ")
    }

    /// The choice named `name` (see [`CpuKernels::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Where the ONNX model comes from.
#[derive(Debug, Clone)]
pub enum ModelSource {
    /// A file path.
    Path(PathBuf),
    /// The bytes of an ONNX file, shared (the classifier does not keep them after loading).
    Bytes(Arc<[u8]>),
    /// A byte range of an open file (an Android asset's `AssetFileDescriptor`), read with
    /// positioned reads when the classifier is created; see [`FileRange`].
    FileRange(FileRange),
}

/// Everything a classifier is built from. Start with [`ClassifierOptions::from_path`] or
/// [`ClassifierOptions::from_bytes`] and chain the setters.
#[derive(Debug, Clone)]
pub struct ClassifierOptions {
    /// The model.
    pub model: ModelSource,
    /// Preprocessing numbers; `crop` must equal the model's input height and width.
    pub preprocess: PreprocessConfig,
    /// Number of predictions returned per image (default 5; clamped to the class count).
    pub top_k: usize,
    /// Predictions scoring below this probability are dropped from the top-k (default 0.0:
    /// none are), so a result may hold fewer than `top_k`, or no, predictions. In [0, 1]. A
    /// positive threshold also drops NaN scores (a broken model's).
    pub score_threshold: f32,
    /// Worker threads for one inference; 0 (the default) uses every available core.
    pub threads: usize,
    /// Labels (default: the built-in ImageNet-1k list).
    pub labels: LabelSource,
    /// Accept a label list whose length differs from the model's class count (default false:
    /// such a mismatch is an [`ErrorCode::Labels`](crate::ErrorCode::Labels) error).
    pub allow_label_mismatch: bool,
    /// Largest image (or raw buffer) `width * height` accepted.
    pub max_pixels: u64,
    /// Decode truncated image files and bytes (a JPEG without its end-of-image marker, a PNG
    /// cut before its end) to a partial frame, the missing rows grey (default false: they fail
    /// with [`ErrorCode::ImageDecode`](crate::ErrorCode::ImageDecode), the message saying the
    /// data is truncated). Data cut inside its headers fails either way.
    pub allow_truncated_images: bool,
    /// Largest model file accepted, in bytes.
    pub max_model_bytes: u64,
    /// The inference engine.
    pub backend: BackendKind,
    /// tract only: widen float16 weights to float32 at load (default true; x86_64 has no fast
    /// float16 kernels in tract).
    pub widen_fp16: bool,
    /// tract only, opt-in fast mode for float32 and float16 models (default false): the float
    /// kernel layer's convolutions whose groups have 8, 16 or a multiple of 32 input channels
    /// (all of a ResNeXt's but the 3-channel stem) run on Intel AMX with
    /// weights and inputs rounded to bf16 and float32 accumulation; the others stay float32.
    /// On a CPU with AVX512-BF16 and no AMX (AMD Zen 4 and later) those with 16 or a multiple of
    /// 32 input channels per group run on `vdpbf16ps` instead. Faster, with bf16's
    /// rounding in the scores (BENCHMARKS.md measures both). Ignored with a warning where the
    /// CPU has neither, where `cpu_kernels` turns the layer off, and for INT8 models; [`ModelInfo::compute`](crate::ModelInfo::compute) says how many
    /// convolutions run in bf16, or why bf16 is not available.
    pub bf16_matmul: bool,
    /// tract only: which of the SDK's own CPU kernels run the convolutions (default
    /// [`CpuKernels::Auto`]: for INT8 QDQ models AMX-INT8 or AVX512-VNNI where the CPU has
    /// them, else AVX2 + FMA; for float models the AVX-512 f32 kernels where it has AVX-512F,
    /// else the AVX2 ones where it has AVX2 + FMA; tract's own path elsewhere). With `bf16_matmul` float models stay on tract's kernels.
    pub cpu_kernels: CpuKernels,
    /// ONNX Runtime only: library, execution provider and fallback policy.
    pub ort: OrtOptions,
}

impl ClassifierOptions {
    fn with_model(model: ModelSource) -> Self {
        ClassifierOptions {
            model,
            preprocess: Preset::Wsl224.config(),
            top_k: 5,
            score_threshold: 0.0,
            threads: 0,
            labels: LabelSource::ImageNet1k,
            allow_label_mismatch: false,
            max_pixels: DEFAULT_MAX_PIXELS,
            allow_truncated_images: false,
            max_model_bytes: DEFAULT_MAX_MODEL_BYTES,
            backend: BackendKind::Tract,
            widen_fp16: true,
            bf16_matmul: false,
            cpu_kernels: CpuKernels::Auto,
            ort: OrtOptions::default(),
        }
    }

    /// Options for the ONNX file at `path`, with every other option at its default.
    pub fn from_path(path: impl Into<PathBuf>) -> Self {
        Self::with_model(ModelSource::Path(path.into()))
    }

    /// Options for ONNX bytes held in memory.
    pub fn from_bytes(bytes: impl Into<Arc<[u8]>>) -> Self {
        Self::with_model(ModelSource::Bytes(bytes.into()))
    }

    /// Options for `length` bytes of `file` from `offset` (see [`FileRange::new`], which checks
    /// the range).
    pub fn from_file_range(range: FileRange) -> Self {
        Self::with_model(ModelSource::FileRange(range))
    }

    /// Uses a preset's preprocessing.
    pub fn preset(mut self, preset: Preset) -> Self {
        self.preprocess = preset.config();
        self
    }

    /// Uses custom preprocessing.
    pub fn preprocess(mut self, config: PreprocessConfig) -> Self {
        self.preprocess = config;
        self
    }

    /// Sets the number of predictions per image.
    pub fn top_k(mut self, k: usize) -> Self {
        self.top_k = k;
        self
    }

    /// Drops predictions scoring below `threshold` (a probability in [0, 1]; checked by
    /// [`Classifier::new`](crate::Classifier::new)).
    pub fn score_threshold(mut self, threshold: f32) -> Self {
        self.score_threshold = threshold;
        self
    }

    /// Sets the worker threads of one inference (0: all cores).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Sets the labels.
    pub fn labels(mut self, labels: LabelSource) -> Self {
        self.labels = labels;
        self
    }

    /// Accepts a label count that differs from the class count.
    pub fn allow_label_mismatch(mut self, allow: bool) -> Self {
        self.allow_label_mismatch = allow;
        self
    }

    /// Sets the largest accepted image pixel count.
    pub fn max_pixels(mut self, max_pixels: u64) -> Self {
        self.max_pixels = max_pixels;
        self
    }

    /// Accepts truncated images as partial frames (see
    /// [`ClassifierOptions::allow_truncated_images`]).
    pub fn allow_truncated_images(mut self, allow: bool) -> Self {
        self.allow_truncated_images = allow;
        self
    }

    /// Sets the largest accepted model size in bytes.
    pub fn max_model_bytes(mut self, max_model_bytes: u64) -> Self {
        self.max_model_bytes = max_model_bytes;
        self
    }

    /// Chooses the backend.
    pub fn backend(mut self, backend: BackendKind) -> Self {
        self.backend = backend;
        self
    }

    /// tract only: whether float16 models run in float32 (the default): their weights widened
    /// to float32 at load, except the convolution weights the float kernel layer takes, which
    /// stay float16 and are widened in its kernel. `false` runs float16 arithmetic.
    pub fn widen_fp16(mut self, widen: bool) -> Self {
        self.widen_fp16 = widen;
        self
    }

    /// tract only, opt-in: the float convolutions in bf16 on Intel AMX (see
    /// [`ClassifierOptions::bf16_matmul`]).
    pub fn bf16_matmul(mut self, bf16: bool) -> Self {
        self.bf16_matmul = bf16;
        self
    }

    /// tract only: the CPU kernels for INT8 convolutions (see
    /// [`ClassifierOptions::cpu_kernels`]).
    pub fn cpu_kernels(mut self, kernels: CpuKernels) -> Self {
        self.cpu_kernels = kernels;
        self
    }

    /// ONNX Runtime only: the `libonnxruntime` shared library to load (default: the
    /// `ORT_DYLIB_PATH` environment variable). One library per process.
    pub fn ort_library(mut self, path: impl Into<PathBuf>) -> Self {
        self.ort.library_path = Some(path.into());
        self
    }

    /// ONNX Runtime only: the execution provider (default CPU).
    pub fn execution_provider(mut self, provider: ExecutionProvider) -> Self {
        self.ort.provider = provider;
        self
    }

    /// ONNX Runtime only: what happens when the provider cannot be used (default: fail with
    /// [`ErrorCode::ProviderUnavailable`](crate::ErrorCode::ProviderUnavailable)).
    pub fn fallback(mut self, policy: FallbackPolicy) -> Self {
        self.ort.fallback = policy;
        self
    }

    /// The thread count actually used: `threads`, or the number of available cores for 0.
    pub fn effective_threads(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }
}
