"""The encoder: adaptive vertex placement, least-squares colours and rate control."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from delaunay_thumb._decode import render_mesh
from delaunay_thumb._delaunay import triangulate
from delaunay_thumb._errors import EncodeError
from delaunay_thumb._fit import (
    fit_colours,
    quantise,
    quantise_predictive,
    raster_weights,
    refine_indices,
)
from delaunay_thumb._format import (
    QSTEPS,
    Mesh,
    aspect_code,
    grid_shape,
    neighbours_before,
    write_stream,
)
from delaunay_thumb._image import load_image, working_image
from delaunay_thumb._optimise import optimise_positions

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

DEFAULT_EFFORT = 2
REFINE = 2
MIN_BYTES = 8
MAX_BYTES = 65536


@dataclass(frozen=True)
class EffortConfig:
    """Search settings of one effort level.

    Attributes:
        work_size: Long side of the image the encoder fits, in pixels.
        grid_codes: Candidate grid sizes (indices into ``GRID_LONG``).
        q_codes: Candidate luma quantiser codes (chroma uses a coarser step).
        deadzones: Candidate quantiser dead zones (see ``quantise_predictive``).
        sweeps: Passes of the vertex-move local search (0 disables it).
        moves: Candidate moves per vertex (4 or 8).
        polish: Number of best settings whose vertex positions are optimised.
        grids_searched: Number of best grids (after a one-quantiser trial of every grid) whose
            quantiser and dead zone are searched.
    """

    work_size: int
    grid_codes: tuple[int, ...]
    q_codes: tuple[int, ...]
    deadzones: tuple[float, ...]
    sweeps: int
    moves: int
    polish: int
    grids_searched: int


EFFORTS: dict[int, EffortConfig] = {
    0: EffortConfig(48, (6,), (0, 4, 8, 12), (0.0,), 0, 4, 0, 1),
    1: EffortConfig(64, (6,), (6, 8, 10, 11, 12, 13, 14, 15), (0.0,), 1, 4, 1, 1),
    2: EffortConfig(64, (4, 6, 8), (6, 8, 10, 11, 12, 13, 14, 15), (0.0, 0.3), 2, 8, 1, 1),
    3: EffortConfig(64, (4, 5, 6, 7, 8, 10), tuple(range(3, 16)), (0.0, 0.2, 0.35), 3, 8, 3, 3),
}


def _chroma_code(qy_code: int) -> int:
    target = 1.0 * QSTEPS[qy_code]
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


@dataclass
class _Fit:
    tris: IntArray
    idx: IntArray
    wts: FloatArray
    colours: FloatArray
    rendered: FloatArray


def _fit(prob: _Problem, pts: IntArray) -> _Fit:
    """Triangulate and fit least-squares colours."""
    tris = triangulate(pts)
    idx, wts = raster_weights(pts, tris, prob.grid, prob.size)
    cols = fit_colours(prob.image, idx, wts, pts.shape[0], tris)
    c = prob.image.shape[2]
    rendered = np.einsum("pk,pkc->pc", wts, cols[idx]).reshape((*prob.image.shape[:2], c))
    return _Fit(tris, idx, wts, cols, rendered)


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
        fit = _fit(prob, P)
        tris, rendered = fit.tris, fit.rendered
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
        k = max(1, len(pts) // 12)
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


def _make(
    prob: _Problem, pts: IntArray, qy: int, qc: int, deadzone: float, refine: int = 0
) -> tuple[bytes, float]:
    fit = _fit(prob, pts)
    tris, cols = fit.tris, fit.colours
    if deadzone > 0:
        q = quantise_predictive(
            cols, neighbours_before(pts.shape[0], tris), qy, qc, prob.grey, deadzone
        )
    else:
        q = quantise(cols, qy, qc, prob.grey)
    if refine:
        q = refine_indices(q, prob.image, fit.idx, fit.wts, qy, qc, prob.grey, refine)
    mesh = Mesh(prob.long_code, prob.aspect, prob.portrait, prob.grey, qy, qc, pts, q)
    data = write_stream(mesh, tris)
    out = render_mesh(pts, tris, mesh.rgb(), prob.grid, prob.size).astype(np.float64)
    ref = prob.image if not prob.grey else prob.image[..., :1]
    mse = float(((out[..., : ref.shape[2]] - ref) ** 2).mean())
    return data, mse


def _polish(
    prob: _Problem,
    order: list[tuple[int, int]],
    n: int,
    qy: int,
    qc: int,
    deadzone: float,
    budget: int,
    sweeps: int,
    moves: int,
) -> _Candidate | None:
    """Optimise the positions of the first ``n`` vertices, then fit the budget again."""
    corners = _corners(prob.grid)
    pts = corners + order[:n]
    fit = _fit(prob, _sorted_points(pts))
    sorted_pts = [tuple(p) for p in _sorted_points(pts).tolist()]
    colour_of = {p: fit.colours[i] for i, p in enumerate(sorted_pts)}
    cols = np.array([colour_of[p] for p in pts])
    moved = optimise_positions(prob.image, prob.grid, pts, cols, sweeps, moves)
    data, mse = _make(prob, _sorted_points(moved), qy, qc, deadzone, REFINE)
    if len(data) <= budget:
        # Spend any slack on the next vertices of the insertion order.
        used = set(moved)
        extra = [p for p in order[n:] if p not in used]
        best = _Candidate(data, mse)
        step = 1
        while extra[:step] and step <= len(extra):
            data, mse = _make(prob, _sorted_points(moved + extra[:step]), qy, qc, deadzone, REFINE)
            if len(data) > budget:
                break
            if mse < best.mse:
                best = _Candidate(data, mse)
            step += 1
        return best
    # Drop the latest-inserted vertices until the stream fits.
    m = len(moved) - 1
    while m >= 4:
        data, mse = _make(prob, _sorted_points(moved[:m]), qy, qc, deadzone, REFINE)
        if len(data) <= budget:
            return _Candidate(data, mse)
        m -= 1
    return None


def _best_prefix(
    prob: _Problem,
    order: list[tuple[int, int]],
    qy: int,
    qc: int,
    deadzone: float,
    budget: int,
    guess: int,
) -> tuple[_Candidate | None, int]:
    """Largest prefix of ``order`` that fits ``budget``: (candidate, its vertex count)."""
    corners = _corners(prob.grid)
    cache: dict[int, tuple[bytes, float]] = {}

    def attempt(n: int) -> tuple[bytes, float]:
        if n not in cache:
            cache[n] = _make(prob, _sorted_points(corners + order[:n]), qy, qc, deadzone, 0)
        return cache[n]

    if len(attempt(0)[0]) > budget:
        return None, 0
    top = len(order)
    n = min(max(guess, 1), top)
    step = max(1, n // 16)
    if len(attempt(n)[0]) <= budget:
        lo, hi = n, top
        while lo < top:  # gallop up
            nxt = min(top, lo + step)
            if len(attempt(nxt)[0]) > budget:
                hi = nxt - 1
                break
            lo = nxt
            step *= 2
        else:
            hi = top
    else:
        lo, hi = 0, n - 1
        while hi > 0:  # gallop down
            nxt = max(0, hi - step)
            if len(attempt(nxt)[0]) <= budget:
                lo = nxt
                break
            hi = nxt - 1
            step *= 2
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(attempt(mid)[0]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    data, mse = attempt(lo)
    return _Candidate(data, mse), lo


def _search_q(
    prob: _Problem,
    order: list[tuple[int, int]],
    deadzone: float,
    q_codes: tuple[int, ...],
    budget: int,
    guess: int,
) -> tuple[list[tuple[_Candidate, int, int, int]], int]:
    """Hill-climb over the quantiser steps (the error is unimodal in practice).

    Returns every evaluated ``(candidate, vertex count, qy_code, qc_code)`` and the last vertex
    count (a good first guess for the next search).
    """
    scores: dict[int, float] = {}
    found: list[tuple[_Candidate, int, int, int]] = []

    def score(i: int) -> float:
        nonlocal guess
        if i < 0 or i >= len(q_codes):
            return float("inf")
        if i not in scores:
            qy = q_codes[i]
            qc = _chroma_code(qy)
            cand, n = _best_prefix(prob, order, qy, qc, deadzone, budget, guess)
            if cand is None:
                scores[i] = float("inf")
            else:
                guess = n
                found.append((cand, n, qy, qc))
                scores[i] = cand.mse
        return scores[i]

    i = len(q_codes) // 2
    while True:
        here = score(i)
        if score(i + 1) < here:
            i += 1
        elif score(i - 1) < here:
            i -= 1
        else:
            break
    return found, guess


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
    ranked: list[tuple[float, _Problem, list[tuple[int, int]], int, int, int, float]] = []
    # Stage 1: every candidate grid with the middle quantiser and no dead zone.
    mid = cfg.q_codes[len(cfg.q_codes) // 2]
    grids: list[tuple[float, _Problem, list[tuple[int, int]], int]] = []
    for long_code in cfg.grid_codes:
        prob = _Problem(work, grey, long_code, aspect, portrait)
        order = _insertion_order(prob, int(max_bytes * 1.2))
        first, n = _best_prefix(prob, order, mid, _chroma_code(mid), 0.0, max_bytes, max_bytes // 2)
        if first is None:
            continue
        grids.append((first.mse, prob, order, n))
        if best is None or first.mse < best.mse:
            best = first
    grids.sort(key=lambda g: g[0])
    # Stage 2: quantiser and dead zone for the best grids.
    for _, prob, order, n in grids[: cfg.grids_searched]:
        guess = n
        for dz in cfg.deadzones:
            found, guess = _search_q(prob, order, dz, cfg.q_codes, max_bytes, guess)
            for cand, count, qy, qc in found:
                ranked.append((cand.mse, prob, order, count, qy, qc, dz))
                if best is None or cand.mse < best.mse:
                    best = cand
    ranked.sort(key=lambda r: r[0])
    # Stage 3: local search over vertex positions for the best settings.
    if cfg.sweeps > 0:
        for _, prob, order, n, qy, qc, dz in ranked[: cfg.polish]:
            polished = _polish(prob, order, n, qy, qc, dz, max_bytes, cfg.sweeps, cfg.moves)
            if polished is not None and (best is None or polished.mse < best.mse):
                best = polished
    if best is None:
        # Coarsest settings as a last resort.
        prob = _Problem(work, grey, 0, aspect, portrait)
        fallback, _ = _best_prefix(prob, [], len(QSTEPS) - 1, len(QSTEPS) - 1, 0.0, max_bytes, 0)
        if fallback is None:
            raise EncodeError(f"max_bytes={max_bytes} is below the smallest stream for this image")
        best = fallback
    return best.data
