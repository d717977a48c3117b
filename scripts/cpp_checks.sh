#!/usr/bin/env bash
# Checks the C/C++ SDK surface end to end, against the existing release build:
#   1. scripts/install.sh into a temporary prefix: the library as libresnext.so.VERSION with
#      SONAME libresnext.so.MAJOR and the libresnext.so.MAJOR and libresnext.so symlinks, the
#      CMake package (lib/cmake/resnext); resnext.pc answers pkg-config, a C program builds with
#      `pkg-config --cflags --libs resnext`;
#   2. cpp_demo built with CMake from the installed prefix through find_package(resnext)
#      (-DCMAKE_PREFIX_PATH: resnext::resnext, then resnext::resnext_static), through pkg-config
#      (shared; then static, using Libs.private) and through -DRESNEXT_ROOT=<repo root> (static);
#   3. each demo classifies chelsea.png and coffee.png with r50_torch.onnx (5 predictions each)
#      and runs --bench --iters 2 on tiny_torch.onnx (batch 1/4/8 rows);
#   4. tests/cpp/run.sh (the wrapper's tests under ASan/LSan/UBSan).
#   scripts/cpp_checks.sh [TESTDATA_DIR]   (default: $RESNEXT_TESTDATA, else testdata/)
# Needs g++, cmake >= 3.16 and pkg-config (installed with apt-get when missing and run as root),
# and `cargo build --release` to have been run. Exits non-zero on any failure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$(cd "${1:-${RESNEXT_TESTDATA:-$ROOT/testdata}}" && pwd)"
cd "$ROOT"
step() { echo; echo "== $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

missing=()
for tool in cmake pkg-config; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    step "installing ${missing[*]}"
    apt-get install -y -qq "${missing[@]}" >/dev/null || { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }
  else
    fail "missing ${missing[*]} (install cmake and pkg-config)"
  fi
fi
command -v g++ >/dev/null || fail "g++ is required"
[ -f target/release/libresnext.so ] && [ -f target/release/libresnext.a ] \
  || fail "target/release/libresnext.{so,a} missing: run 'cargo build --release' first"
[ -f "$DATA/models/r50_torch.onnx" ] || fail "$DATA/models/r50_torch.onnx missing (test data dir: $DATA)"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/resnext-cpp-checks.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
PREFIX="$TMP/prefix"
JOBS="$(nproc 2>/dev/null || echo 2)"

step "scripts/install.sh $PREFIX"
scripts/install.sh "$PREFIX"
want="$(awk '/^\[/{pkg=($0=="[package]")} pkg && /^version *=/{gsub(/.*= *"|".*/,""); print; exit}' Cargo.toml)"
for f in lib/libresnext.so lib/libresnext.so."${want%%.*}" lib/libresnext.so."$want" lib/libresnext.a include/resnext.h \
         include/resnext.hpp lib/pkgconfig/resnext.pc lib/cmake/resnext/resnextConfig.cmake \
         lib/cmake/resnext/resnextConfigVersion.cmake; do
  [ -f "$PREFIX/$f" ] || fail "install did not write $f"
done
[ "$(readlink "$PREFIX/lib/libresnext.so")" = "libresnext.so.${want%%.*}" ] || fail "libresnext.so is not a symlink to the SONAME"
[ "$(readlink "$PREFIX/lib/libresnext.so.${want%%.*}")" = "libresnext.so.$want" ] || fail "the SONAME link is not to libresnext.so.$want"
readelf -d "$PREFIX/lib/libresnext.so.$want" | grep -q "(SONAME).*\[libresnext.so.${want%%.*}\]" || fail "no SONAME libresnext.so.${want%%.*}"
echo "installed: $(cd "$PREFIX/lib" && ls -l libresnext.so* | awk '{print $9, $10, $11}' | tr '\n' ' ')"
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
got="$(pkg-config --modversion resnext)"
[ "$got" = "$want" ] || fail "pkg-config version $got, Cargo.toml $want"
echo "pkg-config: resnext $got: $(pkg-config --cflags --libs resnext)"
cat > "$TMP/c_smoke.c" <<'C'
#include <resnext.h>
#include <stdio.h>
int main(void) {
  resnext_options* o = resnext_options_new();
  resnext_result r = resnext_options_set_top_k(o, 0);
  printf("C: resnext %s, top_k(0) -> %u: %s\n", resnext_version(), (unsigned)r, resnext_last_error_message());
  resnext_options_free(o);
  return r == RESNEXT_RESULT_INVALID_ARGUMENT ? 0 : 1;
}
C
# shellcheck disable=SC2046
gcc -std=c11 -Wall -Wextra -Werror -pedantic "$TMP/c_smoke.c" -o "$TMP/c_smoke" $(pkg-config --cflags --libs resnext) \
  -Wl,-rpath,"$PREFIX/lib"
"$TMP/c_smoke" || fail "C program built with pkg-config"

build_demo() {  # build_demo NAME CMAKE_ARGS...
  local name="$1"; shift
  step "cmake: cpp_demo ($name)"
  cmake -S cpp_demo -B "$TMP/build-$name" "$@" | grep -E "^-- resnext:|Error" || true
  cmake --build "$TMP/build-$name" -j "$JOBS" >"$TMP/build-$name.log" 2>&1 || { cat "$TMP/build-$name.log"; fail "build $name"; }
  grep -iE "warning" "$TMP/build-$name.log" && fail "build $name has warnings"
  [ -x "$TMP/build-$name/resnext_demo" ] || fail "no resnext_demo in $name"
}

run_demo() {  # run_demo NAME
  local demo="$TMP/build-$1/resnext_demo" out="$TMP/$1.out"
  step "resnext_demo ($1): r50_torch.onnx, chelsea.png coffee.png"
  "$demo" --model "$DATA/models/r50_torch.onnx" --preset wsl-224 --threads 2 \
    "$DATA/preprocess/chelsea.png" "$DATA/preprocess/coffee.png" | tee "$out"
  # Per image: a line naming it, then "  #1".."  #5", then "  timings: ...".
  for image in chelsea.png coffee.png; do
    n="$(awk -v img="$image" 'index($0, img) && $0 !~ /^ / {on=1; next} /^[^ ]/ {on=0} on && /^  #[0-9]+  class/ {n++} END {print n+0}' "$out")"
    [ "$n" = 5 ] || fail "$1: $n predictions for $image, want 5"
    awk -v img="$image" 'index($0, img) && $0 !~ /^ / {on=1; next} /^[^ ]/ {on=0} on && /^  timings: decode/ {t=1} END {exit !t}' "$out" \
      || fail "$1: no timings for $image"
  done
  step "resnext_demo ($1) --bench --iters 2: tiny_torch.onnx"
  "$demo" --model "$DATA/models/tiny_torch.onnx" --resize-short 73 --crop 64 --mean 0.485,0.456,0.406 \
    --std 0.229,0.224,0.225 --no-labels --threads 2 --bench --iters 2 "$DATA/preprocess/coffee.png" | tee "$out"
  for b in 1 4 8; do
    grep -qE "^ +$b +[0-9.]+ +[0-9.]+ " "$out" || fail "$1: no bench row for batch $b"
  done
  # A usage error and a missing model must fail.
  if "$demo" "$DATA/preprocess/coffee.png" >/dev/null 2>&1; then fail "$1: --model not enforced"; fi
  if "$demo" --model "$TMP/none.onnx" "$DATA/preprocess/coffee.png" >/dev/null 2>&1; then fail "$1: missing model accepted"; fi
}

build_demo cmake -DCMAKE_PREFIX_PATH="$PREFIX"         # find_package(resnext): resnext::resnext
build_demo cmake-static -DCMAKE_PREFIX_PATH="$PREFIX" -DRESNEXT_STATIC=ON  # resnext::resnext_static
build_demo pkgconfig                                   # shared, via PKG_CONFIG_PATH
build_demo pkgconfig-static -DRESNEXT_STATIC=ON        # static, Libs.private from resnext.pc
build_demo root -DRESNEXT_ROOT="$ROOT" -DRESNEXT_STATIC=ON  # repo root: include/, target/release/
grep -q "resnext_DIR:PATH=$PREFIX/lib/cmake/resnext" "$TMP/build-cmake/CMakeCache.txt" \
  || fail "cmake build did not use the installed CMake package"
for name in cmake pkgconfig; do
  readelf -d "$TMP/build-$name/resnext_demo" | grep -q "NEEDED.*\[libresnext.so.${want%%.*}\]" \
    || fail "$name build does not need libresnext.so.${want%%.*} (the SONAME)"
done
for name in cmake-static root; do
  if readelf -d "$TMP/build-$name/resnext_demo" | grep -q "libresnext.so"; then fail "static build $name depends on libresnext.so"; fi
done
# The package's version file: MAJOR.MINOR is satisfied; the next major, and before 1.0 the next
# minor, are not. RESNEXT_ROOT=<prefix> configures through the package too.
mkdir -p "$TMP/version-probe"
major="${want%%.*}"; minor="$(echo "$want" | cut -d. -f2)"
good="$major.$minor"
for v in "$good" "$((major + 1)).0" "$major.$((minor + 1))"; do
  printf 'cmake_minimum_required(VERSION 3.16)\nproject(probe LANGUAGES CXX)\nfind_package(resnext %s CONFIG REQUIRED)\n' "$v" \
    > "$TMP/version-probe/CMakeLists.txt"
  if cmake -S "$TMP/version-probe" -B "$TMP/version-probe/build-$v" -DCMAKE_PREFIX_PATH="$PREFIX" >/dev/null 2>&1; then
    [ "$v" = "$good" ] || fail "find_package(resnext $v) accepted version $want"
  else
    [ "$v" != "$good" ] || fail "find_package(resnext $good) refused version $want"
  fi
done
cmake -S cpp_demo -B "$TMP/build-prefix-root" -DRESNEXT_ROOT="$PREFIX" > "$TMP/prefix-root.log" 2>&1 \
  || { cat "$TMP/prefix-root.log"; fail "configuring with RESNEXT_ROOT=<prefix>"; }
grep -q "resnext: find_package(resnext) $want" "$TMP/prefix-root.log" || fail "RESNEXT_ROOT=<prefix> did not use the CMake package"
for name in cmake cmake-static pkgconfig pkgconfig-static root; do run_demo "$name"; done

step "tests/cpp/run.sh $DATA"
tests/cpp/run.sh "$DATA"

step "cpp checks passed"
