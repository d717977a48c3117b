//! The tract backend: pure Rust, CPU, no runtime dependency.
//!
//! Loading types and declutters the model with a symbolic batch dimension, binds the batch to
//! 1 and optimizes a concrete plan (a concrete batch lets tract fold BatchNorm and pick its
//! fastest convolution kernels). Batch 1 is prepared at load time so errors surface there and
//! the first result is fast.
//!
//! Batches run image by image on that one batch-1 plan, split over the classifier's threads:
//! with `threads` workers each worker runs whole images single-threaded, which scales almost
//! linearly, where tract's own multithreading (splitting each matrix product) gains little on
//! ResNeXt's small grouped products, and where tract's concrete batch-8 plan is slower per
//! image than its batch-1 plan. One plan also means one copy of the packed weights instead of
//! one per batch size, and the decluttered model is dropped after load.
//!
//! A single image (or one image per worker left) runs its plan on the calling thread with its
//! operators' work split: the kernel layer's parallel sections over the classifier's team
//! (`team`: `threads - 1` helpers that spin briefly between sections), tract's own matrix
//! products over a private rayon pool of `threads` workers; both are owned by the classifier.

pub mod heap_trim;
pub mod kernel_layer;
pub mod softmax_input;
mod team;

use crate::backend::Backend;
use crate::error::{catch_panic, Error, ErrorCode, Result};
use crate::kernels::bgemm::BIsa;
use crate::kernels::fgemm::FIsa;
use crate::model_info::{DType, Dim, ModelInfo, Precision};
use crate::onnx::inspect::{inspect, shape_string};
use crate::onnx::rewrite::{
    fold_constant_dequantize, split_gemm_bias, widen_float16, widen_float16_except,
};
use crate::onnx::DecodedModel;
use crate::options::{ClassifierOptions, CpuKernels, ModelSource};
use heap_trim::{declutter, release_freed_memory, trimming};
use kernel_layer::{place_f32_layer, place_kernel_layer};
use softmax_input::dequantize_softmax_inputs;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use team::Team;
use tract_core::optim::Optimizer;
use tract_linalg::multithread::{multithread_tract_scope, Executor};
use tract_onnx::pb;
use tract_onnx::prelude::*;

pub use crate::backend::MAX_BATCH;

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
    /// Run the float kernel layer's convolutions in bf16 on AMX or AVX512-BF16 where the CPU
    /// has one (see [`ClassifierOptions::bf16_matmul`]).
    pub bf16_matmul: bool,
    /// Input height and width to use when the model declares them symbolically.
    pub fallback_side: u32,
    /// The crate's own kernels for the convolutions of INT8 QDQ models.
    pub cpu_kernels: CpuKernels,
}

impl TractOptions {
    /// The tract settings of a classifier's options.
    pub fn from_options(options: &ClassifierOptions) -> Self {
        TractOptions {
            threads: options.effective_threads(),
            fp16: if options.widen_fp16 { Fp16Compute::WidenToF32 } else { Fp16Compute::Native },
            fallback_side: options.preprocess.crop,
            bf16_matmul: options.bf16_matmul,
            cpu_kernels: options.cpu_kernels,
        }
    }
}

type Plan = Arc<TypedRunnableModel>;

/// The classifier's private rayon pool for tract's multithreaded matrix products, whose threads
/// are spawned here (not by rayon) so that dropping the pool joins them: freeing a classifier
/// (a Rust drop, `resnext_classifier_free`, Java `close()`, a C++ destructor) returns once its
/// worker threads have exited, and none outlives it.
struct WorkerPool {
    /// `Executor::MultiThread` over the pool, or `SingleThread` for one thread.
    executor: Executor,
    /// The pool's threads, joined on drop.
    threads: Arc<Mutex<Vec<std::thread::JoinHandle<()>>>>,
}

