"""Tests for the Python model tooling in tools/ (run: python -m pytest tests/python)."""
from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(REPO, "tools")
sys.path.insert(0, TOOLS)

import convert_fp16  # noqa: E402
import make_test_fixtures  # noqa: E402
import photos  # noqa: E402
import preprocess_ref  # noqa: E402
import quantize_int8  # noqa: E402
import reference  # noqa: E402
import resnext_onnx  # noqa: E402

TINY = dict(stages=(1, 1, 1, 1), base_planes=16, resolution=64, classes=10)
# torchvision's sum(p.numel() for p in model.parameters())
TORCHVISION_PARAMS = {(50, 4): 25_028_904, (101, 8): 88_791_336}


def ops(model: onnx.ModelProto) -> set[str]:
    return {n.op_type for n in model.graph.node}


# ------------------------------------------------------------------ generator
@pytest.mark.parametrize("style", ["torch", "paddle"])
@pytest.mark.parametrize("bn", [None, "fold", "keep"])
def test_generator_models_pass_checker(style, bn):
    m = resnext_onnx.build_model(style=style, bn=bn, seed=5, **TINY)
    onnx.checker.check_model(m, full_check=True)
    assert m.opset_import[0].version == 17
    inp, out = m.graph.input[0], m.graph.output[0]
    dims = inp.type.tensor_type.shape.dim
    assert [d.dim_value for d in dims[1:]] == [3, 64, 64]
    assert out.type.tensor_type.shape.dim[1].dim_value == 10
    keep = (bn or ("fold" if style == "torch" else "keep")) == "keep"
    assert ("BatchNormalization" in ops(m)) == keep
    if style == "torch":
        assert (inp.name, out.name) == ("input", "output")
        assert dims[0].dim_param == "batch"
        assert "Gemm" in ops(m) and "Softmax" not in ops(m)
        vi = {v.name: v for v in m.graph.value_info}
        assert len(vi) > 20
        assert all(v.type.tensor_type.shape.dim[0].dim_param == "batch" for v in vi.values())
    else:
        assert inp.name == "x" and dims[0].dim_param == "DynamicDimension.0"
        assert {"MatMul", "Add", "Softmax"} <= ops(m) and "Gemm" not in ops(m)
        assert m.graph.node[-1].op_type == "Softmax"


def test_softmax_override_and_determinism():
    a = resnext_onnx.build_model(style="torch", softmax=True, seed=7, **TINY)
    b = resnext_onnx.build_model(style="torch", softmax=True, seed=7, **TINY)
    c = resnext_onnx.build_model(style="paddle", softmax=False, seed=7, **TINY)
    assert a.graph.node[-1].op_type == "Softmax"
    assert c.graph.node[-1].op_type == "Add"
    assert a.SerializeToString() == b.SerializeToString()


def test_bn_fold_matches_keep():
    """Same seed: folded and kept BN compute the same function."""
    x = photos.photo_batch(3, 64)
    outs = []
    for bn in ("fold", "keep"):
        m = resnext_onnx.build_model(style="torch", bn=bn, seed=9, **TINY)
        sess = reference.ort.InferenceSession(m.SerializeToString(),
                                              providers=["CPUExecutionProvider"])
        outs.append(reference.run_session(sess, x))
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("depth,k", [(50, 4), (101, 8)])
def test_parameter_counts(depth, k):
    n = resnext_onnx.count_parameters(depth, k)
    expect = TORCHVISION_PARAMS[(depth, k)]
    assert abs(n - expect) / expect < 0.02
    assert n == expect  # the layout is exactly torchvision's
    # The generated graph stores the same numbers: folded BN keeps one bias per
    # conv channel instead of gamma + beta.
    m = resnext_onnx.build_model(depth=depth, width_per_group=k, value_info=False,
                                 calibrate_head="none")
    bn_channels = sum(cv[2] for cv in resnext_onnx._conv_shapes(
        resnext_onnx.ResNeXtConfig(depth=depth, width_per_group=k).resolved()))
    assert resnext_onnx.initializer_elements(m) == n - bn_channels
    assert int({p.key: p.value for p in m.metadata_props}["params"]) == n


def test_logits_are_sane_on_photos():
    m = resnext_onnx.build_model(depth=50, seed=1, value_info=False)
    sess = reference.ort.InferenceSession(m.SerializeToString(),
                                          providers=["CPUExecutionProvider"])
    y = reference.run_session(sess, photos.photo_batch(len(photos.PHOTOS), 224))
    assert np.all(np.isfinite(y))
    assert 1.0 < y.std() < 5.0
    s = -np.sort(-y, axis=1)
    gaps = s[:, :5] - s[:, 1:6]
    assert gaps.min() > 0.5  # clear top-5 on every photograph
    assert len(set(y.argmax(1).tolist())) == len(photos.PHOTOS)  # image-dependent


# ------------------------------------------------------------ fp16 and int8
@pytest.fixture(scope="module")
def r50(tmp_path_factory):
    d = tmp_path_factory.mktemp("r50")
    path = str(d / "r50.onnx")
    onnx.save(resnext_onnx.build_model(depth=50, seed=1), path)
    x = photos.photo_batch(len(photos.PHOTOS), 224)
    return d, path, x, reference.run(path, x, threads=2)


