"""Type stubs of the native extension (``resnext._native``); the package re-exports every
name, so use them as ``resnext.Classifier`` and so on."""
import os
from typing import Any, Iterator, Literal, Mapping, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from ._types import ModelInfo, PreprocessConfig

__version__: str
DEFAULT_MAX_PIXELS: int
DEFAULT_MAX_MODEL_BYTES: int

StrPath = Union[str, "os.PathLike[str]"]
#: A path, encoded bytes (JPEG, PNG, BMP, WebP), a numpy uint8 array, raw frame bytes (with
#: width/height/pixel_format) or a PIL image.
Image = Union[StrPath, bytes, bytearray, memoryview, npt.NDArray[np.uint8], "Yuv420", Any]
Plane = Union[bytes, bytearray, memoryview, npt.NDArray[np.uint8]]

class Yuv420:
    """A planar YUV 4:2:0 camera frame (Android's YUV_420_888, I420, NV21/NV12 memory as
    planes): ``bytes`` and contiguous numpy planes are read in place. ``uv_pixel_stride`` is 1
    or 2. Pass it to ``classify``/``preprocess`` like any image (``rotation=``, ``roi=``)."""

    def __init__(
        self,
        y: Plane,
        u: Plane,
        v: Plane,
        *,
        width: int,
        height: int,
        y_row_stride: int,
        uv_row_stride: int,
        uv_pixel_stride: int,
    ) -> None: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def y_row_stride(self) -> int: ...
    @property
    def uv_row_stride(self) -> int: ...
    @property
    def uv_pixel_stride(self) -> int: ...

PixelFormat = Literal["rgb", "bgr", "rgba", "bgra", "nv21", "nv12"]
Rotation = Literal[0, 90, 180, 270]

class Prediction:
    """One predicted class: its index in the model's output, its label (``""`` without labels)
    and its probability in [0, 1]."""

    @property
    def class_id(self) -> int: ...
    @property
    def label(self) -> str: ...
    @property
    def score(self) -> float: ...
    def __init__(self, class_id: int, label: str, score: float) -> None: ...
    def __eq__(self, other: object) -> bool: ...

class Timings:
    """Wall-clock time of each stage of one call, in milliseconds."""

    @property
    def decode_ms(self) -> float: ...
    @property
    def preprocess_ms(self) -> float: ...
    @property
    def inference_ms(self) -> float: ...
    @property
    def postprocess_ms(self) -> float: ...
    @property
    def total_ms(self) -> float: ...

class Classification:
    """The result for one image: a sequence of its top-k predictions, best first, with the
    call's timings."""

    @property
    def predictions(self) -> list[Prediction]: ...
    @property
    def timings(self) -> Timings: ...
    @property
    def top(self) -> Optional[Prediction]:
        """The best prediction; ``None`` when the score threshold dropped every one."""
    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> Prediction: ...
    def __iter__(self) -> Iterator[Prediction]: ...

