"""ResNeXt image classifiers (the ResNeXt101 WSL family and any ONNX classifier with an
N x 3 x H x W input) over the resnext Rust SDK: the same results as its C, C++, Java and CLI
surfaces on the same files.

>>> import resnext
>>> classifier = resnext.Classifier("model.onnx")          # doctest: +SKIP
>>> for p in classifier.classify("cat.jpg"):                # doctest: +SKIP
...     print(p.class_id, p.label, f"{p.score:.4f}")

A classifier is shared by threads: every call releases the GIL while it decodes, preprocesses
and infers. Errors are :class:`resnext.Error` subclasses carrying a stable ``code``.
"""
from ._errors import (
    BackendUnavailable,
    ClosedError,
    Error,
    ErrorCode,
    ImageError,
    InferenceError,
    InternalError,
    InvalidArgument,
    IoError,
    LabelError,
    LimitExceeded,
    ModelError,
    ProviderUnavailable,
    exception_class,
)
from ._types import ModelInfo, PreprocessConfig, TensorInfo
from ._native import (
    DEFAULT_MAX_MODEL_BYTES,
    DEFAULT_MAX_PIXELS,
    Classification,
    Classifier,
    Prediction,
    Timings,
    Yuv420,
    __version__,
)

__all__ = [
    "Classifier", "Classification", "Prediction", "Timings", "Yuv420", "ModelInfo", "TensorInfo",
    "PreprocessConfig", "ErrorCode", "Error", "InvalidArgument", "IoError", "ModelError",
    "ImageError", "LabelError", "LimitExceeded", "InferenceError", "BackendUnavailable",
    "ProviderUnavailable", "InternalError", "ClosedError", "exception_class",
    "DEFAULT_MAX_PIXELS", "DEFAULT_MAX_MODEL_BYTES", "__version__",
]
