//! The ONNX Runtime session: CPU, CUDA and TensorRT execution providers.
//!
//! The runtime library is loaded at run time ([`runtime`]); the session is created with the
//! provider the caller chose and the fallback policy the caller set ([`FallbackPolicy`]);
//! TensorRT engines are cached under keyed, verified directories ([`engine_cache`]). Everything
//! around inference (ONNX inspection, preprocessing, softmax, top-k, labels, errors) is shared
//! with the tract backend: this module only turns an NCHW batch into scores.
//!
//! Threads: ONNX Runtime's `Session::run` is called under a mutex (the `ort` crate requires
//! exclusive access), so concurrent callers of one classifier take turns; each run uses
//! `threads` intra-op threads on the CPU provider.

use super::execution::{
    ExecutionProvider, FallbackPolicy, OrtOptions, ProviderKind, TensorRtOptions,
};
use super::{engine_cache, gpu_probe, runtime};
use crate::backend::Backend;
use crate::error::{catch_panic, Error, ErrorCode, Result};
use crate::model_info::{DType, Dim, ModelInfo, Precision};
use crate::onnx::inspect::{inspect, Inspection};
use engine_cache::{CacheKey, CacheState, PreparedCache};
use half::f16;
use ort::ep;
use ort::session::Session;
use ort::value::{Tensor, TensorRef};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;
use tract_onnx::prelude::Framework as _;

/// What the ONNX Runtime backend needs from the classifier options.
#[derive(Debug, Clone)]
pub struct OrtBackendOptions<'a> {
    /// Runtime library, provider and fallback.
    pub ort: &'a OrtOptions,
    /// Intra-op threads of the CPU provider (>= 1).
    pub threads: usize,
    /// Input height and width to use when the model declares them symbolically.
    pub fallback_side: u32,
    /// The model's file path when it came from a file (for log messages only).
    pub model_name: &'a str,
}

/// A model loaded into an ONNX Runtime session.
pub struct OrtBackend {
    session: Mutex<Session>,
    input_name: String,
    input_is_f16: bool,
    max_batch: Option<usize>,
    info: ModelInfo,
}

fn ort_error(context: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::Inference, format!("ONNX Runtime failed while {context}: {e}"))
}

/// Why one provider could not be used (kept as text: it goes into a warning or an error).
type ProviderFailure = String;

impl OrtBackend {
    /// Loads `bytes` (a complete ONNX file) into a session on the chosen provider.
    pub fn load(bytes: &[u8], model_bytes: u64, options: &OrtBackendOptions<'_>) -> Result<Self> {
        catch_panic(|| Self::load_inner(bytes, model_bytes, options))
    }

