#!/usr/bin/env bash
# Installs the built C/C++ SDK into a prefix:
#   scripts/install.sh PREFIX
# PREFIX/lib/{libresnext.so,libresnext.a}, PREFIX/include/{resnext.h,resnext.hpp} and
# PREFIX/lib/pkgconfig/resnext.pc (from resnext.pc.in, version from Cargo.toml).
# It installs what `cargo build --release` produced and fails if that has not been run.
# Then: PKG_CONFIG_PATH=PREFIX/lib/pkgconfig pkg-config --cflags --libs resnext
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 PREFIX" >&2
  exit 2
fi
REL="$ROOT/target/release"
for f in "$REL/libresnext.so" "$REL/libresnext.a" "$ROOT/include/resnext.h" "$ROOT/include/resnext.hpp" "$ROOT/resnext.pc.in"; do
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
mkdir -p "$1"
PREFIX="$(cd "$1" && pwd)"
install -d "$PREFIX/lib/pkgconfig" "$PREFIX/include"
install -m 0755 "$REL/libresnext.so" "$PREFIX/lib/libresnext.so"
install -m 0644 "$REL/libresnext.a" "$PREFIX/lib/libresnext.a"
install -m 0644 "$ROOT/include/resnext.h" "$ROOT/include/resnext.hpp" "$PREFIX/include/"
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@VERSION@|$VERSION|g" "$ROOT/resnext.pc.in" > "$PREFIX/lib/pkgconfig/resnext.pc"
echo "installed resnext $VERSION into $PREFIX (lib/, include/, lib/pkgconfig/resnext.pc)"
