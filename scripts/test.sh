#!/usr/bin/env bash
# The test command: sets up the Python tooling, builds once in release, runs the lints (clippy and
# rustdoc, warnings as errors: scripts/lint.sh), generates the test models and fixtures, then
# runs the Rust tests (unit, parity, preprocessing, errors, concurrency, C ABI parity), the
# Python tests (CLI contract, model tooling), the Python package (its wheel built and installed
# into a fresh venv, then its pytest suite), the C header freshness check, the C
# tests (plain, ASan+UBSan, valgrind), the C++ checks (wrapper, cpp_demo, install) and the Java
# API checks (JUnit on the host JVM against the JNI natives).
#   scripts/test.sh            # fixtures without the 355 MB ResNeXt101_32x8d
#   RESNEXT_FULL=1 scripts/test.sh   # also the full ResNeXt101_32x8d parity test (CI does)
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
started=$(date +%s)
ensure_venv
export_ort_library
build_release
bash scripts/lint.sh
export RESNEXT_TESTDATA="${RESNEXT_TESTDATA:-$ROOT/testdata}"
full=()
if [ "${RESNEXT_FULL:-0}" = 1 ]; then full=(--full); export RESNEXT_REQUIRE_FULL=1; fi
echo "== generating test models and fixtures in $RESNEXT_TESTDATA"
"$VENV/bin/python" tools/make_test_fixtures.py --out "$RESNEXT_TESTDATA" "${full[@]}"
echo "== cargo test --release"
cargo test --release --locked "${CARGO_FEATURES[@]}" -- --nocapture --test-threads=1
echo "== pytest"
"$VENV/bin/python" -m pytest -q tests/python
echo "== Python package (wheel, fresh venv, pytest)"
bash scripts/python_tests.sh
echo "== C header"
bash scripts/check_header.sh
bash tests/c/run.sh
bash scripts/cpp_checks.sh
echo "== Java API (JNI) checks"
RESNEXT_JAVA_NO_BUILD=1 bash scripts/java_checks.sh
echo "== all tests passed in $(( $(date +%s) - started )) s"
