#!/usr/bin/env bash
# aarch64 Linux (Jetson-class) cross build and emulated test run, on an x86_64 Debian 12 host.
#
#   bash scripts/cross-aarch64.sh
#
# 1. installs (apt, once; needs root) Debian's Rust 1.96 (`rustc-web`, /usr/bin/rustc and
#    /usr/bin/cargo) with its arm64 standard library, the aarch64 GNU cross toolchain and
#    qemu-user-static;
# 2. generates the small test fixtures on the host (FP32/FP16/INT8 tiny and ResNeXt50 models with
#    ONNX Runtime reference outputs; no 355 MB model) unless they exist;
# 3. builds for aarch64-unknown-linux-gnu, in release: the library, the CLI, every test binary and
#    the `tract_kernels` example; then the shipping library (`--profile ship
#    --no-default-features --features tract`) and prints its stripped size;
# 4. under `qemu-aarch64-static`: prints which tract kernels run (the instruction set tract
#    detects, the matrix kernels of an FP32, FP16 and INT8 plan), smoke-tests the CLI, and runs
#    every Rust test binary (unit tests, parity, preprocessing, errors, concurrency, C ABI
#    parity) against the same fixtures and ONNX Runtime references as on x86_64;
# 5. prints the parity figures (max |ours - ONNX Runtime| per case) of aarch64 next to those of
#    the host's x86_64 parity test binary (built by `scripts/test.sh`, when present).
#
# Environment:
#   RESNEXT_CROSS_TESTDATA   fixture directory (default target/cross-aarch64/testdata)
#   RESNEXT_CROSS_CPU        qemu CPU model (default: qemu's own, "max" in user mode)
#   RESNEXT_CROSS_TRACT_ISA  TRACT_CPU_ISA for the emulated runs (default -sve2,+fp16: Orin's
#                            kernels; empty: what tract detects under qemu, i.e. SVE)
#   RESNEXT_CROSS_NO_SHIP=1  skip the ship-profile library build (a second fat-LTO build)
#   RESNEXT_CROSS_R50=1      also run the parity tests on the ResNeXt50 models under emulation
#                            (slow: by default only the tiny models' parity cases run there)
#   RESNEXT_CROSS_FILTER     extra arguments for the test binaries (e.g. a test name)
#   RESNEXT_CROSS_TEST_TIMEOUT  seconds per emulated test binary (default 300)
#   RESNEXT_CROSS_CLI_MODELS more models (fixture names, e.g. r50_int8) for the CLI comparison
# Build products go to target/cross-aarch64 (CARGO_TARGET_DIR), never target/release.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
TARGET=aarch64-unknown-linux-gnu
OUT="$ROOT/target/cross-aarch64"
LOGS="$OUT/logs"
TESTDATA="${RESNEXT_CROSS_TESTDATA:-$OUT/testdata}"
mkdir -p "$LOGS"
started=$(date +%s)
step_started=$started
step() { # prints the time of the previous step, then the new step's title
  local now; now=$(date +%s)
  [ -n "${STEP:-}" ] && echo "   ($STEP: $((now - step_started)) s)"
  STEP="$1"; step_started=$now
  echo "== $1"
}

step "toolchain (apt)"
packages=(rustc-web libstd-rust-web-dev:arm64 libc6:arm64 libgcc-s1:arm64 gcc-aarch64-linux-gnu
          qemu-user-static)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} = 0 ]; then
  echo "   already installed"
