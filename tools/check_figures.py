#!/usr/bin/env python3
"""Fail when a doc quotes a measured figure that no generated report contains.

    python3 tools/check_figures.py README.md docs/*.md
    python3 tools/check_figures.py --list tools/figures_checked.txt      # what the tests check

A measured figure is a number with a unit of measurement: a time (`ms`, `s`, `min`), a size
(`kB`, `KB`, `MB`, `MiB`, `GB`, `GiB`), a ratio (`0.63x`, `2x`: a number directly followed by
`x`, not a dimension such as `64 x 64`), a percentage or a rate (`/s`, `/ s`). Each one in a doc
must appear, with the same number and unit, in one of the generated reports (`BENCHMARKS.md`
from `scripts/benchmarks.sh`, `RELIABILITY.md` from `scripts/hardening.sh`, `LIBSIZE.md` from
`scripts/lib_size.sh`; `--source` to change them). A ratio also matches a bare number in a report (their tables list ratios without
the `x`). Commas in numbers are ignored (`72,570` is `72570`).

Not checked, because they are not measurements: fenced code blocks, inline code (`...`), and
what the author marks as a constant or a limit, either one line (ending in
`<!-- figures: not measured -->`) or a region (between `<!-- figures: off -->` and
`<!-- figures: on -->`). Markdown renders neither marker.

Exit status 0 when every figure traces to a report, 1 otherwise (one line per figure that does
not: file, line, the figure), 2 on usage errors. Standard library only.
"""
from __future__ import annotations

import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SOURCES = ["BENCHMARKS.md", "RELIABILITY.md", "LIBSIZE.md"]

NUMBER = r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?"
UNIT = (r"(?:\s?(ms|min|s|kB|KB|MB|MiB|GB|GiB|%|/\s?s)(?![\w/])"  # a space allowed before these
        r"|(x)(?![\w])(?!\s*\d))")                                   # a ratio: 0.63x, not 64 x 64
FIGURE = re.compile(NUMBER + UNIT)
BARE = re.compile(NUMBER + r"(?![\w])")
NOT_MEASURED = "<!-- figures: not measured -->"
OFF, ON = "<!-- figures: off -->", "<!-- figures: on -->"
INLINE_CODE = re.compile(r"`[^`]*`")


def normalize(integer: str, fraction: str | None, unit: str) -> tuple[str, str]:
    unit = unit.replace(" ", "")
    return integer.replace(",", "") + (fraction or ""), unit


RANGE_LEFT = re.compile(NUMBER + r"\s*(?:to|->|→|–|-|vs\.?|and|or)\s*$")


def figures(text: str, start: int = 0, end: int | None = None) -> list[tuple[str, str, str]]:
    """(number, unit, as written) for every figure in `text`. The first number of a range or a
    comparison takes the second one's unit: "from 555 to 250 ms" is 555 ms and 250 ms. Only the
    figures whose number begins in text[start:end] count (the rest is context)."""
    out = []
    end = len(text) if end is None else end
    for m in FIGURE.finditer(text):
        if not start <= m.start() < end:
            continue
        unit = m.group(3) or m.group(4)
        number, unit = normalize(m.group(1), m.group(2), unit)
        left = RANGE_LEFT.search(text[: m.start()])
        if left:
            first, _ = normalize(left.group(1), left.group(2), unit)
            out.append((first, unit, f"{left.group(0).strip()} {m.group(0).strip()}"))
        out.append((number, unit, m.group(0).strip()))
    return out


HEADER_UNIT = re.compile(r"\((ms|min|s|kB|KB|MB|MiB|GB|GiB|%)\)|\b(seconds)\b|(/ ?s)\s*$")
CELL_NUMBER = re.compile(r"^[+-]?" + NUMBER + r"$")


