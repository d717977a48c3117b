//! Conversions between Java values and the SDK's types: input arrays and buffers in, results
//! and model descriptions out.

use super::boundary::{invalid, non_negative, null, Failure, JniResult};
use crate::classifier::Classification;
use crate::error::{Error, ErrorCode};
use crate::image_input::ImageInput;
use crate::model_info::{ModelInfo, TensorInfo};
use crate::preprocess::{PixelBuffer, PixelFormat, Roi, Rotation, YuvPlanes};
use jni::objects::{JByteArray, JByteBuffer, JObject, JObjectArray, JString, JValue};
use jni::sys::jint;
use jni::JNIEnv;
use std::path::PathBuf;

/// Java class names (JNI form) of the result types.
const CLASSIFICATION: &str = "org/resnext/Classification";
const MODEL_INFO: &str = "org/resnext/ModelInfo";
const STRING: &str = "java/lang/String";

/// Reads a Java string argument; `null` fails with `NULL_ARGUMENT` naming it. Leaves no local
/// reference behind (jni's `get_string` creates two class references per call, which a loop
/// would pile up): it runs in its own local frame.
pub fn string(env: &mut JNIEnv<'_>, value: &JString<'_>, name: &str) -> JniResult<String> {
    if value.is_null() {
        return Err(null(name));
    }
    env.with_local_frame(LOCALS_PER_STEP, |env| Ok(env.get_string(value)?.into()))
}

/// Capacity of the local frame each step of a loop over Java objects runs in (its references
/// are freed when the step ends, so a call's references stay bounded whatever the length).
pub(crate) const LOCALS_PER_STEP: i32 = 8;

/// Copies `length` bytes from `offset` of a Java `byte[]` (one copy, with no pinning of the
/// array while the SDK works). `null` fails with `NULL_ARGUMENT`; a range outside the array with
/// `IllegalArgumentException`.
pub fn array_region(
    env: &mut JNIEnv<'_>,
    array: &JByteArray<'_>,
    offset: jint,
    length: jint,
    name: &str,
) -> JniResult<Vec<u8>> {
    if array.is_null() {
        return Err(null(name));
    }
    let total = env.get_array_length(array)?;
    if offset < 0 || length < 0 || offset as i64 + length as i64 > total as i64 {
        return Err(Failure::IllegalArgument(format!(
            "{name}: range [{offset}, {offset} + {length}) is outside the array of {total} bytes"
        )));
    }
    let mut bytes = vec![0u8; length as usize];
    if length > 0 {
        // SAFETY: i8 and u8 have the same size and alignment; the slice covers `bytes`.
        let signed =
            unsafe { std::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<i8>(), bytes.len()) };
        env.get_byte_array_region(array, offset, signed)?;
    }
    Ok(bytes)
}

/// Copies a whole Java `byte[]`.
pub fn whole_array(env: &mut JNIEnv<'_>, array: &JByteArray<'_>, name: &str) -> JniResult<Vec<u8>> {
    if array.is_null() {
        return Err(null(name));
    }
    let total = env.get_array_length(array)?;
    array_region(env, array, 0, total, name)
}

/// Borrows `length` bytes from `offset` of a direct `ByteBuffer`'s memory, without copying.
///
/// # Safety
/// The returned slice must not outlive the native call that received `buffer` (the local
/// reference keeps the buffer, and so its memory, alive until the call returns), and the Java
/// side must not write to the buffer during the call.
pub unsafe fn direct_region<'a>(
    env: &mut JNIEnv<'_>,
    buffer: &JByteBuffer<'_>,
    offset: jint,
    length: jint,
    name: &str,
) -> JniResult<&'a [u8]> {
    if buffer.is_null() {
        return Err(null(name));
    }
    let not_direct =
        || Failure::IllegalArgument(format!("{name}: not a direct ByteBuffer (use its array)"));
    let capacity = env.get_direct_buffer_capacity(buffer).map_err(|_| not_direct())?;
    if offset < 0 || length < 0 || offset as u64 + length as u64 > capacity as u64 {
        return Err(Failure::IllegalArgument(format!(
            "{name}: range [{offset}, {offset} + {length}) is outside the buffer of {capacity} bytes"
        )));
    }
    if length == 0 {
        return Ok(&[]);
    }
    let base = env.get_direct_buffer_address(buffer).map_err(|_| not_direct())?;
    // SAFETY: the JVM guarantees `capacity` bytes at `base`; the range was checked above.
    Ok(unsafe { std::slice::from_raw_parts(base.add(offset as usize), length as usize) })
}

