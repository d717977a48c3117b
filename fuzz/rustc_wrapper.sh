#!/usr/bin/env bash
# RUSTC_WRAPPER of the sanitizer build (scripts/asan_build.sh): RUSTFLAGS gives every crate
# AddressSanitizer; this adds libFuzzer's coverage instrumentation (inline 8-bit counters, PC
# table, comparison tracing), `--cfg fuzzing` and debug assertions to the SDK and the fuzz
# harness only, as cargo-fuzz would, without instrumenting tract for coverage (the coverage that
# guides the fuzzer is the SDK's; tract still runs under ASan). Called as `wrapper rustc ARGS`.
rustc="$1"
shift
crate=""
prev=""
for arg in "$@"; do
  [ "$prev" = "--crate-name" ] && crate="$arg"
  prev="$arg"
done
case "$crate" in
  resnext | resnext_fuzz | image_decode | pixel_buffer | model_load | c_abi | qgemm)
    exec "$rustc" "$@" -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
      -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
      -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares \
      --cfg fuzzing -Cdebug-assertions
    ;;
  *) exec "$rustc" "$@" ;;
esac
