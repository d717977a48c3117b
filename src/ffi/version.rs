//! Library version, as a string and as macros in the header.

use std::os::raw::c_char;

/// Major version (matches `Cargo.toml`; checked by a unit test).
pub const RESNEXT_VERSION_MAJOR: u32 = 0;
/// Minor version.
pub const RESNEXT_VERSION_MINOR: u32 = 1;
/// Patch version.
pub const RESNEXT_VERSION_PATCH: u32 = 0;

static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library version, e.g. `"0.1.0"`: a static NUL-terminated string, never NULL, never freed.
#[no_mangle]
pub extern "C" fn resnext_version() -> *const c_char {
    VERSION.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macros_match_cargo_version() {
        assert_eq!(RESNEXT_VERSION_MAJOR.to_string(), env!("CARGO_PKG_VERSION_MAJOR"));
        assert_eq!(RESNEXT_VERSION_MINOR.to_string(), env!("CARGO_PKG_VERSION_MINOR"));
        assert_eq!(RESNEXT_VERSION_PATCH.to_string(), env!("CARGO_PKG_VERSION_PATCH"));
    }
}
