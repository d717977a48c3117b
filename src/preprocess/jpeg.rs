//! JPEG decoding to RGB8, pixel-identical to OpenCV's `cv2.imread` / `cv2.imdecode`.
//!
//! OpenCV decodes JPEG with libjpeg-turbo at its defaults: the accurate integer ("islow")
//! inverse DCT, fancy (triangle-filter) chroma upsampling, block smoothing for progressive
//! scans, and libjpeg's YCbCr to RGB conversion. Pure-Rust decoders use other IDCTs and
//! upsamplers and differ by up to 4 intensity levels, which after normalization is 0.07 — more
//! than the one-level bound (0.02) the preprocessing is held to against OpenCV's PaddleClas
//! pipeline. So JPEG goes through libjpeg-turbo's own decoder, as built by `mozjpeg-sys`
//! (MozJPEG 4.1 is libjpeg-turbo with an improved *encoder*; its decoder is libjpeg-turbo's),
//! through the plain libjpeg API, with those same settings made explicit. Baseline, progressive
//! and arithmetic-coded files, every chroma subsampling, grayscale, RGB, CMYK and YCCK decode
//! exactly as `cv2.imread` does (max difference 0; see `tests/jpeg_decoding.rs`).
//!
//! * Grayscale files come out with the grey value in all three channels (libjpeg's gray to RGB
//!   conversion, as OpenCV's `IMREAD_COLOR`).
//! * CMYK and YCCK files (libjpeg converts YCCK to CMYK) are converted to RGB with OpenCV's
//!   integer formula (`icvCvt_CMYK2BGR_8u_C4C3R`), values taken as stored (Adobe's inverted
//!   CMYK, as Photoshop writes it).
//! * The EXIF orientation (APP1 `Exif` segment) is returned for the caller to apply, as the
//!   `image` crate's decoder reported it before; OpenCV applies it too.
//! * The header's dimensions are checked against [`DecodeLimits`] before any pixel memory is
//!   allocated; progressive files are refused beyond 1000 scans (a known denial-of-service
//!   pattern: each scan rereads the whole coefficient buffer).
//!
//! Errors never abort and nothing is printed: libjpeg's `error_exit` (which prints and calls
//! `exit()` by default) is replaced by an `extern "C-unwind"` function that records the message
//! and unwinds with [`std::panic::resume_unwind`] (no panic hook runs) through the C frames,
//! which `mozjpeg-sys` compiles with `-fexceptions` (its `unwinding` feature); the unwind is
//! caught here with `catch_unwind`, the libjpeg object is destroyed by a guard, and the message
//! becomes an [`ErrorCode::ImageDecode`] error. This needs `panic = "unwind"`, which every
//! profile of the crate has (the C and JNI panic boundaries need it too).
//!
//! libjpeg *warnings* (`emit_message` level -1) are how it reports data that ends early
//! ("Premature end of JPEG file", "premature end of data segment") or corrupt entropy-coded
//! data; it then fills in the rest (grey) and goes on, as `cv2.imread` accepts. Unless the
//! caller allows truncated images, such a warning fails the decode (the message says
//! "truncated" for data that ends early); allowed, the partial frame is kept with a logged
//! warning. Extraneous bytes between markers change no pixel and are only logged.

use super::decode::DecodeLimits;
use super::RgbImage;
use crate::error::{Error, ErrorCode, Result};
use image::metadata::Orientation;
use mozjpeg_sys::*;
use std::ffi::CStr;
use std::os::raw::{c_int, c_uint, c_ulong};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

/// More scans than any sane progressive encoder writes (libjpeg-turbo's documentation suggests
/// limiting hostile progressive files this way).
const MAX_SCANS: c_int = 1000;

/// The payload unwound with out of libjpeg; never a real panic, so no panic hook runs.
struct JpegUnwind;

/// What a libjpeg message is about, from its template.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The data ends before the image does.
    Truncated,
    /// Junk bytes between markers: no pixel changes.
    Harmless,
    /// Anything else.
    Corrupt,
}

