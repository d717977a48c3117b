//! The TensorRT engine cache: one directory per key, verified before ONNX Runtime reads it.
//!
//! ONNX Runtime's TensorRT provider writes serialized engines into the directory it is given and
//! loads whatever it finds there. On its own it can load an engine built for another model
//! revision, another TensorRT version or another GPU. The SDK therefore gives it a directory
//! whose name is derived from everything an engine depends on ([`CacheKey`]) and keeps a manifest
//! that lists the key and the SHA-256 of every file the build produced ([`seal`]). Before a
//! session is created, [`prepare`] checks the manifest: a missing or foreign manifest, or a file
//! whose hash changed (truncated, corrupted, replaced), empties the directory with a warning, so
//! the engine is rebuilt instead of deserialized.

use crate::error::{Error, ErrorCode, Result};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// Manifest file name inside a cache directory.
pub const MANIFEST: &str = "resnext-engine-cache.manifest";
const FORMAT: &str = "resnext-engine-cache 1";

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Everything a serialized TensorRT engine depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    /// SHA-256 of the ONNX file.
    pub model_sha256: String,
    /// ONNX Runtime's version (its build string identifies the exact build).
    pub ort_version: String,
    /// TensorRT's version, or `unknown` when it cannot be read.
    pub tensorrt_version: String,
    /// The GPU: ordinal, name and compute capability when known.
    pub device: String,
    /// Precision and build options: fp16, int8, calibration table, DLA core, batch profile.
    pub precision: String,
}

impl CacheKey {
    /// The key's canonical text (also the manifest's header).
    pub fn canonical(&self) -> String {
        format!(
            "{FORMAT}\nmodel_sha256={}\nonnxruntime={}\ntensorrt={}\ndevice={}\nprecision={}\n",
            self.model_sha256,
            one_line(&self.ort_version),
            one_line(&self.tensorrt_version),
            one_line(&self.device),
            one_line(&self.precision)
        )
    }

    /// The directory name for this key: the model hash's first 12 hex digits (so a user can
    /// see which model a directory belongs to) and 16 hex digits of the whole key's hash.
    pub fn dir_name(&self) -> String {
        let whole = sha256_hex(self.canonical().as_bytes());
        format!("{}-{}", &self.model_sha256[..12.min(self.model_sha256.len())], &whole[..16])
    }
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// What [`prepare`] found in the cache directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheState {
    /// No engine yet: the build will take a while and is logged.
    Empty,
    /// A sealed cache whose files all match the manifest: ONNX Runtime loads the engine.
    Valid,
    /// The directory held something unusable, now removed; the engine is rebuilt. The string
    /// says why (also logged as a warning).
    Discarded(String),
}

/// A cache directory ready for ONNX Runtime.
#[derive(Debug, Clone)]
pub struct PreparedCache {
    /// The directory to pass as the engine cache path.
    pub dir: PathBuf,
    /// What was there.
    pub state: CacheState,
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::new(ErrorCode::Io, format!("{what} {}: {e}", path.display()))
}

/// Creates (if needed) and verifies the directory for `key` under `root`.
pub fn prepare(root: &Path, key: &CacheKey) -> Result<PreparedCache> {
    let dir = root.join(key.dir_name());
    fs::create_dir_all(&dir).map_err(|e| io_error("creating the engine cache", &dir, e))?;
    let files = cache_files(&dir)?;
    let state = if files.is_empty() {
        CacheState::Empty
    } else {
        match verify(&dir, key, &files) {
            Ok(()) => CacheState::Valid,
            Err(reason) => {
                log::warn!(
                    "TensorRT engine cache {}: {reason}; discarding it and rebuilding the engine",
                    dir.display()
                );
                clear(&dir)?;
                CacheState::Discarded(reason)
            }
        }
    };
    Ok(PreparedCache { dir, state })
}

/// Files in `dir` other than the manifest, sorted by name.
fn cache_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| io_error("reading the engine cache", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_error("reading the engine cache", dir, e))?;
        let path = entry.path();
        if path.file_name().is_some_and(|n| n != MANIFEST) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Checks the manifest against `key` and every file against its recorded hash.
fn verify(dir: &Path, key: &CacheKey, files: &[PathBuf]) -> std::result::Result<(), String> {
    let manifest = fs::read_to_string(dir.join(MANIFEST))
        .map_err(|e| format!("no readable manifest ({e}); an earlier build was interrupted?"))?;
    let header = key.canonical();
    let Some(listing) = manifest.strip_prefix(&header) else {
        return Err(
            "the manifest was written for another model, runtime, device or precision".to_string()
        );
    };
    let mut recorded = Vec::new();
    for line in listing.lines().filter(|l| !l.is_empty()) {
        let Some((hash, name)) = line.strip_prefix("file ").and_then(|l| l.split_once(' ')) else {
            return Err(format!("the manifest has an unreadable line '{line}'"));
        };
        recorded.push((name.to_string(), hash.to_string()));
    }
    if recorded.is_empty() {
        return Err("the manifest lists no engine files".to_string());
    }
    let names: Vec<String> =
        files.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy().into()).collect();
    for (name, hash) in &recorded {
        if !names.contains(name) {
            return Err(format!("engine file '{name}' is missing"));
        }
        let bytes = fs::read(dir.join(name)).map_err(|e| format!("'{name}' is unreadable: {e}"))?;
        if &sha256_hex(&bytes) != hash {
            return Err(format!("engine file '{name}' changed since it was built (corrupt?)"));
        }
    }
    if let Some(extra) = names.iter().find(|n| !recorded.iter().any(|(r, _)| r == *n)) {
        return Err(format!("'{extra}' is not listed in the manifest"));
    }
    Ok(())
}