class Classifier:
    """An image classifier over an ONNX model, shared by threads (every call releases the GIL).

    ``model`` is a path, an ``os.PathLike``, the ONNX file's ``bytes``, or an open file
    descriptor (``int``: ``model_length`` bytes from ``model_offset``, default the rest of the
    file; the descriptor stays the caller's, is never closed and its offset is unchanged). The
    keyword arguments are the Rust builder's options:

    - ``preset``: ``"wsl-224"`` (resize 256, crop 224; the default) or ``"fix-320"``;
      ``resize_short``, ``crop``, ``mean``, ``std`` override its numbers (RGB, [0, 1] units).
    - ``top_k``: predictions per image (default 5, clamped to the class count);
      ``score_threshold``: predictions scoring below it are dropped (default 0.0, in [0, 1]).
    - ``threads``: worker threads of one inference (0: every core).
    - ``labels``: ``None`` (the built-in ImageNet-1k list), ``False`` (none), a label file
      (``name`` or ``<id> <name>`` per line) or a sequence of ``str``;
      ``allow_label_mismatch`` accepts a count other than the model's classes.
    - ``max_pixels``: largest image accepted (width x height); ``allow_truncated_images``
      decodes cut JPEG/PNG data to a partial frame instead of raising ``ImageError``;
      ``max_model_bytes``: largest model accepted.
    - ``backend``: ``"tract"`` (default) or ``"ort"`` (ONNX Runtime, loaded from ``ort_library``
      or ``$ORT_DYLIB_PATH``); tract only: ``widen_fp16``, ``bf16_matmul`` (Intel AMX or AVX512-BF16),
      ``cpu_kernels`` (``"auto"``, ``"off"``, ``"avx512-vnni"``, ``"amx-int8"``, ``"scalar"``, ``"avx2"``).
    - ONNX Runtime only: ``execution_provider`` (``"cpu"``, ``"cuda"``, ``"tensorrt"``),
      ``device_id``, ``fallback`` (``"fail"``: raise ``ProviderUnavailable``; ``"next"``: try the
      next provider down to the CPU), ``tensorrt`` (a dict: ``fp16``, ``int8``,
      ``int8_calibration_table``, ``workspace_bytes``, ``engine_cache_dir``,
      ``timing_cache_dir``, ``dla_core``, ``batch_profile=(min, opt, max)``).
    """

    def __init__(
        self,
        model: Union[StrPath, bytes, bytearray, int],
        *,
        preset: Literal["wsl-224", "fix-320"] = "wsl-224",
        resize_short: Optional[int] = None,
        crop: Optional[int] = None,
        mean: Optional[Sequence[float]] = None,
        std: Optional[Sequence[float]] = None,
        top_k: int = 5,
        score_threshold: float = 0.0,
        model_offset: int = 0,
        model_length: Optional[int] = None,
        threads: int = 0,
        labels: Union[None, Literal[False], StrPath, Sequence[str]] = None,
        allow_label_mismatch: bool = False,
        max_pixels: int = ...,
        allow_truncated_images: bool = False,
        max_model_bytes: int = ...,
        backend: Literal["tract", "ort"] = "tract",
        widen_fp16: bool = True,
        bf16_matmul: bool = False,
        cpu_kernels: Literal["auto", "off", "avx512-vnni", "amx-int8", "scalar", "avx2"] = "auto",
        ort_library: Optional[StrPath] = None,
        execution_provider: Literal["cpu", "cuda", "tensorrt"] = "cpu",
        device_id: int = 0,
        fallback: Literal["fail", "next"] = "fail",
        tensorrt: Optional[Mapping[str, Any]] = None,
    ) -> None: ...
    def classify(
        self,
        image: Image,
        *,
        pixel_format: Optional[PixelFormat] = None,
        width: Optional[int] = None,
        height: Optional[int] = None,
        rotation: Rotation = 0,
        row_stride: int = 0,
        roi: Optional[tuple[int, int, int, int]] = None,
    ) -> Classification:
        """Classifies one image (see the package documentation for the kinds of image)."""
    def classify_batch(
        self,
        images: Sequence[Image],
        *,
        pixel_format: Optional[PixelFormat] = None,
        width: Optional[int] = None,
        height: Optional[int] = None,
        rotation: Rotation = 0,
        row_stride: int = 0,
        roi: Optional[tuple[int, int, int, int]] = None,
    ) -> list[Classification]:
        """Classifies several images in one batched run."""
    def classify_tensor(self, tensor: npt.NDArray[np.float32]) -> list[Classification]:
        """Classifies a preprocessed float32 N x 3 x H x W tensor."""
    def preprocess(
        self,
        image: Image,
        *,
        pixel_format: Optional[PixelFormat] = None,
        width: Optional[int] = None,
        height: Optional[int] = None,
        rotation: Rotation = 0,
        row_stride: int = 0,
        roi: Optional[tuple[int, int, int, int]] = None,
    ) -> npt.NDArray[np.float32]:
        """The float32 1 x 3 x crop x crop tensor of one image."""
    def run_raw(self, tensor: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """The model's raw N x C output for a float32 N x 3 x H x W tensor."""
    @property
    def info(self) -> ModelInfo: ...
    @property
    def preprocess_config(self) -> PreprocessConfig: ...
    @property
    def top_k(self) -> int: ...
    @property
    def score_threshold(self) -> float: ...
    def label(self, class_id: int) -> str:
        """The label of a class id ("" without one); out of range raises ``InvalidArgument``."""
    @property
    def labels(self) -> list[str]: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None:
        """Frees the model; later calls raise ``ClosedError``."""
    def __enter__(self) -> "Classifier": ...
    def __exit__(self, *exc: object) -> Literal[False]: ...
