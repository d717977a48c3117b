//! The JNI layer behind the Java API (`bindings/java`, package `org.resnext`), compiled with the
//! `jni` feature.
//!
//! Every native method of `org.resnext.Native` is a thin `extern "system"` function whose body
//! runs inside [`boundary::run`], the one helper that:
//! - catches panics (`std::panic::catch_unwind`) and turns them into a thrown
//!   `org.resnext.ResnextException` with the `PANIC` code;
//! - turns a [`crate::Error`] into a thrown `ResnextException(code, message)` where `code` is
//!   the stable [`crate::ErrorCode`] value;
//! - turns a closed (0) handle into `IllegalStateException("closed")` and a misused argument the
//!   Java layer should have caught into `IllegalArgumentException`;
//! - leaves a Java exception raised by a JNI call (an `OutOfMemoryError`, say) pending as it is;
//! - returns a neutral value (0, `null`) whenever an exception is pending, which the JVM
//!   discards.
//!
//! Ownership: `classifierNew` returns a `jlong` holding `Box<Arc<Classifier>>`; the Java
//! `Classifier` owns it and frees it exactly once through `classifierFree` (from `close()` or
//! its cleaner), after every call using it has returned: the Java side guards the handle with a
//! read-write lock. Input arrays and buffers are only read during the call.

pub mod boundary;
pub mod convert;
pub mod natives;
