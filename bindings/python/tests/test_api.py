"""The API's shape: options, results, descriptions, stubs."""
import dataclasses
import importlib.resources
import os
import pathlib

import numpy as np
import pytest

import resnext
from conftest import TINY


def test_results_are_small_classes(tiny, photos):
    result = tiny.classify(photos / "coffee.png")
    assert len(result) == 5 and result.top == result[0] == result.predictions[0]
    assert list(result) == result.predictions and result[-1] == result[4]
    with pytest.raises(IndexError):
        result[5]
    scores = [p.score for p in result]
    assert scores == sorted(scores, reverse=True) and 0 <= scores[-1] <= scores[0] <= 1
    p = result[0]
    assert isinstance(p, resnext.Prediction) and isinstance(p.class_id, int) and p.label == ""
    assert repr(p).startswith("Prediction(class_id=") and "score=" in repr(p)
    assert p == resnext.Prediction(p.class_id, p.label, p.score)
    t = result.timings
    assert isinstance(t, resnext.Timings) and t.inference_ms > 0 and t.decode_ms > 0
    assert t.total_ms == pytest.approx(t.decode_ms + t.preprocess_ms + t.inference_ms + t.postprocess_ms)
    assert repr(t).startswith("Timings(decode_ms=")
    assert repr(result).startswith("Classification([Prediction(")
    with pytest.raises(AttributeError):
        p.score = 1.0  # frozen


def test_info_and_preprocess_config(models):
    classifier = resnext.Classifier(models / "r50_fp16.onnx", top_k=3, preset="wsl-224")
    info = classifier.info
    assert dataclasses.is_dataclass(info) and isinstance(info, resnext.ModelInfo)
    assert (info.height, info.width, info.classes, info.precision) == (224, 224, 1000, "fp16")
    assert info.backend == "tract" and info.provider == "cpu" and info.threads >= 1
    assert isinstance(info.input, resnext.TensorInfo) and info.input.shape[1:] == (3, 224, 224)
    assert info.output_kind in ("logits", "probabilities") and info.model_bytes > 1 << 20
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.classes = 2
    assert classifier.preprocess_config == resnext.PreprocessConfig(
        256, 224, pytest.approx((0.485, 0.456, 0.406)), pytest.approx((0.229, 0.224, 0.225)))
    assert classifier.top_k == 3 and classifier.labels[281] == "tabby, tabby cat"
    assert "224x224, 1000 classes, fp16" in repr(classifier)


def test_options_reach_the_sdk(models, photos, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(f"class {i}" for i in range(10)) + "\n")
    c = resnext.Classifier(models / "tiny_torch.onnx", resize_short=80, crop=64, mean=(0.5, 0.5, 0.5),
                           std=(0.5, 0.5, 0.5), top_k=20, threads=2, labels=labels, cpu_kernels="off",
                           widen_fp16=False, max_pixels=10**6)
    assert c.preprocess_config.resize_short == 80 and c.preprocess_config.mean == (0.5, 0.5, 0.5)
    assert c.top_k == 10 and c.info.threads == 2 and c.labels[3] == "class 3"
    result = c.classify(photos / "coffee.png")
    assert len(result) == 10 and all(p.label.startswith("class ") for p in result)
    with pytest.raises(resnext.LimitExceeded):
        c.classify(np.zeros((1001, 1000, 3), np.uint8))
    listed = resnext.Classifier(models / "tiny_torch.onnx", **{**TINY, "labels": list("abcdefghij")})
    assert listed.classify(photos / "coffee.png")[0].label in "abcdefghij"
    preprocess = c.preprocess(photos / "coffee.png")
    assert preprocess.flags.writeable and preprocess.flags.c_contiguous


def _linux_lists(*flags):
    try:
        text = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    listed = next((line.split(":", 1)[1].split() for line in text.splitlines()
                   if line.startswith("flags")), [])
    return all(f in listed for f in flags)


def test_cpu_kernels_choices_reach_the_sdk(models):
    """``cpu_kernels`` picks the kernels ``info.compute`` names: the scalar reference, tract's
    own (``"off"``), or the AVX2 ones even on an AVX-512 CPU (refused with BackendUnavailable
    where the CPU lacks AVX2; CI requires them where Linux lists avx2, fma and f16c)."""
    def compute(model, kernels):
        return resnext.Classifier(models / model, **TINY, threads=1, cpu_kernels=kernels).info.compute

    assert compute("tiny_torch.onnx", "off") == "f32"
    assert compute("tiny_torch.onnx", "scalar").startswith("f32 on scalar reference kernels: 15 of 17 ")
    assert compute("tiny_int8.onnx", "scalar").startswith("int8 on scalar reference kernels: 17 of 17 ")
    try:
        fp32, int8 = compute("tiny_torch.onnx", "avx2"), compute("tiny_int8.onnx", "avx2")
    except resnext.BackendUnavailable:
        required = os.environ.get("RESNEXT_REQUIRE_CPU_KERNELS") == "1"
        assert not (required and _linux_lists("avx2", "fma", "f16c"))
        return
    assert fp32 == "f32 on AVX2: 15 of 17 convolutions, 4 residual additions fused, 1 max pool in NHWC"
    assert int8.startswith("int8 on AVX2: 17 of 17 convolutions, ")