/// Dimensions, layout and rotation of a raw pixel buffer, as the Java API passes them.
#[derive(Debug, Clone, Copy)]
pub struct PixelSpec {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes between row starts; 0 for tightly packed.
    pub row_stride: usize,
    /// Layout.
    pub format: PixelFormat,
    /// Clockwise rotation.
    pub rotation: Rotation,
}

impl PixelSpec {
    /// Checks the Java values: non-negative sizes, a known format ordinal, a right angle.
    pub fn new(
        width: jint,
        height: jint,
        row_stride: jint,
        format: jint,
        rotation: jint,
    ) -> JniResult<Self> {
        let format = u32::try_from(format)
            .ok()
            .and_then(PixelFormat::from_u32)
            .ok_or_else(|| invalid(format!("unknown pixel format {format}")))?;
        let rotation = if rotation < 0 {
            return Err(invalid(format!(
                "rotation must be 0, 90, 180 or 270 degrees, got {rotation}"
            )));
        } else {
            Rotation::from_degrees(rotation as u32)?
        };
        Ok(PixelSpec {
            width: non_negative(width, "width")?,
            height: non_negative(height, "height")?,
            row_stride: non_negative(row_stride, "rowStride")? as usize,
            format,
            rotation,
        })
    }

    /// The SDK's view of `data` with these dimensions.
    pub fn buffer<'a>(&self, data: &'a [u8]) -> PixelBuffer<'a> {
        PixelBuffer {
            data,
            width: self.width,
            height: self.height,
            row_stride: self.row_stride,
            format: self.format,
            rotation: self.rotation,
        }
    }
}

/// Image bytes the native call holds: copied from a `byte[]`, or borrowed from a direct buffer.
pub enum Bytes<'a> {
    /// Copied from a Java array.
    Owned(Vec<u8>),
    /// A direct buffer's memory, valid for the call.
    Borrowed(&'a [u8]),
}

impl Bytes<'_> {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            Bytes::Borrowed(s) => s,
        }
    }
}

/// One image of a call, held for the duration of the call.
pub enum HeldImage<'a> {
    /// A file path.
    Path(PathBuf),
    /// Encoded bytes.
    Encoded(Bytes<'a>),
    /// Raw pixels.
    Pixels(Bytes<'a>, PixelSpec),
    /// A planar YUV 4:2:0 frame borrowed from three direct buffers.
    Yuv420(YuvPlanes<'a>),
}

impl HeldImage<'_> {
    /// The SDK's view of the image.
    pub fn input(&self) -> ImageInput<'_> {
        match self {
            HeldImage::Path(path) => ImageInput::Path(path),
            HeldImage::Encoded(bytes) => ImageInput::Encoded(bytes.as_slice()),
            HeldImage::Pixels(bytes, spec) => ImageInput::Pixels(spec.buffer(bytes.as_slice())),
            HeldImage::Yuv420(planes) => ImageInput::Yuv420(*planes),
        }
    }
}

