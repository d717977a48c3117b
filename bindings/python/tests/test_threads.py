"""One classifier shared by Python threads: the GIL is released during decoding and inference
(another thread makes progress while a call runs), and threaded results equal serial ones."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import resnext
from conftest import JPEGS, PNGS, triples


def test_gil_is_released_while_classifying(models, photos, tiny):
    """While a slow classify (ResNeXt-50, one thread) runs in one thread, the main thread runs a
    whole classify of its own and a pure-Python loop makes progress: with the GIL held
    throughout, neither could happen before the slow call returned."""
    slow = resnext.Classifier(models / "r50_torch.onnx", threads=1)
    slow.classify(photos / "coffee.png")  # warm
    started, finished = threading.Event(), threading.Event()

    def long_call():
        started.set()
        for _ in range(3):
            slow.classify(photos / "astronaut.png")
        finished.set()

    worker = threading.Thread(target=long_call)
    worker.start()
    started.wait()
    time.sleep(0.05)
    assert not finished.is_set()
    fast_results = [tiny.classify(photos / "coffee.png") for _ in range(3)]
    spins = 0
    while spins < 1000:
        spins += 1
    done_before = finished.is_set()
    worker.join()
    assert not done_before, "the main thread could not run while the slow classify held the GIL"
    assert all(len(r) == 5 for r in fast_results)


def test_eight_threads_give_serial_results(models, photos):
    classifier = resnext.Classifier(models / "tiny_int8.onnx", threads=1, resize_short=73, crop=64, labels=False)
    images = [photos / p for p in PNGS + JPEGS]
    arrays = [classifier.preprocess(i) for i in images]
    serial = [triples(classifier.classify(i)) for i in images]
    serial_tensor = [triples(classifier.classify_tensor(a)[0]) for a in arrays]

    def work(k):
        out = []
        for j in range(12):
            i = (k + j) % len(images)
            out.append((i, triples(classifier.classify(images[i])), triples(classifier.classify_tensor(arrays[i])[0])))
        return out

    with ThreadPoolExecutor(8) as pool:
        for results in pool.map(work, range(8)):
            for i, by_path, by_tensor in results:
                assert by_path == serial[i]
                assert by_tensor == serial_tensor[i]


def test_threads_overlap_inside_native_calls(models, photos):
    """Eight threads released together each run one slow call (a batch of four photographs):
    some thread enters its call while another is still inside one. With the GIL held through
    a call, no two calls could overlap: a thread could only read its start time once the
    call before it had returned and released the GIL. (Requiring all eight to have entered
    before the first returned failed once the kernels made a call shorter than the time the
    machine took to start the last thread.)"""
    classifier = resnext.Classifier(models / "r50_int8.onnx", threads=1)
    batch = [photos / p for p in ("coffee.png", "chelsea.png", "astronaut.png", "coffee.png")]
    classifier.classify_batch(batch)
    barrier = threading.Barrier(8)
    spans = []
    lock = threading.Lock()

    def work():
        barrier.wait()
        t0 = time.perf_counter()
        classifier.classify_batch(batch)
        t1 = time.perf_counter()
        with lock:
            spans.append((t0, t1))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spans.sort()
    overlaps = sum(1 for a, b in zip(spans, spans[1:]) if b[0] < a[1])
    assert overlaps > 0, f"no two calls overlapped: the calls ran one at a time ({spans})"
