"""The `resnext` CLI's output contract, checked against ONNX Runtime and the OpenCV reference."""
import json
import pathlib
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools"))
import preprocess_ref  # noqa: E402
import reference  # noqa: E402

PHOTOS = ["chelsea.png", "coffee.png", "astronaut.png", "motorcycle_left.png", "rocket.jpg"]


@pytest.mark.parametrize("preset", ["wsl-224", "fix-320"])
@pytest.mark.parametrize("photo", PHOTOS)
def test_preprocess_matches_opencv(run_cli, testdata, tmp_path, photo, preset):
    out = tmp_path / "t.npy"
    run_cli("preprocess", "--image", testdata / "preprocess" / photo, "--preset", preset, "--out", out)
    ours = np.load(out)
    resize_short, crop = preprocess_ref.PRESETS[preset]
    ref = preprocess_ref.preprocess_rgb(
        preprocess_ref.decode_rgb((testdata / "preprocess" / photo).read_bytes()),
        resize_short, crop, preprocess_ref.DEFAULT_MEAN, preprocess_ref.DEFAULT_STD)
    assert ours.shape == ref.shape == (1, 3, crop, crop)
    assert ours.dtype == np.float32
    diff = np.abs(ours - ref)
    if photo.endswith(".jpg"):  # JPEG decoders differ slightly from libjpeg-turbo
        assert diff.mean() <= 0.01 and diff.max() <= 0.1, (diff.mean(), diff.max())
    else:
        assert diff.max() <= 0.02, diff.max()


def test_preprocess_overrides(run_cli, testdata, tmp_path):
    out = tmp_path / "t.npy"
    run_cli("preprocess", "--image", testdata / "preprocess" / "coffee.png", "--resize-short", "100",
            "--crop", "96", "--mean", "0.5,0.5,0.5", "--std", "0.5,0.5,0.5", "--out", out)
    ours = np.load(out)
    ref = preprocess_ref.preprocess_rgb(
        preprocess_ref.decode_rgb((testdata / "preprocess" / "coffee.png").read_bytes()),
        100, 96, [0.5] * 3, [0.5] * 3)
    assert ours.shape == (1, 3, 96, 96)
    assert np.abs(ours - ref).max() <= 0.02


def test_classify_json_matches_onnxruntime(run_cli, testdata):
    model = testdata / "models" / "r50_torch.onnx"
    photos = [testdata / "preprocess" / p for p in PHOTOS[:3]]
    proc = run_cli("classify", "--model", model, "--json", "--top-k", "5", *photos)
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == len(photos)
    for line, photo in zip(lines, photos):
        obj = json.loads(line)
        assert obj["image"] == str(photo)
        assert set(obj["timings_ms"]) == {"decode", "preprocess", "inference", "postprocess"}
        assert all(v >= 0 for v in obj["timings_ms"].values())
        preds = obj["predictions"]
        assert len(preds) == 5
        assert all(set(p) == {"class_id", "label", "score"} for p in preds)
        scores = [p["score"] for p in preds]
        assert scores == sorted(scores, reverse=True)
        # The same image through OpenCV preprocessing and ONNX Runtime.
        x = preprocess_ref.preprocess_rgb(preprocess_ref.decode_rgb(photo.read_bytes()), 256, 224,
                                          preprocess_ref.DEFAULT_MEAN, preprocess_ref.DEFAULT_STD)
        logits = reference.run(str(model), x)[0]
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        assert preds[0]["class_id"] == int(np.argmax(probs))
        for p in preds:
            assert abs(p["score"] - probs[p["class_id"]]) <= 1e-2
        assert preds[0]["label"] != ""


