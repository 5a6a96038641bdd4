from __future__ import annotations

import numpy as np
import pytest

import delaunay_thumb
from delaunay_thumb import DecodeError, EncodeError, Thumb


def _scene(h: int = 40, w: int = 56) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = (xx * 255 // max(1, w - 1)).astype(np.uint8)
    img[..., 1] = (yy * 255 // max(1, h - 1)).astype(np.uint8)
    img[..., 2] = np.where((xx - w / 2) ** 2 + (yy - h / 2) ** 2 < (h / 3) ** 2, 220, 30)
    return img


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(float) - b.astype(float)) ** 2).mean())
    return 10 * np.log10(255**2 / max(mse, 1e-12))


@pytest.mark.parametrize("budget", [30, 80, 160])
def test_encode_respects_budget_and_decodes(budget: int) -> None:
    img = _scene()
    data = delaunay_thumb.encode(img, budget, effort=0)
    assert isinstance(data, bytes)
    assert len(data) <= budget
    out = delaunay_thumb.decode(data, (56, 40))
    assert out.shape == (40, 56, 3)
    assert out.dtype == np.uint8


def test_quality_grows_with_budget() -> None:
    img = _scene()
    q = [
        _psnr(img, delaunay_thumb.decode(delaunay_thumb.encode(img, b, effort=0), (56, 40)))
        for b in (20, 60, 200)
    ]
    assert q[0] < q[1] < q[2]
    assert q[2] > 24.0  # a smooth synthetic scene is easy at 200 bytes


def test_flat_image_is_exact() -> None:
    img = np.full((20, 30, 3), (10, 200, 90), np.uint8)
    out = delaunay_thumb.decode(delaunay_thumb.encode(img, 40, effort=0), (30, 20))
    err = np.abs(out.astype(int) - img.astype(int))
    assert err.mean() <= 1.5
    assert err.max() <= 6


def test_deterministic() -> None:
    img = _scene()
    assert delaunay_thumb.encode(img, 90, effort=0) == delaunay_thumb.encode(img, 90, effort=0)


def test_default_size_keeps_aspect() -> None:
    data = delaunay_thumb.encode(_scene(40, 80), 60, effort=0)
    assert delaunay_thumb.decode(data).shape == (32, 64, 3)
    assert delaunay_thumb.decode(data, 128).shape == (64, 128, 3)
    portrait = delaunay_thumb.encode(_scene(80, 40), 60, effort=0)
    assert delaunay_thumb.decode(portrait, 100).shape == (100, 50, 3)


def test_greyscale_stream_sets_flag_and_is_smaller() -> None:
    grey = _scene()[..., 1]
    data = delaunay_thumb.encode(grey, 60, effort=0)
    assert data[0] & 0x20
    out = delaunay_thumb.decode(data, (56, 40))
    assert np.array_equal(out[..., 0], out[..., 1])
    assert _psnr(np.repeat(grey[..., None], 3, -1), out) > 20.0


def test_thumb_value_type() -> None:
    t = Thumb(delaunay_thumb.encode(_scene(), 50, effort=0))
    assert Thumb.from_base64(t.to_base64()) == t
    assert t.data_uri().startswith("data:image/x-delaunay-thumb;base64,")
    assert t.decode(32).shape[1] == 32
    with pytest.raises(DecodeError):
        Thumb.from_base64("not base64!!")


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 7)), np.zeros((0, 3)), np.zeros((3, 3), np.int32)])
def test_encode_rejects_bad_arrays(bad: np.ndarray) -> None:
    with pytest.raises(EncodeError):
        delaunay_thumb.encode(bad)


def test_encode_rejects_nan_and_bad_budget() -> None:
    with pytest.raises(EncodeError):
        delaunay_thumb.encode(np.full((4, 4), np.nan))
    with pytest.raises(EncodeError):
        delaunay_thumb.encode(_scene(), 3)
    with pytest.raises(EncodeError):
        delaunay_thumb.encode(_scene(), 50, effort=99)


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xff\xff", b"\xc0\x00\x00"])
def test_decode_rejects_garbage(data: bytes) -> None:
    with pytest.raises(DecodeError):
        delaunay_thumb.decode(data)


def test_decode_rejects_bad_size() -> None:
    data = delaunay_thumb.encode(_scene(), 40, effort=0)
    for size in (0, -1, 10**6, (0, 5), (5,), 2.5):
        with pytest.raises(ValueError, match=r"size|width"):
            delaunay_thumb.decode(data, size)  # type: ignore[arg-type]
