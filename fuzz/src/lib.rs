//! Helpers shared by the fuzz targets.
//!
//! libfuzzer-sys installs a panic hook that aborts on *every* panic, including the ones the SDK
//! catches at its boundary and returns as `ErrorCode::Panic` (its contract: a panic in a decoder
//! or in tract fails one call, never the process). [`contain_panics`] replaces that hook: a
//! caught panic is reported once per source location on stderr (`resnext-fuzz: contained
//! panic at ...`, which `scripts/hardening.sh` counts as a finding) and fuzzing goes on. A panic
//! that escapes the SDK still reaches libfuzzer-sys's `catch_unwind` and aborts, and harness
//! checks abort directly ([`fail`]). `RESNEXT_FUZZ_PANIC=abort` restores abort-on-any-panic, to
//! get a crash artifact for a contained panic.

use resnext::{Error, ErrorCode};
use std::collections::HashSet;
use std::sync::{Mutex, Once};

static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Installs the panic hook (once per process).
pub fn contain_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var("RESNEXT_FUZZ_PANIC").is_ok_and(|v| v == "abort") {
            return; // keep libfuzzer-sys's aborting hook
        }
        std::panic::set_hook(Box::new(|info| {
            let location =
                info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
            let payload = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
            if seen.get_or_insert_with(HashSet::new).insert(location.clone()) {
                let payload: String = payload.chars().take(200).collect();
                eprintln!("resnext-fuzz: contained panic at {location}: {payload}");
            }
        }));
    });
}

/// A harness invariant failed: print it and abort, so libFuzzer saves the input.
pub fn fail(what: std::fmt::Arguments<'_>) -> ! {
    eprintln!("resnext-fuzz: invariant violated: {what}");
    std::process::abort();
}

/// Aborts unless `cond`.
#[macro_export]
macro_rules! check {
    ($cond:expr, $($arg:tt)*) => {
        let holds: bool = $cond;
        if !holds {
            $crate::fail(format_args!($($arg)*));
        }
    };
}

/// Aborts when an error has a code outside `allowed` (a surprising code is a bug in the
/// mapping of failures to codes, or an unexpected failure path).
pub fn expect_code(err: &Error, allowed: &[ErrorCode], context: &str) {
    // A contained panic is allowed everywhere: the hook above reported it.
    if err.code() == ErrorCode::Panic {
        return;
    }
    check!(
        allowed.contains(&err.code()),
        "{context}: unexpected error code {:?}: {err}",
        err.code()
    );
    check!(!err.message().is_empty(), "{context}: empty error message for {:?}", err.code());
}

/// Checks a preprocessed tensor: the right length, every value finite.
pub fn check_tensor(tensor: &[f32], crop: u32, context: &str) {
    let expected = 3 * crop as usize * crop as usize;
    check!(
        tensor.len() == expected,
        "{context}: tensor has {} values, expected {expected}",
        tensor.len()
    );
    check!(tensor.iter().all(|v| v.is_finite()), "{context}: non-finite value in the tensor");
}

/// The targets' bodies, one module each: `run(data)` takes one input and aborts (after printing
/// why) when an invariant fails. `fuzz_targets/*.rs` hand them to libFuzzer; the main crate's
/// `tests/fuzz_replay.rs` includes this crate's source and replays the checked-in seeds
/// through the same functions on the stable toolchain, in every CI run.
pub mod targets;
