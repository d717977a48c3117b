#!/usr/bin/env bash
# The lints, run by scripts/test.sh. First the figure check (it takes no time): every measured
# figure in the docs that tools/figures_checked.txt lists is one of the generated reports'
# (tools/check_figures.py, Python's standard library only; tests/python/test_reliability_tools.py
# runs it too). Then clippy on every target with every feature (tract, cli, jni, ort: all build
# here, ONNX Runtime is loaded at run time, so nothing more is needed), warnings as errors; then
# rustdoc of the crate with warnings as errors (broken links, missing docs on the public API:
# `#![warn(missing_docs)]` in src/lib.rs). Both share the dev profile's dependency metadata.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
started=$(date +%s)
echo "== tools/check_figures.py --list tools/figures_checked.txt"
python3 tools/check_figures.py --list tools/figures_checked.txt
if ! cargo clippy --version >/dev/null 2>&1; then
  command -v rustup >/dev/null || { echo "cargo clippy is required (rustup component add clippy)"; exit 1; }
  echo "== rustup component add clippy"
  rustup component add clippy
fi
echo "== cargo clippy --all-targets --all-features -- -D warnings"
cargo clippy --locked --all-targets --all-features -- -D warnings
echo "== cargo doc --no-deps --all-features (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --all-features
echo "== lints clean in $(( $(date +%s) - started )) s"
