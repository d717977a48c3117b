//! The native methods of `org.resnext.Native`. Each body runs inside [`run`].

use super::boundary::{
    classifier, free_handle, into_handle, invalid, non_negative, null, run, Failure, JniResult,
};
use super::convert::{
    array_region, batch_image, batch_roi, classification, classification_array, direct_region,
    model_info, model_too_big, string, whole_array, Bytes, HeldImage, PixelSpec, LOCALS_PER_STEP,
    PARAMS_PER_IMAGE,
};
use crate::backend::ort::execution::{
    BatchProfile, ExecutionProvider, FallbackPolicy, ProviderKind, TensorRtOptions,
};
use crate::backend::BackendKind;
use crate::classifier::Classifier;
use crate::labels::LabelSource;
use crate::options::{ClassifierOptions, CpuKernels};
use crate::preprocess::PreprocessConfig;
use jni::objects::{
    JByteArray, JByteBuffer, JClass, JFloatArray, JIntArray, JObject, JObjectArray, JString,
};
use jni::sys::{jboolean, jfloat, jint, jlong, jobject, jobjectArray, jstring, JNI_FALSE};
use jni::JNIEnv;
use std::path::PathBuf;

/// Label modes of `Native.classifierNew`, as `org.resnext.ClassifierOptions` numbers them.
const LABELS_IMAGENET: jint = 0;
const LABELS_FILE: jint = 1;
const LABELS_NONE: jint = 2;
const LABELS_LIST: jint = 3;

fn floats3(env: &mut JNIEnv<'_>, array: &JFloatArray<'_>, name: &str) -> JniResult<[f32; 3]> {
    if array.is_null() {
        return Err(null(name));
    }
    let len = env.get_array_length(array)?;
    if len != 3 {
        return Err(invalid(format!("{name} needs 3 values (R, G, B), got {len}")));
    }
    let mut values = [0f32; 3];
    env.get_float_array_region(array, 0, &mut values)?;
    Ok(values)
}

fn positive_u64(value: jlong, name: &str) -> JniResult<u64> {
    if value <= 0 {
        return Err(invalid(format!("{name} must be positive, got {value}")));
    }
    Ok(value as u64)
}

fn label_list(env: &mut JNIEnv<'_>, labels: &JObjectArray<'_>) -> JniResult<Vec<String>> {
    if labels.is_null() {
        return Err(null("labels"));
    }
    let n = env.get_array_length(labels)?;
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        // Each label in its own local frame: a call's references stay bounded for any length.
        out.push(env.with_local_frame(LOCALS_PER_STEP, |env| {
            let item = JString::from(env.get_object_array_element(labels, i)?);
            string(env, &item, &format!("labels[{i}]"))
        })?);
    }
    Ok(out)
}

