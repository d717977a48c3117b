//! The boundary every exported function goes through: panics caught, errors recorded in a
//! thread-local "last error", pointers checked.

use super::types::resnext_result;
use crate::error::{Error, ErrorCode};
use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::os::raw::c_char;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `error` as the calling thread's last error and returns its code.
pub fn fail(error: Error) -> resnext_result {
    let text = format!("{} ({})", error.message(), error.code().message()).replace('\0', " ");
    LAST_ERROR.with(|slot| *slot.borrow_mut() = CString::new(text).unwrap_or_default());
    error.code().into()
}

/// Clears the calling thread's last error (done on success).
pub fn clear() {
    LAST_ERROR.with(|slot| *slot.borrow_mut() = CString::default());
}

/// The calling thread's last error message as a C string.
pub fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|slot| slot.borrow().as_ptr())
}

/// Runs `body` behind the panic boundary: its error (or a caught panic) becomes the result code
/// and the thread's last error; success clears the last error.
pub fn guard(body: impl FnOnce() -> Result<(), Error>) -> resnext_result {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            clear();
            resnext_result::Ok
        }
        Ok(Err(e)) => fail(e),
        Err(payload) => fail(Error::from_panic(payload.as_ref())),
    }
}

/// Like [`guard`] for functions that return a value instead of a code (`fallback` on failure).
pub fn guard_value<T>(fallback: T, body: impl FnOnce() -> Result<T, Error>) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => {
            fail(e);
            fallback
        }
        Err(payload) => {
            fail(Error::from_panic(payload.as_ref()));
            fallback
        }
    }
}

/// A NULL-argument error naming the parameter.
pub fn null(name: &str) -> Error {
    Error::new(ErrorCode::NullArgument, format!("`{name}` is NULL"))
}

/// Borrows `*ptr`, or fails with a NULL-argument error naming it.
///
/// # Safety
/// `ptr` must be NULL or point to a live `T` for the duration of the call.
pub unsafe fn reference<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Error> {
    unsafe { ptr.as_ref() }.ok_or_else(|| null(name))
}

/// Mutably borrows `*ptr`, or fails with a NULL-argument error naming it.
///
/// # Safety
/// `ptr` must be NULL or point to a live, exclusively borrowed `T` for the duration of the call.
pub unsafe fn reference_mut<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T, Error> {
    unsafe { ptr.as_mut() }.ok_or_else(|| null(name))
}

/// Reads a NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string that lives for the call.
pub unsafe fn string<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(null(name));
    }
    unsafe { CStr::from_ptr(ptr) }
        .to_str()
        .map_err(|_| Error::new(ErrorCode::Utf8, format!("`{name}` is not valid UTF-8")))
}

/// Borrows `len` bytes at `ptr`. NULL is accepted only with `len == 0` when `allow_empty`.
///
/// # Safety
/// `ptr` must be NULL or point to `len` readable bytes that live for the call.
pub unsafe fn bytes<'a>(ptr: *const u8, len: usize, name: &str) -> Result<&'a [u8], Error> {
    if ptr.is_null() {
        return Err(null(name));
    }
    if len > isize::MAX as usize {
        return Err(Error::invalid(format!("`{name}` length {len} is too large")));
    }
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}