def table_figures(text: str) -> set[tuple[str, str]]:
    """(number, unit) of the table cells whose column header names a unit: `growth (kB)`,
    `seconds`, `classifications / s` (the reports' tables put the unit in the header)."""
    out = set()
    units: list[str | None] = []
    previous = ""
    for line in text.splitlines():
        if not line.startswith("|"):
            units, previous = [], ""
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if all(re.fullmatch(r":?-+:?", c) for c in cells if c):
            header = [c.strip() for c in previous.strip().strip("|").split("|")]
            units = []
            for h in header:
                m = HEADER_UNIT.search(h)
                if not m:
                    units.append(None)
                elif m.group(2):  # "seconds"
                    units.append("s")
                else:
                    units.append((m.group(1) or m.group(3)).replace(" ", ""))
        elif units:
            for cell, unit in zip(cells, units):
                m = CELL_NUMBER.match(cell)
                if unit and m:
                    out.add(normalize(m.group(1), m.group(2), unit))
        previous = line
    return out


def source_figures(paths: list[str]) -> tuple[set[tuple[str, str]], set[str]]:
    """Every (number, unit) in the reports (in the text, and in table cells under a header
    naming the unit), and every bare number (for ratios)."""
    pairs, bare = set(), set()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        pairs.update((n, u) for n, u, _ in figures(text))
        pairs.update(table_figures(text))
        bare.update(m.group(1).replace(",", "") + (m.group(2) or "") for m in BARE.finditer(text))
    return pairs, bare


def doc_figures(path: str) -> list[tuple[int, str, str, str]]:
    """(line number, number, unit, as written) for every checked figure of a doc. A line is read
    with the end of the line before it and the start of the one after, so a figure that a line
    break splits ("394" at the end of one line, "MiB" at the start of the next; "from 555 to"
    and "250 ms") is still seen, reported on the line of its number (of a range's second one)."""
    out = []
    fenced = off = False
    with open(path, encoding="utf-8") as f:
        lines = [INLINE_CODE.sub(" ", line.rstrip("\n")) for line in f]
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            stripped = line.strip()
            if stripped.startswith("```") or stripped.startswith("~~~"):
                fenced = not fenced
                continue
            if OFF in line:
                off = True
            if ON in line:
                off = False
                continue
            if fenced or off or NOT_MEASURED in line:
                continue
            before = lines[i - 2][-40:] + " " if i >= 2 else ""
            after = " " + lines[i][:12] if i < len(lines) else ""
            text = before + lines[i - 1]
            for number, unit, written in figures(text + after, len(before), len(text)):
                out.append((i, number, unit, written))
    return out


def check(docs: list[str], sources: list[str]) -> list[str]:
    """The problems, one line each (empty when every figure traces to a report)."""
    pairs, bare = source_figures(sources)
    names = " or ".join(os.path.basename(s) for s in sources)
    problems = []
    for doc in docs:
        for line, number, unit, written in doc_figures(doc):
            if (number, unit) in pairs or (unit == "x" and number in bare):
                continue
            problems.append(f"{doc}:{line}: \"{written}\" is not in {names}")
    return problems


def read_list(path: str) -> list[str]:
    """Doc paths from a list file (one a line, relative to the repository; # comments)."""
    with open(path, encoding="utf-8") as f:
        entries = [line.split("#", 1)[0].strip() for line in f]
    return [os.path.join(ROOT, e) for e in entries if e]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("docs", nargs="*", help="Markdown files to check")
    ap.add_argument("--list", help="a file listing the docs to check (tools/figures_checked.txt)")
    ap.add_argument("--source", action="append",
                    help="a generated report (repeatable; default: BENCHMARKS.md, RELIABILITY.md, "
                    "LIBSIZE.md)")
    args = ap.parse_args(argv)
    docs = list(args.docs) + (read_list(args.list) if args.list else [])
    if not docs:
        ap.error("no docs to check")
    sources = args.source
    if not sources:  # the checked-in reports; a missing one is an error, not a smaller check
        sources = [os.path.join(ROOT, s) for s in DEFAULT_SOURCES]
    missing = [p for p in docs + sources if not os.path.isfile(p)]
    if missing:
        print("missing: " + ", ".join(missing), file=sys.stderr)
        return 2
    problems = check(docs, sources)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} figure(s) quoted without a generated source; quote them from the "
              "report, or mark constants `<!-- figures: not measured -->`", file=sys.stderr)
        return 1
    print(f"figures: {len(docs)} doc(s) checked against {len(sources)} report(s), all traced")
    return 0


if __name__ == "__main__":
    sys.exit(main())
