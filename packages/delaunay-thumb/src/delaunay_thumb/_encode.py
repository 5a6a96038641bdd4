"""The encoder: adaptive vertex placement, least-squares colours and rate control."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from delaunay_thumb._decode import render_mesh
from delaunay_thumb._delaunay import triangulate
from delaunay_thumb._errors import EncodeError
from delaunay_thumb._fit import fit_colours, quantise, raster_weights
from delaunay_thumb._format import QSTEPS, Mesh, aspect_code, grid_shape, write_stream
from delaunay_thumb._image import load_image, working_image

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

DEFAULT_EFFORT = 2
MIN_BYTES = 8
MAX_BYTES = 65536


@dataclass(frozen=True)
class EffortConfig:
    """Search settings of one effort level.

    Attributes:
        work_size: Long side of the image the encoder fits, in pixels.
        grid_codes: Candidate grid sizes (indices into ``GRID_LONG``).
        q_codes: Candidate luma quantiser codes (chroma uses a coarser step).
    """

    work_size: int
    grid_codes: tuple[int, ...]
    q_codes: tuple[int, ...]


EFFORTS: dict[int, EffortConfig] = {
    0: EffortConfig(48, (6,), (0, 3, 6, 9)),
    1: EffortConfig(64, (6,), (2, 4, 6, 8, 10, 12)),
    2: EffortConfig(64, (4, 6, 8), (2, 4, 6, 8, 10, 12)),
    3: EffortConfig(64, (4, 5, 6, 7, 8, 10), (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)),
}


def _chroma_code(qy_code: int) -> int:
    target = 1.5 * QSTEPS[qy_code]
    return int(np.argmin([abs(q - target) for q in QSTEPS]))


@dataclass
class _Problem:
    image: FloatArray  # (h, w, c) in 0..255
    grey: bool
    long_code: int
    aspect: int
    portrait: bool

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]

    @property
    def grid(self) -> tuple[int, int]:
        return grid_shape(self.long_code, self.aspect, self.portrait)


def _corners(grid: tuple[int, int]) -> list[tuple[int, int]]:
    gw, gh = grid
    return [(0, 0), (gw - 1, 0), (0, gh - 1), (gw - 1, gh - 1)]


def _sorted_points(pts: list[tuple[int, int]]) -> IntArray:
    return np.array(sorted(pts, key=lambda p: (p[1], p[0])), dtype=np.int64)


def _fit(prob: _Problem, pts: IntArray) -> tuple[IntArray, FloatArray, FloatArray]:
    """Triangulate, fit colours; return (tris, colours, rendered float image)."""
    tris = triangulate(pts)
    idx, wts = raster_weights(pts, tris, prob.grid, prob.size)
    cols = fit_colours(prob.image, idx, wts, pts.shape[0], tris)
    c = prob.image.shape[2]
    rendered = np.einsum("pk,pkc->pc", wts, cols[idx]).reshape((*prob.image.shape[:2], c))
    return tris, cols, rendered


def _insertion_order(prob: _Problem, n_max: int) -> list[tuple[int, int]]:
    """Greedy insertion: grid points in the order they were added (corners excluded)."""
    grid = prob.grid
    gw, gh = grid
    w, h = prob.size
    pts = _corners(grid)
    used = set(pts)
    order: list[tuple[int, int]] = []
    capacity = gw * gh - 4
    n_max = min(n_max, capacity)
    while len(order) < n_max:
        P = _sorted_points(pts)
        tris, _, rendered = _fit(prob, P)
        err = ((rendered - prob.image) ** 2).sum(-1)
        # The triangle of each pixel, its total error, and its worst pixel.
        xy = P.astype(np.float64) * np.array([w / (gw - 1), h / (gh - 1)])
        from delaunay_thumb._render import triangle_map

        ids = triangle_map(xy, tris, (w, h)).ravel()
        flat = err.ravel()
        tot = np.bincount(ids, weights=flat, minlength=tris.shape[0])
        o = np.lexsort((flat, ids))
        last = np.r_[ids[o][1:] != ids[o][:-1], True]
        worst_pix = np.full(tris.shape[0], -1)
        worst_pix[ids[o][last]] = o[last]
        k = max(1, len(pts) // 8)
        added = 0
        for t in np.argsort(-tot, kind="stable").tolist():
            if tot[t] <= 0 or worst_pix[t] < 0 or added >= k or len(order) >= n_max:
                break
            py, px = divmod(int(worst_pix[t]), w)
            gx = min(gw - 1, max(0, round((px + 0.5) * (gw - 1) / w)))
            gy = min(gh - 1, max(0, round((py + 0.5) * (gh - 1) / h)))
            if (gx, gy) in used:
                continue
            used.add((gx, gy))
            pts.append((gx, gy))
            order.append((gx, gy))
            added += 1
        if added == 0:
            # No triangle offers a free grid point: take the worst free pixel anywhere.
            cand = np.argsort(-flat, kind="stable")
            for pix in cand.tolist():
                py, px = divmod(pix, w)
                gx = min(gw - 1, max(0, round((px + 0.5) * (gw - 1) / w)))
                gy = min(gh - 1, max(0, round((py + 0.5) * (gh - 1) / h)))
                if (gx, gy) not in used:
                    used.add((gx, gy))
                    pts.append((gx, gy))
                    order.append((gx, gy))
                    added = 1
                    break
            if added == 0:
                break
    return order


@dataclass
class _Candidate:
    data: bytes
    mse: float


def _make(prob: _Problem, pts: IntArray, qy: int, qc: int) -> tuple[bytes, float]:
    tris, cols, _ = _fit(prob, pts)
    q = quantise(cols, qy, qc, prob.grey)
    mesh = Mesh(prob.long_code, prob.aspect, prob.portrait, prob.grey, qy, qc, pts, q)
    data = write_stream(mesh)
    out = render_mesh(pts, tris, mesh.rgb(), prob.grid, prob.size).astype(np.float64)
    ref = prob.image if not prob.grey else prob.image[..., :1]
    mse = float(((out[..., : ref.shape[2]] - ref) ** 2).mean())
    return data, mse


def _best_prefix(
    prob: _Problem, order: list[tuple[int, int]], qy: int, qc: int, budget: int
) -> _Candidate | None:
    corners = _corners(prob.grid)

    def attempt(n: int) -> tuple[bytes, float]:
        return _make(prob, _sorted_points(corners + order[:n]), qy, qc)

    data, mse = attempt(0)
    if len(data) > budget:
        return None
    best = _Candidate(data, mse)
    lo, hi = 0, len(order)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        data, mse = attempt(mid)
        if len(data) <= budget:
            lo = mid
            if mse < best.mse:
                best = _Candidate(data, mse)
        else:
            hi = mid - 1
    return best


def encode(
    image: object, max_bytes: int = 200, *, effort: int = DEFAULT_EFFORT, seed: int = 0
) -> bytes:
    """Encode an image into a thumbnail stream of at most ``max_bytes`` bytes.

    Args:
        image: ``HxW``, ``HxWx3`` or ``HxWx4`` numpy array (uint8, uint16, bool, or float in
            [0, 1]), a ``PIL.Image.Image`` of any mode, or a path to an image file.
        max_bytes: Byte budget for the whole stream (8..65536); the result never exceeds it.
        effort: 0 (fastest) to 3 (best); 2 is the default.
        seed: Seed of the randomised parts of the search; the output is a deterministic function
            of ``(image, max_bytes, effort, seed)``.

    Returns:
        The stream (decode it with :func:`delaunay_thumb.decode`).

    Raises:
        EncodeError: For an unreadable or unsupported image, or invalid arguments.

    Example:
        >>> import numpy as np
        >>> import delaunay_thumb
        >>> img = np.zeros((30, 40, 3), np.uint8); img[:, 20:] = 200
        >>> len(delaunay_thumb.encode(img, 60)) <= 60
        True
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int | np.integer):
        raise EncodeError("max_bytes must be an integer")
    if not MIN_BYTES <= max_bytes <= MAX_BYTES:
        raise EncodeError(f"max_bytes must be in {MIN_BYTES}..{MAX_BYTES}, got {max_bytes}")
    if effort not in EFFORTS:
        raise EncodeError(f"effort must be one of {sorted(EFFORTS)}, got {effort!r}")
    del seed  # the current search is deterministic without randomness
    cfg = EFFORTS[effort]
    arr = load_image(image)
    grey = arr.shape[2] == 1 or bool(
        np.abs(arr[..., 0] - arr[..., 1]).max() < 1e-9
        and np.abs(arr[..., 0] - arr[..., 2]).max() < 1e-9
    )
    if grey:
        arr = arr[..., :1]
    h0, w0 = arr.shape[:2]
    work = working_image(arr, cfg.work_size)
    aspect = aspect_code(w0, h0)
    portrait = h0 > w0
    best: _Candidate | None = None
    for long_code in cfg.grid_codes:
        prob = _Problem(work, grey, long_code, aspect, portrait)
        n_max = int(max_bytes * 0.9)
        order = _insertion_order(prob, n_max)
        for qy in cfg.q_codes:
            qc = _chroma_code(qy)
            cand = _best_prefix(prob, order, qy, qc, max_bytes)
            if cand is not None and (best is None or cand.mse < best.mse):
                best = cand
    if best is None:
        # Coarsest settings as a last resort.
        prob = _Problem(work, grey, 0, aspect, portrait)
        cand = _best_prefix(prob, [], len(QSTEPS) - 1, len(QSTEPS) - 1, max_bytes)
        if cand is None:
            raise EncodeError(f"max_bytes={max_bytes} is below the smallest stream for this image")
        best = cand
    return best.data