/// Image kinds of `Native.classifyBatch`, as `org.resnext.Image` numbers them.
pub(crate) const KIND_FILE: jint = 0;
/// Encoded bytes in a `byte[]`.
pub(crate) const KIND_ENCODED: jint = 1;
/// Raw pixels in a `byte[]` (offset, length).
pub(crate) const KIND_PIXELS_ARRAY: jint = 2;
/// Raw pixels in a direct `ByteBuffer` (offset, length).
pub(crate) const KIND_PIXELS_DIRECT: jint = 3;
/// A planar YUV 4:2:0 frame: three direct `ByteBuffer`s (Y, U, V) in an `Object[]`.
pub(crate) const KIND_YUV420: jint = 4;
/// Integers per image in `classifyBatch`'s `params`: offset, length, width, height, rowStride,
/// format, rotation (0-6); hasRoi, roiX, roiY, roiWidth, roiHeight (7-11); for YUV420 the U and
/// V planes' offset and length, uvRowStride and uvPixelStride (12-17; offset/length/rowStride
/// 0-1 and 4 are the Y plane's).
pub(crate) const PARAMS_PER_IMAGE: usize = 18;

/// The region of interest in an image's `params`, `None` when it has none.
pub(crate) fn batch_roi(params: &[jint], index: usize) -> JniResult<Option<Roi>> {
    let p = &params[index * PARAMS_PER_IMAGE..(index + 1) * PARAMS_PER_IMAGE];
    if p[7] == 0 {
        return Ok(None);
    }
    let field =
        |value: jint, what: &str| non_negative(value, &format!("images[{index}]: roi {what}"));
    Ok(Some(Roi {
        x: field(p[8], "x")?,
        y: field(p[9], "y")?,
        width: field(p[10], "width")?,
        height: field(p[11], "height")?,
    }))
}

/// Borrows the Y, U and V planes of a YUV 420 payload (an `Object[]` of three direct
/// `ByteBuffer`s) for the call.
///
/// # Safety
/// As [`direct_region`].
unsafe fn yuv_planes<'a>(
    env: &mut JNIEnv<'_>,
    payload: JObject<'_>,
    p: &[jint],
    name: &str,
) -> JniResult<YuvPlanes<'a>> {
    let array = JObjectArray::from(payload);
    if env.get_array_length(&array)? != 3 {
        return Err(Failure::IllegalArgument(format!("{name}: a YUV frame needs three planes")));
    }
    let mut planes: [&'a [u8]; 3] = [&[]; 3];
    let ranges = [(p[0], p[1], "y"), (p[12], p[13], "u"), (p[14], p[15], "v")];
    for (i, (offset, length, plane)) in ranges.into_iter().enumerate() {
        let buffer = JByteBuffer::from(env.get_object_array_element(&array, i as jint)?);
        let what = format!("{name}.{plane}");
        if buffer.is_null() {
            return Err(null(&what));
        }
        if !env.is_instance_of(&buffer, "java/nio/ByteBuffer")? {
            return Err(Failure::IllegalArgument(format!("{what}: not a ByteBuffer")));
        }
        // SAFETY: the payloads array keeps the buffers reachable for the whole call.
        planes[i] = unsafe { direct_region(env, &buffer, offset, length, &what) }?;
        env.delete_local_ref(buffer)?;
    }
    env.delete_local_ref(array)?;
    let rotation = if p[6] < 0 {
        return Err(invalid(format!("rotation must be 0, 90, 180 or 270 degrees, got {}", p[6])));
    } else {
        Rotation::from_degrees(p[6] as u32)?
    };
    Ok(YuvPlanes {
        y: planes[0],
        u: planes[1],
        v: planes[2],
        width: non_negative(p[2], "width")?,
        height: non_negative(p[3], "height")?,
        y_row_stride: non_negative(p[4], "yRowStride")? as usize,
        uv_row_stride: non_negative(p[16], "uvRowStride")? as usize,
        uv_pixel_stride: non_negative(p[17], "uvPixelStride")? as usize,
        rotation,
    })
}

