"""Real photographs bundled with scikit-image, used for calibration and fixtures.

Only the colour (RGB) photographs are used. ``photo_batch`` turns them into
preprocessed NCHW tensors with the PaddleClas pipeline of ``preprocess_ref``.
"""
from __future__ import annotations

import os

import cv2
import numpy as np

import preprocess_ref

#: RGB photographs in ``skimage/data`` (all 8-bit, 3 channels).
PHOTOS: tuple[str, ...] = (
    "astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png",
    "rocket.jpg", "hubble_deep_field.jpg", "retina.jpg",
)


def data_dir() -> str:
    """scikit-image's bundled data directory."""
    import skimage.data

    return os.path.dirname(skimage.data.__file__)


def photo_path(name: str) -> str:
    path = os.path.join(data_dir(), name)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    return path


def photo_bytes(name: str) -> bytes:
    with open(photo_path(name), "rb") as f:
        return f.read()


def load_rgb(name: str) -> np.ndarray:
    """Decode a photo the PaddleClas way (cv2.imdecode, BGR -> RGB)."""
    return preprocess_ref.decode_rgb(photo_bytes(name))


def photo_tensor(name: str, resolution: int, variant: int = 0) -> np.ndarray:
    """(1, 3, R, R) float32 for one photo. ``variant`` > 0 gives deterministic
    variations (flips, a tighter crop) for calibration sets larger than the photo set."""
    rgb = load_rgb(name)
    rs, crop = preprocess_ref.params_for_resolution(resolution)
    if variant % 2 == 1:
        rgb = np.ascontiguousarray(rgb[:, ::-1])
    if (variant // 2) % 2 == 1:
        rs = int(round(rs * 1.25))
    if (variant // 4) % 2 == 1:
        rgb = cv2.rotate(rgb, cv2.ROTATE_90_CLOCKWISE)
    return preprocess_ref.preprocess_rgb(rgb, rs, crop)


def photo_batch(n: int, resolution: int, names: tuple[str, ...] = PHOTOS) -> np.ndarray:
    """``n`` preprocessed images cycling through ``names`` then through variants."""
    xs = [photo_tensor(names[i % len(names)], resolution, i // len(names)) for i in range(n)]
    return np.concatenate(xs, axis=0)
