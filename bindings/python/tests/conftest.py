"""Fixtures of the Python package's tests: the generated models and photographs
($RESNEXT_TESTDATA, default testdata/), the CLI binary ($RESNEXT_BIN, default
target/release/resnext) and classifiers over the small test models.

These tests run against the installed wheel (scripts/python_tests.sh), not the source tree."""
import json
import os
import pathlib
import subprocess

import pytest

import resnext

ROOT = pathlib.Path(__file__).resolve().parents[3]

#: The small test models' preprocessing: 64 x 64 input, 10 classes, no labels.
TINY = dict(resize_short=73, crop=64, labels=False)
#: The photographs of the fixtures (scikit-image's bundled photos).
PNGS = ["chelsea.png", "coffee.png", "astronaut.png", "motorcycle_left.png"]
JPEGS = ["rocket.jpg", "retina.jpg"]


@pytest.fixture(scope="session")
def testdata():
    path = pathlib.Path(os.environ.get("RESNEXT_TESTDATA", ROOT / "testdata"))
    if not (path / "models" / "manifest.json").is_file():
        pytest.fail(f"no fixtures in {path}: run tools/make_test_fixtures.py (scripts/test.sh does)")
    return path


@pytest.fixture(scope="session")
def models(testdata):
    return testdata / "models"


@pytest.fixture(scope="session")
def photos(testdata):
    return testdata / "preprocess"


@pytest.fixture(scope="session")
def tiny(models):
    """A classifier over the small FP32 model, one thread."""
    return resnext.Classifier(models / "tiny_torch.onnx", threads=1, **TINY)


@pytest.fixture(scope="session")
def cli():
    """Runs the resnext CLI and returns its stdout; fails the test on a non-zero exit."""
    binary = pathlib.Path(os.environ.get("RESNEXT_BIN", ROOT / "target" / "release" / "resnext"))
    if not binary.is_file():
        pytest.fail(f"{binary} not built: run `cargo build --release` (scripts/test.sh does)")

    def run(*args):
        proc = subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"resnext {' '.join(map(str, args))}: {proc.stderr}"
        return proc.stdout

    return run


def cli_classify(cli, model, images, *flags):
    """The CLI's JSON results: one list of (class_id, label, score) per image."""
    out = cli("classify", "--model", model, "--json", *flags, *images)
    return [[(p["class_id"], p["label"], p["score"]) for p in json.loads(line)["predictions"]]
            for line in out.strip().splitlines()]


def triples(classification):
    return [(p.class_id, p.label, p.score) for p in classification]


def rss_bytes():
    """This process's resident set size."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")