    fn load_inner(bytes: &[u8], model_bytes: u64, options: &OrtBackendOptions<'_>) -> Result<Self> {
        if bytes.is_empty() {
            return Err(Error::new(ErrorCode::ModelDecode, "the model is empty (0 bytes)"));
        }
        let proto =
            tract_onnx::onnx().proto_model_for_read(&mut std::io::Cursor::new(bytes)).map_err(
                |e| Error::new(ErrorCode::ModelDecode, format!("decoding the ONNX protobuf: {e}")),
            )?;
        let inspection = inspect(&proto)?;
        drop(proto);
        let side = |d: &Dim| match d {
            Dim::Fixed(n) => *n as u32,
            Dim::Symbolic(_) => options.fallback_side,
        };
        let (height, width) = (side(&inspection.input.shape[2]), side(&inspection.input.shape[3]));
        let dynamic_batch = matches!(inspection.input.shape[0], Dim::Symbolic(_));
        let rt = runtime::load(options.ort.library_path.as_deref())?;
        let shape = Shape {
            input: &inspection.input.name,
            height,
            width,
            dynamic_batch,
            f16: inspection.input.dtype == DType::F16,
        };

        let chain = match options.ort.fallback {
            FallbackPolicy::Fail => vec![options.ort.provider.clone()],
            FallbackPolicy::NextProvider => options.ort.provider.fallback_chain(),
        };
        let mut failures: Vec<(String, ProviderFailure)> = Vec::new();
        for (i, provider) in chain.iter().enumerate() {
            let last = i + 1 == chain.len();
            match open_on(provider, bytes, &rt, &shape, options) {
                Ok(opened) => {
                    let classes = opened.classes;
                    let requested = options.ort.provider.describe();
                    if !failures.is_empty() {
                        log::warn!(
                            "ONNX Runtime: {requested} was requested, running on {} instead",
                            provider.describe()
                        );
                    }
                    let info = model_info(
                        &inspection,
                        (height, width, classes),
                        model_bytes,
                        provider,
                        &rt.version,
                        options.threads,
                    );
                    return Ok(OrtBackend {
                        session: Mutex::new(opened.session),
                        input_name: inspection.input.name.clone(),
                        input_is_f16: inspection.input.dtype == DType::F16,
                        max_batch: opened.max_batch,
                        info,
                    });
                }
                Err(Failure::Model(e)) => return Err(e),
                Err(Failure::Provider(reason)) if provider.kind() == ProviderKind::Cpu || last => {
                    // The CPU provider cannot be "unavailable": its failure is the model's.
                    if provider.kind() == ProviderKind::Cpu {
                        return Err(Error::new(ErrorCode::ModelUnsupported, reason));
                    }
                    failures.push((provider.describe(), reason));
                }
                Err(Failure::Provider(reason)) => {
                    log::warn!(
                        "ONNX Runtime: {} cannot be used ({reason}); falling back to {}",
                        provider.describe(),
                        chain[i + 1].describe()
                    );
                    failures.push((provider.describe(), reason));
                }
            }
        }
        let detail: Vec<String> = failures.iter().map(|(p, r)| format!("{p}: {r}")).collect();
        Err(Error::new(
            ErrorCode::ProviderUnavailable,
            format!(
                "{} ({}); the fallback policy is 'fail' — set it to 'next provider' to run on the \
                 next available provider instead",
                detail.join("; "),
                options.model_name
            ),
        ))
    }
}

/// The image input's name and size, for TensorRT's optimization profile and the warm-up run.
struct Shape<'a> {
    input: &'a str,
    height: u32,
    width: u32,
    dynamic_batch: bool,
    f16: bool,
}

impl Shape<'_> {
    fn profile(&self, batch: u32) -> String {
        format!("{}:{batch}x3x{}x{}", self.input, self.height, self.width)
    }
}

enum Failure {
    /// The provider could not be used; the next one may work.
    Provider(ProviderFailure),
    /// The model itself is at fault; no provider will help.
    Model(Error),
}

struct Opened {
    session: Session,
    classes: usize,
    max_batch: Option<usize>,
}

