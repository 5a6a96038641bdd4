from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from delaunay_thumb._delaunay import bowyer_watson, incircle, orient, triangulate


def _grid(w: int, h: int) -> np.ndarray:
    return np.array([(x, y) for y in range(h) for x in range(w)], dtype=np.int64)


def _is_delaunay(points: np.ndarray, tris: np.ndarray) -> bool:
    pts = [tuple(map(int, p)) for p in points]
    for a, b, c in tris.tolist():
        if orient(pts[a], pts[b], pts[c]) <= 0:
            return False
        if any(incircle(pts[a], pts[b], pts[c], p) > 0 for p in pts):
            return False
    return True


def _area2(points: np.ndarray, tris: np.ndarray) -> int:
    pts = [tuple(map(int, p)) for p in points]
    return sum(orient(pts[a], pts[b], pts[c]) for a, b, c in tris.tolist())


@pytest.mark.parametrize(("w", "h"), [(2, 2), (3, 3), (5, 4), (7, 7)])
def test_full_grid_is_canonical_fan(w: int, h: int) -> None:
    pts = _grid(w, h)
    tris = triangulate(pts)
    assert len(tris) == 2 * (w - 1) * (h - 1)
    assert _is_delaunay(pts, tris)
    # Every unit square is co-circular: its first raster vertex (top-left) starts both fans.
    ref = {
        (y * w + x, y * w + x + 1, (y + 1) * w + x + 1) for x in range(w - 1) for y in range(h - 1)
    }
    assert ref <= {tuple(t) for t in tris.tolist()}


def test_cocircular_octagon_fans_from_first_raster_vertex() -> None:
    # The 8 points (+-1, +-2), (+-2, +-1) around (2, 2) lie on one circle, with the box corners.
    ring = [(1, 0), (3, 0), (0, 1), (4, 1), (0, 3), (4, 3), (1, 4), (3, 4)]
    pts = np.array([(0, 0), (4, 0), (0, 4), (4, 4), *ring], dtype=np.int64)
    tris = triangulate(pts)
    assert _is_delaunay(pts, tris)
    first = 4  # (1, 0): first ring point in raster order
    inner = [t for t in tris.tolist() if all(v >= 4 for v in t)]
    assert len(inner) == 6
    assert all(t[0] == first for t in inner)


def test_collinear_border_points() -> None:
    pts = np.array([(0, 0), (9, 0), (0, 3), (9, 3), *[(x, 0) for x in range(1, 9)]])
    tris = triangulate(pts)
    assert _is_delaunay(pts, tris)
    assert _area2(pts, tris) == 2 * 9 * 3


def test_input_order_does_not_matter() -> None:
    rng = np.random.default_rng(1)
    pts = _grid(9, 6)[rng.random(54) < 0.5]
    pts = np.unique(np.concatenate([pts, [[0, 0], [8, 0], [0, 5], [8, 5]]]), axis=0)
    base = triangulate(pts)
    perm = rng.permutation(len(pts))
    shuffled = triangulate(pts[perm])
    assert sorted(map(tuple, perm[shuffled].tolist())) == sorted(map(tuple, base.tolist()))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 12),
    st.integers(2, 12),
    st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=40),
)
def test_fast_path_matches_reference(w: int, h: int, extra: list[tuple[int, int]]) -> None:
    pts = {(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)}
    pts |= {(x, y) for x, y in extra if x < w and y < h}
    arr = np.array(sorted(pts, key=lambda p: (p[1], p[0])), dtype=np.int64)
    fast = triangulate(arr)
    ref = triangulate(arr, reference=True)
    assert np.array_equal(fast, ref)
    assert _is_delaunay(arr, fast)
    assert _area2(arr, fast) == 2 * (w - 1) * (h - 1)


def test_bowyer_watson_alone_is_delaunay() -> None:
    pts = np.array([*itertools.product(range(0, 7, 2), range(0, 5, 2)), (1, 1), (5, 3)])
    tris = bowyer_watson(pts)
    assert _is_delaunay(pts, tris)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((3, 2), int),
        np.array([[0, 0], [1, 0], [0, 1], [1, 1], [1, 1]]),
        np.array([[0, 0], [2, 0], [0, 2], [1, 1]]),
        np.array([[0.5, 0], [1, 0], [0, 1], [1, 1]]),
    ],
)
def test_rejects_bad_points(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="points"):
        triangulate(bad)
