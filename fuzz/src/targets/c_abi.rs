//! The C ABI driven by arbitrary call sequences: every exported function, with NULL and
//! non-NULL pointers, arbitrary enum values, sizes, strides, capacities and image structs,
//! options and classifiers created, reused and freed in any order.
//!
//! The harness keeps to the header's contract and nothing more: a non-NULL pointer points to
//! memory of the length passed with it, a handle is live until freed (a freed slot is set to
//! NULL, so "use after free" becomes "use of NULL", which must fail cleanly). Everything the
//! header leaves to the library is checked: the result is a known code; the thread's last
//! error is non-empty after a failure and `""` after a success; outputs are untouched on
//! failure; predictions are in range and sorted; strings are readable. Every handle is freed
//! at the end, so LeakSanitizer (on by default in libFuzzer's ASan build) sees any leak.
//!
//! Input: a sequence of operations, one byte each (`op % 32`) followed by its arguments.
//! Harness policy, to keep iterations fast: new options get `max_pixels` 65536 and that limit
//! can only be lowered or moved up to 1 M; thread counts stay under 4 unless over the 1024
//! the library refuses; the only model that loads is the embedded 8 x 8 tiny one.

use crate::contain_panics;
use resnext::ffi::classifier::*;
use resnext::ffi::log_callback::resnext_set_log_callback;
use resnext::ffi::options::*;
use resnext::ffi::ort_options::*;
use resnext::ffi::types::*;
use resnext::ffi::version::resnext_version;
use std::ffi::CStr;
use std::os::raw::{c_char, c_void};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicUsize, Ordering};

static TINY: &[u8] = include_bytes!("../../models/tiny.onnx");
const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];
static LOG_RECORDS: AtomicUsize = AtomicUsize::new(0);

struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> u8 {
        let (first, rest) = self.data.split_first().map_or((0, &[][..]), |(f, r)| (*f, r));
        self.data = rest;
        first
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        (self.u32() as u64) << 32 | self.u32() as u64
    }
    fn f32(&mut self) -> f32 {
        f32::from_bits(self.u32())
    }
    /// The next `n` bytes (fewer at the end of the input).
    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        head
    }
    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// Paths a careless caller might pass: missing, a directory, empty files, not UTF-8, empty.
const PATHS: [&[u8]; 6] = [
    b"/nonexistent/resnext-fuzz/model.onnx\0",
    b"/\0",
    b"/dev/null\0",
    b"\xff\xfe not utf-8\0",
    b"\0",
    b"/proc/self/status\0",
];

fn path(r: &mut Reader) -> *const c_char {
    match r.u8() as usize % (PATHS.len() + 1) {
        0 => null(),
        i => PATHS[i - 1].as_ptr().cast(),
    }
}

fn c_str(ptr: *const c_char, what: &str) -> String {
    check!(!ptr.is_null(), "{what} is NULL");
    unsafe { CStr::from_ptr(ptr) }.to_string_lossy().into_owned()
}

/// Checks the result code and the thread's last error after a fallible call.
fn after(rc: resnext_result, what: &str) -> bool {
    let code = rc as u32;
    // Every code of the error table (`ErrorCode::ALL`, up to `PROVIDER_UNAVAILABLE`), no other.
    check!((code as usize) < resnext::ErrorCode::ALL.len(), "{what}: unknown result code {code}");
    let message = c_str(resnext_last_error_message(), "last error");
    if code == 0 {
        check!(message.is_empty(), "{what}: success left the last error '{message}'");
    } else {
        check!(!message.is_empty(), "{what}: failure {code} without a last error message");
        check!(
            code != resnext_result::Panic as u32 || message.contains("panic"),
            "{what}: {message}"
        );
    }
    code == 0
}

unsafe extern "C" fn log_sink(user_data: *mut c_void, level: u32, message: *const c_char) {
    check!(user_data as usize == 0x5eed, "log callback user_data");
    check!((1..=5).contains(&level), "log level {level}");
    check!(!message.is_null(), "log message NULL");
    let _ = unsafe { CStr::from_ptr(message) }.to_bytes().len();
    LOG_RECORDS.fetch_add(1, Ordering::Relaxed);
}

