#!/usr/bin/env bash
# The C and C++ tests against the SDK built with AddressSanitizer (scripts/asan_build.sh): the
# library itself instrumented, not only the caller. tests/c/test_capi.c (every export, every
# error code, the full ResNeXt50 and the ONNX Runtime backend) under ASan + UBSan, and the C++
# wrapper's tests (tests/cpp) under ASan + LSan + UBSan, both linked to the instrumented
# libresnext.so; GCC's libasan in the test executable is the runtime for both sides.
#   bash scripts/asan_tests.sh [TESTDATA_DIR]     (default: $RESNEXT_TESTDATA, else testdata/)
# Needs the fixtures (scripts/test.sh generates them), gcc/g++, and ONNX Runtime (ORT_DYLIB_PATH,
# set from scripts/env.sh's venv when missing). Prints one "asan ..." line per suite.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
source "$ROOT/scripts/asan_build.sh"
set +e  # run both suites; the exit status reports them
cd "$ROOT"
DATA="${1:-${RESNEXT_TESTDATA:-$ROOT/testdata}}"
export RESNEXT_TESTDATA="$DATA"
[ -n "${ORT_DYLIB_PATH:-}" ] || { ensure_venv; export_ort_library; }
started=$(date +%s)
asan_build
echo "asan build: $(( $(date +%s) - started )) s, library $ASAN_OUT/libresnext.so"
OUT="$ROOT/target/asan-tests"
mkdir -p "$OUT"
RESNEXT_LIB_DIR="$ASAN_OUT" RESNEXT_C_RUNS=asan RESNEXT_C_TEST_BUILD="$OUT/c" \
  bash tests/c/run.sh 2>&1 | tee "$OUT/c.log" | grep -vE '^\s+([0-9]+: |at )|^stack backtrace:|^note: '
c_rc=${PIPESTATUS[0]}
echo "asan C tests (tests/c/test_capi.c, instrumented library): $(grep -E '^[0-9]+ passed' "$OUT/c.log" | tail -1), exit $c_rc"
RESNEXT_LIB_DIR="$ASAN_OUT" RESNEXT_CPP_TEST_BUILD="$OUT/cpp" bash tests/cpp/run.sh "$DATA" > "$OUT/cpp.log" 2>&1
cpp_rc=$?
grep -E '^(ok|FAIL)|FAIL|ERROR: AddressSanitizer|SUMMARY:' "$OUT/cpp.log" | head -40
echo "asan C++ tests (tests/cpp, instrumented library): $(grep -E '^[0-9]+ passed' "$OUT/cpp.log" | tail -1), exit $cpp_rc"
[ "$c_rc" = 0 ] && [ "$cpp_rc" = 0 ]
