#!/usr/bin/env bash
# Writes BENCHMARKS.md (and benchmarks.svg): resnext (tract) and ONNX Runtime (Python,
# tools/bench_peers.py) side by side in one run, on the same models, input, batch sizes and
# thread count, with the ratios for every target of the performance issue, the machine record,
# per-operator profiles of tract (FP32, and INT8 on the crate's kernel layer) and the GOP/s of
# the kernel layer's GEMMs per instruction set (examples/qgemm_gops.rs).
#
#   bash scripts/benchmarks.sh           # full: ~15-25 min on a 2-core machine
#   bash scripts/benchmarks.sh --quick   # fewer iterations and batch sizes: ~8-12 min
#
# Models (seeded weights, generated once into benchdata/, gitignored; RESNEXT_BENCHDATA
# overrides): ResNeXt101_32x8d FP32 (seed 3, as scripts/demo.sh), its FP16 and INT8 (QDQ,
# per-channel int8 weights; QUInt8 activations in r101_32x8d_int8.onnx, QInt8 activations in
# r101_32x8d_int8_s8.onnx) conversions, ResNeXt101_32x16d FP32 (seed 4), and a 1920x1080 JPEG.
# RESNEXT_THREADS sets the thread count of both engines (default: all cores).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
ensure_venv
export_ort_library
build_release
echo "== cargo build --release ${CARGO_FEATURES[*]} --example qgemm_gops --example fgemm_gflops --example classify_loop --example isa_peaks"
cargo build --release --locked "${CARGO_FEATURES[@]}" --example qgemm_gops --example fgemm_gflops --example classify_loop --example isa_peaks
BIN="$ROOT/target/release/resnext"
QGEMM="$ROOT/target/release/examples/qgemm_gops"
FGEMM="$ROOT/target/release/examples/fgemm_gflops"
CLASSIFY_LOOP="$ROOT/target/release/examples/classify_loop"
PY="$VENV/bin/python"
DATA="${RESNEXT_BENCHDATA:-$ROOT/benchdata}"
RES="$DATA/results"
mkdir -p "$DATA" "$RES"
rm -f "$RES"/*.json "$RES"/*.txt
THREADS="${RESNEXT_THREADS:-$(nproc)}"
started=$(date +%s)

m32x8="$DATA/r101_32x8d.onnx"
if [ ! -f "$m32x8" ]; then
  if [ -f models/resnext101_32x8d_seeded.onnx ]; then
    ln -f models/resnext101_32x8d_seeded.onnx "$m32x8" 2>/dev/null \
      || cp models/resnext101_32x8d_seeded.onnx "$m32x8"
  else
    echo "== generating ResNeXt101_32x8d (seeded)"
    "$PY" tools/resnext_onnx.py --depth 101 --width-per-group 8 --seed 3 --out "$m32x8"
  fi
fi
[ -f "$DATA/r101_32x8d_fp16.onnx" ] || { echo "== FP16 conversion";
  "$PY" tools/convert_fp16.py --model "$m32x8" --out "$DATA/r101_32x8d_fp16.onnx" --no-verify; }
m8="$DATA/r101_32x8d_int8.onnx"
m8s="$DATA/r101_32x8d_int8_s8.onnx"
[ -f "$m8" ] || { echo "== INT8 (QDQ, QUInt8 activations) quantization";
  "$PY" tools/quantize_int8.py --model "$m32x8" --out "$m8"; }
[ -f "$m8s" ] || { echo "== INT8 (QDQ, QInt8 activations) quantization";
  "$PY" tools/quantize_int8.py --model "$m32x8" --out "$m8s" --activation-type int8; }
[ -f "$DATA/r101_32x16d.onnx" ] || { echo "== generating ResNeXt101_32x16d (seeded)";
  "$PY" tools/resnext_onnx.py --depth 101 --width-per-group 16 --seed 4 --out "$DATA/r101_32x16d.onnx"; }
[ -f "$DATA/tiny.onnx" ] || { echo "== generating the small model of the Python overhead row";
  "$PY" tools/resnext_onnx.py --stages 1,1,1,1 --base-planes 16 --resolution 64 --classes 10 \
    --seed 11 --out "$DATA/tiny.onnx"; }
[ -f "$DATA/photo_1080p.jpg" ] || "$PY" tools/bench_peers.py --write-jpeg "$DATA/photo_1080p.jpg" >/dev/null

if [ "$QUICK" = 1 ]; then
  BATCHES=1,8; WARMUP=1; ITERS=3; ROUNDS=1; QGEMM_MS=100
else
  BATCHES=1,4,8; WARMUP=1; ITERS=5; ROUNDS=2; QGEMM_MS=300
fi

lscpu > "$RES/lscpu.txt"
uptime > "$RES/load_before.txt"
{ echo "threads=$THREADS quick=$QUICK batches=$BATCHES warmup=$WARMUP iters=$ITERS rounds=$ROUNDS";
  rustc --version; git rev-parse --short HEAD; } > "$RES/config.txt"

ort() { "$PY" tools/bench_peers.py --threads "$THREADS" --json "$@"; }
ours() { "$BIN" bench --threads "$THREADS" --json "$@"; }
step() { echo "== [$(( $(date +%s) - started ))s] $*"; }
# ours_if OUT ARGS...: `ours ARGS... > OUT`, or no OUT (the report says "not measured") when it
# fails, e.g. `--cpu-kernels avx512-vnni` on a CPU without AVX512-VNNI.
ours_if() {
  local out="$1"; shift
  ours "$@" > "$out" || { rm -f "$out"; echo "   (skipped: resnext bench $* failed)"; }
}

# Cold start and peak memory of loading + batch 1: fresh processes, engines alternated.
for r in $(seq 1 "$ROUNDS"); do
  step "cold start, round $r"
  ort --model "$m32x8" --batch 1 --warmup 0 --iters 1 > "$RES/cold_ort_$r.json"
  ours --model "$m32x8" --batch 1 --warmup 0 --iters 1 > "$RES/cold_tract_$r.json"
  step "cold start INT8 (QUInt8 and QInt8 activations, kernel layer auto), round $r"
  ort --model "$m8" --batch 1 --warmup 0 --iters 1 > "$RES/int8cold_ort_$r.json"
  ours --model "$m8" --batch 1 --warmup 0 --iters 1 > "$RES/int8cold_tract_$r.json"
  ort --model "$m8s" --batch 1 --warmup 0 --iters 1 > "$RES/int8s8cold_ort_$r.json"
  ours --model "$m8s" --batch 1 --warmup 0 --iters 1 > "$RES/int8s8cold_tract_$r.json"
done

step "cold start with glibc's mmap threshold fixed (MALLOC_MMAP_THRESHOLD_=131072), one round"
MALLOC_MMAP_THRESHOLD_=131072 ours --model "$m32x8" --batch 1 --warmup 0 --iters 1 > "$RES/mmapfixed_tract.json"

step "preprocessing a 1920x1080 JPEG (OpenCV, then resnext), one thread"
"$PY" tools/bench_peers.py --preprocess-image "$DATA/photo_1080p.jpg" --iters 30 --json > "$RES/pre_opencv.json"
"$BIN" bench --model "$m32x8" --batch 1 --warmup 0 --iters 1 --threads 1 --json \
  --image "$DATA/photo_1080p.jpg" > "$RES/pre_tract.json"

step "Python package: classify(path) overhead over the Rust API (small model), end to end vs cv2 + numpy + onnxruntime (INT8 and FP32)"
# The wheel (scripts/python_wheel.sh: the extension only, the rest of the build is shared),
# unpacked beside the venv's packages instead of installed into it.
wheel="$(bash scripts/python_wheel.sh | tail -1)"
PY_SITE="$ROOT/target/python-bench-site"
rm -rf "$PY_SITE"
"$PY" -m pip install --quiet --no-deps --target "$PY_SITE" "$wheel"
if [ "$QUICK" = 1 ]; then PY_ITERS=(--small-iters 200 --iters 5 --rounds 1); else PY_ITERS=(--small-iters 400 --iters 8 --rounds 2); fi
small_image="$("$PY" -c 'import os, skimage.data; print(os.path.dirname(skimage.data.__file__))')/rocket.jpg"
for q in int8:"$m8" fp32:"$m32x8"; do
  IFS=: read -r name model <<< "$q"
  PYTHONPATH="$PY_SITE" ORT_DYLIB_PATH="$ORT_DYLIB_PATH" "$PY" tools/python_bench.py \
    --rust-loop "$CLASSIFY_LOOP" --small-model "$DATA/tiny.onnx" --small-resize-short 73 \
    --small-crop 64 --image-small "$small_image" --model "$model" \
    --image "$DATA/photo_1080p.jpg" --threads "$THREADS" "${PY_ITERS[@]}" > "$RES/python_$name.json"
done

step "ResNeXt101_32x8d FP32, batches $BATCHES"
ort --model "$m32x8" --batch "$BATCHES" --warmup "$WARMUP" --iters "$ITERS" > "$RES/fp32_ort.json"
ours --model "$m32x8" --batch "$BATCHES" --warmup "$WARMUP" --iters "$ITERS" \
  --plot "$RES/fp32_tract.svg" > "$RES/fp32_tract.json"

# INT8 on the kernel layer: both quantization flavours, engines alternated, $ROUNDS rounds (the
# report keeps each configuration's round with the best batch-1 median, as for FP16).
for r in $(seq 1 "$ROUNDS"); do
  for q in int8:QUInt8:"$m8" int8s8:QInt8:"$m8s"; do
    IFS=: read -r name flavour model <<< "$q"
    step "ResNeXt101_32x8d INT8 ($flavour activations), batches 1,8, round $r: ONNX Runtime, ours (kernel layer auto, avx512-vnni)"
    ort --model "$model" --batch 1,8 --warmup "$WARMUP" --iters "$ITERS" > "$RES/${name}_ort_$r.json"
    ours --model "$model" --batch 1,8 --warmup "$WARMUP" --iters "$ITERS" > "$RES/${name}_tract_$r.json"
    ours_if "$RES/${name}_vnni_tract_$r.json" --cpu-kernels avx512-vnni --model "$model" --batch 1,8 \
      --warmup "$WARMUP" --iters "$ITERS"
  done
done
step "ResNeXt101_32x8d INT8 (QUInt8), kernel layer off (tract's float path), batches 1,8"
ours --cpu-kernels off --model "$m8" --batch 1,8 --warmup "$WARMUP" --iters "$ITERS" \
  > "$RES/int8_off_tract.json"
step "kernel layer per-operator profile, INT8 (QUInt8) batch 1, $THREADS threads (auto, avx512-vnni)"
"$BIN" bench --model "$m8" --batch 1 --threads "$THREADS" --profile 3 --json > "$RES/profile_int8.json"
"$BIN" bench --model "$m8" --batch 1 --threads "$THREADS" --profile 3 --json \
  --cpu-kernels avx512-vnni > "$RES/profile_int8_vnni.json" || rm -f "$RES/profile_int8_vnni.json"
step "per-core instruction peaks (examples/isa_peaks.rs), one thread"
"$ROOT/target/release/examples/isa_peaks" > "$RES/isa_peaks.json"
step "kernel layer GEMMs (examples/qgemm_gops.rs), one thread, every supported ISA"
"$QGEMM" --min-ms "$QGEMM_MS" > "$RES/qgemm_gops.json"
step "kernel layer f32 GEMMs (examples/fgemm_gflops.rs), one thread"
"$FGEMM" --min-ms "$QGEMM_MS" > "$RES/fgemm_gflops.json"

step "ResNeXt101_32x8d FP16 and FP32, batch 1"
ort --model "$DATA/r101_32x8d_fp16.onnx" --batch 1 --warmup "$WARMUP" --iters "$ITERS" > "$RES/fp16_ort.json"
# The FP16 file runs the same plan as the FP32 one (on the float kernel layer its convolution
# weights stay float16, widened in the kernel), so the ratio is all noise unless both are
# measured alike: two alternating rounds each, the better median of each kept. The kept FP16
# round's peak RSS is also the report's "FP16 peak RSS / FP16 file size" target (<= 1.5x).
for r in 1 2; do
  ours --model "$DATA/r101_32x8d_fp16.onnx" --batch 1 --warmup "$WARMUP" --iters "$ITERS" > "$RES/fp16_tract_$r.json"
  ours --model "$m32x8" --batch 1 --warmup "$WARMUP" --iters "$ITERS" > "$RES/fp16_ref_tract_$r.json"
done

step "ResNeXt101_32x16d FP32, batch 1"
ort --model "$DATA/r101_32x16d.onnx" --batch 1 --warmup "$WARMUP" --iters "$ITERS" > "$RES/x16_ort.json"
ours --model "$DATA/r101_32x16d.onnx" --batch 1 --warmup "$WARMUP" --iters "$ITERS" > "$RES/x16_tract.json"

step "bf16 convolutions on AMX (opt-in --bf16-matmul) vs FP32: latency, then outputs on photographs"
ours --model "$m32x8" --batch 1,8 --warmup "$WARMUP" --iters "$ITERS" > "$RES/bf16_ref_tract.json"
ours --bf16-matmul --model "$m32x8" --batch 1,8 --warmup "$WARMUP" --iters "$ITERS" > "$RES/bf16_tract.json"
photos_dir="$("$PY" -c 'import os, skimage.data; print(os.path.dirname(skimage.data.__file__))')"
photos=("$photos_dir/chelsea.png" "$photos_dir/coffee.png" "$photos_dir/motorcycle_left.png"
        "$photos_dir/rocket.jpg" "$photos_dir/astronaut.png" "$DATA/photo_1080p.jpg")
"$BIN" classify --model "$m32x8" --threads "$THREADS" --top-k 5 --json "${photos[@]}" > "$RES/bf16_ref_classify.jsonl"
"$BIN" classify --bf16-matmul --model "$m32x8" --threads "$THREADS" --top-k 5 --json "${photos[@]}" \
  > "$RES/bf16_classify.jsonl"
"$BIN" bench --bf16-matmul --model "$m32x8" --batch 1 --threads "$THREADS" --profile 3 --json \
  > "$RES/profile_bf16.json"

step "tract per-operator profile, ResNeXt101_32x8d FP32 batch 1 (1 and $THREADS threads)"
"$BIN" bench --model "$m32x8" --batch 1 --threads 1 --profile 3 --json > "$RES/profile_1t.json"
if [ "$THREADS" != 1 ]; then
  "$BIN" bench --model "$m32x8" --batch 1 --threads "$THREADS" --profile 3 --json > "$RES/profile_nt.json"
fi

uptime > "$RES/load_after.txt"
echo "$(( $(date +%s) - started ))" > "$RES/seconds.txt"
step "writing BENCHMARKS.md and benchmarks.svg"
"$PY" tools/benchmarks_report.py --results "$RES" --model "$m32x8" --int8-model "$m8" \
  --out BENCHMARKS.md --svg benchmarks.svg
echo "== done in $(( $(date +%s) - started )) s: BENCHMARKS.md, benchmarks.svg"
