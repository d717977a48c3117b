#!/usr/bin/env python3
"""Write every fixture the Rust tests and benchmarks need (deterministic, seeded).

Layout of ``--out DIR`` (default ``<repo>/testdata``, gitignored)::

    models/     generated ONNX models (+ models/manifest.json)
      tiny_torch.onnx  tiny_paddle.onnx  tiny_fp16.onnx  tiny_fp16_io32.onnx  tiny_int8.onnx
      r50_torch.onnx   r50_paddle.onnx   r50_fp16.onnx   r50_fp16_io32.onnx   r50_int8.onnx
      {tiny,r50}_paddle_int8{,_s8}.onnx   (Paddle2ONNX export quantized, QUInt8 / QInt8)
      r50_int8_s8.onnx                     (the torch export quantized with QInt8 activations)
      r101_32x8d.onnx                                   (only with --full; ~355 MB)
      truncated.onnx random.onnx not_classifier.onnx bad_input_rank.onnx unsupported_op.onnx
      fails_at_run.onnx
    parity/     NAME.bN.input.npy (float32 NCHW photographs) + NAME.bN.ort.npy (float32 ORT
                output), N in {1, 4} (r101: 1 only), and parity/manifest.json; all
                models with the same resolution and batch get the same photographs
    preprocess/ skimage photographs, reference tensors for encoded images and for raw
                pixel buffers (rgb8/bgr8/rgba8/bgra8/nv21/nv12 x rotations), manifest.json
      jpeg/     JPEGs encoded from the lossless photographs in every mode the decoder must
                match OpenCV in (NAME.MODE.jpg), and for them and for the skimage JPEG
                photographs cv2.imread's decoded RGB (NAME[.MODE].rgb.npy, uint8 HWC);
                jpeg/manifest.json

Every record in parity/manifest.json::

    {"name", "model": "models/NAME.onnx", "input": "parity/...input.npy",
     "reference": "parity/...ort.npy", "tract_reference": "parity/...ort[_unfused].npy",
     "batch", "precision": "fp32|fp16|int8",
     "io_dtype": "f32|f16", "output_kind": "logits|probabilities", "classes",
     "input_name", "output_name", "resolution", "photos": [...], "top5": [[...], ...]}

``reference`` is ONNX Runtime's output (its default optimizations); ``tract_reference``, what
the tract backend's parity tests compare with, is the same file except for INT8 models on a CPU
where ONNX Runtime's fused integer kernels saturate (x86_64 without VNNI,
``reference.int8_kernels_are_exact``): there it is the unfused QDQ graph's output
(``NAME.bB.ort_unfused.npy``), the model's own arithmetic.

Inputs are always stored as float32; for ``io_dtype == "f16"`` the reference was
computed after casting the input to float16 (as ``reference.py`` does).

Every record in preprocess/manifest.json::

    {"kind": "encoded"|"raw", "file", "format": "png|jpeg|rgb8|bgr8|rgba8|bgra8|nv21|nv12",
     "width", "height", "stride" (bytes per row; null for encoded; for nv21/nv12 the
     row stride of both planes), "rotation" (0/90/180/270, clockwise, to apply to the
     decoded/raw image before preprocessing), "preset", "resize_short", "crop", "mean",
     "std", "reference": (1,3,crop,crop) float32 .npy}

Every record in preprocess/jpeg/manifest.json::

    {"file", "mode": "photo|444|422|420|420_odd|420_prog|444_prog|420_rst|gray|gray_prog|
     cmyk|exif6", "width", "height" (decoded, after EXIF orientation), "decoded": uint8
     (H, W, 3) RGB .npy of cv2.imread(file, IMREAD_COLOR)[:, :, ::-1]}

The generated JPEGs (not the ones already there) also get "encoded" records in
preprocess/manifest.json.

Paths in the manifests are relative to DIR. Usage::

    python tools/make_test_fixtures.py [--out DIR] [--full]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from typing import Sequence

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper
from onnxruntime.quantization import QuantType

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convert_fp16  # noqa: E402
import photos  # noqa: E402
import preprocess_ref  # noqa: E402
import quantize_int8  # noqa: E402
import reference  # noqa: E402
import resnext_onnx  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(stages=(1, 1, 1, 1), base_planes=16, resolution=64, classes=10)
R50 = dict(depth=50, width_per_group=4)
R101 = dict(depth=101, width_per_group=8)

# name -> (builder kwargs, seed) for the generated FP32 models
FP32_MODELS = {
    "tiny_torch": (dict(TINY, style="torch"), 11),
    "tiny_paddle": (dict(TINY, style="paddle"), 12),
    "r50_torch": (dict(R50, style="torch"), 1),
    "r50_paddle": (dict(R50, style="paddle"), 2),
}
# name -> (kind, source)
DERIVED = {
    "tiny_fp16": ("fp16", "tiny_torch"),
    "tiny_fp16_io32": ("fp16_io32", "tiny_torch"),
    "tiny_int8": ("int8", "tiny_torch"),
    "r50_fp16": ("fp16", "r50_torch"),
    "r50_fp16_io32": ("fp16_io32", "r50_torch"),
    "r50_int8": ("int8", "r50_torch"),
    "r50_int8_s8": ("int8_s8", "r50_torch"),
    # Paddle2ONNX exports (opset 11, Constant weights) quantized as ONNX Runtime's guide says:
    # pre-processing, opset 13, quantize_static with QUInt8 and with QInt8 activations. The
    # graph ends in Softmax -> QuantizeLinear -> DequantizeLinear.
    "tiny_paddle_int8": ("int8_p2o", "tiny_paddle"),
    "tiny_paddle_int8_s8": ("int8_p2o_s8", "tiny_paddle"),
    "r50_paddle_int8": ("int8_p2o", "r50_paddle"),
    "r50_paddle_int8_s8": ("int8_p2o_s8", "r50_paddle"),
}
RAW_PHOTOS = ("chelsea.png", "coffee.png")
# Lossless photographs encoded to JPEG in every mode (jpeg/ fixtures).
JPEG_SOURCES = ("chelsea.png", "astronaut.png")
RAW_FORMATS = ("rgb8", "bgr8", "rgba8", "bgra8", "nv21", "nv12")
ROTATIONS = {0: None, 90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180,
             270: cv2.ROTATE_90_COUNTERCLOCKWISE}
ROW_PADDING = 12
PAD_BYTE = 0xAB


class Log:
    def __init__(self):
        self.t0 = time.time()

    def __call__(self, msg: str):
        print(f"[{time.time() - self.t0:6.1f}s] {msg}", flush=True)


def _rel(path: str, root: str) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")


# --------------------------------------------------------------------------- models
def _model_info(path: str) -> dict:
    m = onnx.load(path, load_external_data=False)
    meta = {p.key: p.value for p in m.metadata_props}
    inp, out = m.graph.input[0], m.graph.output[0]
    return {
        "input_name": inp.name, "output_name": out.name,
        "io_dtype": "f16" if inp.type.tensor_type.elem_type == TensorProto.FLOAT16 else "f32",
        "resolution": inp.type.tensor_type.shape.dim[2].dim_value,
        "classes": out.type.tensor_type.shape.dim[1].dim_value,
        "output_kind": meta.get("output_kind", "logits"),
        "precision": meta.get("precision", "fp32"),
        "style": meta.get("style"), "params": int(meta["params"]) if "params" in meta else None,
    }


def write_error_models(mdir: str, tiny_path: str) -> dict[str, str]:
    """Models that must be rejected; returns name -> expected failure."""
    out = {}
    data = open(tiny_path, "rb").read()
    with open(os.path.join(mdir, "truncated.onnx"), "wb") as f:
        f.write(data[: len(data) // 2])
    out["truncated"] = "parse error (first half of tiny_torch.onnx)"

    seed = 1234
    while True:  # random bytes that protobuf refuses to parse (first seed works)
        blob = np.random.default_rng(seed).bytes(4096)
        try:
            onnx.load_from_string(blob)
            seed += 1
        except Exception:
            break
    with open(os.path.join(mdir, "random.onnx"), "wb") as f:
        f.write(blob)
    out["random"] = f"parse error (4096 random bytes, seed {seed})"

    rng = np.random.default_rng(99)
    w = (rng.standard_normal((8, 3, 3, 3)) * 0.2).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("Conv", ["input", "w"], ["output"], kernel_shape=[3, 3],
                          strides=[2, 2], pads=[1, 1, 1, 1])],
        "not_classifier",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 8, 32, 32])],
        initializer=[onnx.numpy_helper.from_array(w, "w")])
    _save_small(g, os.path.join(mdir, "not_classifier.onnx"))
    out["not_classifier"] = "output is 4-D (1x8x32x32), not N x classes"

    w = (rng.standard_normal((100, 10)) * 0.1).astype(np.float32)
    b = np.zeros(10, np.float32)
    g = helper.make_graph(
        [helper.make_node("MatMul", ["input", "w"], ["mm"]),
         helper.make_node("Add", ["mm", "b"], ["output"])],
        "bad_input_rank",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 100])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 10])],
        initializer=[onnx.numpy_helper.from_array(w, "w"),
                     onnx.numpy_helper.from_array(b, "b")])
    _save_small(g, os.path.join(mdir, "bad_input_rank.onnx"))
    out["bad_input_rank"] = "input is rank 2 (batch x 100)"

    wc = (rng.standard_normal((16, 3, 3, 3)) * 0.2).astype(np.float32)
    wf = (rng.standard_normal((10, 16)) * 0.3).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("Conv", ["input", "wc"], ["c"], kernel_shape=[3, 3],
                          strides=[2, 2], pads=[1, 1, 1, 1]),
         helper.make_node("GlobalAveragePool", ["c"], ["p"]),
         helper.make_node("Flatten", ["p"], ["f"], axis=1),
         helper.make_node("Foo", ["f"], ["foo"], domain="com.example"),
         helper.make_node("Gemm", ["foo", "wf", "bf"], ["output"], transB=1)],
        "unsupported_op",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 64, 64])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 10])],
        initializer=[onnx.numpy_helper.from_array(wc, "wc"),
                     onnx.numpy_helper.from_array(wf, "wf"),
                     onnx.numpy_helper.from_array(np.zeros(10, np.float32), "bf")],
        value_info=[helper.make_tensor_value_info("foo", TensorProto.FLOAT, ["batch", 16])])
    _save_small(g, os.path.join(mdir, "unsupported_op.onnx"),
                extra_opsets=[helper.make_opsetid("com.example", 1)])
    out["unsupported_op"] = "custom op com.example::Foo (no implementation anywhere)"

    # Loads (a valid N x 3 x 64 x 64 -> N x 10 classifier) but fails while running: the image's
    # mean times 1e6, cast to an index, gathers from a 2-row table, out of range for any real
    # image. ONNX Runtime refuses the index (INFERENCE); tract's Gather panics on it, which the
    # SDK's boundary returns as PANIC. The one fixture that produces both codes.
    table = np.arange(20, dtype=np.float32).reshape(2, 10)
    g = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["input"], ["p"]),
         helper.make_node("Flatten", ["p"], ["f"], axis=1),
         helper.make_node("Mul", ["f", "k"], ["m"]),
         helper.make_node("Cast", ["m"], ["i"], to=TensorProto.INT64),
         helper.make_node("ReduceMax", ["i"], ["idx"], axes=[1], keepdims=0),
         helper.make_node("Gather", ["table", "idx"], ["output"], axis=0)],
        "fails_at_run",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 64, 64])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 10])],
        initializer=[onnx.numpy_helper.from_array(table, "table"),
                     onnx.numpy_helper.from_array(np.array([1e6], np.float32), "k")])
    _save_small(g, os.path.join(mdir, "fails_at_run.onnx"))
    out["fails_at_run"] = "loads, then gathers out of range while running (ORT: INFERENCE, tract: PANIC)"
    return out


def _save_small(graph: onnx.GraphProto, path: str, extra_opsets=()) -> None:
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", resnext_onnx.OPSET),
                                                *extra_opsets],
                          producer_name="resnext-tools/make_test_fixtures.py",
                          ir_version=resnext_onnx.IR_VERSION)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def write_models(root: str, full: bool, calib_images: int, log: Log) -> tuple[list, dict]:
    mdir = os.path.join(root, "models")
    os.makedirs(mdir, exist_ok=True)
    names = []
    todo = dict(FP32_MODELS)
    if full:
        todo["r101_32x8d"] = (dict(R101, style="torch"), 3)
    for name, (kw, seed) in todo.items():
        model = resnext_onnx.build_model(seed=seed, **kw)
        onnx.checker.check_model(model)
        onnx.save(model, os.path.join(mdir, f"{name}.onnx"))
        del model
        names.append(name)
        log(f"models/{name}.onnx ({os.path.getsize(os.path.join(mdir, name + '.onnx')) / 1e6:.1f} MB)")
    for name, (kind, src) in DERIVED.items():
        src_path, dst = os.path.join(mdir, f"{src}.onnx"), os.path.join(mdir, f"{name}.onnx")
        if kind.startswith("fp16"):
            m16 = convert_fp16.convert(onnx.load(src_path), keep_io_types=kind == "fp16_io32")
            onnx.save(m16, dst)
        elif kind.startswith("int8_p2o"):
            p2o = os.path.join(mdir, f"{src}.p2o.onnx")
            onnx.save(resnext_onnx.as_paddle2onnx(onnx.load(src_path)), p2o)
            act = QuantType.QInt8 if kind.endswith("_s8") else QuantType.QUInt8
            quantize_int8.quantize(p2o, dst, calib_images=calib_images, activation_type=act,
                                   opset=13)
            os.remove(p2o)
        elif kind == "int8_s8":
            quantize_int8.quantize(src_path, dst, calib_images=calib_images,
                                   activation_type=QuantType.QInt8)
        else:
            quantize_int8.quantize(src_path, dst, calib_images=calib_images)
        names.append(name)
        log(f"models/{name}.onnx ({kind} from {src})")
    errors = write_error_models(mdir, os.path.join(mdir, "tiny_torch.onnx"))
    log(f"error models: {', '.join(errors)}")
    order = [n for n in ("tiny_torch", "tiny_paddle", "tiny_fp16", "tiny_fp16_io32",
                         "tiny_int8", "tiny_paddle_int8", "tiny_paddle_int8_s8", "r50_torch",
                         "r50_paddle", "r50_fp16", "r50_fp16_io32", "r50_int8",
                         "r50_int8_s8", "r50_paddle_int8", "r50_paddle_int8_s8", "r101_32x8d") if n in names]
    manifest = [{"name": n, "file": f"models/{n}.onnx", **_model_info(
        os.path.join(mdir, f"{n}.onnx"))} for n in order]
    manifest += [{"name": n, "file": f"models/{n}.onnx", "expect_error": why}
                 for n, why in errors.items()]
    with open(os.path.join(mdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    return order, errors


# --------------------------------------------------------------------------- parity
def write_parity(root: str, names: list[str], log: Log) -> list[dict]:
    pdir = os.path.join(root, "parity")
    os.makedirs(pdir, exist_ok=True)
    records = []
    for name in names:
        path = os.path.join(root, "models", f"{name}.onnx")
        info = _model_info(path)
        sess = reference.session(path, threads=1)
        # tract's reference: ONNX Runtime's own output, except for INT8 models where its fused
        # kernels saturate (reference.int8_kernels_are_exact): there the unfused QDQ graph.
        exact = sess if info["precision"] != "int8" or reference.int8_kernels_are_exact() \
            else reference.session(path, threads=1, optimized=False)
        for batch in ((1,) if name.startswith("r101") else (1, 4)):
            # Seeded by (resolution, batch) only, so every variant of a family (fp32,
            # fp16, int8, paddle) gets the same photos and outputs can be compared.
            rng = np.random.default_rng(1000 * info["resolution"] + batch)
            picks = [photos.PHOTOS[i] for i in rng.choice(len(photos.PHOTOS), batch,
                                                          replace=False)]
            x = np.concatenate([photos.photo_tensor(p, info["resolution"]) for p in picks])
            t = time.time()
            y = reference.run_session(sess, x)
            dt = time.time() - t
            if not np.all(np.isfinite(y)):
                raise RuntimeError(f"{name}: non-finite ORT output")
            xin = os.path.join(pdir, f"{name}.b{batch}.input.npy")
            yout = os.path.join(pdir, f"{name}.b{batch}.ort.npy")
            np.save(xin, x.astype(np.float32))
            np.save(yout, y)
            tract_ref = yout
            if exact is not sess:
                tract_ref = os.path.join(pdir, f"{name}.b{batch}.ort_unfused.npy")
                y_exact = reference.run_session(exact, x)
                np.save(tract_ref, y_exact)
                log(f"parity/{name}.b{batch}: ORT's fused INT8 kernels saturate on this CPU "
                    f"(no VNNI): tract is checked against the unfused graph (max difference "
                    f"{np.abs(y - y_exact).max():.3e})")
            records.append({
                "name": name, "model": f"models/{name}.onnx", "input": _rel(xin, root),
                "reference": _rel(yout, root), "tract_reference": _rel(tract_ref, root),
                "batch": batch,
                "precision": info["precision"], "io_dtype": info["io_dtype"],
                "output_kind": info["output_kind"], "classes": info["classes"],
                "input_name": info["input_name"], "output_name": info["output_name"],
                "resolution": info["resolution"], "photos": picks,
                "top5": [np.argsort(-row, kind="stable")[:5].tolist() for row in y],
            })
            log(f"parity/{name}.b{batch}: ORT {dt * 1000:.0f} ms, out std {y.std():.3f}")
    with open(os.path.join(pdir, "manifest.json"), "w") as f:
        json.dump(records, f, indent=1)
    return records


# ----------------------------------------------------------------------- preprocess
def _raw_buffer(rgb: np.ndarray, fmt: str) -> tuple[bytes, int, np.ndarray]:
    """(buffer bytes, row stride, RGB image the buffer decodes to)."""
    h, w = rgb.shape[:2]
    if fmt in ("rgb8", "bgr8", "rgba8", "bgra8"):
        px = rgb if fmt.startswith("rgb") else rgb[:, :, ::-1]
        if fmt.endswith("a8"):
            px = np.concatenate([px, np.full((h, w, 1), 255, np.uint8)], axis=2)
        bpp = px.shape[2]
        stride = w * bpp + ROW_PADDING
        buf = np.full((h, stride), PAD_BYTE, np.uint8)
        buf[:, : w * bpp] = px.reshape(h, w * bpp)
        return buf.tobytes(), stride, rgb
    i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)  # (h*3/2, w): Y, U, V planes
    y = i420[:h]
    u = i420[h : h + h // 4].reshape(h // 2, w // 2)
    v = i420[h + h // 4 :].reshape(h // 2, w // 2)
    first, second = (v, u) if fmt == "nv21" else (u, v)
    uv = np.stack([first, second], axis=2).reshape(h // 2, w)
    nv = np.concatenate([y, uv], axis=0)
    code = cv2.COLOR_YUV2RGB_NV21 if fmt == "nv21" else cv2.COLOR_YUV2RGB_NV12
    return nv.tobytes(), w, cv2.cvtColor(nv, code)


def _encode_jpeg(rgb: np.ndarray, mode: str) -> bytes:
    """``rgb`` encoded as JPEG in ``mode`` (cv2.imencode; CMYK and EXIF through Pillow)."""
    import io

    from PIL import Image

    if mode in ("cmyk", "exif6"):
        img = Image.fromarray(rgb)
        out = io.BytesIO()
        if mode == "cmyk":  # Adobe (inverted) CMYK, as Photoshop writes it
            img.convert("CMYK").save(out, "JPEG", quality=90)
        else:  # EXIF orientation 6: the viewer rotates 90 degrees clockwise
            exif = Image.Exif()
            exif[0x0112] = 6
            img.save(out, "JPEG", quality=90, exif=exif.tobytes())
        return out.getvalue()
    sampling = {"444": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
                "422": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422}.get(
                    mode[:3], cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420)
    params = [cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, sampling]
    if mode.endswith("_prog"):
        params += [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]
    if mode.endswith("_rst"):
        params += [cv2.IMWRITE_JPEG_RST_INTERVAL, 3]
    image = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if mode.startswith("gray") else rgb[:, :, ::-1]
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image), params)
    if not ok:
        raise RuntimeError(f"cv2.imencode failed for {mode}")
    return buf.tobytes()


JPEG_MODES = ("444", "422", "420", "420_odd", "420_prog", "444_prog", "420_rst", "gray",
              "gray_prog", "cmyk", "exif6")


def write_jpegs(root: str, ref_record, log: Log) -> list[dict]:
    """jpeg/: generated JPEGs and cv2.imread's decoding of them and of the skimage JPEG
    photographs; returns the preprocess records of the generated ones."""
    jdir = os.path.join(root, "preprocess", "jpeg")
    os.makedirs(jdir, exist_ok=True)
    entries, records = [], []

    def decoded(path: str, stem: str, mode: str) -> None:
        rgb = cv2.imread(path, cv2.IMREAD_COLOR)[:, :, ::-1]
        ref = f"preprocess/jpeg/{stem}.rgb.npy"
        np.save(os.path.join(root, ref), np.ascontiguousarray(rgb))
        entries.append({"file": _rel(path, root), "mode": mode, "width": rgb.shape[1],
                        "height": rgb.shape[0], "decoded": ref})

    for name in photos.PHOTOS:
        if name.endswith(".jpg"):
            decoded(os.path.join(root, "preprocess", name), name.rsplit(".", 1)[0], "photo")
    for name in JPEG_SOURCES:
        src = photos.load_rgb(name)
        for mode in JPEG_MODES:
            rgb = src[:299, :451] if mode == "420_odd" else src  # odd sizes: edge MCUs
            stem = f"{name.rsplit('.', 1)[0]}.{mode}"
            path = os.path.join(jdir, f"{stem}.jpg")
            with open(path, "wb") as f:
                f.write(_encode_jpeg(np.ascontiguousarray(rgb), mode))
            decoded(path, stem, mode)
            ref_rgb = preprocess_ref.decode_rgb(open(path, "rb").read())
            for preset, (rs, crop) in preprocess_ref.PRESETS.items():
                ref = f"preprocess/jpeg/{stem}.{preset}.encoded.npy"
                np.save(os.path.join(root, ref), preprocess_ref.preprocess_rgb(ref_rgb, rs, crop))
                records.append(ref_record("encoded", _rel(path, root), "jpeg", ref_rgb.shape[1],
                                          ref_rgb.shape[0], None, 0, preset, ref))
    with open(os.path.join(jdir, "manifest.json"), "w") as f:
        json.dump(entries, f, indent=1)
    log(f"preprocess/jpeg: {len(entries)} JPEGs with cv2.imread references")
    return records


def write_preprocess(root: str, log: Log) -> list[dict]:
    ddir = os.path.join(root, "preprocess")
    os.makedirs(ddir, exist_ok=True)
    mean, std = list(preprocess_ref.DEFAULT_MEAN), list(preprocess_ref.DEFAULT_STD)
    records = []

    def ref_record(kind, file, fmt, w, h, stride, rot, preset, ref_path):
        rs, crop = preprocess_ref.PRESETS[preset]
        return {"kind": kind, "file": file, "format": fmt, "width": w, "height": h,
                "stride": stride, "rotation": rot, "preset": preset, "resize_short": rs,
                "crop": crop, "mean": mean, "std": std, "reference": ref_path}

    for name in photos.PHOTOS:
        shutil.copyfile(photos.photo_path(name), os.path.join(ddir, name))
        rgb = preprocess_ref.decode_rgb(photos.photo_bytes(name))
        stem = name.rsplit(".", 1)[0]
        fmt = "jpeg" if name.endswith(".jpg") else "png"
        for preset, (rs, crop) in preprocess_ref.PRESETS.items():
            ref = f"preprocess/{stem}.{preset}.encoded.npy"
            np.save(os.path.join(root, ref), preprocess_ref.preprocess_rgb(rgb, rs, crop))
            records.append(ref_record("encoded", f"preprocess/{name}", fmt, rgb.shape[1],
                                      rgb.shape[0], None, 0, preset, ref))

    records += write_jpegs(root, ref_record, log)

    written: dict[str, str] = {}  # sha1 of reference -> path (dedupe identical references)
    for name in RAW_PHOTOS:
        rgb = preprocess_ref.decode_rgb(photos.photo_bytes(name))
        h, w = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
        rgb = np.ascontiguousarray(rgb[:h, :w])  # drop the last odd row/column
        stem = name.rsplit(".", 1)[0]
        for fmt in RAW_FORMATS:
            buf, stride, seen = _raw_buffer(rgb, fmt)
            bin_rel = f"preprocess/{stem}.{fmt}.bin"
            with open(os.path.join(root, bin_rel), "wb") as f:
                f.write(buf)
            src = "rgb" if fmt.endswith("8") else "yuv420"
            cases = [(r, "wsl-224") for r in ROTATIONS] + [(0, "fix-320")]
            for rot, preset in cases:
                img = seen if ROTATIONS[rot] is None else cv2.rotate(seen, ROTATIONS[rot])
                x = preprocess_ref.preprocess_rgb(np.ascontiguousarray(img),
                                                  *preprocess_ref.PRESETS[preset])
                key = hashlib.sha1(x.tobytes()).hexdigest()
                if key not in written:
                    ref = f"preprocess/{stem}.{src}.r{rot}.{preset}.npy"
                    if ref in written.values():  # nv21/nv12 differ: keep both, by format
                        ref = f"preprocess/{stem}.{fmt}.r{rot}.{preset}.npy"
                    np.save(os.path.join(root, ref), x)
                    written[key] = ref
                records.append(ref_record("raw", bin_rel, fmt, w, h, stride, rot, preset,
                                          written[key]))
    with open(os.path.join(ddir, "manifest.json"), "w") as f:
        json.dump(records, f, indent=1)
    log(f"preprocess: {len(photos.PHOTOS)} photos, {len(records)} cases, "
        f"{len(written)} raw references")
    return records


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--out", default=os.path.join(REPO, "testdata"), help="output directory")
    p.add_argument("--full", action="store_true",
                   help="also generate r101_32x8d.onnx (~355 MB) and its reference")
    p.add_argument("--calib-images", type=int, default=7, help="INT8 calibration images")
    a = p.parse_args(argv)
    log = Log()
    root = os.path.abspath(a.out)
    os.makedirs(root, exist_ok=True)
    pre = write_preprocess(root, log)
    names, errors = write_models(root, a.full, a.calib_images, log)
    parity = write_parity(root, names, log)
    size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(root) for f in fs)
    log(f"done: {len(names)} models + {len(errors)} error models, {len(parity)} parity "
        f"cases, {len(pre)} preprocess cases, {size / 1e6:.0f} MB in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