/// The error manager plus the per-decode state; `mgr` must stay the first field (libjpeg only
/// knows `cinfo.err`, which is cast back).
#[repr(C)]
struct ErrCtx {
    mgr: jpeg_error_mgr,
    allow_truncated: bool,
    /// The data was found to end early (a warning or an error said so).
    saw_eof: bool,
    /// The first warning kept in a partial decode (logged once at the end).
    warning: Option<String>,
    /// The message of the failure being unwound.
    message: Option<String>,
}

unsafe fn ctx_of(cinfo: &mut jpeg_common_struct) -> &mut ErrCtx {
    &mut *(cinfo.err as *mut ErrCtx)
}

/// The text libjpeg would print for the current message (with its parameters).
unsafe fn message_text(cinfo: &mut jpeg_common_struct) -> String {
    let buf = [0u8; 80]; // JMSG_LENGTH_MAX
    if let Some(format) = (*cinfo.err).format_message {
        format(cinfo, &buf);
    }
    CStr::from_bytes_until_nul(&buf).map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The unformatted template of the current message.
unsafe fn template(cinfo: &jpeg_common_struct) -> &'static str {
    let err = &*cinfo.err;
    let code = err.msg_code;
    if code < 0 || code > err.last_jpeg_message || err.jpeg_message_table.is_null() {
        return "";
    }
    let p = *err.jpeg_message_table.offset(code as isize);
    if p.is_null() {
        return "";
    }
    CStr::from_ptr(p).to_str().unwrap_or("")
}

unsafe fn kind(cinfo: &jpeg_common_struct) -> Kind {
    let t = template(cinfo);
    // JWRN_JPEG_EOF "Premature end of JPEG file", JERR_INPUT_EOF "Premature end of input
    // file", JERR_INPUT_EMPTY "Empty input file", JWRN_HIT_MARKER "Corrupt JPEG data:
    // premature end of data segment".
    if t.starts_with("Premature end of")
        || t.starts_with("Empty input file")
        || t.contains("premature end of data segment")
    {
        Kind::Truncated
    } else if t.contains("extraneous bytes before marker") {
        Kind::Harmless
    } else {
        Kind::Corrupt
    }
}

unsafe extern "C-unwind" fn error_exit(cinfo: &mut jpeg_common_struct) {
    let truncated = kind(cinfo) == Kind::Truncated;
    let text = message_text(cinfo);
    let ctx = ctx_of(cinfo);
    ctx.saw_eof |= truncated;
    let message = if ctx.saw_eof {
        format!("the image data is truncated ({text})")
    } else {
        format!("decoding the image: invalid JPEG: {text}")
    };
    ctx.message.get_or_insert(message);
    resume_unwind(Box::new(JpegUnwind));
}

unsafe extern "C-unwind" fn emit_message(cinfo: &mut jpeg_common_struct, level: c_int) {
    if level >= 0 {
        return; // trace messages
    }
    let kind = kind(cinfo);
    let text = message_text(cinfo);
    let ctx = ctx_of(cinfo);
    ctx.mgr.num_warnings += 1;
    ctx.saw_eof |= kind == Kind::Truncated;
    if kind == Kind::Harmless {
        log::warn!("decoding a JPEG: {text}");
        return;
    }
    if ctx.allow_truncated {
        ctx.warning.get_or_insert(text);
        return;
    }
    ctx.message.get_or_insert(match kind {
        Kind::Truncated => format!(
            "the image data is truncated: {text} (allow truncated images to decode the partial \
             frame)"
        ),
        _ => format!(
            "decoding the image: corrupt JPEG data: {text} (allow truncated images to decode \
             what it holds)"
        ),
    });
    resume_unwind(Box::new(JpegUnwind));
}

unsafe extern "C-unwind" fn output_message(_cinfo: &mut jpeg_common_struct) {}

unsafe extern "C-unwind" fn progress_monitor(cinfo: &mut jpeg_common_struct) {
    // Only ever installed on a decompressor.
    let d = &*(cinfo as *mut jpeg_common_struct as *const jpeg_decompress_struct);
    if d.input_scan_number > MAX_SCANS {
        let ctx = ctx_of(cinfo);
        ctx.message.get_or_insert(format!(
            "decoding the image: invalid JPEG: more than {MAX_SCANS} progressive scans"
        ));
        resume_unwind(Box::new(JpegUnwind));
    }
}

