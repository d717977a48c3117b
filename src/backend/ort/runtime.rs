//! Finding and loading the ONNX Runtime shared library, once per process.
//!
//! The library comes from the caller (an option), then from `ORT_DYLIB_PATH`; nothing is ever
//! downloaded. ONNX Runtime can only be loaded once in a process, so the first classifier that
//! uses this backend decides which file is loaded; asking later for a different file is an error
//! rather than a silent surprise.

use crate::error::{Error, ErrorCode, Result};
use ort::environment::Environment;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The environment variable consulted when no library path is given.
pub const LIBRARY_ENV: &str = "ORT_DYLIB_PATH";

struct Loaded {
    path: PathBuf,
    environment: Environment,
    version: String,
}

static LOADED: Mutex<Option<Loaded>> = Mutex::new(None);

/// The loaded runtime: its environment and version.
pub struct Runtime {
    /// The environment sessions are created in.
    pub environment: Environment,
    /// ONNX Runtime's version, e.g. `1.32.0`.
    pub version: String,
    /// The build description (`ort::info()`), which identifies the exact build.
    pub build_info: String,
}

fn unavailable(message: String) -> Error {
    Error::new(ErrorCode::BackendUnavailable, message)
}

/// Resolves the library path: `requested`, else `ORT_DYLIB_PATH`.
pub fn resolve_library(requested: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = requested {
        return Ok(path.to_path_buf());
    }
    match std::env::var_os(LIBRARY_ENV) {
        Some(value) if !value.is_empty() => Ok(PathBuf::from(value)),
        _ => Err(unavailable(format!(
            "the ONNX Runtime library was not found: set its path with the ort library option \
             (Rust: ClassifierOptions::ort_library, C: resnext_options_set_ort_library, Java: \
             ortLibrary, CLI: --ort-lib) or the {LIBRARY_ENV} environment variable, e.g. to the \
             libonnxruntime.so that the onnxruntime Python wheel ships in onnxruntime/capi/"
        ))),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Loads ONNX Runtime from `requested` (or `ORT_DYLIB_PATH`) if this process has not yet, and
/// returns its environment.
pub fn load(requested: Option<&Path>) -> Result<Runtime> {
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(l) = loaded.as_ref() {
        let build_info = ort::info().to_string();
        if let Some(path) = requested {
            if !same_file(path, &l.path) {
                return Err(Error::new(
                    ErrorCode::InvalidArgument,
                    format!(
                        "ONNX Runtime is already loaded from {} in this process; a process can \
                         load only one ONNX Runtime library, so {} cannot be used",
                        l.path.display(),
                        path.display()
                    ),
                ));
            }
        }
        return Ok(Runtime {
            environment: l.environment.clone(),
            version: l.version.clone(),
            build_info: format!("{} {build_info}", l.version),
        });
    }
    let path = resolve_library(requested)?;
    if !path.is_file() {
        return Err(unavailable(format!(
            "the ONNX Runtime library {} does not exist (from {})",
            path.display(),
            if requested.is_some() { "the ort library option" } else { LIBRARY_ENV }
        )));
    }
    let builder = ort::init_from(&path)
        .map_err(|e| unavailable(format!("loading ONNX Runtime from {}: {e}", path.display())))?;
    let environment = builder.with_name("resnext").build().map_err(|e| {
        unavailable(format!("creating the ONNX Runtime environment from {}: {e}", path.display()))
    })?;
    let build_info = ort::info().to_string();
    let version = library_version(&path)
        .or_else(|| version_from_build_info(&build_info))
        .unwrap_or_else(|| "unknown".into());
    log::info!("ONNX Runtime {version} loaded from {}", path.display());
    *loaded = Some(Loaded { path, environment: environment.clone(), version: version.clone() });
    let build_info = format!("{version} {build_info}");
    Ok(Runtime { environment, version, build_info })
}

/// The library's own version string (`OrtGetApiBase()->GetVersionString()`, e.g. `1.32.0`).
fn library_version(path: &Path) -> Option<String> {
    // SAFETY: the library is already loaded by `ort` (this only takes another reference);
    // `OrtGetApiBase` has this signature in every ONNX Runtime release, returns a pointer to a
    // static struct, and `GetVersionString` returns a static NUL-terminated string.
    unsafe {
        let lib = libloading::Library::new(path).ok()?;
        let get: libloading::Symbol<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase> =
            lib.get(b"OrtGetApiBase").ok()?;
        let base = get();
        if base.is_null() {
            return None;
        }
        let version = ((*base).GetVersionString)();
        (!version.is_null())
            .then(|| std::ffi::CStr::from_ptr(version).to_string_lossy().into_owned())
    }
}

/// Pulls `1.32.0` out of `ORT Build Info: git-branch=rel-1.32.0, git-commit-id=...`.
pub fn version_from_build_info(info: &str) -> Option<String> {
    let start = info.find("rel-")? + 4;
    let version: String =
        info[start..].chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    (!version.is_empty()).then_some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_come_from_the_build_string() {
        let info = "ORT Build Info: git-branch=rel-1.32.0, git-commit-id=abc, build type=Release";
        assert_eq!(version_from_build_info(info).as_deref(), Some("1.32.0"));
        assert_eq!(version_from_build_info("custom build"), None);
    }

    #[test]
    fn an_explicit_path_wins_over_the_environment() {
        let p = resolve_library(Some(Path::new("/opt/ort/libonnxruntime.so"))).unwrap();
        assert_eq!(p, Path::new("/opt/ort/libonnxruntime.so"));
    }
}
