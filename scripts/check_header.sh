#!/usr/bin/env bash
# Verifies include/resnext.h is what cbindgen (the pinned version) generates from src/ffi/.
# `scripts/check_header.sh --write` regenerates it instead.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
want="$(sed -n 's/^# Pinned: cbindgen \([0-9.]*\).*/\1/p' cbindgen.toml)"
if ! command -v cbindgen >/dev/null || [ "$(cbindgen --version | awk '{print $2}')" != "$want" ]; then
  echo "== installing cbindgen $want"
  cargo install cbindgen --version "$want" --locked --quiet
fi
tmp="$(mktemp)"
cbindgen --config cbindgen.toml --crate resnext --output "$tmp" 2>/dev/null
if [ "${1:-}" = "--write" ]; then
  mv "$tmp" include/resnext.h
  echo "include/resnext.h regenerated"
  exit 0
fi
if ! diff -u include/resnext.h "$tmp"; then
  echo "include/resnext.h is stale: run scripts/check_header.sh --write and commit it"
  rm -f "$tmp"
  exit 1
fi
rm -f "$tmp"
echo "include/resnext.h is fresh (cbindgen $want)"