/// Applies the engine settings packed by `ClassifierOptions`: `ints` is backend, provider,
/// device, fallback, fp16, int8, DLA core (-1: GPU), batch min, opt, max, CPU kernels, bf16
/// products, float16 widening;
/// `strings` is the ORT
/// library, calibration table, engine cache dir, timing cache dir (each may be null).
fn engine_options(
    env: &mut JNIEnv<'_>,
    options: ClassifierOptions,
    ints: &JIntArray<'_>,
    workspace: jlong,
    strings: &JObjectArray<'_>,
) -> JniResult<ClassifierOptions> {
    if ints.is_null() {
        return Err(null("engineInts"));
    }
    if strings.is_null() {
        return Err(null("engineStrings"));
    }
    let mut v = [0 as jint; 13];
    if env.get_array_length(ints)? != v.len() as i32 || env.get_array_length(strings)? != 4 {
        return Err(invalid("engine settings arrays have the wrong length"));
    }
    env.get_int_array_region(ints, 0, &mut v)?;
    let mut s: [Option<String>; 4] = Default::default();
    for (i, slot) in s.iter_mut().enumerate() {
        *slot = env.with_local_frame(LOCALS_PER_STEP, |env| -> JniResult<Option<String>> {
            let item = JString::from(env.get_object_array_element(strings, i as i32)?);
            if item.is_null() {
                return Ok(None);
            }
            Ok(Some(string(env, &item, "engine setting")?).filter(|x| !x.is_empty()))
        })?;
    }
    let code = |i: usize| u32::try_from(v[i]).unwrap_or(u32::MAX);
    let backend = BackendKind::from_u32(code(0))
        .ok_or_else(|| invalid(format!("unknown backend {}", v[0])))?;
    let cpu_kernels = CpuKernels::from_u32(code(10))
        .ok_or_else(|| invalid(format!("unknown CPU kernels {}", v[10])))?;
    let device_id = non_negative(v[2], "deviceId")?;
    let fallback = FallbackPolicy::from_u32(code(3))
        .ok_or_else(|| invalid(format!("unknown fallback policy {}", v[3])))?;
    let [library, table, engines, timing] = s;
    let profile = BatchProfile {
        min: non_negative(v[7], "batch min")?,
        opt: non_negative(v[8], "batch opt")?,
        max: non_negative(v[9], "batch max")?,
    };
    if !profile.is_valid() {
        return Err(invalid(format!(
            "batch profile {}/{}/{}: needs 1 <= min <= opt <= max",
            profile.min, profile.opt, profile.max
        )));
    }
    let trt = TensorRtOptions {
        fp16: v[4] != 0,
        int8: v[5] != 0,
        int8_calibration_table: table,
        workspace_bytes: (workspace > 0).then_some(workspace as u64),
        engine_cache_dir: engines.map(PathBuf::from),
        timing_cache_dir: timing.map(PathBuf::from),
        dla_core: crate::backend::ort::execution::dla_core_from_i32(v[6])?,
        batch_profile: profile,
    };
    let provider = match ProviderKind::from_u32(code(1)) {
        Some(ProviderKind::Cpu) => ExecutionProvider::Cpu,
        Some(ProviderKind::Cuda) => ExecutionProvider::Cuda { device_id },
        Some(ProviderKind::TensorRt) => ExecutionProvider::TensorRt { device_id, options: trt },
        None => return Err(invalid(format!("unknown execution provider {}", v[1]))),
    };
    let mut options = options
        .backend(backend)
        .execution_provider(provider)
        .fallback(fallback)
        .cpu_kernels(cpu_kernels)
        .bf16_matmul(v[11] != 0)
        .widen_fp16(v[12] != 0);
    if let Some(lib) = library {
        options = options.ort_library(lib);
    }
    Ok(options)
}

/// Model kinds of `Native.classifierNew`, as `org.resnext.ClassifierOptions` numbers them.
const MODEL_PATH: jint = 0;
const MODEL_BYTES: jint = 1;
const MODEL_BUFFER: jint = 2;
const MODEL_FD: jint = 3;
const MODEL_FILE_DESCRIPTOR: jint = 4;

/// The descriptor number inside a `java.io.FileDescriptor`: the private `int` field
/// `descriptor` on Android (libcore), `fd` on desktop JVMs. JNI field access is not subject to
/// the Java language's access checks, so no reflection (and no `--add-opens`) is needed.
fn descriptor_number(env: &mut JNIEnv<'_>, fd: &JObject<'_>) -> JniResult<i32> {
    if fd.is_null() {
        return Err(null("fileDescriptor"));
    }
    for field in ["descriptor", "fd"] {
        match env.get_field(fd, field, "I") {
            Ok(value) => return Ok(value.i()?),
            Err(_) => {
                // NoSuchFieldError: try the other platform's name.
                if env.exception_check()? {
                    env.exception_clear()?;
                }
            }
        }
    }
    Err(invalid("not a java.io.FileDescriptor with an `fd` or `descriptor` field"))
}

