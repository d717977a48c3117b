"""The benchmark tooling: `resnext bench --plot/--profile/--image`, tools/bench_peers.py."""
import json
import os
import subprocess
import sys
import xml.dom.minidom

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_bench_plot_profile_and_image(run_cli, testdata, tmp_path):
    model = testdata / "models" / "tiny_torch.onnx"
    svg = tmp_path / "chart.svg"
    obj = json.loads(run_cli("bench", "--model", model, "--batch", "1,3", "--iters", "2",
                             "--warmup", "0", "--threads", "2", "--plot", svg, "--json").stdout)
    assert [r["batch"] for r in obj["results"]] == [1, 3]
    assert all(r["stages"]["inference_ms"] > 0 for r in obj["results"])
    xml.dom.minidom.parse(str(svg))
    prof = json.loads(run_cli("bench", "--model", model, "--batch", "1", "--threads", "1",
                              "--profile", "2", "--json").stdout)["profile"]
    assert prof["total_ms"] > 0 and any(o["name"] == "OptMatMul" for o in prof["by_op"])
    bad = run_cli("bench", "--model", model, "--plot", tmp_path / "chart.png", check=False)
    assert bad.returncode == 1 and "SVG" in bad.stderr


def test_bench_peers_matches_bench_json(testdata):
    model = testdata / "models" / "tiny_torch.onnx"
    out = subprocess.run([sys.executable, os.path.join(REPO, "tools", "bench_peers.py"),
                          "--model", str(model), "--batch", "1,2", "--iters", "2",
                          "--warmup", "0", "--threads", "1", "--json"],
                         capture_output=True, text=True, check=True, timeout=600).stdout
    obj = json.loads(out)
    assert set(obj) >= {"model", "backend", "threads", "load_ms", "first_result_ms",
                        "peak_rss_mb", "results"}
    assert obj["backend"] == "onnxruntime" and obj["threads"] == 1
    assert [r["batch"] for r in obj["results"]] == [1, 2]
    assert obj["first_result_ms"] >= obj["load_ms"] > 0


def test_synthetic_input_is_the_rust_sequence():
    sys.path.insert(0, os.path.join(REPO, "tools"))
    import bench_peers

    # The first values of src/bin/resnext/bench.rs's LCG image.
    x = bench_peers.synthetic_image(3)
    assert abs(float(x[0]) - (-0.11153483)) < 1e-7 and abs(float(x[1]) - (-1.1344204)) < 1e-6
