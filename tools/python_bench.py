#!/usr/bin/env python3
"""The Python package's benchmark (scripts/benchmarks.sh runs it; tools/benchmarks_report.py
turns its JSON into the Python rows of BENCHMARKS.md). Two measurements, side by side in one
run, engines alternated over ``--rounds`` rounds (each keeps its best round's median):

1. **Overhead** of ``resnext.Classifier.classify(path)`` over the Rust API's
   ``Classifier::classify(ImageInput::Path)`` (``examples/classify_loop.rs``, ``--rust-loop``) on
   a small model (``--small-model``, one thread): the difference of the per-call medians. The
   median of (Python wall time - the call's own ``Timings.total_ms``) is reported too: the
   binding's share measured inside one process.
2. **End to end**, a JPEG file to its top 5, on ``--model`` with ``--threads`` threads:
   ``classify(path)`` against the usual Python pipeline, ``cv2.imread`` + numpy preprocessing
   (resize of the short side with ``INTER_LINEAR``, centre crop, normalization, CHW) +
   ``onnxruntime.InferenceSession.run`` + numpy softmax and top 5. Both backends of the package
   are timed (``backend="tract"`` and ``backend="ort"``, the latter when ``ORT_DYLIB_PATH`` is
   set).

Prints one JSON object. Needs the ``resnext`` wheel importable (scripts/benchmarks.sh installs
it with ``pip install --target`` and sets ``PYTHONPATH``), numpy, onnxruntime and OpenCV.

    python tools/python_bench.py --rust-loop target/release/examples/classify_loop \\
        --small-model tiny.onnx --small-resize-short 73 --small-crop 64 \\
        --model r101_int8.onnx --image photo_1080p.jpg --threads 2 --json
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def median(xs):
    return float(np.median(np.asarray(xs, dtype=np.float64)))


def time_calls(fn, iters: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def overhead(a) -> dict:
    import resnext
    c = resnext.Classifier(a.small_model, threads=1, resize_short=a.small_resize_short,
                           crop=a.small_crop, labels=False)
    image = a.image_small or a.image
    inside = []

    def py_call():
        r = c.classify(image)
        inside.append(r.timings.total_ms)

    best_py, best_rust, best_binding = None, None, None
    for _ in range(a.rounds):
        cmd = [a.rust_loop, "--model", a.small_model, "--image", image, "--threads", "1",
               "--resize-short", str(a.small_resize_short), "--crop", str(a.small_crop),
               "--iters", str(a.small_iters), "--warmup", str(a.small_iters // 10)]
        rust = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)["median_ms"]
        inside.clear()
        walls = time_calls(py_call, a.small_iters, a.small_iters // 10)
        py = median(walls)
        binding = median([w - t for w, t in zip(walls, inside[-len(walls):])])
        best_rust = rust if best_rust is None else min(best_rust, rust)
        best_py = py if best_py is None else min(best_py, py)
        best_binding = binding if best_binding is None else min(best_binding, binding)
    return {"model": os.path.basename(a.small_model), "image": os.path.basename(image),
            "python_ms": best_py, "rust_ms": best_rust, "overhead_ms": best_py - best_rust,
            "binding_ms": best_binding, "iters": a.small_iters, "rounds": a.rounds}


def usual_pipeline(model: str, threads: int, resize_short: int, crop: int):
    """cv2.imread + numpy preprocessing + onnxruntime, as a Python user writes it."""
    import cv2
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    mean = np.array([0.485, 0.456, 0.406], np.float32) * 255
    std = np.array([0.229, 0.224, 0.225], np.float32) * 255

    def run(path: str):
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        scale = resize_short / min(h, w)
        size = (round(w * scale), round(h * scale))
        resized = cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR)
        top, left = (size[1] - crop) // 2, (size[0] - crop) // 2
        x = (resized[top:top + crop, left:left + crop].astype(np.float32) - mean) / std
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        logits = session.run(None, {name: x})[0][0]
        p = np.exp(logits - logits.max())
        p /= p.sum()
        best = np.argsort(-p)[:5]
        return list(zip(best.tolist(), p[best].tolist()))

    return run


def end_to_end(a) -> dict:
    import resnext
    engines = {"python_ort": usual_pipeline(a.model, a.threads, 256, 224)}
    tract = resnext.Classifier(a.model, threads=a.threads)
    engines["resnext_tract"] = lambda path: tract.classify(path)
    if os.environ.get("ORT_DYLIB_PATH"):
        on_ort = resnext.Classifier(a.model, threads=a.threads, backend="ort")
        engines["resnext_ort"] = lambda path: on_ort.classify(path)
    top1 = {k: (fn(a.image)[0][0] if k == "python_ort" else fn(a.image)[0].class_id) for k, fn in engines.items()}
    best = {}
    for _ in range(a.rounds):
        for k, fn in engines.items():
            m = median(time_calls(lambda: fn(a.image), a.iters, a.warmup))
            best[k] = m if k not in best else min(best[k], m)
    return {"model": os.path.basename(a.model), "image": os.path.basename(a.image), "threads": a.threads,
            "median_ms": best, "top1": top1, "iters": a.iters, "rounds": a.rounds}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rust-loop", required=True, help="target/release/examples/classify_loop")
    p.add_argument("--small-model", required=True)
    p.add_argument("--small-resize-short", type=int, default=256)
    p.add_argument("--small-crop", type=int, default=224)
    p.add_argument("--small-iters", type=int, default=300)
    p.add_argument("--image-small", help="the image of the overhead measurement (default --image)")
    p.add_argument("--model", required=True, help="the end-to-end model")
    p.add_argument("--image", required=True, help="a JPEG file")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--json", action="store_true", help="(the output is always JSON)")
    a = p.parse_args(argv)
    import resnext
    out = {"resnext": resnext.__version__, "python": sys.version.split()[0],
           "overhead": overhead(a), "end_to_end": end_to_end(a)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