/// Creates a session on `provider` and runs batch 1 once (which builds TensorRT engines now
/// rather than on the caller's first image, and tells the class count).
fn open_on(
    provider: &ExecutionProvider,
    bytes: &[u8],
    rt: &runtime::Runtime,
    shape: &Shape<'_>,
    options: &OrtBackendOptions<'_>,
) -> std::result::Result<Opened, Failure> {
    // Refuse a provider the runtime lacks before hashing the model for the engine cache.
    match provider {
        ExecutionProvider::Cpu => {}
        ExecutionProvider::Cuda { .. } => require_available::<ep::CUDA>("CUDA", &rt.version)?,
        ExecutionProvider::TensorRt { .. } => {
            require_available::<ep::TensorRT>("TensorRT", &rt.version)?
        }
    }
    let cache = match provider {
        ExecutionProvider::TensorRt { device_id, options: trt } => match &trt.engine_cache_dir {
            Some(root) => Some(
                prepare_engine_cache(root, bytes, rt, *device_id, trt, shape)
                    .map_err(Failure::Model)?,
            ),
            None => None,
        },
        _ => None,
    };
    let building = matches!(provider, ExecutionProvider::TensorRt { .. })
        && cache.as_ref().is_none_or(|(c, _)| c.state != CacheState::Valid);
    if building {
        log::info!(
            "ONNX Runtime: building the TensorRT engine for {} ({}); this takes minutes the \
             first time{}",
            options.model_name,
            provider.describe(),
            match &cache {
                Some((c, _)) => format!(", the engine is then cached in {}", c.dir.display()),
                None => ", and every load (no engine cache directory is set)".to_string(),
            }
        );
    }
    let started = Instant::now();
    let mut result = create_and_warm(provider, bytes, rt, shape, options, cache.as_ref());
    if let (Err(Failure::Provider(reason)), Some((c, _))) = (&result, &cache) {
        if c.state == CacheState::Valid {
            // A cached engine that verified but still failed to load (e.g. a driver upgrade
            // TensorRT refuses): discard it and build once more.
            log::warn!(
                "ONNX Runtime: the cached TensorRT engine in {} failed to load ({reason}); \
                 rebuilding it",
                c.dir.display()
            );
            engine_cache::clear(&c.dir).map_err(Failure::Model)?;
            result = create_and_warm(provider, bytes, rt, shape, options, cache.as_ref());
        }
    }
    let opened = result?;
    if let Some((c, key)) = &cache {
        if c.state != CacheState::Valid {
            let files = engine_cache::seal(&c.dir, key).map_err(Failure::Model)?;
            log::info!(
                "ONNX Runtime: TensorRT engine built in {:.1} s; {files} file(s) cached in {}",
                started.elapsed().as_secs_f64(),
                c.dir.display()
            );
        }
    } else if building {
        log::info!(
            "ONNX Runtime: TensorRT engine built in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(opened)
}

fn prepare_engine_cache(
    root: &Path,
    bytes: &[u8],
    rt: &runtime::Runtime,
    device_id: u32,
    trt: &TensorRtOptions,
    shape: &Shape<'_>,
) -> Result<(PreparedCache, CacheKey)> {
    let b = trt.batch_profile;
    let key = CacheKey {
        model_sha256: engine_cache::sha256_hex(bytes),
        ort_version: rt.build_info.clone(),
        tensorrt_version: gpu_probe::tensorrt_version().unwrap_or_else(|| "unknown".into()),
        device: gpu_probe::cuda_device(device_id)
            .unwrap_or_else(|| format!("{device_id}: unknown")),
        precision: format!(
            "{} calibration={} dla={} batch={}/{}/{} input={}x{}",
            trt.precision_name(),
            trt.int8_calibration_table.as_deref().unwrap_or("-"),
            trt.dla_core.map_or("-".to_string(), |c| c.to_string()),
            b.min,
            b.opt,
            b.max,
            shape.height,
            shape.width
        ),
    };
    let prepared = engine_cache::prepare(root, &key)?;
    Ok((prepared, key))
}

fn create_and_warm(
    provider: &ExecutionProvider,
    bytes: &[u8],
    rt: &runtime::Runtime,
    shape: &Shape<'_>,
    options: &OrtBackendOptions<'_>,
    cache: Option<&(PreparedCache, CacheKey)>,
) -> std::result::Result<Opened, Failure> {
    let is_gpu = !matches!(provider, ExecutionProvider::Cpu);
    // Errors before and during session creation on a GPU provider are the provider's; on the
    // CPU they are the model's.
    let classify = |context: &str, e: &dyn std::fmt::Display| {
        let text = format!("{context}: {e}");
        if is_gpu {
            Failure::Provider(text)
        } else {
            Failure::Model(Error::new(ErrorCode::ModelUnsupported, format!("ONNX Runtime {text}")))
        }
    };
    let builder = Session::builder(&rt.environment)
        .map_err(|e| Failure::Model(ort_error("creating a session builder", e)))?;
    let builder = builder
        .with_intra_threads(options.threads.max(1))
        .map_err(|e| Failure::Model(ort_error("setting threads", e)))?;
    let mut max_batch = None;
    let mut builder = match provider {
        ExecutionProvider::Cpu => builder,
        ExecutionProvider::Cuda { device_id } => {
            let cuda = ep::CUDA::default().with_device_id(*device_id as i32);
            builder
                .with_execution_providers([cuda.build().error_on_failure()])
                .map_err(|e| classify("registering CUDA", &e))?
        }
        ExecutionProvider::TensorRt { device_id, options: trt } => {
            if !trt.batch_profile.is_valid() {
                return Err(Failure::Model(Error::invalid(format!(
                    "the TensorRT batch profile {:?} needs 1 <= min <= opt <= max",
                    trt.batch_profile
                ))));
            }
            let mut t = ep::TensorRT::default()
                .with_device_id(*device_id as i32)
                .with_fp16(trt.fp16)
                .with_int8(trt.int8);
            if let Some(table) = &trt.int8_calibration_table {
                t = t.with_int8_calibration_table_name(table);
            }
            if let Some(bytes) = trt.workspace_bytes {
                t = t.with_max_workspace_size(bytes as usize);
            }
            if let Some((c, _)) = cache {
                t = t.with_engine_cache(true).with_engine_cache_path(c.dir.display());
            }
            if let Some(dir) = &trt.timing_cache_dir {
                std::fs::create_dir_all(dir).map_err(|e| {
                    Failure::Model(Error::new(
                        ErrorCode::Io,
                        format!("creating the timing cache {}: {e}", dir.display()),
                    ))
                })?;
                t = t.with_timing_cache(true).with_timing_cache_path(dir.display());
            }
            if let Some(core) = trt.dla_core {
                t = t.with_dla(true).with_dla_core(core);
            }
            if shape.dynamic_batch {
                let b = trt.batch_profile;
                t = t
                    .with_profile_min_shapes(shape.profile(b.min))
                    .with_profile_opt_shapes(shape.profile(b.opt))
                    .with_profile_max_shapes(shape.profile(b.max));
                max_batch = Some(b.max as usize);
            }
            // CUDA runs whatever TensorRT cannot (registered second, so it gets the rest).
            let cuda = ep::CUDA::default().with_device_id(*device_id as i32);
            builder
                .with_execution_providers([t.build().error_on_failure(), cuda.build()])
                .map_err(|e| classify("registering TensorRT", &e))?
        }
    };
    let mut session =
        builder.commit_from_memory(bytes).map_err(|e| classify("loading the model", &e))?;
    let warm = vec![0f32; 3 * shape.height as usize * shape.width as usize];
    let scores = run_session(&mut session, &warm, 1, shape, None).map_err(|e| {
        if is_gpu {
            Failure::Provider(e.to_string())
        } else {
            Failure::Model(e)
        }
    })?;
    Ok(Opened { session, classes: scores.len(), max_batch })
}

/// Refuses a provider the loaded runtime was built without, naming the fix.
fn require_available<E: ep::ExecutionProvider>(
    name: &str,
    version: &str,
) -> std::result::Result<(), Failure> {
    match E::is_available() {
        Ok(true) => Ok(()),
        Ok(false) => Err(Failure::Provider(format!(
            "the loaded ONNX Runtime {version} was built without the {name} execution provider \
             (a CPU-only build; use the GPU build, e.g. the onnxruntime-gpu wheel's library)"
        ))),
        Err(e) => Err(Failure::Provider(format!("querying ONNX Runtime's providers: {e}"))),
    }
}

fn model_info(
    inspection: &Inspection,
    (height, width, classes): (u32, u32, usize),
    model_bytes: u64,
    provider: &ExecutionProvider,
    version: &str,
    threads: usize,
) -> ModelInfo {
    let weights = match inspection.precision {
        Precision::Fp32 => "fp32",
        Precision::Fp16 => "fp16",
        Precision::Int8 => "int8 (QDQ)",
    };
    let compute = match provider {
        ExecutionProvider::Cpu => format!("{weights} on ONNX Runtime {version} CPU"),
        ExecutionProvider::Cuda { .. } => format!("{weights} on ONNX Runtime {version} CUDA"),
        ExecutionProvider::TensorRt { options, .. } => format!(
            "{weights} weights, TensorRT {} kernels (ONNX Runtime {version})",
            options.precision_name()
        ),
    };
    let mut output = inspection.output.clone();
    if output.shape.is_empty() {
        output.shape = vec![Dim::Symbolic("N".into()), Dim::Fixed(classes as u64)];
    }
    ModelInfo {
        input: inspection.input.clone(),
        output,
        height,
        width,
        classes,
        precision: inspection.precision,
        output_kind: inspection.output_kind,
        parameters: inspection.parameters,
        model_bytes,
        producer: inspection.producer.clone(),
        backend: "ort".into(),
        provider: provider.describe(),
        compute,
        threads: if matches!(provider, ExecutionProvider::Cpu) { threads.max(1) } else { 1 },
    }
}

/// Runs `batch` images through the session and returns `batch * classes` float32 scores.
/// `classes` is checked when known.
fn run_session(
    session: &mut Session,
    input: &[f32],
    batch: usize,
    shape: &Shape<'_>,
    classes: Option<usize>,
) -> Result<Vec<f32>> {
    let dims = [batch, 3, shape.height as usize, shape.width as usize];
    let outputs = if shape.f16 {
        let half: Vec<f16> = input.iter().map(|&v| f16::from_f32(v)).collect();
        let tensor =
            Tensor::from_array((dims, half)).map_err(|e| ort_error("creating the input", e))?;
        session.run(ort::inputs![shape.input => tensor]).map_err(|e| ort_error("running", e))?
    } else {
        let tensor = TensorRef::from_array_view((dims, input))
            .map_err(|e| ort_error("creating the input", e))?;
        session.run(ort::inputs![shape.input => tensor]).map_err(|e| ort_error("running", e))?
    };
    let value = &outputs[0];
    let (out_shape, scores): (Vec<i64>, Vec<f32>) = match value.try_extract_tensor::<f32>() {
        Ok((s, data)) => (s.to_vec(), data.to_vec()),
        Err(_) => {
            let (s, data) = value
                .try_extract_tensor::<f16>()
                .map_err(|e| ort_error("reading the output", e))?;
            (s.to_vec(), data.iter().map(|v| v.to_f32()).collect())
        }
    };
    let per_image = scores.len() / batch.max(1);
    let well_formed = out_shape.len() == 2
        && out_shape[0] == batch as i64
        && per_image > 0
        && classes.is_none_or(|c| c == per_image);
    if !well_formed {
        return Err(Error::new(
            ErrorCode::ModelUnsupported,
            format!(
                "the output has shape {out_shape:?}; a classifier outputs N x C (one row of class \
                 scores per image)"
            ),
        ));
    }
    Ok(scores)
}

impl Backend for OrtBackend {
    fn run(&self, input: &[f32], batch: usize) -> Result<Vec<f32>> {
        if let Some(max) = self.max_batch {
            if batch > max {
                return Err(Error::new(
                    ErrorCode::LimitExceeded,
                    format!(
                        "the TensorRT engine's batch profile allows at most {max} images a call \
                         ({batch} given); raise BatchProfile::max"
                    ),
                ));
            }
        }
        let shape = Shape {
            input: &self.input_name,
            height: self.info.height,
            width: self.info.width,
            dynamic_batch: true,
            f16: self.input_is_f16,
        };
        catch_panic(|| {
            let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
            run_session(&mut session, input, batch, &shape, Some(self.info.classes))
        })
    }

    fn info(&self) -> &ModelInfo {
        &self.info
    }
}
