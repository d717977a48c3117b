#!/usr/bin/env bash
# The hardening run of issue #8, one command:
#
#   bash scripts/hardening.sh            # full: 60 s per fuzz target, 4000-call stress runs,
#                                        # 1000-cycle leak loops, valgrind
#   bash scripts/hardening.sh --short    # CI: 20 s per fuzz target, 2000-call stress runs,
#                                        # 200-cycle leak loops, valgrind on a few cycles
#
# 1. Fuzzing (libFuzzer, AddressSanitizer, on the stable toolchain: scripts/asan_build.sh):
#    image_decode, pixel_buffer, model_load, c_abi and qgemm (fuzz/src/targets/), each for a
#    bounded time from the checked-in seeds (fuzz/seeds/<target>/) plus the working corpus
#    fuzz/corpus/<target>/ (kept between runs, not checked in). Prints the executions of each
#    (libFuzzer's final stats) and the contained panics (panics in dependencies the SDK caught
#    and returned as ErrorCode::Panic). A crash, a leak, a timeout (> 10 s) or an allocation
#    over 512 MB fails the run; the input is in fuzz/artifacts/<target>/.
#    Then the C and C++ tests against the same ASan build of the library (scripts/asan_tests.sh).
# 2. Concurrency: one classifier shared by THREADS threads (8) for thousands of classifications
#    from Rust (tests/stress.rs), C (tests/c/stress.c) and Java (tests/java/Stress.java); every
#    result compared bit for bit with the serial run. Prints throughput and divergences.
# 3. Leaks: create/classify/free loops in C and Java with the resident memory printed after a
#    warm-up, at the middle and at the end; valgrind (definite leaks are errors) on the C stress
#    program's leak and stress modes, and on the C tests (tests/c/run.sh) in the full run.
#    tests/c/stress.c exits 2 (usage), 4 (a call failed), 5 (divergence), 6 (RSS grew); 3 is
#    valgrind's own error code. Under valgrind only 6 is accepted (its allocator holds memory).
# 4. The report: RELIABILITY.md (full run; target/hardening/RELIABILITY.md for --short, or
#    RELIABILITY_OUT), every figure from this run's summary (tools/reliability_report.py).
#
# Environment: FUZZ_SECONDS, STRESS_THREADS, STRESS_TOTAL, LEAK_CYCLES override the figures;
# HARDENING_SKIP="fuzz java ..." skips steps (fuzz, asan, rust, c, java, valgrind).
# Needs: Rust (stable), gcc/g++, valgrind, a JDK, Python 3 (scripts/env.sh's venv, to generate
# the stress model when testdata/ has none and for ONNX Runtime). Output: target/hardening/,
# with the summary in target/hardening/summary.txt.
set -uo pipefail
SHORT=0
for arg in "$@"; do
  case "$arg" in
    --short) SHORT=1 ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done
# shellcheck source=env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
set +e  # keep going after a failed step; the exit status reports it
cd "$ROOT"

if [ "$SHORT" = 1 ]; then
  FUZZ_SECONDS="${FUZZ_SECONDS:-20}"; STRESS_TOTAL="${STRESS_TOTAL:-2000}"
  LEAK_CYCLES="${LEAK_CYCLES:-200}"; VALGRIND_CYCLES=3
else
  FUZZ_SECONDS="${FUZZ_SECONDS:-60}"; STRESS_TOTAL="${STRESS_TOTAL:-4000}"
  LEAK_CYCLES="${LEAK_CYCLES:-1000}"; VALGRIND_CYCLES=10
fi
STRESS_THREADS="${STRESS_THREADS:-8}"
SKIP=" ${HARDENING_SKIP:-} "
OUT="$ROOT/target/hardening"
SUMMARY="$OUT/summary.txt"
mkdir -p "$OUT"
: > "$SUMMARY"
FAILED=()
STARTED=$(date +%s)
step() { echo; echo "== $*"; }
note() { echo "$*" | tee -a "$SUMMARY"; }
fail() { echo "FAIL: $*" >&2; FAILED+=("$*"); }
skipped() { [[ "$SKIP" == *" $1 "* ]]; }
note "hardening run ($([ "$SHORT" = 1 ] && echo short || echo full)), $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"