def test_classify_batch_flag_and_text_output(run_cli, testdata):
    model = testdata / "models" / "r50_paddle.onnx"
    photos = [testdata / "preprocess" / p for p in PHOTOS[:2]]
    single = [json.loads(l) for l in run_cli("classify", "--model", model, "--json", *photos).stdout.splitlines()]
    batch = [json.loads(l) for l in run_cli("classify", "--model", model, "--json", "--batch", *photos).stdout.splitlines()]
    for a, b in zip(single, batch):
        assert [p["class_id"] for p in a["predictions"]] == [p["class_id"] for p in b["predictions"]]
    text = run_cli("classify", "--model", model, photos[0]).stdout
    assert "1." in text and "timings:" in text


@pytest.mark.parametrize("name,kind,precision,input_name", [
    ("r50_torch", "logits", "fp32", "input"),
    ("r50_paddle", "probabilities", "fp32", "x"),
    ("r50_fp16", "logits", "fp16", "input"),
    ("r50_int8", "logits", "int8", "input"),
    ("r50_paddle_int8", "probabilities", "int8", "x"),
    ("r50_paddle_int8_s8", "probabilities", "int8", "x"),
])
def test_info_json(run_cli, testdata, name, kind, precision, input_name):
    obj = json.loads(run_cli("info", "--model", testdata / "models" / f"{name}.onnx", "--json").stdout)
    assert obj["output_kind"] == kind
    assert obj["precision"] == precision
    assert obj["classes"] == 1000
    assert obj["inputs"][0]["name"] == input_name
    assert obj["inputs"][0]["shape"][1:] == [3, 224, 224]
    assert isinstance(obj["inputs"][0]["shape"][0], str)  # symbolic batch
    assert 24e6 < obj["parameters"] < 26e6  # ResNeXt50_32x4d: 25.03 M
    text = run_cli("info", "--model", testdata / "models" / f"{name}.onnx").stdout
    assert f"precision:    {precision}" in text


def test_info_tiny_model_at_its_own_resolution(run_cli, testdata):
    obj = json.loads(run_cli("info", "--model", testdata / "models" / "tiny_torch.onnx", "--json").stdout)
    assert (obj["height"], obj["width"], obj["classes"]) == (64, 64, 10)


def test_cpu_kernels_flag_picks_the_kernels(run_cli, testdata):
    """`--cpu-kernels` reaches the classifier (`info --json` names what runs); `avx2` runs the
    AVX2 kernels even on an AVX-512 CPU and is refused where the CPU has no AVX2; an unknown
    name is a usage error that lists the choices."""
    def info(model, kernels):
        return run_cli("info", "--model", testdata / "models" / model, "--cpu-kernels", kernels, "--json",
                       check=False)
    assert json.loads(info("tiny_int8.onnx", "scalar").stdout)["compute"].startswith(
        "int8 on scalar reference kernels: 17 of 17 ")
    avx2 = info("tiny_int8.onnx", "avx2")
    if avx2.returncode == 0:
        assert json.loads(avx2.stdout)["compute"].startswith("int8 on AVX2: 17 of 17 ")
    else:
        assert "[BACKEND_UNAVAILABLE]" in avx2.stderr and "avx2" in avx2.stderr, avx2.stderr
    bad = info("tiny_int8.onnx", "fast")
    assert bad.returncode == 1 and "[INVALID_ARGUMENT]" in bad.stderr, bad
    assert all(name in bad.stderr for name in ["auto", "off", "avx512-vnni", "amx-int8", "scalar", "avx2"])


