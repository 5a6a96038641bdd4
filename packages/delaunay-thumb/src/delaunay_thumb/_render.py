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
