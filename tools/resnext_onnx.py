#!/usr/bin/env python3
"""Generate ResNeXt classifiers as ONNX (opset 17) with seeded synthetic weights.

The graph follows torchvision's ``resnext{50,101}_32x{K}d`` layout (the layout
PaddleClas converted its ResNeXt101 WSL weights from):

* stem: conv 7x7/2 (base planes, default 64) + BN + ReLU + maxpool 3x3/2 pad 1;
* four stages of bottleneck blocks (default [3, 4, 6, 3] for depth 50 and
  [3, 4, 23, 3] for depth 101) with planes ``base * (1, 2, 4, 8)``; a block is
  1x1 conv -> width, 3x3 grouped conv (``groups``, stride 2 in the first block
  of stages 2-4), 1x1 conv -> planes * 4, each followed by BN (+ReLU except the
  last), a 1x1 projection shortcut (conv + BN) in each stage's first block, then
  add + ReLU; ``width = int(planes * K / 64) * groups`` (torchvision);
* global average pool and a fully connected layer (planes*4*8 -> classes).

Two exporter "styles" mimic the graphs the SDK has to consume:

``torch``  (``torch.onnx.export`` in eval mode): BN folded into Conv (Conv with
           bias), ``GlobalAveragePool -> Flatten -> Gemm(transB=1)`` head, logits,
           input ``input`` / output ``output`` with a symbolic batch ``batch``,
           and ``value_info`` for every intermediate tensor.
``paddle`` (Paddle2ONNX of a PaddleClas inference model): ``BatchNormalization``
           nodes kept, ``GlobalAveragePool -> Flatten -> MatMul -> Add`` head, a
           final ``Softmax``, input ``x`` with batch ``DynamicDimension.0`` and
           output ``save_infer_model/scale_0.tmp_0``.

``--bn fold|keep`` and ``--softmax/--no-softmax`` override the style defaults.

Weights are synthetic but numerically sane through 101 layers: He-normal conv
filters (each filter re-centred to zero mean), BN running statistics chosen from
an analytic estimate of every conv's output variance, a small gamma (0.2..0.3) on
each block's last BN so the residual stream grows only slowly, and an FC layer
fitted so the logits are image-dependent with a std of about 3 and a clear top-5:
the body is run once in ONNX Runtime on the 7 scikit-image photographs and the FC
is a ridge fit of designed logits (ranks 1..5 separated by >= 0.5 std-units) plus
a random part orthogonal to those photos' features; see ``_calibrate_head``
(``--calibrate-head none`` skips this and uses zero-sum random rows with an
analytic scale). The random weights are drawn with ``numpy.random.default_rng(seed)`` in a
fixed order and the fitted statistics are rounded, so a given configuration + seed
gives the same bytes.

Examples::

    python tools/resnext_onnx.py --depth 50 --width-per-group 4 --out r50.onnx
    python tools/resnext_onnx.py --depth 101 --width-per-group 8 --seed 3 --out r101_32x8d.onnx
    python tools/resnext_onnx.py --style paddle --stages 1,1,1,1 --base-planes 16 \\
        --resolution 64 --classes 10 --out tiny_paddle.onnx

Python::

    from resnext_onnx import build_model, count_parameters
    model = build_model(depth=101, width_per_group=8)      # onnx.ModelProto
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Optional, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # what torch.onnx.export writes for opset 17
BN_EPS = 1e-5
DEFAULT_STAGES = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
EXPANSION = 4

STYLE_DEFAULTS = {
    "torch": dict(bn="fold", softmax=False, head="gemm", input_name="input",
                  output_name="output", batch_dim="batch", value_info=True),
    "paddle": dict(bn="keep", softmax=True, head="matmul", input_name="x",
                   output_name="save_infer_model/scale_0.tmp_0",
                   batch_dim="DynamicDimension.0", value_info=False),
}


@dataclass
class ResNeXtConfig:
    """Everything that determines a generated model."""

    depth: int = 50
    width_per_group: int = 4
    groups: int = 32
    stages: Optional[Sequence[int]] = None
    base_planes: int = 64
    resolution: int = 224
    classes: int = 1000
    style: str = "torch"
    bn: Optional[str] = None  # "fold" | "keep"; None = style default
    softmax: Optional[bool] = None  # None = style default
    head: Optional[str] = None  # "gemm" | "matmul"; None = style default
    value_info: Optional[bool] = None
    seed: int = 0
    logit_std: float = 3.0

    def resolved(self) -> "ResNeXtConfig":
        """Fill the style defaults in; validate."""
        if self.style not in STYLE_DEFAULTS:
            raise ValueError(f"unknown style {self.style!r}")
        d = STYLE_DEFAULTS[self.style]
        c = ResNeXtConfig(**asdict(self))
        if c.stages is None:
            if c.depth not in DEFAULT_STAGES:
                raise ValueError(f"no default stages for depth {c.depth}; pass stages")
            c.stages = DEFAULT_STAGES[c.depth]
        c.stages = tuple(int(s) for s in c.stages)
        if len(c.stages) != 4 or min(c.stages) < 1:
            raise ValueError("stages must be four positive integers")
        c.bn = c.bn or d["bn"]
        c.head = c.head or d["head"]
        c.softmax = d["softmax"] if c.softmax is None else bool(c.softmax)
        c.value_info = d["value_info"] if c.value_info is None else bool(c.value_info)
        if c.bn not in ("fold", "keep") or c.head not in ("gemm", "matmul"):
            raise ValueError("bn must be fold|keep and head gemm|matmul")
        for p in self.planes_of(c):
            if self.width_of(c, p) % c.groups:
                raise ValueError("width must be divisible by groups")
        return c

    @staticmethod
    def planes_of(c: "ResNeXtConfig") -> list[int]:
        return [c.base_planes * m for m in (1, 2, 4, 8)]

    @staticmethod
    def width_of(c: "ResNeXtConfig", planes: int) -> int:
        w = int(planes * (c.width_per_group / 64.0)) * c.groups
        if w <= 0:
            raise ValueError(f"width is 0 for planes={planes}, K={c.width_per_group}")
        return w

    @property
    def name(self) -> str:
        return f"resnext{self.depth}_{self.groups}x{self.width_per_group}d"


def _conv_shapes(c: ResNeXtConfig):
    """Yield (name, cin, cout, k, stride, groups, kind) for every conv in torchvision order.

    kind is 'stem' | 'c1' | 'c2' | 'c3' | 'down'."""
    yield ("conv1", 3, c.base_planes, 7, 2, 1, "stem")
    inplanes = c.base_planes
    for si, (nblocks, planes) in enumerate(zip(c.stages, ResNeXtConfig.planes_of(c))):
        width = ResNeXtConfig.width_of(c, planes)
        for bi in range(nblocks):
            stride = 2 if (si > 0 and bi == 0) else 1
            pre = f"layer{si + 1}.{bi}"
            yield (f"{pre}.conv1", inplanes, width, 1, 1, 1, "c1")
            yield (f"{pre}.conv2", width, width, 3, stride, c.groups, "c2")
            yield (f"{pre}.conv3", width, planes * EXPANSION, 1, 1, 1, "c3")
            if bi == 0 and (stride != 1 or inplanes != planes * EXPANSION):
                yield (f"{pre}.downsample.0", inplanes, planes * EXPANSION, 1, stride, 1, "down")
            inplanes = planes * EXPANSION


def count_parameters(depth: int = 50, width_per_group: int = 4, groups: int = 32,
                     stages: Optional[Sequence[int]] = None, base_planes: int = 64,
                     classes: int = 1000) -> int:
    """Trainable parameters in torchvision's convention (conv weights, BN gamma and
    beta, FC weight and bias; not BN running statistics), independent of BN folding."""
    c = ResNeXtConfig(depth=depth, width_per_group=width_per_group, groups=groups,
                      stages=stages, base_planes=base_planes, classes=classes).resolved()
    n = 0
    for _, cin, cout, k, _, g, _ in _conv_shapes(c):
        n += cout * (cin // g) * k * k + 2 * cout
    feat = ResNeXtConfig.planes_of(c)[-1] * EXPANSION
    return n + feat * classes + classes


class _Builder:
    """Accumulates nodes/initializers with torch.onnx.export-like names."""

    def __init__(self, c: ResNeXtConfig):
        self.c = c
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.rng = np.random.default_rng(c.seed)
        self.counter = 0
        self.paddle = c.style == "paddle"
        self.conv_i = 0
        self.bn_i = 0
        self.scopes: dict[tuple[str, str], int] = {}
        self._scope = ""

    # -- naming -----------------------------------------------------------
    def _node_name(self, scope: str, op: str) -> str:
        self.counter += 1
        if scope and not self.paddle:
            # torch.onnx.export numbers repeated module scopes: relu, relu_1, relu_2, ...
            key = (scope, op)
            n = self.scopes.get(key, 0)
            self.scopes[key] = n + 1
            if n:
                scope = f"{scope}_{n}"
            self._scope = scope
        if self.paddle:
            return f"p2o.{op}.{self.counter}"
        return f"/{scope}/{op}" if scope else f"/{op}_{self.counter}"

    def _out_name(self, scope: str, op: str) -> str:
        if self.paddle:
            return f"p2o.{op}.{self.counter}_out"
        return f"/{self._scope}/{op}_output_0" if scope else f"/{op}_{self.counter}_output_0"

    def node(self, op: str, inputs: list[str], scope: str = "", **attrs) -> str:
        name = self._node_name(scope, op)
        out = self._out_name(scope, op)
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def init(self, name: str, arr: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    # -- layers -----------------------------------------------------------
    def conv_bn(self, x: str, tname: str, bn_tname: str, cin: int, cout: int, k: int,
                stride: int, groups: int, in_m2: float, gamma_scale: float,
                relu: bool, scope: str) -> tuple[str, float]:
        """Conv + BN (+ReLU). Returns (output, estimated second moment of the output).

        ``in_m2`` is the estimated E[x^2] of the input; the conv output variance is
        estimated as ``2 * in_m2 * centring_factor`` and used as the BN running var."""
        rng = self.rng
        fan_in = (cin // groups) * k * k
        w = rng.standard_normal((cout, cin // groups, k, k), dtype=np.float32)
        if fan_in > 1:  # zero-mean filters: per-channel conv outputs are centred
            w -= w.mean(axis=(1, 2, 3), keepdims=True)
        w *= np.float32(math.sqrt(2.0 / fan_in))
        # BN parameters: running var from the analytic estimate (jittered), small means.
        var_est = max(2.0 * in_m2, 1e-3)
        running_var = (var_est * rng.uniform(0.7, 1.4, cout)).astype(np.float32)
        running_mean = (math.sqrt(var_est) * 0.1 * rng.standard_normal(cout)).astype(np.float32)
        gamma = (gamma_scale * rng.uniform(0.8, 1.2, cout)).astype(np.float32)
        beta = (gamma_scale * 0.1 * rng.standard_normal(cout)).astype(np.float32)
        # Output of BN ~ gamma * N(0, var_est / running_var) + beta; estimate its E[y^2].
        m2 = float(np.mean(gamma**2 * var_est / running_var + beta**2))
        if relu:
            m2 *= 0.5
        pads = [k // 2] * 4
        attrs = dict(kernel_shape=[k, k], strides=[stride, stride], pads=pads,
                     dilations=[1, 1], group=groups)
        if self.paddle:
            wname = f"conv2d_{self.conv_i}.w_0"
            self.conv_i += 1
        else:
            wname = f"{tname}.weight"
        if self.c.bn == "fold":
            s = gamma / np.sqrt(running_var + np.float32(BN_EPS))
            wf = w * s[:, None, None, None]
            bf = beta - running_mean * s
            bname = f"conv2d_{self.conv_i - 1}.b_0" if self.paddle else f"{tname}.bias"
            y = self.node("Conv", [x, self.init(wname, wf.astype(np.float32)),
                                   self.init(bname, bf.astype(np.float32))],
                          scope=f"{scope}/{tname.split('.')[-1]}" if scope else tname, **attrs)
        else:
            y = self.node("Conv", [x, self.init(wname, w)],
                          scope=f"{scope}/{tname.split('.')[-1]}" if scope else tname, **attrs)
            if self.paddle:
                p = f"batch_norm2d_{self.bn_i}"
                names = [f"{p}.w_0", f"{p}.b_0", f"{p}.w_1", f"{p}.w_2"]
                self.bn_i += 1
            else:
                names = [f"{bn_tname}.{n}" for n in ("weight", "bias", "running_mean",
                                                     "running_var")]
            for n, arr in zip(names, (gamma, beta, running_mean, running_var)):
                self.init(n, arr)
            y = self.node("BatchNormalization", [y] + names,
                          scope=f"{scope}/{bn_tname.split('.')[-1]}" if scope else bn_tname,
                          epsilon=BN_EPS, momentum=0.9)
        if relu:
            y = self.node("Relu", [y], scope=f"{scope}/relu" if scope else "relu")
        return y, m2


def _synthetic_images(n: int, resolution: int, seed: int) -> np.ndarray:
    """Smooth, photo-like random images, already normalized, (n, 3, R, R) float32."""
    import cv2

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        low = rng.uniform(0, 255, (8, 8, 3)).astype(np.float32)
        img = cv2.resize(low, (resolution, resolution), interpolation=cv2.INTER_CUBIC)
        img += rng.normal(0, 12, img.shape).astype(np.float32)
        img = np.clip(img, 0, 255) / 255.0
        img = (img - np.array([0.485, 0.456, 0.406], np.float32)) / np.array(
            [0.229, 0.224, 0.225], np.float32)
        out.append(img.transpose(2, 0, 1))
    return np.stack(out).astype(np.float32)


def _calibration_images(resolution: int, mode: str, seed: int) -> np.ndarray:
    if mode == "photos":
        here = os.path.dirname(os.path.abspath(__file__))
        if here not in sys.path:
            sys.path.insert(0, here)
        try:
            import photos  # tools/photos.py (needs scikit-image and OpenCV)

            return photos.photo_batch(len(photos.PHOTOS), resolution)
        except ImportError:
            pass
    return _synthetic_images(8, resolution, seed)


def _target_logits(n: int, classes: int, logit_std: float, seed: int) -> np.ndarray:
    """Designed logits for the ``n`` calibration images, (n, classes).

    Background classes ~ 3 tanh(N(0, 1) / 3) (inside +-3, no ties); five classes per image (distinct
    top-1 classes across images) at 3 + (7, 4, 3, 2, 1) * 0.5, so ranks 1..5 are
    separated from each other by >= 0.5 and from the background by >= 0.5 (top-1 by
    1.5); everything is then scaled so the overall std is ``logit_std``."""
    rng = np.random.default_rng(seed)
    t = 3.0 * np.tanh(rng.standard_normal((n, classes)) / 3.0)
    top = 3.0 + 0.5 * np.array([7.0, 4.0, 3.0, 2.0, 1.0])
    k = min(5, classes)
    firsts = rng.permutation(classes)
    for i in range(n):
        rest = [j for j in rng.permutation(classes) if j != firsts[i % classes]]
        picks = [firsts[i % classes]] + rest[: k - 1]
        t[i, picks] = top[:k]
    return t * (logit_std / t.std())


def _calibrate_head(c: ResNeXtConfig, b: "_Builder", x: str, feat_out: str, feat: int,
                    m2: float, wfc: np.ndarray, bfc: np.ndarray, mode: str):
    """Fit the FC layer so logits are image-dependent, with a std of ~``logit_std``
    and well separated top-5 classes on the calibration images.

    The pooled ReLU features of a random network share a large image-independent
    component ``mu``; left alone it fixes the top classes for every image. With
    ``mode != "none"`` the body is run once in ONNX Runtime on the calibration
    images (the 7 skimage photographs, preprocessed for the model's resolution);
    with ``D`` their features minus ``mu`` (and projected orthogonal to ``mu``) the
    FC is ``W = (T - T.mean(0))^T (D D^T + lam I)^-1 D + R``, ``b = T.mean(0)``: a
    ridge fit of designed target logits ``T`` (see ``_target_logits``) plus the seeded random matrix ``R``
    projected orthogonal to ``mu`` and to the rows of ``D`` (so it does not disturb
    the fit but gives other images random-looking logits). Features are rounded to
    float16 before fitting so the weights do not depend on the last bits of the
    machine's arithmetic. ``mode == "none"``: zero-sum random rows, analytic scale."""
    if mode not in ("photos", "synthetic", "none"):
        raise ValueError("calibrate_head must be photos|synthetic|none")
    if mode == "none":
        wfc = wfc - wfc.mean(axis=1, keepdims=True)
        feat_std = max(math.sqrt(m2) * 0.167, 1e-3)  # measured on photographs
        return (wfc * np.float32(c.logit_std / (feat_std * math.sqrt(feat)))), bfc
    import onnxruntime as ort

    batch = "N"
    g = helper.make_graph(
        b.nodes, "body",
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [batch, 3, c.resolution,
                                                              c.resolution])],
        [helper.make_tensor_value_info(feat_out, TensorProto.FLOAT, [batch, feat])],
        initializer=b.inits)
    body = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)],
                             ir_version=IR_VERSION)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(body.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])
    del body, g
    imgs = _calibration_images(c.resolution, mode, c.seed)
    f = np.concatenate([sess.run(None, {x: imgs[i:i + 1]})[0] for i in range(len(imgs))])
    f = f.astype(np.float16).astype(np.float64)
    n = f.shape[0]
    mu = f.mean(axis=0)
    u = mu / max(np.linalg.norm(mu), 1e-12)
    d = f - mu
    d -= np.outer(d @ u, u)
    # Random part, orthogonal to mu and to the calibration deviations.
    q, _ = np.linalg.qr(np.vstack([u, d]).T)
    r = wfc.astype(np.float64)
    r -= (r @ q) @ q.T
    dnorm = float(np.mean(np.linalg.norm(d, axis=1)))
    r *= 0.5 * c.logit_std / max(dnorm, 1e-12)
    # Ridge fit of the designed logits.
    t = _target_logits(n, c.classes, c.logit_std, c.seed + 7919)
    gram = d @ d.T
    lam = 1e-3 * float(np.trace(gram)) / n
    # The rows of d sum to zero (rank n - 1): the bias carries the mean target.
    t_mean = t.mean(axis=0)
    w = (t - t_mean).T @ np.linalg.solve(gram + lam * np.eye(n), d) + r
    return w.astype(np.float32), (t_mean + 0.01 * bfc).astype(np.float32)