else
  [ "$(id -u)" = 0 ] || { echo "apt steps need root: run as root, or install ${missing[*]}"; exit 1; }
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Debian's cargo and rustc, whatever rustup puts first on PATH (rustup has no arm64 std here).
CARGO=/usr/bin/cargo
export RUSTC=/usr/bin/rustc
export CARGO_TARGET_DIR="$OUT"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CXX_aarch64_unknown_linux_gnu=aarch64-linux-gnu-g++
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
# No `-L /usr/aarch64-linux-gnu`: with it qemu takes the dynamic loader from the cross package
# (glibc 2.36-8cross1) while that loader, reading the host's /etc/ld.so.cache, loads libc.so.6
# from the multiarch libc6:arm64 (2.36-9+deb12uN). The two builds disagree on the loader's
# private data, and the first pthread_create loops forever over an uninitialised stack-cache list
# (every test harness hung at its first test). Without -L, the binaries use the multiarch
# /lib/ld-linux-aarch64.so.1 and libraries, which belong together.
QEMU=(qemu-aarch64-static)
# qemu's default CPU ("max") has SVE2, so tract would pick its SVE kernels, which TCG emulates
# about 9x slower than NEON and which Jetson Orin (Cortex-A78AE) does not have. Default: tract's
# own feature override to Orin's set, NEON + fp16 + dot product. RESNEXT_CROSS_TRACT_ISA= (empty)
# keeps what tract detects.
# Given to the emulated programs only (through `env` in front of qemu; qemu's own -E splits its
# value at commas): the host's x86_64 runs below must not see it.
GUEST_TRACT_ISA="${RESNEXT_CROSS_TRACT_ISA--sve2,+fp16}"
unset TRACT_CPU_ISA
[ -n "$GUEST_TRACT_ISA" ] && QEMU=(env "TRACT_CPU_ISA=$GUEST_TRACT_ISA" "${QEMU[@]}")
[ -n "${RESNEXT_CROSS_CPU:-}" ] && QEMU+=(-cpu "$RESNEXT_CROSS_CPU")
echo "   $("$RUSTC" --version), $("$CARGO" --version), $(qemu-aarch64-static --version | head -1)"
echo "   TRACT_CPU_ISA for the emulated runs: ${GUEST_TRACT_ISA:-(unset: what tract detects)}"

step "fixtures in $TESTDATA"
if [ -f "$TESTDATA/parity/manifest.json" ]; then
  echo "   present (delete the directory to regenerate)"
else
  ensure_venv
  "$VENV/bin/python" tools/make_test_fixtures.py --out "$TESTDATA"
fi
if grep -q '"r101_32x8d"' "$TESTDATA/parity/manifest.json"; then
  echo "   $TESTDATA holds the 355 MB r101_32x8d case: too slow under emulation, use a directory without it"
  exit 1
fi

step "cargo test --release --no-run --target $TARGET (library, CLI, tests, examples)"
"$CARGO" test --release --locked --no-run --target "$TARGET" --message-format=json \
  > "$LOGS/build.json" 2> "$LOGS/build.log" || { tail -40 "$LOGS/build.log"; exit 1; }
# The executables cargo produced: test harnesses (lib, bin, tests/*.rs), the CLI, the example.
mapfile -t artifacts < <(python3 - "$LOGS/build.json" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    if not line.startswith("{"):
        continue
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        kinds = m["target"]["kind"]
        role = "test" if m["profile"]["test"] else kinds[0]
        print(role, m["target"]["name"], m["executable"])
EOF
)
printf '   %s\n' "${artifacts[@]}"
exe_of() { printf '%s\n' "${artifacts[@]}" | awk -v r="$1" -v n="$2" '$1 == r && $2 == n {print $3}'; }
CLI="$(exe_of bin resnext)"
KERNELS="$(exe_of example tract_kernels)"
file -b "$CLI" | cut -d, -f1-2 | sed 's/^/   CLI: /'

if [ "${RESNEXT_CROSS_NO_SHIP:-0}" != 1 ]; then
  step "cargo build --profile ship --no-default-features --features tract --target $TARGET --lib"
  "$CARGO" build --profile ship --locked --no-default-features --features tract --target "$TARGET" \
    --lib 2> "$LOGS/ship.log" || { tail -40 "$LOGS/ship.log"; exit 1; }
  so="$OUT/$TARGET/ship/libresnext.so"
  echo "   $so: $(stat -c %s "$so") bytes ($(numfmt --to=iec-i --suffix=B "$(stat -c %s "$so")")), $(file -b "$so" | grep -o 'stripped\|not stripped')"
