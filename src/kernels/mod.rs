//! Low-level compute kernels (a leaf module: only `core`/`std` and `log`).
//!
//! - [`cpu`]: ISA detection and the AMX tile-data permission.
//! - [`fgemm`]: the f32 GEMM family for convolutions (scalar reference, AVX-512F), read as an
//!   implicit GEMM with bias, residual addition and ReLU fused into the epilogue.
//! - [`qgemm`]: the u8 x i8 -> requantized u8 GEMM family (scalar reference, AVX512-VNNI,
//!   AMX-INT8), with a fused MLAS-compatible requantization epilogue and an optional fused
//!   QLinearAdd residual; and its implicit-GEMM variant (`QGemm::run_shifted`: a convolution
//!   read in place from a padded image, AMX-INT8 and the scalar reference).

pub mod cpu;
pub mod fgemm;
pub mod qgemm;