@pytest.mark.parametrize("keep_io", [False, True])
def test_fp16_runs_and_agrees(r50, keep_io):
    d, path, x, y32 = r50
    out = str(d / f"fp16_{keep_io}.onnx")
    onnx.save(convert_fp16.convert(onnx.load(path), keep_io_types=keep_io), out)
    m = onnx.load(out)
    want = TensorProto.FLOAT if keep_io else TensorProto.FLOAT16
    assert m.graph.input[0].type.tensor_type.elem_type == want
    assert m.graph.output[0].type.tensor_type.elem_type == want
    y16 = reference.run(out, x, threads=2)
    assert y16.dtype == np.float32
    assert np.abs(y16 - y32).max() < 0.1
    assert (y16.argmax(1) == y32.argmax(1)).all()


def test_int8_runs_and_agrees(r50):
    d, path, x, y32 = r50
    out = str(d / "int8.onnx")
    quantize_int8.quantize(path, out, calib_images=7)
    m = onnx.load(out)
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops(m)
    # per-channel weights: some DequantizeLinear has a 1-D scale
    inits = {t.name: t for t in m.graph.initializer}
    assert any(len(inits[n.input[1]].dims) == 1 and inits[n.input[1]].dims[0] > 1
               for n in m.graph.node if n.op_type == "DequantizeLinear"
               and n.input[1] in inits)
    y8 = reference.run(out, x, threads=2)
    assert np.all(np.isfinite(y8))
    assert (y8.argmax(1) == y32.argmax(1)).mean() >= 6 / 7


# ------------------------------------------------------------- preprocessing
def test_resized_size_uses_python_round():
    assert preprocess_ref.resized_size(3, 2, 3) == (4, 3)  # round(4.5) == 4
    assert preprocess_ref.resized_size(5, 2, 3) == (8, 3)  # round(7.5) == 8
    assert preprocess_ref.resized_size(451, 300, 256) == (385, 256)
    assert preprocess_ref.resized_size(300, 451, 256) == (256, 385)


def test_preprocess_matches_hand_computation():
    # 8 x 4 RGB image; resize_short 2 halves it exactly, and OpenCV's INTER_LINEAR
    # with half-pixel centres then averages each 2x2 block (sums chosen divisible by 4).
    rng = np.random.default_rng(0)
    blocks = rng.integers(10, 245, (2, 4, 3))  # target block means
    img = np.zeros((4, 8, 3), np.int64)
    for by in range(2):
        for bx in range(4):
            a, b = rng.integers(-10, 11, (2, 3))
            m = blocks[by, bx]
            # [[m + a, m - a], [m + b, m - b]]: the 2x2 mean is exactly m
            img[2 * by:2 * by + 2, 2 * bx:2 * bx + 2] = [[m + a, m - a], [m + b, m - b]]
    img = img.astype(np.uint8)
    x = preprocess_ref.preprocess_rgb(img, resize_short=2, crop=2)
    assert x.shape == (1, 3, 2, 2) and x.dtype == np.float32
    # resized 4 x 2, crop 2: x0 = (4 - 2) // 2 = 1, y0 = 0 -> block columns 1, 2
    resized = blocks[:, 1:3].astype(np.float32)  # (2, 2, 3)
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    hand = (resized * np.float32(1 / 255) - mean) / std
    np.testing.assert_array_equal(x[0], hand.transpose(2, 0, 1))
    # channel 0 is red: a pure-red image gives the maximum in channel 0 only
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    r = preprocess_ref.preprocess_rgb(red, 4, 4)
    assert r[0, 0].min() > 2.2 and r[0, 1].max() < -2.0


def test_decode_rgb_flips_channels():
    rgb = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    ok, png = cv2.imencode(".png", rgb[:, :, ::-1])  # cv2 writes BGR
    assert ok
    np.testing.assert_array_equal(preprocess_ref.decode_rgb(png.tobytes()), rgb)


def test_preprocess_cli(tmp_path):
    out = tmp_path / "x.npy"
    subprocess.run([sys.executable, os.path.join(TOOLS, "preprocess_ref.py"),
                    "--image", photos.photo_path("chelsea.png"), "--preset", "fix-320",
                    "--out", str(out)], check=True, capture_output=True)
    x = np.load(out)
    np.testing.assert_array_equal(x, preprocess_ref.preprocess_file(
        photos.photo_path("chelsea.png"), "fix-320"))
    assert x.shape == (1, 3, 320, 320)


@pytest.mark.parametrize("fmt", make_test_fixtures.RAW_FORMATS)
def test_raw_buffers(fmt):
    rgb = photos.load_rgb("coffee.png")[:40, :60].copy()
    buf, stride, seen = make_test_fixtures._raw_buffer(rgb, fmt)
    h, w = rgb.shape[:2]
    if fmt.endswith("8"):
        bpp = 4 if "a" in fmt else 3
        assert stride == w * bpp + 12 and len(buf) == stride * h
        rows = np.frombuffer(buf, np.uint8).reshape(h, stride)
        assert (rows[:, w * bpp:] == 0xAB).all()
        px = rows[:, :w * bpp].reshape(h, w, bpp)
        order = [0, 1, 2] if fmt.startswith("rgb") else [2, 1, 0]
        np.testing.assert_array_equal(px[..., order], rgb)
        np.testing.assert_array_equal(seen, rgb)
    else:
        assert stride == w and len(buf) == w * h * 3 // 2
        assert np.abs(seen.astype(int) - rgb).mean() < 4  # YUV 4:2:0 round trip


@pytest.mark.parametrize("script", ["resnext_onnx", "convert_fp16", "quantize_int8",
                                    "preprocess_ref", "reference", "make_test_fixtures",
                                    "export_wsl"])
def test_cli_help(script):
    r = subprocess.run([sys.executable, os.path.join(TOOLS, f"{script}.py"), "--help"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "usage" in r.stdout
