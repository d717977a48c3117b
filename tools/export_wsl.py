#!/usr/bin/env python3
"""Export the published ResNeXt101 WSL weights (torchvision layout) to ONNX.

For users who have the real weights: the facebookresearch WSL-Images checkpoints
(``ig_resnext101_32x{8,16,32,48}-*.pth``, what
``torch.hub.load('facebookresearch/WSL-Images', 'resnext101_32x8d_wsl')`` downloads)
or the FixRes ``Fix_ResNeXt101_32x48d`` checkpoint, all in torchvision's
``resnext101_32x{K}d`` layout. Needs ``torch`` and ``torchvision`` (imported lazily;
not listed in tools/requirements.txt) and, for ``--verify``, ``onnxruntime``.

The graph is what ``torch.onnx.export`` writes in eval mode (BN folded into Conv,
``Gemm`` head): opset 17, input ``input`` (N x 3 x R x R, batch axis named
``batch``), output ``output`` (N x 1000 logits, or probabilities with
``--softmax``). Preprocessing is not part of the graph (see preprocess_ref.py).

Usage::

    # from a local checkpoint (state dict; "state_dict"/"model" wrappers and
    # "module." prefixes are handled)
    python tools/export_wsl.py --width-per-group 8 --weights ig_resnext101_32x8-c38310e5.pth \\
        --out resnext101_32x8d_wsl.onnx
    # download through torch.hub
    python tools/export_wsl.py --width-per-group 16 --hub --out resnext101_32x16d_wsl.onnx
    # FixRes 32x48d, evaluated at 320 px, with a Softmax appended
    python tools/export_wsl.py --width-per-group 48 --weights ResNeXt_101_32x48d.pth \\
        --resolution 320 --softmax --out fix_resnext101_32x48d_wsl.onnx

Sizes: 32x8d 88.8M parameters (355 MB), 32x16d 194M, 32x32d 469M, 32x48d 829M
(3.3 GB in FP32): above protobuf's 2 GB limit torch.onnx.export writes the
weights as ONNX external data next to the .onnx file; keep the files together.
"""
from __future__ import annotations

import argparse
import inspect
import sys
from typing import Sequence

WIDTHS = (8, 16, 32, 48)
HUB_REPO = "facebookresearch/WSL-Images"


def build_torch_model(width_per_group: int):
    """torchvision ResNet(Bottleneck, [3, 4, 23, 3], groups=32, width_per_group=K)."""
    from torchvision.models.resnet import Bottleneck, ResNet

    return ResNet(Bottleneck, [3, 4, 23, 3], groups=32, width_per_group=width_per_group)


def load_state_dict(path: str) -> dict:
    """Load a checkpoint and return a plain torchvision-style state dict."""
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # torch < 1.13 has no weights_only
        ckpt = torch.load(path, map_location="cpu")
    for key in ("state_dict", "model", "model_state"):
        if isinstance(ckpt, dict) and key in ckpt and isinstance(ckpt[key], dict):
            ckpt = ckpt[key]
    out = {}
    for k, v in ckpt.items():
        for prefix in ("module.", "model.", "backbone."):
            if k.startswith(prefix):
                k = k[len(prefix):]
        out[k] = v
    return out


def load_model(width_per_group: int, weights: str | None, hub: bool):
    import torch

    if hub:
        model = torch.hub.load(HUB_REPO, f"resnext101_32x{width_per_group}d_wsl")
    else:
        model = build_torch_model(width_per_group)
        if weights:
            sd = load_state_dict(weights)
            missing, unexpected = model.load_state_dict(sd, strict=False)
            # num_batches_tracked buffers are optional in older checkpoints
            missing = [k for k in missing if not k.endswith("num_batches_tracked")]
            if missing or unexpected:
                raise SystemExit(f"checkpoint does not match resnext101_32x{width_per_group}d:"
                                 f" missing={missing[:5]} unexpected={unexpected[:5]}")
        else:
            print("warning: no --weights/--hub, exporting random weights", file=sys.stderr)
    return model.eval()


def export(model, out: str, resolution: int = 224, softmax: bool = False,
           opset: int = 17) -> None:
    """torch.onnx.export with a dynamic batch axis named ``batch``."""
    import torch

    if softmax:
        model = torch.nn.Sequential(model, torch.nn.Softmax(dim=1)).eval()
    dummy = torch.randn(1, 3, resolution, resolution)
    kwargs = dict(export_params=True, opset_version=opset, do_constant_folding=True,
                  input_names=["input"], output_names=["output"],
                  dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # the TorchScript exporter: Conv+BN folded, Gemm head
    with torch.no_grad():
        torch.onnx.export(model, (dummy,), out, **kwargs)


def verify(model, out: str, resolution: int, softmax: bool) -> float:
    """Max |torch - onnxruntime| on a random batch of 2."""
    import numpy as np
    import onnxruntime as ort
    import torch

    x = torch.randn(2, 3, resolution, resolution)
    with torch.no_grad():
        ref = model(x)
        if softmax:
            ref = torch.softmax(ref, dim=1)
    sess = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
    y = sess.run(None, {"input": x.numpy()})[0]
    return float(np.abs(y - ref.numpy()).max())


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--width-per-group", type=int, choices=WIDTHS, required=True,
                   help="K in resnext101_32xKd")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--weights", help="checkpoint (.pth) in torchvision layout")
    src.add_argument("--hub", action="store_true", help=f"download via torch.hub ({HUB_REPO})")
    p.add_argument("--resolution", type=int, default=224,
                   help="export input size (224; 320 for Fix_ResNeXt101_32x48d)")
    p.add_argument("--softmax", action="store_true", help="append Softmax (probabilities)")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--verify", action="store_true", help="compare with onnxruntime")
    p.add_argument("--out", required=True, help="output .onnx")
    a = p.parse_args(argv)
    model = load_model(a.width_per_group, a.weights, a.hub)
    n = sum(t.numel() for t in model.parameters())
    export(model, a.out, a.resolution, a.softmax, a.opset)
    msg = f"{a.out}: resnext101_32x{a.width_per_group}d, {n / 1e6:.2f}M parameters"
    if a.verify:
        msg += f", max |torch - ORT| = {verify(model, a.out, a.resolution, a.softmax):.3g}"
    print(msg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
