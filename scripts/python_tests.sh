#!/usr/bin/env bash
# The Python package's tests: builds the wheel (scripts/python_wheel.sh), installs it with the
# test requirements into a fresh venv (target/python-test-venv, recreated every run), and runs
# pytest on bindings/python/tests against it. Needs the CLI (target/release/resnext, for the
# parity tests), the fixtures ($RESNEXT_TESTDATA) and ORT_DYLIB_PATH for the ONNX Runtime
# backend's tests (scripts/test.sh provides all three).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
wheel="$(bash scripts/python_wheel.sh | tail -1)"
TEST_VENV="$ROOT/target/python-test-venv"
rm -rf "$TEST_VENV"
"$PYTHON_BIN" -m venv "$TEST_VENV"
"$TEST_VENV/bin/pip" install --quiet --upgrade pip
"$TEST_VENV/bin/pip" install --quiet -r bindings/python/requirements-test.txt "$wheel"
echo "== pytest bindings/python/tests (wheel $(basename "$wheel"))"
# From outside the source tree, so `import resnext` is the installed wheel.
(cd "$TEST_VENV" && "$TEST_VENV/bin/python" -m pytest -q -p no:cacheprovider "$ROOT/bindings/python/tests" "$@")
