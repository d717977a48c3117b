//! `resnext_classifier`: create, classify, inspect, free.
//!
//! Thread safety: a classifier may be used from any number of threads at once (every function
//! takes it as `const`); only `resnext_classifier_free` needs exclusive access, after all other
//! calls on it have returned.

#![allow(non_camel_case_types)]

use super::boundary::{bytes, guard, guard_value, null, reference, string};
use super::options::resnext_options;
use super::types::{
    resnext_image, resnext_image_kind, resnext_model_info, resnext_prediction, resnext_result,
    resnext_timings,
};
use crate::classifier::{Classification, Classifier};
use crate::error::{Error, ErrorCode};
use crate::image_input::ImageInput;
use crate::preprocess::{PixelBuffer, PixelFormat, Roi, Rotation, YuvPlanes};
use std::ffi::CString;
use std::os::raw::c_char;
use std::path::Path;

/// A loaded classifier (opaque). Create with `resnext_classifier_new`, free with
/// `resnext_classifier_free`.
pub struct resnext_classifier {
    inner: Classifier,
    labels: Vec<CString>,
    empty: CString,
    input_name: CString,
    output_name: CString,
    backend: CString,
    compute: CString,
    provider: CString,
}

fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

impl resnext_classifier {
    fn label_ptr(&self, class_id: usize) -> *const c_char {
        self.labels.get(class_id).unwrap_or(&self.empty).as_ptr()
    }

    fn top_k(&self) -> usize {
        self.inner.top_k()
    }
}

/// Loads the model the options name and prepares it. On success `*out` receives a classifier
/// owned by the caller.
///
/// # Safety
/// `options` must be a valid options pointer; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn resnext_classifier_new(
    options: *const resnext_options,
    out: *mut *mut resnext_classifier,
) -> resnext_result {
    guard(|| {
        let options = unsafe { reference(options, "options") }?;
        if out.is_null() {
            return Err(null("out"));
        }
        let inner = Classifier::new(options.to_options()?)?;
        let labels = (0..inner.info().classes).map(|i| c_string(inner.labels().get(i))).collect();
        let info = inner.info();
        let classifier = resnext_classifier {
            labels,
            empty: CString::default(),
            input_name: c_string(&info.input.name),
            output_name: c_string(&info.output.name),
            backend: c_string(&info.backend),
            compute: c_string(&info.compute),
            provider: c_string(&info.provider),
            inner,
        };
        unsafe { *out = Box::into_raw(Box::new(classifier)) };
        Ok(())
    })
}

/// Frees a classifier and the strings it owns (labels, names). NULL is a no-op.
///
/// # Safety
/// `classifier` must be NULL or a pointer from `resnext_classifier_new` not yet freed, with no
/// other call on it in progress.
#[no_mangle]
pub unsafe extern "C" fn resnext_classifier_free(classifier: *mut resnext_classifier) {
    if !classifier.is_null() {
        let boxed = unsafe { Box::from_raw(classifier) };
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(boxed)));
    }
}

/// Describes the classifier's model into `*out`.
///
/// # Safety
/// `classifier` must be valid; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn resnext_classifier_info(
    classifier: *const resnext_classifier,
    out: *mut resnext_model_info,
) -> resnext_result {
    guard(|| {
        let c = unsafe { reference(classifier, "classifier") }?;
        if out.is_null() {
            return Err(null("out"));
        }
        let info = c.inner.info();
        let value = resnext_model_info {
            input_name: c.input_name.as_ptr(),
            output_name: c.output_name.as_ptr(),
            height: info.height,
            width: info.width,
            classes: info.classes as u32,
            precision: info.precision as u32,
            output_kind: info.output_kind as u32,
            input_is_f16: (info.input.dtype == crate::DType::F16) as u32,
            parameters: info.parameters,
            threads: info.threads as u32,
            top_k: c.top_k() as u32,
            backend: c.backend.as_ptr(),
            compute: c.compute.as_ptr(),
            provider: c.provider.as_ptr(),
        };
        unsafe { *out = value };
        Ok(())
    })
}

/// Predictions returned per image (the top-k, already clamped to the class count). Returns 0
/// when `classifier` is NULL.
///
/// # Safety
/// `classifier` must be NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn resnext_classifier_top_k(classifier: *const resnext_classifier) -> usize {
    guard_value(0, || Ok(unsafe { reference(classifier, "classifier") }?.top_k()))
}

