#!/usr/bin/env python3
"""Convert an FP32 ONNX model to FP16 with onnxconverter-common.

Uses ``onnxconverter_common.float16.convert_float_to_float16``. By default the
graph inputs/outputs become float16 too; ``--keep-io-types`` keeps them float32
(Cast nodes are inserted at the boundaries). The result is checked with
``onnx.checker`` and, unless ``--no-verify``, loaded and run once in ONNX Runtime
(CPU) on a random input and compared with the FP32 model.

CLI::

    python tools/convert_fp16.py --model r50.onnx --out r50_fp16.onnx
    python tools/convert_fp16.py --model r50.onnx --out r50_fp16_io32.onnx --keep-io-types
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Sequence

import numpy as np
import onnx
from onnxconverter_common import float16

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def convert(model: onnx.ModelProto, keep_io_types: bool = False) -> onnx.ModelProto:
    """Return an FP16 copy of ``model``."""
    with warnings.catch_warnings():  # "float32 number ... will be truncated to 1e-07"
        warnings.simplefilter("ignore", UserWarning)
        m16 = float16.convert_float_to_float16(model, keep_io_types=keep_io_types,
                                               disable_shape_infer=False)
    # Keep the producer's metadata; note the conversion.
    onnx.helper.set_model_props(
        m16, {**{p.key: p.value for p in model.metadata_props},
              "precision": "fp16", "io_dtype": "f32" if keep_io_types else "f16"})
    onnx.checker.check_model(m16)
    return m16


def verify(fp32_path: str, fp16_path: str, seed: int = 0) -> float:
    """Run both models in ORT CPU on a random input; return max |difference|."""
    from reference import run, session

    sess = session(fp32_path)
    shape = [d if isinstance(d, int) else 1 for d in sess.get_inputs()[0].shape]
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    y32 = run(fp32_path, x)
    y16 = run(fp16_path, x)
    if not np.all(np.isfinite(y16)):
        raise RuntimeError("FP16 model produced non-finite output")
    return float(np.max(np.abs(y32 - y16)))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="FP32 .onnx input")
    p.add_argument("--out", required=True, help="FP16 .onnx output")
    p.add_argument("--keep-io-types", action="store_true",
                   help="keep float32 graph inputs/outputs (default: float16 I/O)")
    p.add_argument("--no-verify", action="store_true", help="skip the ORT run")
    a = p.parse_args(argv)
    onnx.save(convert(onnx.load(a.model), a.keep_io_types), a.out)
    msg = f"{a.out}: fp16, io={'f32' if a.keep_io_types else 'f16'}"
    if not a.no_verify:
        msg += f", ORT max|fp32-fp16| on a random input = {verify(a.model, a.out):.4g}"
    print(msg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
