"""Descriptions of a loaded model and of its preprocessing, as frozen dataclasses."""
from __future__ import annotations

import dataclasses
from typing import Tuple, Union


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """A named tensor with its declared shape (an ``int`` per fixed dimension, the name of a
    symbolic one such as ``"batch"``) and element type (``"float32"``, ``"float16"``...)."""

    name: str
    shape: Tuple[Union[int, str], ...]
    dtype: str


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the SDK learned about a model at load time, and how it runs it."""

    #: The image input (N x 3 x H x W).
    input: TensorInfo
    #: The class-score output (N x C).
    output: TensorInfo
    #: Input height in pixels.
    height: int
    #: Input width in pixels.
    width: int
    #: Number of classes C.
    classes: int
    #: ``"fp32"``, ``"fp16"`` or ``"int8"`` (the exported weights).
    precision: str
    #: ``"logits"`` (the SDK applies softmax) or ``"probabilities"``.
    output_kind: str
    #: Number of weight parameters.
    parameters: int
    #: Size of the ONNX file in bytes.
    model_bytes: int
    #: The exporter that wrote the file (``"pytorch"``, ``"PaddlePaddle"``...), or ``""``.
    producer: str
    #: ``"tract"`` or ``"ort"``.
    backend: str
    #: ``"cpu"``, ``"cuda:N"`` or ``"tensorrt:N"`` (the provider in use, after any fallback).
    provider: str
    #: How the backend computes, e.g. ``"f32"``.
    compute: str
    #: Worker threads of one inference.
    threads: int


@dataclasses.dataclass(frozen=True)
class PreprocessConfig:
    """The preprocessing numbers: resize the short side to ``resize_short`` (bilinear), centre
    crop ``crop`` x ``crop``, then ``(x / 255 - mean) / std`` per RGB channel."""

    resize_short: int
    crop: int
    mean: Tuple[float, float, float]
    std: Tuple[float, float, float]


__all__ = ["TensorInfo", "ModelInfo", "PreprocessConfig"]
