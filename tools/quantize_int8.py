#!/usr/bin/env python3
"""Static INT8 quantization (QDQ, per-channel) with ONNX Runtime's quantizer.

Pipeline: ``onnxruntime.quantization.quant_pre_process`` (ORT basic graph
optimizations such as Conv+BN fusion, plus ONNX shape inference; symbolic shape
inference is skipped) then ``quantize_static`` with ``QuantFormat.QDQ``,
``per_channel=True``, weights ``QInt8`` and activations ``QUInt8`` (U8S8) by
default, and MinMax calibration on real photographs from scikit-image's bundled data,
preprocessed exactly like inference (``preprocess_ref``; resize_short/crop from
the model's input size: 224 -> 256/224, 320 -> 320/320, else R*256/224 / R).

Why U8S8: ORT's CPU QDQ fusion maps it onto its fastest x86 kernels (on an
AVX-512 VNNI machine ResNeXt50_32x4d ran at ~62 ms/image single-threaded with
U8S8 versus ~157 ms with S8S8 and ~188 ms in FP32). On x86 CPUs *without* VNNI,
U8S8 can saturate in the AVX2 int8 dot products; use ``--activation-type int8``
there (or accept small deviations).

CLI::

    python tools/quantize_int8.py --model r50.onnx --out r50_int8.onnx --calib-images 14
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Sequence

import numpy as np
import onnx
import onnx.version_converter
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                      QuantType, quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import photos  # noqa: E402


class PhotoReader(CalibrationDataReader):
    """Feeds preprocessed skimage photographs, one image per calibration batch."""

    def __init__(self, input_name: str, resolution: int, n: int):
        self.input_name = input_name
        self.batch = photos.photo_batch(n, resolution)
        self.i = 0

    def get_next(self):
        if self.i >= len(self.batch):
            return None
        x = self.batch[self.i : self.i + 1]
        self.i += 1
        return {self.input_name: x}

    def rewind(self):
        self.i = 0


def _input_info(model: onnx.ModelProto) -> tuple[str, int]:
    inits = {t.name for t in model.graph.initializer}
    inp = next(i for i in model.graph.input if i.name not in inits)
    dims = inp.type.tensor_type.shape.dim
    if len(dims) != 4 or not dims[2].dim_value:
        raise ValueError(f"expected an N x 3 x H x W input, got {inp}")
    return inp.name, dims[2].dim_value


def quantize(model_path: str, out_path: str, calib_images: int = 7,
             activation_type: QuantType = QuantType.QUInt8,
             method: CalibrationMethod = CalibrationMethod.MinMax,
             opset: int | None = None) -> None:
    """Quantize ``model_path`` (FP32) into ``out_path`` (QDQ INT8). ``opset`` converts the
    pre-processed model to that opset first (``onnx.version_converter``), as ONNX Runtime's
    guide does for older exports (Paddle2ONNX writes opset 11)."""
    name, res = _input_info(onnx.load(model_path, load_external_data=False))
    with tempfile.TemporaryDirectory() as tmp:
        pre = os.path.join(tmp, "pre.onnx")
        quant_pre_process(model_path, pre, skip_symbolic_shape=True)
        if opset is not None:
            converted = onnx.version_converter.convert_version(onnx.load(pre), opset)
            onnx.save(converted, pre)
        quantize_static(
            pre, out_path, PhotoReader(name, res, calib_images),
            quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=activation_type, weight_type=QuantType.QInt8,
            calibrate_method=method,
            extra_options={"CalibTensorRangeSymmetric": False},
        )
    m = onnx.load(out_path)
    src = onnx.load(model_path, load_external_data=False)
    onnx.helper.set_model_props(m, {**{p.key: p.value for p in src.metadata_props},
                                    "precision": "int8", "io_dtype": "f32",
                                    "quantization": "QDQ per-channel "
                                    f"{'U8S8' if activation_type == QuantType.QUInt8 else 'S8S8'}"
                                    f" {method.name}"})
    onnx.checker.check_model(m)
    onnx.save(m, out_path)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="FP32 .onnx input (N x 3 x R x R)")
    p.add_argument("--out", required=True, help="QDQ INT8 .onnx output")
    p.add_argument("--calib-images", type=int, default=7,
                   help="calibration images (cycles through 7 photos, then flipped/"
                        "rescaled/rotated variants; default 7)")
    p.add_argument("--activation-type", choices=["uint8", "int8"], default="uint8",
                   help="activation type (default uint8 = U8S8; int8 = S8S8)")
    p.add_argument("--method", choices=["minmax", "entropy", "percentile"], default="minmax")
    p.add_argument("--opset", type=int, default=None,
                   help="convert to this opset after pre-processing (e.g. 13 for opset-11 "
                        "Paddle2ONNX exports)")
    a = p.parse_args(argv)
    act = QuantType.QInt8 if a.activation_type == "int8" else QuantType.QUInt8
    meth = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
            "percentile": CalibrationMethod.Percentile}[a.method]
    quantize(a.model, a.out, a.calib_images, act, meth, a.opset)
    print(f"{a.out}: QDQ int8 (per-channel), {a.calib_images} calibration images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
