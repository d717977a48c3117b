//! Routing the library's `log` records to a C callback (an app's own logger, Android's logcat).

#![allow(non_camel_case_types)]

use super::boundary::guard;
use super::types::{resnext_log_level, resnext_result};
use crate::error::{Error, ErrorCode};
use std::ffi::CString;
use std::os::raw::{c_char, c_void};
use std::sync::RwLock;

/// Receives one log record: `level` is one of `resnext_log_level` (1 = error ... 5 = trace),
/// `message` a NUL-terminated UTF-8 string valid only during the call. May be called from any
/// thread, concurrently: the callback must be thread-safe.
pub type resnext_log_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, level: u32, message: *const c_char)>;

struct Sink {
    callback: unsafe extern "C" fn(*mut c_void, u32, *const c_char),
    user_data: usize,
}

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

struct CallbackLogger;

impl log::Log for CallbackLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let Ok(guard) = SINK.read() else { return };
        if let Some(sink) = guard.as_ref() {
            let text = format!("{}: {}", record.target(), record.args()).replace('\0', " ");
            if let Ok(message) = CString::new(text) {
                let level = record.level() as u32;
                // The callback is foreign code; a panic cannot come out of it, but guard anyway.
                let _ = std::panic::catch_unwind(|| unsafe {
                    (sink.callback)(sink.user_data as *mut c_void, level, message.as_ptr())
                });
            }
        }
    }

    fn flush(&self) {}
}

static LOGGER: CallbackLogger = CallbackLogger;

/// Sends the library's log records up to `max_level` (one of `resnext_log_level`; 0 turns
/// logging off) to `callback` with `user_data`. NULL `callback` removes it. Replaces any
/// previous callback: once this returns, the previous callback is no longer running and will
/// not be called again. Do not call this from inside the callback (it would wait for itself). Fails with `RESNEXT_RESULT_INVALID_ARGUMENT` if another `log` logger is
/// already installed in the process (a Rust host app's own).
///
/// # Safety
/// `callback` must be NULL or a function that stays callable, with `user_data`, until it is
/// replaced or removed.
#[no_mangle]
pub unsafe extern "C" fn resnext_set_log_callback(
    callback: resnext_log_callback,
    user_data: *mut c_void,
    max_level: u32,
) -> resnext_result {
    guard(|| {
        let level = match max_level {
            l if l == resnext_log_level::Off as u32 => log::LevelFilter::Off,
            l if l == resnext_log_level::Error as u32 => log::LevelFilter::Error,
            l if l == resnext_log_level::Warn as u32 => log::LevelFilter::Warn,
            l if l == resnext_log_level::Info as u32 => log::LevelFilter::Info,
            l if l == resnext_log_level::Debug as u32 => log::LevelFilter::Debug,
            l if l == resnext_log_level::Trace as u32 => log::LevelFilter::Trace,
            other => return Err(Error::invalid(format!("unknown log level {other}"))),
        };
        static INSTALL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        if !*INSTALL.get_or_init(|| log::set_logger(&LOGGER).is_ok()) {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                "another logger is already installed in this process",
            ));
        }
        let mut sink = SINK.write().unwrap_or_else(|p| p.into_inner());
        *sink = callback.map(|callback| Sink { callback, user_data: user_data as usize });
        log::set_max_level(if sink.is_some() { level } else { log::LevelFilter::Off });
        Ok(())
    })
}