@pytest.mark.parametrize("args,needle", [
    (["info", "--model", "no/such/model.onnx"], "IO"),
    (["info", "--model", "{testdata}/models/random.onnx"], "MODEL_DECODE"),
    (["info", "--model", "{testdata}/models/truncated.onnx"], "MODEL_DECODE"),
    (["info", "--model", "{testdata}/models/not_classifier.onnx"], "MODEL_UNSUPPORTED"),
    (["info", "--model", "{testdata}/models/unsupported_op.onnx"], "MODEL_UNSUPPORTED"),
    (["classify", "--model", "{testdata}/models/r50_torch.onnx", "{testdata}/models/random.onnx"], "IMAGE_DECODE"),
    (["classify", "--model", "{testdata}/models/r50_torch.onnx", "--preset", "fix-320", "{testdata}/preprocess/coffee.png"], "INVALID_ARGUMENT"),
    (["classify", "--model", "{testdata}/models/r50_torch.onnx", "--mean", "1,2", "{testdata}/preprocess/coffee.png"], "INVALID_ARGUMENT"),
    (["classify", "--model", "{testdata}/models/tiny_torch.onnx", "--resize-short", "73", "--crop", "64", "{testdata}/preprocess/coffee.png"], "LABELS"),
    (["preprocess", "--image", "{testdata}/models/random.onnx", "--out", "/tmp/x.npy"], "IMAGE_DECODE"),
])
def test_errors_are_one_line_and_nonzero(run_cli, testdata, args, needle):
    proc = run_cli(*[a.format(testdata=testdata) for a in args], check=False)
    assert proc.returncode == 1, proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("resnext: error:") and f"[{needle}]" in lines[0], lines[0]
    assert "panicked" not in proc.stderr and "RUST_BACKTRACE" not in proc.stderr


