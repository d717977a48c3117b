#!/usr/bin/env python3
"""Peer benchmark: ONNX Runtime (Python, CPU) on the same model, input, batch sizes and thread
count as ``resnext bench``, printing the same JSON.

Measures, like ``resnext bench``:

- ``load_ms``: session creation (``InferenceSession`` with ``intra_op_num_threads=N``,
  ``inter_op_num_threads=1``, all graph optimizations), from the start of the call;
- ``first_result_ms``: session creation plus the first batch-1 run (cold start);
- per batch size: ``median_ms``, ``p90_ms`` and ``images_per_s`` over ``--iters`` timed runs
  after ``--warmup`` untimed runs;
- ``peak_rss_mb``: the process's peak resident set (``ru_maxrss``), Python and NumPy included.

The input is the same deterministic sequence ``resnext bench`` feeds (one 64-bit LCG image,
repeated for every image of a batch), cast to the model's input dtype (float16 for FP16 I/O).

``--preprocess-image IMG`` instead times the OpenCV reference preprocessing
(``cv2.imdecode`` + ``cv2.resize`` INTER_LINEAR + centre crop + normalize + CHW, exactly
``tools/preprocess_ref.py``) of the encoded bytes of IMG on one OpenCV thread, and prints
``{"preprocess": {"image", "width", "height", "median_ms", "p90_ms", "decode_median_ms"}}``.
``--write-jpeg OUT`` writes a 1920x1080 JPEG (quality 90) made from a scikit-image photograph,
the input of that comparison.

CLI::

    python tools/bench_peers.py --model m.onnx --batch 1,8 --threads 2 --iters 10 --json
    python tools/bench_peers.py --preprocess-image photo_1080p.jpg --iters 50 --json
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from typing import Sequence

import numpy as np


def synthetic_image(per_image: int) -> np.ndarray:
    """The LCG sequence of ``resnext bench`` (src/bin/resnext/bench.rs), as float32."""
    mask = (1 << 64) - 1
    state = 0x2545_F491_4F6C_DD1D
    mul, inc = 6364136223846793005, 1442695040888963407
    top = []
    for _ in range(per_image):
        state = (state * mul + inc) & mask
        top.append(state >> 40)
    # (top as f32 / 2^24) * 4 - 2 in float32, as the Rust code computes it (all steps exact
    # except the last subtraction, which float32 rounds the same way).
    v = np.array(top, dtype=np.float32) / np.float32(1 << 24)
    return (v * np.float32(4.0) - np.float32(2.0)).astype(np.float32)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KB on Linux


def percentile(sorted_ms: list[float], p: float) -> float:
    rank = int(round((len(sorted_ms) - 1) * p))
    return sorted_ms[min(rank, len(sorted_ms) - 1)]


def bench_ort(model: str, batches: Sequence[int], threads: int, warmup: int,
              iters: int, progress: bool) -> dict:
    started = time.perf_counter()
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    load_ms = (time.perf_counter() - started) * 1000.0
    inp = sess.get_inputs()[0]
    shape = inp.shape
    h = shape[2] if isinstance(shape[2], int) else 224
    w = shape[3] if isinstance(shape[3], int) else 224
    dtype = np.float16 if inp.type == "tensor(float16)" else np.float32
    image = synthetic_image(3 * h * w).reshape(1, 3, h, w).astype(dtype)
    sess.run(None, {inp.name: image})
    first_result_ms = (time.perf_counter() - started) * 1000.0

    results = []
    for batch in batches:
        x = np.ascontiguousarray(np.repeat(image, batch, axis=0))
        for _ in range(warmup):
            sess.run(None, {inp.name: x})
        times = []
        for i in range(iters):
            t = time.perf_counter()
            sess.run(None, {inp.name: x})
            times.append((time.perf_counter() - t) * 1000.0)
            if progress:
                print(f"\r  onnxruntime batch {batch}: {i + 1}/{iters}", end="", file=sys.stderr,
                      flush=True)
        if progress:
            print(file=sys.stderr)
        times.sort()
        median = percentile(times, 0.5)
        results.append({"batch": batch, "median_ms": median, "p90_ms": percentile(times, 0.9),
                         "images_per_s": batch * 1000.0 / median})
    return {"model": model, "backend": "onnxruntime", "version": ort.__version__,
            "threads": threads, "load_ms": load_ms, "first_result_ms": first_result_ms,
            "peak_rss_mb": peak_rss_mb(), "results": results}


def bench_preprocess(image: str, iters: int, resize_short: int = 256, crop: int = 224) -> dict:
    import cv2

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import preprocess_ref

    cv2.setNumThreads(1)
    with open(image, "rb") as f:
        data = f.read()
    rgb = preprocess_ref.decode_rgb(data)
    total, decode = [], []
    for _ in range(max(iters, 20)):
        t = time.perf_counter()
        preprocess_ref.preprocess_bytes(data, resize_short, crop)
        total.append((time.perf_counter() - t) * 1000.0)
        t = time.perf_counter()
        preprocess_ref.decode_rgb(data)
        decode.append((time.perf_counter() - t) * 1000.0)
    total.sort()
    decode.sort()
    return {"preprocess": {"engine": f"opencv {cv2.__version__} (1 thread)", "image": image,
                           "width": int(rgb.shape[1]), "height": int(rgb.shape[0]),
                           "median_ms": percentile(total, 0.5), "p90_ms": percentile(total, 0.9),
                           "decode_median_ms": percentile(decode, 0.5)}}


def write_jpeg(out: str) -> None:
    import cv2

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import photos

    # A bundled scikit-image photograph, scaled (INTER_CUBIC) and cropped to 1920 x 1080.
    rgb = photos.load_rgb("chelsea.png")
    h, w = rgb.shape[:2]
    scale = max(1920 / w, 1080 / h)
    big = cv2.resize(rgb, (int(np.ceil(w * scale)), int(np.ceil(h * scale))),
                     interpolation=cv2.INTER_CUBIC)
    y0, x0 = (big.shape[0] - 1080) // 2, (big.shape[1] - 1920) // 2
    big = big[y0:y0 + 1080, x0:x0 + 1920]
    ok, enc = cv2.imencode(".jpg", np.ascontiguousarray(big[:, :, ::-1]),
                           [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise RuntimeError("cv2.imencode failed")
    with open(out, "wb") as f:
        f.write(enc.tobytes())


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="the ONNX model")
    p.add_argument("--batch", default="1,4,8", help="batch sizes, comma-separated (1,4,8)")
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (0: all cores)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--preprocess-image", metavar="IMG",
                   help="time OpenCV preprocessing of IMG instead of running a model")
    p.add_argument("--write-jpeg", metavar="OUT", help="write the 1920x1080 test JPEG and exit")
    a = p.parse_args(argv)
    if a.write_jpeg:
        write_jpeg(a.write_jpeg)
        print(a.write_jpeg)
        return 0
    if a.preprocess_image:
        r = bench_preprocess(a.preprocess_image, a.iters)
        print(json.dumps(r) if a.json else
              f"OpenCV preprocessing {r['preprocess']['width']}x{r['preprocess']['height']}: "
              f"{r['preprocess']['median_ms']:.2f} ms median")
        return 0
    if not a.model:
        p.error("--model is required")
    threads = a.threads or os.cpu_count() or 1
    batches = [int(b) for b in a.batch.split(",") if b]
    r = bench_ort(a.model, batches, threads, a.warmup, a.iters, progress=sys.stderr.isatty())
    if a.json:
        print(json.dumps(r))
    else:
        print(f"model {a.model}, onnxruntime {r['version']}, {threads} threads")
        print(f"load {r['load_ms']:.0f} ms, first result {r['first_result_ms']:.0f} ms, "
              f"peak RSS {r['peak_rss_mb']:.0f} MB")
        print(f"{'batch':>6} {'median ms':>11} {'p90 ms':>9} {'images/s':>10}")
        for row in r["results"]:
            print(f"{row['batch']:>6} {row['median_ms']:>11.2f} {row['p90_ms']:>9.2f} "
                  f"{row['images_per_s']:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
