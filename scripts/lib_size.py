#!/usr/bin/env python3
"""What a shared library weighs and what dominates it (a cargo-bloat-like report from nm).

    python3 scripts/lib_size.py LIB.so [--tools PREFIX] [--top N] [--markdown OUT.md ...]

LIB.so should keep its symbols (build with CARGO_PROFILE_SHIP_STRIP=none, and
RUSTFLAGS="-C symbol-mangling-version=v0" so that generic instantiations name their type
arguments): the report strips a copy to give the shipped size, then attributes the symbol sizes
of the unstripped one to crates from the demangled names. Unlike cargo-bloat, an instantiation
of core/alloc/rayon/ndarray/smallvec/... generics for another crate's types counts in that
crate (with legacy mangling the arguments are not in the name, and it counts in the generic's
crate). Symbols without a Rust path are tract's assembly kernels (sized up to the next symbol)
or C code.
--tools aarch64-linux-gnu- uses the cross binutils. --markdown writes the same figures as a
report (LIBSIZE.md, written by scripts/lib_size.sh, which docs/edge.md quotes); --command,
--build, --commit and --rustc describe the run in its header.
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


# Crates reported together as well as one by one (their sum is what leaving the part out saves).
GROUPS = {
    "ONNX front end": ("tract_onnx", "tract_hir", "tract_onnx_opl", "prost"),
    "image decoders": ("image", "png", "zune_jpeg", "zune_core", "image_webp", "gif", "bmp",
                       "mozjpeg", "mozjpeg_sys", "jpeg_decoder", "fdeflate", "miniz_oxide"),
}
UNWIND = (".eh_frame", ".eh_frame_hdr", ".gcc_except_table")
SECTIONS = (".text", ".rodata", ".eh_frame", ".eh_frame_hdr", ".gcc_except_table",
            ".data.rel.ro", ".data", ".dynsym", ".dynstr", ".rela.dyn")


def measure(lib: str, tools: str) -> dict:
    """The sizes of `lib`: bytes as built and stripped, the wanted sections, symbol bytes per
    crate (sorted, largest first) and their total."""
    size = os.path.getsize(lib)
    with tempfile.TemporaryDirectory() as tmp:
        stripped = os.path.join(tmp, "stripped.so")
        shutil.copy(lib, stripped)
        subprocess.run([tools + "strip", "--strip-all", stripped], check=True)
        stripped_size = os.path.getsize(stripped)

    sections_out = subprocess.run([tools + "size", "-A", lib], check=True, capture_output=True,
                                  text=True).stdout
    sections = {}
    for line in sections_out.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] in SECTIONS:
            sections[f[0]] = int(f[1])

    # Sorted by address, with sizes; assembly symbols have none: they get the distance to the
    # next symbol instead.
    out = subprocess.run([tools + "nm", "-n", "-S", "-C", lib], check=True,
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
    return {"size": size, "stripped": stripped_size, "sections": sections,
            "crates": by_crate.most_common(), "total": total}


def share(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}" if total else "0.0"


def markdown(lib: str, m: dict, top: int, command: str, build: str, commit: str, rustc: str,
             when: str, host: str) -> str:
    """The report: every figure in it is one of `m`'s, in MiB (2^20 bytes) with two decimals and
    shares in % of the attributed symbol bytes with one."""
    mi = lambda n: f"{n / 2**20:.2f}"  # noqa: E731
    total = m["total"]
    crates = dict(m["crates"])
    lines = [
        "# Library size: the shipped libresnext.so",
        "",
        f"Generated by `{command}` on {when} ({host}; {rustc}; commit {commit}). "
        "Do not edit by hand: "
        "every figure comes from that one command. The library: "
        f"`{os.path.relpath(lib)}`, built with `{build}`, measured by `scripts/lib_size.py` "
        "(`strip`, `size -A` and `nm` from binutils). Sizes in MiB (2^20 bytes).",
        "",
        "## Size",
        "",
        "| file | bytes | size (MiB) |",
        "|---|---|---|",
        f"| as built (with symbols) | {m['size']} | {mi(m['size'])} |",
        f"| stripped (`strip --strip-all`): what ships | {m['stripped']} | {mi(m['stripped'])} |",
        "",
        "## Sections",
        "",
        "| section | size (MiB) |",
        "|---|---|",
    ]
    for name in SECTIONS:
        if name in m["sections"]:
            lines.append(f"| `{name}` | {mi(m['sections'][name])} |")
    unwind = sum(m["sections"].get(s, 0) for s in UNWIND)
    lines += [f"| unwind tables ({' + '.join(f'`{s}`' for s in UNWIND)}) | {mi(unwind)} |", ""]
    lines += [
        "## Symbol bytes per crate",
        "",
        f"{mi(total)} MiB of symbols attributed. Generic code counts in the crate that "
        "instantiates it (v0 symbol mangling names the type arguments); symbols without a Rust "
        "path are tract-linalg's assembly kernels or C code (libjpeg-turbo's decoder, the C "
        "runtime), which count in `[other C / runtime]`.",
        "",
        "| crate | size (MiB) | share (%) |",
        "|---|---|---|",
    ]
    for crate, n in m["crates"][:top]:
        lines.append(f"| `{crate}` | {mi(n)} | {share(n, total)} |")
    rest = sum(n for _, n in m["crates"][top:])
    if rest:
        lines.append(f"| {len(m['crates']) - top} other crates | {mi(rest)} "
                     f"| {share(rest, total)} |")
    lines += ["", "Groups of crates:", "", "| group | crates | size (MiB) | share (%) |",
              "|---|---|---|---|"]
    for group, members in GROUPS.items():
        present = [c for c in members if c in crates]
        n = sum(crates[c] for c in present)
        lines.append(f"| {group} | {', '.join(f'`{c}`' for c in present) or 'none'} | {mi(n)} "
                     f"| {share(n, total)} |")
    tract = [c for c in crates if c.startswith("tract_") or c == "[tract-linalg asm kernels]"]
    n = sum(crates[c] for c in tract)
    lines.append(f"| tract (every `tract_*` crate and the assembly kernels) | {len(tract)} crates "
                 f"| {mi(n)} | {share(n, total)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("lib")
    ap.add_argument("--tools", default="", help="binutils prefix, e.g. aarch64-linux-gnu-")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--markdown", help="also write the report to this file (LIBSIZE.md)")
    ap.add_argument("--command", default="python3 scripts/lib_size.py",
                    help="the command the report names as its generator")
    ap.add_argument("--build", default="not recorded", help="how the library was built")
    ap.add_argument("--commit", default="unknown")
    ap.add_argument("--rustc", default="rustc not recorded")
    args = ap.parse_args(argv)
    lib = args.lib
    m = measure(lib, args.tools)
    print(f"{lib}: {m['size']} bytes ({mib(m['size'])}); stripped (strip --strip-all): "
          f"{m['stripped']} bytes ({mib(m['stripped'])})")
    print("sections: " + ", ".join(f"{k} {mib(v)}" for k, v in m["sections"].items()))
    print(f"symbols: {mib(m['total'])} attributed; top crates:")
    for crate, n in m["crates"][:args.top]:
        print(f"  {crate:<32} {mib(n):>11} {100 * n / m['total']:5.1f}%")
    if args.markdown:
        import datetime
        import platform
        when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        host = f"{platform.machine()} Linux"
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(markdown(lib, m, args.top, args.command, args.build, args.commit, args.rustc,
                             when, host))
        print(f"wrote {args.markdown}")


if __name__ == "__main__":
    main()