def _make_value_info(model: onnx.ModelProto) -> onnx.ModelProto:
    inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    del model.graph.value_info[:]
    model.graph.value_info.extend(inferred.graph.value_info)
    return model


def build_model(depth: int = 50, width_per_group: int = 4, groups: int = 32,
                stages: Optional[Sequence[int]] = None, base_planes: int = 64,
                resolution: int = 224, classes: int = 1000, style: str = "torch",
                bn: Optional[str] = None, softmax: Optional[bool] = None,
                head: Optional[str] = None, value_info: Optional[bool] = None,
                seed: int = 0, logit_std: float = 3.0,
                calibrate_head: str = "photos") -> onnx.ModelProto:
    """Build a ResNeXt ONNX model (see the module docstring) and return it.

    ``calibrate_head``: ``"photos"`` (default) runs the convolutional body once in
    ONNX Runtime on the scikit-image photographs (synthetic smooth images if those
    are unavailable), ``"synthetic"`` uses only the synthetic images, and ``"none"``
    skips it; see ``_calibrate_head``.

    The parameter count (torchvision convention) is stored in the model's
    ``metadata_props`` under ``params`` together with the full configuration."""
    c = ResNeXtConfig(depth=depth, width_per_group=width_per_group, groups=groups,
                      stages=stages, base_planes=base_planes, resolution=resolution,
                      classes=classes, style=style, bn=bn, softmax=softmax, head=head,
                      value_info=value_info, seed=seed, logit_std=logit_std).resolved()
    if calibrate_head not in ("photos", "synthetic", "none"):
        raise ValueError("calibrate_head must be photos|synthetic|none")
    d = STYLE_DEFAULTS[c.style]
    b = _Builder(c)
    x = d["input_name"]
    paddle = c.style == "paddle"

    # Stem. Normalized photographs have E[x^2] of about 1.
    y, m2 = b.conv_bn(x, "conv1", "bn1", 3, c.base_planes, 7, 2, 1, 1.0, 1.0, True, "")
    y = b.node("MaxPool", [y], scope="maxpool", kernel_shape=[3, 3], strides=[2, 2],
               pads=[1, 1, 1, 1], ceil_mode=0, dilations=[1, 1])
    m2 *= 2.0  # max of 9 correlated ReLU outputs: larger second moment

    convs = list(_conv_shapes(c))[1:]
    i = 0
    while i < len(convs):
        name = convs[i][0]
        pre = name.rsplit(".", 1)[0]  # layerS.B
        layer, blk = pre.split(".")
        scope = f"{layer}/{pre}"
        block = [cv for cv in convs[i:i + 4] if cv[0].startswith(pre + ".")]
        i += len(block)
        inp, in_m2 = y, m2
        h = inp
        hm2 = in_m2
        for (tname, cin, cout, k, stride, g, kind) in block:
            if kind == "down":
                continue
            bn_t = tname.replace("conv", "bn")
            last = kind == "c3"
            gs = float(b.rng.uniform(0.2, 0.3)) if last else 1.0
            h, hm2 = b.conv_bn(h, tname, bn_t, cin, cout, k, stride, g, hm2, gs,
                               not last, scope)
        down = [cv for cv in block if cv[6] == "down"]
        if down:
            tname, cin, cout, k, stride, g, _ = down[0]
            sc, sm2 = b.conv_bn(inp, tname, f"{pre}.downsample.1", cin, cout, 1, stride, 1,
                                in_m2, 1.0, False, f"{scope}/downsample")
        else:
            sc, sm2 = inp, in_m2
        y = b.node("Add", [h, sc], scope=scope if not paddle else "")
        y = b.node("Relu", [y], scope=f"{scope}/relu" if not paddle else "")
        # Branch and shortcut are roughly independent: E[(a+b)^2] = sum; ReLU halves it.
        m2 = 0.5 * (hm2 + sm2) if down else 0.5 * hm2 + sm2
        # (an identity shortcut carries a post-ReLU, non-negative stream; ReLU keeps it)

    y = b.node("GlobalAveragePool", [y], scope="avgpool")
    y = b.node("Flatten", [y], scope="Flatten" if not paddle else "", axis=1)
    feat = ResNeXtConfig.planes_of(c)[-1] * EXPANSION
    wfc = b.rng.standard_normal((c.classes, feat), dtype=np.float32)
    bfc = (0.1 * b.rng.standard_normal(c.classes)).astype(np.float32)
    wfc, bfc = _calibrate_head(c, b, x, y, feat, m2, wfc, bfc, calibrate_head)
    if c.head == "gemm":
        wn = "linear_0.w_0" if paddle else "fc.weight"
        bn_ = "linear_0.b_0" if paddle else "fc.bias"
        y = b.node("Gemm", [y, b.init(wn, wfc), b.init(bn_, bfc)], scope="fc",
                   alpha=1.0, beta=1.0, transB=1)
    else:
        wn = "linear_0.w_0" if paddle else "fc.weight"
        bn_ = "linear_0.b_0" if paddle else "fc.bias"
        y = b.node("MatMul", [y, b.init(wn, np.ascontiguousarray(wfc.T))], scope="fc")
        y = b.node("Add", [y, b.init(bn_, bfc)], scope="fc")
    if c.softmax:
        y = b.node("Softmax", [y], scope="softmax", axis=-1 if paddle else 1)
    # Rename the last tensor to the graph output name.
    last = b.nodes[-1]
    last.output[0] = d["output_name"]
    y = d["output_name"]

    batch = d["batch_dim"]
    graph = helper.make_graph(
        b.nodes, f"{c.name}_{c.style}",
        [helper.make_tensor_value_info(x, TensorProto.FLOAT,
                                       [batch, 3, c.resolution, c.resolution])],
        [helper.make_tensor_value_info(y, TensorProto.FLOAT, [batch, c.classes])],
        initializer=b.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="resnext-tools/resnext_onnx.py",
                              producer_version="1.0", ir_version=IR_VERSION)
    model.doc_string = (f"Synthetic {c.name} ({c.style} style, seed {c.seed}); "
                        "weights are random, not trained.")
    params = count_parameters(c.depth, c.width_per_group, c.groups, c.stages,
                              c.base_planes, c.classes)
    meta = {
        "architecture": c.name, "style": c.style, "bn": c.bn, "head": c.head,
        "output_kind": "probabilities" if c.softmax else "logits",
        "resolution": str(c.resolution), "classes": str(c.classes),
        "stages": ",".join(map(str, c.stages)), "base_planes": str(c.base_planes),
        "seed": str(c.seed), "params": str(params), "calibrate_head": calibrate_head,
    }
    helper.set_model_props(model, meta)
    if c.value_info:
        _make_value_info(model)
    return model