const SENTINEL: u32 = 0xDEAD_BEEF;

fn sentinel_predictions() -> [resnext_prediction; 16] {
    [resnext_prediction { class_id: SENTINEL, score: -1.0, label: null() }; 16]
}

/// The classifier's class count (through the ABI).
fn classes(c: *const resnext_classifier) -> u32 {
    let mut info: resnext_model_info = unsafe { std::mem::zeroed() };
    check!(
        after(unsafe { resnext_classifier_info(c, &mut info) }, "info"),
        "info of a live classifier"
    );
    info.classes
}

fn check_predictions(p: &[resnext_prediction], classes: u32, what: &str) {
    for (i, pred) in p.iter().enumerate() {
        check!(pred.class_id < classes, "{what}: class {} of {classes}", pred.class_id);
        check!((0.0..=1.0).contains(&pred.score), "{what}: score {}", pred.score);
        c_str(pred.label, "label");
        if i > 0 {
            check!(p[i - 1].score >= pred.score, "{what}: predictions not sorted");
        }
    }
}

/// An image struct from the input: any kind (valid or not), data from the input with a length
/// at most what the harness owns, arbitrary geometry.
fn image<'a>(r: &mut Reader<'a>) -> resnext_image {
    let kind = match r.u8() % 5 {
        4 => r.u32(),
        k => k as u32, // FILE, ENCODED, PIXELS, YUV420
    };
    let len = r.u16() as usize % 512;
    let data = r.bytes(len);
    let data_ptr = if r.u8().is_multiple_of(8) { null() } else { data.as_ptr() };
    let rotation = match r.u8() % 6 {
        i @ 0..=3 => i as u32 * 90,
        4 => 45,
        _ => r.u32(),
    };
    resnext_image {
        kind,
        path: path(r),
        data: data_ptr,
        len: if data_ptr.is_null() { r.u8() as usize } else { data.len() },
        width: r.u16() as u32 % 300,
        height: r.u16() as u32 % 300,
        row_stride: match r.u8() % 4 {
            0 => 0,
            1 => usize::MAX - r.u8() as usize,
            _ => r.u16() as usize,
        },
        pixel_format: r.u8() as u32 % 8,
        rotation,
        ..chroma_and_roi(r)
    }
}

/// The YUV420 planes and strides and the region of interest: planes from the input (or NULL),
/// strides small, huge or 0, a region absent, plausible or out of range.
fn chroma_and_roi(r: &mut Reader<'_>) -> resnext_image {
    let plane = |r: &mut Reader<'_>| {
        let len = r.u16() as usize % 256;
        let bytes = r.bytes(len);
        if r.u8().is_multiple_of(16) {
            (null(), r.u8() as usize)
        } else {
            (bytes.as_ptr(), bytes.len())
        }
    };
    let (u_data, u_len) = plane(r);
    let (v_data, v_len) = plane(r);
    let uv_row_stride = match r.u8() % 4 {
        0 => 0,
        1 => usize::MAX - r.u8() as usize,
        _ => r.u16() as usize % 512,
    };
    let uv_pixel_stride = match r.u8() % 4 {
        0 => 1,
        1 => 2,
        _ => r.u32(),
    };
    let (roi_x, roi_y, roi_width, roi_height) = match r.u8() % 3 {
        0 => (0, 0, 0, 0),
        1 => (r.u8() as u32, r.u8() as u32, r.u8() as u32, r.u8() as u32),
        _ => (r.u32(), r.u32(), r.u32(), r.u32()),
    };
    resnext_image {
        u_data,
        u_len,
        v_data,
        v_len,
        uv_row_stride,
        uv_pixel_stride,
        roi_x,
        roi_y,
        roi_width,
        roi_height,
        ..Default::default()
    }
}

struct State {
    options: [*mut resnext_options; 2],
    classifiers: [*mut resnext_classifier; 2],
}

impl Drop for State {
    fn drop(&mut self) {
        for c in self.classifiers {
            unsafe { resnext_classifier_free(c) };
        }
        for o in self.options {
            unsafe { resnext_options_free(o) };
        }
    }
}

