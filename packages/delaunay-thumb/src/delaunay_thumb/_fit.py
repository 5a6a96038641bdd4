"""Least-squares vertex colours for a fixed triangulation, and colour quantisation."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse.linalg import spsolve

from delaunay_thumb._format import QSTEPS, index_ranges, predict
from delaunay_thumb._render import barycentric, exact_triangle_map, vertex_positions

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def raster_weights(
    points: IntArray, tris: IntArray, grid: tuple[int, int], size: tuple[int, int]
) -> tuple[IntArray, FloatArray]:
    """Per-pixel vertex indices and Gouraud weights: ``(h*w, 3)`` each.

    Example:
        >>> pts = np.array([[0, 0], [1, 0], [0, 1], [1, 1]])
        >>> idx, wts = raster_weights(pts, np.array([[0, 1, 3], [0, 3, 2]]), (2, 2), (2, 2))
        >>> wts.sum(1).round(6).tolist()
        [1.0, 1.0, 1.0, 1.0]
    """
    xy = vertex_positions(points, grid, size)
    ids = exact_triangle_map(points, grid, tris, size)
    l1, l2 = barycentric(xy, tris, ids)
    idx = tris[ids.ravel()]
    wts = np.stack([1.0 - l1.ravel() - l2.ravel(), l1.ravel(), l2.ravel()], axis=1)
    return idx, wts


def raster_weights_ids(
    points: IntArray, tris: IntArray, grid: tuple[int, int], size: tuple[int, int]
) -> tuple[IntArray, FloatArray, NDArray[np.int32]]:
    """:func:`raster_weights` plus the ``(h, w)`` triangle index of every pixel.

    Example:
        >>> pts = np.array([[0, 0], [1, 0], [0, 1], [1, 1]])
        >>> tris = np.array([[0, 1, 3], [0, 3, 2]])
        >>> raster_weights_ids(pts, tris, (2, 2), (2, 2))[2].tolist()
        [[1, 0], [1, 1]]
    """
    xy = vertex_positions(points, grid, size)
    ids = exact_triangle_map(points, grid, tris, size)
    l1, l2 = barycentric(xy, tris, ids)
    idx = tris[ids.ravel()]
    l1, l2 = l1.ravel(), l2.ravel()
    wts = np.stack([1.0 - l1 - l2, l1, l2], axis=1)
    return idx, wts, ids


#: Largest vertex count solved with dense normal equations (above: sparse LU).
_DENSE_MAX = 700


def fit_colours(
    image: FloatArray, idx: IntArray, wts: FloatArray, n: int, tris: IntArray, ridge: float = 1e-2
) -> FloatArray:
    """Vertex colours minimising the squared error of the Gouraud rendering.

    A small graph-Laplacian penalty keeps vertices that cover no pixel centre at the mean of
    their neighbours (and makes the system always solvable).

    Args:
        image: ``(h, w, c)`` target in 0..255.
        idx: ``(h*w, 3)`` vertex indices per pixel (from :func:`raster_weights`).
        wts: ``(h*w, 3)`` weights per pixel.
        n: Number of vertices.
        tris: The triangulation (for the Laplacian).
        ridge: Strength of the Laplacian penalty.

    Returns:
        ``(n, c)`` colours (unclamped).

    Example:
        >>> pts = np.array([[0, 0], [1, 0], [0, 1], [1, 1]])
        >>> tris = np.array([[0, 1, 3], [0, 3, 2]])
        >>> idx, wts = raster_weights(pts, tris, (2, 2), (4, 4))
        >>> fit_colours(np.full((4, 4, 1), 7.0), idx, wts, 4, tris).round(3).ravel().tolist()
        [7.0, 7.0, 7.0, 7.0]
    """
    c = image.shape[2]
    y = image.reshape(-1, c)
    ri = np.repeat(idx, 3, axis=1).ravel()
    ci = np.tile(idx, (1, 3)).ravel()
    vals = (wts[:, :, None] * wts[:, None, :]).ravel()
    e = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    e = np.unique(e.min(1) * n + e.max(1))
    e = np.stack(np.divmod(e, n), axis=1)
    deg = np.bincount(e.ravel(), minlength=n).astype(np.float64)
    B = np.stack(
        [
            np.bincount(idx.ravel(), weights=(wts * y[:, k : k + 1]).ravel(), minlength=n)
            for k in range(c)
        ],
        axis=1,
    )
    if n <= _DENSE_MAX:
        G = np.bincount(ri * n + ci, weights=vals, minlength=n * n).astype(np.float64)
        G = G.reshape(n, n)
        G[e[:, 0], e[:, 1]] -= ridge
        G[e[:, 1], e[:, 0]] -= ridge
        G[np.arange(n), np.arange(n)] += ridge * deg + 1e-9
        return np.asarray(np.linalg.solve(G, B), dtype=np.float64).reshape(n, c)
    rows = np.concatenate([ri, e[:, 0], e[:, 1], np.arange(n)])
    cols = np.concatenate([ci, e[:, 1], e[:, 0], np.arange(n)])
    data = np.concatenate([vals, np.full(2 * len(e), -ridge), ridge * deg + 1e-9])
    A = sparse.csc_matrix((data, (rows, cols)), shape=(n, n))
    sol = spsolve(A, B)
    return np.asarray(sol, dtype=np.float64).reshape(n, c)


def to_ycocg(rgb: FloatArray) -> FloatArray:
    """RGB to (Y, Co, Cg) with ``Y = (R + 2G + B) / 4``, ``Co = (R - B) / 2``.

    Example:
        >>> to_ycocg(np.array([[255.0, 255.0, 255.0]])).tolist()
        [[255.0, 0.0, 0.0]]
    """
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    return np.stack([(r + 2 * g + b) / 4, (r - b) / 2, (2 * g - r - b) / 4], axis=1)


def quantise(colours: FloatArray, qy_code: int, qc_code: int, grey: bool) -> IntArray:
    """Round colours (``(n, 3)`` RGB or ``(n, 1)`` grey) to clamped quantiser indices.

    Example:
        >>> quantise(np.array([[100.0]]), 2, 2, True).tolist()
        [[25, 0, 0]]
    """
    qy, qc = QSTEPS[qy_code], QSTEPS[qc_code]
    (ylo, yhi), (clo, chi) = index_ranges(qy, qc)
    n = colours.shape[0]
    out = np.zeros((n, 3), dtype=np.int64)
    if grey:
        out[:, 0] = np.clip(np.rint(colours[:, 0] / qy), ylo, yhi)
        return out
    ycc = to_ycocg(colours)
    out[:, 0] = np.clip(np.rint(ycc[:, 0] / qy), ylo, yhi)
    out[:, 1:] = np.clip(np.rint(ycc[:, 1:] / qc), clo, chi)
    return out


def quantise_predictive(
    colours: FloatArray,
    before: list[list[int]],
    qy_code: int,
    qc_code: int,
    grey: bool,
    deadzone: float = 0.0,
) -> IntArray:
    """Quantise in coding order with a dead zone around the decoder's prediction.

    Residuals smaller than ``0.5 + deadzone`` quantiser steps become zero (cheap to code), larger
    ones are shrunk by ``deadzone`` steps; ``deadzone = 0`` is plain rounding.

    Args:
        colours: ``(n, 3)`` RGB or ``(n, 1)`` grey vertex colours, in coding (raster) order.
        before: Already-coded neighbours of each vertex (:func:`~._format.neighbours_before`).
        qy_code: Luma quantiser code.
        qc_code: Chroma quantiser code.
        grey: Greyscale stream.
        deadzone: Dead zone in quantiser steps (0 to 0.5).

    Returns:
        ``(n, 3)`` quantiser indices.

    Example:
        >>> cols = np.array([[100.0], [103.0]])
        >>> quantise_predictive(cols, [[], [0]], 2, 2, True, 0.4)[:, 0].tolist()
        [25, 25]
    """
    qy, qc = QSTEPS[qy_code], QSTEPS[qc_code]
    (ylo, yhi), (clo, chi) = index_ranges(qy, qc)
    n = colours.shape[0]
    if grey:
        scaled = np.zeros((n, 3))
        scaled[:, 0] = colours[:, 0] / qy
        channels = 1
    else:
        ycc = to_ycocg(colours)
        scaled = ycc / np.array([qy, qc, qc], dtype=np.float64)
        channels = 3
    lo, hi = (ylo, clo, clo), (yhi, chi, chi)
    defaults = ((128 + qy // 2) // qy, 0, 0)
    out = [[0, 0, 0] for _ in range(n)]
    sc = scaled.tolist()
    for i in range(n):
        for ch in range(channels):
            pred, _ = predict([out[j][ch] for j in before[i]], defaults[ch])
            r = sc[i][ch] - pred
            mag = max(0.0, np.floor(abs(r) + 0.5 - deadzone))
            val = pred + int(mag if r >= 0 else -mag)
            out[i][ch] = min(hi[ch], max(lo[ch], val))
    return np.array(out, dtype=np.int64).reshape(n, 3)


def refine_indices(
    q: IntArray,
    image: FloatArray,
    idx: IntArray,
    wts: FloatArray,
    qy_code: int,
    qc_code: int,
    grey: bool,
    sweeps: int = 2,
) -> IntArray:
    """Improve quantised colours by coordinate descent on the exact rendering error.

    Rounding each vertex colour on its own ignores that neighbouring vertices share pixels;
    this moves single quantiser indices by one step whenever that lowers the squared error of
    the (unclamped) Gouraud rendering, computed exactly from the normal equations.

    Args:
        q: ``(n, 3)`` quantiser indices (not modified).
        image: ``(h, w, c)`` target in 0..255 (``c`` is 1 when ``grey``).
        idx: Per-pixel vertex indices (from :func:`raster_weights`).
        wts: Per-pixel weights.
        qy_code: Luma quantiser code.
        qc_code: Chroma quantiser code.
        grey: Greyscale stream.
        sweeps: Passes over all vertices.

    Returns:
        The refined indices.

    Example:
        >>> pts = np.array([[0, 0], [1, 0], [0, 1], [1, 1]])
        >>> tris = np.array([[0, 1, 3], [0, 3, 2]])
        >>> idx, wts = raster_weights(pts, tris, (2, 2), (4, 4))
        >>> q0 = np.array([[20, 0, 0]] * 4)
        >>> refine_indices(q0, np.full((4, 4, 1), 90.0), idx, wts, 2, 2, True)[:, 0].tolist()
        [22, 22, 22, 22]
    """
    qy, qc = QSTEPS[qy_code], QSTEPS[qc_code]
    (ylo, yhi), (clo, chi) = index_ranges(qy, qc)
    n = q.shape[0]
    c = image.shape[2]
    ri = np.repeat(idx, 3, axis=1).ravel()
    ci = np.tile(idx, (1, 3)).ravel()
    vals = (wts[:, :, None] * wts[:, None, :]).ravel()
    gram = np.bincount(ri * n + ci, weights=vals, minlength=n * n).reshape(n, n)
    y = image.reshape(-1, c)
    rhs = np.stack(
        [
            np.bincount(idx.ravel(), weights=(wts * y[:, k : k + 1]).ravel(), minlength=n)
            for k in range(c)
        ],
        axis=1,
    )
    out = q.copy()
    if grey:
        rgb = out[:, :1] * float(qy)
        basis = [np.array([float(qy)])]
        lo, hi = [ylo], [yhi]
    else:
        yv, co, cg = out[:, 0] * float(qy), out[:, 1] * float(qc), out[:, 2] * float(qc)
        rgb = np.stack([yv + co - cg, yv + cg, yv - co - cg], axis=1)
        basis = [
            np.array([1.0, 1.0, 1.0]) * qy,
            np.array([1.0, 0.0, -1.0]) * qc,
            np.array([-1.0, 1.0, -1.0]) * qc,
        ]
        lo, hi = [ylo, clo, clo], [yhi, chi, chi]
    res = gram @ rgb - rhs
    diag = np.diag(gram).tolist()
    norms = [float(b @ b) for b in basis]
    for _ in range(sweeps):
        changed = False
        for i in range(n):
            g = diag[i]
            if g <= 0:
                continue
            for ch, b in enumerate(basis):
                lin = 2.0 * float(b @ res[i])
                quad = g * norms[ch]
                for s in (1, -1):
                    if not lo[ch] <= out[i, ch] + s <= hi[ch]:
                        continue
                    if quad + s * lin < -1e-9:
                        out[i, ch] += s
                        res += np.outer(gram[:, i], s * b)
                        changed = True
                        break
        if not changed:
            break
    return out
