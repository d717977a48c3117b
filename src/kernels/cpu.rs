//! ISA detection for the integer kernels, and the Linux AMX tile-data permission.
//!
//! Detection runs once per process and is cached ([`std::sync::OnceLock`]); every function here
//! is thread safe. On targets other than x86_64 only [`Isa::Scalar`] is supported.

use std::sync::OnceLock;

/// An instruction-set level a kernel family can be compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// Portable Rust, any CPU.
    Scalar,
    /// AVX2 + FMA, no VNNI: exact i16 products (`vpmaddwd`), for x86_64 CPUs without
    /// AVX512-VNNI (AMD Zen 1-3, Intel Haswell to Comet Lake).
    Avx2,
    /// AVX-512 F/BW/VL/DQ with VNNI (`vpdpbusd`).
    Avx512Vnni,
    /// AMX-TILE + AMX-INT8 (`tdpbusd`), plus everything [`Isa::Avx512Vnni`] needs (the
    /// epilogue uses AVX-512).
    AmxInt8,
}

impl Isa {
    /// Every ISA of the family, in increasing order.
    pub const ALL: [Isa; 4] = [Isa::Scalar, Isa::Avx2, Isa::Avx512Vnni, Isa::AmxInt8];

    /// A short stable name: "scalar", "avx2", "avx512-vnni", "amx-int8".
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512Vnni => "avx512-vnni",
            Isa::AmxInt8 => "amx-int8",
        }
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Copy, Debug)]
struct Detected {
    avx2: bool,
    vnni: bool,
    amx: bool,
    amx_bf16: bool,
    avx512_bf16: bool,
}

