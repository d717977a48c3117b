#!/usr/bin/env python3
"""Write BENCHMARKS.md and its chart from the JSON files scripts/benchmarks.sh collects.

Every ratio is ours / ONNX Runtime's (or ours / ours) from the same run of the script: the
machine is shared and noisy, so absolute times move between runs while ratios move less.

CLI::

    python tools/benchmarks_report.py --results benchdata/results --model benchdata/r101_32x8d.onnx \\
        --out BENCHMARKS.md --svg benchmarks.svg
"""
from __future__ import annotations

import argparse
import datetime
import functools
import glob
import json
import os
import re
import statistics
import sys
from typing import Sequence

ISA = re.compile(r"^(sse4_2|avx|avx2|fma|f16c|avx512\w*|avx_vnni|amx_\w+)$")


def load(path: str):
    try:
        with open(path) as f:
            text = f.read().strip()
        return json.loads(text.splitlines()[-1]) if text else None
    except (OSError, ValueError):
        return None


def row(d, batch):
    if not d:
        return None
    for r in d.get("results", []):
        if r["batch"] == batch:
            return r
    return None


def med(d, batch):
    r = row(d, batch)
    return r["median_ms"] if r else None


def ratio(a, b):
    return a / b if a is not None and b else None


def f(x, nd=1, unit=""):
    return "n/a" if x is None else f"{x:.{nd}f}{unit}"


def verdict(r, goal):
    if r is None:
        return "not measured"
    return "**met**" if r <= goal else "not met"


def machine(results: str) -> list[str]:
    info = {}
    try:
        for line in open(os.path.join(results, "lscpu.txt")):
            k, _, v = line.partition(":")
            info[k.strip()] = v.strip()
    except OSError:
        pass
    flags = [x for x in info.get("Flags", "").split() if ISA.match(x)]
    load_before = open(os.path.join(results, "load_before.txt")).read().strip() \
        if os.path.exists(os.path.join(results, "load_before.txt")) else "?"
    load_after = open(os.path.join(results, "load_after.txt")).read().strip() \
        if os.path.exists(os.path.join(results, "load_after.txt")) else "?"
    return [
        "## Machine", "",
        f"- CPU: {info.get('Model name', '?')} (family {info.get('CPU family', '?')}, model "
        f"{info.get('Model', '?')}, stepping {info.get('Stepping', '?')}), "
        f"{info.get('Hypervisor vendor', 'bare metal')} guest" if info.get("Hypervisor vendor")
        else f"- CPU: {info.get('Model name', '?')}",
        f"- Cores: {info.get('CPU(s)', '?')} logical ({info.get('Core(s) per socket', '?')} cores"
        f" per socket, {info.get('Thread(s) per core', '?')} thread per core); L2 "
        f"{info.get('L2 cache', '?')}, L3 {info.get('L3 cache', '?')}",
        f"- ISA extensions: {' '.join(flags) or '?'}",
        f"- Load average before: `{load_before}`; after: `{load_after}`. The machine is shared "
        "with other builds: absolute times vary between runs, ratios from the same run are the "
        "figures to read.",
        "",
    ]


# --- profile ---------------------------------------------------------------------------

CATEGORIES = [
    ("grouped 3x3 conv (conv2, 32 groups)", lambda n: "/conv2/" in n),
    ("1x1 reduce conv (conv1) + ReLU", lambda n: "/relu/Relu" in n and "/layer" in n
     or re.search(r"/layer\d/layer\d\.\d+/conv1/", n) is not None),
    ("1x1 expand conv (conv3) + residual + ReLU", lambda n: "/relu_2/" in n or "/conv3/" in n),
    ("downsample 1x1 conv", lambda n: "downsample" in n),
    ("ReLU after the grouped conv", lambda n: "/relu_1/" in n),
    ("stem (7x7 conv, max pool)", lambda n: n.startswith("/conv1/") or n.startswith("/relu/")
     or "maxpool" in n),
    ("classifier (avg pool, fc)", lambda n: "/fc/" in n or "avgpool" in n.lower()
     or "GlobalAveragePool" in n or "Reduce" in n),
]


def category(name: str) -> str:
    for label, test in CATEGORIES:
        if test(name):
            return label
    return "other"