# ---------------------------------------------------------------------------------------------
# 1. Fuzzing
FUZZ_TARGETS=(image_decode pixel_buffer model_load c_abi qgemm)
# shellcheck source=asan_build.sh
source "$ROOT/scripts/asan_build.sh"
fuzz() {
  step "sanitizer build (stable, RUSTC_BOOTSTRAP=1, AddressSanitizer; its own target dir, fuzz/target)"
  local t0=$(date +%s) fresh="incremental"
  [ -d "$ROOT/fuzz/target" ] || fresh="from scratch"
  asan_build || { fail "sanitizer build (scripts/asan_build.sh)"; return 1; }
  note "fuzz build: $(( $(date +%s) - t0 )) s ($fresh)"
  for t in "${FUZZ_TARGETS[@]}"; do
    step "fuzz $t for $FUZZ_SECONDS s"
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    local log="$OUT/fuzz-$t.log"
    # -malloc_limit_mb: any single allocation over 512 MB is a finding (the limits must stop
    # bombs before that); -timeout: one input over 10 s is a hang.
    "$ASAN_OUT/$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -max_total_time="$FUZZ_SECONDS" \
      -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
      -artifact_prefix="fuzz/artifacts/$t/" > "$log" 2>&1
    local rc=$?
    local execs panics corpus
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    panics=$(grep -c '^resnext-fuzz: contained panic' "$log")
    corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
    note "fuzz $t: ${execs:-?} executions in ${FUZZ_SECONDS} s, corpus $corpus inputs, $panics contained panic site(s), exit $rc"
    grep '^resnext-fuzz: contained panic' "$log" | sed 's/^/    /' | tee -a "$SUMMARY"
    if [ "$rc" != 0 ]; then
      grep -E 'ERROR: |SUMMARY: |invariant violated|panicked at|Test unit written' "$log" | head -8 \
        | sed 's/^/    /' | tee -a "$SUMMARY"
      fail "fuzz target $t (log: $log; inputs: fuzz/artifacts/$t/)"
    fi
  done
}
skipped fuzz || fuzz

# The C and C++ tests against the ASan library (the same build; a no-op rebuild after fuzz).
if ! skipped asan; then
  if [ -f "$ROOT/testdata/parity/manifest.json" ] || [ -n "${RESNEXT_TESTDATA:-}" ]; then
    step "C and C++ tests against the AddressSanitizer build of the library"
    ensure_venv && export_ort_library
    bash scripts/asan_tests.sh > "$OUT/asan-tests.log" 2>&1 || fail "tests against the ASan library (see $OUT/asan-tests.log)"
    grep -E '^asan (C|C\+\+) tests' "$OUT/asan-tests.log" | tee -a "$SUMMARY"
  else
    note "asan: SKIPPED (no testdata/; scripts/test.sh generates it)"
  fi
fi

# ---------------------------------------------------------------------------------------------
# The release library (build_release from scripts/env.sh: a no-op when up to date).
step "release build"
build_release || fail "cargo build --release"
LIB="$ROOT/target/release"

# The stress model: the 64 x 64 tiny ResNeXt of the test fixtures (generated when missing).
MODEL="$ROOT/testdata/models/tiny_torch.onnx"
if [ ! -f "$MODEL" ]; then
  MODEL="$OUT/tiny_torch.onnx"
  if [ ! -f "$MODEL" ]; then
    step "generating the tiny ResNeXt (tools/resnext_onnx.py)"
    ensure_venv
    "$VENV/bin/python" tools/resnext_onnx.py --stages 1,1,1,1 --base-planes 16 --resolution 64 \
      --classes 10 --style torch --seed 11 --out "$MODEL" || fail "generating $MODEL"
  fi
fi
SIDE=64
IMAGES=()
for f in chelsea.png coffee.png; do
  [ -f "$ROOT/testdata/preprocess/$f" ] && IMAGES+=("$ROOT/testdata/preprocess/$f")
