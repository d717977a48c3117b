"""Writes the fuzzers' seed corpus (fuzz/seeds/<target>/), small files only.

    .venv/bin/python fuzz/make_seeds.py

Deterministic (fixed seeds): re-running it rewrites the same bytes. The corpus is checked in;
libFuzzer grows its working corpus in fuzz/corpus/ (not checked in).
"""
import io
import os
import struct

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "seeds")
SIDE = 8  # the tiny models take N x 3 x 8 x 8 (preprocessing: resize 8, crop 8)
CLASSES = 5


def model(nodes, inputs, outputs, inits, name, opsets=(("", 13),), value_info=()):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=inits, value_info=list(value_info))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets],
                          producer_name="resnext/fuzz/make_seeds.py", ir_version=8)
    return m.SerializeToString()


def tiny(dtype=np.float32, softmax=False, paddle=False, batch="N"):
    """Conv 3->4 (3x3) -> Relu -> GlobalAveragePool -> Flatten -> head -> [Softmax]."""
    rng = np.random.default_rng(7)
    et = TensorProto.FLOAT16 if dtype == np.float16 else TensorProto.FLOAT
    wc = (rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(dtype)
    bc = (rng.standard_normal(4) * 0.1).astype(dtype)
    wf = (rng.standard_normal((CLASSES, 4)) * 0.5).astype(dtype)
    bf = (rng.standard_normal(CLASSES) * 0.1).astype(dtype)
    nodes = [
        helper.make_node("Conv", ["x", "wc", "bc"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"], axis=1),
    ]
    head = "logits" if softmax else "y"
    if paddle:
        wf = wf.T.copy()
        nodes += [helper.make_node("MatMul", ["f", "wf"], ["mm"]),
                  helper.make_node("Add", ["mm", "bf"], [head])]
    else:
        nodes += [helper.make_node("Gemm", ["f", "wf", "bf"], [head], transB=1)]
    if softmax:
        nodes += [helper.make_node("Softmax", ["logits"], ["y"], axis=1)]
    inits = [numpy_helper.from_array(a, n) for a, n in ((wc, "wc"), (bc, "bc"), (wf, "wf"), (bf, "bf"))]
    return model(nodes, [helper.make_tensor_value_info("x", et, [batch, 3, SIDE, SIDE])],
                 [helper.make_tensor_value_info("y", et, [batch, CLASSES])], inits, "tiny")


def not_classifier():
    w = np.ones((2, 3, 1, 1), np.float32)
    return model([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[1, 1])],
                 [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, SIDE, SIDE])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, SIDE, SIDE])],
                 [numpy_helper.from_array(w, "w")], "not_classifier")


def bad_rank():
    w = np.ones((6, CLASSES), np.float32)
    return model([helper.make_node("MatMul", ["x", "w"], ["y"])],
                 [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", CLASSES])],
                 [numpy_helper.from_array(w, "w")], "bad_rank")


def int_input():
    return model([helper.make_node("Cast", ["x"], ["c"], to=TensorProto.FLOAT),
                  helper.make_node("GlobalAveragePool", ["c"], ["p"]),
                  helper.make_node("Flatten", ["p"], ["y"], axis=1)],
                 [helper.make_tensor_value_info("x", TensorProto.UINT8, ["N", 3, SIDE, SIDE])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], [], "int_input")


def unsupported_op():
    return model([helper.make_node("GlobalAveragePool", ["x"], ["p"]),
                  helper.make_node("Flatten", ["p"], ["f"], axis=1),
                  helper.make_node("Foo", ["f"], ["y"], domain="com.example")],
                 [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, SIDE, SIDE])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], [], "unsupported",
                 opsets=(("", 13), ("com.example", 1)))


