"""Python gives the Rust API's results: the same predictions and scores as the CLI (the Rust
API's thin front end) on the same photographs and models, for every kind of input."""
import numpy as np
import pytest
from PIL import Image

import resnext
from conftest import JPEGS, PNGS, TINY, cli_classify, triples

TINY_MODELS = ["tiny_torch", "tiny_paddle", "tiny_fp16", "tiny_fp16_io32", "tiny_int8", "tiny_paddle_int8"]
TINY_FLAGS = ["--resize-short", "73", "--crop", "64", "--threads", "1", "--allow-label-mismatch"]


def _same(ours, theirs):
    """Equal class ids and labels, scores equal to the JSON's float32 printing."""
    assert [(c, l) for c, l, _ in ours] == [(c, l) for c, l, _ in theirs]
    np.testing.assert_allclose([s for *_, s in ours], [s for *_, s in theirs], rtol=0, atol=1e-7)


@pytest.mark.parametrize("model", TINY_MODELS)
def test_small_models_match_the_cli(cli, models, photos, model):
    images = [photos / p for p in PNGS + JPEGS]
    expected = cli_classify(cli, models / f"{model}.onnx", images, *TINY_FLAGS, "--labels", "/dev/null")
    classifier = resnext.Classifier(models / f"{model}.onnx", threads=1, resize_short=73, crop=64,
                                    labels=[], allow_label_mismatch=True)
    assert classifier.info.precision == ("fp16" if "fp16" in model else "int8" if "int8" in model else "fp32")
    for image, theirs in zip(images, expected):
        _same(triples(classifier.classify(image)), theirs)


@pytest.mark.parametrize("model", ["r50_torch", "r50_int8"])
def test_imagenet_models_match_the_cli(cli, models, photos, model):
    images = [photos / p for p in PNGS[:2] + JPEGS[:1]]
    expected = cli_classify(cli, models / f"{model}.onnx", images)
    classifier = resnext.Classifier(models / f"{model}.onnx")
    assert len(classifier.labels) == 1000
    for image, theirs in zip(images, expected):
        ours = triples(classifier.classify(image))
        assert len(ours) == 5
        _same(ours, theirs)
    # A batch equals the CLI's batched run.
    batch = cli_classify(cli, models / f"{model}.onnx", images, "--batch")
    for result, theirs in zip(classifier.classify_batch(images), batch):
        _same(triples(result), theirs)


def test_preprocess_matches_the_cli(cli, photos, tiny, tmp_path):
    for photo in PNGS + JPEGS:
        out = tmp_path / "t.npy"
        cli("preprocess", "--image", photos / photo, "--resize-short", "73", "--crop", "64", "--out", out)
        ours = tiny.preprocess(photos / photo)
        assert ours.dtype == np.float32 and ours.shape == (1, 3, 64, 64)
        np.testing.assert_array_equal(ours, np.load(out))


@pytest.mark.parametrize("photo", PNGS)
def test_path_bytes_numpy_and_pil_agree(tiny, photos, photo):
    path = photos / photo
    reference = triples(tiny.classify(path))
    rgb = np.asarray(Image.open(path).convert("RGB"))
    assert triples(tiny.classify(str(path))) == reference
    assert triples(tiny.classify(path.read_bytes())) == reference
    assert triples(tiny.classify(bytearray(path.read_bytes()))) == reference
    assert triples(tiny.classify(rgb)) == reference
    assert triples(tiny.classify(Image.open(path))) == reference
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    assert triples(tiny.classify(bgr, pixel_format="bgr")) == reference
    assert triples(tiny.classify(rgb[..., ::-1], pixel_format="bgr")) == reference  # strided view
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    assert triples(tiny.classify(rgba)) == reference
    assert triples(tiny.classify(Image.fromarray(rgba))) == reference
    assert triples(tiny.classify(np.ascontiguousarray(rgba[..., [2, 1, 0, 3]]), pixel_format="bgra")) == reference
    np.testing.assert_array_equal(tiny.preprocess(rgb), tiny.preprocess(path))


def test_views_are_read_in_place_or_copied_with_the_same_result(tiny, photos):
    rgb = np.asarray(Image.open(photos / "astronaut.png").convert("RGB"))
    crop = rgb[30:400, 17:333]          # rows contiguous: read in place with their stride
    assert not crop.flags.c_contiguous
    np.testing.assert_array_equal(tiny.preprocess(crop), tiny.preprocess(np.ascontiguousarray(crop)))
    every_other = rgb[::2, ::3]          # strided pixels: copied once
    np.testing.assert_array_equal(tiny.preprocess(every_other),
                                  tiny.preprocess(np.ascontiguousarray(every_other)))
    fortran = np.asfortranarray(rgb)    # contiguous, but not in C order: copied
    np.testing.assert_array_equal(tiny.preprocess(fortran), tiny.preprocess(rgb))
    upside_down = rgb[::-1]             # negative stride
    np.testing.assert_array_equal(tiny.preprocess(upside_down), tiny.preprocess(np.ascontiguousarray(upside_down)))
    # A rotated buffer equals numpy's rotation of the image (clockwise).
    for degrees, k in [(90, -1), (180, 2), (270, 1)]:
        np.testing.assert_array_equal(tiny.preprocess(rgb, rotation=degrees),
                                      tiny.preprocess(np.ascontiguousarray(np.rot90(rgb, k))))