@pytest.mark.parametrize("photo", ["rocket.jpg", "coffee.png"])
def test_truncated_images_are_refused_unless_allowed(run_cli, testdata, tmp_path, photo):
    """Prefixes of real photographs fail with IMAGE_DECODE saying "truncated" in classify and
    preprocess; --allow-truncated-images classifies them as partial frames."""
    data = (testdata / "preprocess" / photo).read_bytes()
    model = testdata / "models" / "r50_torch.onnx"
    cuts = [3000, len(data) // 2, len(data) - 2]
    files = []
    for cut in cuts:
        f = tmp_path / f"{cut}-{photo}"
        f.write_bytes(data[:cut])
        files.append(f)
        proc = run_cli("preprocess", "--image", f, "--out", tmp_path / "t.npy", check=False)
        assert proc.returncode == 1 and "[IMAGE_DECODE]" in proc.stderr and "truncated" in proc.stderr, proc.stderr
        run_cli("preprocess", "--allow-truncated-images", "--image", f, "--out", tmp_path / "t.npy")
    proc = run_cli("classify", "--model", model, "--json", *files, check=False)
    assert proc.returncode != 0 and proc.stdout.strip() == "", proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == len(files), proc.stderr
    assert all("the image data is truncated" in l and l.endswith("[IMAGE_DECODE]") for l in lines), lines
    proc = run_cli("classify", "--model", model, "--json", "--allow-truncated-images", *files)
    assert len(proc.stdout.strip().splitlines()) == len(files)


def test_usage_errors_exit_2(run_cli):
    proc = run_cli("classify", check=False)
    assert proc.returncode == 2


def _reference_top5(model, photo):
    x = preprocess_ref.preprocess_rgb(preprocess_ref.decode_rgb(photo.read_bytes()), 256, 224,
                                      preprocess_ref.DEFAULT_MEAN, preprocess_ref.DEFAULT_STD)
    return list(np.argsort(-reference.run(str(model), x)[0])[:5])


def test_eval_list_and_directory(run_cli, testdata, tmp_path):
    model = testdata / "models" / "r50_torch.onnx"
    photos = [testdata / "preprocess" / p for p in ("chelsea.png", "coffee.png", "astronaut.png")]
    top5 = [_reference_top5(model, p) for p in photos]
    # List file: two labelled with ONNX Runtime's top-1, one with its 3rd choice.
    labels = [top5[0][0], top5[1][0], top5[2][2]]
    listing = tmp_path / "val.txt"
    listing.write_text("".join(f"{p} {l}\n" for p, l in zip(photos, labels)))
    obj = json.loads(run_cli("eval", "--model", model, "--data", listing, "--json", "--batch-size", "2").stdout)
    assert obj["images"] == 3 and obj["failed"] == 0
    assert abs(obj["top1"] - 2 / 3) < 1e-6 and obj["top5"] == 1.0
    assert obj["images_per_s"] > 0
    # Directory layout with numeric class folders.
    for photo, label in zip(photos, labels):
        (tmp_path / "val" / str(label)).mkdir(parents=True, exist_ok=True)
        (tmp_path / "val" / str(label) / photo.name).write_bytes(photo.read_bytes())
    obj = json.loads(run_cli("eval", "--model", model, "--data", tmp_path / "val", "--json").stdout)
    assert obj["images"] == 3 and abs(obj["top1"] - 2 / 3) < 1e-6
    # A corrupt image is reported and counted, the others still evaluated.
    (tmp_path / "val" / str(labels[0]) / "broken.png").write_bytes(b"not a png")
    proc = run_cli("eval", "--model", model, "--data", tmp_path / "val", "--json", check=False)
    assert proc.returncode == 1 and "IMAGE_DECODE" in proc.stderr
    assert json.loads(proc.stdout)["failed"] == 1


def test_bench_json(run_cli, testdata):
    obj = json.loads(run_cli("bench", "--model", testdata / "models" / "tiny_torch.onnx", "--batch", "1,4",
                             "--iters", "3", "--warmup", "1", "--threads", "1", "--json").stdout)
    assert set(obj) >= {"model", "backend", "threads", "load_ms", "first_result_ms", "peak_rss_mb", "results"}
    assert [r["batch"] for r in obj["results"]] == [1, 4]
    for r in obj["results"]:
        assert r["median_ms"] > 0 and r["p90_ms"] >= r["median_ms"] and r["images_per_s"] > 0
    assert obj["peak_rss_mb"] > 1


def test_classify_score_threshold(run_cli, testdata):
    model = testdata / "models" / "r50_torch.onnx"
    photo = testdata / "preprocess" / "chelsea.png"
    everything = json.loads(run_cli("classify", "--model", model, "--json", photo).stdout)["predictions"]
    assert len(everything) == 5 and everything[1]["score"] > everything[2]["score"]
    cut = (everything[1]["score"] + everything[2]["score"]) / 2
    kept = json.loads(run_cli("classify", "--model", model, "--json", "--score-threshold", cut,
                              photo).stdout)["predictions"]
    assert [p["class_id"] for p in kept] == [p["class_id"] for p in everything[:2]]
    proc = run_cli("classify", "--model", model, "--score-threshold", "1.5", photo, check=False)
    assert proc.returncode == 1 and "[INVALID_ARGUMENT]" in proc.stderr and "score_threshold" in proc.stderr, proc


def test_classify_region_of_interest(run_cli, testdata, tmp_path):
    """--roi classifies a region exactly as the same region cut out beforehand."""
    from PIL import Image
    model = testdata / "models" / "r50_torch.onnx"
    photo = testdata / "preprocess" / "chelsea.png"
    crop = tmp_path / "crop.png"
    Image.open(photo).convert("RGB").crop((40, 20, 40 + 200, 20 + 180)).save(crop)
    whole = json.loads(run_cli("classify", "--model", model, "--json", crop).stdout)["predictions"]
    region = json.loads(run_cli("classify", "--model", model, "--json", "--roi", "40,20,200,180",
                                photo).stdout)["predictions"]
    assert [(p["class_id"], p["score"]) for p in region] == [(p["class_id"], p["score"]) for p in whole]
    batch = [json.loads(line)["predictions"] for line in run_cli(
        "classify", "--model", model, "--json", "--batch", "--roi", "40,20,200,180", photo,
        photo).stdout.splitlines()]
    assert all([p["class_id"] for p in b] == [p["class_id"] for p in whole] for b in batch)
    proc = run_cli("classify", "--model", model, "--roi", "0,0,5000,10", photo, check=False)
    assert proc.returncode == 1 and "[INVALID_ARGUMENT]" in proc.stderr, proc
    proc = run_cli("classify", "--model", model, "--roi", "1,2,3", photo, check=False)
    assert proc.returncode == 2 and "X,Y,WIDTH,HEIGHT" in proc.stderr, proc