fi

step "tract kernels under emulation"
"${QEMU[@]}" "$KERNELS" "$TESTDATA/models/tiny_torch.onnx" "$TESTDATA/models/tiny_fp16.onnx" \
  "$TESTDATA/models/tiny_int8.onnx" | tee "$LOGS/kernels.txt"

step "CLI under emulation"
"${QEMU[@]}" "$CLI" info --model "$TESTDATA/models/tiny_int8.onnx"
"${QEMU[@]}" "$CLI" classify --model "$TESTDATA/models/tiny_torch.onnx" --resize-short 64 --crop 64 --threads 1 \
  --allow-label-mismatch --top-k 3 "$TESTDATA/preprocess/"*.png

step "Rust tests under emulation (RESNEXT_TESTDATA=$TESTDATA)"
export RESNEXT_TESTDATA="$TESTDATA"
R50_TESTS=(fp32_resnext50_torch_and_paddle_exports_match_onnxruntime
           fp32_with_two_threads_matches_onnxruntime fp16_both_io_kinds_match_onnxruntime
           int8_qdq_matches_onnxruntime int8_with_the_kernel_layer_off_matches_onnxruntime
           quantized_paddle_exports_score_like_onnxruntime
           batch_sizes_1_4_8_run_on_one_classifier bf16_matmul_mode_stays_close_to_onnxruntime_fp32)
: > "$LOGS/tests.txt"
failed=0
for a in "${artifacts[@]}"; do
  read -r role name exe <<< "$a"
  [ "$role" = test ] || continue
  t0=$(date +%s)
  skip=()
  if [ "$name" = parity ] && [ "${RESNEXT_CROSS_R50:-0}" != 1 ]; then
    # The ResNeXt50 cases (4.2 GFLOPs an image, ~50 images with the re-runs): hours under
    # emulation. Every precision and both export styles still run on the tiny models
    # (tiny_models_match_onnxruntime, fp16_native_compute_loads_and_runs).
    for t in "${R50_TESTS[@]}"; do skip+=(--skip "$t"); done
  fi
  # --skip matches substrings: no test kept under emulation may contain a skipped name.
  # --test-threads=1 as scripts/test.sh: the concurrency tests start their own threads.
  # shellcheck disable=SC2086
  # A per-binary time limit, so that one stuck emulated test cannot stall the run.
  if timeout "${RESNEXT_CROSS_TEST_TIMEOUT:-300}" \
       "${QEMU[@]}" "$exe" --nocapture --test-threads=1 "${skip[@]}" ${RESNEXT_CROSS_FILTER:-} \
       > "$LOGS/test-$name.txt" 2>&1; then status=ok; else status=FAILED; failed=1; fi
  summary=$(grep -E '^test result:' "$LOGS/test-$name.txt" | tail -1)
  echo "   $name: $status in $(( $(date +%s) - t0 )) s; $summary" | tee -a "$LOGS/tests.txt"
  [ "$status" = ok ] || tail -30 "$LOGS/test-$name.txt"
done

step "parity figures: aarch64 (emulated) vs x86_64 (host)"
host_parity=$(ls -t "$ROOT"/target/release/deps/parity-* 2>/dev/null | grep -v '\.d$' | head -1 || true)
if [ -n "$host_parity" ]; then
  host_skip=()
  [ "${RESNEXT_CROSS_R50:-0}" = 1 ] || for t in "${R50_TESTS[@]}"; do host_skip+=(--skip "$t"); done
  "$host_parity" --nocapture --test-threads=1 "${host_skip[@]}" > "$LOGS/test-parity-x86_64.txt" 2>&1 \
    || echo "   host parity run failed: see $LOGS/test-parity-x86_64.txt"
