#!/usr/bin/env bash
# Builds the `resnext` Python package (bindings/python) as an abi3 wheel for CPython 3.9 and
# newer, with `maturin build --release`: the release profile and the root's features (the
# extension depends on the root crate with `jni,ort`), in the workspace's `target/`, so a warm
# `cargo build --release --features jni,ort` leaves only the extension to compile.
#   scripts/python_wheel.sh            # -> target/wheels/resnext-<version>-cp39-abi3-<platform>.whl
# Prints the wheel's path on its last line. maturin comes from bindings/python/requirements-build.txt,
# installed into target/python-build-venv (RESNEXT_WHEEL_VENV overrides).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
BUILD_VENV="${RESNEXT_WHEEL_VENV:-$ROOT/target/python-build-venv}"
REQ="$ROOT/bindings/python/requirements-build.txt"
stamp="$BUILD_VENV/.requirements-stamp"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ ! -x "$BUILD_VENV/bin/maturin" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "== setting up the wheel build venv in $BUILD_VENV" >&2
  "$PYTHON_BIN" -m venv "$BUILD_VENV"
  "$BUILD_VENV/bin/pip" install --quiet --upgrade pip >&2
  "$BUILD_VENV/bin/pip" install --quiet -r "$REQ" >&2
  echo "$want" > "$stamp"
fi
OUT="$ROOT/target/wheels"
rm -f "$OUT"/resnext-*.whl
echo "== maturin build --release (bindings/python)" >&2
# --compatibility linux: a wheel for this machine's glibc (CI installs it right away), without
# maturin's manylinux audit.
"$BUILD_VENV/bin/maturin" build --release --locked --manifest-path bindings/python/Cargo.toml \
  --interpreter "$PYTHON_BIN" --compatibility linux --out "$OUT" >&2
wheel="$(ls "$OUT"/resnext-*.whl)"
echo "$wheel"
