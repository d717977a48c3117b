//! What the AMX kernels share: the tile configuration (palette 1, eight 16 x 64-byte tiles)
//! and its release, and the bias loads and stores of the 2 x 2 accumulator tiles. Each kernel call loads the configuration on its own thread and releases
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

/// Loads the accumulator tiles with a bias row: every row of tmm0/tmm2 = the 64 bytes at `b0`,
/// of tmm1/tmm3 = those at `b1` (stride-0 tile loads; tmm2/tmm3 only for a block of two A
/// tiles). The unused tiles of a narrow block are loaded too and never stored.
///
/// # Safety
/// Tiles configured ([`load_tile_config`]); `b0` and `b1` point to 64 readable bytes.
#[inline(always)]
pub(crate) unsafe fn load_bias_tiles(two_a: bool, b0: *const u8, b1: *const u8) {
    asm!(
        "tileloadd tmm0, [{b0} + {z}*1]",
        "tileloadd tmm1, [{b1} + {z}*1]",
        b0 = in(reg) b0, b1 = in(reg) b1, z = in(reg) 0usize, options(nostack, readonly)
    );
    if two_a {
        asm!(
            "tileloadd tmm2, [{b0} + {z}*1]",
            "tileloadd tmm3, [{b1} + {z}*1]",
            b0 = in(reg) b0, b1 = in(reg) b1, z = in(reg) 0usize, options(nostack, readonly)
        );
    }
}

/// Stores the used accumulator tiles of a block to a 4 KiB scratch: tile (i, j) (A tile i,
/// B tile j) at `(2i + j)` KiB, its rows 64 bytes apart.
///
/// # Safety
/// Tiles configured; `scratch` points to 4 KiB writable, not otherwise accessed meanwhile.
#[inline(always)]
pub(crate) unsafe fn store_tiles(two_a: bool, two_b: bool, scratch: *mut u8) {
    let p = scratch;
    match (two_a, two_b) {
        (true, true) => asm!(
            "tilestored [{p} + {s}*1], tmm0",
            "tilestored [{p} + {s}*1 + 1024], tmm1",
            "tilestored [{p} + {s}*1 + 2048], tmm2",
            "tilestored [{p} + {s}*1 + 3072], tmm3",
            p = in(reg) p, s = in(reg) 64usize, options(nostack)
        ),
        (true, false) => asm!(
            "tilestored [{p} + {s}*1], tmm0",
            "tilestored [{p} + {s}*1 + 2048], tmm2",
            p = in(reg) p, s = in(reg) 64usize, options(nostack)
        ),
        (false, true) => asm!(
            "tilestored [{p} + {s}*1], tmm0",
            "tilestored [{p} + {s}*1 + 1024], tmm1",
            p = in(reg) p, s = in(reg) 64usize, options(nostack)
        ),
        (false, false) => asm!(
            "tilestored [{p} + {s}*1], tmm0",
            p = in(reg) p, s = in(reg) 64usize, options(nostack)
        ),
    }
}

/// For the AMX kernels' K loops (bf16 and int8): the 16 lines of the B tile four K steps
/// (4 KiB) after `[{reg}]`, prefetched into L1. B's panels stream from memory in a model run
/// (its weights fit no cache), where the tile loads alone left the tiles waiting on them
/// (ResNeXt101_32x8d's bf16 mode, batch 1: about 80 ms without, 68-70 ms with, against
/// 70-77 ms at 2 or 8 steps ahead).
macro_rules! prefetch_b_tile {
    ($reg:literal) => {
        $crate::kernels::amx::prefetch_b_tile!(@lines $reg,
            4096 4160 4224 4288 4352 4416 4480 4544 4608 4672 4736 4800 4864 4928 4992 5056)
    };
    (@lines $reg:literal, $($offset:literal)*) => {
        concat!($("prefetcht0 [{", $reg, "} + ", stringify!($offset), "]\n",)*)
    };
}

pub(crate) use prefetch_b_tile;