fn detected() -> Detected {
    static D: OnceLock<Detected> = OnceLock::new();
    *D.get_or_init(detect)
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Detected {
    let vnni = std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && std::arch::is_x86_feature_detected!("avx512dq")
        && std::arch::is_x86_feature_detected!("avx512vnni");
    let (int8, bf16) = amx_cpuid();
    let bf16 = bf16 && std::arch::is_x86_feature_detected!("avx512bf16") && vnni;
    // The permission is asked for only when a kernel could use the tiles.
    let permitted = (int8 && vnni || bf16) && amx_request_permission();
    let avx512_bf16 = vnni && std::arch::is_x86_feature_detected!("avx512bf16");
    let avx2 =
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
    Detected {
        avx2,
        vnni,
        amx: vnni && int8 && permitted,
        amx_bf16: bf16 && permitted,
        avx512_bf16,
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Detected {
    Detected { avx2: false, vnni: false, amx: false, amx_bf16: false, avx512_bf16: false }
}

/// Whether AMX-INT8 and AMX-BF16 exist: CPUID.(EAX=7,ECX=0):EDX bit 24 (AMX-TILE) with bit 25
/// (AMX-INT8) / bit 22 (AMX-BF16), and the OS enabling the tile state in XCR0 (bits 17
/// XTILECFG and 18 XTILEDATA).
#[cfg(target_arch = "x86_64")]
fn amx_cpuid() -> (bool, bool) {
    use std::arch::x86_64::{__cpuid, __cpuid_count};
    // CPUID is available on every x86_64 CPU (the intrinsics are safe); leaf 7 is only
    // trusted when the maximum basic leaf reported by leaf 0 covers it.
    let (max_leaf, l7) = (__cpuid(0).eax, __cpuid_count(7, 0));
    if max_leaf < 7 {
        return (false, false);
    }
    let tile = l7.edx & (1 << 24) != 0;
    let int8 = l7.edx & (1 << 25) != 0;
    let bf16 = l7.edx & (1 << 22) != 0;
    // OSXSAVE (leaf 1 ECX bit 27): XGETBV is enabled by the OS.
    let osxsave = __cpuid(1).ecx & (1 << 27) != 0;
    if !(tile && (int8 || bf16) && osxsave) {
        return (false, false);
    }
    let (lo, _hi): (u32, u32);
    // SAFETY: OSXSAVE is set (checked above), so XGETBV with ECX = 0 (XCR0) does not fault; it only writes
    // EAX/EDX, declared as outputs.
    unsafe {
        std::arch::asm!("xgetbv", in("ecx") 0u32, out("eax") lo, out("edx") _hi,
                        options(nomem, nostack, preserves_flags));
    }
    let enabled = lo & (0b11 << 17) == (0b11 << 17);
    (enabled && int8, enabled && bf16)
}

/// Asks Linux (>= 5.16) for permission to use the AMX tile data state, once per process:
/// `arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`, then checks it with
/// `ARCH_GET_XCOMP_PERM`. The permission is process wide (all threads). A refusal logs one
/// warning.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn amx_request_permission() -> bool {
    use core::ffi::c_long;
    extern "C" {
        // glibc's / musl's variadic `syscall(2)` wrapper (std links the C library on Linux).
        fn syscall(num: c_long, ...) -> c_long;
    }
    const SYS_ARCH_PRCTL: c_long = 158;
    const ARCH_GET_XCOMP_PERM: c_long = 0x1022;
    const ARCH_REQ_XCOMP_PERM: c_long = 0x1023;
    const XFEATURE_XTILEDATA: c_long = 18;
    // SAFETY: arch_prctl with these codes only reads its integer arguments, or (GET) writes one
    // u64 through the pointer, which points to a live local.
    let (req, got, mask) = unsafe {
        let req = syscall(SYS_ARCH_PRCTL, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA);
        let mut mask: u64 = 0;
        let got = syscall(SYS_ARCH_PRCTL, ARCH_GET_XCOMP_PERM, &mut mask as *mut u64);
        (req, got, mask)
    };
    if req != 0 {
        log::warn!(
            "AMX unavailable: arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA) refused ({})",
            std::io::Error::last_os_error()
        );
        return false;
    }
    if got != 0 || mask & (1 << XFEATURE_XTILEDATA) == 0 {
        log::warn!("AMX unavailable: XTILEDATA not in the permitted xfeatures (mask {mask:#x})");
        return false;
    }
    true
}

#[cfg(all(target_arch = "x86_64", not(target_os = "linux")))]
fn amx_request_permission() -> bool {
    // Other OSes (Windows) enable AMX without a request; untested here, so stay conservative.
    false
}

/// Whether this CPU (and, for AMX, the kernel's permission, requested once per process) can
/// run `isa`. Cached; thread safe.
pub fn supports(isa: Isa) -> bool {
    match isa {
        Isa::Scalar => true,
        Isa::Avx2 => detected().avx2,
        Isa::Avx512Vnni => detected().vnni,
        Isa::AmxInt8 => detected().amx,
    }
}

/// Whether the bf16 AMX kernels can run: AMX-TILE + AMX-BF16 (`tdpbf16ps`) with the tile
/// permission, AVX512-BF16 (`vcvtneps2bf16`, the conversion to bf16) and the AVX-512 the
/// epilogues use. Cached; thread safe.
pub fn supports_amx_bf16() -> bool {
    detected().amx_bf16
}

/// Whether Linux lists `flag` (spelled as in `/proc/cpuinfo`: `avx512f`, `avx512_vnni`,
/// `amx_int8`, `amx_bf16`) among this CPU's flags; false where there is no `/proc/cpuinfo`.
/// Independent of this module's CPUID detection: the tests use it to tell a CPU that lacks an
/// instruction set from a build or a detection that lost a kernel family. Reads the file on
/// every call; thread safe.
pub fn linux_lists_cpu_flag(flag: &str) -> bool {
    std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|info| {
        info.lines()
            .filter(|line| line.starts_with("flags"))
            .any(|line| line.split_whitespace().any(|f| f == flag))
    })
}

/// Tests only: whether `RESNEXT_REQUIRE_CPU_KERNELS=1` (CI) makes the kernel family of the
/// CPU flag `flag` mandatory, which it does where Linux lists the flag
/// ([`linux_lists_cpu_flag`]); elsewhere a test may skip that family.
#[cfg(test)]
pub(crate) fn required_by_tests(flag: &str) -> bool {
    std::env::var("RESNEXT_REQUIRE_CPU_KERNELS").as_deref() == Ok("1") && linux_lists_cpu_flag(flag)
}

/// Whether the AVX512-BF16 kernel can run: `vdpbf16ps` and `vcvtneps2bf16` with the AVX-512
/// (F, BW, VL, DQ) its loads and epilogue use, no AMX needed (AMD Zen 4 and later, Intel
/// Cooper Lake, Sapphire Rapids). Cached; thread safe.
pub fn supports_avx512_bf16() -> bool {
    detected().avx512_bf16
}

/// The best ISA available.
pub fn best() -> Isa {
    if supports(Isa::AmxInt8) {
        Isa::AmxInt8
    } else if supports(Isa::Avx512Vnni) {
        Isa::Avx512Vnni
    } else if supports(Isa::Avx2) {
        Isa::Avx2
    } else {
        Isa::Scalar
    }
}

/// Every ISA supported here, in increasing order (always starts with [`Isa::Scalar`]).
pub fn supported_isas() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|&i| supports(i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_order() {
        assert_eq!(Isa::Scalar.name(), "scalar");
        assert_eq!(Isa::Avx2.name(), "avx2");
        assert_eq!(Isa::Avx512Vnni.name(), "avx512-vnni");
        assert_eq!(Isa::AmxInt8.name(), "amx-int8");
        assert!(Isa::ALL.windows(2).all(|w| w[0] < w[1]));
        let s = supported_isas();
        assert_eq!(s[0], Isa::Scalar);
        assert_eq!(*s.last().unwrap(), best());
        // Cached and stable.
        assert_eq!(supported_isas(), s);
        println!("supported ISAs: {:?}", s);
    }
}
