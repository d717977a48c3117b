#!/usr/bin/env bash
# For users with an NVIDIA GPU (T4/x86_64 or Jetson/aarch64): builds the SDK with the ONNX
# Runtime backend, builds (and caches) the TensorRT engines, checks parity of the GPU providers
# against the CPU backend, and prints the latency table in the source's format (batch 1/4/8,
# FP32 and FP16, ms) beside the published T4 figures from SPEC.md.
#
#   tools/gpu_check.sh MODEL.onnx [PHOTO...]
#
# Environment:
#   ORT_DYLIB_PATH   libonnxruntime.so of a GPU build (default: the onnxruntime-gpu wheel in
#                    .venv-gpu, created by this script on x86_64)
#   ENGINE_CACHE     TensorRT engine cache directory (default: ~/.cache/resnext/trt)
#   ITERS            timed runs per batch size (default 20)
#   DEVICE           GPU ordinal (default 0)
# Not run by the authors: the machine the SDK is developed on has no GPU (see docs/gpu.md).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODEL="${1:?usage: tools/gpu_check.sh MODEL.onnx [PHOTO...]}"
shift
PHOTOS=("$@")
ENGINE_CACHE="${ENGINE_CACHE:-$HOME/.cache/resnext/trt}"
ITERS="${ITERS:-20}"
DEVICE="${DEVICE:-0}"
cd "$ROOT"

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
  || echo "warning: nvidia-smi not found (on a Jetson, use tegrastats; the check continues)"

if [ -z "${ORT_DYLIB_PATH:-}" ]; then
  if [ "$(uname -m)" != x86_64 ]; then
    echo "set ORT_DYLIB_PATH to the aarch64 ONNX Runtime GPU build's libonnxruntime.so (docs/gpu.md: Jetson)"
    exit 1
  fi
  VENV_GPU="$ROOT/.venv-gpu"
  if [ ! -x "$VENV_GPU/bin/python" ]; then
    echo "== creating $VENV_GPU with onnxruntime-gpu and the TensorRT wheels"
    python3 -m venv "$VENV_GPU"
    "$VENV_GPU/bin/pip" install --quiet "onnxruntime-gpu==1.32.0" "tensorrt-cu12==10.*" \
      "nvidia-cudnn-cu12==9.*" "nvidia-cuda-runtime-cu12==12.*" "nvidia-cublas-cu12==12.*"
  fi
  ORT_DYLIB_PATH="$(ls "$VENV_GPU"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so* | head -1)"
  # The CUDA, cuDNN and TensorRT libraries the wheels ship, for the dynamic loader.
  LD_LIBRARY_PATH="$(find "$VENV_GPU"/lib/python3*/site-packages/{nvidia,tensorrt_libs} -name 'lib*.so*' -printf '%h\n' 2>/dev/null | sort -u | paste -sd:):${LD_LIBRARY_PATH:-}"
  export ORT_DYLIB_PATH LD_LIBRARY_PATH
fi
echo "== ONNX Runtime: $ORT_DYLIB_PATH"

echo "== cargo build --release --features ort"
cargo build --release --features ort
CLI="$ROOT/target/release/resnext"
ORT=(--backend ort --ep tensorrt --device "$DEVICE" --trt-engine-cache "$ENGINE_CACHE" --fallback fail)

echo "== building the TensorRT engines (FP32, then FP16; cached in $ENGINE_CACHE)"
for prec in fp32 fp16; do
  flags=("${ORT[@]}")
  [ "$prec" = fp16 ] && flags+=(--trt-fp16)
  start=$(date +%s)
  RESNEXT_LOG=info "$CLI" info --model "$MODEL" "${flags[@]}"
  echo "   $prec engine ready in $(( $(date +%s) - start )) s (a second run loads it from the cache)"
done