/// Reads image `index` of a batch.
///
/// # Safety
/// As [`direct_region`]: the result must not outlive the native call.
pub unsafe fn batch_image<'a>(
    env: &mut JNIEnv<'_>,
    kind: jint,
    payloads: &JObjectArray<'_>,
    index: usize,
    params: &[jint],
) -> JniResult<HeldImage<'a>> {
    let name = format!("images[{index}]");
    let payload = env.get_object_array_element(payloads, index as jint)?;
    if payload.is_null() {
        return Err(null(&name));
    }
    let class = match kind {
        KIND_FILE => STRING,
        KIND_ENCODED | KIND_PIXELS_ARRAY => "[B",
        KIND_PIXELS_DIRECT => "java/nio/ByteBuffer",
        KIND_YUV420 => "[Ljava/nio/ByteBuffer;",
        other => return Err(invalid(format!("{name}: unknown image kind {other}"))),
    };
    if !env.is_instance_of(&payload, class)? {
        return Err(Failure::IllegalArgument(format!("{name}: the payload is not a {class}")));
    }
    let p = &params[index * PARAMS_PER_IMAGE..(index + 1) * PARAMS_PER_IMAGE];
    let spec = || PixelSpec::new(p[2], p[3], p[4], p[5], p[6]);
    match kind {
        KIND_FILE => {
            let text = JString::from(payload);
            let path = string(env, &text, &name)?;
            env.delete_local_ref(text)?;
            Ok(HeldImage::Path(PathBuf::from(path)))
        }
        KIND_ENCODED => {
            let array = JByteArray::from(payload);
            let bytes = whole_array(env, &array, &name)?;
            env.delete_local_ref(array)?;
            Ok(HeldImage::Encoded(Bytes::Owned(bytes)))
        }
        KIND_PIXELS_ARRAY => {
            let array = JByteArray::from(payload);
            let bytes = array_region(env, &array, p[0], p[1], &name)?;
            env.delete_local_ref(array)?;
            Ok(HeldImage::Pixels(Bytes::Owned(bytes), spec()?))
        }
        // SAFETY: as this function's.
        KIND_YUV420 => Ok(HeldImage::Yuv420(unsafe { yuv_planes(env, payload, p, &name) }?)),
        _ => {
            let buffer = JByteBuffer::from(payload);
            // The payloads array keeps the buffer reachable for the whole call.
            let bytes = unsafe { direct_region(env, &buffer, p[0], p[1], &name) }?;
            env.delete_local_ref(buffer)?;
            Ok(HeldImage::Pixels(Bytes::Borrowed(bytes), spec()?))
        }
    }
}

fn string_array<'local>(
    env: &mut JNIEnv<'local>,
    items: &[String],
) -> JniResult<JObjectArray<'local>> {
    let array = env.new_object_array(items.len() as jint, STRING, JObject::null())?;
    for (i, item) in items.iter().enumerate() {
        env.with_local_frame(LOCALS_PER_STEP, |env| -> JniResult<()> {
            let s = env.new_string(item)?;
            env.set_object_array_element(&array, i as jint, &s)?;
            Ok(())
        })?;
    }
    Ok(array)
}

/// Builds an `org.resnext.Classification` from a result, in its own local frame.
pub fn classification<'local>(
    env: &mut JNIEnv<'local>,
    result: &Classification,
) -> JniResult<JObject<'local>> {
    let capacity = 16 + result.predictions.len() as i32;
    env.with_local_frame_returning_local(capacity, |env| build_classification(env, result))
}

fn build_classification<'local>(
    env: &mut JNIEnv<'local>,
    result: &Classification,
) -> JniResult<JObject<'local>> {
    let n = result.predictions.len() as jint;
    let ids: Vec<jint> = result.predictions.iter().map(|p| p.class_id as jint).collect();
    let scores: Vec<f32> = result.predictions.iter().map(|p| p.score).collect();
    let labels: Vec<String> = result.predictions.iter().map(|p| p.label.clone()).collect();
    let id_array = env.new_int_array(n)?;
    env.set_int_array_region(&id_array, 0, &ids)?;
    let score_array = env.new_float_array(n)?;
    env.set_float_array_region(&score_array, 0, &scores)?;
    let label_array = string_array(env, &labels)?;
    let t = &result.timings;
    Ok(env.new_object(
        CLASSIFICATION,
        "([I[Ljava/lang/String;[FDDDD)V",
        &[
            JValue::Object(&id_array),
            JValue::Object(&label_array),
            JValue::Object(&score_array),
            JValue::Double(t.decode_ms),
            JValue::Double(t.preprocess_ms),
            JValue::Double(t.inference_ms),
            JValue::Double(t.postprocess_ms),
        ],
    )?)
}