impl WorkerPool {
    /// A pool of `threads` workers named `resnext-tract-<i>` (no pool for one thread).
    fn new(threads: usize) -> Result<WorkerPool> {
        let handles = Arc::new(Mutex::new(Vec::with_capacity(threads)));
        if threads <= 1 {
            return Ok(WorkerPool { executor: Executor::SingleThread, threads: handles });
        }
        let spawned = handles.clone();
        let built = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("resnext-tract-{i}"))
            .spawn_handler(move |worker| {
                let mut builder = std::thread::Builder::new();
                if let Some(name) = worker.name() {
                    builder = builder.name(name.to_string());
                }
                if let Some(size) = worker.stack_size() {
                    builder = builder.stack_size(size);
                }
                let handle = builder.spawn(move || worker.run())?;
                spawned.lock().unwrap_or_else(|p| p.into_inner()).push(handle);
                Ok(())
            })
            .build();
        match built {
            Ok(pool) => {
                Ok(WorkerPool { executor: Executor::MultiThread(Arc::new(pool)), threads: handles })
            }
            Err(e) => {
                // rayon has told the threads it did start to exit.
                join_all(&handles);
                Err(Error::new(
                    ErrorCode::Inference,
                    format!("starting {threads} tract worker threads: {e}"),
                ))
            }
        }
    }
}

/// `multithread_tract_scope` made safe against a panic in `f`. tract-linalg restores the
/// thread's previous executor only when `f` returns: a panic unwinding through it (tract's
/// Gather on an out-of-range index, say) would leave this classifier's pool installed on the
/// calling thread, so `Drop for WorkerPool` could never join its threads (they leaked with
/// every such call) and later tract work on that thread would run on a freed classifier's
/// pool. The panic is caught inside the scope and resumed once the executor is restored.
fn in_pool<R>(executor: Executor, f: impl FnOnce() -> R) -> R {
    let caught = multithread_tract_scope(executor, || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
    });
    caught.unwrap_or_else(|payload| std::panic::resume_unwind(payload))
}

fn join_all(handles: &Mutex<Vec<std::thread::JoinHandle<()>>>) {
    let handles = std::mem::take(&mut *handles.lock().unwrap_or_else(|p| p.into_inner()));
    for handle in handles {
        let _ = handle.join();
    }
    // Each worker registered with crossbeam-epoch's global collector (rayon's deques use it);
    // an exited worker's registration is freed by a later collection. Run a few now, so that
    // none is left pending (valgrind's "possibly lost") when the process exits right after.
    for _ in 0..4 {
        crossbeam_epoch::pin().flush();
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        let Executor::MultiThread(pool) = std::mem::take(&mut self.executor) else {
            return;
        };
        match Arc::try_unwrap(pool) {
            // A worker cannot join itself (it cannot drop the classifier either: no job does).
            Ok(pool) if pool.current_thread_index().is_some() => {
                log::warn!("tract worker pool freed from its own worker: not joining its threads");
                return;
            }
            // Dropping the pool tells its workers to exit; then wait until they have.
            Ok(pool) => drop(pool),
            Err(_still_shared) => {
                // A run still holds the pool (it cannot, with the classifier being dropped):
                // joining would wait for it, so the threads exit on their own once it ends.
                log::warn!("tract worker pool still in use while freed: not joining its threads");
                return;
            }
        }
        join_all(&self.threads);
    }
}

/// A model loaded by tract.
pub struct TractBackend {
    /// The batch-1 plan every batch runs on.
    plan: Plan,
    /// Declared after `plans` so the plans go first; its drop joins the worker threads.
    pool: WorkerPool,
    /// The helpers that share a single image's kernel-layer sections with the thread running
    /// its plan; joined on drop.
    team: Team,
    threads: usize,
    input_is_f16: bool,
    info: ModelInfo,
}

/// The bf16 kernel the bf16 mode runs on for this model, CPU and options, or why it cannot
/// run. It runs on the float kernel layer (AVX-512F, `cpu_kernels` not off or scalar) of a
/// float model, on AMX-BF16 (with Linux's tile permission), else on AVX512-BF16.
fn bf16_kernel(float: bool, f32_isa: Option<FIsa>) -> Result<BIsa, &'static str> {
    // Either bf16 kernel implies AVX-512F: without one, `f32_isa` is not AVX-512 because of
    // the CPU, not of `cpu_kernels`.
    match BIsa::best() {
        _ if !float => Err("bf16 applies to float32 and float16 models"),
        None => Err("this CPU has neither AMX-BF16 (with Linux's tile permission) nor AVX512-BF16"),
        Some(_) if f32_isa.is_none() => Err("cpu_kernels turns the float kernel layer off"),
        Some(_) if f32_isa != Some(FIsa::Avx512) => {
            Err("cpu_kernels selects float kernels without the AVX-512 the bf16 kernels need")
        }
        Some(isa) => Ok(isa),
    }
}

