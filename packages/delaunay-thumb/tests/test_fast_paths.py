"""The fast paths agree with the reference implementations they replace."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import delaunay_thumb
from delaunay_thumb import DecodeError
from delaunay_thumb._decode import previous_neighbours, read_stream_fast
from delaunay_thumb._delaunay import triangulate
from delaunay_thumb._encode import _colour_bits, _position_bits, _previous_neighbours
from delaunay_thumb._fit import fit_colours, quantise, raster_weights
from delaunay_thumb._format import (
    QSTEPS,
    Mesh,
    grid_shape,
    neighbours_before,
    read_stream_triangulated,
    write_stream,
)


def _parse(reader, data: bytes) -> tuple[object, ...]:  # type: ignore[no-untyped-def]
    try:
        mesh, tris = reader(data)
    except DecodeError as err:
        return ("error", str(err))
    return (
        mesh.long_code,
        mesh.aspect,
        mesh.portrait,
        mesh.grey,
        mesh.qy_code,
        mesh.qc_code,
        mesh.points.tolist(),
        mesh.colours.tolist(),
        tris.tolist(),
    )


def _image(seed: int, h: int = 30, w: int = 44) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 5, yy * 7, 255 - xx * 3], -1).astype(float)
    img += rng.normal(0, 30, img.shape)
    img[h // 3 : h // 2, w // 4 :] = 240
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def streams() -> list[bytes]:
    out = [delaunay_thumb.encode(_image(s), b, effort=0) for s, b in ((0, 30), (1, 90), (2, 200))]
    out.append(delaunay_thumb.encode(_image(3)[..., 1], 120, effort=0))
    return out


def test_fast_reader_matches_reference_on_valid_streams(streams: list[bytes]) -> None:
    for data in streams:
        ref = _parse(read_stream_triangulated, data)
        assert ref[0] != "error"
        assert _parse(read_stream_fast, data) == ref


def test_fast_reader_matches_reference_on_damaged_streams(streams: list[bytes]) -> None:
    rng = random.Random(7)
    for data in streams:
        for n in range(0, len(data) + 1, 7):
            assert _parse(read_stream_fast, data[:n]) == _parse(read_stream_triangulated, data[:n])
        for _ in range(15):
            buf = bytearray(data)
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
            damaged = bytes(buf)
            assert _parse(read_stream_fast, damaged) == _parse(read_stream_triangulated, damaged)


@settings(max_examples=120, deadline=None)
@given(st.integers(0, 63), st.integers(0, 255), st.binary(max_size=80))
def test_fast_reader_matches_reference_on_random_bodies(b0: int, b1: int, body: bytes) -> None:
    data = bytes([b0, b1]) + body
    assert _parse(read_stream_fast, data) == _parse(read_stream_triangulated, data)


def test_previous_neighbours_match_reference() -> None:
    rng = np.random.default_rng(3)
    flat = rng.choice(np.arange(1, 20 * 14 - 1), 60, replace=False)
    corners = [[0, 0], [19, 0], [0, 13], [19, 13]]
    pts = np.concatenate([corners, np.stack([flat % 20, flat // 20], 1)])
    pts = np.unique(pts, axis=0)
    pts = pts[np.lexsort((pts[:, 0], pts[:, 1]))]
    tris = triangulate(pts)
    ref = neighbours_before(len(pts), tris)
    assert previous_neighbours(len(pts), tris) == ref
    ptr, idx = _previous_neighbours(len(pts), tris)
    assert [idx[ptr[i] : ptr[i + 1]].tolist() for i in range(len(pts))] == ref


@pytest.mark.parametrize(("grey", "qy_code"), [(False, 6), (False, 12), (True, 9)])
def test_rate_estimate_is_within_a_byte_of_the_real_stream(grey: bool, qy_code: int) -> None:
    img = _image(5).astype(np.float64)
    if grey:
        img = img[..., :1]
    grid = grid_shape(4, 170, False)
    gw, gh = grid
    rng = np.random.default_rng(qy_code)
    flat = rng.choice(np.arange(1, gw * gh - 1), 90, replace=False)
    corners = [[0, 0], [gw - 1, 0], [0, gh - 1], [gw - 1, gh - 1]]
    pts = np.concatenate([corners, np.stack([flat % gw, flat // gw], 1)])
    pts = np.unique(pts, axis=0)
    pts = pts[np.lexsort((pts[:, 0], pts[:, 1]))]
    tris = triangulate(pts)
    idx, wts = raster_weights(pts, tris, grid, (44, 30))
    q = quantise(fit_colours(img, idx, wts, len(pts), tris), qy_code, qy_code, grey)
    mesh = Mesh(4, 170, False, grey, qy_code, qy_code, pts, q)
    real = len(write_stream(mesh, tris))
    ptr, nb = _previous_neighbours(len(pts), tris)
    bits = (4 if grey else 8) + _position_bits(grid, pts)
    bits += _colour_bits(q, ptr, nb, QSTEPS[qy_code], grey)
    assert abs(real - (2 + int(np.ceil(bits / 8)))) <= 1
