//! The tract backend: pure Rust, CPU, no runtime dependency.
//!
//! Loading keeps one *decluttered* typed model with a symbolic batch dimension; the first run
//! at a given batch size binds the symbol to that size and optimizes a concrete plan, which is
//! cached (a concrete batch lets tract fold BatchNorm and pick its fastest convolution kernels).
//! Batch 1 is prepared at load time so errors surface there and the first result is fast.
//!
//! Threads: tract runs an inference on the calling thread; matrix products and element-wise
//! kernels are split over a private rayon pool of `threads` workers owned by the classifier.

use super::onnx_inspect::{inspect, shape_string};
use super::onnx_rewrite::{split_gemm_bias, widen_float16};
use super::Backend;
use crate::error::{catch_panic, Error, ErrorCode, Result};
use crate::model_info::{DType, Dim, ModelInfo, Precision};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tract_linalg::multithread::{multithread_tract_scope, Executor};
use tract_onnx::pb;
use tract_onnx::prelude::*;

/// Largest batch the SDK accepts in one call.
pub const MAX_BATCH: usize = 256;

/// How the tract backend should treat float16 weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fp16Compute {
    /// Widen float16 weights and I/O to float32 at load (fast on every CPU; the default).
    WidenToF32,
    /// Run float16 natively (fast only on CPUs with fp16 arithmetic, e.g. ARMv8.2).
    Native,
}

/// Options the tract backend needs.
#[derive(Debug, Clone)]
pub struct TractOptions {
    /// Worker threads for one inference (>= 1).
    pub threads: usize,
    /// Float16 handling.
    pub fp16: Fp16Compute,
    /// Input height and width to use when the model declares them symbolically.
    pub fallback_side: u32,
}

type Plan = Arc<TypedRunnableModel>;

/// A model loaded by tract.
pub struct TractBackend {
    model: TypedModel,
    batch: Symbol,
    plans: Mutex<HashMap<usize, Plan>>,
    executor: Executor,
    input_is_f16: bool,
    info: ModelInfo,
}

fn decode_error(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::ModelDecode, format!("decoding the ONNX protobuf: {e}"))
}

fn engine_error(stage: &str, e: TractError) -> Error {
    let detail = format!("{e:#}");
    let code = if stage == "running" { ErrorCode::Inference } else { ErrorCode::ModelUnsupported };
    Error::new(code, format!("tract failed while {stage} the model: {detail}"))
}

impl TractBackend {
    /// Decodes ONNX bytes (a protobuf `ModelProto`).
    pub fn decode(bytes: &[u8]) -> Result<pb::ModelProto> {
        if bytes.is_empty() {
            return Err(Error::new(ErrorCode::ModelDecode, "the model is empty (0 bytes)"));
        }
        catch_panic(|| {
            tract_onnx::onnx()
                .proto_model_for_read(&mut std::io::Cursor::new(bytes))
                .map_err(decode_error)
        })
    }

    /// Loads a decoded model: inspects it, types and declutters it, prepares batch 1.
    /// `model_dir` is where external tensor data files are looked up (models over 2 GB).
    pub fn load(
        proto: pb::ModelProto,
        model_dir: Option<&str>,
        model_bytes: u64,
        options: &TractOptions,
    ) -> Result<Self> {
        catch_panic(|| Self::load_inner(proto, model_dir, model_bytes, options))
    }

