"""tools/reliability_report.py (RELIABILITY.md from a hardening run) and tools/check_figures.py
(docs quote only figures the generated reports contain), on made-up inputs and on the docs
listed in tools/figures_checked.txt."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))

import check_figures  # noqa: E402
import reliability_report  # noqa: E402

SUMMARY = """hardening run (full), 2026-12-01T12:00Z, 2 cores
fuzz build: 812 s (from scratch)
fuzz image_decode: 72570 executions in 60 s, corpus 2004 inputs, 0 contained panic site(s), exit 0
fuzz model_load: 7510 executions in 60 s, corpus 457 inputs, 1 contained panic site(s), exit 0
    resnext-fuzz: contained panic at tract-onnx-0.23.9/src/model.rs:187: no entry found for key
stress model: tiny_torch.onnx (64x64), images: chelsea.png coffee.png
Rust stress: 8 threads x 500 calls = 4000 calls (4496 classifications, 32 inputs) in 11.32 s: 397 classifications/s, 0 divergent from serial, 0 failed
C stress: 8 threads x 500 calls = 4000 calls (4500 classifications, 32 inputs) in 9.18 s: 490 classifications/s, 0 divergent from serial, 0 failed
C leak loop: 1000 create/classify/free cycles in 80.1 s; RSS after warm-up 77.4 MB, after 501 cycles 80.2 MB, after 1000 cycles 80.3 MB (growth +2968 kB)
Java leak loop: 1000 create/classify/close cycles in 90.5 s; RSS after warm-up 111.1 MB, after 501 cycles 111.0 MB, after 1000 cycles 111.2 MB (growth +100 kB)
valgrind C leak: definitely lost: 0 bytes in 0 blocks; possibly lost: 0 bytes in 0 blocks; ERROR SUMMARY: 0 errors
asan C tests (tests/c/test_capi.c): 650 passed, 0 failed
java: SKIPPED (no JDK)
something new: 3 widgets
"""


def test_reliability_report_tables_every_figure(tmp_path):
    summary = tmp_path / "summary.txt"
    summary.write_text(SUMMARY)
    out = tmp_path / "RELIABILITY.md"
    assert reliability_report.main([str(summary), "--out", str(out), "--commit", "abc1234",
                                    "--seconds", "1234", "--failed", "C stress"]) == 0
    text = out.read_text()
    assert "`bash scripts/hardening.sh` (full run) on 2026-12-01T12:00Z in 1234 s, 2 cores, commit abc1234" in text
    assert "**This run failed:**" in text and "- C stress" in text
    assert "| image_decode | 72,570 | 60 | 2,004 | 0 | 0 |" in text
    assert "| model_load | 7,510 | 60 | 457 | 1 | 0 |" in text
    assert "`tract-onnx-0.23.9/src/model.rs:187: no entry found for key`" in text
    assert "Sanitizer build (shared with the ASan C/C++ tests): 812 s (from scratch)." in text
    assert "| Rust | 8 | 4,000 | 4,496 | 32 | 11.32 | 397 | 0 | 0 |" in text
    assert "| C | 1,000 | 80.1 | 77.4 | 80.2 | 80.3 | +2968 |" in text
    assert "| Java | 1,000 | 90.5 | 111.1 | 111.0 | 111.2 | +100 |" in text
    assert "| C leak | definitely lost: 0 bytes in 0 blocks;" in text
    assert "| C tests (tests/c/test_capi.c) | 650 passed, 0 failed |" in text
    assert "- java: no JDK" in text
    assert "- something new: 3 widgets" in text  # unknown lines are kept, not dropped
    # and the report's own figures pass the figure check when quoted
    doc = tmp_path / "doc.md"
    doc.write_text("The C stress run did 490 / s in 9.18 s; the C leak loop grew +2968 kB, "
                   "from 77.4 MB; the fuzz build took 812 s.\n")
    assert check_figures.check([str(doc)], [str(out)]) == []


def write(path, text):
    path.write_text(text)
    return str(path)


def test_check_figures_finds_drift_and_accepts_quotes(tmp_path):
    bench = write(tmp_path / "BENCHMARKS.md",
                  "| FP32 batch 1 | 458 ms | 161 ms | 2.85 |\n| peak | 202 MiB | 248 MiB | 0.82 |\n"
                  "bf16: 602 -> 379 ms (0.63x); 72,570 executions\n")
    doc = write(tmp_path / "README.md", "\n".join([
        "FP32 takes 458 ms at batch 1, 2.85x ONNX Runtime; peak 202 MiB (0.82x).",  # quoted: ok
        "bf16 goes from about 555 to 250 ms, about 2x faster.",                     # typed: 3 bad
        "The fuzzer ran 72570 executions; 64 x 64 images; `cargo build` in 13 min.",  # 13 min bad
        "A 393 GB allocation is refused. <!-- figures: not measured -->",          # marked: ok
        "<!-- figures: off -->",
        "| limit | 100 M pixels | 4 GiB |",
        "<!-- figures: on -->",
        "```",
        "took 999 ms",
        "```",
        "The peak was 248 MB.",                                                     # MiB != MB
    ]) + "\n")
    problems = check_figures.check([doc], [bench])
    written = [p.split(": ", 1)[1].split(" is not")[0] for p in problems]
    assert written == ['"555 to 250 ms"', '"250 ms"', '"2x"', '"13 min"', '"248 MB"'], problems
    assert problems[0].startswith(f"{doc}:2: ")
    # the command line: exit 1 with one line per figure, 0 once the doc quotes the report
    cli = [sys.executable, os.path.join(REPO, "tools", "check_figures.py"), "--source", bench]
    bad = subprocess.run(cli + [doc], capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stdout.count("\n") == 5
    fixed = write(tmp_path / "fixed.md", "bf16 goes from 602 to 379 ms (0.63x).\n")
    good = subprocess.run(cli + [fixed], capture_output=True, text=True)
    assert good.returncode == 0, good.stdout + good.stderr


def test_check_figures_sees_figures_split_by_a_line_break(tmp_path):
    bench = write(tmp_path / "BENCHMARKS.md", "| peak | 470 MiB |\nbf16: 602 -> 379 ms\n")
    doc = write(tmp_path / "doc.md", "\n".join([
        "the peak is 470 MiB, and 394",         # 394 MiB, split: bad
        "MiB with the threshold; bf16 from 555 to",  # 555 ms, split: bad (reported on line 3)
        "379 ms; and 470",                       # 379 ms: ok; 470 MiB split: ok
        "MiB again.",
    ]) + "\n")
    problems = check_figures.check([doc], [bench])
    assert [p.split(": ", 1)[0] for p in problems] == [f"{doc}:1", f"{doc}:3"], problems
    assert '"394 MiB"' in problems[0] and '"555 to 379 ms"' in problems[1], problems


def test_listed_docs_quote_only_generated_figures():
    """The docs in tools/figures_checked.txt against the checked-in BENCHMARKS.md,
    RELIABILITY.md and LIBSIZE.md (each must exist: a report deleted is not a check passed)."""
    listed = check_figures.read_list(os.path.join(REPO, "tools", "figures_checked.txt"))
    assert listed, "tools/figures_checked.txt lists no doc"
    sources = [os.path.join(REPO, s) for s in check_figures.DEFAULT_SOURCES]
    missing = [s for s in sources if not os.path.isfile(s)]
    assert not missing, f"generated reports missing: {missing}"
    assert check_figures.check(listed, sources) == []


def test_every_doc_page_is_figure_checked():
    """README.md and every page of docs/ are in tools/figures_checked.txt, so a new page cannot
    carry hand-typed figures past the check."""
    listed = set(check_figures.read_list(os.path.join(REPO, "tools", "figures_checked.txt")))
    pages = [os.path.join(REPO, "README.md")] + sorted(
        os.path.join(REPO, "docs", f) for f in os.listdir(os.path.join(REPO, "docs"))
        if f.endswith(".md"))
    assert [p for p in pages if p not in listed] == []
