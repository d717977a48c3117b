#!/usr/bin/env bash
# Writes LIBSIZE.md: what the shipped library weighs on this host and what dominates it, from one
# build of the ship profile (Cargo.toml's [profile.ship]: fat LTO, one codegen unit, opt-level
# "s" except the crates whose loops carry the time) with its symbols kept, measured by
# scripts/lib_size.py (the stripped size, the sections, the symbol bytes per crate).
#
#   bash scripts/lib_size.sh            # builds (a from-scratch fat-LTO build of tract: long)
#   LIBSIZE_OUT=path bash scripts/lib_size.sh   # write the report elsewhere
#
# The build differs from the shipped one only in keeping its symbols
# (CARGO_PROFILE_SHIP_STRIP=none, which lib_size.py needs to attribute bytes; it strips a copy
# for the shipped size) and in `-C symbol-mangling-version=v0`, so that generic code counts in
# the crate that instantiates it. Its own target directory, target/ship (the RUSTFLAGS differ
# from the release build's, so sharing target/ would rebuild both every time).
# docs/edge.md quotes the report; tools/check_figures.py checks the quotes against it.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
OUT="${LIBSIZE_OUT:-$ROOT/LIBSIZE.md}"
started=$(date +%s)
SHIP_CMD=(cargo build --profile ship --locked --no-default-features --features tract --lib)
SHIP_ENV=(CARGO_PROFILE_SHIP_STRIP=none "RUSTFLAGS=-C symbol-mangling-version=v0")
echo "== CARGO_TARGET_DIR=target/ship ${SHIP_ENV[*]} ${SHIP_CMD[*]}"
env CARGO_TARGET_DIR="$ROOT/target/ship" "${SHIP_ENV[@]}" "${SHIP_CMD[@]}"
LIB="$ROOT/target/ship/ship/libresnext.so"
python3 scripts/lib_size.py "$LIB" --top 20 --markdown "$OUT" \
  --command "bash scripts/lib_size.sh" \
  --build "CARGO_PROFILE_SHIP_STRIP=none RUSTFLAGS=\"-C symbol-mangling-version=v0\" ${SHIP_CMD[*]}" \
  --commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" --rustc "$(rustc --version)"
echo "== wrote $OUT in $(( $(date +%s) - started )) s"