/// Builds an `org.resnext.Classification[]`.
pub fn classification_array<'local>(
    env: &mut JNIEnv<'local>,
    results: &[Classification],
) -> JniResult<JObjectArray<'local>> {
    let array = env.new_object_array(results.len() as jint, CLASSIFICATION, JObject::null())?;
    for (i, result) in results.iter().enumerate() {
        env.with_local_frame(LOCALS_PER_STEP, |env| -> JniResult<()> {
            let object = classification(env, result)?;
            env.set_object_array_element(&array, i as jint, &object)?;
            Ok(())
        })?;
    }
    Ok(array)
}

fn shape(tensor: &TensorInfo) -> Vec<String> {
    tensor.shape.iter().map(|d| d.to_string()).collect()
}

/// Builds an `org.resnext.ModelInfo`.
pub fn model_info<'local>(
    env: &mut JNIEnv<'local>,
    info: &ModelInfo,
    top_k: usize,
) -> JniResult<JObject<'local>> {
    env.with_local_frame_returning_local(32, |env| build_model_info(env, info, top_k))
}

fn build_model_info<'local>(
    env: &mut JNIEnv<'local>,
    info: &ModelInfo,
    top_k: usize,
) -> JniResult<JObject<'local>> {
    {
        let input_name = env.new_string(&info.input.name)?;
        let input_shape = string_array(env, &shape(&info.input))?;
        let input_dtype = env.new_string(info.input.dtype.to_string())?;
        let output_name = env.new_string(&info.output.name)?;
        let output_shape = string_array(env, &shape(&info.output))?;
        let output_dtype = env.new_string(info.output.dtype.to_string())?;
        let precision = env.new_string(info.precision.name())?;
        let output_kind = env.new_string(info.output_kind.name())?;
        let producer = env.new_string(&info.producer)?;
        let backend = env.new_string(&info.backend)?;
        let compute = env.new_string(&info.compute)?;
        let provider = env.new_string(&info.provider)?;
        let clamp = |v: usize| v.min(i32::MAX as usize) as jint;
        let clamp64 = |v: u64| v.min(i64::MAX as u64) as i64;
        Ok(env.new_object(
            MODEL_INFO,
            "(Ljava/lang/String;[Ljava/lang/String;Ljava/lang/String;\
              Ljava/lang/String;[Ljava/lang/String;Ljava/lang/String;\
              IIILjava/lang/String;Ljava/lang/String;JJ\
              Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;II)V",
            &[
                JValue::Object(&input_name),
                JValue::Object(&input_shape),
                JValue::Object(&input_dtype),
                JValue::Object(&output_name),
                JValue::Object(&output_shape),
                JValue::Object(&output_dtype),
                JValue::Int(clamp(info.height as usize)),
                JValue::Int(clamp(info.width as usize)),
                JValue::Int(clamp(info.classes)),
                JValue::Object(&precision),
                JValue::Object(&output_kind),
                JValue::Long(clamp64(info.parameters)),
                JValue::Long(clamp64(info.model_bytes)),
                JValue::Object(&producer),
                JValue::Object(&backend),
                JValue::Object(&compute),
                JValue::Object(&provider),
                JValue::Int(clamp(info.threads)),
                JValue::Int(clamp(top_k)),
            ],
        )?)
    }
}

/// A `LIMIT_EXCEEDED` error for model bytes over the limit, raised before they are copied.
pub fn model_too_big(len: usize, max: u64) -> Failure {
    Failure::Sdk(Error::new(
        ErrorCode::LimitExceeded,
        format!("the model is {len} bytes, over the limit of {max} bytes"),
    ))
}
