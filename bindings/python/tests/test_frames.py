"""Planar YUV 4:2:0 frames (resnext.Yuv420) and regions of interest (roi=): every layout of a
frame preprocesses to the tensor of its NV21 buffer, and a region to the tensor of the cropped
image, bit for bit."""
import numpy as np
import pytest

import resnext

W, H = 96, 80
CW, CH = W // 2, H // 2


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(19)
    y = rng.integers(0, 256, (H, W), dtype=np.uint8)
    u = rng.integers(0, 256, (CH, CW), dtype=np.uint8)
    v = rng.integers(0, 256, (CH, CW), dtype=np.uint8)
    return y, u, v


def nv(y, u, v, v_first=True):
    """The NV21 (or NV12) bytes of planes."""
    pairs = np.stack([v, u] if v_first else [u, v], axis=-1).reshape(u.shape[0], -1)
    return np.concatenate([y, pairs]).tobytes()


def padded(plane, stride, tail=0):
    """`plane`'s rows at `stride` bytes, the buffer ending `tail` bytes after the last sample."""
    rows, width = plane.shape
    out = np.full(stride * (rows - 1) + width + tail, 0xEE, dtype=np.uint8)
    for r in range(rows):
        out[r * stride : r * stride + width] = plane[r]
    return out


@pytest.mark.parametrize("rotation", [0, 90, 270])
def test_planar_layouts_match_nv21_and_nv12(tiny, frame, rotation):
    y, u, v = frame
    expected = tiny.preprocess(nv(y, u, v), width=W, height=H, pixel_format="nv21", rotation=rotation)
    nv12 = tiny.preprocess(nv(y, u, v, False), width=W, height=H, pixel_format="nv12", rotation=rotation)
    assert np.array_equal(expected, nv12)
    # Pixel stride 1, tight (numpy planes and bytes), then padded rows.
    i420 = resnext.Yuv420(y, u.tobytes(), v, width=W, height=H, y_row_stride=W, uv_row_stride=CW, uv_pixel_stride=1)
    assert np.array_equal(expected, tiny.preprocess(i420, rotation=rotation))
    pad = resnext.Yuv420(padded(y, W + 32), padded(u, CW + 16, 3), bytearray(padded(v, CW + 16)),
                         width=W, height=H, y_row_stride=W + 32, uv_row_stride=CW + 16, uv_pixel_stride=1)
    assert np.array_equal(expected, tiny.preprocess(pad, rotation=rotation))
    # Pixel stride 2 over one interleaved V/U plane with padded rows, as Android gives NV21.
    stride = W + 16
    vu = padded(np.frombuffer(nv(y, u, v), np.uint8)[W * H :].reshape(CH, W), stride)
    semi = resnext.Yuv420(padded(y, stride), vu[1:], vu[:-1], width=W, height=H,
                          y_row_stride=stride, uv_row_stride=stride, uv_pixel_stride=2)
    assert np.array_equal(expected, tiny.preprocess(semi, rotation=rotation))
    # And the classification agrees.
    assert tiny.classify(semi, rotation=rotation).predictions == tiny.classify(
        nv(y, u, v), width=W, height=H, pixel_format="nv21", rotation=rotation).predictions


def test_regions_match_the_cropped_image(tiny, frame, photos):
    x, top, w, h = 10, 6, 64, 70
    rgb = np.random.default_rng(5).integers(0, 256, (H, W, 3), dtype=np.uint8)
    for fmt in ("rgb", "bgr"):
        expected = tiny.preprocess(np.ascontiguousarray(rgb[top : top + h, x : x + w]), pixel_format=fmt, rotation=90)
        assert np.array_equal(expected, tiny.preprocess(rgb, pixel_format=fmt, rotation=90, roi=(x, top, w, h)))
        raw = tiny.preprocess(rgb.tobytes(), width=W, height=H, pixel_format=fmt, rotation=90, roi=(x, top, w, h))
        assert np.array_equal(expected, raw)
    y, u, v = frame
    cy, cu, cv = y[top : top + h, x : x + w], u[top // 2 : (top + h) // 2, x // 2 : (x + w) // 2], v[top // 2 : (top + h) // 2, x // 2 : (x + w) // 2]
    expected = tiny.preprocess(nv(cy, cu, cv), width=w, height=h, pixel_format="nv21", rotation=180)
    whole = nv(y, u, v)
    assert np.array_equal(expected, tiny.preprocess(whole, width=W, height=H, pixel_format="nv21", rotation=180, roi=(x, top, w, h)))
    planar = resnext.Yuv420(y, u, v, width=W, height=H, y_row_stride=W, uv_row_stride=CW, uv_pixel_stride=1)
    assert np.array_equal(expected, tiny.preprocess(planar, rotation=180, roi=(x, top, w, h)))
    batch = tiny.classify_batch([planar, planar], rotation=180, roi=(x, top, w, h))
    assert batch[0].predictions == batch[1].predictions == tiny.classify(
        nv(cy, cu, cv), width=w, height=h, pixel_format="nv21", rotation=180).predictions
    # An encoded image: the region of the decoded picture.
    from PIL import Image

    photo = Image.open(photos / "chelsea.png").convert("RGB")
    expected = tiny.preprocess(np.asarray(photo)[20:220, 30:230].copy())
    assert np.array_equal(expected, tiny.preprocess((photos / "chelsea.png").read_bytes(), roi=(30, 20, 200, 200)))
    assert np.array_equal(expected, tiny.preprocess(photos / "chelsea.png", roi=(30, 20, 200, 200)))


def test_bad_frames_and_regions_are_refused(tiny, frame):
    y, u, v = frame
    def yuv(**kw):
        args = dict(width=W, height=H, y_row_stride=W, uv_row_stride=CW, uv_pixel_stride=1)
        args.update(kw)
        planes = [args.pop(k, d) for k, d in (("y", y), ("u", u), ("v", v))]
        return resnext.Yuv420(*planes, **args)
    with pytest.raises(resnext.InvalidArgument, match="pixel stride"):
        tiny.classify(yuv(uv_pixel_stride=3))
    with pytest.raises(resnext.InvalidArgument, match="row stride"):
        tiny.classify(yuv(y_row_stride=W - 1))
    with pytest.raises(resnext.Error, match="U plane") as e:
        tiny.classify(yuv(u=u.tobytes()[:-1]))
    assert e.value.code == resnext.ErrorCode.BUFFER_SIZE
    with pytest.raises(resnext.InvalidArgument, match="own geometry"):
        tiny.classify(yuv(), width=W)
    with pytest.raises(TypeError, match="plane"):
        tiny.classify(yuv(v=[1, 2, 3]))
    with pytest.raises(resnext.InvalidArgument, match="even"):
        tiny.classify(yuv(), roi=(1, 0, 8, 8))
    for roi in [(0, 0, 0, 8), (90, 0, 8, 8), (-2, 0, 8, 8)]:
        with pytest.raises(resnext.InvalidArgument):
            tiny.preprocess(yuv(), roi=roi)
    with pytest.raises(resnext.InvalidArgument, match="not inside"):
        tiny.classify(np.zeros((10, 10, 3), np.uint8), roi=(5, 5, 6, 1))