done
SEEDS="$ROOT/fuzz/seeds/image_decode"
[ ${#IMAGES[@]} -gt 0 ] || IMAGES=("$SEEDS/rgb.png" "$SEEDS/exif6.jpg")
IMAGES+=("$SEEDS/lossy.webp" "$SEEDS/rgb.bmp")
LEAK_IMAGE="$SEEDS/rgb.jpg"
note "stress model: $(basename "$MODEL") (${SIDE}x${SIDE}), images: $(for i in "${IMAGES[@]}"; do basename "$i"; done | tr '\n' ' ')"

# ---------------------------------------------------------------------------------------------
# 2. Concurrency: Rust
if ! skipped rust; then
  step "Rust stress: $STRESS_THREADS threads, $STRESS_TOTAL calls"
  RESNEXT_STRESS_MODEL="$MODEL" RESNEXT_STRESS_SIDE=$SIDE RESNEXT_STRESS_THREADS=$STRESS_THREADS \
    RESNEXT_STRESS_TOTAL=$STRESS_TOTAL RESNEXT_STRESS_IMAGES="$(IFS=:; echo "${IMAGES[*]}")" \
    cargo test --release --locked "${CARGO_FEATURES[@]}" --test stress -- --ignored --nocapture \
    > "$OUT/rust-stress.log" 2>&1 || { tail -30 "$OUT/rust-stress.log"; fail "Rust stress"; }
  grep '^Rust stress' "$OUT/rust-stress.log" | tee -a "$SUMMARY"
fi

# C: the stress/leak program
C_BIN="$OUT/stress_c"
if ! skipped c || ! skipped valgrind; then
  gcc -std=c99 -Wall -Wextra -Werror -pedantic -pthread -g -I"$ROOT/include" "$ROOT/tests/c/stress.c" \
    -L"$LIB" -Wl,-rpath,"$LIB" -lresnext -lpthread -lm -o "$C_BIN" || fail "compiling tests/c/stress.c"
fi
# tests/c/stress.c's exit codes, one per outcome (3 is valgrind's --error-exitcode below).
stress_outcome() {
  case "$1" in
    0) echo "passed" ;;
    2) echo "usage error or unreadable input (exit 2)" ;;
    3) echo "valgrind: a memory error or a lost block (exit 3)" ;;
    4) echo "a call that must succeed failed, or one that must fail succeeded (exit 4)" ;;
    5) echo "a result diverged from the serial run or a concurrent call failed (exit 5)" ;;
    6) echo "RSS grew by more than 20 MB (exit 6)" ;;
    *) echo "unexpected exit $1 (a crash?)" ;;
  esac
}
if ! skipped c; then
  step "C stress: $STRESS_THREADS threads, $STRESS_TOTAL calls"
  "$C_BIN" stress "$MODEL" $SIDE "$STRESS_THREADS" "$STRESS_TOTAL" "${IMAGES[@]}" | tee -a "$SUMMARY"
  rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || fail "C stress: $(stress_outcome "$rc")"
  step "C leak loop: $LEAK_CYCLES cycles"
  "$C_BIN" leak "$MODEL" $SIDE "$LEAK_CYCLES" "$LEAK_IMAGE" | tee -a "$SUMMARY"
  rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || fail "C leak loop: $(stress_outcome "$rc")"
fi

# Java: the same two programs over the JNI API
if ! skipped java; then
  if command -v javac >/dev/null && command -v java >/dev/null; then
    step "Java stress and leak loop"
    JOUT="$OUT/java"
    rm -rf "$JOUT" && mkdir -p "$JOUT"
    # The API and its compile-only nullability annotations (bindings/java/src/annotations).
    mapfile -t JSRC < <(find "$ROOT/bindings/java/src/main/java" "$ROOT/bindings/java/src/annotations/java" -name '*.java' | sort)
    if javac --release 8 -encoding UTF-8 -Xlint:all -Xlint:-options -Werror -d "$JOUT" \
         "${JSRC[@]}" "$ROOT/tests/java/Stress.java"; then
      JAVA=(java -Xcheck:jni -Xmx256m -Dresnext.library.path="$LIB/libresnext.so" -cp "$JOUT")
      "${JAVA[@]}" Stress stress "$MODEL" $SIDE "$STRESS_THREADS" "$STRESS_TOTAL" "${IMAGES[@]}" \
        2>&1 | tee "$OUT/java-stress.log" | grep -v '^WARNING' ; grep '^Java stress' "$OUT/java-stress.log" >> "$SUMMARY"
      grep -q '^Java stress.* 0 divergent from serial, 0 failed' "$OUT/java-stress.log" || fail "Java stress"
      grep -qE 'WARNING in native method|WARNING: JNI|JNI local refs' "$OUT/java-stress.log" \
        && fail "Java stress: -Xcheck:jni warning"
      # The leak loop's heap is fixed and touched up front (-Xms = -Xmx, AlwaysPreTouch), so that
      # the JVM growing its own heap is not counted as native growth: without it, the RSS of a
      # 200-cycle loop jumped by about 50 MB in one run of two (AMD EPYC Zen 3), and by under
      # 1 MB in four runs of four with it.
      "${JAVA[@]}" -Xms256m -XX:+AlwaysPreTouch Stress leak "$MODEL" $SIDE "$LEAK_CYCLES" \
        "$LEAK_IMAGE" 2>&1 | tee "$OUT/java-leak.log"
      [ "${PIPESTATUS[0]}" = 0 ] || fail "Java leak loop (RSS grew)"
      grep '^Java leak' "$OUT/java-leak.log" >> "$SUMMARY"
    else
      fail "compiling tests/java/Stress.java"
    fi
  else
    note "java: SKIPPED (no JDK)"
  fi
