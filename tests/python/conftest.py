"""Shared fixtures of the Python-side tests: the CLI binary and the generated test data."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def resnext_bin():
    path = pathlib.Path(os.environ.get("RESNEXT_BIN", ROOT / "target" / "release" / "resnext"))
    if not path.is_file():
        pytest.fail(f"{path} not built: run `cargo build --release` (scripts/test.sh does)")
    return str(path)


@pytest.fixture(scope="session")
def testdata():
    path = pathlib.Path(os.environ.get("RESNEXT_TESTDATA", ROOT / "testdata"))
    if not (path / "parity" / "manifest.json").is_file():
        pytest.fail(f"no fixtures in {path}: run tools/make_test_fixtures.py (scripts/test.sh does)")
    return path


@pytest.fixture(scope="session")
def run_cli(resnext_bin):
    def run(*args, check=True):
        proc = subprocess.run([resnext_bin, *map(str, args)], capture_output=True, text=True, timeout=600)
        if check and proc.returncode != 0:
            raise AssertionError(f"resnext {' '.join(map(str, args))} failed ({proc.returncode}): {proc.stderr}")
        return proc
    return run