/// The model the Java options name (see `ClassifierOptions.modelKind`): a path (`model` a
/// String), bytes (a byte[]), a direct ByteBuffer's `[offset, offset + length)` (copied once
/// into native memory, never onto the Java heap), or `length` bytes from `offset` of a file
/// descriptor (`fd`, or the FileDescriptor `model`), duplicated and read with `pread`.
fn model_options(
    env: &mut JNIEnv<'_>,
    kind: jint,
    model: &JObject<'_>,
    fd: jint,
    offset: jlong,
    length: jlong,
    max_model_bytes: u64,
) -> JniResult<ClassifierOptions> {
    match kind {
        MODEL_PATH => {
            let path = JString::from(env.new_local_ref(model)?);
            Ok(ClassifierOptions::from_path(string(env, &path, "modelPath")?))
        }
        MODEL_BYTES => {
            if model.is_null() {
                return Err(null("modelBytes"));
            }
            let bytes = JByteArray::from(env.new_local_ref(model)?);
            let len = env.get_array_length(&bytes)? as usize;
            if len as u64 > max_model_bytes {
                return Err(model_too_big(len, max_model_bytes));
            }
            Ok(ClassifierOptions::from_bytes(whole_array(env, &bytes, "modelBytes")?))
        }
        MODEL_BUFFER => {
            if model.is_null() {
                return Err(null("modelBuffer"));
            }
            let buffer = JByteBuffer::from(env.new_local_ref(model)?);
            let not_direct = || invalid("modelBuffer: not a direct ByteBuffer");
            let capacity = env.get_direct_buffer_capacity(&buffer).map_err(|_| not_direct())?;
            let (start, len) = (u64::try_from(offset), u64::try_from(length));
            let (Ok(start), Ok(len)) = (start, len) else {
                return Err(invalid(format!("modelBuffer: negative range {offset}, {length}")));
            };
            if start.saturating_add(len) > capacity as u64 {
                return Err(invalid(format!(
                    "modelBuffer: range [{start}, {start} + {len}) is outside the buffer of \
                     {capacity} bytes"
                )));
            }
            if len > max_model_bytes {
                return Err(model_too_big(len as usize, max_model_bytes));
            }
            if len == 0 {
                return Ok(ClassifierOptions::from_bytes(Vec::new()));
            }
            let base = env.get_direct_buffer_address(&buffer).map_err(|_| not_direct())?;
            // SAFETY: the JVM guarantees `capacity` bytes at `base` while the local reference
            // keeps the buffer alive (this call); the range was checked against it above.
            let bytes =
                unsafe { std::slice::from_raw_parts(base.add(start as usize), len as usize) };
            Ok(ClassifierOptions::from_bytes(bytes))
        }
        MODEL_FD | MODEL_FILE_DESCRIPTOR => {
            let fd = if kind == MODEL_FD { fd } else { descriptor_number(env, model)? };
            let range = crate::ffi::options::file_range(fd, offset, length)?;
            Ok(ClassifierOptions::from_file_range(range))
        }
        other => Err(invalid(format!("unknown model kind {other}"))),
    }
}

/// `long classifierNew(int modelKind, Object model, int modelFd, long modelOffset,
/// long modelLength, int resizeShort, int crop, float[] mean, float[] std, int topK,
/// float scoreThreshold, int threads, int labelMode, String labelsFile, String[] labels,
/// boolean allowLabelMismatch, long maxPixels, boolean allowTruncatedImages, long maxModelBytes,
/// int[] engineInts, long trtWorkspaceBytes, String[] engineStrings)`; the model arguments are
/// read by `model_options`, the engine arrays are laid out by `ClassifierOptions.engineInts` /
/// `engineStrings` (see `engine_options`).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_org_resnext_Native_classifierNew<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    model_kind: jint,
    model: JObject<'local>,
    model_fd: jint,
    model_offset: jlong,
    model_length: jlong,
    resize_short: jint,
    crop: jint,
    mean: JFloatArray<'local>,
    std: JFloatArray<'local>,
    top_k: jint,
    score_threshold: jfloat,
    threads: jint,
    label_mode: jint,
    labels_file: JString<'local>,
    labels: JObjectArray<'local>,
    allow_label_mismatch: jboolean,
    max_pixels: jlong,
    allow_truncated_images: jboolean,
    max_model_bytes: jlong,
    engine_ints: JIntArray<'local>,
    trt_workspace_bytes: jlong,
    engine_strings: JObjectArray<'local>,
) -> jlong {
    run(&mut env, 0, |env| {
        let max_model_bytes = positive_u64(max_model_bytes, "maxModelBytes")?;
        let preprocess = PreprocessConfig {
            resize_short: non_negative(resize_short, "resizeShort")?,
            crop: non_negative(crop, "crop")?,
            mean: floats3(env, &mean, "mean")?,
            std: floats3(env, &std, "std")?,
        };
        let labels = match label_mode {
            LABELS_IMAGENET => LabelSource::ImageNet1k,
            LABELS_FILE => {
                LabelSource::File(PathBuf::from(string(env, &labels_file, "labelsFile")?))
            }
            LABELS_NONE => LabelSource::None,
            LABELS_LIST => LabelSource::List(label_list(env, &labels)?),
            other => return Err(invalid(format!("unknown label mode {other}"))),
        };
        let options = model_options(
            env,
            model_kind,
            &model,
            model_fd,
            model_offset,
            model_length,
            max_model_bytes,
        )?;
        let options = options
            .preprocess(preprocess)
            .top_k(non_negative(top_k, "topK")? as usize)
            .score_threshold(score_threshold)
            .threads(non_negative(threads, "threads")? as usize)
            .labels(labels)
            .allow_label_mismatch(allow_label_mismatch != JNI_FALSE)
            .max_pixels(positive_u64(max_pixels, "maxPixels")?)
            .allow_truncated_images(allow_truncated_images != JNI_FALSE)
            .max_model_bytes(max_model_bytes);
        let options =
            engine_options(env, options, &engine_ints, trt_workspace_bytes, &engine_strings)?;
        Ok(into_handle(Classifier::new(options)?))
    })
}

