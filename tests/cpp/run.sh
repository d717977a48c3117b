#!/usr/bin/env bash
# Builds and runs the C++ wrapper test (include/resnext.hpp) under AddressSanitizer,
# LeakSanitizer and UndefinedBehaviorSanitizer, against target/release/libresnext.so.
#   tests/cpp/run.sh [TESTDATA_DIR]     (default: $RESNEXT_TESTDATA, else <repo>/testdata)
# Needs g++ (C++17) and a release build (`cargo build --release`). Env: CXX overrides g++;
# RESNEXT_LIB_DIR the directory of the libresnext.so to test (scripts/asan_tests.sh passes the
# AddressSanitizer build); RESNEXT_CPP_TEST_BUILD where to build.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
LIBDIR="${RESNEXT_LIB_DIR:-$ROOT/target/release}"
DATA="${1:-${RESNEXT_TESTDATA:-$ROOT/testdata}}"
CXX="${CXX:-g++}"
if [ ! -f "$LIBDIR/libresnext.so" ]; then
  echo "error: $LIBDIR/libresnext.so not found: run 'cargo build --release' first" >&2
  exit 2
fi
if [ ! -f "$DATA/models/r50_torch.onnx" ]; then
  echo "error: $DATA/models/r50_torch.onnx not found: pass the test data dir or set RESNEXT_TESTDATA" >&2
  exit 2
fi
OUT="${RESNEXT_CPP_TEST_BUILD:-$ROOT/target/cpp-test}"
mkdir -p "$OUT"
FLAGS=(-std=c++17 -Wall -Wextra -Werror -pedantic -g -O1 -fsanitize=address,undefined
       -fno-omit-frame-pointer -fno-sanitize-recover=undefined -I"$ROOT/include")
echo "== compiling tests/cpp (2 translation units) with $CXX ${FLAGS[*]}"
"$CXX" "${FLAGS[@]}" -c "$HERE/test_main.cpp" -o "$OUT/test_main.o"
"$CXX" "${FLAGS[@]}" -c "$HERE/test_second_tu.cpp" -o "$OUT/test_second_tu.o"
"$CXX" -fsanitize=address,undefined "$OUT/test_main.o" "$OUT/test_second_tu.o" -o "$OUT/test_cpp" \
  -L"$LIBDIR" -lresnext -Wl,-rpath,"$LIBDIR" -pthread
echo "== running $OUT/test_cpp $DATA"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
if [ -f "$HERE/lsan.supp" ]; then
  export LSAN_OPTIONS="suppressions=$HERE/lsan.supp:print_suppressions=1${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
fi
# LeakSanitizer must really be active (it is silently off under some ptrace/container setups):
# a canary that leaks on purpose, linked like the test, must be reported.
printf '#include "resnext.h"\n#include <cstdio>\nint main() { int* p = new int[4]; p[0] = 1; std::printf("%%s %%d\\n", resnext_version(), p[0]); p = nullptr; return 0; }\n' \
  > "$OUT/lsan_canary.cpp"
"$CXX" "${FLAGS[@]}" "$OUT/lsan_canary.cpp" -o "$OUT/lsan_canary" -L"$LIBDIR" -lresnext -Wl,-rpath,"$LIBDIR"
if "$OUT/lsan_canary" >/dev/null 2>"$OUT/lsan_canary.err" || ! grep -q "LeakSanitizer: detected memory leaks" "$OUT/lsan_canary.err"; then
  cat "$OUT/lsan_canary.err" >&2
  echo "error: LeakSanitizer did not report the canary's leak: leak checking is not working here" >&2
  exit 1
fi
echo "== LeakSanitizer is active (the canary's deliberate leak was reported)"
"$OUT/test_cpp" "$DATA"
