"""Gouraud rendering of a triangulated mesh at any output size.

The rendered value of a pixel is the piecewise-linear interpolant of the vertex colours at the
pixel centre; grid point ``(gx, gy)`` of a ``gw x gh`` grid sits at
``(gx * W / (gw - 1), gy * H / (gh - 1))`` in output pixel units, where pixel ``(i, j)`` covers
``[i, i + 1) x [j, j + 1)``.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def vertex_positions(points: IntArray, grid: tuple[int, int], size: tuple[int, int]) -> FloatArray:
    """Map grid points to output pixel coordinates (pixel centres at half-integers).

    Example:
        >>> vertex_positions(np.array([[0, 0], [7, 3]]), (8, 4), (64, 32)).tolist()
        [[0.0, 0.0], [64.0, 32.0]]
    """
    gw, gh = grid
    w, h = size
    return points.astype(np.float64) * np.array([w / (gw - 1), h / (gh - 1)])


def triangle_map(xy: FloatArray, tris: IntArray, size: tuple[int, int]) -> NDArray[np.int32]:
    """Index of the triangle covering each pixel centre (``(h, w)`` int32).

    Example:
        >>> xy = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 4.0]])
        >>> triangle_map(xy, np.array([[0, 1, 3], [0, 3, 2]]), (4, 4))[1].tolist()
        [1, 1, 0, 0]
    """
    w, h = size
    ids = np.full((h, w), -1, dtype=np.int32)
    polys = list(np.rint((xy[tris] - 0.5) * 256.0).astype(np.int32))
    fill = cv2.fillConvexPoly
    for t, poly in enumerate(polys):
        fill(ids, poly, t, cv2.LINE_8, 8)
    if np.any(ids < 0):  # pixels missed by the rasteriser: nearest covered pixel
        miss = ids < 0
        if np.all(miss):
            ids[:] = 0
        else:
            _, labels = cv2.distanceTransformWithLabels(
                miss.astype(np.uint8), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL
            )
            src = ids[~miss]
            lab_of = np.zeros(labels.max() + 1, dtype=np.int32)
            lab_of[labels[~miss]] = src
            ids[miss] = lab_of[labels[miss]]
    return ids


def exact_triangle_map(
    points: IntArray, grid: tuple[int, int], tris: IntArray, size: tuple[int, int]
) -> NDArray[np.int32]:
    """Index of the triangle containing each pixel centre, by the spec's exact integer test.

    Section 7 of the format spec decides containment on integers (x scaled by ``2 (gw - 1)``,
    y by ``2 (gh - 1)``), so every decoder (this one and the JavaScript one) picks the same
    triangle for every pixel. Each triangle is scanned row by row: per row, each edge bounds
    the pixel centres by an exact floor or ceiling division, so a row's run of pixels is found
    without testing pixels one by one. A centre on a shared edge may take either triangle
    (both give the same value there).

    Example:
        >>> pts = np.array([[0, 0], [1, 0], [0, 1], [1, 1]])
        >>> exact_triangle_map(pts, (2, 2), np.array([[0, 1, 3], [0, 3, 2]]), (4, 4))[1].tolist()
        [1, 1, 0, 0]
    """
    gw, gh = grid
    w, h = size
    px = 2 * points[:, 0].astype(np.int64) * w
    py = 2 * points[:, 1].astype(np.int64) * h
    corners = tris.astype(np.int64)
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    turn = (px[b] - px[a]) * (py[c] - py[a]) - (py[b] - py[a]) * (px[c] - px[a])
    oriented = np.where((turn < 0)[:, None], corners[:, [0, 2, 1]], corners)
    tri_ids = np.flatnonzero(turn != 0)
    oriented = oriented[tri_ids]
    ys = py[oriented]
    first_row = np.maximum(0, _ceil_centre(ys.min(1), gh - 1))
    last_row = np.minimum(h - 1, _floor_centre(ys.max(1), gh - 1))
    rows = np.maximum(0, last_row - first_row + 1)
    ids = np.full(h * w, -1, dtype=np.int32)
    # Chunks of triangles keep the per-row arrays bounded for crafted meshes of long thin
    # triangles (at most about 2M rows at once).
    ends = np.cumsum(rows)
    start = 0
    while start < len(oriented):
        stop = int(np.searchsorted(ends, ends[start] - rows[start] + (1 << 21), side="right"))
        stop = max(stop, start + 1)
        _paint_rows(
            ids,
            px,
            py,
            oriented[start:stop],
            tri_ids[start:stop],
            first_row[start:stop],
            rows[start:stop],
            (gw, gh),
            (w, h),
        )
        start = stop
    out = ids.reshape(h, w)
    if np.any(out < 0):  # only a degenerate mesh can leave holes; fall back to the fill
        guess = triangle_map(vertex_positions(points, grid, size), tris, size)
        out = np.where(out < 0, guess, out)
    return out


def _ceil_centre(v: IntArray, scale: int) -> IntArray:
    """Smallest index ``i`` with ``(2 i + 1) * scale >= v`` (exact, integers)."""
    return -((-(-(-v // scale) - 1)) // 2)


def _floor_centre(v: IntArray, scale: int) -> IntArray:
    """Largest index ``i`` with ``(2 i + 1) * scale <= v`` (exact, integers)."""
    return ((v // scale) - 1) // 2


def _paint_rows(
    ids: NDArray[np.int32],
    px: IntArray,
    py: IntArray,
    corners: IntArray,
    tri_ids: IntArray,
    first_row: IntArray,
    rows: IntArray,
    grid: tuple[int, int],
    size: tuple[int, int],
) -> None:
    """Write the pixel runs of positively oriented triangles into the flat map ``ids``."""
    gw, gh = grid
    w, _ = size
    tri = np.repeat(np.arange(len(corners)), rows)
    row = first_row[tri] + np.arange(len(tri)) - np.repeat(np.cumsum(rows) - rows, rows)
    qy = (2 * row + 1) * (gh - 1)
    low = np.full(len(tri), -(1 << 60), dtype=np.int64)
    high = np.full(len(tri), 1 << 60, dtype=np.int64)
    for u, v in ((0, 1), (1, 2), (2, 0)):
        s, e = corners[tri, u], corners[tri, v]
        sx, sy = px[s], py[s]
        dx, dy = px[e] - sx, py[e] - sy
        # Inside this edge: dx (qy - sy) - dy (qx - sx) >= 0, i.e. dy (qx - sx) <= rhs.
        rhs = dx * (qy - sy)
        up, down = dy > 0, dy < 0
        high = np.where(up, np.minimum(high, sx + rhs // np.where(up, dy, 1)), high)
        low = np.where(down, np.maximum(low, sx - rhs // np.where(down, -dy, 1)), low)
        high = np.where((dy == 0) & (rhs < 0), low - 1, high)
    first_col = np.maximum(0, _ceil_centre(low, gw - 1))
    last_col = np.minimum(w - 1, _floor_centre(high, gw - 1))
    run = np.maximum(0, last_col - first_col + 1)
    begin = np.repeat(np.cumsum(run) - run, run)
    flat = np.repeat(row * w + first_col, run) + np.arange(int(run.sum())) - begin
    ids[flat] = np.repeat(tri_ids[tri], run).astype(np.int32)


def barycentric(
    xy: FloatArray, tris: IntArray, ids: NDArray[np.int32]
) -> tuple[FloatArray, FloatArray]:
    """Barycentric weights of every pixel centre in its triangle.

    Returns:
        ``(l1, l2)``: ``(h, w)`` weights of the triangle's second and third vertex; the first
        vertex has weight ``1 - l1 - l2``.

    Example:
        >>> xy = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
        >>> ids = np.zeros((2, 2), dtype=np.int32)
        >>> l1, l2 = barycentric(xy, np.array([[0, 1, 2]]), ids)
        >>> float(l1[0, 0]), float(l2[0, 0])
        (0.25, 0.25)
    """
    h, w = ids.shape
    p0, p1, p2 = xy[tris[:, 0]], xy[tris[:, 1]], xy[tris[:, 2]]
    e1, e2 = p1 - p0, p2 - p0
    den = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
    den = np.where(den == 0, 1.0, den)
    py, px = np.mgrid[0:h, 0:w]
    dx = px + 0.5 - p0[ids, 0]
    dy = py + 0.5 - p0[ids, 1]
    l1 = (dx * e2[ids, 1] - e2[ids, 0] * dy) / den[ids]
    l2 = (e1[ids, 0] * dy - dx * e1[ids, 1]) / den[ids]
    return l1, l2


def shade(
    colours: FloatArray, tris: IntArray, ids: NDArray[np.int32], l1: FloatArray, l2: FloatArray
) -> FloatArray:
    """Interpolate per-vertex colours (``(n, c)``) at every pixel: ``(h, w, c)`` float64.

    Example:
        >>> ids = np.zeros((1, 1), dtype=np.int32)
        >>> one = np.ones((1, 1))
        >>> shade(np.array([[0.0], [10.0], [20.0]]), np.array([[0, 1, 2]]), ids, 0.5 * one, 0 * one)
        array([[[5.]]])
    """
    t = tris[ids]
    c0, c1, c2 = colours[t[..., 0]], colours[t[..., 1]], colours[t[..., 2]]
    return c0 + l1[..., None] * (c1 - c0) + l2[..., None] * (c2 - c0)


def shade_planes(
    xy: FloatArray, colours: FloatArray, tris: IntArray, ids: NDArray[np.int32]
) -> FloatArray:
    """Interpolate vertex colours at every pixel centre via per-triangle colour planes.

    Same values as :func:`barycentric` + :func:`shade` (up to rounding), faster: each
    triangle's linear interpolant is written as ``a * x + b * y + c`` per channel.

    Example:
        >>> xy = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
        >>> ids = np.zeros((2, 2), dtype=np.int32)
        >>> cols = np.array([[0.0], [20.0], [40.0]])
        >>> shade_planes(xy, cols, np.array([[0, 1, 2]]), ids)[..., 0].tolist()
        [[15.0, 25.0], [35.0, 45.0]]
    """
    p0, p1, p2 = xy[tris[:, 0]], xy[tris[:, 1]], xy[tris[:, 2]]
    e1, e2 = p1 - p0, p2 - p0
    den = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
    den = np.where(den == 0, 1.0, den)
    c0, c1, c2 = colours[tris[:, 0]], colours[tris[:, 1]], colours[tris[:, 2]]
    d1, d2 = c1 - c0, c2 - c0  # (m, c)
    # l1 = (dx * e2y - e2x * dy) / den ; l2 = (e1x * dy - dx * e1y) / den
    gx = (d1 * e2[:, 1:2] - d2 * e1[:, 1:2]) / den[:, None]
    gy = (d2 * e1[:, 0:1] - d1 * e2[:, 0:1]) / den[:, None]
    off = c0 - gx * p0[:, 0:1] - gy * p0[:, 1:2]
    planes = np.stack([gx, gy, off], axis=1)  # (m, 3, c)
    h, w = ids.shape
    px = np.arange(w, dtype=np.float64) + 0.5
    py = np.arange(h, dtype=np.float64) + 0.5
    P = planes[ids]  # (h, w, 3, c)
    out: FloatArray = P[:, :, 0] * px[None, :, None] + P[:, :, 1] * py[:, None, None] + P[:, :, 2]
    return out


def to_uint8(image: FloatArray) -> NDArray[np.uint8]:
    """Round half up and clamp to 0..255.

    Example:
        >>> to_uint8(np.array([-3.0, 0.5, 254.49, 300.0])).tolist()
        [0, 1, 254, 255]
    """
    return np.clip(np.floor(image + 0.5), 0, 255).astype(np.uint8)
