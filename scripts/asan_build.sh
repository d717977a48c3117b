#!/usr/bin/env bash
# The one AddressSanitizer build of the SDK, shared by the fuzzers (scripts/hardening.sh) and
# the C/C++ tests against the instrumented library (scripts/asan_tests.sh). Stable toolchain:
# RUSTC_BOOTSTRAP=1 unlocks -Zsanitizer=address, whose runtime ships with stable's rust-std
# (librustc-stable_rt.asan.a); no nightly, no cargo-fuzz. Every crate (the SDK, tract, the
# other Rust dependencies) is compiled with ASan; fuzz/rustc_wrapper.sh adds libFuzzer's
# coverage instrumentation, `--cfg fuzzing` and debug assertions to the SDK and the harness only.
# Not instrumented: Rust's standard library (no -Zbuild-std: that needs nightly's rust-src),
# the C parts (libjpeg-turbo in mozjpeg-sys, tract-linalg's assembly kernels), and ONNX Runtime.
#
#   bash scripts/asan_build.sh      # builds; prints the directory of the binaries
#   source scripts/asan_build.sh; asan_build   # the same from another script (sets ASAN_OUT)
#
# Its own target directory, fuzz/target (the main target/ is untouched); from scratch it
# compiles tract again (about as long as the release build), later runs take seconds.
# ASAN_OUT/{image_decode,pixel_buffer,model_load,c_abi,qgemm} are the libFuzzer binaries,
# ASAN_OUT/libresnext.so the library with the C ABI (features tract and ort).
ASAN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
asan_build() {
  local triple
  triple="$(rustc -vV | sed -n 's/^host: //p')"
  ASAN_OUT="$ASAN_ROOT/fuzz/target/$triple/release"
  # --target: RUSTFLAGS then reach only the target's crates, not build scripts and proc macros
  # (an instrumented proc macro cannot be loaded by the uninstrumented compiler).
  local cargo=(env RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=address"
               RUSTC_WRAPPER="$ASAN_ROOT/fuzz/rustc_wrapper.sh" CARGO_TARGET_DIR="$ASAN_ROOT/fuzz/target"
               cargo build --release --locked --target "$triple")
  # One invocation for both packages, so the library has the features the harness sees.
  (cd "$ASAN_ROOT/fuzz" && "${cargo[@]}" -p resnext-fuzz -p resnext --lib --bins)
}
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  asan_build
  echo "$ASAN_OUT"
fi
