from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import delaunay_thumb
from delaunay_thumb import DecodeError, EncodeError
from delaunay_thumb._rangecoder import RangeDecoder, RangeEncoder


def _decode_or_error(data: bytes, size: int | tuple[int, int] | None = 24) -> None:
    try:
        out = delaunay_thumb.decode(data, size)
    except DecodeError:
        return
    assert out.dtype == np.uint8
    assert out.ndim == 3
    assert out.shape[2] == 3


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_decode_error(data: bytes) -> None:
    _decode_or_error(data)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=120))
def test_crafted_headers_only_raise_decode_error(b0: int, b1: int, body: bytes) -> None:
    _decode_or_error(bytes([b0 & 0x3F, b1]) + body)  # valid version: exercises the body


def test_all_headers_with_hostile_bodies() -> None:
    rng = random.Random(0)
    bodies = [b"", b"\xff" * 40, b"\x00" * 40, bytes(rng.randrange(256) for _ in range(64))]
    for b0 in range(64):
        for body in bodies:
            _decode_or_error(bytes([b0, rng.randrange(256)]) + body, 16)


@pytest.fixture(scope="module")
def stream() -> bytes:
    yy, xx = np.mgrid[0:24, 0:32]
    img = np.stack([xx * 8, yy * 10, 255 - xx * 8], -1).astype(np.uint8)
    return delaunay_thumb.encode(img, 80, effort=0)


def test_truncations_and_bit_flips(stream: bytes) -> None:
    for n in range(len(stream) + 1):
        _decode_or_error(stream[:n])
    rng = random.Random(1)
    for _ in range(200):
        buf = bytearray(stream)
        pos = rng.randrange(len(buf))
        buf[pos] ^= 1 << rng.randrange(8)
        _decode_or_error(bytes(buf))


def test_decode_rejects_non_bytes() -> None:
    with pytest.raises(DecodeError):
        delaunay_thumb.decode("abc")  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(1, 4095)), max_size=200))
def test_range_coder_round_trip(symbols: list[tuple[int, int]]) -> None:
    enc = RangeEncoder()
    for bit, p0 in symbols:
        enc.encode_bit(bit, p0)
    data = enc.finish()
    assert not data.endswith(b"\x00")
    dec = RangeDecoder(data)
    assert [dec.decode_bit(p0) for _, p0 in symbols] == [b for b, _ in symbols]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 20),
    st.integers(1, 20),
    st.sampled_from([1, 3, 4]),
    st.integers(10, 120),
    st.integers(0, 2**32 - 1),
)
def test_encode_round_trip_property(h: int, w: int, c: int, budget: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
    if c == 1:
        img = img[..., 0]
    data = delaunay_thumb.encode(img, budget, effort=0)
    assert len(data) <= budget
    out = delaunay_thumb.decode(data, (w, h))
    assert out.shape == (h, w, 3)


@pytest.mark.parametrize(
    "mode", ["1", "L", "P", "RGB", "RGBA", "LA", "I;16", "I", "F", "CMYK", "YCbCr"]
)
def test_encoder_accepts_pillow_modes(mode: str) -> None:
    base = Image.fromarray(
        (np.add.outer(np.arange(12), np.arange(16)) * 9).astype(np.uint8)
    ).convert("RGB")
    grey = np.asarray(base.convert("L"))
    if mode == "I;16":
        img = Image.fromarray(grey.astype(np.uint16) * 257)
        assert img.mode == "I;16"
    elif mode == "I":
        img = Image.fromarray(grey.astype(np.int32) * 257)
    elif mode == "F":
        img = Image.fromarray(grey.astype(np.float32) / 255)
    else:
        img = base.convert(mode)
    assert img.mode == mode
    data = delaunay_thumb.encode(img, 50, effort=0)
    assert len(data) <= 50
    assert delaunay_thumb.decode(data, 16).shape == (12, 16, 3)


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 1), (10, 10000), (10000, 10), (2, 1, 4)])
def test_encoder_extreme_shapes(shape: tuple[int, ...]) -> None:
    img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    data = delaunay_thumb.encode(img, 40, effort=0)
    assert len(data) <= 40
    out = delaunay_thumb.decode(data)
    assert out.shape[2] == 3
    assert max(out.shape[:2]) == 64


def test_encoder_16bit_and_float_arrays() -> None:
    ramp = np.linspace(0, 1, 20 * 30).reshape(20, 30)
    ref = np.repeat((ramp * 255)[..., None], 3, -1)
    for img in ((ramp * 65535).astype(np.uint16), ramp, ramp.astype(np.float32)):
        out = delaunay_thumb.decode(delaunay_thumb.encode(img, 60, effort=0), (30, 20))
        mse = ((out - ref) ** 2).mean()
        assert 10 * np.log10(255**2 / mse) > 35.0  # a ramp is almost free for Gouraud shading
    with pytest.raises(EncodeError):
        delaunay_thumb.encode(ramp * 2)


def test_encoder_rejects_bad_paths_and_types(tmp_path: object) -> None:
    with pytest.raises(EncodeError):
        delaunay_thumb.encode("/nonexistent/image.png")
    with pytest.raises(EncodeError):
        delaunay_thumb.encode([[1, 2], [3, 4]])