@functools.lru_cache(maxsize=None)
def conv_flops(model_path: str) -> dict[str, float]:
    """FLOPs (2 x MACs) per category, from the ONNX graph's Conv/Gemm nodes and shapes."""
    try:
        import onnx
    except ImportError:
        return {}
    m = onnx.load(model_path)
    inits = {t.name: list(t.dims) for t in m.graph.initializer}
    # QDQ files: a Conv's weights are the output of a DequantizeLinear of an int8 initializer.
    for node in m.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in inits:
            inits[node.output[0]] = inits[node.input[0]]
    # Walk the graph by hand: spatial size after every Conv from the stride and padding.
    shapes = {}
    inp = [i for i in m.graph.input if i.name not in inits][0]
    dims = [d.dim_value or 1 for d in inp.type.tensor_type.shape.dim]
    shapes[inp.name] = dims
    out = {}
    for node in m.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in inits:
            continue
        ins = [shapes.get(i) for i in node.input]
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        x = ins[0] if ins else None
        if node.op_type == "Conv" and x is not None:
            w = inits[node.input[1]]
            k = w[2:]
            s = attrs.get("strides", [1, 1])
            p = attrs.get("pads", [0, 0, 0, 0])
            g = attrs.get("group", 1)
            h = (x[2] + p[0] + p[2] - k[0]) // s[0] + 1
            wd = (x[3] + p[1] + p[3] - k[1]) // s[1] + 1
            y = [x[0], w[0], h, wd]
            flops = 2.0 * w[0] * w[1] * k[0] * k[1] * h * wd
            name = node.name
            cat = ("grouped 3x3 conv (conv2, 32 groups)" if g > 1 else
                   "downsample 1x1 conv" if "downsample" in name else
                   "stem (7x7 conv, max pool)" if k[0] == 7 else
                   "1x1 reduce conv (conv1) + ReLU" if "/conv1/" in name else
                   "1x1 expand conv (conv3) + residual + ReLU")
            out[cat] = out.get(cat, 0.0) + flops
        elif node.op_type == "MaxPool" and x is not None:
            k = attrs["kernel_shape"]
            s = attrs.get("strides", [1, 1])
            p = attrs.get("pads", [0, 0, 0, 0])
            y = [x[0], x[1], (x[2] + p[0] + p[2] - k[0]) // s[0] + 1,
                 (x[3] + p[1] + p[3] - k[1]) // s[1] + 1]
        elif node.op_type in ("GlobalAveragePool",) and x is not None:
            y = [x[0], x[1], 1, 1]
        elif node.op_type in ("Gemm", "MatMul"):
            w = inits.get(node.input[1])
            if w:
                out["classifier (avg pool, fc)"] = out.get("classifier (avg pool, fc)", 0) + \
                    2.0 * w[0] * w[1]
            y = None
        else:
            y = x
        for o in node.output:
            shapes[o] = y
    return out


def profile_section(results: str, model_path: str) -> list[str]:
    p1 = load(os.path.join(results, "profile_1t.json"))
    pn = load(os.path.join(results, "profile_nt.json"))
    if not p1:
        return ["## Where the time goes", "", "(no profile was recorded)", ""]
    p1 = p1["profile"]
    pn = pn["profile"] if pn else None
    lines = ["## Where the time goes (ResNeXt101_32x8d FP32, batch 1, kernel layer `auto`)", "",
             f"Per-node times from tract's own plan runner (`resnext bench --profile "
             f"{p1['runs']}`: `SimpleState::run_plan_with_eval` with a timer around every node, "
             f"median over {p1['runs']} runs): {f(p1['total_ms'])} ms in nodes on 1 thread"
             + (f", {f(pn['total_ms'])} ms on {pn['threads']} threads" if pn else "") + ".", "",
             "On a CPU with AVX-512, or AVX2 with FMA and F16C, every convolution is a "
             "`ResnextF32Conv` node of the kernel layer (src/kernels/fgemm, placed by "
             "src/backend/tract/kernel_layer/rewrite_f32.rs); the rest is tract's.", "",
             "By operator kind (1 thread):", "",
             "| operator | nodes | ms | share |", "|---|---|---|---|"]
    for o in p1["by_op"]:
        if o["ms"] >= 0.05:
            lines.append(f"| `{o['op'] or o['name']}` | {o['count']} | {f(o['ms'])} | "
                         f"{100 * o['share']:.1f}% |")
    flops = conv_flops(model_path) if model_path else {}
    cats: dict[str, list[float]] = {}
    for tag, prof in (("1t", p1), ("nt", pn)):
        if not prof:
            continue
        for n in prof["top_nodes"]:
            c = category(n["name"].split(" -> ")[0])
            cats.setdefault(c, [0.0, 0.0])
            cats[c][0 if tag == "1t" else 1] += n["ms"]
    total_flops = sum(flops.values()) or None
    lines += ["", "By layer kind (the ONNX FLOPs are 2 x multiply-adds of the Conv/Gemm nodes; "
              "Pad, packing and ReLU nodes are counted with their layer):", "",
              f"| layer kind | ms, 1 thread | share | GFLOP | GFLOP/s, 1 thread |"
              + (f" ms, {pn['threads']} threads | speed-up |" if pn else ""),
              "|---|---|---|---|---|" + ("---|---|" if pn else "")]
    for c, (t1, tn) in sorted(cats.items(), key=lambda kv: -kv[1][0]):
        fl = flops.get(c)
        gfs = fl / 1e9 / (t1 / 1000) if fl and t1 else None
        lines.append(f"| {c} | {f(t1)} | {100 * t1 / p1['total_ms']:.1f}% | "
                     f"{f(fl / 1e9 if fl else None, 2)} | {f(gfs)} |"
                     + (f" {f(tn)} | {f(ratio(t1, tn), 2)}x |" if pn else ""))
    if total_flops:
        rate = total_flops / 1e9 / (p1['total_ms'] / 1000)
        name, peak, _ = PEAKS[float_peak()]
        lines += ["", f"Whole model: {total_flops / 1e9:.1f} GFLOP per image, {rate:.1f} GFLOP/s "
                  f"on one thread ({100 * rate / peak:.0f}% of one core's {name} peak, "
                  f"{peak:.0f} GFLOP/s, {PEAK_SOURCE[0]})."]
    lines += ["", "Most expensive nodes (1 thread):", "", "| ms | operator | node -> output shape |",
              "|---|---|---|"]
    for n in p1["top_nodes"][:12]:
        lines.append(f"| {f(n['ms'])} | `{n['op']}` | `{n['name']}` |")
    lines.append("")
    return lines


# Per-core peaks of the kernel families' instructions: by default those ../shared/perfprobe
# measured (register-resident loops on one core of an Intel Xeon build machine; its README);
# `use_measured_peaks` replaces them by this run's examples/isa_peaks.rs figures where it has
# them (every instruction but AMX's), so that "% of peak" is the benchmarked CPU's.
PEAKS = {"avx512-fma": ("AVX-512 FMA, FP32", 179.0, "GFLOP/s"),
         "avx512-vnni": ("AVX512-VNNI `vpdpbusd`", 766.0, "GOP/s"),
         "amx-int8": ("AMX-INT8 `tdpbusd`", 5880.0, "GOP/s"),
         "amx-bf16": ("AMX-BF16 `tdpbf16ps`", 2947.0, "GFLOP/s"),
         "avx512-bf16": ("AVX512-BF16 `vdpbf16ps`", 89.0, "GFLOP/s"),
         # Half the AVX-512 figure (the same two FMA ports, 8 lanes), until isa_peaks measures it.
         "avx2-fma": ("AVX2 FMA, FP32", 89.5, "GFLOP/s"),
         # The INT8 AVX2 kernel's vpmaddwd (16 products and 16 sums): its FMA figure until
         # isa_peaks measures it (CPUs without VNNI).
         "avx2": ("AVX2 `vpmaddwd`", 89.5, "GOP/s")}
# Where PEAKS come from, as the report says it.
PEAK_SOURCE = ["measured by ../shared/perfprobe on an Intel Xeon"]


def float_peak() -> str:
    """The PEAKS key of the f32 kernels' instruction on the benchmarked CPU: AVX-512 FMA, or
    AVX2 FMA where this run's isa_peaks measured no AVX-512 (a CPU without it)."""
    return "avx2-fma" if MEASURED and "avx512-fma" not in MEASURED else "avx512-fma"


# The PEAKS keys this run's isa_peaks.json measured (empty: the defaults stand).
MEASURED: set[str] = set()


def use_measured_peaks(results: str) -> None:
    """PEAKS from this run's isa_peaks.json (examples/isa_peaks.rs), where it has them."""
    d = load(os.path.join(results, "isa_peaks.json"))
    measured = [r for r in (d or {}).get("peaks", []) if r.get("isa") in PEAKS]
    for r in measured:
        name, _, unit = PEAKS[r["isa"]]
        PEAKS[r["isa"]] = (name, float(r["peak"]), unit)
        MEASURED.add(r["isa"])
    if measured:
        lscpu = os.path.join(results, "lscpu.txt")
        amx = os.path.exists(lscpu) and "amx_" in open(lscpu).read()
        PEAK_SOURCE[0] = ("measured in this run by examples/isa_peaks.rs"
                          + (", AMX's by ../shared/perfprobe on an Intel Xeon" if amx else ""))
COMPUTE = re.compile(r"int8 on (?P<isa>[^:]+): (?P<placed>\d+) of (?P<convs>\d+) convolutions"
                     r"(?:, (?P<adds>\d+) residual additions? fused)?")
ISA_OF_LABEL = {"AMX": "amx-int8", "AVX512-VNNI": "avx512-vnni", "AVX2": "avx2"}
KERNEL_OP = "ResnextInt8Conv"


def placement(d):
    """The kernel layer's placement from a bench JSON's `compute` string, or None."""
    m = COMPUTE.search((d or {}).get("compute", "") or "")
    if not m:
        return None
    return {"isa_label": m["isa"], "isa": ISA_OF_LABEL.get(m["isa"], m["isa"]),
            "placed": int(m["placed"]), "convs": int(m["convs"]), "adds": int(m["adds"] or 0)}


def by_op(prof, name):
    """(nodes, ms) of one operator kind of a profile."""
    for o in prof["by_op"]:
        if (o["op"] or o["name"]) == name:
            return o["count"], o["ms"]
    return 0, 0.0


def int8_effective(results: str, model_path: str, int8_t) -> list[tuple]:
    """Whole-model effective rate of the kernel layer's convolutions, per profile recorded:
    (ISA, profile threads, conv GOP, ResnextInt8Conv ms, GOP/s, GOP/s per core, % of peak)."""
    flops = conv_flops(model_path) if model_path else {}
    conv_flop = sum(v for k, v in flops.items() if not k.startswith("classifier"))
    pl = placement(int8_t)
    out = []
    for name, isa in (("profile_int8.json", pl["isa"] if pl else None),
                      ("profile_int8_vnni.json", "avx512-vnni")):
        d = load(os.path.join(results, name))
        if not d or not conv_flop:
            continue
        p = d["profile"]
        _, ms = by_op(p, KERNEL_OP)
        if not ms:
            continue
        g = conv_flop / 1e9 / (ms / 1000)
        peak = PEAKS.get(isa, (None, None))[1]
        out.append((isa, p["threads"], conv_flop / 1e9, ms, g, g / p["threads"],
                    100 * g / p["threads"] / peak if peak else None))
    return out


def kernel_layer_section(files, fp32_o, colds) -> list[str]:
    """The INT8 files on the kernel layer, its VNNI path, with it off, and ONNX Runtime."""
    (int8_o, int8_t, int8v_t, int8off_t), (s8_o, s8_t, s8v_t) = files
    if not int8_t:
        return []
    pl = placement(int8_t)
    lines = ["## INT8 on the crate's kernel layer", ""]
    if pl:
        lines += [
            f"With the kernel layer (`--cpu-kernels auto`, the default: AMX-INT8 where the CPU "
            f"and the kernel allow it, else AVX512-VNNI, else AVX2, else off), resnext rewrites the QDQ "
            f"graph before tract parses it (src/backend/tract/kernel_layer/rewrite.rs): each "
            f"`DequantizeLinear -> Conv -> QuantizeLinear` group becomes one `{KERNEL_OP}` node "
            f"({pl['placed']} of the file's {pl['convs']} convolutions, on {pl['isa_label']} in "
            f"this run), and {pl['adds']} residual additions (`DequantizeLinear -> Add -> "
            "QuantizeLinear`) are fused into the epilogue of the convolution that feeds them. "
            "Every convolution is a u8 x i8 GEMM (src/kernels/qgemm: rows are output pixels, "
            "columns output channels): the stride-1 1x1 convolutions read their rows straight "
            "from the NHWC input (one GEMM over the whole batch, its weights in slices of 256 "
            "columns that the threads share out when a layer has few pixels); on AMX the "
            "grouped 3x3 convolutions run as implicit GEMMs (`QGemm::run_shifted`): the input "
            "is copied once into a zero-point-padded buffer (split into phase images for "
            "stride 2) and each tap reads its rows in place, shifted, in units of 64 input "
            "channels (narrow groups merged block-diagonally), with no im2col; on AVX512-VNNI "
            "the stride-1 grouped ones run the same way, in units of at least 16 output channels "
            "(8-channel groups merged in pairs); the strided 1x1 ones, the stem's 7x7 and, on "
            "AVX512-VNNI, the strided grouped ones gather rows into a "
            "scratch block first (im2col). The GEMM's epilogue requantizes (bias with the input zero "
            "point folded in, per-channel scale, output zero point, clamp) and, where fused, "
            "adds the residual as ONNX Runtime's QLinearAdd does, then writes u8: between two "
            "of these nodes activations stay NHWC u8 (QInt8 data is stored with 128 added), "
            "never re-laid-out or dequantized. Weights are packed once when tract types the "
            "model; each layer's work is split over the threads. What stays on tract "
            "is listed by the profile below: the stem's max pool, the layout conversions into "
            "and out of NHWC where tract's nodes meet ours, the global average pool and the "
            "classifier.", ""]
    lines += ["| file | engine | compute | load ms | first result ms | peak RSS MB | bs1 ms | "
              "bs8 ms |", "|---|---|---|---|---|---|---|---|"]
    rows = [("QUInt8 activations", "ONNX Runtime", int8_o),
            ("QUInt8 activations", "resnext, kernel layer `auto`", int8_t),
            ("QUInt8 activations", "resnext, `--cpu-kernels avx512-vnni`", int8v_t),
            ("QUInt8 activations", "resnext, `--cpu-kernels off` (tract's float path)", int8off_t),
            ("QInt8 activations", "ONNX Runtime", s8_o),
            ("QInt8 activations", "resnext, kernel layer `auto`", s8_t),
            ("QInt8 activations", "resnext, `--cpu-kernels avx512-vnni`", s8v_t)]
    for file, eng, d in rows:
        if d:
            lines.append(f"| {file} | {eng} | {d.get('compute', 'ONNX Runtime CPU (MLAS)')} | "
                         f"{f(d.get('load_ms'), 0)} | {f(d.get('first_result_ms'), 0)} | "
                         f"{f(d.get('peak_rss_mb'), 0)} | {f(med(d, 1))} | {f(med(d, 8))} |")
    lines += ["", "Load, first result and peak memory here are those of the batch 1 + batch 8 "
              "run; the Targets use fresh batch-1 processes"
              + (f" ({len(colds)} rounds per engine and file)" if colds else "") + "."]
    if int8off_t and med(int8_t, 1) and med(int8off_t, 1):
        lines += ["", f"The kernel layer runs batch 1 in "
                  f"{f(ratio(med(int8_t, 1), med(int8off_t, 1)), 2)}x and batch 8 in "
                  f"{f(ratio(med(int8_t, 8), med(int8off_t, 8)), 2)}x the time of tract's float "
                  "path on the same file (`--cpu-kernels off`), and "
                  f"{f(ratio(med(int8_t, 1), med(fp32_o, 1)), 2)}x ONNX Runtime's FP32 time at "
                  "batch 1."]
    return lines + [""]


def int8_profile_section(results: str, model_path: str, int8_t) -> list[str]:
    """The per-operator profile of the INT8 file on the kernel layer, by layer kind with the
    effective GOP/s of its convolutions, and the most expensive nodes."""
    d = load(os.path.join(results, "profile_int8.json"))
    if not d:
        return []
    p = d["profile"]
    dv = load(os.path.join(results, "profile_int8_vnni.json"))
    pv = dv["profile"] if dv else None
    pl = placement(int8_t)
    isa = pl["isa"] if pl else None
    threads = p["threads"]
    n_conv, conv_ms = by_op(p, KERNEL_OP)
    lines = [f"## Where the time goes on INT8 (kernel layer, QUInt8 file, batch 1, {threads} "
             "threads)", "",
             f"`resnext bench --model r101_32x8d_int8.onnx --batch 1 --threads {threads} "
             f"--profile {p['runs']}` (kernel layer `auto`"
             + (f": {pl['isa_label']}" if pl else "") + f"): {f(p['total_ms'])} ms in nodes, "
             f"of which {f(conv_ms)} ms ({100 * conv_ms / p['total_ms']:.1f}%) in the "
             f"{n_conv} `{KERNEL_OP}` nodes; every other node is tract's.", "",
             "By operator kind:", "", "| operator | nodes | ms | share |", "|---|---|---|---|"]
    for o in p["by_op"]:
        if o["ms"] >= 0.005:
            lines.append(f"| `{o['op'] or o['name']}` | {o['count']} | {f(o['ms'], 2)} | "
                         f"{100 * o['share']:.1f}% |")
    flops = conv_flops(model_path) if model_path else {}
    conv_flop = sum(v for k, v in flops.items() if not k.startswith("classifier")) or None

    def kinds(prof):
        out: dict[str, float] = {}
        for n in prof["top_nodes"]:
            if n["op"] == KERNEL_OP:
                c = category(n["name"].split(" -> ")[0])
                out[c] = out.get(c, 0.0) + n["ms"]
        return out
    ka, kv = kinds(p), (kinds(pv) if pv else {})
    peak = PEAKS.get(isa, (None, None))[1]
    lines += ["", f"The kernel layer's convolutions by layer kind (GOP = 2 x multiply-adds of "
              f"the ONNX Conv nodes; effective GOP/s = GOP / time on {threads} threads, per core "
              f"= that / {threads}"
              + (f"; % of peak against {PEAKS[isa][0]}'s {PEAKS[isa][1]:.0f} GOP/s per core"
                 if peak else "") + "):", "",
              f"| layer kind | ms | share of `{KERNEL_OP}` | GOP | GOP/s | GOP/s per core | "
              "% of peak |" + (" ms on AVX512-VNNI | GOP/s per core on AVX512-VNNI |"
                               if pv else ""),
              "|---|---|---|---|---|---|---|" + ("---|---|" if pv else "")]
    for c, t in sorted(ka.items(), key=lambda kv_: -kv_[1]):
        fl = flops.get(c)
        g = fl / 1e9 / (t / 1000) if fl and t else None
        tv = kv.get(c)
        gv = fl / 1e9 / (tv / 1000) / threads if fl and tv else None
        lines.append(f"| {c.replace(' (7x7 conv, max pool)', ' 7x7 conv')} | {f(t, 2)} | "
                     f"{100 * t / conv_ms:.1f}% | "
                     f"{f(fl / 1e9 if fl else None, 2)} | {f(g)} | "
                     f"{f(g / threads if g else None)} | "
                     f"{f(100 * g / threads / peak if g and peak else None, 1, '%')} |"
                     + (f" {f(tv, 2)} | {f(gv)} |" if pv else ""))
    if conv_flop and conv_ms:
        eff = conv_flop / 1e9 / (conv_ms / 1000)
        line = (f"Whole model: {conv_flop / 1e9:.2f} GOP of convolutions per image run in "
                f"{f(conv_ms, 2)} ms of `{KERNEL_OP}` time, an effective {eff:.0f} GOP/s "
                f"({eff / threads:.0f} per core"
                + (f", {100 * eff / threads / peak:.1f}% of the {PEAKS[isa][0]} peak"
                   if peak else "") + ")")
        nv, vms = by_op(pv, KERNEL_OP) if pv else (0, 0.0)
        if vms:
            ev = conv_flop / 1e9 / (vms / 1000)
            line += (f"; on AVX512-VNNI (`--cpu-kernels avx512-vnni`) {f(vms, 2)} ms, "
                     f"{ev:.0f} GOP/s ({ev / threads:.0f} per core, "
                     f"{100 * ev / threads / PEAKS['avx512-vnni'][1]:.1f}% of its peak)")
        b1 = med(int8_t, 1)
        if b1:
            lb = conv_flop / 1e9 / (b1 / 1000)
            line += (f". The profile is a separate process with a timer around every node: the "
                     f"latency runs' batch-1 median of this run is {f(b1)} ms for the whole "
                     f"graph (the profile's node total is {f(ratio(p['total_ms'], b1), 2)}x "
                     f"that), which puts the convolutions at no less than {lb:.0f} GOP/s "
                     f"({lb / threads:.0f} per core"
                     + (f", {100 * lb / threads / peak:.1f}% of peak" if peak else "") + ")")
        lines += ["", line + ". The node time is the median of each node over the profile's "
                  "runs, summed."]
    lines += ["", "Most expensive nodes:", "", "| ms | operator | node -> output shape |",
              "|---|---|---|"]
    for n in p["top_nodes"][:15]:
        lines.append(f"| {f(n['ms'], 2)} | `{n['op']}` | `{n['name']}` |")
    return lines + [""]


def qgemm_section(results: str, effective: list[tuple], int8_t) -> list[str]:
    """GOP/s of each kernel family per GEMM shape (examples/qgemm_gops.rs), against its peak."""
    d = load(os.path.join(results, "qgemm_gops.json"))
    if not d or not d.get("results"):
        return []
    isas = d["isas"]
    by = {(r["shape"], r["isa"]): r for r in d["results"]}
    shapes = list(dict.fromkeys(r["shape"] for r in d["results"]))
    what = {r["shape"]: r.get("what", "") for r in d["results"]}
    peaks = ", ".join(f"{PEAKS[i][0]} {PEAKS[i][1]:.0f} {PEAKS[i][2]}" for i in isas if i in PEAKS)
    lines = ["## The kernel layer's GEMMs: GOP/s per instruction set", "",
             f"`cargo run --release --example qgemm_gops` (examples/qgemm_gops.rs): "
             f"`QGemm::run` single-threaded, u8 x i8 with the requantization epilogue, no "
             f"residual, weights packed once; best of at least 3 runs over "
             f"{d.get('min_ms', '?')} ms per cell, GOP/s = 2 x M x N x K / time. The % is of "
             f"that instruction's peak on one core ({PEAK_SOURCE[0]}: {peaks}, "
             f"and {PEAKS['avx512-fma'][0]} {PEAKS['avx512-fma'][1]:.0f} "
             f"{PEAKS['avx512-fma'][2]} for tract's float path); the scalar reference has "
             "none. M = output pixels, K = input channels x window of one group, N = output "
             "channels of one group.", "",
             "| M x K x N | layer | " + " | ".join(f"{i} GOP/s (% of peak)" for i in isas) + " |",
             "|---|---|" + "---|" * len(isas)]
    for sh in shapes:
        cells = []
        for i in isas:
            r = by.get((sh, i))
            if not r:
                cells.append("-")
                continue
            pk = PEAKS.get(i, (None, None))[1]
            cells.append(f"{r['gops']:.1f}" + (f" ({100 * r['gops'] / pk:.1f}%)" if pk else ""))
        lines.append(f"| {sh} | {what[sh]} | " + " | ".join(cells) + " |")
    if effective:
        lines += ["", "In the model (the profile above, batch 1): "
                  + "; ".join(f"on {isa}, {g:.0f} GOP/s over {th} threads, {pc:.0f} per core"
                              + (f" ({pct:.1f}% of peak)" if pct is not None else "")
                              for isa, th, _, _, g, pc, pct in effective)
                  + f", for all {effective[0][2]:.2f} GOP of convolutions per image in the "
                  f"`{KERNEL_OP}` nodes' time"
                  + (f"; from the latency run's whole-graph batch-1 median ({f(med(int8_t, 1))} "
                     f"ms) at least {effective[0][2] / (med(int8_t, 1) / 1000):.0f} GOP/s"
                     if med(int8_t, 1) else "") + "."]
    bad = [r for r in d["results"] if r.get("mismatches_vs_scalar")]
    lines += ["", "Outputs compared with the scalar reference's on every shape: "
              + ("all identical." if not bad else "; ".join(
                  f"{r['isa']} {r['shape']}: {r['mismatches_vs_scalar']} differ" for r in bad)
                 + "."), ""]
    return lines


def fgemm_section(results: str) -> list[str]:
    """GFLOP/s of the float kernels per GEMM shape (examples/fgemm_gflops.rs), against the
    peak of each kernel's instruction (AVX-512 FMA for f32, AMX `tdpbf16ps` for bf16)."""
    d = load(os.path.join(results, "fgemm_gflops.json"))
    if not d or not d.get("shapes"):
        return []
    peaks = {"avx512": PEAKS["avx512-fma"], "avx2": PEAKS["avx2-fma"],
             "amx-bf16": PEAKS["amx-bf16"], "avx512-bf16": PEAKS["avx512-bf16"]}
    ran = {k["isa"].split(" ")[0] for sh in d["shapes"] for k in sh["kernels"]}
    peaks = {isa: peak for isa, peak in peaks.items() if isa in ran}
    lines = ["## The kernel layer's float GEMMs", "",
             "`cargo run --release --example fgemm_gflops` (examples/fgemm_gflops.rs): "
             "`FGemm::run` (f32, AVX-512 or AVX2) and `BGemm::run` (bf16 on AMX or AVX512-BF16; inputs "
             "rounded to bf16 "
             "before the timing) single-threaded, bias and ReLU fused, weights packed once, the "
             "3x3 shapes read as nine shifted segments of a padded image (as the layer runs "
             "them); 'weights from memory': the mean over calls that each read another copy of "
             "the weights (512 MiB of copies), as a model run reads them; else the best time, "
             "GFLOP/s = 2 x M x N x K / time; % of one core's peak for the "
             "kernel's instruction (" + ", ".join(f"{n}: {p:.0f} {u}" for n, p, u in peaks.values())
             + f", {PEAK_SOURCE[0]}). The f32 kernel must give the scalar reference's bits; the "
             "bf16 kernel is within 1e-5 of the largest value of its reference (the same bf16 "
             "products summed in another order).", "",
             "| M x K x N | layer | kernel | GFLOP/s (% of peak) | matches the scalar reference |",
             "|---|---|---|---|---|"]
    for sh in d["shapes"]:
        for k in sh["kernels"]:
            peak = peaks.get(k["isa"].split(" ")[0], PEAKS["avx512-fma"])[1]
            lines.append(f"| {sh['m']}x{sh['k']}x{sh['n']} | {sh['what']} | {k['isa']} | "
                         f"{k['gflops']:.1f} ({100 * k['gflops'] / peak:.0f}%) | "
                         f"{'yes' if k['matches_reference'] else 'NO'} |")
    lines.append("")
    return lines


def op_profile_section(results: str, name: str, title: str, flags: str) -> list[str]:
    """A per-operator-kind table from one `resnext bench --profile` JSON run with `flags`."""
    p = load(os.path.join(results, name))
    if not p:
        return []
    p = p["profile"]
    lines = [f"## {title}", "",
             f"`resnext bench {flags} --profile {p['runs']}`, "
             f"{p['threads']} threads: {f(p['total_ms'])} ms in nodes.", "",
             "| operator | nodes | ms | share |", "|---|---|---|---|"]
    for o in p["by_op"]:
        if o["ms"] >= 0.05:
            lines.append(f"| `{o['op'] or o['name']}` | {o['count']} | {f(o['ms'])} | "
                         f"{100 * o['share']:.1f}% |")
    return lines + [""]


def bf16_agreement(results: str):
    """(top-1 agreements, images, max |score difference| over the FP32 top-5 classes)."""
    def read(name):
        try:
            return [json.loads(l) for l in open(os.path.join(results, name)) if l.strip()]
        except (OSError, ValueError):
            return None
    ref, bf = read("bf16_ref_classify.jsonl"), read("bf16_classify.jsonl")
    if not ref or not bf or len(ref) != len(bf):
        return None
    agree, diff = 0, 0.0
    for r, b in zip(ref, bf):
        rp, bp = r["predictions"], b["predictions"]
        agree += rp[0]["class_id"] == bp[0]["class_id"]
        bscore = {p["class_id"]: p["score"] for p in bp}
        for p in rp:
            diff = max(diff, abs(p["score"] - bscore.get(p["class_id"], 0.0)))
    return agree, len(ref), diff


def int8_notes(i) -> list[str]:
    """The INT8 paragraphs of the notes: the kernel layer against its targets, from this run's
    bench, profile and GEMM benchmark files."""
    t, v = i["t"], i["v"]
    if not t:
        return ["**INT8.** The kernel layer was not measured in this run.", ""]
    best1, lab1 = i["best"](1)
    best8, lab8 = i["best"](8)
    pl = placement(t)
    out = [f"**INT8 on the kernel layer: batch 1 at {f(ratio(med(t, 1), best1), 2)}x and batch 8 "
           f"at {f(ratio(med(t, 8), best8), 2)}x ONNX Runtime's best INT8 time (goal 0.3)"
           + (f"; the AVX512-VNNI path at {f(ratio(med(v, 1), best1), 2)}x and "
              f"{f(ratio(med(v, 8), best8), 2)}x" if v else "")
           + ".** "
           + ("ONNX Runtime's best is its "
              + (f"{lab1} file at both batch sizes" if lab1 == lab8 else
                 f"{lab1} file at batch 1 and its {lab8} file at batch 8")
              + f" (its QInt8 file takes {f(ratio(med(i['s8_o'], 1), med(i['o'], 1)), 2)}x its "
              f"QUInt8 time at batch 1). " if lab1 else "")
           + (f"Our QInt8 file runs at {f(ratio(med(i['s8_t'], 1), med(t, 1)), 2)}x our QUInt8 "
              "time at batch 1 (the same kernels: the layer stores i8 data as u8 + 128). "
              if i["s8_t"] else "")
           + (f"At batch 8 the 1x1 convolutions run as one GEMM over the batch's pixels and "
              f"the grouped ones image by image, the threads sharing each layer: "
              f"{f(med(t, 8) / 8 if med(t, 8) else None)} ms per image against "
              f"{f(med(t, 1))} ms for batch 1 on {t.get('threads', '?')} threads. "
              if med(t, 8) and med(t, 1) else "")]
    d = load(os.path.join(i["results"], "profile_int8.json"))
    q = load(os.path.join(i["results"], "qgemm_gops.json"))
    if d:
        p = d["profile"]
        threads = p["threads"]
        n_conv, conv_ms = by_op(p, KERNEL_OP)
        rest = sorted(((o["ms"], o["op"] or o["name"]) for o in p["by_op"]
                       if (o["op"] or o["name"]) != KERNEL_OP), reverse=True)
        flops = conv_flops(i["model"]) if i["model"] else {}
        conv_flop = sum(v_ for k, v_ in flops.items() if not k.startswith("classifier"))
        kinds: dict[str, float] = {}
        for n in p["top_nodes"]:
            if n["op"] == KERNEL_OP:
                c = category(n["name"].split(" -> ")[0])
                kinds[c] = kinds.get(c, 0.0) + n["ms"]
        g = "grouped 3x3 conv (conv2, 32 groups)"
        peak = PEAKS.get(pl["isa"], (None, None))[1] if pl else None
        text = (f"In the profile ({threads} threads, batch 1) the kernel layer's {n_conv} "
                f"convolutions take {f(conv_ms)} of {f(p['total_ms'])} ms in nodes; tract's "
                f"nodes take the other {f(p['total_ms'] - conv_ms)} ms ("
                + ", ".join(f"`{name}` {f(ms, 2)}" for ms, name in rest[:4] if ms >= 0.005)
                + ").")
        if conv_flop and conv_ms:
            eff = conv_flop / 1e9 / (conv_ms / 1000) / threads
            text += (f" The convolutions reach {eff:.0f} GOP/s per core"
                     + (f", {100 * eff / peak:.1f}% of the {PEAKS[pl['isa']][0]} peak"
                        if peak else "") + ".")
        if kinds.get(g) and flops.get(g) and conv_flop:
            text += (f" The grouped 3x3 convolutions are {100 * flops[g] / conv_flop:.0f}% of "
                     f"the convolution GOP but {100 * kinds[g] / conv_ms:.0f}% of its time "
                     f"({flops[g] / 1e9 / (kinds[g] / 1000) / threads:.0f} GOP/s per core, "
                     "against "
                     + f(sum(flops.get(c, 0) for c in kinds if c != g) / 1e9
                         / (sum(ms for c, ms in kinds.items() if c != g) / 1000) / threads, 0)
                     + " for the other convolutions).")
        out[0] = out[0].rstrip() + " " + text
    if q and pl:
        rs = {r["shape"]: r for r in q["results"] if r["isa"] == pl["isa"]}
        one = [r for r in rs.values() if r["k"] >= 256 and r["n"] >= 256]
        grp = rs.get("3136x72x8")
        if one and grp:
            lo, hi = min(one, key=lambda r: r["gops"]), max(one, key=lambda r: r["gops"])
            out[0] += (f" Single-threaded, the {pl['isa']} GEMM reaches {lo['gops']:.0f}-"
                       f"{hi['gops']:.0f} GOP/s on the 1x1 shapes ({lo['shape']} .. "
                       f"{hi['shape']}) and {grp['gops']:.0f} GOP/s on one layer1 group "
                       f"({grp['shape']})")
            if pl["isa"] == "amx-int8":
                kpad = -(-grp["k"] // 64) * 64
                out[0] += (f": there K = {grp['k']} is padded to {kpad} (the AMX K step of 64, "
                           f"{100 * grp['k'] / kpad:.0f}% useful) and N = {grp['n']} output "
                           f"channels fill {100 * grp['n'] / (-(-grp['n'] // 16) * 16):.0f}% of "
                           "a 16-column tile")
            out[0] += (". Where the model's per-core rate is below the GEMM benchmark's, the "
                       "difference is spent outside the GEMM calls (the im2col gather or the padded "
                       "copy, the split over the threads, weights that the benchmark keeps in "
                       "cache and the model streams from memory: `qgemm_gops --cold-weights` "
                       "measures that case).")
    out.append("")
    rows = i["rows"]
    if rows:
        out += ["**INT8 load and memory.** " + " ".join(
            f"{flav} file: first result {f(c_t, 0)} ms against ONNX Runtime's {f(c_o, 0)} ms "
            f"({f(ratio(c_t, c_o), 2)}x), peak {f(r_t, 0)} against {f(r_o, 0)} MB "
            f"({f(ratio(r_t, r_o), 2)}x)." for flav, c_t, c_o, r_t, r_o in rows)
            + " Loading reads and decodes the file (prost over the file's buffer: one copy of "
            "each tensor), parses the rewritten graph with tract, types it (each convolution "
            "packs its weights then, once, on the classifier's threads) and optimizes the "
            "batch-1 plan; the first result adds one batch-1 run. `RESNEXT_LOG=debug resnext "
            "bench ...` prints the time of each load stage.", ""]
    return out


def fp32_kernel_note(fp32_t) -> str:
    """Which f32 kernels this run's FP32 model ran on (its `compute`), and what holds them."""
    compute = (fp32_t or {}).get("compute", "")
    common = (
        "BatchNormalization folded at load; the grouped 3x3 convolutions read a padded copy of "
        "their input tap by tap, no im2col). The kernels reach most of the FMA peak on one core "
        "on most shapes (the f32 GEMM table); what stands in the way (the profile's layer "
        "kinds, both thread counts): (1) the 1x1 convolutions stream their weights from memory "
        "once per image in f32, four times the INT8 bytes, which holds the layer4 shapes and "
        "the model below the kernel's in-cache rate (the kernel prefetches its B panels ahead; "
        "the table's 'weights from memory' cells show what is left); ")
    batch8 = ("at batch 8 the images run one per thread, each single-threaded, and two cores "
              "streaming f32 weights at once slow each other.")
    if "AVX2" in compute:
        return (
            "On this CPU (no AVX-512) every convolution runs on the kernel layer's AVX2 + FMA "
            "f32 GEMMs (src/kernels/fgemm/avx2.rs: an implicit GEMM over NHWC activations, 6 "
            "rows x 16 columns or 12 rows x 8 columns of accumulators, bias, residual addition "
            "and ReLU fused, " + common + "(2) " + batch8 + " ONNX Runtime's MLAS runs the same "
            "FMA instruction on this CPU, so the two engines are within a few percent of each "
            "other: going well below it takes fewer multiplications (a Winograd or FFT "
            "convolution), not a faster GEMM.")
    return (
        "On this CPU every convolution runs on the kernel layer's AVX-512 f32 GEMMs "
        "(src/kernels/fgemm: an implicit GEMM over NHWC activations, 12x32 or 24x16 accumulator "
        "tiles, bias, residual addition and ReLU fused, " + common + "(2) the grouped 3x3 "
        "convolutions of layer1 have 8 output channels per group, half a zmm register: they run "
        "two groups merged as one 16-channel group with block-diagonal weights, half of those "
        "products zeros (table); (3) " + batch8 + " Next: block the 1x1 weights so both threads "
        "share each panel from L2/L3 at batch 1, and two pixels per register for the 8-channel "
        "groups instead of the zeros.")


def notes(fp32_o, fp32_t, rss_t, rss_o, model_mb, colds_t, colds_o, mmap_t, bf16_t,
          int8):
    """What each unmet target is blocked by, and what would remove it (figures from this run)."""
    b1 = ratio(med(fp32_t, 1), med(fp32_o, 1))
    b8 = ratio(med(fp32_t, 8), med(fp32_o, 8))
    after = statistics.median([d["peak_rss_after_first_result_mb"] for d in colds_t
                               if d.get("peak_rss_after_first_result_mb")] or [0]) or None
    return [
        "## What stands in the way, and what would remove it", "",
        f"**FP32 (bs1 {f(b1, 2)}x, bs8 {f(b8, 2)}x ONNX Runtime).** "
        + fp32_kernel_note(fp32_t),
        "",
        *int8_notes(int8),
        f"**Memory: peak {f(rss_t, 0)} MB for a {f(model_mb, 0)} MB file "
        f"({f(ratio(rss_t, model_mb), 2)}x; ONNX Runtime {f(ratio(rss_o, model_mb), 2)}x).** "
        "Where it came from: an FP32 file is read without its "
        "weights (src/onnx/stream.rs walks the protobuf and turns each initializer into "
        "an external-data reference into the file, which tract reads one tensor at a time), so "
        "parsing holds one copy of the weights instead of three; the plan is optimized from the "
        "model by value; and the heap that loading frees is handed back to the system as it is "
        "freed (src/backend/tract/heap_trim.rs wraps every pass of tract's declutter and codegen "
        "optimizers and calls `malloc_trim` every 16 patches). That last step brought the default "
        "peak down to this report's figure: tract's decluttering (its `ChangeAxes` pass) "
        "replaces the weight constants with re-laid-out copies one patch at a time, and glibc "
        "kept each freed weight-sized block mapped in the middle of its heap, so the heap grew "
        "by a second copy of the weights over the pass although only one copy was alive at any "
        "moment. It costs load time, since the returned pages are faulted in again as later "
        "tensors are allocated (the cold start above includes that cost). What "
        "remains above the file size is one weight tensor being rewritten at a "
        "time, the packed weights' padding, and activations"
        + (f"; with glibc's mmap threshold fixed (`MALLOC_MMAP_THRESHOLD_=131072` in the "
           f"environment, the application's choice, no longer needed) the peak is "
           f"{f(mmap_t.get('peak_rss_mb'), 0)} MB "
           f"({f(ratio(mmap_t.get('peak_rss_mb'), model_mb), 2)}x)"
           if mmap_t else "")
        + ". The INT8 file with the kernel layer off peaks higher relative to its size because "
        "its weights are widened to float32 at load (4x the file's bytes), the price of running "
        "it on the FP32 kernels; the FP16 file on the float kernel layer is read without its "
        "weights like the FP32 one, and its convolution weights stay float16, packed in float16 "
        "panels and widened in the kernel (the Targets' FP16 peak row; target 1.5x its file); "
        "on the kernel layer the INT8 weights stay int8, packed once"
        + "".join(f" ({flav} file: {f(r_t, 0)} MB at load + batch 1, ORT {f(r_o, 0)} MB)"
                  for flav, _, _, r_t, r_o in int8["rows"][:1] if r_t)
        + ".",
        "",
        "**Cold start.** Load is protobuf decode + tract parse, typing and decluttering + "
        "optimizing the batch-1 plan (weight packing); ONNX Runtime's session creation does "
        "the same work in C++. A sampled profile of load + first run (`perf record -e "
        "cpu-clock --call-graph dwarf`, 1 thread) puts about a quarter of the samples in "
        "`memcpy` and first-touch page faults during loading: tract's `ChangeAxes` pass "
        "deep-copies every weight constant it re-lays out (`Const::change_axes` -> "
        "`Tensor::deep_clone`, because the constant's `Arc` is still shared with the node it "
        "replaces; 7 % of the samples), then parsing copies each tensor from the read buffer "
        "(2 %), and packing writes the weights once more. The rest of the gap is the first "
        "inference itself, slower by the FP32 ratio above. What would remove the load part is "
        "in tract: changing a constant's axes in place when the old node is the only owner.",
        "",
        "**bf16 on AMX or AVX512-BF16 (opt-in).** `bf16_matmul(true)` (CLI `--bf16-matmul`) runs the float "
        "kernel layer's convolutions whose groups have 8, 16 or a multiple of 32 input channels on the "
        "crate's AMX bf16 kernel (`src/kernels/bgemm`: `tdpbf16ps` on 2 x 2 tiles of 16 x 16 "
        "float32 accumulators started from the bias, weights rounded to bf16 and packed once, "
        "each convolution's input rounded to bf16 once per run, the residual and ReLU fused "
        "into an AVX-512 epilogue): "
        + (bf16_t.get("compute", "?") if bf16_t else "?")
        + ". The 8- and 16-channel groups of layer1 and layer2 run as groups of 32 channels "
        "with block-diagonal weights (4 or 2 groups merged: three quarters or half of their "
        "products are zeros, still faster on AMX than in f32); only the 3-channel stem stays "
        "f32 on AVX-512. On a CPU with AVX512-BF16 and no AMX (AMD Zen 4) the convolutions with "
        "16 or a multiple of 32 channels per group run on `vdpbf16ps` instead (src/kernels/bgemm/"
        "avx512.rs: the f32 kernel's register blocks, twice the multiply-adds per instruction), "
        "the 8-channel groups stay f32 (merged four at a time, their zeros would cost as much as "
        "f32; f32 runs them merged in pairs). "
        "Next: the input rounded to bf16 by the previous convolution's epilogue "
        "instead of once per convolution, and the second core's share (the profile above). Accuracy: the table's top-1 agreement and score difference on "
        "photographs, and tests/parity.rs against ONNX Runtime FP32 on ResNeXt50 from both "
        "graph styles (within 2e-2 x max(1, max |reference|), top-1 equal).",
        "",
        "**Preprocessing.** Decoding dominates a 1080p JPEG. Both sides decode with "
        "libjpeg-turbo's decoder (ours through `mozjpeg-sys`, src/preprocess/jpeg.rs, with the "
        "same islow IDCT and fancy upsampling, so the pixels are identical: "
        "tests/jpeg_decoding.rs); OpenCV's figure is measured from Python. Our resize + crop + "
        "normalize is slower than OpenCV's (it resizes straight to 455x256 with fixed-point "
        "SIMD), which is the part to work on next.",
        "",
    ]


# --- chart -----------------------------------------------------------------------------

def svg(cases: list[tuple[str, float | None, float | None]]) -> str:
    w, h, left, bottom, top = 760, 420, 70, 90, 40
    vals = [v for _, a, b in cases for v in (a, b) if v]
    mx = max(vals) * 1.12 if vals else 1.0
    ph = h - top - bottom
    slot = (w - left - 20) / max(len(cases), 1)
    y = lambda v: top + ph * (1 - v / mx)  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           'font-family="sans-serif" font-size="11">', '<rect width="100%" height="100%" '
           'fill="white"/>', f'<text x="{w / 2}" y="22" text-anchor="middle" font-size="14">'
           'Median latency (ms), same run: ONNX Runtime (grey) vs resnext/tract (blue)</text>']
    for i in range(5):
        v = mx * i / 4
        out.append(f'<line x1="{left}" x2="{w - 20}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                   f'stroke="#ddd"/><text x="{left - 6}" y="{y(v) + 4:.1f}" '
                   f'text-anchor="end">{v:.0f}</text>')
    for i, (label, peer, ours) in enumerate(cases):
        x0 = left + slot * i + slot * 0.15
        bw = slot * 0.35
        for j, (v, color) in enumerate(((peer, "#999"), (ours, "#4878a8"))):
            if v:
                x = x0 + j * bw
                out.append(f'<rect x="{x:.1f}" y="{y(v):.1f}" width="{bw - 2:.1f}" '
                           f'height="{y(0) - y(v):.1f}" fill="{color}"/><text x="{x + bw / 2:.1f}"'
                           f' y="{y(v) - 4:.1f}" text-anchor="middle">{v:.0f}</text>')
        cx = left + slot * (i + 0.5)
        out.append(f'<text x="{cx:.1f}" y="{h - bottom + 16}" text-anchor="end" '
                   f'transform="rotate(-30 {cx:.1f} {h - bottom + 16})">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# --- report ----------------------------------------------------------------------------

def python_rows(target, py_int8, py_fp32) -> None:
    """The Python package's rows (tools/python_bench.py): the per-call overhead of
    `classify(path)` over the Rust API on the small model, and end to end (JPEG file to top 5)
    against cv2.imread + numpy + onnxruntime on the INT8 and FP32 files, for each backend."""
    if py_int8:
        o = py_int8["overhead"]
        target(f"Python `classify(path)` overhead over the Rust API ({o['image']}, small model, 1 thread)",
               f(o["python_ms"], 3, " ms"), f(o["rust_ms"], 3, " ms") + " (Rust API)",
               o["binding_ms"], 0.2,
               "ratio column: the overhead in ms, Python's wall time per call minus the call's "
               "own stage times (an upper bound of the binding's cost, measured in one process); "
               f"the two per-call medians, run in turn, differ by {f(o['overhead_ms'], 3)} ms")
    for label, d in (("INT8 (QUInt8)", py_int8), ("FP32", py_fp32)):
        if not d:
            continue
        e = d["end_to_end"]
        peer = e["median_ms"].get("python_ort")
        for engine, name in (("resnext_tract", "tract"), ("resnext_ort", "ort")):
            ours = e["median_ms"].get(engine)
            if ours is None:
                continue
            same = e["top1"].get(engine) == e["top1"].get("python_ort")
            target(f"Python end to end, {e['image']} -> top 5, {label}, {e['threads']} threads: "
                   f"`resnext.Classifier(backend=\"{name}\")` vs cv2 + numpy + onnxruntime",
                   f(ours, 1, " ms"), f(peer, 1, " ms") + " (cv2 + numpy + ORT)", ratio(ours, peer), 1.0,
                   "same top-1" if same else "top-1 differs")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", required=True)
    p.add_argument("--model", help="the FP32 ResNeXt101_32x8d file (for FLOPs and file size)")
    p.add_argument("--int8-model", help="the INT8 (QDQ) ResNeXt101_32x8d file, for its "
                   "convolutions' FLOPs (default: r101_32x8d_int8.onnx beside --model)")
    p.add_argument("--out", required=True)
    p.add_argument("--svg")
    p.add_argument("--generated-at", help="the date printed in the header, 'YYYY-MM-DD HH:MM' "
                   "UTC (default: now); to render an earlier run's --results again")
    a = p.parse_args(argv)
    use_measured_peaks(a.results)
    R = lambda name: load(os.path.join(a.results, name))  # noqa: E731
    cfg = open(os.path.join(a.results, "config.txt")).read().split("\n") \
        if os.path.exists(os.path.join(a.results, "config.txt")) else ["?"]
    seconds = open(os.path.join(a.results, "seconds.txt")).read().strip() \
        if os.path.exists(os.path.join(a.results, "seconds.txt")) else "?"
    fp32_o, fp32_t = R("fp32_ort.json"), R("fp32_tract.json")
    mmap_t = R("mmapfixed_tract.json")

    def fastest(prefix):
        """Of the rounds `prefix_1.json`, `prefix_2.json`, ..., the one with the lowest batch-1
        median (older result sets have a single `prefix.json`)."""
        runs = [d for d in (load(x) for x in sorted(glob.glob(os.path.join(
            a.results, prefix + "_[0-9].json")))) if d and med(d, 1)] or [R(prefix + ".json")]
        return min(runs, key=lambda d: med(d, 1) if d and med(d, 1) else float("inf"))
    fp16_o, fp16_t, fp16_ref = R("fp16_ort.json"), fastest("fp16_tract"), fastest("fp16_ref_tract")
    # INT8, both quantization flavours: ONNX Runtime, the kernel layer (auto), its VNNI path,
    # and (QUInt8 only) the kernel layer off.
    int8_o, int8_t, int8v_t = fastest("int8_ort"), fastest("int8_tract"), fastest("int8_vnni_tract")
    s8_o, s8_t, s8v_t = fastest("int8s8_ort"), fastest("int8s8_tract"), fastest("int8s8_vnni_tract")
    int8off_t = R("int8_off_tract.json")
    x16_o, x16_t = R("x16_ort.json"), R("x16_tract.json")
    pre_cv, pre_t = R("pre_opencv.json"), R("pre_tract.json")
    colds_o = [d for d in (load(x) for x in sorted(glob.glob(os.path.join(a.results,
                                                                        "cold_ort_*.json")))) if d]
    colds_t = [d for d in (load(x) for x in sorted(glob.glob(os.path.join(a.results,
                                                                        "cold_tract_*.json")))) if d]

    def runs(name):
        return [d for d in (load(x) for x in sorted(glob.glob(os.path.join(a.results, name))))
                if d]
    int8_colds = {"QUInt8": (runs("int8cold_tract_*.json"), runs("int8cold_ort_*.json")),
                  "QInt8": (runs("int8s8cold_tract_*.json"), runs("int8s8cold_ort_*.json"))}
    model_bytes = os.path.getsize(a.model) if a.model and os.path.exists(a.model) else None
    model_mb = model_bytes / 2**20 if model_bytes else None

    def cold(ds, key):
        v = [d[key] for d in ds if d.get(key) is not None]
        return statistics.median(v) if v else None

    cold_o, cold_t = cold(colds_o, "first_result_ms"), cold(colds_t, "first_result_ms")
    load_o, load_t = cold(colds_o, "load_ms"), cold(colds_t, "load_ms")
    rss_o, rss_t = cold(colds_o, "peak_rss_mb"), cold(colds_t, "peak_rss_mb")
    pre_ms_cv = pre_cv["preprocess"]["median_ms"] if pre_cv else None
    pre_ms_t = pre_t["preprocess"]["median_ms"] if pre_t and pre_t.get("preprocess") else None
    threads = (fp32_t or {}).get("threads", "?")

    targets = []

    def target(name, ours, peer, r, goal, note="", status=None):
        if goal is None:
            targets.append(f"| {name} | {ours} | {peer} | {f(r, 2)} | - | "
                           f"{status or 'informational'} | {note} |")
            return
        targets.append(f"| {name} | {ours} | {peer} | {f(r, 2)} | <= {goal} | "
                       f"{status or verdict(r, goal)} | {note} |")

    def best_ort_int8(b):
        """ONNX Runtime's best INT8 median at batch b over both files, and which file."""
        c = [(med(d, b), lab) for lab, d in (("QUInt8", int8_o), ("QInt8", s8_o)) if med(d, b)]
        return min(c) if c else (None, None)

    def kernels_note(d, b):
        pl = placement(d)
        if not d:
            return "not measured"
        if not pl:
            return f"kernel layer not engaged: {d.get('compute', '?')}"
        return (f"{pl['isa_label']}: {pl['placed']} of {pl['convs']} convolutions, "
                f"{pl['adds']} residual additions fused")

    for b in (1, 8):
        target(f"FP32 latency, batch {b}", f(med(fp32_t, b), 0, " ms"),
               f(med(fp32_o, b), 0, " ms") + " (ORT FP32)",
               ratio(med(fp32_t, b), med(fp32_o, b)), 0.9)
    int8_rows = []
    for flav, t, v in (("QUInt8", int8_t, int8v_t), ("QInt8", s8_t, s8v_t)):
        name = f"INT8 (QDQ, per-channel, {flav} activations)"
        for b in (1, 8):
            ref, lab = best_ort_int8(b)
            peer = f(ref, 0, " ms") + (f" (ORT's best INT8: its {lab} file)" if lab else "")
            target(f"{name}, kernel layer (`auto`) vs ORT's best INT8, batch {b}",
                   f(med(t, b), 0, " ms"), peer, ratio(med(t, b), ref), 0.3, kernels_note(t, b))
            pv = placement(v)
            target(f"{name}, VNNI path (`--cpu-kernels avx512-vnni`) vs ORT's best INT8, "
                   f"batch {b}", f(med(v, b), 0, " ms"), peer, ratio(med(v, b), ref), 0.3,
                   kernels_note(v, b),
                   status=None if not v or (pv and pv["isa"] == "avx512-vnni")
                   else "not met (VNNI kernels not engaged)")
        ct, co = int8_colds[flav]
        c_t, c_o = cold(ct, "first_result_ms"), cold(co, "first_result_ms")
        target(f"{name}, load to first result", f(c_t, 0, " ms"),
               f(c_o, 0, " ms") + " (ORT session + first run)", ratio(c_t, c_o), 1.0,
               f"load {f(cold(ct, 'load_ms'), 0)} vs session {f(cold(co, 'load_ms'), 0)} ms; "
               f"median of {len(ct)} rounds")
        r_t, r_o = cold(ct, "peak_rss_mb"), cold(co, "peak_rss_mb")
        fbytes = next((d.get("model_bytes") for d in ct if d.get("model_bytes")), None)
        target(f"{name}, peak RSS (load + batch 1) vs ORT on the same file",
               f(r_t, 0, " MiB"), f(r_o, 0, " MiB") + " (ORT)", ratio(r_t, r_o), 1.0,
               f"file {f(fbytes / 2**20 if fbytes else None, 0, ' MiB')}; median of {len(ct)} "
               "rounds")
        int8_rows.append((flav, c_t, c_o, r_t, r_o))
    for b in (1, 8):
        target(f"ONNX Runtime on the QInt8-activation file, batch {b} (informational)",
               f(med(s8_t, b), 0, " ms") + " (ours, QInt8 file)",
               f(med(s8_o, b), 0, " ms") + " (ORT, QInt8 file)", ratio(med(s8_t, b), med(s8_o, b)),
               None, f"ORT's QInt8 file takes {f(ratio(med(s8_o, b), med(int8_o, b)), 2)}x its "
               f"QUInt8 file's {f(med(int8_o, b), 0, ' ms')}")
    for b in (1, 8):
        target(f"INT8, kernel layer off (tract's float path) vs ORT INT8, batch {b}",
               f(med(int8off_t, b), 0, " ms"), f(med(int8_o, b), 0, " ms") + " (ORT INT8)",
               ratio(med(int8off_t, b), med(int8_o, b)), 0.5,
               "`--cpu-kernels off`: the QDQ graph run as float (QUInt8 file)")
        target(f"INT8, kernel layer off (tract's float path) vs ORT FP32, batch {b}",
               f(med(int8off_t, b), 0, " ms"), f(med(fp32_o, b), 0, " ms") + " (ORT FP32)",
               ratio(med(int8off_t, b), med(fp32_o, b)), 0.5)
    # FP16 on the float kernel layer keeps its convolution weights in float16 (packed so,
    # widened in the kernel); `compute` says which way this run went.
    kept16 = "kept as float16" in (fp16_t or {}).get("compute", "")
    fp16_how = ("convolution weights kept in float16, widened in the kernel" if kept16
                else "weights widened to f32 at load")
    target("FP16 file vs our FP32, batch 1", f(med(fp16_t, 1), 0, " ms"),
           f(med(fp16_ref, 1), 0, " ms") + " (ours FP32)",
           ratio(med(fp16_t, 1), med(fp16_ref, 1)), 1.1, fp16_how)
    # The FP16 file's peak against its own size: the batch-1 latency run's process (load, the
    # first run's packing, the timed runs), the better round's.
    fp16_bytes = (fp16_t or {}).get("model_bytes")
    fp16_mb = fp16_bytes / 2**20 if fp16_bytes else None
    rss16 = (fp16_t or {}).get("peak_rss_mb")
    target("FP16 peak RSS (load + batch 1) / FP16 file size", f(rss16, 0, " MiB"),
           f"{f(fp16_mb, 0, ' MiB')} FP16 file", ratio(rss16, fp16_mb), 1.5, fp16_how)
    target("Cold start (load to first result)", f(cold_t, 0, " ms"), f(cold_o, 0, " ms"),
           ratio(cold_t, cold_o), 1.0,
           f"load {f(load_t, 0)} vs session {f(load_o, 0)} ms; median of {len(colds_t)} rounds")
    target("Peak RSS (load + batch 1) / file size", f(rss_t, 0, " MiB"),
           f"{f(model_mb, 0, ' MiB')} file (ORT peaks at {f(rss_o, 0, ' MiB')}, "
           f"{f(ratio(rss_o, model_mb), 2)}x)", ratio(rss_t, model_mb), 1.5,
           (f"with `MALLOC_MMAP_THRESHOLD_=131072`: {f(mmap_t.get('peak_rss_mb'), 0)} MiB "
            f"({f(ratio(mmap_t.get('peak_rss_mb'), model_mb), 2)}x)" if mmap_t else ""))
    target("Preprocess 1920x1080 JPEG -> 224 tensor, 1 thread", f(pre_ms_t, 1, " ms"),
           f(pre_ms_cv, 1, " ms") + " (OpenCV)", ratio(pre_ms_t, pre_ms_cv), 1.0,
           "decode " + f(pre_t["preprocess"]["decode_ms"] if pre_ms_t else None, 1) + " vs "
           + f(pre_cv["preprocess"]["decode_median_ms"] if pre_cv else None, 1) + " ms")
    python_rows(target, R("python_int8.json"), R("python_fp32.json"))
    bf16_t, bf16_ref = R("bf16_tract.json"), R("bf16_ref_tract.json")
    agree = bf16_agreement(a.results)
    engaged = bool(bf16_t) and bf16_t.get("compute", "").startswith("bf16 on ")
    target("bf16 mode (opt-in `--bf16-matmul`: AMX, else AVX512-BF16) vs our FP32, batch 1",
           f(med(bf16_t, 1), 0, " ms"), f(med(bf16_ref, 1), 0, " ms") + " (ours FP32)",
           ratio(med(bf16_t, 1), med(bf16_ref, 1)), 1.0,
           (f"top-1 agreement {agree[0]}/{agree[1]}, max top-5 score difference "
            f"{agree[2]:.2g}" if agree else "accuracy not measured")
           + (f"; {bf16_t.get('compute')}" if engaged else "; the bf16 kernel was not engaged"),
           status=None if engaged else "not met (kernel not engaged)")
    for b in (1, 8):
        target(f"bf16 mode vs ORT FP32, batch {b}", f(med(bf16_t, b), 0, " ms"),
               f(med(fp32_o, b), 0, " ms") + " (ORT FP32)",
               ratio(med(bf16_t, b), med(fp32_o, b)), 0.3)
    target("ResNeXt101_32x16d FP32, batch 1", f(med(x16_t, 1), 0, " ms"),
           f(med(x16_o, 1), 0, " ms"), ratio(med(x16_t, 1), med(x16_o, 1)), 0.9)

    generated_at = (a.generated_at
                    or f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M}")
    lines = [
        "# Benchmarks: resnext (tract) vs ONNX Runtime on CPU", "",
        "Generated by `bash scripts/benchmarks.sh` (`--quick` for a shorter run) on "
        f"{generated_at} UTC in {seconds} s "
        f"({cfg[0]}; {cfg[1] if len(cfg) > 1 else ''}; commit {cfg[2] if len(cfg) > 2 else '?'}). "
        "Do not edit by hand: the figures, tables and chart come from that one command. Both "
        "engines run the same seeded models (`tools/resnext_onnx.py`, converted with "
        "`tools/convert_fp16.py` and `tools/quantize_int8.py`), the same deterministic input "
        f"and the same thread count ({threads}); the peer is ONNX Runtime "
        f"{(fp32_o or {}).get('version', '?')} from Python (`tools/bench_peers.py`), engines "
        "alternating within the run. Ratios are ours / peer: below 1 is better for us.", "",
    ]
    lines += machine(a.results)
    lines += ["## Targets", "",
              "| target | resnext (tract) | reference | ratio | goal | status | note |",
              "|---|---|---|---|---|---|---|", *targets, ""]
    if a.svg:
        cases = [(f"FP32 bs{b}", med(fp32_o, b), med(fp32_t, b)) for b in (1, 4, 8)
                 if med(fp32_t, b)]
        cases += [(f"INT8 bs{b}", med(int8_o, b), med(int8_t, b)) for b in (1, 8)]
        cases += [("FP16 bs1", med(fp16_o, 1), med(fp16_t, 1)),
                  ("32x16d FP32 bs1", med(x16_o, 1), med(x16_t, 1))]
        with open(a.svg, "w") as fh:
            fh.write(svg(cases))
        lines += [f"![latency chart]({os.path.basename(a.svg)})", ""]

    fp32_bs1 = [m for m in (med(fp32_t, 1), med(fp16_ref, 1), med(bf16_ref, 1)) if m]
    if len(fp32_bs1) > 1:
        lines += [f"Noise: this run measured our FP32 batch 1 {len(fp32_bs1)} times (separate "
                  f"processes, minutes apart): {', '.join(f(m, 0) for m in fp32_bs1)} ms, a "
                  f"{f(max(fp32_bs1) / min(fp32_bs1), 2)}x spread. Ratios between two processes "
                  "carry that uncertainty; a ratio near its goal is not a verdict.", ""]
    lines += ["## Latency (the source's table format)", "",
              "| Model | engine | CPU latency (ms, median) bs1 / bs4 / bs8 | p90 bs1 / bs4 / bs8 "
              "| images/s at the largest batch | peak RSS (MB) |", "|---|---|---|---|---|---|"]
    u8, s8 = "ResNeXt101_32x8d INT8 (QDQ, QUInt8)", "ResNeXt101_32x8d INT8 (QDQ, QInt8)"
    for label, o, t, ours_eng in (
            ("ResNeXt101_32x8d FP32", fp32_o, fp32_t, ""),
            (u8, int8_o, int8_t, ", kernel layer `auto`"),
            (u8, None, int8v_t, ", `--cpu-kernels avx512-vnni`"),
            (u8, None, int8off_t, ", `--cpu-kernels off`"),
            (s8, s8_o, s8_t, ", kernel layer `auto`"),
            (s8, None, s8v_t, ", `--cpu-kernels avx512-vnni`"),
            ("ResNeXt101_32x8d FP16", fp16_o, fp16_t, ""),
            ("ResNeXt101_32x16d FP32", x16_o, x16_t, "")):
        for eng, d in (("ONNX Runtime", o), ("resnext (tract)" + ours_eng, t)):
            if not d:
                continue
            rs = d["results"]
            lat = " / ".join(f(med(d, b), 1) if row(d, b) else "-" for b in (1, 4, 8))
            p90 = " / ".join(f(row(d, b)["p90_ms"], 1) if row(d, b) else "-" for b in (1, 4, 8))
            lines.append(f"| {label} | {eng} | {lat} | {p90} | {f(rs[-1]['images_per_s'], 2)} "
                         f"(bs{rs[-1]['batch']}) | {f(d.get('peak_rss_mb'), 0)} |")
    lines.append("")

    if pre_t and pre_t.get("preprocess") and pre_cv:
        pt, pc = pre_t["preprocess"], pre_cv["preprocess"]
        lines += ["## Preprocessing a 1920x1080 JPEG", "",
                  "| engine | total ms | decode ms | resize + crop + normalize ms |",
                  "|---|---|---|---|",
                  f"| resnext (image crate decode, fast_image_resize) | {f(pt['median_ms'], 2)} | "
                  f"{f(pt['decode_ms'], 2)} | {f(pt['preprocess_ms'], 2)} |",
                  f"| {pc['engine']} | {f(pc['median_ms'], 2)} | {f(pc['decode_median_ms'], 2)} "
                  f"| {f(pc['median_ms'] - pc['decode_median_ms'], 2)} |", ""]
    int8_model = a.int8_model or (os.path.join(os.path.dirname(a.model), "r101_32x8d_int8.onnx")
                                  if a.model else None)
    if not (int8_model and os.path.exists(int8_model)):
        int8_model = a.model  # the same convolutions: the FLOPs do not depend on the file
    lines += kernel_layer_section(((int8_o, int8_t, int8v_t, int8off_t), (s8_o, s8_t, s8v_t)),
                                  fp32_o, int8_colds["QUInt8"][0])
    lines += int8_profile_section(a.results, int8_model, int8_t)
    lines += qgemm_section(a.results, int8_effective(a.results, int8_model, int8_t), int8_t)
    lines += fgemm_section(a.results)
    lines += profile_section(a.results, a.model)
    lines += op_profile_section(a.results, "profile_bf16.json",
                                "Where the time goes in the bf16 mode (FP32 file, batch 1)",
                                "--bf16-matmul")
    lines += notes(fp32_o, fp32_t, rss_t, rss_o, model_mb, colds_t, colds_o, mmap_t,
                   bf16_t, int8=dict(o=int8_o, t=int8_t, v=int8v_t, off=int8off_t, s8_o=s8_o,
                                     s8_t=s8_t, s8_v=s8v_t, rows=int8_rows,
                                     best=best_ort_int8, results=a.results,
                                     model=int8_model))
    with open(a.out, "w") as fh:
        fh.write("\n".join(lines))
    print(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
