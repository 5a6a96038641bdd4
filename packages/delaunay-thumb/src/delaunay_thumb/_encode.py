"""The encoder: adaptive vertex placement, least-squares colours and rate control.

For each candidate grid the encoder ranks grid points by greedy insertion (at the worst pixel of
the worst triangles), then searches the number of vertices and the quantiser: a prefix of the
insertion order is triangulated and fitted once (least squares), and every quantiser is tried on
that fit with a *rate estimate* (the adaptive models' exact costs, no range coding) and the exact
rendering error. Only the final candidates are written for real, trimmed or extended to the
exact byte budget, and optionally polished (dead zone, index refinement, vertex moves).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from delaunay_thumb._decode import render_mesh
from delaunay_thumb._delaunay import triangulate
from delaunay_thumb._errors import EncodeError
from delaunay_thumb._fit import (
    fit_colours,
    quantise,
    quantise_predictive,
    raster_weights_ids,
    refine_indices,
)
from delaunay_thumb._format import (
    QSTEPS,
    Mesh,
    aspect_code,
    grid_shape,
    write_stream,
)
from delaunay_thumb._image import load_image, working_image
from delaunay_thumb._optimise import optimise_positions
from delaunay_thumb._rangecoder import adaptive_cost

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

DEFAULT_EFFORT = 2
REFINE = 2
MIN_BYTES = 8
MAX_BYTES = 65536
_GAP_CTX = 8
_MAG_CTX = 6
#: Budgets up to this many bytes get at least 2 local-search sweeps with 8 moves.
_SMALL_BUDGET = 64
#: Ratio between successive vertex counts tried by the search (the final stage fills the gap).
_LADDER = 1.08


@dataclass(frozen=True)
class EffortConfig:
    """Search settings of one effort level.

    Attributes:
        work_size: Long side of the image the encoder fits, in pixels.
        grid_codes: Candidate grid sizes (indices into ``GRID_LONG``).
        q_codes: Candidate luma quantiser codes (chroma uses the same step).
        deadzones: Candidate quantiser dead zones (see ``quantise_predictive``).
        sweeps: Passes of the vertex-move local search (0 disables it).
        moves: Candidate moves per vertex (4 or 8).
        polish: Number of best settings that get the final refinement.
        growth: Fraction of the current vertex count added per greedy insertion round.
    """

    work_size: int
    grid_codes: tuple[int, ...]
    q_codes: tuple[int, ...]
    deadzones: tuple[float, ...]
    sweeps: int
    moves: int
    polish: int
    growth: float


EFFORTS: dict[int, EffortConfig] = {
    0: EffortConfig(48, (6,), (2, 5, 8, 10, 12, 13), (0.0,), 0, 4, 1, 0.3),
    1: EffortConfig(64, (6,), tuple(range(4, 16)), (0.0,), 1, 4, 1, 0.25),
    2: EffortConfig(64, (4, 6, 8), tuple(range(4, 16)), (0.0, 0.3), 1, 4, 1, 0.25),
    3: EffortConfig(64, (4, 5, 6, 7, 8, 10), tuple(range(2, 16)), (0.0, 0.2, 0.35), 3, 8, 3, 0.1),
}


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


def _bit_length(x: IntArray) -> IntArray:
    """``int.bit_length`` of every element of a non-negative integer array."""
    return np.where(x > 0, np.frexp(np.maximum(x, 1).astype(np.float64))[1], 0).astype(np.int64)


@dataclass
class _Fit:
    """One vertex set: its triangulation, raster weights and least-squares colours."""

    pts: IntArray
    tris: IntArray
    idx: IntArray
    wts: FloatArray
    ids: NDArray[np.int32]
    colours: FloatArray
    nb_ptr: IntArray
    nb_idx: IntArray
    position_bits: float
    quantised: dict[tuple[int, float], tuple[int, float, IntArray]] = field(default_factory=dict)

    def before(self) -> list[list[int]]:
        ptr = self.nb_ptr.tolist()
        flat = self.nb_idx.tolist()
        return [flat[ptr[i] : ptr[i + 1]] for i in range(len(ptr) - 1)]


def _previous_neighbours(n: int, tris: IntArray) -> tuple[IntArray, IntArray]:
    """CSR ``(ptr, idx)`` of each vertex's triangulation neighbours with a smaller index."""
    e = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    keys = np.unique(e.max(1) * n + e.min(1))
    hi, lo = np.divmod(keys, n)
    return np.searchsorted(hi, np.arange(n + 1)), lo