fn engine_error(stage: &str, e: TractError) -> Error {
    let detail = format!("{e:#}");
    let code = if stage == "running" { ErrorCode::Inference } else { ErrorCode::ModelUnsupported };
    Error::new(code, format!("tract failed while {stage} the model: {detail}"))
}

/// The runnable plan of `model` with its batch symbol bound to `batch` images. The model is
/// taken by value, so the decluttered weights are released while the optimizer packs them
/// (only the packed copy stays).
fn optimized_plan(model: TypedModel, batch_symbol: &Symbol, batch: usize) -> Result<Plan> {
    let started = std::time::Instant::now();
    let values = HashMap::from([(batch_symbol.clone(), TDim::from(batch as i64))]);
    let concrete = model.set_symbols(&values);
    drop(model);
    let plan = concrete
        .and_then(|mut m| {
            declutter(&mut m)?;
            m.optimize_with_session(&mut trimming(Optimizer::codegen()).session())?;
            m.into_runnable()
        })
        .map_err(|e| engine_error("optimizing", e))?;
    log::debug!("tract: optimized a plan for batch {batch} in {:?}", started.elapsed());
    Ok(plan)
}

/// Reads every streamed initializer of `proto` back from the model file (in `model_dir`),
/// except those named in `keep`: the float16 tensors to widen at load. A streamed FP16 model
/// is then widened like a decoded one, with only the `keep` tensors left to tract's reader.
fn read_back_except(
    proto: &mut pb::ModelProto,
    model_dir: Option<&str>,
    keep: &HashSet<String>,
) -> Result<()> {
    let Some(graph) = proto.graph.as_mut() else { return Ok(()) };
    let dir = model_dir.unwrap_or(".");
    for t in graph.initializer.iter_mut().filter(|t| !keep.contains(&t.name)) {
        crate::onnx::stream::read_back(t, dir)?;
    }
    Ok(())
}

impl TractBackend {
    /// Reads the model (see [`crate::onnx::read_decoded`]: FP32 files have their weights
    /// streamed from the file, and so do FP16 files whose convolutions the float kernel layer
    /// takes in float16) and loads it.
    pub fn open(
        source: &ModelSource,
        max_model_bytes: u64,
        options: &TractOptions,
    ) -> Result<Self> {
        // Streaming an FP16 file pays only when most of its weights stay float16 (then tract
        // reads them from the file one at a time, and only the rest is read back to widen).
        let f32_layer = kernel_layer::select_f32(options.cpu_kernels).ok().flatten().is_some();
        let stream_fp16 = options.fp16 == Fp16Compute::WidenToF32 && f32_layer;
        let started = std::time::Instant::now();
        let DecodedModel { proto, model_dir, file_bytes, streamed } =
            crate::onnx::read_decoded(source, max_model_bytes, true, stream_fp16)?;
        log::debug!("tract: model read and decoded in {:?}", started.elapsed());
        catch_panic(|| Self::load_inner(proto, model_dir.as_deref(), file_bytes, streamed, options))
    }

    /// Loads a decoded model: inspects it, types and declutters it, prepares batch 1.
    /// `model_dir` is where external tensor data files are looked up (models over 2 GB).
    pub fn load(
        proto: pb::ModelProto,
        model_dir: Option<&str>,
        model_bytes: u64,
        options: &TractOptions,
    ) -> Result<Self> {
        catch_panic(|| Self::load_inner(proto, model_dir, model_bytes, false, options))
    }