fn classify_one(r: &mut Reader, clf: *const resnext_classifier, op: u8) {
    let mut preds = sentinel_predictions();
    let capacity = r.u8() as usize % 17;
    let preds_ptr = if r.u8().is_multiple_of(8) { null_mut() } else { preds.as_mut_ptr() };
    let mut count = SENTINEL as usize;
    let count_ptr = if r.u8().is_multiple_of(8) { null_mut() } else { &mut count as *mut usize };
    let mut timings = resnext_timings { decode_ms: -1.0, ..Default::default() };
    let timings_ptr = if r.u8().is_multiple_of(2) { null_mut() } else { &mut timings as *mut _ };
    let (rc, what) = unsafe {
        match op {
            0 => {
                let img = image(r);
                let img_ptr = if r.u8().is_multiple_of(8) { null() } else { &img as *const _ };
                (
                    resnext_classify(clf, img_ptr, preds_ptr, capacity, count_ptr, timings_ptr),
                    "classify",
                )
            }
            1 => {
                let len = r.u16() as usize % 1024;
                let data = r.bytes(len);
                let ptr = if r.u8().is_multiple_of(8) { null() } else { data.as_ptr() };
                let rc = resnext_classify_encoded(
                    clf,
                    ptr,
                    data.len(),
                    preds_ptr,
                    capacity,
                    count_ptr,
                    timings_ptr,
                );
                (rc, "classify_encoded")
            }
            2 => {
                let img = image(r);
                let rc = resnext_classify_pixels(
                    clf,
                    img.data,
                    img.len,
                    img.width,
                    img.height,
                    img.row_stride,
                    img.pixel_format,
                    img.rotation,
                    preds_ptr,
                    capacity,
                    count_ptr,
                    timings_ptr,
                );
                (rc, "classify_pixels")
            }
            _ => (
                resnext_classify_file(clf, path(r), preds_ptr, capacity, count_ptr, timings_ptr),
                "classify_file",
            ),
        }
    };
    if after(rc, what) {
        let top_k = unsafe { resnext_classifier_top_k(clf) };
        check!(
            count <= capacity && count <= top_k && count >= 1,
            "{what}: count {count}, capacity {capacity}, top-k {top_k}"
        );
        check_predictions(&preds[..count], classes(clf), what);
        check!(preds[count..].iter().all(|p| p.class_id == SENTINEL), "{what}: wrote past count");
        check!(timings_ptr.is_null() || timings.decode_ms >= 0.0, "{what}: timings not written");
    } else {
        check!(count == SENTINEL as usize, "{what}: count written on failure");
        check!(
            preds.iter().all(|p| p.class_id == SENTINEL),
            "{what}: predictions written on failure"
        );
        check!(timings.decode_ms == -1.0, "{what}: timings written on failure");
    }
}

fn classify_batch(r: &mut Reader, clf: *const resnext_classifier) {
    let n = r.u8() as usize % 4;
    let images: Vec<resnext_image> = (0..n).map(|_| image(r)).collect();
    let images_ptr = if r.u8().is_multiple_of(8) { null() } else { images.as_ptr() };
    let image_count = if r.u8().is_multiple_of(16) { r.u32() as usize } else { n };
    let image_count = if images_ptr.is_null() { image_count } else { image_count.min(n) };
    let mut preds = sentinel_predictions();
    let capacity = r.u8() as usize % 17;
    let mut counts = [SENTINEL as usize; 4];
    let counts_ptr = if r.u8().is_multiple_of(8) { null_mut() } else { counts.as_mut_ptr() };
    let mut timings = [resnext_timings { decode_ms: -1.0, ..Default::default() }; 4];
    let timings_ptr = if r.u8().is_multiple_of(2) { null_mut() } else { timings.as_mut_ptr() };
    let rc = unsafe {
        resnext_classify_batch(
            clf,
            images_ptr,
            image_count,
            preds.as_mut_ptr(),
            capacity,
            counts_ptr,
            timings_ptr,
        )
    };
    if after(rc, "classify_batch") {
        let k = unsafe { resnext_classifier_top_k(clf) };
        check!(
            image_count >= 1 && image_count * k <= capacity,
            "batch of {image_count} x {k} in {capacity}"
        );
        for i in 0..image_count {
            check!(counts[i] <= k, "batch count {}", counts[i]);
            check_predictions(&preds[i * k..i * k + counts[i]], classes(clf), "classify_batch");
        }
    } else {
        check!(counts.iter().all(|&c| c == SENTINEL as usize), "batch counts written on failure");
        check!(
            preds.iter().all(|p| p.class_id == SENTINEL),
            "batch predictions written on failure"
        );
        check!(timings.iter().all(|t| t.decode_ms == -1.0), "batch timings written on failure");
    }
}