/// The label of class `class_id` into `*label`: a NUL-terminated UTF-8 string owned by the
/// classifier (valid until `resnext_classifier_free`; do not free it), `""` when the classifier
/// has no label for the class (no labels, or a shorter list allowed by
/// `resnext_options_set_allow_label_mismatch`). A `class_id` not below the model's class count
/// is `RESNEXT_RESULT_INVALID_ARGUMENT`; `*label` is written only on success.
///
/// # Safety
/// `classifier` must be valid; `label` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn resnext_classifier_label(
    classifier: *const resnext_classifier,
    class_id: u32,
    label: *mut *const c_char,
) -> resnext_result {
    guard(|| {
        let c = unsafe { reference(classifier, "classifier") }?;
        if label.is_null() {
            return Err(null("label"));
        }
        c.inner.label(class_id as usize)?;
        unsafe { *label = c.label_ptr(class_id as usize) };
        Ok(())
    })
}

/// Converts a C image description to an [`ImageInput`] borrowing the caller's memory, and its
/// region of interest (`None` when the four `roi_*` fields are 0). Wrap the two with
/// [`ImageInput::with_roi`].
///
/// # Safety
/// The pointers in `image` must be valid as its `kind` documents.
unsafe fn image_input<'a>(
    image: &'a resnext_image,
) -> Result<(ImageInput<'a>, Option<Roi>), Error> {
    let roi = match (image.roi_x, image.roi_y, image.roi_width, image.roi_height) {
        (0, 0, 0, 0) => None,
        (x, y, width, height) => Some(Roi { x, y, width, height }),
    };
    Ok((unsafe { image_kind(image) }?, roi))
}

/// The image `kind` describes, without its region of interest.
///
/// # Safety
/// As [`image_input`].
unsafe fn image_kind<'a>(image: &'a resnext_image) -> Result<ImageInput<'a>, Error> {
    match image.kind {
        k if k == resnext_image_kind::File as u32 => {
            Ok(ImageInput::Path(Path::new(unsafe { string(image.path, "image.path") }?)))
        }
        k if k == resnext_image_kind::Encoded as u32 => {
            Ok(ImageInput::Encoded(unsafe { bytes(image.data, image.len, "image.data") }?))
        }
        k if k == resnext_image_kind::Pixels as u32 => {
            let data = unsafe { bytes(image.data, image.len, "image.data") }?;
            let format = PixelFormat::from_u32(image.pixel_format).ok_or_else(|| {
                Error::invalid(format!("unknown pixel format {}", image.pixel_format))
            })?;
            Ok(ImageInput::Pixels(PixelBuffer {
                data,
                width: image.width,
                height: image.height,
                row_stride: image.row_stride,
                format,
                rotation: Rotation::from_degrees(image.rotation)?,
            }))
        }
        k if k == resnext_image_kind::Yuv420 as u32 => {
            let y = unsafe { bytes(image.data, image.len, "image.data") }?;
            let u = unsafe { bytes(image.u_data, image.u_len, "image.u_data") }?;
            let v = unsafe { bytes(image.v_data, image.v_len, "image.v_data") }?;
            let pixel_stride = image.uv_pixel_stride as usize;
            let tight = |stride: usize, samples: usize| {
                if stride == 0 {
                    samples.saturating_mul(pixel_stride.max(1))
                } else {
                    stride
                }
            };
            let width = image.width as usize;
            Ok(ImageInput::Yuv420(YuvPlanes {
                y,
                u,
                v,
                width: image.width,
                height: image.height,
                y_row_stride: if image.row_stride == 0 { width } else { image.row_stride },
                uv_row_stride: tight(image.uv_row_stride, width.div_ceil(2)),
                uv_pixel_stride: pixel_stride,
                rotation: Rotation::from_degrees(image.rotation)?,
            }))
        }
        other => Err(Error::invalid(format!("unknown image kind {other}"))),
    }
}

