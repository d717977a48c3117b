//! Reads the TensorRT version and the GPU's name and compute capability from the NVIDIA
//! libraries, when they are installed, for the engine cache key. Nothing here is required: on a
//! machine without them every answer is `None` and the key says `unknown`.

use libloading::{Library, Symbol};
use std::ffi::{c_char, c_int, CStr};

/// TensorRT's version as `major.minor.patch`, read from `libnvinfer`'s `getInferLibVersion`.
pub fn tensorrt_version() -> Option<String> {
    for name in ["libnvinfer.so.10", "libnvinfer.so.8", "libnvinfer.so", "nvinfer.dll"] {
        // SAFETY: loading NVIDIA's library runs its initialisers, which have no preconditions.
        let Ok(lib) = (unsafe { Library::new(name) }) else { continue };
        // SAFETY: `getInferLibVersion` is `int32_t getInferLibVersion(void)` in every release.
        let version = unsafe {
            let f: Symbol<unsafe extern "C" fn() -> c_int> = lib.get(b"getInferLibVersion").ok()?;
            f()
        };
        return Some(decode_tensorrt_version(version));
    }
    None
}

/// TensorRT encodes its version as `major * 1000 + minor * 100 + patch` up to 9.x and as
/// `major * 10000 + minor * 100 + patch` from 10.0.
pub fn decode_tensorrt_version(v: c_int) -> String {
    if v >= 100_000 {
        format!("{}.{}.{}", v / 10_000, (v / 100) % 100, v % 100)
    } else {
        format!("{}.{}.{}", v / 1000, (v / 100) % 10, v % 100)
    }
}

/// `"<ordinal>: <name> (sm_<major><minor>)"` for CUDA device `ordinal`, from the driver API.
pub fn cuda_device(ordinal: u32) -> Option<String> {
    // SAFETY: the CUDA driver library has no load-time preconditions.
    let lib = unsafe { Library::new("libcuda.so.1") }.ok()?;
    type Init = unsafe extern "C" fn(u32) -> c_int;
    type Get = unsafe extern "C" fn(*mut c_int, c_int) -> c_int;
    type Name = unsafe extern "C" fn(*mut c_char, c_int, c_int) -> c_int;
    type Attr = unsafe extern "C" fn(*mut c_int, c_int, c_int) -> c_int;
    // SAFETY: the signatures are those of cuInit, cuDeviceGet, cuDeviceGetName and
    // cuDeviceGetAttribute in cuda.h (CUresult is an int, CUdevice an int); every pointer
    // passed points to a live local of the right size.
    unsafe {
        let init: Symbol<Init> = lib.get(b"cuInit").ok()?;
        let get: Symbol<Get> = lib.get(b"cuDeviceGet").ok()?;
        let name: Symbol<Name> = lib.get(b"cuDeviceGetName").ok()?;
        let attr: Symbol<Attr> = lib.get(b"cuDeviceGetAttribute").ok()?;
        if init(0) != 0 {
            return None;
        }
        let mut device = 0;
        if get(&mut device, ordinal as c_int) != 0 {
            return None;
        }
        let mut buf = [0 as c_char; 256];
        if name(buf.as_mut_ptr(), buf.len() as c_int, device) != 0 {
            return None;
        }
        let (mut major, mut minor) = (0, 0);
        // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75, _MINOR = 76.
        attr(&mut major, 75, device);
        attr(&mut minor, 76, device);
        let name = CStr::from_ptr(buf.as_ptr()).to_string_lossy();
        Some(format!("{ordinal}: {name} (sm_{major}{minor})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensorrt_versions_decode_in_both_encodings() {
        assert_eq!(decode_tensorrt_version(8601), "8.6.1");
        assert_eq!(decode_tensorrt_version(8502), "8.5.2");
        assert_eq!(decode_tensorrt_version(100300), "10.3.0");
        assert_eq!(decode_tensorrt_version(101100), "10.11.0");
    }

    #[test]
    fn probes_answer_none_without_nvidia_libraries() {
        // On this CI machine there is no GPU; on a GPU machine the answers are real.
        if std::path::Path::new("/proc/driver/nvidia").exists() {
            return;
        }
        assert_eq!(cuda_device(0), None);
    }
}