    /// `streamed`: the initializers' data is still in the model file (in `model_dir`), read
    /// by tract's parser one tensor at a time; an FP16 model's tensors to widen are read back
    /// first.
    fn load_inner(
        mut proto: pb::ModelProto,
        model_dir: Option<&str>,
        model_bytes: u64,
        streamed: bool,
        options: &TractOptions,
    ) -> Result<Self> {
        let started = std::time::Instant::now();
        let inspection = inspect(&proto)?;
        let fp16 = inspection.precision == Precision::Fp16;
        let mut widened = false;
        // An FP16 model whose convolutions the float kernel layer will take keeps their weights
        // in float16 (packed so, widened in the kernel): only the rest is widened here, and
        // what the layer does not take is widened once it is placed.
        let f32_isa = kernel_layer::select_f32(options.cpu_kernels)?;
        let mut kept_f16 = HashSet::new();
        if fp16 && options.fp16 == Fp16Compute::WidenToF32 {
            if f32_isa.is_some() {
                kept_f16 = kernel_layer::rewrite_f32::float16_conv_weights(&proto);
            }
            if streamed {
                read_back_except(&mut proto, model_dir, &kept_f16)?;
            }
            widened = widen_float16_except(&mut proto, &kept_f16);
            if !widened {
                log::warn!("float16 weights in external files are not widened; running float16");
                widen_float16(&mut proto);
                kept_f16.clear();
            }
        }
        if fp16 && !widened {
            split_gemm_bias(&mut proto);
        }
        let int8 = inspection.precision == Precision::Int8;
        let layer = match kernel_layer::select(options.cpu_kernels)? {
            Some(isa) if int8 => {
                let placement = place_kernel_layer(&mut proto, isa);
                for why in &placement.unmatched {
                    log::info!("kernel layer: convolution left to tract: {why}");
                }
                log::debug!("kernel layer on {}: {placement:?}", isa.name());
                (placement.placed > 0).then_some((isa, placement))
            }
            _ => None,
        };
        // Float models (FP32, or FP16 widened above) on the float kernels; in the bf16 mode the
        // convolutions that fit run their products in bf16 on AMX.
        let float = inspection.precision == Precision::Fp32 || widened;
        let bf16_kernel = options.bf16_matmul.then(|| bf16_kernel(float, f32_isa));
        let float_layer = match f32_isa {
            Some(isa) if float => {
                let bf16 = bf16_kernel.and_then(|k| k.ok());
                let placement = place_f32_layer(&mut proto, isa, bf16);
                for why in &placement.unmatched {
                    log::info!("kernel layer: convolution left to tract: {why}");
                }
                log::debug!("kernel layer (f32) on {}: {placement:?}", isa.name());
                (placement.placed > 0).then_some((isa, placement))
            }
            _ => None,
        };
        if !kept_f16.is_empty() {
            // Float16 weights stay only where the layer took them.
            let taken = kernel_layer::rewrite_f32::layer_weights(&proto);
            kept_f16.retain(|w| taken.contains(w));
            if streamed {
                read_back_except(&mut proto, model_dir, &kept_f16)?;
            }
            widen_float16_except(&mut proto, &kept_f16);
            log::debug!("tract: {} float16 convolution weights kept as float16", kept_f16.len());
        }
        if int8 {
            let softmaxes = dequantize_softmax_inputs(&mut proto);
            log::debug!("tract: {softmaxes} quantized Softmax inputs computed in float");
            let folded = fold_constant_dequantize(&mut proto);
            log::debug!("tract: {folded} DequantizeLinear of initializers folded to float32");
        }
        let mut onnx =
            tract_onnx::onnx().with_ignore_value_info(true).with_ignore_output_shapes(true);
        kernel_layer::register(&mut onnx);
        // External data (models over 2 GB, and the weights `onnx::stream` leaves in the file) is
        // read with plain reads, not tract's default memory map: a file truncated meanwhile is
        // then an error instead of a SIGBUS in the caller's process.
        onnx.provider = Arc::new(tract_onnx::data_resolver::FopenDataResolver);
        log::debug!("tract: graph rewritten at {:?}", started.elapsed());
        let parsed = onnx.parse(&proto, model_dir).map_err(|e| engine_error("parsing", e))?;
        log::debug!("tract: parsed at {:?}", started.elapsed());
        if !parsed.unresolved_inputs.is_empty() {
            return Err(Error::new(
                ErrorCode::ModelUnsupported,
                format!("the graph uses undefined tensors: {:?}", parsed.unresolved_inputs),
            ));
        }
        let mut model = parsed.model;
        drop(proto);
        release_freed_memory();

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
        // The pool is started before typing: the kernel layer packs its weights on it then.
        let threads = options.threads.max(1);
        let pool = WorkerPool::new(threads)?;
        let team = Team::new(threads - 1).map_err(|e| {
            Error::new(ErrorCode::Inference, format!("starting {threads} tract threads: {e}"))
        })?;
        let typed = in_pool(pool.executor.clone(), || model.into_typed())
            .map_err(|e| engine_error("typing", e))?;
        log::debug!("tract: typed at {:?}", started.elapsed());
        let compute = match (inspection.precision, &layer) {
            (Precision::Int8, Some((isa, placement))) => kernel_layer::describe(*isa, placement),
            (_, _) if float_layer.is_some() => {
                let (isa, placement) = float_layer.as_ref().expect("checked");
                let layer = kernel_layer::describe_f32(*isa, placement);
                if !kept_f16.is_empty() && placement.bf16 > 0 {
                    // The bf16 panels are rounded from the widened float16 weights at packing.
                    format!("{layer} (float16 weights kept as float16 until packed)")
                } else if !kept_f16.is_empty() {
                    format!("{layer} (float16 weights kept as float16, widened in the kernel)")
                } else if widened {
                    format!("{layer} (float16 weights widened at load)")
                } else {
                    layer
                }
            }
            (Precision::Fp16, _) if widened => "f32 (float16 weights widened at load)".into(),
            (Precision::Fp16, _) => "f16".into(),
            (Precision::Int8, None) => {
                "f32 (QDQ graph run as float with quantize/dequantize steps)".into()
            }
            (Precision::Fp32, _) => "f32".into(),
        };
        let mut typed = typed;
        declutter(&mut typed).map_err(|e| engine_error("decluttering", e))?;
        release_freed_memory();
        log::debug!("tract: decluttered at {:?}", started.elapsed());

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
        let mut info = ModelInfo {
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
        // Every batch runs on the batch-1 plan: the decluttered model is not needed again, and
        // dropping it before optimizing lets its weights go as they are packed.
        let plan = optimized_plan(typed, &batch, 1)?;
        if let Some(Err(why)) = bf16_kernel {
            log::warn!("bf16 products (bf16_matmul) are ignored: {why}; running f32");
            info.compute =
                format!("{} (bf16 products asked for, not available: {why})", info.compute);
        }
        release_freed_memory();
        Ok(TractBackend { plan, pool, team, threads, input_is_f16, info })
    }

    /// Runs `plan` (optimized for `batch` images) on `input`: on the classifier's pool when
    /// `multithreaded` (its pool and its team, [`Team::run`]), else on this thread alone.
    fn run_plan(
        &self,
        plan: &Plan,
        input: &[f32],
        batch: usize,
        multithreaded: bool,
    ) -> Result<Vec<f32>> {
        let shape = [batch, 3, self.info.height as usize, self.info.width as usize];
        let tensor = if self.input_is_f16 {
            let halves: Vec<f16> = input.iter().map(|&x| f16::from_f32(x)).collect();
            Tensor::from_shape(&shape, &halves)
        } else {
            Tensor::from_shape(&shape, input)
        }
        .map_err(|e| engine_error("running", e))?;
        let run = || plan.run(tvec![tensor.into_tvalue()]);
        let outputs = if !multithreaded {
            in_pool(Executor::SingleThread, run)
        } else {
            self.multithreaded(run)
        }
        .map_err(|e| engine_error("running", e))?;
        let output = outputs[0].cast_to::<f32>().map_err(|e| engine_error("running", e))?;
        let view = output.to_plain_array_view::<f32>().map_err(|e| engine_error("running", e))?;
        Ok(view.iter().copied().collect())
    }

    /// Runs `f` (a plan run) on this thread with the classifier's pool as tract's executor and
    /// its team taking part in the kernel layer's sections.
    fn multithreaded<R>(&self, f: impl FnOnce() -> R) -> R {
        in_pool(self.pool.executor.clone(), || self.team.run(f))
    }

    /// Runs a batch image by image on the batch-1 plan: `min(threads, batch)` workers take
    /// images in turn, each running single-threaded (the calling thread is one of them). With
    /// one worker the images run one after the other with the multithreaded executor.
    fn run_split(&self, input: &[f32], batch: usize) -> Result<Vec<f32>> {
        let plan = &self.plan;
        let per_image = input.len() / batch;
        let workers = self.threads.min(batch);
        if workers <= 1 {
            let mut scores = Vec::with_capacity(batch * self.info.classes);
            for image in input.chunks_exact(per_image) {
                scores.extend(self.run_plan(plan, image, 1, true)?);
            }
            return Ok(scores);
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let work = || -> Result<Vec<(usize, Vec<f32>)>> {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= batch {
                    return Ok(done);
                }
                let image = &input[i * per_image..(i + 1) * per_image];
                done.push((i, self.run_plan(plan, image, 1, false)?));
            }
        };
        let mut rows: Vec<Option<Vec<f32>>> = vec![None; batch];
        std::thread::scope(|scope| -> Result<()> {
            let helpers: Vec<_> = (1..workers).map(|_| scope.spawn(|| catch_panic(work))).collect();
            let mut all = vec![work()];
            for h in helpers {
                all.push(h.join().unwrap_or_else(|p| Err(Error::from_panic(p.as_ref()))));
            }
            for part in all {
                for (i, row) in part? {
                    rows[i] = Some(row);
                }
            }
            Ok(())
        })?;
        Ok(rows.into_iter().flatten().flatten().collect())
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
        let scores = if batch == 1 {
            self.run_plan(&self.plan, input, 1, true)?
        } else {
            self.run_split(input, batch)?
        };
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

/// Time spent in one operator kind (or one node) of an optimized plan.
#[derive(Debug, Clone)]
pub struct OpTime {
    /// The operator's name (`OptMatMul`, `Add`, ...) or, per node, the node's name.
    pub name: String,
    /// The operator kind, for per-node rows.
    pub op: String,
    /// Number of nodes (per-kind rows) or runs (per-node rows).
    pub count: usize,
    /// Median over runs of the time spent, in milliseconds.
    pub ms: f64,
}

/// A per-operator profile of one batch size.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Median total of the per-node times (ms).
    pub total_ms: f64,
    /// Per operator kind, most expensive first.
    pub by_op: Vec<OpTime>,
    /// The most expensive nodes, most expensive first.
    pub top_nodes: Vec<OpTime>,
}

impl TractBackend {
    /// Runs the batch-1 plan (the one every batch runs on, image by image) `runs` times,
    /// timing every node, on this classifier's thread pool. Input values are a constant
    /// (timing only).
    pub fn profile(&self, runs: usize) -> Result<Profile> {
        catch_panic(|| {
            let plan = &self.plan;
            let batch = 1;
            let (h, w) = (self.info.height as usize, self.info.width as usize);
            let dt = if self.input_is_f16 { f16::datum_type() } else { f32::datum_type() };
            let input =
                Tensor::zero_dt(dt, &[batch, 3, h, w]).map_err(|e| engine_error("running", e))?;
            let nodes = plan.model().nodes().len();
            let mut per_run: Vec<Vec<f64>> = vec![Vec::new(); nodes];
            let mut state = plan.spawn().map_err(|e| engine_error("running", e))?;
            for _ in 0..runs.max(1) {
                let mut times = vec![0f64; nodes];
                // As a classification runs it (with the pool and the team).
                self.multithreaded(|| {
                    state.run_plan_with_eval(
                        tvec![input.clone().into_tvalue()],
                        |ctx, op_state, node, inputs| {
                            let t = std::time::Instant::now();
                            let r = tract_core::plan::eval(ctx, op_state, node, inputs);
                            times[node.id] += t.elapsed().as_secs_f64() * 1000.0;
                            r
                        },
                    )
                })
                .map_err(|e| engine_error("running", e))?;
                for (all, t) in per_run.iter_mut().zip(times) {
                    all.push(t);
                }
            }
            let median = |v: &mut Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let mut by_op: HashMap<String, (usize, f64)> = HashMap::new();
            let mut top_nodes = Vec::new();
            let mut total_ms = 0.0;
            for (node, times) in plan.model().nodes().iter().zip(per_run.iter_mut()) {
                let ms = median(times);
                total_ms += ms;
                let op = node.op().name().to_string();
                let entry = by_op.entry(op.clone()).or_default();
                entry.0 += 1;
                entry.1 += ms;
                let shape = plan
                    .model()
                    .outlet_fact(node.id.into())
                    .map(|f| format!("{:?}", f.shape))
                    .unwrap_or_default();
                top_nodes.push(OpTime {
                    name: format!("{} -> {shape}", node.name),
                    op,
                    count: runs,
                    ms,
                });
            }
            let mut by_op: Vec<OpTime> = by_op
                .into_iter()
                .map(|(name, (count, ms))| OpTime { name, op: String::new(), count, ms })
                .collect();
            by_op.sort_by(|a, b| b.ms.total_cmp(&a.ms));
            top_nodes.sort_by(|a, b| b.ms.total_cmp(&a.ms));

            Ok(Profile { total_ms, by_op, top_nodes })
        })
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