def as_paddle2onnx(model: onnx.ModelProto, opset: int = 11) -> onnx.ModelProto:
    """The ``paddle``-style ``model`` as Paddle2ONNX writes it: every weight a ``Constant`` node
    instead of an initializer, opset 11 (Softmax, BatchNormalization and the rest have the
    same meaning there for these 2-D / 4-D tensors)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    constants = [helper.make_node("Constant", [], [t.name], name=f"p2o.Constant.{i}", value=t)
                 for i, t in enumerate(g.initializer)]
    names = {t.name for t in g.initializer}
    nodes = constants + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    kept = [i for i in g.input if i.name not in names]
    del g.input[:]
    g.input.extend(kept)
    del m.opset_import[:]
    m.opset_import.extend([helper.make_opsetid("", opset)])
    m.ir_version = 7
    m.producer_name = "PaddlePaddle"
    return m


def initializer_elements(model: onnx.ModelProto) -> int:
    """Number of scalars stored in the model's initializers."""
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer)


def _parse_stages(s: str) -> tuple[int, ...]:
    parts = tuple(int(p) for p in s.split(","))
    if len(parts) != 4:
        raise argparse.ArgumentTypeError("expected four comma-separated integers")
    return parts


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--depth", type=int, choices=[50, 101, 152], default=50)
    p.add_argument("--width-per-group", type=int, default=None,
                   help="K in 32xKd (default: 4 for depth 50, 8 otherwise)")
    p.add_argument("--groups", type=int, default=32, help="cardinality (default 32)")
    p.add_argument("--stages", type=_parse_stages, default=None,
                   help="blocks per stage, e.g. 1,1,1,1 (default from --depth)")
    p.add_argument("--base-planes", type=int, default=64, help="stem/stage-1 planes (64)")
    p.add_argument("--resolution", type=int, default=224, help="input H = W (default 224)")
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--style", choices=sorted(STYLE_DEFAULTS), default="torch")
    p.add_argument("--bn", choices=["fold", "keep"], default=None,
                   help="fold BN into Conv or keep BatchNormalization (style default)")
    p.add_argument("--softmax", action=argparse.BooleanOptionalAction, default=None,
                   help="append a Softmax (default: paddle yes, torch no)")
    p.add_argument("--head", choices=["gemm", "matmul"], default=None,
                   help="FC as Gemm or MatMul+Add (style default)")
    p.add_argument("--value-info", action=argparse.BooleanOptionalAction, default=None,
                   help="store inferred intermediate shapes (default: torch yes, paddle no)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--logit-std", type=float, default=3.0,
                   help="target std of the logits (approximate)")
    p.add_argument("--calibrate-head", choices=["photos", "synthetic", "none"],
                   default="photos",
                   help="fit the FC layer on the body's features for image-dependent "
                        "logits (default photos: skimage photographs)")
    p.add_argument("--out", required=True, help="output .onnx file")
    p.add_argument("--no-check", action="store_true", help="skip onnx.checker")
    a = p.parse_args(argv)
    k = a.width_per_group or (4 if a.depth == 50 else 8)
    t0 = time.time()
    model = build_model(depth=a.depth, width_per_group=k, groups=a.groups, stages=a.stages,
                        base_planes=a.base_planes, resolution=a.resolution,
                        classes=a.classes, style=a.style, bn=a.bn, softmax=a.softmax,
                        head=a.head, value_info=a.value_info, seed=a.seed,
                        logit_std=a.logit_std, calibrate_head=a.calibrate_head)
    if not a.no_check:
        onnx.checker.check_model(model)
    onnx.save(model, a.out)
    meta = {p_.key: p_.value for p_ in model.metadata_props}
    print(json.dumps({"out": a.out, "params": int(meta["params"]),
                      "initializer_elements": initializer_elements(model),
                      "nodes": len(model.graph.node), "seconds": round(time.time() - t0, 2),
                      **{k_: meta[k_] for k_ in ("architecture", "style", "output_kind")}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