    fn load_inner(
        mut proto: pb::ModelProto,
        model_dir: Option<&str>,
        model_bytes: u64,
        options: &TractOptions,
    ) -> Result<Self> {
        let inspection = inspect(&proto)?;
        let fp16 = inspection.precision == Precision::Fp16;
        let mut widened = false;
        if fp16 && options.fp16 == Fp16Compute::WidenToF32 {
            widened = widen_float16(&mut proto);
            if !widened {
                log::warn!("float16 weights in external files are not widened; running float16");
            }
        }
        if fp16 && !widened {
            split_gemm_bias(&mut proto);
        }
        let onnx = tract_onnx::onnx().with_ignore_value_info(true).with_ignore_output_shapes(true);
        let parsed = onnx.parse(&proto, model_dir).map_err(|e| engine_error("parsing", e))?;
        if !parsed.unresolved_inputs.is_empty() {
            return Err(Error::new(
                ErrorCode::ModelUnsupported,
                format!("the graph uses undefined tensors: {:?}", parsed.unresolved_inputs),
            ));
        }
        let mut model = parsed.model;
        drop(proto);

        let side = |d: &Dim| match d {
            Dim::Fixed(n) => *n as u32,
            Dim::Symbolic(_) => options.fallback_side,
        };
        let (height, width) = (side(&inspection.input.shape[2]), side(&inspection.input.shape[3]));
        let batch = model.symbols.sym("resnext_batch");
        let input_is_f16 = inspection.input.dtype == DType::F16 && !widened;
        let dt = if input_is_f16 { f16::datum_type() } else { f32::datum_type() };
        let shape: TVec<TDim> =
            tvec![batch.clone().into(), 3.into(), (height as i64).into(), (width as i64).into()];
        model
            .set_input_fact(0, InferenceFact::dt_shape(dt, shape))
            .map_err(|e| engine_error("typing", e))?;
        let typed = model.into_typed().map_err(|e| engine_error("typing", e))?;
        let compute = match inspection.precision {
            Precision::Fp16 if widened => "f32 (float16 weights widened at load)",
            Precision::Fp16 => "f16",
            Precision::Int8 => "f32 (QDQ graph run as float with quantize/dequantize steps)",
            Precision::Fp32 => "f32",
        }
        .to_string();
        let typed = typed.into_decluttered().map_err(|e| engine_error("decluttering", e))?;

        let output_fact = typed.output_fact(0).map_err(|e| engine_error("typing", e))?.clone();
        let out_shape = output_fact.shape.to_tvec();
        let classes = match out_shape.as_slice() {
            [n, c] if *n == TDim::from(batch.clone()) => c.to_i64().ok().filter(|c| *c > 0),
            _ => None,
        };
        let Some(classes) = classes else {
            return Err(Error::new(
                ErrorCode::ModelUnsupported,
                format!(
                    "output '{}' has shape [{}]; a classifier outputs N x C (one row of class \
                     scores per image)",
                    inspection.output.name,
                    out_shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
                ),
            ));
        };
        let mut output = inspection.output.clone();
        if output.shape.is_empty() {
            output.shape = vec![Dim::Symbolic("N".into()), Dim::Fixed(classes as u64)];
        }
        let threads = options.threads.max(1);
        let executor =
            if threads > 1 { Executor::multithread(threads) } else { Executor::SingleThread };
        let info = ModelInfo {
            input: inspection.input.clone(),
            output,
            height,
            width,
            classes: classes as usize,
            precision: inspection.precision,
            output_kind: inspection.output_kind,
            parameters: inspection.parameters,
            model_bytes,
            producer: inspection.producer.clone(),
            backend: "tract".into(),
            provider: "cpu".into(),
            compute,
            threads,
        };
        log::debug!(
            "tract: loaded {} input {} ({}), {} classes, {}",
            info.precision.name(),
            shape_string(&info.input.shape),
            info.input.dtype,
            info.classes,
            info.compute
        );
        let backend = TractBackend {
            model: typed,
            batch,
            plans: Mutex::new(HashMap::new()),
            executor,
            input_is_f16,
            info,
        };
        backend.plan(1)?;
        Ok(backend)
    }

    /// The optimized plan for `batch` images, built on first use and cached.
    fn plan(&self, batch: usize) -> Result<Plan> {
        let mut plans = self.plans.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(plan) = plans.get(&batch) {
            return Ok(plan.clone());
        }
        let started = std::time::Instant::now();
        let mut values = HashMap::new();
        values.insert(self.batch.clone(), TDim::from(batch as i64));
        let plan = self
            .model
            .set_symbols(&values)
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| engine_error("optimizing", e))?;
        log::debug!("tract: optimized a plan for batch {batch} in {:?}", started.elapsed());
        plans.insert(batch, plan.clone());
        Ok(plan)
    }

    fn run_inner(&self, input: &[f32], batch: usize) -> Result<Vec<f32>> {
        let (h, w) = (self.info.height as usize, self.info.width as usize);
        let expected = batch * 3 * h * w;
        if batch == 0 || batch > MAX_BATCH {
            return Err(Error::new(
                ErrorCode::LimitExceeded,
                format!("batch size must be between 1 and {MAX_BATCH}, got {batch}"),
            ));
        }
        if input.len() != expected {
            return Err(Error::invalid(format!(
                "input tensor has {} values; {batch} x 3 x {h} x {w} needs {expected}",
                input.len()
            )));
        }
        let plan = self.plan(batch)?;
        let shape = [batch, 3, h, w];
        let tensor = if self.input_is_f16 {
            let halves: Vec<f16> = input.iter().map(|&x| f16::from_f32(x)).collect();
            Tensor::from_shape(&shape, &halves)
        } else {
            Tensor::from_shape(&shape, input)
        }
        .map_err(|e| engine_error("running", e))?;
        let outputs = multithread_tract_scope(self.executor.clone(), || {
            plan.run(tvec![tensor.into_tvalue()])
        })
        .map_err(|e| engine_error("running", e))?;
        let output = outputs[0].cast_to::<f32>().map_err(|e| engine_error("running", e))?;
        let view = output.to_plain_array_view::<f32>().map_err(|e| engine_error("running", e))?;
        let scores: Vec<f32> = view.iter().copied().collect();
        if scores.len() != batch * self.info.classes {
            return Err(Error::new(
                ErrorCode::Inference,
                format!(
                    "the model returned {} scores for {batch} images of {} classes",
                    scores.len(),
                    self.info.classes
                ),
            ));
        }
        Ok(scores)
    }
}

impl Backend for TractBackend {
    fn run(&self, input: &[f32], batch: usize) -> Result<Vec<f32>> {
        catch_panic(|| self.run_inner(input, batch))
    }

    fn info(&self) -> &ModelInfo {
        &self.info
    }
}
