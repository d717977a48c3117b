//! Gives the shared library (the cdylib, `libresnext.so`) its SONAME on Linux,
//! `libresnext.so.<major>`, so that programs linked against it record that name and keep
//! working across compatible upgrades; `scripts/install.sh` installs the file as
//! `libresnext.so.<version>` with the `libresnext.so.<major>` and `libresnext.so` symlinks.
//! Only the cdylib is affected (not the rlib, the staticlib, the CLI or the tests). Android
//! keeps no SONAME: apps ship and load `libresnext.so` by that file name.
//!
//! A program linked against the build directory (`-L target/release -lresnext`) needs
//! `libresnext.so.<major>` there at run time: the build script puts that symlink beside the
//! library (`target/<profile>/libresnext.so.<major> -> libresnext.so`).

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "linux" {
        return;
    }
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    let soname = format!("libresnext.so.{major}");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    if let Some(dir) = std::env::var_os("OUT_DIR").and_then(|out| profile_dir(Path::new(&out))) {
        let link = dir.join(&soname);
        if std::fs::symlink_metadata(&link).is_err() {
            #[cfg(unix)]
            if let Err(e) = std::os::unix::fs::symlink("libresnext.so", &link) {
                println!("cargo:warning=could not create {}: {e}", link.display());
            }
        }
    }
}

/// The directory the library is written to: `OUT_DIR` is `<that>/build/<package>-<hash>/out`.
fn profile_dir(out: &Path) -> Option<PathBuf> {
    let build = out.parent()?.parent()?;
    (build.file_name()? == "build").then(|| build.parent().map(Path::to_path_buf))?
}
