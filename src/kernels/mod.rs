//! Low-level compute kernels (a leaf module: only `core`/`std` and `log`).
//!
//! - [`cpu`]: ISA detection and the AMX tile-data permission; `amx`: the tile configuration
//!   the AMX kernels share.
//! - [`bgemm`]: the bf16 GEMM family for float convolutions (scalar reference, AMX-BF16,
//!   AVX512-BF16), the same implicit-GEMM shape and fused epilogue as `fgemm`, with float32
//!   accumulation.
//! - [`fgemm`]: the f32 GEMM family for convolutions (scalar reference, AVX-512F, AVX2 + FMA),
//!   read as an implicit GEMM with bias, residual addition and ReLU fused into the epilogue.
//! - [`qgemm`]: the u8 x i8 -> requantized u8 GEMM family (scalar reference, AVX512-VNNI,
//!   AMX-INT8), with a fused MLAS-compatible requantization epilogue and an optional fused
//!   QLinearAdd residual; and its implicit-GEMM variant (`QGemm::run_shifted`: a convolution
//!   read in place from a padded image, AMX-INT8 and the scalar reference).
//! - `zmm`: the register-blocked zmm tiles (bias start, fused epilogue, tile heights) that the
//!   AVX-512 f32 and AVX512-BF16 kernels share (and the operands and row blocking the AVX2
//!   kernel shares); `ymm`: the AVX2 f32 kernel's tiles and epilogue.

#[cfg(target_arch = "x86_64")]
pub(crate) mod amx;
pub mod bgemm;
pub mod cpu;
pub mod fgemm;
pub mod qgemm;
#[cfg(target_arch = "x86_64")]
pub(crate) mod ymm;
#[cfg(target_arch = "x86_64")]
pub(crate) mod zmm;