def test_package_ships_stubs_and_docs():
    files = importlib.resources.files("resnext")
    assert (files / "py.typed").is_file()
    assert (files / "_native.pyi").is_file()
    stub = (files / "_native.pyi").read_text()
    for name in ["class Classifier", "def classify", "def classify_batch", "def classify_tensor",
                 "def preprocess", "def run_raw", "class Prediction", "class Timings", "class Classification"]:
        assert name in stub, name
    for obj in [resnext.Classifier, resnext.Classifier.classify, resnext.Classifier.classify_batch,
                resnext.Classifier.classify_tensor, resnext.Classifier.preprocess, resnext.Classifier.run_raw,
                resnext.Classifier.close, resnext.Prediction, resnext.Timings, resnext.Classification,
                resnext.ModelInfo, resnext.Error, resnext.ImageError]:
        assert obj.__doc__ and len(obj.__doc__) > 20, obj
    assert resnext.__version__.count(".") == 2
    assert pathlib.Path(resnext.__file__).parent.name == "resnext"


def test_score_threshold_and_label_lookup(models, photos):
    model = models / "tiny_torch.onnx"
    labelled = {**TINY, "labels": [f"class {i}" for i in range(10)]}
    everything = list(resnext.Classifier(model, **labelled).classify(photos / "chelsea.png"))
    assert len(everything) == 5 and everything[1].score > everything[2].score
    cut = (everything[1].score + everything[2].score) / 2
    strict = resnext.Classifier(model, score_threshold=cut, **labelled)
    assert strict.score_threshold == pytest.approx(cut)
    assert list(strict.classify(photos / "chelsea.png")) == everything[:2]
    assert everything[0].score < 1.0
    empty = resnext.Classifier(model, score_threshold=1.0, **labelled).classify(photos / "chelsea.png")
    assert len(empty) == 0 and empty.top is None and list(empty) == []
    for bad in (-0.5, 1.5, float("nan")):
        with pytest.raises(resnext.InvalidArgument):
            resnext.Classifier(model, score_threshold=bad, **labelled)
    assert strict.label(3) == "class 3" and strict.label(everything[0].class_id) == everything[0].label
    for bad in (10, -1):
        with pytest.raises(resnext.InvalidArgument):
            strict.label(bad)
    assert resnext.Classifier(model, **TINY).label(9) == ""


def test_model_from_a_file_descriptor_equals_path(models, photos, tmp_path):
    model = (models / "tiny_torch.onnx").read_bytes()
    packed = tmp_path / "packed.bin"
    packed.write_bytes(b"\x5a" * 100 + model)
    by_path = list(resnext.Classifier(models / "tiny_torch.onnx", **TINY).classify(photos / "chelsea.png"))
    with open(packed, "rb") as f:
        fd = f.fileno()
        by_fd = resnext.Classifier(fd, model_offset=100, model_length=len(model), **TINY)
        assert list(by_fd.classify(photos / "chelsea.png")) == by_path
        # model_length defaults to the rest of the file
        rest = resnext.Classifier(fd, model_offset=100, **TINY)
        assert list(rest.classify(photos / "chelsea.png")) == by_path
        assert f.tell() == 0  # pread: the caller's offset is unchanged, the file still open
        for offset, length in ((100, len(model) + 1), (-1, len(model)), (100, -1), (100, 0)):
            with pytest.raises(resnext.InvalidArgument):
                resnext.Classifier(fd, model_offset=offset, model_length=length, **TINY)
        with pytest.raises(resnext.LimitExceeded):
            resnext.Classifier(fd, model_offset=100, model_length=len(model), max_model_bytes=len(model) - 1,
                               **TINY)
        with pytest.raises(resnext.InvalidArgument):
            resnext.Classifier(-1, **TINY)
        with pytest.raises(resnext.InvalidArgument):
            resnext.Classifier(models / "tiny_torch.onnx", model_offset=100, **TINY)
        assert f.read(1) == b"\x5a"
