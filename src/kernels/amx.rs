//! What the AMX kernels share: the tile configuration (palette 1, eight 16 x 64-byte tiles)
//! and its release. Each kernel call loads the configuration on its own thread and releases
//! the tiles before it returns, so calls on several threads never share tile state.

use core::arch::asm;

/// The 64-byte LDTILECFG memory operand (palette 1).
#[repr(C, align(64))]
struct TileCfg {
    palette: u8,
    start_row: u8,
    _reserved: [u8; 14],
    colsb: [u16; 16],
    rows: [u8; 16],
}

/// Configures tmm0..tmm7 as 16 rows x 64 bytes each (the layout every AMX kernel here uses:
/// tmm0..3 accumulators, tmm4/5 A, tmm6/7 B).
///
/// # Safety
/// The AMX tile state must be enabled for the process (CPUID, XCR0 and Linux's XTILEDATA
/// permission, see [`crate::kernels::cpu`]); the caller calls [`release_tiles`] before it
/// returns to safe code, and nothing between the two may unwind.
#[inline(always)]
pub(crate) unsafe fn load_tile_config() {
    let cfg = TileCfg {
        palette: 1,
        start_row: 0,
        _reserved: [0; 14],
        colsb: [64, 64, 64, 64, 64, 64, 64, 64, 0, 0, 0, 0, 0, 0, 0, 0],
        rows: [16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0],
    };
    // SAFETY: AMX is enabled (contract above); `cfg` is a valid palette-1 configuration.
    asm!("ldtilecfg [{0}]", in(reg) &cfg as *const TileCfg, options(nostack, readonly));
}

/// Releases this thread's tile state.
///
/// # Safety
/// Only after [`load_tile_config`] on the same thread.
#[inline(always)]
pub(crate) unsafe fn release_tiles() {
    // SAFETY: the tiles were configured on this thread (contract above).
    asm!("tilerelease", options(nostack, nomem));
}