def image(fmt, size=(6, 5), mode="RGB", **kw):
    rng = np.random.default_rng(3)
    chans = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    arr = rng.integers(0, 256, (size[1], size[0], chans), dtype=np.uint8)
    img = Image.fromarray(arr[..., 0] if chans == 1 else arr, mode)
    out = io.BytesIO()
    img.save(out, fmt, **kw)
    return out.getvalue()


def palette_png():
    out = io.BytesIO()
    Image.open(io.BytesIO(image("PNG"))).convert("P").save(out, "PNG")
    return out.getvalue()


def jpeg_with_orientation(orientation):
    img = Image.fromarray(np.random.default_rng(4).integers(0, 256, (5, 7, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes(), quality=80)
    return out.getvalue()


def png_bomb(width, height):
    """A valid 1x1 PNG whose IHDR claims width x height (CRC fixed up)."""
    import zlib
    b = bytearray(image("PNG", (1, 1)))
    b[16:20] = struct.pack(">I", width)
    b[20:24] = struct.pack(">I", height)
    b[29:33] = struct.pack(">I", zlib.crc32(bytes(b[12:29])) & 0xFFFFFFFF)
    return bytes(b)


def pixel_seed(fmt, width, height, stride, rotation, payload_len):
    """The pixel_buffer target's input layout: a 12-byte header, then the pixel bytes."""
    header = struct.pack("<HHHBBI", width, height, stride, fmt, rotation, 0)
    rng = np.random.default_rng(width * 31 + height)
    return header + rng.integers(0, 256, payload_len, dtype=np.uint8).tobytes()


def write(target, name, data):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    # image_decode: encoded images, one per decoder path.
    write("image_decode", "rgb.png", image("PNG"))
    write("image_decode", "rgba.png", image("PNG", mode="RGBA"))
    write("image_decode", "grey.png", image("PNG", mode="L"))
    write("image_decode", "palette.png", palette_png())
    write("image_decode", "rgb.jpg", image("JPEG", quality=85))
    write("image_decode", "grey.jpg", image("JPEG", mode="L"))
    write("image_decode", "progressive.jpg", image("JPEG", (9, 9), progressive=True))
    write("image_decode", "exif6.jpg", jpeg_with_orientation(6))
    write("image_decode", "exif3.jpg", jpeg_with_orientation(3))
    write("image_decode", "rgb.bmp", image("BMP"))
    write("image_decode", "rgba.bmp", image("BMP", mode="RGBA"))
    write("image_decode", "lossless.webp", image("WEBP", lossless=True))
    write("image_decode", "lossy.webp", image("WEBP", quality=50))
    write("image_decode", "bomb.png", png_bomb(100_000, 100_000))

    # pixel_buffer: header (width, height, stride, format, rotation) + bytes.
    for fmt, bpp in ((0, 3), (1, 3), (2, 4), (3, 4)):
        write("pixel_buffer", f"fmt{fmt}.bin", pixel_seed(fmt, 5, 3, 0, fmt % 4, 5 * 3 * bpp))
        write("pixel_buffer", f"fmt{fmt}_stride.bin", pixel_seed(fmt, 4, 4, 4 * bpp + 3, 1, (4 * bpp + 3) * 4))
    write("pixel_buffer", "nv21.bin", pixel_seed(4, 6, 4, 0, 1, 6 * 4 * 3 // 2))
    write("pixel_buffer", "nv12_stride.bin", pixel_seed(5, 4, 4, 8, 3, 8 * 6))
    write("pixel_buffer", "short.bin", pixel_seed(0, 9, 9, 0, 0, 10))

    # model_load: the tiny classifier in its variants, and models that must be refused.
    good = tiny()
    write("model_load", "tiny.onnx", good)
    write("model_load", "tiny_softmax_paddle.onnx", tiny(softmax=True, paddle=True, batch="DynamicDimension.0"))
    write("model_load", "tiny_fp16.onnx", tiny(np.float16))
    write("model_load", "tiny_fixed_batch.onnx", tiny(batch=1))
    write("model_load", "not_classifier.onnx", not_classifier())
    write("model_load", "bad_rank.onnx", bad_rank())
    write("model_load", "int_input.onnx", int_input())
    write("model_load", "unsupported_op.onnx", unsupported_op())
    write("model_load", "truncated.onnx", good[: len(good) // 2])

    # c_abi: the target embeds tiny.onnx; seeds are call sequences (see src/targets/c_abi.rs).
    os.makedirs(os.path.join(HERE, "models"), exist_ok=True)
    with open(os.path.join(HERE, "models", "tiny.onnx"), "wb") as f:
        f.write(good)
    rng = np.random.default_rng(11)
    png = image("PNG", (5, 4))
    write("c_abi", "png_classify.bin", bytes([0x00, 0x03, 0x05, 0x06, 0x0A]) + png)
    for i in range(4):
        write("c_abi", f"random{i}.bin", rng.integers(0, 256, 64 + 32 * i, dtype=np.uint8).tobytes())
    # Every ONNX Runtime / TensorRT setter and the kernel choice on valid options, then the
    # ONNX Runtime backend (from a path that is not a runtime) and a classifier_new.
    u32 = lambda v: int(v).to_bytes(4, "little")
    write("c_abi", "ort_setters.bin", b"".join([
        bytes([0, 0]), bytes([2, 0]),
        bytes([25, 0]) + u32(2) + u32(0),             # execution_provider TensorRT, device 0
        bytes([26, 0]) + u32(1),                      # fallback: next provider
        bytes([27, 0]) + u32(1) + u32(0) + bytes([0]),  # tensorrt_precision fp16, no table
        bytes([28, 0]) + (1 << 30).to_bytes(8, "little") + u32(1),  # workspace 1 GiB, DLA 1
        bytes([29, 0, 0, 0]),                         # cache dirs NULL, NULL
        bytes([30, 0]) + u32(1) + u32(2) + u32(4),    # batch profile 1/2/4
        bytes([31, 0]) + u32(4) + u32(1),             # scalar kernels, truncated images allowed
        bytes([13, 0, 1, 0]),                         # classifier_new (tract): loads
        bytes([11, 0]) + u32(1), bytes([24, 0, 1]),   # backend ORT, library "/nonexistent/..."
        bytes([13, 0, 1, 1]),                         # classifier_new: BACKEND_UNAVAILABLE
    ]))

    # qgemm: a 12-byte header (m, n, k lo/hi, A and C padding, out zero point, clamp mode,
    # clamp bounds, flags, residual padding) and values (see fuzz/src/targets/qgemm.rs).
    def qgemm_seed(m, n, k, pad_a, pad_c, zp, clamp, flags, count):
        header = bytes([m - 1, n - 1, (k - 1) & 0xFF, (k - 1) >> 8, pad_a, pad_c, zp, clamp, 10, 200,
                        flags, 1])
        return header + rng.integers(0, 256, count, dtype=np.uint8).tobytes()
    write("qgemm", "one.bin", qgemm_seed(1, 1, 1, 0, 0, 0, 0, 0, 16))
    write("qgemm", "panels.bin", qgemm_seed(33, 17, 65, 1, 3, 128, 1, 0, 4096))
    write("qgemm", "narrow_deep.bin", qgemm_seed(40, 8, 300, 4, 0, 7, 2, 0, 4096))
    write("qgemm", "residual.bin", qgemm_seed(32, 64, 128, 0, 2, 99, 0, 2, 4096))
    write("qgemm", "saturating.bin", qgemm_seed(5, 80, 320, 2, 1, 255, 0, 1, 2048))
    for name in sorted(os.listdir(SEEDS)):
        files = os.listdir(os.path.join(SEEDS, name))
        size = sum(os.path.getsize(os.path.join(SEEDS, name, f)) for f in files)
        print(f"{name}: {len(files)} seeds, {size} bytes")


if __name__ == "__main__":
    main()