/// Owns the libjpeg object; destroying it frees every libjpeg pool, on the normal path and
/// while unwinding out of libjpeg (`jpeg_destroy_decompress` raises no error). Zeroed before
/// `jpeg_create_decompress`, so dropping after a failed create is a no-op.
struct Decompressor(Box<jpeg_decompress_struct>);

impl Drop for Decompressor {
    fn drop(&mut self) {
        unsafe { jpeg_destroy_decompress(&mut self.0) };
    }
}

/// CMYK to RGB exactly as OpenCV's `icvCvt_CMYK2BGR_8u_C4C3R` (which `cv2.imread` uses for
/// 4-channel JPEGs), channels in RGB order.
fn cmyk_to_rgb(cmyk: &[u8], rgb: &mut [u8]) {
    for (s, d) in cmyk.chunks_exact(4).zip(rgb.chunks_exact_mut(3)) {
        let k = s[3] as i32;
        for c in 0..3 {
            d[c] = (k - (((255 - s[c] as i32) * k) >> 8)) as u8;
        }
    }
}

/// The orientation in the first APP1 `Exif` segment libjpeg saved, if any.
unsafe fn exif_orientation(cinfo: &jpeg_decompress_struct) -> Orientation {
    let mut marker = cinfo.marker_list;
    while let Some(m) = marker.as_ref() {
        if m.marker == 0xE1 && !m.data.is_null() {
            let data = std::slice::from_raw_parts(m.data, m.data_length as usize);
            if let Some(tiff) = data.strip_prefix(b"Exif\0\0") {
                return Orientation::from_exif_chunk(tiff).unwrap_or(Orientation::NoTransforms);
            }
        }
        marker = m.next;
    }
    Orientation::NoTransforms
}