/// `void classifierFree(long handle)`: 0 is a no-op. The Java side calls it once, with no other
/// call on the handle in progress.
#[no_mangle]
pub extern "system" fn Java_org_resnext_Native_classifierFree<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    run(&mut env, (), |_| {
        // SAFETY: the Java `Classifier` passes each handle here exactly once, under its write
        // lock, so no other call uses it.
        unsafe { free_handle(handle) };
        Ok(())
    })
}

/// `ModelInfo classifierInfo(long handle)`
#[no_mangle]
pub extern "system" fn Java_org_resnext_Native_classifierInfo<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jobject {
    run(&mut env, std::ptr::null_mut(), |env| {
        // SAFETY: the Java side holds the handle's read lock for the call.
        let c = unsafe { classifier(handle) }?;
        Ok(model_info(env, c.info(), c.top_k())?.into_raw())
    })
}

/// `String classifierLabel(long handle, int classId)`: the class's label (`""` when the
/// classifier has none); a class id outside the model's classes is INVALID_ARGUMENT.
#[no_mangle]
pub extern "system" fn Java_org_resnext_Native_classifierLabel<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    class_id: jint,
) -> jstring {
    run(&mut env, std::ptr::null_mut(), |env| {
        // SAFETY: the Java side holds the handle's read lock for the call.
        let c = unsafe { classifier(handle) }?;
        let id = usize::try_from(class_id)
            .map_err(|_| invalid(format!("class id {class_id} is negative")))?;
        Ok(env.new_string(c.label(id)?)?.into_raw())
    })
}

fn classify_one<'local>(
    env: &mut JNIEnv<'local>,
    handle: jlong,
    image: &HeldImage<'_>,
) -> JniResult<jobject> {
    // SAFETY: the Java side holds the handle's read lock for the call.
    let c = unsafe { classifier(handle) }?;
    let result = c.classify(image.input())?;
    Ok(classification(env, &result)?.into_raw())
}

/// `Classification classifyPath(long handle, String path)`
#[no_mangle]
pub extern "system" fn Java_org_resnext_Native_classifyPath<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    path: JString<'local>,
) -> jobject {
    run(&mut env, std::ptr::null_mut(), |env| {
        // A closed handle is reported before any argument error, as in every classify method.
        unsafe { classifier(handle) }?;
        let image = HeldImage::Path(PathBuf::from(string(env, &path, "path")?));
        classify_one(env, handle, &image)
    })
}

/// `Classification classifyEncoded(long handle, byte[] data)`
#[no_mangle]
pub extern "system" fn Java_org_resnext_Native_classifyEncoded<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    data: JByteArray<'local>,
) -> jobject {
    run(&mut env, std::ptr::null_mut(), |env| {
        unsafe { classifier(handle) }?;
        let image = HeldImage::Encoded(Bytes::Owned(whole_array(env, &data, "encoded")?));
        classify_one(env, handle, &image)
    })
}