fi

# ---------------------------------------------------------------------------------------------
# 3. valgrind
if ! skipped valgrind; then
  if command -v valgrind >/dev/null; then
    # Definitely and possibly lost blocks are both errors: a "possibly lost" block is typically
    # the stack or thread-local storage of a thread still running at exit (a classifier's
    # worker that resnext_classifier_free did not join).
    VG=(valgrind --error-exitcode=3 --leak-check=full --errors-for-leak-kinds=definite,possible
        --show-leak-kinds=definite,possible)
    step "valgrind: C leak loop ($VALGRIND_CYCLES cycles) and C stress (4 threads x 10 calls)"
    # Exit 3 is valgrind's (an error or a lost block). The loop's own RSS check (exit 6) means
    # nothing under valgrind, whose allocator keeps freed memory quarantined, so it alone is
    # accepted there; a functional failure (exit 4) fails as everywhere else.
    "${VG[@]}" --log-file="$OUT/valgrind-leak.log" "$C_BIN" leak "$MODEL" $SIDE "$VALGRIND_CYCLES" "$LEAK_IMAGE" \
      > "$OUT/valgrind-leak.out"
    rc=$?
    [ "$rc" = 0 ] || [ "$rc" = 6 ] \
      || fail "valgrind: C leak loop: $(stress_outcome "$rc") (see $OUT/valgrind-leak.log)"
    "${VG[@]}" --log-file="$OUT/valgrind-stress.log" "$C_BIN" stress "$MODEL" $SIDE 4 40 "${IMAGES[@]}" \
      > /dev/null
    rc=$?
    [ "$rc" = 0 ] || fail "valgrind: C stress: $(stress_outcome "$rc") (see $OUT/valgrind-stress.log)"
    for v in leak stress; do
      note "valgrind C $v: $(grep -hoE 'definitely lost: [0-9,]+ bytes in [0-9,]+ blocks' "$OUT/valgrind-$v.log" | head -1 || echo 'definitely lost: 0 bytes'); $(grep -hoE 'possibly lost: [0-9,]+ bytes in [0-9,]+ blocks' "$OUT/valgrind-$v.log" | head -1 || echo 'possibly lost: 0 bytes'); $(grep -hoE 'ERROR SUMMARY: [0-9]+ errors' "$OUT/valgrind-$v.log")"
      if grep -qE '(definitely|possibly) lost: [1-9]' "$OUT/valgrind-$v.log"; then
        fail "valgrind C $v: lost blocks (see $OUT/valgrind-$v.log)"
      fi
    done
    if [ "$SHORT" = 0 ]; then
      if [ -f "$ROOT/testdata/parity/manifest.json" ]; then
        step "C tests (plain, ASan+UBSan, valgrind): tests/c/run.sh"
        ensure_venv && export_ort_library
        bash tests/c/run.sh > "$OUT/c-tests.log" 2>&1 || { tail -20 "$OUT/c-tests.log"; fail "tests/c/run.sh"; }
        note "valgrind C tests (tests/c/run.sh): $(grep -E 'definitely lost|possibly lost|ERROR SUMMARY' "$OUT/c-tests.log" | sed 's/==[0-9]*== *//' | tr '\n' ' ')"
      else
        note "C tests under valgrind: SKIPPED (no testdata/; scripts/test.sh generates it and runs them)"
      fi
    fi
  else
    note "valgrind: SKIPPED (not installed)"
  fi
fi

echo
ELAPSED=$(( $(date +%s) - STARTED ))
echo "== summary ($ELAPSED s)"
cat "$SUMMARY"
# The report: every figure in it is one of this run's summary lines.
if [ "$SHORT" = 1 ]; then REPORT="${RELIABILITY_OUT:-$OUT/RELIABILITY.md}"; else REPORT="${RELIABILITY_OUT:-$ROOT/RELIABILITY.md}"; fi
failed_args=()
for f in "${FAILED[@]}"; do failed_args+=(--failed "$f"); done
python3 tools/reliability_report.py "$SUMMARY" --out "$REPORT" --seconds "$ELAPSED" \
  --commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" "${failed_args[@]}" \
  || fail "writing $REPORT (tools/reliability_report.py)"
if [ ${#FAILED[@]} -gt 0 ]; then
  echo
  printf 'FAILED: %s\n' "${FAILED[@]}"
  exit 1
fi
echo "hardening: all passed"
