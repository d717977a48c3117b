"""The CLI's ONNX Runtime backend (`--backend ort`) on its CPU provider: the same top-5 and
scores as the tract backend for FP32, FP16 and INT8 models, and the GPU providers' error and
fallback paths on a CPU-only runtime. Needs ORT_DYLIB_PATH (scripts/test.sh sets it to the
pinned onnxruntime wheel's libonnxruntime.so)."""
import json
import os

import pytest

PHOTOS = ["chelsea.png", "coffee.png", "astronaut.png"]

# Score tolerance between the backends (probabilities) and whether the whole top-5 must match.
CASES = [
    ("r50_torch.onnx", 1e-4, True),
    ("r50_paddle.onnx", 1e-4, True),
    ("r50_fp16.onnx", 1e-2, False),
    ("r50_fp16_io32.onnx", 1e-2, False),
    ("r50_int8.onnx", 5e-2, False),
]


@pytest.fixture(scope="module")
def ort_lib():
    lib = os.environ.get("ORT_DYLIB_PATH")
    if not lib or not os.path.isfile(lib):
        pytest.fail("ORT_DYLIB_PATH must name libonnxruntime.so (scripts/test.sh sets it)")
    return lib


def classify(run_cli, model, photos, *extra):
    proc = run_cli("classify", "--model", model, "--json", "--top-k", "5", "--threads", "2",
                   *extra, *photos)
    return [json.loads(line) for line in proc.stdout.strip().splitlines()]


@pytest.mark.parametrize("name,tolerance,whole_top5", CASES)
def test_ort_backend_matches_tract(run_cli, testdata, ort_lib, name, tolerance, whole_top5):
    model = testdata / "models" / name
    photos = [testdata / "preprocess" / p for p in PHOTOS]
    tract = classify(run_cli, model, photos)
    ort = classify(run_cli, model, photos, "--backend", "ort", "--ort-lib", ort_lib)
    for a, b in zip(tract, ort):
        ids_a = [p["class_id"] for p in a["predictions"]]
        ids_b = [p["class_id"] for p in b["predictions"]]
        assert ids_a[0] == ids_b[0], (name, a["image"], ids_a, ids_b)
        if whole_top5:
            assert ids_a == ids_b, (name, a["image"])
        common = set(ids_a) & set(ids_b)
        score_a = {p["class_id"]: p["score"] for p in a["predictions"]}
        score_b = {p["class_id"]: p["score"] for p in b["predictions"]}
        worst = max(abs(score_a[i] - score_b[i]) for i in common)
        assert worst <= tolerance, (name, a["image"], worst)


def test_info_reports_backend_and_provider(run_cli, testdata, ort_lib):
    proc = run_cli("info", "--model", testdata / "models" / "r50_int8.onnx", "--json",
                   "--backend", "ort", "--ort-lib", ort_lib)
    info = json.loads(proc.stdout)
    assert info["backend"] == "ort" and info["provider"] == "cpu"
    assert info["precision"] == "int8"


@pytest.mark.parametrize("ep", ["cuda", "tensorrt"])
def test_gpu_provider_fails_under_the_fail_policy(run_cli, testdata, ort_lib, ep):
    proc = run_cli("classify", "--model", testdata / "models" / "tiny_torch.onnx",
                   "--resize-short", "73", "--crop", "64", "--labels", "/dev/null",
                   "--allow-label-mismatch", "--backend", "ort", "--ort-lib", ort_lib, "--ep", ep,
                   testdata / "preprocess" / "coffee.png", check=False)
    assert proc.returncode == 1, proc
    assert "[PROVIDER_UNAVAILABLE]" in proc.stderr, proc.stderr
    assert "panicked" not in proc.stderr


def test_gpu_provider_falls_back_to_cpu_with_a_warning(run_cli, testdata, ort_lib, tmp_path):
    cache = tmp_path / "engines"
    proc = run_cli("info", "--model", testdata / "models" / "r50_torch.onnx", "--json",
                   "--backend", "ort", "--ort-lib", ort_lib, "--ep", "tensorrt", "--trt-fp16",
                   "--trt-engine-cache", cache, "--fallback", "next")
    info = json.loads(proc.stdout)
    assert info["provider"] == "cpu"
    assert "falling back" in proc.stderr or "instead" in proc.stderr, proc.stderr


def test_missing_runtime_names_the_option_and_the_variable(run_cli, resnext_bin, testdata):
    import subprocess
    env = {k: v for k, v in os.environ.items() if k != "ORT_DYLIB_PATH"}
    proc = subprocess.run([resnext_bin, "info", "--model", str(testdata / "models" / "r50_torch.onnx"),
                           "--backend", "ort"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1
    assert "[BACKEND_UNAVAILABLE]" in proc.stderr
    assert "ORT_DYLIB_PATH" in proc.stderr and "--ort-lib" in proc.stderr, proc.stderr


def test_tract_refuses_gpu_providers(run_cli, testdata):
    proc = run_cli("info", "--model", testdata / "models" / "r50_torch.onnx", "--ep", "cuda",
                   check=False)
    assert proc.returncode == 1 and "[INVALID_ARGUMENT]" in proc.stderr


@pytest.mark.parametrize("backend,code", [("ort", "[INFERENCE]"), ("tract", "[PANIC]")])
def test_a_model_failing_while_running(run_cli, testdata, ort_lib, backend, code):
    """fails_at_run.onnx loads, then gathers out of range: ONNX Runtime refuses it (INFERENCE),
    tract panics and the SDK's boundary reports PANIC; the CLI exits 1 with that code."""
    proc = run_cli("classify", "--model", testdata / "models" / "fails_at_run.onnx",
                   "--resize-short", "73", "--crop", "64", "--allow-label-mismatch",
                   "--backend", backend, "--ort-lib", ort_lib,
                   testdata / "preprocess" / "chelsea.png", check=False)
    assert proc.returncode == 1, proc
    assert code in proc.stderr, proc.stderr
