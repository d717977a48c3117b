#!/usr/bin/env bash
# Installs the built C/C++ SDK into a prefix:
#   scripts/install.sh PREFIX
# PREFIX/lib/libresnext.so.VERSION (SONAME libresnext.so.MAJOR) with the symlinks
# libresnext.so.MAJOR and libresnext.so, PREFIX/lib/libresnext.a,
# PREFIX/include/{resnext.h,resnext.hpp}, PREFIX/lib/pkgconfig/resnext.pc (from resnext.pc.in)
# and the CMake package PREFIX/lib/cmake/resnext/resnextConfig{,Version}.cmake (from cmake/*.in;
# imported targets resnext::resnext and resnext::resnext_static); the version is Cargo.toml's.
# It installs what `cargo build --release` produced and fails if that has not been run.
# Then: PKG_CONFIG_PATH=PREFIX/lib/pkgconfig pkg-config --cflags --libs resnext
#   or: cmake -DCMAKE_PREFIX_PATH=PREFIX ...  with  find_package(resnext) in CMakeLists.txt
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 PREFIX" >&2
  exit 2
fi
REL="$ROOT/target/release"
for f in "$REL/libresnext.so" "$REL/libresnext.a" "$ROOT/include/resnext.h" "$ROOT/include/resnext.hpp" \
         "$ROOT/resnext.pc.in" "$ROOT/cmake/resnextConfig.cmake.in" "$ROOT/cmake/resnextConfigVersion.cmake.in"; do
  if [ ! -f "$f" ]; then
    echo "error: $f is missing: run 'cargo build --release' in $ROOT first" >&2
    exit 1
  fi
done
# A library older than the sources is probably stale: warn, do not fail.
if [ -n "$(find "$ROOT/src" "$ROOT/Cargo.toml" -newer "$REL/libresnext.so" -print -quit 2>/dev/null)" ]; then
  echo "warning: sources are newer than $REL/libresnext.so: re-run 'cargo build --release'?" >&2
fi
VERSION="$(awk '/^\[/{pkg=($0=="[package]")} pkg && /^version *=/{gsub(/.*= *"|".*/,""); print; exit}' "$ROOT/Cargo.toml")"
if [ -z "$VERSION" ]; then
  echo "error: no version in $ROOT/Cargo.toml [package]" >&2
  exit 1
fi
MAJOR="${VERSION%%.*}"
MINOR="$(echo "$VERSION" | cut -d. -f2)"
SONAME="libresnext.so.$MAJOR"
# The library must carry the SONAME that the symlinks and the CMake package name (build.rs sets it).
if command -v readelf >/dev/null; then
  got="$(readelf -d "$REL/libresnext.so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')"
  if [ "$got" != "$SONAME" ]; then
    echo "error: $REL/libresnext.so has SONAME '${got:-none}', expected $SONAME: re-run 'cargo build --release'" >&2
    exit 1
  fi
fi
mkdir -p "$1"
PREFIX="$(cd "$1" && pwd)"
install -d "$PREFIX/lib/pkgconfig" "$PREFIX/lib/cmake/resnext" "$PREFIX/include"
rm -f "$PREFIX/lib/libresnext.so" "$PREFIX/lib/$SONAME"
install -m 0755 "$REL/libresnext.so" "$PREFIX/lib/libresnext.so.$VERSION"
ln -s "libresnext.so.$VERSION" "$PREFIX/lib/$SONAME"
ln -s "$SONAME" "$PREFIX/lib/libresnext.so"
install -m 0644 "$REL/libresnext.a" "$PREFIX/lib/libresnext.a"
install -m 0644 "$ROOT/include/resnext.h" "$ROOT/include/resnext.hpp" "$PREFIX/include/"
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@VERSION@|$VERSION|g" "$ROOT/resnext.pc.in" > "$PREFIX/lib/pkgconfig/resnext.pc"
for f in resnextConfig.cmake resnextConfigVersion.cmake; do
  sed -e "s|@VERSION@|$VERSION|g" -e "s|@MAJOR@|$MAJOR|g" -e "s|@MINOR@|$MINOR|g" "$ROOT/cmake/$f.in" \
    > "$PREFIX/lib/cmake/resnext/$f"
done
echo "installed resnext $VERSION into $PREFIX: lib/libresnext.so.$VERSION ($SONAME, libresnext.so)," \
     "lib/libresnext.a, include/, lib/pkgconfig/resnext.pc, lib/cmake/resnext/"
