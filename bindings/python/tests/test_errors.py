"""Every failure raises the exception of its code's family, with the stable code; argument
mistakes are ValueError/TypeError as Python expects."""
import os
import pathlib
import re

import numpy as np
import pytest

import resnext
from resnext import ErrorCode
from conftest import ROOT, TINY


def _raises(cls, code, call, *args, **kwargs):
    with pytest.raises(cls) as info:
        call(*args, **kwargs)
    assert isinstance(info.value, resnext.Error)
    assert info.value.code == code, info.value
    assert info.value.code.name in repr(ErrorCode(info.value.code))
    assert info.value.detail and info.value.detail in str(info.value)
    return info.value


def test_codes_equal_the_c_header():
    header = (ROOT / "include" / "resnext.h").read_text()
    codes = dict((name, int(value)) for name, value in re.findall(r"RESNEXT_RESULT_(\w+) = (\d+)", header)
                 if name in ErrorCode.__members__)
    assert codes == {c.name: c.value for c in ErrorCode}


def test_every_code_has_its_family():
    assert resnext.exception_class(ErrorCode.MODEL_DECODE) is resnext.ModelError
    assert resnext.exception_class(ErrorCode.PROVIDER_UNAVAILABLE) is resnext.ProviderUnavailable
    assert issubclass(resnext.ProviderUnavailable, resnext.BackendUnavailable)
    assert issubclass(resnext.InvalidArgument, ValueError)
    assert issubclass(resnext.IoError, OSError)
    assert issubclass(resnext.ClosedError, ValueError)
    assert resnext.exception_class(ErrorCode.PANIC) is resnext.InternalError
    for code in ErrorCode:
        if code != ErrorCode.OK:
            cls = resnext.exception_class(code)
            assert issubclass(cls, resnext.Error) and cls is not resnext.Error, code


def test_panics_become_internal_errors(tiny, photos):
    from resnext import _native
    for released in (False, True):
        err = _raises(resnext.InternalError, ErrorCode.PANIC, _native._panic_for_test, "boom 17", released)
        assert "boom 17" in str(err)
    assert len(tiny.classify(photos / "coffee.png")) == 5  # the interpreter and the classifier carry on


def test_model_errors(models):
    _raises(resnext.IoError, ErrorCode.IO, resnext.Classifier, models / "does_not_exist.onnx")
    for name in ["random.onnx", "truncated.onnx"]:
        _raises(resnext.ModelError, ErrorCode.MODEL_DECODE, resnext.Classifier, models / name)
    _raises(resnext.ModelError, ErrorCode.MODEL_DECODE, resnext.Classifier, b"")
    for name in ["not_classifier.onnx", "bad_input_rank.onnx", "unsupported_op.onnx"]:
        _raises(resnext.ModelError, ErrorCode.MODEL_UNSUPPORTED, resnext.Classifier, models / name)
    _raises(resnext.LimitExceeded, ErrorCode.LIMIT_EXCEEDED, resnext.Classifier,
            models / "tiny_torch.onnx", max_model_bytes=1000, **TINY)


def test_option_errors(models, tmp_path):
    tiny = models / "tiny_torch.onnx"
    _raises(resnext.InvalidArgument, ErrorCode.INVALID_ARGUMENT, resnext.Classifier, tiny, labels=False)  # 224 crop
    _raises(resnext.LabelError, ErrorCode.LABELS, resnext.Classifier, tiny, resize_short=73, crop=64)
    _raises(resnext.LabelError, ErrorCode.LABELS, resnext.Classifier, tiny, resize_short=73, crop=64,
            labels=["a", "b"])
    _raises(resnext.IoError, ErrorCode.IO, resnext.Classifier, tiny, resize_short=73, crop=64,
            labels=tmp_path / "missing.txt")
    for kwargs in [dict(preset="nope"), dict(top_k=0), dict(backend="gpu"), dict(cpu_kernels="fast"),
                   dict(execution_provider="npu"), dict(fallback="maybe"), dict(std=(0.0, 1.0, 1.0)),
                   dict(resize_short=60)]:
        err = _raises(resnext.InvalidArgument, ErrorCode.INVALID_ARGUMENT, resnext.Classifier, tiny,
                      **{**TINY, **kwargs})
        assert isinstance(err, ValueError)
    err = _raises(resnext.InvalidArgument, ErrorCode.INVALID_ARGUMENT, resnext.Classifier, tiny,
                  **TINY, cpu_kernels="fast")
    assert all(f"{name}" in err.detail for name in ("auto", "off", "avx512-vnni", "amx-int8", "scalar", "avx2"))
    with pytest.raises(resnext.InvalidArgument):
        resnext.Classifier(tiny, **TINY, tensorrt={"fp16": True})  # tensorrt options on the CPU
    with pytest.raises(TypeError):
        resnext.Classifier(tiny, **TINY, execution_provider="tensorrt", tensorrt={"fp17": True})
    with pytest.raises(TypeError):
        resnext.Classifier(4.2)  # an int is a file descriptor (test_api.py); a float is nothing
    with pytest.raises(TypeError):
        resnext.Classifier(True)
    with pytest.raises(TypeError):
        resnext.Classifier(tiny, **TINY, labels=3)
    with pytest.raises(TypeError):
        resnext.Classifier(tiny, "positional options are refused")


