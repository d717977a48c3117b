#!/usr/bin/env bash
# Builds tests/c/test_capi.c with -Wall -Wextra -Werror -pedantic against the release
# libresnext.so and runs it three ways: plain, under AddressSanitizer + UndefinedBehaviorSanitizer,
# and under valgrind (no definite leaks allowed). Needs `cargo build --release` and the fixtures.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATA="${RESNEXT_TESTDATA:-$ROOT/testdata}"
LIB="$ROOT/target/release"
OUT="$ROOT/target/c-tests"
mkdir -p "$OUT"
[ -f "$LIB/libresnext.so" ] || { echo "build the library first: cargo build --release"; exit 1; }
flags=(-std=c99 -Wall -Wextra -Werror -pedantic -g -I"$ROOT/include" "$ROOT/tests/c/test_capi.c"
       -L"$LIB" -Wl,-rpath,"$LIB" -lresnext -lpthread -lm)
echo "== C tests (plain)"
gcc "${flags[@]}" -o "$OUT/test_capi"
"$OUT/test_capi" "$DATA"
echo "== C tests under AddressSanitizer + UndefinedBehaviorSanitizer"
gcc -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all "${flags[@]}" -o "$OUT/test_capi_asan"
ASAN_OPTIONS=detect_leaks=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$OUT/test_capi_asan" "$DATA"
echo "== C tests under valgrind (tiny models only: valgrind runs ~50x slower)"
# valgrind emulates no AVX-512 or AMX: the kernel layer's VNNI and AMX families are
# unavailable there (reported, not required), the scalar reference runs instead.
env -u RESNEXT_REQUIRE_CPU_KERNELS valgrind --error-exitcode=3 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
  "$OUT/test_capi" "$DATA" quick 2> "$OUT/valgrind.log" || { tail -40 "$OUT/valgrind.log"; exit 1; }
grep -E "definitely lost|ERROR SUMMARY" "$OUT/valgrind.log"
