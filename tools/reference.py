#!/usr/bin/env python3
"""Reference outputs from ONNX Runtime (CPUExecutionProvider, one thread).

The input tensor is cast to the model's input element type (e.g. float16 for an
FP16 model with float16 I/O) and the first output is written as float32.
Graph optimizations are left at ONNX Runtime's default level, or turned off
(``optimized=False``: the QDQ graph run node by node, dequantized to float, without
ONNX Runtime's fused integer kernels).

CLI::

    python tools/reference.py --model m.onnx --input x.npy --out y.npy

Python::

    from reference import run
    y = run("m.onnx", x)          # float32 ndarray
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

import numpy as np
import onnxruntime as ort

_ORT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
}


def session(model_path: str, threads: int = 1, optimized: bool = True) -> ort.InferenceSession:
    """A CPU session with ``threads`` intra-op threads and default optimizations (none with
    ``optimized=False``)."""
    so = ort.SessionOptions()
    if not optimized:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])


def int8_kernels_are_exact() -> bool:
    """Whether ONNX Runtime's fused u8 x s8 kernels (QLinearConv, from the QDQ fusions) sum
    exactly on this CPU. On x86_64 without VNNI (AVX512-VNNI or AVX-VNNI) MLAS multiplies with
    ``vpmaddubsw``, whose 16-bit pair sums saturate (ONNX Runtime's quantization docs say so and
    suggest ``reduce_range``): its INT8 outputs then differ from the model's integer arithmetic.
    Elsewhere (VNNI; other architectures' dot-product instructions) they are exact."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split() for line in f if line.startswith("flags")), [])
    except OSError:
        return True
    if "avx2" not in flags:
        return True
    return "avx512_vnni" in flags or "avx_vnni" in flags


def run_session(sess: ort.InferenceSession, x: np.ndarray) -> np.ndarray:
    """Run an existing session on ``x`` (cast to the input dtype); float32 output."""
    inp = sess.get_inputs()[0]
    dtype = _ORT_TYPES.get(inp.type)
    if dtype is None:
        raise TypeError(f"unsupported model input type {inp.type}")
    y = sess.run(None, {inp.name: np.ascontiguousarray(x.astype(dtype))})[0]
    return np.asarray(y).astype(np.float32)


def run(model_path: str, x: np.ndarray, threads: int = 1) -> np.ndarray:
    """Run ``model_path`` on ``x`` with ONNX Runtime CPU and return float32 output."""
    return run_session(session(model_path, threads), x)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help=".onnx model")
    p.add_argument("--input", required=True, help=".npy input tensor (any float dtype)")
    p.add_argument("--out", required=True, help="output .npy (float32)")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    a = p.parse_args(argv)
    y = run(a.model, np.load(a.input), a.threads)
    np.save(a.out, y)
    print(f"{a.out}: shape {y.shape} float32")
    return 0


if __name__ == "__main__":
    sys.exit(main())