def test_provider_errors(models):
    if not os.environ.get("ORT_DYLIB_PATH"):
        pytest.skip("ORT_DYLIB_PATH not set (scripts/test.sh sets it)")
    tiny = models / "tiny_torch.onnx"
    # The pinned CPU wheel of ONNX Runtime has no CUDA provider.
    _raises(resnext.ProviderUnavailable, ErrorCode.PROVIDER_UNAVAILABLE, resnext.Classifier, tiny,
            backend="ort", execution_provider="cuda", **TINY)
    fallback = resnext.Classifier(tiny, backend="ort", execution_provider="cuda", fallback="next", **TINY)
    assert fallback.info.provider == "cpu"


def test_image_errors(tiny, photos, tmp_path):
    _raises(resnext.IoError, ErrorCode.IO, tiny.classify, tmp_path / "missing.jpg")
    _raises(resnext.ImageError, ErrorCode.IMAGE_DECODE, tiny.classify, b"GIF89a not really")
    _raises(resnext.ImageError, ErrorCode.IMAGE_DECODE, tiny.classify, b"")
    png = (photos / "coffee.png").read_bytes()
    _raises(resnext.ImageError, ErrorCode.IMAGE_DECODE, tiny.classify, png[: len(png) // 3])
    _raises(resnext.ImageError, ErrorCode.IMAGE_SIZE, tiny.classify, np.zeros((0, 10, 3), np.uint8))
    _raises(resnext.ImageError, ErrorCode.BUFFER_SIZE, tiny.classify, b"\0" * 100, pixel_format="nv21",
            width=64, height=64)
    _raises(resnext.LimitExceeded, ErrorCode.LIMIT_EXCEEDED, tiny.classify, b"\0" * 100,
            pixel_format="nv21", width=1 << 20, height=1 << 20)
    for call, kwargs in [(tiny.classify, dict(rotation=45)), (tiny.classify, dict(pixel_format="yuv")),
                         (tiny.classify, dict(pixel_format="nv21"))]:
        with pytest.raises(ValueError):
            call(np.zeros((8, 8, 3), np.uint8), **kwargs)
    with pytest.raises(resnext.InvalidArgument):
        tiny.classify(photos / "coffee.png", rotation=90)  # files carry their EXIF orientation
    with pytest.raises(resnext.InvalidArgument):
        tiny.classify(np.zeros((8, 8), np.uint8))  # greyscale arrays: convert to RGB first
    with pytest.raises(resnext.InvalidArgument):
        tiny.classify(b"\0" * 100, pixel_format="nv21")  # a flat frame needs width and height
    with pytest.raises(TypeError):
        tiny.classify(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(TypeError):
        tiny.classify(42)
    with pytest.raises(TypeError):
        tiny.classify_batch("one.jpg")
    err = _raises(resnext.ImageError, ErrorCode.IMAGE_DECODE, tiny.classify_batch, [photos / "coffee.png", b"x"])
    assert "image 1" in str(err)
    _raises(resnext.InvalidArgument, ErrorCode.INVALID_ARGUMENT, tiny.classify_batch, [])


def test_tensor_errors(tiny):
    with pytest.raises(TypeError):
        tiny.classify_tensor(np.zeros((1, 3, 64, 64), np.float64))
    with pytest.raises(TypeError):
        tiny.run_raw([[0.0]])
    for shape in [(3, 64, 64), (1, 3, 32, 32), (0, 3, 64, 64), (1, 4, 64, 64)]:
        with pytest.raises(resnext.InvalidArgument):
            tiny.classify_tensor(np.zeros(shape, np.float32))


def test_truncated_images_are_refused_unless_allowed(models, photos):
    jpeg = (photos / "rocket.jpg").read_bytes()
    cut = jpeg[: len(jpeg) * 2 // 3]
    strict = resnext.Classifier(models / "tiny_torch.onnx", threads=1, **TINY)
    err = _raises(resnext.ImageError, ErrorCode.IMAGE_DECODE, strict.classify, cut)
    assert "truncated" in str(err)
    lenient = resnext.Classifier(models / "tiny_torch.onnx", threads=1, allow_truncated_images=True, **TINY)
    assert len(lenient.classify(cut)) == 5


def test_closed_classifier(models, photos):
    with resnext.Classifier(models / "tiny_torch.onnx", threads=1, **TINY) as classifier:
        assert len(classifier.classify(photos / "coffee.png")) == 5
    assert classifier.closed and "closed" in repr(classifier)
    _raises(resnext.ClosedError, ErrorCode.CLOSED, classifier.classify, photos / "coffee.png")
    classifier.close()  # twice is fine


def test_errors_pickle():
    import pickle
    err = resnext.exception_class(ErrorCode.IMAGE_SIZE)("the image size is not acceptable: 0x0",
                                                        ErrorCode.IMAGE_SIZE, "0x0")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is resnext.ImageError and back.code == ErrorCode.IMAGE_SIZE and str(back) == str(err)