else
  echo "   no host parity binary in target/release (run scripts/test.sh first): aarch64 only"
  : > "$LOGS/test-parity-x86_64.txt"
fi
python3 - "$LOGS/test-parity.txt" "$LOGS/test-parity-x86_64.txt" <<'EOF' | tee "$LOGS/parity-compare.txt"
import re, sys
pat = re.compile(r"^(.*?):? max (?:\|ours - ort\| =|diff) (\S+)")
def figures(path):
    out = {}
    for line in open(path, errors="replace"):
        m = pat.match(re.sub(r"^test \S+ \.\.\. ", "", line.strip()))
        if m:
            out.setdefault(m.group(1), m.group(2))
    return out
arm, x86 = figures(sys.argv[1]), figures(sys.argv[2])
print(f"   {'case':<52} {'aarch64':>10} {'x86_64':>10}")
for case, v in arm.items():
    w = x86.get(case, "-")
    mark = "" if w in ("-", v) else "   (differs)"
    print(f"   {case:<52} {v:>10} {w:>10}{mark}")
print(f"   {len(arm)} parity cases ran on aarch64, {len(x86)} on x86_64; "
      f"{sum(1 for c, v in arm.items() if c in x86 and x86[c] != v)} differ in the printed figure")
EOF
step "CLI scores: aarch64 (emulated) vs x86_64 (host target/release/resnext)"
# Same photographs, same models, full pipeline (decode, NEON vs AVX2 resize, inference, softmax):
# the top-5 ids must match; the score differences are printed.
host_cli="$ROOT/target/release/resnext"
photos=("$TESTDATA"/preprocess/*.png "$TESTDATA"/preprocess/*.jpg)
: > "$LOGS/cli-compare.txt"
for model in tiny_torch tiny_fp16 tiny_int8 ${RESNEXT_CROSS_CLI_MODELS:-}; do
  side=$(python3 -c "import json,sys; print([c['resolution'] for c in json.load(open(sys.argv[1])) if c['name']==sys.argv[2]][0])" "$TESTDATA/parity/manifest.json" "$model")
  args=(classify --json --top-k 5 --threads 1 --resize-short "$side" --crop "$side"
        --allow-label-mismatch --model "$TESTDATA/models/$model.onnx" "${photos[@]}")
  "${QEMU[@]}" "$CLI" "${args[@]}" > "$LOGS/cli-$model.aarch64.jsonl"
  if [ -x "$host_cli" ]; then "$host_cli" "${args[@]}" > "$LOGS/cli-$model.x86_64.jsonl"; fi
  python3 - "$model" "$LOGS/cli-$model.aarch64.jsonl" "$LOGS/cli-$model.x86_64.jsonl" <<'PY' | tee -a "$LOGS/cli-compare.txt" || failed=1
import json, os, sys
model, arm_path, x86_path = sys.argv[1:]
if not os.path.exists(x86_path):
    print(f"   {model}: no host CLI (target/release/resnext) to compare with"); sys.exit(0)
arm = [json.loads(l) for l in open(arm_path)]
x86 = [json.loads(l) for l in open(x86_path)]
same_ids = all([p["class_id"] for p in a["predictions"]] == [p["class_id"] for p in b["predictions"]]
               for a, b in zip(arm, x86))
diff = max(abs(p["score"] - q["score"]) for a, b in zip(arm, x86)
           for p, q in zip(a["predictions"], b["predictions"]))
identical = sum(a["predictions"] == b["predictions"] for a, b in zip(arm, x86))
print(f"   {model}: {len(arm)} photos, top-5 ids {'equal' if same_ids else 'DIFFER'}, "
      f"max |score diff| {diff:.3e}, bit-identical on {identical}/{len(arm)}")
if not same_ids or len(arm) != len(x86):
    sys.exit(1)
PY
done

step "done"
echo "== aarch64 cross build and emulated tests: $(( $(date +%s) - started )) s; logs in $LOGS"
exit "$failed"
