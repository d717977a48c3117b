"""The exceptions of the ``resnext`` package.

Every failure of the SDK raises a subclass of :class:`Error` whose ``code`` is the stable
:class:`ErrorCode` shared with the Rust API, the C ABI (``RESNEXT_...``), Java and the CLI's
JSON errors. The subclasses group the codes by family, so callers catch what they can handle
(``except resnext.ImageError``) and let the rest propagate. Argument errors are also
``ValueError`` and file errors also ``OSError``, as Python code expects.
"""
from __future__ import annotations

import enum


class ErrorCode(enum.IntEnum):
    """The SDK's stable numeric error codes (never renumbered; new ones are appended)."""

    OK = 0
    NULL_ARGUMENT = 1
    INVALID_ARGUMENT = 2
    IO = 3
    MODEL_DECODE = 4
    MODEL_UNSUPPORTED = 5
    INFERENCE = 6
    IMAGE_DECODE = 7
    IMAGE_SIZE = 8
    BUFFER_SIZE = 9
    LABELS = 10
    LIMIT_EXCEEDED = 11
    BACKEND_UNAVAILABLE = 12
    PANIC = 13
    CLOSED = 14
    UTF8 = 15
    PROVIDER_UNAVAILABLE = 16


class Error(Exception):
    """An error of the SDK. ``code`` is its :class:`ErrorCode`, ``detail`` the message without
    the code's generic description; ``str(error)`` gives both."""

    code: ErrorCode
    detail: str

    def __init__(self, message: str, code: ErrorCode = ErrorCode.INVALID_ARGUMENT, detail: str | None = None):
        super().__init__(message)
        self.code = ErrorCode(code)
        self.detail = message if detail is None else detail

    def __reduce__(self):
        return (_from_code, (int(self.code), self.detail, str(self)))


class InvalidArgument(Error, ValueError):
    """An argument is out of range or inconsistent (``INVALID_ARGUMENT``, ``NULL_ARGUMENT``,
    ``UTF8``)."""


class IoError(Error, OSError):
    """A file could not be opened or read (``IO``)."""


class ModelError(Error):
    """The model is not valid ONNX (``MODEL_DECODE``) or not a classifier this SDK can run
    (``MODEL_UNSUPPORTED``)."""


class ImageError(Error):
    """The image cannot be decoded (``IMAGE_DECODE``), has an unusable size (``IMAGE_SIZE``), or
    a raw buffer is too short for its dimensions (``BUFFER_SIZE``)."""


class LabelError(Error):
    """The labels do not match the model or the label file is malformed (``LABELS``)."""


class LimitExceeded(Error):
    """A resource limit was exceeded: model size, pixel count, batch size (``LIMIT_EXCEEDED``)."""


class InferenceError(Error):
    """The inference engine failed to load, optimize or run the model (``INFERENCE``)."""


class BackendUnavailable(Error):
    """The requested backend is not available in this build or runtime
    (``BACKEND_UNAVAILABLE``)."""


class ProviderUnavailable(BackendUnavailable):
    """The requested ONNX Runtime execution provider (CUDA, TensorRT) cannot run here
    (``PROVIDER_UNAVAILABLE``)."""


class InternalError(Error):
    """A panic inside the SDK was caught (``PANIC``): the call failed, the interpreter is
    intact. Please report it."""


class ClosedError(Error, ValueError):
    """The classifier was closed (``CLOSED``), like I/O on a closed file."""


_CLASS_BY_CODE = {
    ErrorCode.NULL_ARGUMENT: InvalidArgument,
    ErrorCode.INVALID_ARGUMENT: InvalidArgument,
    ErrorCode.UTF8: InvalidArgument,
    ErrorCode.IO: IoError,
    ErrorCode.MODEL_DECODE: ModelError,
    ErrorCode.MODEL_UNSUPPORTED: ModelError,
    ErrorCode.INFERENCE: InferenceError,
    ErrorCode.IMAGE_DECODE: ImageError,
    ErrorCode.IMAGE_SIZE: ImageError,
    ErrorCode.BUFFER_SIZE: ImageError,
    ErrorCode.LABELS: LabelError,
    ErrorCode.LIMIT_EXCEEDED: LimitExceeded,
    ErrorCode.BACKEND_UNAVAILABLE: BackendUnavailable,
    ErrorCode.PANIC: InternalError,
    ErrorCode.CLOSED: ClosedError,
    ErrorCode.PROVIDER_UNAVAILABLE: ProviderUnavailable,
}


def exception_class(code: int) -> type[Error]:
    """The :class:`Error` subclass raised for ``code``."""
    return _CLASS_BY_CODE.get(ErrorCode(code), Error)


def _from_code(code: int, detail: str, message: str) -> Error:
    """Builds the exception for an SDK error (called by the native extension)."""
    error = exception_class(code)(message, ErrorCode(code), detail)
    return error


__all__ = [
    "ErrorCode", "Error", "InvalidArgument", "IoError", "ModelError", "ImageError", "LabelError",
    "LimitExceeded", "InferenceError", "BackendUnavailable", "ProviderUnavailable", "InternalError",
    "ClosedError", "exception_class",
]
