//! Flags choosing the inference engine, shared by `classify`, `info`, `bench` and `eval`.

use clap::Args;
use resnext::{
    BackendKind, BatchProfile, ClassifierOptions, CpuKernels, Error, ExecutionProvider,
    FallbackPolicy, ProviderKind, Result, TensorRtOptions,
};
use std::path::PathBuf;

/// `--backend`, `--ep` and the ONNX Runtime / TensorRT options.
#[derive(Args, Debug, Clone, Default)]
pub struct EngineFlags {
    /// Inference backend: tract (pure Rust, CPU) or ort (ONNX Runtime).
    #[arg(long, value_name = "tract|ort", default_value = "tract")]
    pub backend: String,
    /// tract: the SDK's own kernels for the convolutions (auto: INT8 models on AMX-INT8,
    /// AVX512-VNNI or AVX2, float models on AVX-512 (else AVX2) f32, where the CPU has them; off:
    /// tract's own path; the INT8 choices also run float models on AVX-512 f32; avx2: the AVX2
    /// kernels for both, even on an AVX-512 CPU; scalar: the reference kernels).
    #[arg(long, value_name = "auto|off|avx512-vnni|amx-int8|scalar|avx2", default_value = "auto")]
    pub cpu_kernels: String,
    /// tract, opt-in: run a float model's convolutions (all of a ResNeXt's but the stem) in bf16 on
    /// Intel AMX, or on AVX512-BF16 without AMX (faster, with bf16's rounding in the scores;
    /// ignored with a warning with neither or with --cpu-kernels off).
    #[arg(long)]
    pub bf16_matmul: bool,
    /// tract: keep float16 weights in float16 instead of widening them to float32 at load
    /// (for CPUs with native fp16 arithmetic).
    #[arg(long)]
    pub keep_fp16: bool,
    /// ONNX Runtime execution provider.
    #[arg(long, value_name = "cpu|cuda|tensorrt", default_value = "cpu")]
    pub ep: String,
    /// GPU ordinal for CUDA and TensorRT.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub device: u32,
    /// When the provider cannot be used: fail (exit with PROVIDER_UNAVAILABLE) or next (try
    /// TensorRT, CUDA, then CPU, with a warning).
    #[arg(long, value_name = "fail|next", default_value = "fail")]
    pub fallback: String,
    /// The ONNX Runtime library (default: $ORT_DYLIB_PATH).
    #[arg(long, value_name = "libonnxruntime.so")]
    pub ort_lib: Option<PathBuf>,
    /// TensorRT: build FP16 kernels.
    #[arg(long)]
    pub trt_fp16: bool,
    /// TensorRT: build INT8 kernels (a QDQ model, or a float model with --trt-calibration-table).
    #[arg(long)]
    pub trt_int8: bool,
    /// TensorRT: INT8 calibration table name (inside the engine cache directory).
    #[arg(long, value_name = "NAME")]
    pub trt_calibration_table: Option<String>,
    /// TensorRT: builder workspace limit in MiB.
    #[arg(long, value_name = "MIB")]
    pub trt_workspace_mb: Option<u64>,
    /// TensorRT: engine cache directory (keyed and verified subdirectories are created in it).
    #[arg(long, value_name = "DIR")]
    pub trt_engine_cache: Option<PathBuf>,
    /// TensorRT: timing cache directory.
    #[arg(long, value_name = "DIR")]
    pub trt_timing_cache: Option<PathBuf>,
    /// TensorRT: run on this DLA core (Jetson: 0 or 1).
    #[arg(long, value_name = "N")]
    pub dla_core: Option<u32>,
    /// TensorRT: optimization profile batch sizes min,opt,max.
    #[arg(long, value_name = "MIN,OPT,MAX", default_value = "1,4,8", value_delimiter = ',')]
    pub trt_batch_profile: Vec<u32>,
}

impl EngineFlags {
    /// `--cpu-kernels`.
    pub fn cpu_kernels(&self) -> Result<CpuKernels> {
        CpuKernels::from_name(&self.cpu_kernels).ok_or_else(|| {
            Error::invalid(format!(
                "--cpu-kernels {}: use {}",
                self.cpu_kernels,
                CpuKernels::names()
            ))
        })
    }

    /// Applies the flags to `options`.
    pub fn apply(&self, options: ClassifierOptions) -> Result<ClassifierOptions> {
        let backend = match self.backend.as_str() {
            "tract" => BackendKind::Tract,
            "ort" | "onnxruntime" => BackendKind::Ort,
            other => return Err(Error::invalid(format!("--backend {other}: use tract or ort"))),
        };
        let kind = ProviderKind::parse(&self.ep).ok_or_else(|| {
            Error::invalid(format!("--ep {}: use cpu, cuda or tensorrt", self.ep))
        })?;
        if backend == BackendKind::Tract && kind != ProviderKind::Cpu {
            return Err(Error::invalid(format!(
                "--ep {} needs --backend ort (tract runs on the CPU)",
                self.ep
            )));
        }
        let cpu_kernels = self.cpu_kernels()?;
        let fallback = match self.fallback.as_str() {
            "fail" => FallbackPolicy::Fail,
            "next" => FallbackPolicy::NextProvider,
            other => return Err(Error::invalid(format!("--fallback {other}: use fail or next"))),
        };
        let [min, opt, max] = self.trt_batch_profile[..] else {
            return Err(Error::invalid("--trt-batch-profile takes three numbers: min,opt,max"));
        };
        let mut trt = TensorRtOptions::default()
            .fp16(self.trt_fp16)
            .int8(self.trt_int8, self.trt_calibration_table.clone())
            .batch_profile(BatchProfile { min, opt, max });
        if let Some(mb) = self.trt_workspace_mb {
            trt = trt.workspace_bytes(mb << 20);
        }
        if let Some(dir) = &self.trt_engine_cache {
            trt = trt.engine_cache_dir(dir);
        }
        if let Some(dir) = &self.trt_timing_cache {
            trt = trt.timing_cache_dir(dir);
        }
        if let Some(core) = self.dla_core {
            trt = trt.dla_core(core);
        }
        let provider = match kind {
            ProviderKind::Cpu => ExecutionProvider::Cpu,
            ProviderKind::Cuda => ExecutionProvider::Cuda { device_id: self.device },
            ProviderKind::TensorRt => {
                ExecutionProvider::TensorRt { device_id: self.device, options: trt }
            }
        };
        let mut options = options
            .backend(backend)
            .execution_provider(provider)
            .fallback(fallback)
            .cpu_kernels(cpu_kernels)
            .bf16_matmul(self.bf16_matmul)
            .widen_fp16(!self.keep_fp16);
        if let Some(lib) = &self.ort_lib {
            options = options.ort_library(lib);
        }
        Ok(options)
    }
}