/// Decodes JPEG bytes to RGB8 as `cv2.imdecode(bytes, IMREAD_COLOR)` does (before its EXIF
/// rotation, channels in RGB order), and returns the EXIF orientation to apply.
///
/// `limits.max_pixels` is checked against the header before the pixel buffer is allocated.
/// Data that ends early fails with [`ErrorCode::ImageDecode`] and a message saying
/// "truncated", and corrupt entropy-coded data fails too, unless `limits.allow_truncated` is
/// set: then libjpeg's recovery is kept (the missing part grey), with a warning logged. Data
/// cut inside its headers fails either way.
pub fn decode_jpeg(bytes: &[u8], limits: &DecodeLimits) -> Result<(RgbImage, Orientation)> {
    if bytes.is_empty() {
        return Err(Error::new(ErrorCode::ImageDecode, "the image is empty (0 bytes)"));
    }
    let Ok(len) = c_ulong::try_from(bytes.len()) else {
        return Err(Error::new(ErrorCode::LimitExceeded, "the JPEG data is too large"));
    };
    let mut err = Box::new(ErrCtx {
        mgr: unsafe { std::mem::zeroed() },
        allow_truncated: limits.allow_truncated,
        saw_eof: false,
        warning: None,
        message: None,
    });
    unsafe { jpeg_std_error(&mut err.mgr) };
    err.mgr.error_exit = Some(error_exit);
    err.mgr.emit_message = Some(emit_message);
    err.mgr.output_message = Some(output_message);
    let mut progress: Box<jpeg_progress_mgr> = Box::new(unsafe { std::mem::zeroed() });
    progress.progress_monitor = Some(progress_monitor);
    let errp = &mut *err as *mut ErrCtx as *mut jpeg_error_mgr; // repr(C), first field
    let progressp: *mut jpeg_progress_mgr = &mut *progress;

    let result = catch_unwind(AssertUnwindSafe(|| -> Result<(RgbImage, Orientation)> {
        unsafe {
            let mut d = Decompressor(Box::new(std::mem::zeroed()));
            let cinfo = &mut *d.0;
            cinfo.common.err = errp;
            jpeg_create_decompress(cinfo);
            cinfo.common.progress = progressp;
            jpeg_mem_src(cinfo, bytes.as_ptr(), len);
            jpeg_save_markers(cinfo, 0xE1, 0xFFFF as c_uint);
            jpeg_read_header(cinfo, 1);
            let (width, height) = (cinfo.image_width, cinfo.image_height);
            limits.check(width, height)?;
            let orientation = exif_orientation(cinfo);
            let cmyk =
                matches!(cinfo.jpeg_color_space, J_COLOR_SPACE::JCS_CMYK | J_COLOR_SPACE::JCS_YCCK);
            // libjpeg-turbo's defaults, set explicitly: what cv2.imread gets.
            cinfo.out_color_space =
                if cmyk { J_COLOR_SPACE::JCS_CMYK } else { J_COLOR_SPACE::JCS_EXT_RGB };
            cinfo.dct_method = J_DCT_METHOD::JDCT_ISLOW;
            cinfo.do_fancy_upsampling = 1;
            cinfo.do_block_smoothing = 1;
            cinfo.scale_num = 1;
            cinfo.scale_denom = 1;
            jpeg_start_decompress(cinfo);
            let (out_w, out_h) = (cinfo.output_width, cinfo.output_height);
            let channels = cinfo.output_components as usize;
            if (out_w, out_h) != (width, height) || channels != if cmyk { 4 } else { 3 } {
                return Err(Error::new(
                    ErrorCode::ImageDecode,
                    format!(
                        "decoding the image: unexpected JPEG output {out_w}x{out_h}x{channels}"
                    ),
                ));
            }
            let w = width as usize;
            let rgb_len = (w as u64 * height as u64 * 3)
                .try_into()
                .map_err(|_| Error::new(ErrorCode::LimitExceeded, "the image is too large"))?;
            let mut rgb: Vec<u8> = Vec::new();
            rgb.try_reserve_exact(rgb_len).map_err(|_| {
                Error::new(ErrorCode::LimitExceeded, "out of memory for the decoded image")
            })?;
            rgb.resize(rgb_len, 0);
            let row_bytes = w * channels;
            let mut cmyk_rows = if cmyk { vec![0u8; row_bytes * 4] } else { Vec::new() };
            while cinfo.output_scanline < out_h {
                let y = cinfo.output_scanline as usize;
                let n = (out_h as usize - y).min(4);
                let mut rows = [std::ptr::null_mut::<u8>(); 4];
                for (i, row) in rows.iter_mut().enumerate().take(n) {
                    *row = if cmyk {
                        cmyk_rows.as_mut_ptr().add(i * row_bytes)
                    } else {
                        rgb.as_mut_ptr().add((y + i) * row_bytes)
                    };
                }
                let got = jpeg_read_scanlines(cinfo, rows.as_mut_ptr(), n as c_uint) as usize;
                if got == 0 {
                    // Only a suspending source returns no rows; the memory source never does.
                    return Err(Error::new(
                        ErrorCode::ImageDecode,
                        "decoding the image: the JPEG decoder made no progress",
                    ));
                }
                if cmyk {
                    cmyk_to_rgb(
                        &cmyk_rows[..got * row_bytes],
                        &mut rgb[y * w * 3..(y + got) * w * 3],
                    );
                }
            }
            jpeg_finish_decompress(cinfo);
            Ok((RgbImage { width, height, data: rgb }, orientation))
        }
    }));
    match result {
        Ok(Ok(decoded)) => {
            if let Some(warning) = err.warning.take() {
                log::warn!(
                    "decoding a {} JPEG: keeping the partial frame ({warning})",
                    if err.saw_eof { "truncated" } else { "corrupt" }
                );
            }
            Ok(decoded)
        }
        Ok(Err(e)) => Err(e),
        Err(payload) if payload.is::<JpegUnwind>() => Err(Error::new(
            ErrorCode::ImageDecode,
            err.message.take().unwrap_or_else(|| "decoding the image: invalid JPEG".into()),
        )),
        Err(payload) => resume_unwind(payload), // a real panic: decode_rgb's catch_panic reports it
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmyk_like_opencv() {
        let mut rgb = [0u8; 6];
        cmyk_to_rgb(&[255, 255, 255, 255, 0, 128, 255, 200], &mut rgb);
        assert_eq!(rgb, [255, 255, 255, 1, 101, 200]);
    }
}
