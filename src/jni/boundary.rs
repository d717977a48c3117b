//! The boundary every native method goes through: panics caught, errors thrown as Java
//! exceptions, handles checked.

use crate::classifier::Classifier;
use crate::error::{Error, ErrorCode};
use jni::objects::{JObject, JThrowable, JValue};
use jni::sys::jlong;
use jni::JNIEnv;
use std::sync::Arc;

/// The Java class every SDK error is thrown as.
pub(crate) const RESNEXT_EXCEPTION: &str = "org/resnext/ResnextException";

/// Why a native body failed, and so which Java exception it throws.
#[derive(Debug)]
pub enum Failure {
    /// An SDK error: `ResnextException(code, message)`.
    Sdk(Error),
    /// The handle is 0 (closed): `IllegalStateException`.
    Closed,
    /// A misuse the Java layer normally prevents: `IllegalArgumentException`.
    IllegalArgument(String),
    /// A JNI call failed. When it left a Java exception pending, that exception is what the
    /// caller sees; otherwise a `ResnextException` with the `PANIC` code (an internal error).
    Jni(jni::errors::Error),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Sdk(error)
    }
}

impl From<jni::errors::Error> for Failure {
    fn from(error: jni::errors::Error) -> Self {
        Failure::Jni(error)
    }
}

/// The result type of every native body.
pub type JniResult<T> = Result<T, Failure>;

/// Runs a native method's body: the one place where panics are caught and failures become Java
/// exceptions. On failure it returns `fallback` (0 or `null`), which the JVM ignores because an
/// exception is then pending. Never aborts.
pub fn run<'local, T>(
    env: &mut JNIEnv<'local>,
    fallback: T,
    body: impl FnOnce(&mut JNIEnv<'local>) -> JniResult<T>,
) -> T {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&mut *env)));
    let failure = match outcome {
        Ok(Ok(value)) => return value,
        Ok(Err(failure)) => failure,
        Err(payload) => Failure::Sdk(Error::from_panic(payload.as_ref())),
    };
    // Throwing must not unwind either (a panic in the JNI crate while building the exception).
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| throw(env, failure)));
    fallback
}

/// Throws the Java exception for `failure`, keeping an exception a JNI call left pending.
fn throw(env: &mut JNIEnv<'_>, failure: Failure) {
    let pending = env.exception_check().unwrap_or(false);
    match failure {
        Failure::Jni(_) if pending => {}
        Failure::Jni(error) => throw_resnext(
            env,
            ErrorCode::Panic as u32,
            &format!("{}: internal JNI error: {error}", ErrorCode::Panic.message()),
        ),
        other => {
            if pending {
                // Never call JNI functions with an exception pending; ours is more precise.
                let _ = env.exception_clear();
            }
            match other {
                Failure::Sdk(error) => throw_resnext(env, error.code() as u32, &error.to_string()),
                Failure::Closed => throw_plain(env, "java/lang/IllegalStateException", "closed"),
                Failure::IllegalArgument(message) => {
                    throw_plain(env, "java/lang/IllegalArgumentException", &message)
                }
                Failure::Jni(_) => unreachable!("handled above"),
            }
        }
    }
}

/// Throws `org.resnext.ResnextException(code, message)`; falls back to a `RuntimeException` if
/// that class cannot be found or built (stripped by a shrinker, say).
fn throw_resnext<'local>(env: &mut JNIEnv<'local>, code: u32, message: &str) {
    let built = (|| -> jni::errors::Result<JObject<'local>> {
        let text = env.new_string(message)?;
        env.new_object(
            RESNEXT_EXCEPTION,
            "(ILjava/lang/String;)V",
            &[JValue::Int(code as i32), JValue::Object(&text)],
        )
    })();
    match built {
        Ok(object) => {
            if env.throw(JThrowable::from(object)).is_ok() {
                return;
            }
        }
        Err(_) => {
            let _ = env.exception_clear();
        }
    }
    throw_plain(env, "java/lang/RuntimeException", &format!("{message} [code {code}]"));
}

fn throw_plain(env: &mut JNIEnv<'_>, class: &str, message: &str) {
    if env.throw_new(class, message).is_err() && !env.exception_check().unwrap_or(false) {
        // Nothing left to throw with; the JVM itself is failing. Do not abort: return.
        log::error!("resnext JNI: could not throw {class}: {message}");
    }
}

/// A new handle for `classifier`: a `jlong` holding a `Box<Arc<Classifier>>`.
pub fn into_handle(classifier: Classifier) -> jlong {
    Box::into_raw(Box::new(Arc::new(classifier))) as jlong
}

/// Borrows the classifier behind a handle; 0 (closed) fails with `IllegalStateException`.
///
/// # Safety
/// `handle` must be 0 or a value from [`into_handle`] not yet passed to [`free_handle`], and
/// stay so for the duration of the call (the Java `Classifier` guarantees it with its lock).
pub unsafe fn classifier<'a>(handle: jlong) -> JniResult<&'a Arc<Classifier>> {
    if handle == 0 {
        return Err(Failure::Closed);
    }
    Ok(unsafe { &*(handle as *const Arc<Classifier>) })
}

/// Frees a handle; 0 is a no-op.
///
/// # Safety
/// `handle` must be 0 or a value from [`into_handle`] not yet freed, with no call on it in
/// progress.
pub unsafe fn free_handle(handle: jlong) {
    if handle != 0 {
        drop(unsafe { Box::from_raw(handle as *mut Arc<Classifier>) });
    }
}

/// A NULL-argument SDK error naming the parameter.
pub fn null(name: &str) -> Failure {
    Failure::Sdk(Error::new(ErrorCode::NullArgument, format!("`{name}` is null")))
}

/// An invalid-argument SDK error.
pub fn invalid(message: impl Into<String>) -> Failure {
    Failure::Sdk(Error::invalid(message))
}

/// A non-negative `jint` as `u32`, or an invalid-argument error naming it.
pub fn non_negative(value: i32, name: &str) -> JniResult<u32> {
    u32::try_from(value).map_err(|_| invalid(format!("{name} must not be negative, got {value}")))
}