/// Writes one image's predictions into `out` (at most `out.len()`), returns how many.
fn write_predictions(
    c: &resnext_classifier,
    result: &Classification,
    out: &mut [resnext_prediction],
) -> usize {
    let n = result.predictions.len().min(out.len());
    for (slot, p) in out.iter_mut().zip(&result.predictions) {
        *slot = resnext_prediction {
            class_id: p.class_id as u32,
            score: p.score,
            label: c.label_ptr(p.class_id),
        };
    }
    n
}

fn timings(result: &Classification) -> resnext_timings {
    let t = &result.timings;
    resnext_timings {
        decode_ms: t.decode_ms,
        preprocess_ms: t.preprocess_ms,
        inference_ms: t.inference_ms,
        postprocess_ms: t.postprocess_ms,
    }
}

/// Classifies one image. On success, writes the top `min(top_k, capacity)` predictions (highest
/// score first; those under the score threshold left out, so possibly none) to `predictions`,
/// their number to `*count`, and the timings to `*timings` when `timings` is not NULL. Nothing
/// is written on failure.
///
/// # Safety
/// `classifier` and `image` must be valid; `predictions` NULL or `capacity` writable entries;
/// `count` NULL or writable; `timings` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn resnext_classify(
    classifier: *const resnext_classifier,
    image: *const resnext_image,
    predictions: *mut resnext_prediction,
    capacity: usize,
    count: *mut usize,
    timings_out: *mut resnext_timings,
) -> resnext_result {
    guard(|| {
        let c = unsafe { reference(classifier, "classifier") }?;
        let image = unsafe { reference(image, "image") }?;
        if predictions.is_null() {
            return Err(null("predictions"));
        }
        if count.is_null() {
            return Err(null("count"));
        }
        if capacity == 0 {
            return Err(Error::invalid(
                "`capacity` is 0: room for at least one prediction is needed",
            ));
        }
        let (input, roi) = unsafe { image_input(image) }?;
        let result = c.inner.classify(input.with_roi(roi))?;
        let out = unsafe { std::slice::from_raw_parts_mut(predictions, capacity) };
        let n = write_predictions(c, &result, out);
        unsafe {
            *count = n;
            if !timings_out.is_null() {
                *timings_out = timings(&result);
            }
        }
        Ok(())
    })
}

/// Classifies an image file (a convenience over `resnext_classify`).
///
/// # Safety
/// As `resnext_classify`; `path` a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn resnext_classify_file(
    classifier: *const resnext_classifier,
    path: *const c_char,
    predictions: *mut resnext_prediction,
    capacity: usize,
    count: *mut usize,
    timings_out: *mut resnext_timings,
) -> resnext_result {
    if path.is_null() {
        return guard(|| Err(null("path")));
    }
    let image = resnext_image { kind: resnext_image_kind::File as u32, path, ..Default::default() };
    unsafe { resnext_classify(classifier, &image, predictions, capacity, count, timings_out) }
}

/// Classifies encoded image bytes (JPEG, PNG, BMP, WebP).
///
/// # Safety
/// As `resnext_classify`; `data` `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn resnext_classify_encoded(
    classifier: *const resnext_classifier,
    data: *const u8,
    len: usize,
    predictions: *mut resnext_prediction,
    capacity: usize,
    count: *mut usize,
    timings_out: *mut resnext_timings,
) -> resnext_result {
    let image =
        resnext_image { kind: resnext_image_kind::Encoded as u32, data, len, ..Default::default() };
    unsafe { resnext_classify(classifier, &image, predictions, capacity, count, timings_out) }
}

/// Classifies a raw pixel buffer (`pixel_format` one of `resnext_pixel_format`, `rotation`
/// 0/90/180/270 clockwise, `row_stride` 0 for tightly packed). NV21 and NV12 need an even
/// `width` and `height` (an odd one is `RESNEXT_RESULT_INVALID_ARGUMENT`).
///
/// # Safety
/// As `resnext_classify`; `data` `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn resnext_classify_pixels(
    classifier: *const resnext_classifier,
    data: *const u8,
    len: usize,
    width: u32,
    height: u32,
    row_stride: usize,
    pixel_format: u32,
    rotation: u32,
    predictions: *mut resnext_prediction,
    capacity: usize,
    count: *mut usize,
    timings_out: *mut resnext_timings,
) -> resnext_result {
    let image = resnext_image {
        kind: resnext_image_kind::Pixels as u32,
        data,
        len,
        width,
        height,
        row_stride,
        pixel_format,
        rotation,
        ..Default::default()
    };
    unsafe { resnext_classify(classifier, &image, predictions, capacity, count, timings_out) }
}