/// `Classification classifyPixels(long handle, byte[] array, ByteBuffer direct, int offset,
/// int length, int width, int height, int rowStride, int format, int rotation)`: exactly one of
/// `array` and `direct` is non-null; `offset` and `length` select the bytes within it.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_org_resnext_Native_classifyPixels<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    array: JByteArray<'local>,
    direct: JByteBuffer<'local>,
    offset: jint,
    length: jint,
    width: jint,
    height: jint,
    row_stride: jint,
    format: jint,
    rotation: jint,
) -> jobject {
    run(&mut env, std::ptr::null_mut(), |env| {
        unsafe { classifier(handle) }?;
        let spec = PixelSpec::new(width, height, row_stride, format, rotation)?;
        let bytes = match (array.is_null(), direct.is_null()) {
            (false, true) => Bytes::Owned(array_region(env, &array, offset, length, "data")?),
            // SAFETY: `direct` is a local reference of this call, so its memory outlives `bytes`.
            (true, false) => {
                Bytes::Borrowed(unsafe { direct_region(env, &direct, offset, length, "data") }?)
            }
            (true, true) => return Err(null("data")),
            (false, false) => {
                return Err(Failure::IllegalArgument("both an array and a buffer given".into()))
            }
        };
        classify_one(env, handle, &HeldImage::Pixels(bytes, spec))
    })
}

/// `Classification[] classifyBatch(long handle, int[] kinds, Object[] payloads, int[] params)`:
/// image `i` is `kinds[i]` (0 file: a `String`; 1 encoded: a `byte[]`; 2 pixels in a `byte[]`;
/// 3 pixels in a direct `ByteBuffer`; 4 a YUV 420 frame: a `ByteBuffer[3]`) with `payloads[i]`
/// and `params[18i..18i+18]` as `convert::PARAMS_PER_IMAGE` lists them. One batched run.
#[no_mangle]
pub extern "system" fn Java_org_resnext_Native_classifyBatch<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    kinds: JIntArray<'local>,
    payloads: JObjectArray<'local>,
    params: JIntArray<'local>,
) -> jobjectArray {
    run(&mut env, std::ptr::null_mut(), |env| {
        // SAFETY: the Java side holds the handle's read lock for the call.
        let c = unsafe { classifier(handle) }?;
        if kinds.is_null() {
            return Err(null("kinds"));
        }
        if payloads.is_null() {
            return Err(null("images"));
        }
        if params.is_null() {
            return Err(null("params"));
        }
        let n = env.get_array_length(&kinds)?;
        if env.get_array_length(&payloads)? != n
            || env.get_array_length(&params)? as i64 != n as i64 * PARAMS_PER_IMAGE as i64
        {
            return Err(Failure::IllegalArgument("batch arrays of inconsistent lengths".into()));
        }
        let mut kind_values = vec![0 as jint; n as usize];
        env.get_int_array_region(&kinds, 0, &mut kind_values)?;
        let mut param_values = vec![0 as jint; n as usize * PARAMS_PER_IMAGE];
        env.get_int_array_region(&params, 0, &mut param_values)?;
        let mut held = Vec::with_capacity(n as usize);
        for (i, kind) in kind_values.iter().enumerate() {
            // Each image in its own local frame, so a batch's references stay bounded.
            // SAFETY: `held` lives only for this call; `payloads` keeps direct buffers alive.
            held.push(env.with_local_frame(LOCALS_PER_STEP, |env| unsafe {
                batch_image(env, *kind, &payloads, i, &param_values)
            })?);
        }
        let whole: Vec<_> = held.iter().map(HeldImage::input).collect();
        let rois =
            (0..whole.len()).map(|i| batch_roi(&param_values, i)).collect::<Result<Vec<_>, _>>()?;
        let inputs: Vec<_> =
            whole.iter().zip(rois).map(|(input, roi)| input.with_roi(roi)).collect();
        let results = c.classify_batch(&inputs)?;
        Ok(classification_array(env, &results)?.into_raw())
    })
}

/// `String version()`: the native library's version.
#[no_mangle]
pub extern "system" fn Java_org_resnext_Native_version<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
) -> jstring {
    run(&mut env, std::ptr::null_mut(), |env| Ok(env.new_string(crate::VERSION)?.into_raw()))
}

/// `void panicForTest(String message)`: panics inside the boundary, so tests can check that a
/// panic becomes a `ResnextException` with the `PANIC` code and the JVM carries on.
#[no_mangle]
pub extern "system" fn Java_org_resnext_Native_panicForTest<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    message: JString<'local>,
) {
    run(&mut env, (), |env| -> JniResult<()> {
        let text =
            if message.is_null() { String::new() } else { string(env, &message, "message")? };
        panic!("{text}");
    })
}