@pytest.fixture(scope="module")
def wsl224(models):
    """A 224 x 224 classifier, used for its WSL-224 preprocessing."""
    return resnext.Classifier(models / "r50_int8.onnx", threads=1)


def test_raw_frames_match_the_opencv_reference(photos, testdata, wsl224):
    """The fixtures' raw frames (RGB/BGR/RGBA/BGRA with padded rows, NV21/NV12), every
    rotation, as bytes with width/height/row_stride and as numpy views of the padded buffer,
    against the fixtures' OpenCV conversion (the Rust tests' tolerance)."""
    import json
    manifest = json.loads((photos / "manifest.json").read_text())
    cases = [c for c in manifest if c["kind"] == "raw" and c["preset"] == "wsl-224"]
    assert {c["format"] for c in cases} >= {"rgb8", "bgr8", "rgba8", "bgra8", "nv21", "nv12"}
    for case in cases:
        frame = (testdata / case["file"]).read_bytes()
        fmt, w, h, stride = case["format"], case["width"], case["height"], case["stride"]
        reference = np.load(testdata / case["reference"])
        ours = wsl224.preprocess(frame, pixel_format=fmt, width=w, height=h, rotation=case["rotation"],
                                 row_stride=stride)
        assert np.abs(ours.reshape(reference.shape) - reference).max() <= 0.02, case
        flat = np.frombuffer(frame, np.uint8)
        if fmt in ("nv21", "nv12"):
            view = flat[: stride * h * 3 // 2].reshape(h * 3 // 2, stride)[:, :w]
        else:
            c = 4 if fmt.endswith("a8") else 3
            view = np.lib.stride_tricks.as_strided(flat, (h, w, c), (stride, c, 1))
        np.testing.assert_array_equal(
            wsl224.preprocess(view, pixel_format=fmt[:-1] if fmt.endswith("8") else fmt,
                              rotation=case["rotation"]), ours)


def test_tensor_paths_agree(tiny, photos):
    images = [photos / p for p in PNGS]
    tensor = np.concatenate([tiny.preprocess(i) for i in images])
    by_tensor = tiny.classify_tensor(tensor)
    by_batch = tiny.classify_batch(images)
    for a, b in zip(by_tensor, by_batch):
        assert triples(a) == triples(b)
    raw = tiny.run_raw(tensor)
    assert raw.shape == (len(images), 10) and raw.dtype == np.float32
    probs = np.exp(raw - raw.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    for row, result in zip(probs, by_batch):
        assert [p.class_id for p in result] == list(np.argsort(-row, kind="stable")[:5])
        np.testing.assert_allclose([p.score for p in result], np.sort(row)[::-1][:5], rtol=1e-5)
    # Fortran-ordered tensor: copied, same result.
    assert [triples(r) for r in tiny.classify_tensor(np.asfortranarray(tensor))] == [triples(r) for r in by_tensor]
    # A batch equals its images one by one (up to the batched plan's rounding).
    for image, result in zip(images, by_batch):
        single = tiny.classify(image)
        assert [p.class_id for p in single] == [p.class_id for p in result]
        np.testing.assert_allclose([p.score for p in single], [p.score for p in result], atol=1e-5)


def test_onnx_runtime_backend_matches_the_cli(cli, models, photos):
    import os
    if not os.environ.get("ORT_DYLIB_PATH"):
        pytest.skip("ORT_DYLIB_PATH not set (scripts/test.sh sets it)")
    images = [photos / p for p in PNGS[:2]]
    expected = cli_classify(cli, models / "tiny_torch.onnx", images, *TINY_FLAGS, "--labels", "/dev/null",
                            "--backend", "ort")
    classifier = resnext.Classifier(models / "tiny_torch.onnx", backend="ort", threads=1, resize_short=73,
                                    crop=64, labels=[], allow_label_mismatch=True)
    assert classifier.info.backend == "ort" and classifier.info.provider == "cpu"
    for image, theirs in zip(images, expected):
        _same(triples(classifier.classify(image)), theirs)


def test_model_from_bytes_and_pathlike(models, photos, tiny):
    reference = triples(tiny.classify(photos / "coffee.png"))
    from_bytes = resnext.Classifier((models / "tiny_torch.onnx").read_bytes(), threads=1, **TINY)
    assert triples(from_bytes.classify(photos / "coffee.png")) == reference
    from_str = resnext.Classifier(str(models / "tiny_torch.onnx"), threads=1, **TINY)
    assert triples(from_str.classify(photos / "coffee.png")) == reference
