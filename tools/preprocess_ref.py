#!/usr/bin/env python3
"""OpenCV reference of PaddleClas's evaluation preprocessing for ResNeXt101 WSL.

This reproduces, operation for operation, the pipeline in SPEC.md (PaddleClas
``DecodeImage`` -> ``ResizeImage`` -> ``CropImage`` -> ``NormalizeImage`` ->
``ToCHWImage``), and is the ground truth the Rust preprocessing is tested
against:

1. ``cv2.imdecode(buf, cv2.IMREAD_COLOR)`` (BGR, 8-bit, 3 channels; EXIF
   orientation is applied by OpenCV's default flags) then channels flipped to RGB.
2. ``ResizeImage(resize_short=S)``: ``percent = S / min(w, h)``,
   ``w' = int(round(w * percent))``, ``h' = int(round(h * percent))`` (Python
   ``round``: halves go to even) and ``cv2.resize(img, (w', h'),
   interpolation=cv2.INTER_LINEAR)`` on the uint8 image (OpenCV's uint8
   bilinear uses 11-bit fixed-point weights and rounds back to uint8).
3. ``CropImage(size=C)``: ``x0 = (w' - C) // 2``, ``y0 = (h' - C) // 2``.
4. ``NormalizeImage``: exactly as PaddleClas computes it, in float32:
   ``(img.astype(float32) * float32(1/255) - mean) / std`` with mean/std as
   float32 arrays. (Multiplying by ``float32(1/255)`` can differ from ``x / 255``
   by at most 1 ulp.)
5. HWC -> CHW, then a leading batch axis: ``(1, 3, C, C)`` float32.

CLI::

    python tools/preprocess_ref.py --image photo.jpg --preset wsl-224 --out x.npy
    python tools/preprocess_ref.py --image photo.jpg --resize-short 73 --crop 64 --out x.npy
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

import cv2
import numpy as np

#: preset name -> (resize_short, crop)
PRESETS: dict[str, tuple[int, int]] = {
    "wsl-224": (256, 224),  # ResNeXt101_32x{8,16,32,48}d_wsl
    "fix-320": (320, 320),  # Fix_ResNeXt101_32x48d_wsl
}

DEFAULT_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
DEFAULT_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def decode_rgb(data: bytes) -> np.ndarray:
    """Decode an encoded image (JPEG/PNG/...) to an RGB uint8 HWC array, as PaddleClas
    ``DecodeImage(to_rgb=True)`` does (``cv2.imdecode(..., 1)`` then ``[:, :, ::-1]``)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("cv2.imdecode could not decode the image")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def resized_size(width: int, height: int, resize_short: int) -> tuple[int, int]:
    """PaddleClas ``ResizeImage`` target size ``(w, h)`` for a ``resize_short`` value."""
    percent = float(resize_short) / min(width, height)
    return int(round(width * percent)), int(round(height * percent))


def resize_short_side(rgb: np.ndarray, resize_short: int) -> np.ndarray:
    """Resize so the short side is ``resize_short`` with OpenCV ``INTER_LINEAR``."""
    h, w = rgb.shape[:2]
    size = resized_size(w, h, resize_short)
    return cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR)


def center_crop(img: np.ndarray, crop: int) -> np.ndarray:
    """PaddleClas ``CropImage``: offsets ``(W - crop) // 2`` and ``(H - crop) // 2``."""
    h, w = img.shape[:2]
    if h < crop or w < crop:
        raise ValueError(f"image {w}x{h} is smaller than the crop {crop}")
    x0 = (w - crop) // 2
    y0 = (h - crop) // 2
    return img[y0 : y0 + crop, x0 : x0 + crop]


def normalize(img: np.ndarray, mean: Sequence[float] = DEFAULT_MEAN,
              std: Sequence[float] = DEFAULT_STD) -> np.ndarray:
    """PaddleClas ``NormalizeImage`` (scale 1/255, HWC order), float32 arithmetic."""
    scale = np.float32(1.0 / 255.0)
    m = np.array(mean, dtype=np.float32).reshape((1, 1, 3))
    s = np.array(std, dtype=np.float32).reshape((1, 1, 3))
    return (img.astype(np.float32) * scale - m) / s


def preprocess_rgb(rgb: np.ndarray, resize_short: int = 256, crop: int = 224,
                   mean: Sequence[float] = DEFAULT_MEAN,
                   std: Sequence[float] = DEFAULT_STD) -> np.ndarray:
    """RGB uint8 HWC image -> ``(1, 3, crop, crop)`` float32 NCHW tensor."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 image, got {rgb.shape} {rgb.dtype}")
    img = resize_short_side(rgb, resize_short)
    img = center_crop(img, crop)
    img = normalize(img, mean, std)
    return np.ascontiguousarray(img.transpose(2, 0, 1)[None])


def preprocess_bytes(data: bytes, resize_short: int = 256, crop: int = 224,
                     mean: Sequence[float] = DEFAULT_MEAN,
                     std: Sequence[float] = DEFAULT_STD) -> np.ndarray:
    """Encoded image bytes -> ``(1, 3, crop, crop)`` float32."""
    return preprocess_rgb(decode_rgb(data), resize_short, crop, mean, std)


def params_for_resolution(resolution: int) -> tuple[int, int]:
    """``(resize_short, crop)`` for a model input size: the presets for 224 and 320,
    otherwise the WSL ratio 256/224 (e.g. 64 -> (73, 64))."""
    for rs, crop in PRESETS.values():
        if crop == resolution:
            return rs, crop
    return int(round(resolution * 256 / 224)), resolution


def preprocess_file(path: str, preset: str = "wsl-224") -> np.ndarray:
    """Convenience: read a file and apply a named preset."""
    resize_short, crop = PRESETS[preset]
    with open(path, "rb") as f:
        return preprocess_bytes(f.read(), resize_short, crop)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", required=True, help="encoded image file (JPEG, PNG, ...)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="wsl-224",
                   help="resize/crop preset (default: wsl-224 = resize_short 256, crop 224)")
    p.add_argument("--resize-short", type=int, help="override the preset's resize_short")
    p.add_argument("--crop", type=int, help="override the preset's crop size")
    p.add_argument("--mean", type=float, nargs=3, default=list(DEFAULT_MEAN))
    p.add_argument("--std", type=float, nargs=3, default=list(DEFAULT_STD))
    p.add_argument("--out", required=True, help="output .npy, (1,3,crop,crop) float32")
    a = p.parse_args(argv)
    resize_short, crop = PRESETS[a.preset]
    if a.resize_short is not None:
        resize_short = a.resize_short
    if a.crop is not None:
        crop = a.crop
    with open(a.image, "rb") as f:
        x = preprocess_bytes(f.read(), resize_short, crop, a.mean, a.std)
    np.save(a.out, x)
    print(f"{a.out}: shape {x.shape} {x.dtype} (resize_short={resize_short}, crop={crop})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