def _position_bits(grid: tuple[int, int], pts: IntArray) -> float:
    """Exact cost in bits of the vertex count and positions (mirrors ``write_stream``)."""
    gw, gh = grid
    flat = pts[:, 1] * gw + pts[:, 0]
    corner = (flat == 0) | (flat == gw - 1) | (flat == (gh - 1) * gw) | (flat == gw * gh - 1)
    p = np.sort(flat[~corner])
    inner = p - 1 - (p > gw - 1) - (p > (gh - 1) * gw)
    n = int(inner.size)
    total = gw * gh - 4
    nbits = (n + 16).bit_length()
    bits = float((nbits - 4) + (nbits - 1))  # Exp-Golomb prefix and suffix of the count
    if n == 0:
        return bits
    nxt = np.concatenate([[0], inner[:-1] + 1])
    rem_v = n - np.arange(n)
    rem_p = total - nxt
    active = rem_p > rem_v
    gap = (inner - nxt)[active]
    limit = (rem_p - rem_v)[active]
    k = _bit_length(limit // (2 * rem_v[active]))
    q = gap >> k
    bits += float(k.sum())
    stop = ((q + 1) << k) <= limit
    # Unary prefixes: q ones per vertex, then a zero when a stop bit is needed.
    vid = np.repeat(np.arange(q.size), q)
    j = np.arange(int(q.sum())) - np.repeat(np.cumsum(q) - q, q)
    width = int(q.max(initial=0)) + 2
    ctx = np.concatenate([np.minimum(j, _GAP_CTX - 1), np.minimum(q[stop], _GAP_CTX - 1)])
    order = np.concatenate([vid * width + j, np.nonzero(stop)[0] * width + q[stop]])
    dec = np.concatenate([np.ones(j.size, np.int64), np.zeros(int(stop.sum()), np.int64)])
    return bits + adaptive_cost(ctx, order, dec)


def _colour_bits(q: IntArray, nb_ptr: IntArray, nb_idx: IntArray, qy: int, grey: bool) -> float:
    """Exact cost in bits of the colour residuals (mirrors the format's colour coding)."""
    n = q.shape[0]
    counts = np.diff(nb_ptr)
    has = counts > 0
    starts = nb_ptr[:-1][has]
    c = counts[has]
    ctxs: list[IntArray] = []
    orders: list[IntArray] = []
    decs: list[IntArray] = []
    raw = 0
    defaults = ((128 + qy // 2) // qy, 0, 0)
    vid = np.arange(n)
    for ch in range(1 if grey else 3):
        pred = np.full(n, defaults[ch], dtype=np.int64)
        bucket = np.full(n, 2, dtype=np.int64)
        if starts.size:
            vals = q[nb_idx, ch]
            s = np.add.reduceat(vals, starts)
            spread = np.maximum.reduceat(vals, starts) - np.minimum.reduceat(vals, starts)
            pred[has] = (2 * s + c) // (2 * c)
            bucket[has] = np.where(spread == 0, 0, np.where(spread <= 2, 1, 2))
        r = q[:, ch] - pred
        nz = r != 0
        ctxs.append(8 + ch * 3 + bucket)
        orders.append(vid * 16)
        decs.append(nz.astype(np.int64))
        ctxs.append(np.full(int(nz.sum()), 17 + ch))
        orders.append(vid[nz] * 16)
        decs.append((r[nz] < 0).astype(np.int64))
        e = _bit_length(np.abs(r[nz])) - 1
        raw += int(e.sum())
        reps = e + 1
        owner = np.repeat(vid[nz], reps)
        j = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
        ee = np.repeat(e, reps)
        ctxs.append(20 + ch * _MAG_CTX + np.minimum(j, _MAG_CTX - 1))
        orders.append(owner * 16 + j)
        decs.append((j < ee).astype(np.int64))
    return raw + adaptive_cost(np.concatenate(ctxs), np.concatenate(orders), np.concatenate(decs))


def _estimate_bytes(fit: _Fit, q: IntArray, qy: int, grey: bool) -> int:
    """Estimated stream size: header, quantiser codes, positions and colours."""
    bits = (
        (4 if grey else 8) + fit.position_bits + _colour_bits(q, fit.nb_ptr, fit.nb_idx, qy, grey)
    )
    return 2 + math.ceil(bits / 8.0)


def _dequantise(q: IntArray, qy: int, qc: int, grey: bool) -> FloatArray:
    y = q[:, 0].astype(np.float64) * float(qy)
    if grey:
        return y[:, None]
    co = q[:, 1] * float(qc)
    cg = q[:, 2] * float(qc)
    return np.stack([y + co - cg, y + cg, y - co - cg], axis=1)


def _render_error(prob: _Problem, fit: _Fit, rgb: FloatArray) -> float:
    """Mean squared error of the decoder's rendering at the working size (rounded, clamped)."""
    out = np.einsum("pk,pkc->pc", fit.wts, rgb[fit.idx])
    out = np.clip(np.floor(out + 0.5), 0.0, 255.0)
    ref = prob.image.reshape(-1, prob.image.shape[2])
    return float(((out - ref) ** 2).mean())


def _make_fit(prob: _Problem, pts: IntArray) -> _Fit:
    tris = triangulate(pts)
    idx, wts, ids = raster_weights_ids(pts, tris, prob.grid, prob.size)
    cols = fit_colours(prob.image, idx, wts, pts.shape[0], tris)
    ptr, nb = _previous_neighbours(pts.shape[0], tris)
    return _Fit(pts, tris, idx, wts, ids, cols, ptr, nb, _position_bits(prob.grid, pts))


def _quantised(
    prob: _Problem, fit: _Fit, qy_code: int, deadzone: float
) -> tuple[int, float, IntArray]:
    """(estimated bytes, mse, indices) of a fit at one quantiser and dead zone (cached)."""
    key = (qy_code, deadzone)
    if key not in fit.quantised:
        qy = qc = QSTEPS[qy_code]
        if deadzone > 0:
            q = quantise_predictive(
                fit.colours, fit.before(), qy_code, qy_code, prob.grey, deadzone
            )
        else:
            q = quantise(fit.colours, qy_code, qy_code, prob.grey)
        est = _estimate_bytes(fit, q, qy, prob.grey)
        mse = _render_error(prob, fit, _dequantise(q, qy, qc, prob.grey))
        fit.quantised[key] = (est, mse, q)
    return fit.quantised[key]


def _insertion_order(prob: _Problem, n_max: int, growth: float) -> list[tuple[int, int]]:
    """Greedy insertion: grid points in the order they were added (corners excluded)."""
    grid = prob.grid
    gw, gh = grid
    w, h = prob.size
    pts = _corners(grid)
    used = set(pts)
    order: list[tuple[int, int]] = []
    n_max = min(n_max, gw * gh - 4)
    sx, sy = (gw - 1) / w, (gh - 1) / h
    while len(order) < n_max:
        fit = _make_fit(prob, _sorted_points(pts))
        rendered = np.einsum("pk,pkc->pc", fit.wts, fit.colours[fit.idx])
        flat = ((rendered - prob.image.reshape(rendered.shape)) ** 2).sum(-1)
        # The triangle of each pixel, its total error, and its worst pixel.
        ids = fit.ids.ravel()
        m = fit.tris.shape[0]
        tot = np.bincount(ids, weights=flat, minlength=m)
        o = np.lexsort((flat, ids))
        last = np.r_[ids[o][1:] != ids[o][:-1], True]
        worst_pix = np.full(m, -1)
        worst_pix[ids[o][last]] = o[last]
        k = max(1, int(len(pts) * growth))
        added = 0
        for t in np.argsort(-tot, kind="stable").tolist():
            if tot[t] <= 0 or worst_pix[t] < 0 or added >= k or len(order) >= n_max:
                break
            py, px = divmod(int(worst_pix[t]), w)
            gx = min(gw - 1, max(0, round((px + 0.5) * sx)))
            gy = min(gh - 1, max(0, round((py + 0.5) * sy)))
            if (gx, gy) in used:
                continue
            used.add((gx, gy))
            pts.append((gx, gy))
            order.append((gx, gy))
            added += 1
        if added == 0:
            # No triangle offers a free grid point: take the worst free pixel anywhere.
            for pix in np.argsort(-flat, kind="stable").tolist():
                py, px = divmod(pix, w)
                gx = min(gw - 1, max(0, round((px + 0.5) * sx)))
                gy = min(gh - 1, max(0, round((py + 0.5) * sy)))
                if (gx, gy) not in used:
                    used.add((gx, gy))
                    pts.append((gx, gy))
                    order.append((gx, gy))
                    added = 1
                    break
            if added == 0:
                break
    return order


@dataclass(frozen=True)
class _Choice:
    mse: float
    n: int
    qy_code: int
    deadzone: float
    est: int


class _GridSearch:
    """Vertex count and quantiser search on one grid, on estimated sizes."""

    def __init__(self, prob: _Problem, order: list[tuple[int, int]], target: int) -> None:
        self.prob = prob
        self.order = order
        self.target = target
        self.fits: dict[int, _Fit] = {}
        self.corners = _corners(prob.grid)
        self.ladder = self.lattice()

    def fit(self, n: int) -> _Fit:
        if n not in self.fits:
            pts = _sorted_points(self.corners + self.order[:n])
            self.fits[n] = _make_fit(self.prob, pts)
        return self.fits[n]

    def lattice(self) -> list[int]:
        """Vertex counts the search may fit: 0 and a geometric ladder up to the whole order."""
        top = len(self.order)
        ns = {0, top}
        x = 1.0
        while x < top:
            ns.add(round(x))
            x = max(x + 1.0, x * _LADDER)
        return sorted(ns)

    def max_n(self, qy_code: int, guess: int) -> _Choice | None:
        """Largest vertex count on the ladder whose estimated size fits the target."""
        ns = self.ladder

        def fits(i: int) -> bool:
            est, _, _ = _quantised(self.prob, self.fit(ns[i]), qy_code, 0.0)
            return est <= self.target

        if not fits(0):
            return None
        top = len(ns) - 1
        i = min(top, max(0, int(np.searchsorted(ns, guess))))
        if fits(i):
            lo, step = i, 1
            hi = top + 1
            while lo < top:  # gallop up
                j = min(top, lo + step)
                if not fits(j):
                    hi = j
                    break
                lo = j
                step *= 2
        else:
            hi, step = i, 1
            lo = 0
            while hi > 0:  # gallop down
                j = max(0, hi - step)
                if fits(j):
                    lo = j
                    break
                hi = j
                step *= 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if fits(mid):
                lo = mid
            else:
                hi = mid
        n = ns[lo]
        est, mse, _ = _quantised(self.prob, self.fit(n), qy_code, 0.0)
        return _Choice(mse, n, qy_code, 0.0, est)

    def search(self, q_codes: tuple[int, ...], guess: int) -> list[_Choice]:
        """Hill-climb over the quantiser (the error is unimodal in practice)."""
        found: dict[int, _Choice | None] = {}

        def score(i: int) -> float:
            nonlocal guess
            if i < 0 or i >= len(q_codes):
                return math.inf
            if i not in found:
                c = self.max_n(q_codes[i], guess)
                found[i] = c
                if c is not None:
                    guess = c.n
            c = found[i]
            return math.inf if c is None else c.mse

        i = len(q_codes) // 2
        while True:
            here = score(i)
            if score(i + 1) < here:
                i += 1
            elif score(i - 1) < here:
                i -= 1
            else:
                break
        return [c for c in found.values() if c is not None]


@dataclass
class _Result:
    data: bytes
    mse: float


def _write(prob: _Problem, fit: _Fit, q: IntArray, qy_code: int) -> _Result:
    """Write a stream for real and measure the decoder's output at the working size."""
    mesh = Mesh(prob.long_code, prob.aspect, prob.portrait, prob.grey, qy_code, qy_code, fit.pts, q)
    data = write_stream(mesh, fit.tris)
    out = render_mesh(fit.pts, fit.tris, mesh.rgb(), prob.grid, prob.size).astype(np.float64)
    mse = float(((out[..., : prob.image.shape[2]] - prob.image) ** 2).mean())
    return _Result(data, mse)


def _finish(
    prob: _Problem,
    points: list[tuple[int, int]],
    extra: list[tuple[int, int]],
    qy_code: int,
    deadzone: float,
    budget: int,
    refine: int,
) -> _Result | None:
    """Write the best prefix of ``points + extra`` (at least 4 points) exactly within ``budget``.

    The vertex count is searched on estimated sizes, then checked by writing the stream; index
    refinement is applied last and kept only when it still fits and lowers the error.
    """
    pool = points + extra
    fits: dict[int, _Fit] = {}

    def fit_at(m: int) -> _Fit:
        if m not in fits:
            fits[m] = _make_fit(prob, _sorted_points(pool[:m]))
        return fits[m]

    def est(m: int) -> int:
        return _quantised(prob, fit_at(m), qy_code, deadzone)[0]

    lo, hi = 4, len(pool) + 1
    m = max(4, len(points))
    if est(m) <= budget:
        lo = m
    else:
        hi = m
        if est(lo) > budget:
            return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if est(mid) <= budget:
            lo = mid
        else:
            hi = mid
    m = lo
    while True:
        fit = fit_at(m)
        q = _quantised(prob, fit, qy_code, deadzone)[2]
        res = _write(prob, fit, q, qy_code)
        if len(res.data) <= budget:
            break
        m -= 1
        if m < 4:
            return None
    if refine:
        q2 = refine_indices(q, prob.image, fit.idx, fit.wts, qy_code, qy_code, prob.grey, refine)
        if not np.array_equal(q2, q):
            res2 = _write(prob, fit, q2, qy_code)
            if len(res2.data) <= budget and res2.mse < res.mse:
                res = res2
    return res


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
    max_bytes = int(max_bytes)
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
    sweeps, moves = cfg.sweeps, cfg.moves
    if cfg.sweeps and max_bytes <= _SMALL_BUDGET:  # few vertices: a thorough local search is cheap
        sweeps, moves = max(sweeps, 2), 8
    # Stage 1: vertex count and quantiser per grid, on estimated sizes.
    choices: list[tuple[_Choice, _GridSearch]] = []
    n_max = min(4092, int(max_bytes * 1.2) + 8)
    for long_code in cfg.grid_codes:
        prob = _Problem(work, grey, long_code, aspect, portrait)
        order = _insertion_order(prob, n_max, cfg.growth)
        gs = _GridSearch(prob, order, max_bytes)
        choices.extend((c, gs) for c in gs.search(cfg.q_codes, max_bytes // 2))
    choices.sort(key=lambda cg: cg[0].mse)
    # Stage 2: the best settings, polished and written for real within the exact budget.
    best: _Result | None = None
    for choice, gs in choices[: cfg.polish]:
        prob = gs.prob
        points = gs.corners + gs.order[: choice.n]
        if cfg.sweeps > 0:
            fit = gs.fit(choice.n)
            colour_of = {(int(x), int(y)): fit.colours[i] for i, (x, y) in enumerate(fit.pts)}
            cols = np.array([colour_of[p] for p in points])
            points = optimise_positions(prob.image, prob.grid, points, cols, sweeps, moves)
        used = set(points)
        extra = [p for p in gs.order[choice.n :] if p not in used][: max(4, choice.n // 8)]
        for dz in cfg.deadzones:
            res = _finish(prob, points, extra, choice.qy_code, dz, max_bytes, REFINE)
            if res is not None and (best is None or res.mse < best.mse):
                best = res
    if best is None:
        # Coarsest settings and the corners only, as a last resort.
        prob = _Problem(work, grey, 0, aspect, portrait)
        code = len(QSTEPS) - 1
        best = _finish(prob, _corners(prob.grid), [], code, 0.0, max_bytes, 0)
        if best is None:
            raise EncodeError(f"max_bytes={max_bytes} is below the smallest stream for this image")
    return best.data
