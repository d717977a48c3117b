#!/usr/bin/env bash
# Builds tests/c/test_capi.c with -Wall -Wextra -Werror -pedantic against the release
# libresnext.so and runs it three ways: plain, under AddressSanitizer + UndefinedBehaviorSanitizer,
# and under valgrind (no definitely or possibly lost blocks allowed: a "possibly lost" block is
# typically a thread still running at exit). Needs `cargo build --release` and the fixtures.
# Env: RESNEXT_LIB_DIR, the directory of the libresnext.so to test (default target/release;
# scripts/asan_tests.sh passes the AddressSanitizer build), RESNEXT_C_RUNS, the runs to do
# (default "plain asan valgrind"), RESNEXT_C_TEST_BUILD, where to build (target/c-tests).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATA="${RESNEXT_TESTDATA:-$ROOT/testdata}"
LIB="${RESNEXT_LIB_DIR:-$ROOT/target/release}"
OUT="${RESNEXT_C_TEST_BUILD:-$ROOT/target/c-tests}"
RUNS=" ${RESNEXT_C_RUNS:-plain asan valgrind} "
mkdir -p "$OUT"
[ -f "$LIB/libresnext.so" ] || { echo "build the library first: cargo build --release"; exit 1; }
flags=(-std=c99 -Wall -Wextra -Werror -pedantic -g -I"$ROOT/include" "$ROOT/tests/c/test_capi.c"
       -L"$LIB" -Wl,-rpath,"$LIB" -lresnext -lpthread -lm)
if [[ "$RUNS" == *" plain "* ]]; then
  echo "== C tests (plain)"
  gcc "${flags[@]}" -o "$OUT/test_capi"
  "$OUT/test_capi" "$DATA"
fi
if [[ "$RUNS" == *" asan "* ]]; then
  echo "== C tests under AddressSanitizer + UndefinedBehaviorSanitizer ($LIB/libresnext.so)"
  gcc -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all "${flags[@]}" -o "$OUT/test_capi_asan"
  ASAN_OPTIONS=detect_leaks=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$OUT/test_capi_asan" "$DATA"
fi
[[ "$RUNS" == *" valgrind "* ]] || exit 0
[[ "$RUNS" == *" plain "* ]] || gcc "${flags[@]}" -o "$OUT/test_capi"
echo "== C tests under valgrind (tiny models only: valgrind runs ~50x slower)"
# valgrind emulates no AVX-512 or AMX: the kernel layer's VNNI and AMX families are
# unavailable there (reported, not required); float models run on its AVX2 f32 kernel, which
# valgrind emulates, and INT8 models on the AVX2 INT8 kernel, which it also emulates.
env -u RESNEXT_REQUIRE_CPU_KERNELS valgrind --error-exitcode=3 --leak-check=full \
  --errors-for-leak-kinds=definite,possible --show-leak-kinds=definite,possible \
  "$OUT/test_capi" "$DATA" quick 2> "$OUT/valgrind.log" || { tail -60 "$OUT/valgrind.log"; exit 1; }
grep -E "definitely lost|possibly lost|ERROR SUMMARY" "$OUT/valgrind.log"
# Belt and braces: the summary itself must show no lost blocks of either kind.
if grep -E "(definitely|possibly) lost: [1-9]" "$OUT/valgrind.log"; then
  echo "valgrind: blocks lost (see $OUT/valgrind.log)"; exit 1
fi