if [ ${#PHOTOS[@]} -eq 0 ]; then
  mapfile -t PHOTOS < <(ls "$ROOT"/testdata/preprocess/*.png 2>/dev/null | head -4)
fi
if [ ${#PHOTOS[@]} -gt 0 ]; then
  echo "== parity: TensorRT (FP32, FP16) and CUDA against the CPU backend (tract) on ${#PHOTOS[@]} photos"
  PRESET=(); case "$MODEL" in *[Ff]ix*) PRESET=(--preset fix-320);; esac
  "$CLI" classify --model "$MODEL" --json "${PRESET[@]}" "${PHOTOS[@]}" > /tmp/resnext-gpu-cpu.jsonl
  "$CLI" classify --model "$MODEL" --json "${PRESET[@]}" "${ORT[@]}" "${PHOTOS[@]}" > /tmp/resnext-gpu-trt32.jsonl
  "$CLI" classify --model "$MODEL" --json "${PRESET[@]}" "${ORT[@]}" --trt-fp16 "${PHOTOS[@]}" > /tmp/resnext-gpu-trt16.jsonl
  "$CLI" classify --model "$MODEL" --json "${PRESET[@]}" --backend ort --ep cuda --device "$DEVICE" "${PHOTOS[@]}" > /tmp/resnext-gpu-cuda.jsonl
  python3 - <<'PY'
import json
def load(p): return [json.loads(l) for l in open(p)]
cpu = load("/tmp/resnext-gpu-cpu.jsonl")
ok = True
for name, path, tol in [("tensorrt fp32", "/tmp/resnext-gpu-trt32.jsonl", 1e-3),
                        ("tensorrt fp16", "/tmp/resnext-gpu-trt16.jsonl", 2e-2),
                        ("cuda fp32", "/tmp/resnext-gpu-cuda.jsonl", 1e-3)]:
    for a, b in zip(cpu, load(path)):
        sa = {p["class_id"]: p["score"] for p in a["predictions"]}
        sb = {p["class_id"]: p["score"] for p in b["predictions"]}
        top_ok = a["predictions"][0]["class_id"] == b["predictions"][0]["class_id"]
        diff = max(abs(sa[i] - sb[i]) for i in set(sa) & set(sb))
        status = "ok" if top_ok and diff <= tol else "MISMATCH"
        ok &= status == "ok"
        print(f"   {name:14s} {a['image'].split('/')[-1]:24s} top-1 {'same' if top_ok else 'DIFFERS'}, max score diff {diff:.1e} (tolerance {tol:g}) {status}")
raise SystemExit(0 if ok else 1)
PY
fi

echo "== latency (ms, median of $ITERS runs; TensorRT through ONNX Runtime)"
for prec in fp32 fp16; do
  flags=("${ORT[@]}")
  [ "$prec" = fp16 ] && flags+=(--trt-fp16)
  "$CLI" bench --model "$MODEL" "${flags[@]}" --batch 1,4,8 --iters "$ITERS" --json > "/tmp/resnext-gpu-bench-$prec.json"
done
python3 - "$MODEL" <<'PY'
import json, sys
published = {  # SPEC.md, TensorRT on T4: (FP16 bs1/4/8, FP32 bs1/4/8)
    "32x8d": ((18.19, 21.94, 34.68), (18.53, 34.25, 67.23)),
    "32x16d": ((18.53, 36.83, 62.80), (25.60, 71.88, 137.62)),
    "32x32d": ((33.51, 70.10, 125.82), (54.87, 160.04, 316.18)),
    "32x48d": ((50.98, 137.61, 190.83), (99.02, 315.91, 551.84)),
}
model = sys.argv[1]
key = next((k for k in published if k in model), None)
def row(prec):
    r = json.load(open(f"/tmp/resnext-gpu-bench-{prec}.json"))
    return [x["median_ms"] for x in r["results"]]
ours16, ours32 = row("fp16"), row("fp32")
fmt = lambda v: " / ".join(f"{x:.2f}" for x in v)
print(f"| Model | ours FP16 bs1/4/8 | T4 FP16 (published) | ours FP32 bs1/4/8 | T4 FP32 (published) |")
print(f"|---|---|---|---|---|")
pub = published.get(key, ((float('nan'),) * 3,) * 2)
print(f"| {model.split('/')[-1]} | {fmt(ours16)} | {fmt(pub[0])} | {fmt(ours32)} | {fmt(pub[1])} |")
PY
