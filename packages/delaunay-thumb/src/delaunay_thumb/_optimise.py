"""Local search over vertex positions: move single vertices to neighbouring grid points.

Each trial re-triangulates the whole point set (OpenCV, without the canonical tie-break, which
only matters to the decoder), finds the triangles that changed, and compares the squared error
of just that region before and after, with the moved vertex's colour re-fitted by least squares
in the region. The caller re-fits all colours and evaluates the real decoder afterwards.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from delaunay_thumb._delaunay import _fast

FloatArray = NDArray[np.float64]
Point = tuple[int, int]
Tri = tuple[Point, Point, Point]

_MOVES: tuple[Point, ...] = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1), (1, -1), (-1, 1))


def _tri_set(points: list[Point]) -> set[Tri] | None:
    arr = np.array(points, dtype=np.int64)
    tris = _fast(arr)
    if tris is None:
        return None
    out: set[Tri] = set()
    for a, b, c in tris.tolist():
        t = sorted((points[a], points[b], points[c]))
        out.add((t[0], t[1], t[2]))
    return out


class _Region:
    """Renders a few triangles into a pixel window and measures their squared error."""

    def __init__(self, image: FloatArray, scale: tuple[float, float]) -> None:
        self.image = image
        self.h, self.w = image.shape[:2]
        self.sx, self.sy = scale

    def xy(self, p: Point) -> tuple[float, float]:
        return p[0] * self.sx, p[1] * self.sy

    def error(
        self, tris: list[Tri], colour: dict[Point, FloatArray], free: Point | None
    ) -> tuple[float, FloatArray | None]:
        """Squared error of ``tris``; with ``free``, that vertex's colour is re-fitted first.

        Returns the error and the fitted colour of ``free`` (None without ``free``).
        """
        if not tris:
            return 0.0, None
        pts = {p for t in tris for p in t}
        xs = [self.xy(p)[0] for p in pts]
        ys = [self.xy(p)[1] for p in pts]
        x0 = max(0, int(np.floor(min(xs) - 0.5)))
        y0 = max(0, int(np.floor(min(ys) - 0.5)))
        x1 = min(self.w, int(np.ceil(max(xs) + 0.5)))
        y1 = min(self.h, int(np.ceil(max(ys) + 0.5)))
        if x1 <= x0 or y1 <= y0:
            return 0.0, None
        ids = np.full((y1 - y0, x1 - x0), -1, dtype=np.int32)
        for k, t in enumerate(tris):
            poly = np.array(
                [[(self.xy(p)[0] - 0.5 - x0) * 256, (self.xy(p)[1] - 0.5 - y0) * 256] for p in t]
            )
            cv2.fillConvexPoly(ids, np.rint(poly).astype(np.int32), k, cv2.LINE_8, 8)
        mask = ids >= 0
        if not np.any(mask):
            return 0.0, None
        py, px = np.nonzero(mask)
        tid = ids[py, px]
        cx = px + x0 + 0.5
        cy = py + y0 + 0.5
        V = np.array([[self.xy(p) for p in t] for t in tris])  # (m, 3, 2)
        C = np.array([[colour[p] for p in t] for t in tris])  # (m, 3, c)
        p0 = V[tid, 0]
        e1 = V[tid, 1] - p0
        e2 = V[tid, 2] - p0
        den = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
        den = np.where(den == 0, 1.0, den)
        dx, dy = cx - p0[:, 0], cy - p0[:, 1]
        l1 = (dx * e2[:, 1] - e2[:, 0] * dy) / den
        l2 = (e1[:, 0] * dy - dx * e1[:, 1]) / den
        w = np.stack([1 - l1 - l2, l1, l2], axis=1)  # (P, 3)
        target = self.image[py + y0, px + x0]
        fitted = None
        if free is not None:
            is_free = np.array([[p == free for p in t] for t in tris])[tid]  # (P, 3)
            wf = (w * is_free).sum(1)
            rest = (w[:, :, None] * C[tid] * (~is_free)[:, :, None]).sum(1)
            den_f = float((wf * wf).sum())
            if den_f > 1e-9:
                fitted = (wf[:, None] * (target - rest)).sum(0) / den_f
                pred = rest + wf[:, None] * fitted[None, :]
            else:
                pred = (w[:, :, None] * C[tid]).sum(1)
        else:
            pred = (w[:, :, None] * C[tid]).sum(1)
        return float(((pred - target) ** 2).sum()), fitted


def optimise_positions(
    image: FloatArray,
    grid: tuple[int, int],
    points: list[Point],
    colours: FloatArray,
    sweeps: int,
    moves: int = 8,
) -> list[Point]:
    """Greedy local search: move vertices one grid step while the rendering error drops.

    Args:
        image: ``(h, w, c)`` target in 0..255.
        grid: ``(gw, gh)``.
        points: Vertex grid positions (the four corners are never moved).
        colours: ``(n, c)`` fitted colours, aligned with ``points``.
        sweeps: Passes over all vertices.
        moves: 4 (axis steps) or 8 (with diagonals) candidate moves per vertex.

    Returns:
        The new positions (same length, corners unchanged).

    Example:
        >>> img = np.zeros((16, 16, 1)); img[:, 9:] = 255.0
        >>> pts = [(0, 0), (8, 0), (0, 8), (8, 8), (4, 0), (4, 8)]
        >>> cols = np.array([[0.0], [255.0], [0.0], [255.0], [0.0], [0.0]])
        >>> moved = optimise_positions(img, (9, 9), pts, cols, 2)
        >>> moved[:4], len(moved)
        ([(0, 0), (8, 0), (0, 8), (8, 8)], 6)
    """
    gw, gh = grid
    h, w = image.shape[:2]
    region = _Region(image, (w / (gw - 1), h / (gh - 1)))
    pts = list(points)
    colour = {p: colours[i].astype(np.float64) for i, p in enumerate(pts)}
    corners = {(0, 0), (gw - 1, 0), (0, gh - 1), (gw - 1, gh - 1)}
    tset = _tri_set(pts)
    if tset is None:
        return pts
    for _ in range(sweeps):
        improved = False
        for i in range(len(pts)):
            p = pts[i]
            if p in corners:
                continue
            used = set(pts)
            best: tuple[float, Point, set[Tri], FloatArray] | None = None
            for dx, dy in _MOVES[:moves]:
                q = (p[0] + dx, p[1] + dy)
                if not (0 <= q[0] < gw and 0 <= q[1] < gh) or q in used:
                    continue
                trial = [*pts[:i], q, *pts[i + 1 :]]
                nset = _tri_set(trial)
                if nset is None:
                    continue
                old = sorted(tset - nset)
                new = sorted(nset - tset)
                e_old, _ = region.error(old, colour, None)
                colour[q] = colour[p]
                e_new, fitted = region.error(new, colour, q)
                del colour[q]
                gain = e_old - e_new
                if gain > 1e-6 and (best is None or gain > best[0]):
                    best = (gain, q, nset, colour[p] if fitted is None else fitted)
            if best is not None:
                _, q, nset, col = best
                del colour[p]
                colour[q] = col
                pts[i] = q
                tset = nset
                improved = True
        if not improved:
            break
    return pts