/// One fuzz input through this target; aborts (after printing why) when an invariant fails.
pub fn run(data: &[u8]) {
    contain_panics();
    let mut r = Reader { data };
    let mut s = State { options: [null_mut(); 2], classifiers: [null_mut(); 2] };
    let mut ops = 0;
    while !r.is_empty() && ops < 48 {
        ops += 1;
        let op = r.u8() % 32;
        let slot = r.u8() as usize;
        let o = s.options[slot % 2];
        let c = s.classifiers[slot % 2];
        unsafe {
            match op {
                0 => {
                    resnext_options_free(o);
                    let fresh = resnext_options_new();
                    check!(!fresh.is_null(), "options_new returned NULL");
                    s.options[slot % 2] = fresh;
                    check!(
                        after(resnext_options_set_max_pixels(fresh, 1 << 16), "max_pixels"),
                        "max_pixels"
                    );
                }
                1 => {
                    resnext_options_free(o);
                    s.options[slot % 2] = null_mut();
                }
                2 => {
                    // The configuration that loads: tiny model, 8 x 8, one thread, no labels.
                    let ok = after(
                        resnext_options_set_model_bytes(o, TINY.as_ptr(), TINY.len()),
                        "model_bytes",
                    ) & after(
                        resnext_options_set_preprocess(o, 8, 8, MEAN.as_ptr(), STD.as_ptr()),
                        "preprocess",
                    ) & after(resnext_options_set_threads(o, 1), "threads")
                        & after(resnext_options_set_no_labels(o), "no_labels");
                    check!(ok != o.is_null(), "setting up valid options failed");
                }
                3 => {
                    let len = r.u16() as usize % 2048;
                    let bytes = r.bytes(len);
                    let ptr = match r.u8() % 4 {
                        0 => null(),
                        _ => bytes.as_ptr(),
                    };
                    after(resnext_options_set_model_bytes(o, ptr, bytes.len()), "model_bytes");
                }
                4 => {
                    after(resnext_options_set_model_path(o, path(&mut r)), "model_path");
                }
                5 => {
                    after(resnext_options_set_preset(o, r.u32() % 4), "preset");
                }
                6 => {
                    let (resize, crop) = (r.u16() as u32 % 5000, r.u16() as u32 % 5000);
                    let mean = [r.f32(), r.f32(), r.f32()];
                    let std = [r.f32(), r.f32(), r.f32()];
                    let flags = r.u8();
                    let mean_ptr = if flags & 1 == 0 {
                        MEAN.as_ptr()
                    } else if flags & 4 == 0 {
                        mean.as_ptr()
                    } else {
                        null()
                    };
                    let std_ptr = if flags & 2 == 0 {
                        STD.as_ptr()
                    } else if flags & 8 == 0 {
                        std.as_ptr()
                    } else {
                        null()
                    };
                    after(
                        resnext_options_set_preprocess(o, resize, crop, mean_ptr, std_ptr),
                        "preprocess",
                    );
                }
                7 => {
                    after(resnext_options_set_top_k(o, r.u32() % 20), "top_k");
                }
                8 => {
                    let t = r.u32();
                    let t = if t <= 1024 { t % 4 } else { t };
                    after(resnext_options_set_threads(o, t), "threads");
                }
                9 => {
                    after(resnext_options_set_labels_file(o, path(&mut r)), "labels_file");
                }
                10 => {
                    after(resnext_options_set_no_labels(o), "no_labels");
                    after(
                        resnext_options_set_allow_label_mismatch(o, r.u32()),
                        "allow_label_mismatch",
                    );
                }
                11 => {
                    after(resnext_options_set_backend(o, r.u32() % 4), "backend");
                }
                12 => {
                    let px = r.u64();
                    after(
                        resnext_options_set_max_pixels(
                            o,
                            if px > 1 << 20 { px % (1 << 20) } else { px },
                        ),
                        "max_pixels",
                    );
                    after(resnext_options_set_max_model_bytes(o, r.u64()), "max_model_bytes");
                }
                13 => {
                    let mut out: *mut resnext_classifier = null_mut();
                    let out_ptr =
                        if r.u8().is_multiple_of(8) { null_mut() } else { &mut out as *mut _ };
                    let ok = after(resnext_classifier_new(o, out_ptr), "classifier_new");
                    check!(ok != out.is_null(), "classifier_new: success {ok} but out {out:?}");
                    if ok {
                        let slot = r.u8() as usize % 2;
                        resnext_classifier_free(s.classifiers[slot]);
                        s.classifiers[slot] = out;
                    }
                }
                14 => {
                    resnext_classifier_free(c);
                    s.classifiers[slot % 2] = null_mut();
                }
                15 => {
                    let mut info: resnext_model_info = std::mem::zeroed();
                    info.classes = SENTINEL;
                    let info_ptr =
                        if r.u8().is_multiple_of(8) { null_mut() } else { &mut info as *mut _ };
                    if after(resnext_classifier_info(c, info_ptr), "info") {
                        check!(
                            info.classes >= 1 && info.top_k >= 1 && info.top_k <= info.classes,
                            "info {info:?}"
                        );
                        for p in [info.input_name, info.output_name, info.backend, info.compute] {
                            c_str(p, "info string");
                        }
                    } else {
                        check!(info.classes == SENTINEL, "info written on failure");
                    }
                }
                16 => {
                    let k = resnext_classifier_top_k(c);
                    check!((k == 0) == c.is_null(), "top_k {k} for {c:?}");
                }
                17..=20 => classify_one(&mut r, c, op - 17),
                21 => classify_batch(&mut r, c),
                22 => {
                    c_str(resnext_result_message(r.u32()), "result message");
                    c_str(resnext_last_error_message(), "last error");
                    c_str(resnext_version(), "version");
                }
                24 => {
                    after(resnext_options_set_ort_library(o, path(&mut r)), "ort_library");
                }
                25 => {
                    let (provider, device) = (r.u32() % 5, r.u32() % 3);
                    after(
                        resnext_options_set_execution_provider(o, provider, device),
                        "execution_provider",
                    );
                }
                26 => {
                    after(resnext_options_set_fallback(o, r.u32() % 4), "fallback");
                }
                27 => {
                    let (fp16, int8) = (r.u32() % 3, r.u32() % 3);
                    after(
                        resnext_options_set_tensorrt_precision(o, fp16, int8, path(&mut r)),
                        "tensorrt_precision",
                    );
                }
                28 => {
                    after(resnext_options_set_tensorrt_workspace(o, r.u64()), "tensorrt_workspace");
                    after(
                        resnext_options_set_tensorrt_dla_core(o, r.u32() as i32),
                        "tensorrt_dla_core",
                    );
                }
                29 => {
                    let (engines, timing) = (path(&mut r), path(&mut r));
                    after(
                        resnext_options_set_tensorrt_cache_dirs(o, engines, timing),
                        "tensorrt_cache_dirs",
                    );
                }
                30 => {
                    let (min, opt, max) = (r.u32() % 10, r.u32() % 10, r.u32() % 10);
                    after(
                        resnext_options_set_tensorrt_batch_profile(o, min, opt, max),
                        "tensorrt_batch_profile",
                    );
                }
                31 => {
                    after(resnext_options_set_cpu_kernels(o, r.u32() % 6), "cpu_kernels");
                    after(
                        resnext_options_set_allow_truncated_images(o, r.u32()),
                        "allow_truncated_images",
                    );
                }
                _ => {
                    let level = r.u32() % 8;
                    let cb = if r.u8().is_multiple_of(2) { None } else { Some(log_sink as _) };
                    after(
                        resnext_set_log_callback(cb, 0x5eed as *mut c_void, level),
                        "log_callback",
                    );
                }
            }
        }
    }
    drop(s);
}
