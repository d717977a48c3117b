"""Memory stays flat over 1,000 calls, and bad models or images never crash the interpreter."""
import random
import subprocess
import sys
import textwrap

import numpy as np

import resnext
from conftest import TINY, rss_bytes


def test_rss_is_flat_over_a_thousand_calls(models, photos):
    classifier = resnext.Classifier(models / "tiny_torch.onnx", threads=1, **TINY)
    path = photos / "coffee.png"
    encoded = path.read_bytes()
    array = classifier.preprocess(path)
    rgb = np.zeros((120, 160, 3), np.uint8)

    def calls(n):
        for i in range(n):
            kind = i % 4
            if kind == 0:
                classifier.classify(path)
            elif kind == 1:
                classifier.classify(encoded)
            elif kind == 2:
                classifier.classify(rgb)
            else:
                classifier.classify_tensor(array)
            try:
                classifier.classify(b"not an image")
            except resnext.ImageError:
                pass

    calls(200)  # allocator and plan caches warm
    before = rss_bytes()
    calls(1000)
    growth = rss_bytes() - before
    assert growth < 8 << 20, f"RSS grew by {growth / 2**20:.1f} MiB over 1,000 calls"


def test_bad_models_and_images_never_crash(models, photos, tmp_path):
    """In a child interpreter: corrupt models (cut, bit-flipped) and images (cut, bit-flipped,
    random) each raise resnext.Error or load; the child exits normally."""
    rng = random.Random(17)
    model = (models / "tiny_torch.onnx").read_bytes()
    bad_models = [model[: rng.randrange(len(model))] for _ in range(6)]
    for _ in range(6):
        b = bytearray(model)
        for _ in range(20):
            b[rng.randrange(len(b))] = rng.randrange(256)
        bad_models.append(bytes(b))
    for i, b in enumerate(bad_models):
        (tmp_path / f"m{i}.onnx").write_bytes(b)
    images = [(photos / p).read_bytes() for p in ["rocket.jpg", "coffee.png"]]
    bad_images = []
    for img in images:
        bad_images += [img[: rng.randrange(len(img))] for _ in range(15)]
        for _ in range(15):
            b = bytearray(img)
            for _ in range(10):
                b[rng.randrange(len(b))] = rng.randrange(256)
            bad_images.append(bytes(b))
    bad_images += [bytes(rng.randrange(256) for _ in range(n)) for n in (1, 10, 1000)]
    for i, b in enumerate(bad_images):
        (tmp_path / f"i{i}.img").write_bytes(b)
    script = textwrap.dedent(f"""
        import pathlib, resnext
        d = pathlib.Path({str(tmp_path)!r})
        outcomes = {{"loaded": 0, "error": 0}}
        for m in sorted(d.glob("m*.onnx")):
            try:
                resnext.Classifier(m, threads=1, resize_short=73, crop=64, labels=False)
                outcomes["loaded"] += 1
            except resnext.Error:
                outcomes["error"] += 1
        c = resnext.Classifier({str(models / "tiny_torch.onnx")!r}, threads=1, resize_short=73, crop=64, labels=False)
        for i in sorted(d.glob("i*.img")):
            for image in (i, i.read_bytes()):
                try:
                    c.classify(image)
                    outcomes["loaded"] += 1
                except resnext.Error:
                    outcomes["error"] += 1
        print(outcomes)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "'error'" in proc.stdout
