#!/usr/bin/env python3
"""What a shared library weighs and what dominates it (a cargo-bloat-like report from nm).

    python3 scripts/lib_size.py LIB.so [--tools PREFIX] [--top N]

LIB.so should keep its symbols (build with CARGO_PROFILE_SHIP_STRIP=none, and
RUSTFLAGS="-C symbol-mangling-version=v0" so that generic instantiations name their type
arguments): the report strips a copy to give the shipped size, then attributes the symbol sizes
of the unstripped one to crates from the demangled names. Unlike cargo-bloat, an instantiation
of core/alloc/rayon/ndarray/smallvec/... generics for another crate's types counts in that
crate (with legacy mangling the arguments are not in the name, and it counts in the generic's
crate). Symbols without a Rust path are tract's assembly kernels (sized up to the next symbol)
or C code.
--tools aarch64-linux-gnu- uses the cross binutils.
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import tempfile


def mib(n: int) -> str:
    return f"{n / 2**20:.2f} MiB"


# Crates whose generic code is instantiated for other crates' types: a symbol of theirs whose
# (v0-mangled) name mentions another crate is counted in that crate.
GENERIC_HOSTS = {"core", "alloc", "std", "rayon_core", "rayon", "ndarray", "smallvec",
                 "hashbrown", "itertools", "either", "crossbeam_epoch", "crossbeam_deque",
                 "num_traits", "num_complex", "dyn_clone", "downcast_rs", "lazy_static"}


def crate_of(name: str) -> str:
    # Path starts only (not the modules inside a path): at the start or after < & ( , [ * space.
    crates = re.findall(r"(?:^|(?<=[<&(,\[* ]))([A-Za-z_][A-Za-z0-9_]*)::", name)
    if crates:
        own = [c for c in crates if c not in GENERIC_HOSTS]
        return own[0] if own else crates[0]
    # No Rust path: assembly kernels (tract-linalg's are named after their ISA and kernel) or C.
    if re.search(r"(mmm|mmv|sigmoid|tanh|exp2|max|sum|softmax|leaky|hswish|mul_by|_ker|fma_|avx|"
                 r"arm64|armv7|neon)", name):
        return "[tract-linalg asm kernels]"
    return "[other C / runtime]"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("lib")
    ap.add_argument("--tools", default="", help="binutils prefix, e.g. aarch64-linux-gnu-")
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    lib = args.lib
    size = os.path.getsize(lib)
    with tempfile.TemporaryDirectory() as tmp:
        stripped = os.path.join(tmp, "stripped.so")
        shutil.copy(lib, stripped)
        subprocess.run([args.tools + "strip", "--strip-all", stripped], check=True)
        stripped_size = os.path.getsize(stripped)
    print(f"{lib}: {size} bytes ({mib(size)}); stripped (strip --strip-all): "
          f"{stripped_size} bytes ({mib(stripped_size)})")

    sections = subprocess.run([args.tools + "size", "-A", lib], check=True, capture_output=True,
                              text=True).stdout
    wanted = {".text", ".rodata", ".eh_frame", ".eh_frame_hdr", ".gcc_except_table",
              ".data.rel.ro", ".data", ".dynsym", ".dynstr", ".rela.dyn"}
    parts = []
    for line in sections.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] in wanted:
            parts.append(f"{f[0]} {mib(int(f[1]))}")
    print("sections: " + ", ".join(parts))

    # Sorted by address, with sizes; assembly symbols have none: they get the distance to the
    # next symbol instead.
    out = subprocess.run([args.tools + "nm", "-n", "-S", "-C", lib], check=True,
                         capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        f = line.split(None, 3)
        if len(f) == 4 and re.fullmatch(r"[0-9a-f]+", f[1]):
            rows.append((int(f[0], 16), int(f[1], 16), f[2], f[3]))
        elif len(f) >= 3 and re.fullmatch(r"[0-9a-f]+", f[0]):
            rows.append((int(f[0], 16), None, f[1], f[2] if len(f) > 2 else ""))
    by_crate: dict[str, int] = collections.Counter()
    total = 0
    for i, (addr, n, kind, name) in enumerate(rows):
        if kind not in "tTrRdDwWvV":
            continue
        if n is None:
            if kind not in "tT" or i + 1 >= len(rows):
                continue
            n = min(rows[i + 1][0] - addr, 1 << 20)
        by_crate[crate_of(name)] += n
        total += n
    print(f"symbols: {mib(total)} attributed; top crates:")
    for crate, n in by_crate.most_common(args.top):
        print(f"  {crate:<32} {mib(n):>11} {100 * n / total:5.1f}%")


if __name__ == "__main__":
    main()