/// Classifies `image_count` images in one batched run. Image `i`'s predictions go to
/// `predictions[i * k .. i * k + counts[i]]` where `k = resnext_classifier_top_k(classifier)`;
/// `capacity` must be at least `image_count * k`. `counts` receives `image_count` values;
/// `timings` (NULL allowed) receives `image_count` entries. The batch fails as a whole if any
/// image fails (the last error names the image's index); nothing is written then.
///
/// # Safety
/// `classifier` valid; `images` `image_count` readable entries; `predictions` `capacity`
/// writable entries; `counts` `image_count` writable values; `timings` NULL or `image_count`
/// writable entries.
#[no_mangle]
pub unsafe extern "C" fn resnext_classify_batch(
    classifier: *const resnext_classifier,
    images: *const resnext_image,
    image_count: usize,
    predictions: *mut resnext_prediction,
    capacity: usize,
    counts: *mut usize,
    timings_out: *mut resnext_timings,
) -> resnext_result {
    guard(|| {
        let c = unsafe { reference(classifier, "classifier") }?;
        if images.is_null() {
            return Err(null("images"));
        }
        if predictions.is_null() {
            return Err(null("predictions"));
        }
        if counts.is_null() {
            return Err(null("counts"));
        }
        if image_count == 0 {
            return Err(Error::invalid("`image_count` is 0"));
        }
        if image_count > crate::backend::MAX_BATCH {
            return Err(Error::new(
                ErrorCode::LimitExceeded,
                format!("at most {} images a batch", crate::backend::MAX_BATCH),
            ));
        }
        let k = c.top_k();
        let needed = image_count.checked_mul(k).ok_or_else(|| Error::invalid("batch too large"))?;
        if capacity < needed {
            return Err(Error::invalid(format!(
                "`capacity` is {capacity}; {image_count} images x top-{k} need {needed}"
            )));
        }
        let images = unsafe { std::slice::from_raw_parts(images, image_count) };
        let inputs = images
            .iter()
            .enumerate()
            .map(|(i, image)| {
                unsafe { image_input(image) }
                    .map_err(|e| Error::new(e.code(), format!("image {i}: {}", e.message())))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let inputs: Vec<ImageInput> =
            inputs.iter().map(|(input, roi)| input.with_roi(*roi)).collect();
        let results = c.inner.classify_batch(&inputs)?;
        let out = unsafe { std::slice::from_raw_parts_mut(predictions, needed) };
        let counts = unsafe { std::slice::from_raw_parts_mut(counts, image_count) };
        for (i, result) in results.iter().enumerate() {
            counts[i] = write_predictions(c, result, &mut out[i * k..(i + 1) * k]);
        }
        if !timings_out.is_null() {
            let t = unsafe { std::slice::from_raw_parts_mut(timings_out, image_count) };
            for (slot, result) in t.iter_mut().zip(&results) {
                *slot = timings(result);
            }
        }
        Ok(())
    })
}

/// The static, NUL-terminated description of a result code (never NULL; unknown codes get
/// `"unknown result code"`).
#[no_mangle]
pub extern "C" fn resnext_result_message(result: u32) -> *const c_char {
    const UNKNOWN: &str = "unknown result code\0";
    static MESSAGES: std::sync::OnceLock<Vec<CString>> = std::sync::OnceLock::new();
    let lookup = || {
        let messages =
            MESSAGES.get_or_init(|| ErrorCode::ALL.iter().map(|c| c_string(c.message())).collect());
        messages.get(result as usize).map_or(UNKNOWN.as_ptr().cast(), |m| m.as_ptr())
    };
    std::panic::catch_unwind(lookup).unwrap_or(UNKNOWN.as_ptr().cast())
}

/// The detail of the last failed call on the calling thread (`""` after a successful call).
/// Never NULL. Valid until the next `resnext_*` call on the same thread; copy it to keep it.
#[no_mangle]
pub extern "C" fn resnext_last_error_message() -> *const c_char {
    super::boundary::last_error_ptr()
}