/// Removes every file in the cache directory (the directory itself stays).
pub fn clear(dir: &Path) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(|e| io_error("reading the engine cache", dir, e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let removed =
            if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
        removed.map_err(|e| io_error("clearing the engine cache", &path, e))?;
    }
    Ok(())
}

/// Records the files a successful build left in `dir` with their hashes. Written to a
/// temporary file and renamed, so a crash never leaves a half-written manifest behind.
pub fn seal(dir: &Path, key: &CacheKey) -> Result<usize> {
    let files = cache_files(dir)?;
    let mut manifest = key.canonical();
    for path in &files {
        if !path.is_file() {
            continue;
        }
        let bytes = fs::read(path).map_err(|e| io_error("reading", path, e))?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let _ = writeln!(manifest, "file {} {name}", sha256_hex(&bytes));
    }
    let tmp = dir.join(format!("{MANIFEST}.tmp"));
    fs::write(&tmp, manifest).map_err(|e| io_error("writing", &tmp, e))?;
    let target = dir.join(MANIFEST);
    fs::rename(&tmp, &target).map_err(|e| io_error("writing", &target, e))?;
    Ok(files.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CacheKey {
        CacheKey {
            model_sha256: sha256_hex(b"model"),
            ort_version: "1.32.0".into(),
            tensorrt_version: "10.3.0".into(),
            device: "0: Tesla T4 (sm_75)".into(),
            precision: "fp16 batch 1/4/8".into(),
        }
    }

    fn temp_root(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("resnext-cache-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn every_component_changes_the_directory() {
        let base = key();
        let variants = [
            CacheKey { model_sha256: sha256_hex(b"model v2"), ..base.clone() },
            CacheKey { ort_version: "1.33.0".into(), ..base.clone() },
            CacheKey { tensorrt_version: "10.4.0".into(), ..base.clone() },
            CacheKey { device: "1: Tesla T4 (sm_75)".into(), ..base.clone() },
            CacheKey { precision: "fp32 batch 1/4/8".into(), ..base.clone() },
        ];
        for v in &variants {
            assert_ne!(v.dir_name(), base.dir_name(), "{v:?}");
        }
        assert_eq!(base.dir_name(), key().dir_name(), "the key is deterministic");
        assert!(base.dir_name().starts_with(&base.model_sha256[..12]));
    }

    #[test]
    fn a_sealed_cache_is_reused() {
        let root = temp_root("valid");
        let prepared = prepare(&root, &key()).unwrap();
        assert_eq!(prepared.state, CacheState::Empty);
        fs::write(prepared.dir.join("engine.engine"), b"serialized engine").unwrap();
        fs::write(prepared.dir.join("engine.profile"), b"profile").unwrap();
        assert_eq!(seal(&prepared.dir, &key()).unwrap(), 2);
        let again = prepare(&root, &key()).unwrap();
        assert_eq!(again.state, CacheState::Valid);
        assert!(again.dir.join("engine.engine").exists());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_corrupt_engine_is_discarded() {
        let root = temp_root("corrupt");
        let dir = prepare(&root, &key()).unwrap().dir;
        fs::write(dir.join("engine.engine"), b"serialized engine").unwrap();
        seal(&dir, &key()).unwrap();
        fs::write(dir.join("engine.engine"), b"serialized eng").unwrap(); // truncated
        let again = prepare(&root, &key()).unwrap();
        assert!(matches!(&again.state, CacheState::Discarded(r) if r.contains("changed")));
        assert!(!dir.join("engine.engine").exists());
        assert!(!dir.join(MANIFEST).exists());
        assert_eq!(prepare(&root, &key()).unwrap().state, CacheState::Empty);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_foreign_or_missing_manifest_is_discarded() {
        let root = temp_root("foreign");
        let dir = prepare(&root, &key()).unwrap().dir;
        fs::write(dir.join("engine.engine"), b"engine").unwrap();
        // Written by another TensorRT version into this directory (e.g. copied by hand).
        let foreign = CacheKey { tensorrt_version: "8.6.1".into(), ..key() };
        seal(&dir, &foreign).unwrap();
        let state = prepare(&root, &key()).unwrap().state;
        assert!(matches!(&state, CacheState::Discarded(r) if r.contains("another")), "{state:?}");

        // Files without any manifest: an interrupted build.
        fs::write(dir.join("engine.engine"), b"half an engine").unwrap();
        let state = prepare(&root, &key()).unwrap().state;
        assert!(matches!(&state, CacheState::Discarded(r) if r.contains("manifest")), "{state:?}");

        // A garbage manifest.
        fs::write(dir.join("engine.engine"), b"engine").unwrap();
        fs::write(dir.join(MANIFEST), [0xffu8, 0x00, 0x13]).unwrap();
        assert!(matches!(prepare(&root, &key()).unwrap().state, CacheState::Discarded(_)));
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn an_unlisted_file_is_discarded() {
        let root = temp_root("extra");
        let dir = prepare(&root, &key()).unwrap().dir;
        fs::write(dir.join("engine.engine"), b"engine").unwrap();
        seal(&dir, &key()).unwrap();
        fs::write(dir.join("stranger.engine"), b"other").unwrap();
        let state = prepare(&root, &key()).unwrap().state;
        assert!(matches!(&state, CacheState::Discarded(r) if r.contains("stranger")), "{state:?}");
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn an_unwritable_root_is_an_io_error() {
        let err = prepare(Path::new("/proc/resnext-no-such-dir"), &key()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Io);
    }
}
