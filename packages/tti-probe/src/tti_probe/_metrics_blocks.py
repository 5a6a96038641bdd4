"""Exact all-pairs statistics of two embedding sets, from shared float32 distance tiles.

Every k-NN and kernel statistic of two sets (k-NN radii, precision, recall, density, coverage,
the KID polynomial kernel sums and the CMMD Gaussian kernel sums) is read from the same square
distance tiles ``|a|² + |b|² - 2 a.b`` computed once each by a jitted float32 matmul:

1. *self passes*: the tiles ``(i, j), i <= j`` of each set against itself (a tile and its
   transpose serve both blocks of rows), keeping per row the ``k + 3`` smallest distances and
   their columns in a running merge (never an ``n x n`` matrix), plus kernel row sums;
2. the k-th neighbour radii are re-ranked exactly on the host in float64 from those candidates
   (a row whose candidates are too close to call is recomputed against its whole set);
3. a *cross pass* over every (fake block, real block) tile counts the ``d < r`` relations and
   kernel sums, leaving out and recording each entry whose float32 distance lies within the
   float32 error of a radius: those entries are decided in float64 on the host (a row with
   too many of them is recomputed whole).

So precision, recall, density and coverage equal what float64 arithmetic gives (no sampling,
no approximate search). All tiles have one fixed shape (the sets are padded and masked), so
one compilation serves a whole run; many small sets (per-class statistics) run batched with
``vmap``, one tile per set.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from tti_probe._analysis_inputs import ProbeInputError

_GROUP = 8
"""Columns per group in the two-stage k-smallest selection of a tile."""
_EXTRA = 2
"""Neighbour candidates kept beyond the k + 1 needed, for the float64 re-ranking."""
_BATCH_ELEMENTS = 1 << 23
"""Largest ``sets x tile x tile`` of one batched call of the small-set path."""


@dataclasses.dataclass(frozen=True)
class KernelConfig:
    """Kernels of KID and CMMD.

    Attributes:
        kid_degree: Degree of the KID polynomial kernel ``(gamma x.y + coef) ** degree``.
        kid_gamma: Its ``gamma``; ``None`` means ``1 / d`` (Bińkowski et al. 2018).
        kid_coef: Its constant term.
        cmmd_sigma: Bandwidth of the CMMD Gaussian kernel ``exp(-|x-y|^2 / (2 sigma^2))``.
        cmmd_scale: Factor applied to the CMMD MMD² (Jayasumana et al. 2024 use 1000).
    """

    kid_degree: int = 3
    kid_gamma: float | None = None
    kid_coef: float = 1.0
    cmmd_sigma: float = 10.0
    cmmd_scale: float = 1000.0


@dataclasses.dataclass(frozen=True)
class PairStatistics:
    """Statistics of a real (natural) set and a fake (synthetic) set from one sweep.

    Attributes:
        precision: Fraction of fake points inside some real k-NN ball.
        recall: Fraction of real points inside some fake k-NN ball.
        density: Mean number of real k-NN balls holding a fake point, divided by k.
        coverage: Fraction of real k-NN balls holding at least one fake point.
        kid: Unbiased MMD² with the polynomial kernel.
        cmmd: Biased (V-statistic) MMD² with the Gaussian kernel, times ``cmmd_scale``.
        real_radii: Distance of each real point to its k-th nearest real neighbour.
        fake_radii: Same for the fake points.
    """

    precision: float
    recall: float
    density: float
    coverage: float
    kid: float
    cmmd: float
    real_radii: np.ndarray
    fake_radii: np.ndarray


# ----------------------------------------------------------------------------- device side


def _tolerance(d: int) -> float:
    # Trusted bound on |float32 d² - exact d²| / (|a|² + |b|²) (d² from the expansion
    # |a|² + |b|² - 2 a.b). The largest error measured with XLA's CPU matmul was 5 units of
    # float32 rounding (2^-24) at d = 12 and 15 at d = 768 (clustered unit vectors); we allow
    # 4 (4 + sqrt d) units (30 and 127), and every comparison inside it is redone in float64.
    return 4.0 * (4.0 + float(np.sqrt(d))) * 2.0**-24


def _candidates(k: int) -> int:
    # k + 1 neighbours (self included) plus spares, rounded up to 8: one compiled shape
    # serves k = 1..5.
    return -(-(k + 1 + _EXTRA) // 8) * 8


def _smallest(d2: jax.Array, kk: int) -> tuple[jax.Array, jax.Array]:
    """The ``kk`` smallest values of each row and their columns, exactly, in two stages.

    The ``kk`` smallest values of a row lie in the ``kk`` column groups with the smallest
    minima (each other group has ``kk`` smaller-or-equal minima before it), so a top-k over
    the group minima and one over the ``kk`` chosen groups replace a top-k over the full row.
    """
    rows, cols = d2.shape
    if cols % _GROUP or cols // _GROUP < kk:
        values, index = jax.lax.top_k(-d2, kk)
        return -values, index
    groups = d2.reshape(rows, cols // _GROUP, _GROUP)
    _, group_index = jax.lax.top_k(-groups.min(axis=2), kk)
    chosen = jnp.take_along_axis(groups, group_index[:, :, None], axis=1).reshape(rows, -1)
    values, pos = jax.lax.top_k(-chosen, kk)
    index = jnp.take_along_axis(group_index, pos // _GROUP, axis=1) * _GROUP + pos % _GROUP
    return -values, index


def _merge(
    values: jax.Array, index: jax.Array, new_values: jax.Array, new_index: jax.Array
) -> tuple[jax.Array, jax.Array]:
    kk = values.shape[1]
    both = jnp.concatenate([values, new_values], axis=1)
    both_index = jnp.concatenate([index, new_index], axis=1)
    top, pos = jax.lax.top_k(-both, kk)
    return -top, jnp.take_along_axis(both_index, pos, axis=1)


def _kernel_sums(
    gram: jax.Array, d2: jax.Array, valid: jax.Array, params: tuple[float, float, int, float]
) -> tuple[jax.Array, jax.Array]:
    # The constant parts (coef^degree and 1) cancel exactly in both MMD estimators: dropping
    # them keeps the float32 sums free of cancellation.
    gamma, coef, degree, rbf_gamma = params
    t = gram * gamma
    # (t + c)^p - c^p expanded: sum over i = 1..p of binom(p, i) c^(p - i) t^i.
    poly = sum(math.comb(degree, i) * coef ** (degree - i) * t**i for i in range(1, degree + 1))
    poly = jnp.where(valid, poly, 0.0)
    rbf = jnp.where(valid, jnp.expm1(-rbf_gamma * d2), 0.0)
    return poly.sum(axis=1), rbf.sum(axis=1)


def _tile(a: jax.Array, a_sq: jax.Array, b: jax.Array, b_sq: jax.Array) -> tuple[jax.Array, ...]:
    gram = a @ b.T
    return gram, jnp.maximum(a_sq[:, None] + b_sq[None, :] - 2.0 * gram, 0.0)


@functools.partial(jax.jit, static_argnames=("kk", "params"))
def _self_pass(
    x: jax.Array,
    sq: jax.Array,
    mask: jax.Array,
    pairs: jax.Array,
    *,
    kk: int,
    params: tuple[float, float, int, float],
) -> tuple[jax.Array, ...]:
    """Tiles ``(i, j), i <= j`` of one set (blocks ``x``: (nb, B, d)).

    Returns the ``kk`` smallest squared distances of each row (self included) with their
    columns, and per tile the row sums of the off-diagonal poly and RBF kernel terms.
    """
    nb, block, _ = x.shape
    span = jnp.arange(block)

    def step(
        carry: tuple[jax.Array, jax.Array], ij: jax.Array
    ) -> tuple[tuple[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]:
        values, index = carry
        i, j = ij[0], ij[1]
        gram, d2 = _tile(x[i], sq[i], x[j], sq[j])
        rows_ok, cols_ok = mask[i], mask[j]
        v, c = _smallest(jnp.where(cols_ok[None, :], d2, jnp.inf), kk)
        v, c = _merge(values[i], index[i], v, c + j * block)
        values, index = values.at[i].set(v), index.at[i].set(c)
        # The transposed tile gives the rows of block j their neighbours in block i.
        transposed = jnp.where(rows_ok[:, None] & (i != j), d2, jnp.inf).T
        v, c = _smallest(transposed, kk)
        v, c = _merge(values[j], index[j], v, c + i * block)
        values, index = values.at[j].set(v), index.at[j].set(c)
        valid = rows_ok[:, None] & cols_ok[None, :] & ((i != j) | (span[:, None] != span[None, :]))
        return (values, index), _kernel_sums(gram, d2, valid, params)

    init = (jnp.full((nb, block, kk), jnp.inf, x.dtype), jnp.zeros((nb, block, kk), jnp.int32))
    (values, index), (poly, rbf) = jax.lax.scan(step, init, pairs)
    return values, index, poly, rbf


@functools.partial(jax.jit, static_argnames=("params", "tol", "slots"))
def _cross_pass(
    fake: jax.Array,
    fake_sq: jax.Array,
    fake_mask: jax.Array,
    fake_r2: jax.Array,
    real: jax.Array,
    real_sq: jax.Array,
    real_mask: jax.Array,
    real_r2: jax.Array,
    pairs: jax.Array,
    *,
    params: tuple[float, float, int, float],
    tol: float,
    slots: int = 4,
) -> tuple[jax.Array, ...]:
    """Every (fake block, real block) tile: PRDC relations, kernel sums, unsure entries.

    An entry whose float32 distance lies within the float32 error of either radius is
    *unsure*: it is left out of the relations and its column is recorded in its row's slots
    (one per tile), or the row is marked *overflow* (more than one in a tile, or slots full)
    to be redone whole on the host.
    """
    nf, block, _ = fake.shape
    nr = real.shape[0]
    slot = jnp.arange(slots)

    def step(
        carry: tuple[jax.Array, ...], ij: jax.Array
    ) -> tuple[tuple[jax.Array, ...], tuple[jax.Array, jax.Array]]:
        precision, density, recall, coverage, found, filled, overflow = carry
        i, j = ij[0], ij[1]
        gram, d2 = _tile(fake[i], fake_sq[i], real[j], real_sq[j])
        valid = fake_mask[i][:, None] & real_mask[j][None, :]
        r2_real, r2_fake = real_r2[j][None, :], fake_r2[i][:, None]
        tol_ij = tol * (fake_sq[i][:, None] + real_sq[j][None, :])
        unsure = valid & ((jnp.abs(d2 - r2_real) <= tol_ij) | (jnp.abs(d2 - r2_fake) <= tol_ij))
        sure = valid & ~unsure
        in_real = sure & (d2 < r2_real)
        in_fake = sure & (d2 < r2_fake)
        count = unsure.sum(axis=1, dtype=jnp.int32)
        first = jnp.argmax(unsure, axis=1).astype(jnp.int32) + j * block
        fill = filled[i]
        take = (count == 1) & (fill < slots)
        put = take[:, None] & (slot[None, :] == fill[:, None])
        carry = (
            precision.at[i].set(precision[i] | in_real.any(axis=1)),
            density.at[i].add(in_real.sum(axis=1, dtype=jnp.int32)),
            recall.at[j].set(recall[j] | in_fake.any(axis=0)),
            coverage.at[j].set(coverage[j] | in_real.any(axis=0)),
            found.at[i].set(jnp.where(put, first[:, None], found[i])),
            filled.at[i].add(take.astype(jnp.int32)),
            overflow.at[i].set(overflow[i] | (count > 1) | ((count == 1) & ~take)),
        )
        return carry, _kernel_sums(gram, d2, valid, params)

    false_f, false_r = jnp.zeros((nf, block), bool), jnp.zeros((nr, block), bool)
    zeros_f = jnp.zeros((nf, block), jnp.int32)
    init: tuple[jax.Array, ...] = (
        false_f,
        zeros_f,
        false_r,
        false_r,
        jnp.zeros((nf, block, slots), jnp.int32),
        zeros_f,
        false_f,
    )
    out, (poly, rbf) = jax.lax.scan(step, init, pairs)
    return (*out, poly, rbf)


# ----------------------------------------------------------------------------- host side


@dataclasses.dataclass(frozen=True)
class _Padded:
    """One set, padded to whole tiles: float64 original, float32 blocks and masks."""

    x64: np.ndarray
    sq64: np.ndarray
    blocks: np.ndarray
    sq: np.ndarray
    mask: np.ndarray

    @property
    def n(self) -> int:
        return self.x64.shape[0]


def _padded(x: np.ndarray, block: int) -> _Padded:
    x64 = np.asarray(x, np.float64)
    n, d = x64.shape
    nb = -(-n // block)
    blocks = np.zeros((nb * block, d), np.float32)
    blocks[:n] = x
    sq64 = np.einsum("ij,ij->i", x64, x64)
    sq = np.zeros(nb * block, np.float32)
    sq[:n] = sq64
    mask = np.zeros(nb * block, bool)
    mask[:n] = True
    return _Padded(
        x64, sq64, blocks.reshape(nb, block, d), sq.reshape(nb, block), mask.reshape(nb, block)
    )


def _exact_d2(a: np.ndarray, a_sq: np.ndarray, b: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    return np.maximum(a_sq[:, None] + b_sq[None, :] - 2.0 * (a @ b.T), 0.0)


def _exact_radii(
    s: _Padded, values: np.ndarray, index: np.ndarray, k: int, tol: float
) -> np.ndarray:
    """Squared k-NN radii in float64 from the float32 candidates (self counted, as prdc does)."""
    n = s.n
    values = values.reshape(-1, values.shape[-1])[:n].astype(np.float64)
    index = index.reshape(-1, index.shape[-1])[:n]
    kk = values.shape[1]
    finite = np.isfinite(values)
    safe = np.where(finite, index, 0)
    r2 = np.empty(n)
    for start in range(0, n, 2048):
        chunk = slice(start, min(start + 2048, n))
        diff = s.x64[chunk, None, :] - s.x64[safe[chunk]]
        exact = np.where(finite[chunk], np.einsum("rcd,rcd->rc", diff, diff), np.inf)
        r2[chunk] = np.sort(exact, axis=1)[:, k]
    # The exact k+1 nearest are among the candidates unless the float32 k-th and last candidate
    # lie within the float32 error: recompute those rows against their whole set.
    margin = 2.0 * tol * (s.sq64 + s.sq64.max())
    redo = np.flatnonzero(finite[:, kk - 1] & (values[:, kk - 1] - values[:, k] <= margin))
    for start in range(0, len(redo), 256):
        rows = redo[start : start + 256]
        d2 = _exact_d2(s.x64[rows], s.sq64[rows], s.x64, s.sq64)
        d2[np.arange(len(rows)), rows] = 0.0
        r2[rows] = np.partition(d2, k, axis=1)[:, k]
    return r2


def _resolve_unsure(
    cross: Sequence[np.ndarray],
    real: _Padded,
    fake: _Padded,
    r2_real: np.ndarray,
    r2_fake: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The PRDC relations with every unsure entry decided in float64."""
    n, m = real.n, fake.n
    flat = [np.array(a).reshape(a.shape[0] * a.shape[1], *a.shape[2:]) for a in cross]
    precision, density, recall, coverage, found, filled, overflow = flat
    precision, density = precision[:m], density[:m].astype(np.int64)
    recall, coverage = recall[:n], coverage[:n]
    found, filled, overflow = found[:m], filled[:m], overflow[:m]
    # Single unsure entries: their exact distances.
    keep = ~overflow & (filled > 0)
    rows = np.repeat(np.flatnonzero(keep), filled[keep])
    cols = found[keep][np.arange(found.shape[1])[None, :] < filled[keep][:, None]].astype(np.int64)
    if len(rows):
        diff = fake.x64[rows] - real.x64[cols]
        d2 = np.einsum("ij,ij->i", diff, diff)
        inside_real = d2 < r2_real[cols]
        np.logical_or.at(precision, rows, inside_real)
        np.add.at(density, rows, inside_real.astype(np.int64))
        np.logical_or.at(coverage, cols, inside_real)
        np.logical_or.at(recall, cols, d2 < r2_fake[rows])
    # Rows with several unsure entries: the whole row.
    redo = np.flatnonzero(overflow)
    for start in range(0, len(redo), 256):
        part = redo[start : start + 256]
        d2 = _exact_d2(fake.x64[part], fake.sq64[part], real.x64, real.sq64)
        inside_real = d2 < r2_real[None, :]
        precision[part] = inside_real.any(axis=1)
        density[part] = inside_real.sum(axis=1)
        coverage |= inside_real.any(axis=0)
        recall |= (d2 < r2_fake[part][:, None]).any(axis=0)
    return precision, density, recall, coverage


def _kernel_params(d: int, kernels: KernelConfig) -> tuple[float, float, int, float]:
    gamma = kernels.kid_gamma if kernels.kid_gamma is not None else 1.0 / d
    return (
        float(gamma),
        float(kernels.kid_coef),
        int(kernels.kid_degree),
        1.0 / (2.0 * kernels.cmmd_sigma**2),
    )


def _self_pairs(nb: int) -> np.ndarray:
    i, j = np.triu_indices(nb)
    return np.stack([i, j], axis=1).astype(np.int32)


def _cross_pairs(nf: int, nr: int) -> np.ndarray:
    i, j = np.meshgrid(np.arange(nf), np.arange(nr), indexing="ij")
    return np.stack([i.ravel(), j.ravel()], axis=1).astype(np.int32)


def _self_sums(poly: np.ndarray, pairs: np.ndarray) -> float:
    weights = np.where(pairs[:, 0] == pairs[:, 1], 1.0, 2.0)
    return float(weights @ np.asarray(poly, np.float64).sum(axis=1))


def _finish(
    real: _Padded,
    fake: _Padded,
    r2_real: np.ndarray,
    r2_fake: np.ndarray,
    cross: Sequence[np.ndarray],
    sums: tuple[float, float, float, float, float, float],
    k: int,
    kernels: KernelConfig,
) -> PairStatistics:
    n, m = real.n, fake.n
    precision, density, recall, coverage = _resolve_unsure(cross, real, fake, r2_real, r2_fake)
    poly_rr, poly_ff, poly_fr, rbf_rr, rbf_ff, rbf_fr = sums
    kid = poly_rr / (n * (n - 1)) + poly_ff / (m * (m - 1)) - 2.0 * poly_fr / (n * m)
    cmmd = rbf_rr / (n * n) + rbf_ff / (m * m) - 2.0 * rbf_fr / (n * m)
    return PairStatistics(
        precision=float(np.mean(precision)),
        recall=float(np.mean(recall)),
        density=float(np.mean(density)) / k,
        coverage=float(np.mean(coverage)),
        kid=float(kid),
        cmmd=float(kernels.cmmd_scale * cmmd),
        real_radii=np.sqrt(r2_real),
        fake_radii=np.sqrt(r2_fake),
    )


def _check(real: np.ndarray, fake: np.ndarray, k: int) -> None:
    if k < 1:
        raise ProbeInputError(f"k must be >= 1, got {k}")
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ProbeInputError(f"incompatible shapes {real.shape} and {fake.shape}")
    if real.shape[0] <= k or fake.shape[0] <= k:
        raise ProbeInputError(
            f"need more than k={k} points in each set, got {real.shape[0]} and {fake.shape[0]}"
        )


def _r2_blocks(r2: np.ndarray, like: _Padded) -> np.ndarray:
    out = np.full(like.mask.size, np.inf, np.float32)
    out[: like.n] = r2
    return out.reshape(like.mask.shape)


def _tiled(
    real: np.ndarray, fake: np.ndarray, k: int, kernels: KernelConfig, block: int
) -> PairStatistics:
    d = real.shape[1]
    kk = _candidates(k)
    tile = max(block, -(-kk // _GROUP) * _GROUP)
    params, tol = _kernel_params(d, kernels), _tolerance(d)
    sets = [_padded(real, tile), _padded(fake, tile)]
    radii, self_poly, self_rbf = [], [], []
    for s in sets:
        pairs = _self_pairs(s.blocks.shape[0])
        values, index, poly, rbf = _self_pass(
            jnp.asarray(s.blocks),
            jnp.asarray(s.sq),
            jnp.asarray(s.mask),
            jnp.asarray(pairs),
            kk=kk,
            params=params,
        )
        radii.append(_exact_radii(s, np.asarray(values), np.asarray(index), k, tol))
        self_poly.append(_self_sums(np.asarray(poly), pairs))
        self_rbf.append(_self_sums(np.asarray(rbf), pairs))
    r, f = sets
    pairs = _cross_pairs(f.blocks.shape[0], r.blocks.shape[0])
    *cross, poly, rbf = _cross_pass(
        jnp.asarray(f.blocks),
        jnp.asarray(f.sq),
        jnp.asarray(f.mask),
        jnp.asarray(_r2_blocks(radii[1], f)),
        jnp.asarray(r.blocks),
        jnp.asarray(r.sq),
        jnp.asarray(r.mask),
        jnp.asarray(_r2_blocks(radii[0], r)),
        jnp.asarray(pairs),
        params=params,
        tol=tol,
    )
    sums = (
        self_poly[0],
        self_poly[1],
        float(np.asarray(poly, np.float64).sum()),
        self_rbf[0],
        self_rbf[1],
        float(np.asarray(rbf, np.float64).sum()),
    )
    return _finish(r, f, radii[0], radii[1], [np.asarray(a) for a in cross], sums, k, kernels)


def _batched(
    groups: Sequence[tuple[np.ndarray, np.ndarray]], k: int, kernels: KernelConfig
) -> list[PairStatistics]:
    """Many small pairs of sets, one tile each, ``vmap``-ed over the pairs in a few calls."""
    d = groups[0][0].shape[1]
    kk = _candidates(k)
    size = max(max(max(len(r), len(f)) for r, f in groups), kk, 16)
    # Power-of-two tiles: few distinct shapes, so few compilations across calls.
    tile = 1 << (size - 1).bit_length()
    params, tol = _kernel_params(d, kernels), _tolerance(d)
    self_fn = jax.vmap(functools.partial(_self_pass, kk=kk, params=params), (0, 0, 0, None))
    cross_fn = jax.vmap(
        functools.partial(_cross_pass, params=params, tol=tol),
        (0, 0, 0, 0, 0, 0, 0, 0, None),
    )
    one = jnp.zeros((1, 2), jnp.int32)
    per_call = max(1, _BATCH_ELEMENTS // (tile * tile))
    results: list[PairStatistics] = []
    for start in range(0, len(groups), per_call):
        chunk = list(groups[start : start + per_call])
        # Pad the chunk to a whole batch so that every call has one shape (one compilation).
        count = len(chunk)
        chunk += [chunk[-1]] * (min(per_call, len(groups)) - count)
        padded = [(_padded(r, tile), _padded(f, tile)) for r, f in chunk]

        def stack(
            which: int, field: str, padded: list[tuple[_Padded, _Padded]] = padded
        ) -> jax.Array:
            return jnp.asarray(np.stack([getattr(p[which], field) for p in padded]))

        radii: list[list[np.ndarray]] = [[], []]
        self_sums = np.zeros((2, 2, len(chunk)))
        for which in (0, 1):
            values, index, poly, rbf = (
                np.asarray(a)
                for a in self_fn(
                    stack(which, "blocks"), stack(which, "sq"), stack(which, "mask"), one
                )
            )
            for g, p in enumerate(padded[:count]):
                radii[which].append(_exact_radii(p[which], values[g], index[g], k, tol))
            self_sums[0, which] = np.asarray(poly, np.float64).sum(axis=(1, 2))
            self_sums[1, which] = np.asarray(rbf, np.float64).sum(axis=(1, 2))
        r2 = [
            jnp.asarray(
                np.stack(
                    [_r2_blocks(radii[w][min(g, count - 1)], p[w]) for g, p in enumerate(padded)]
                )
            )
            for w in (0, 1)
        ]
        out = cross_fn(
            stack(1, "blocks"),
            stack(1, "sq"),
            stack(1, "mask"),
            r2[1],
            stack(0, "blocks"),
            stack(0, "sq"),
            stack(0, "mask"),
            r2[0],
            one,
        )
        *cross, poly, rbf = (np.asarray(a) for a in out)
        for g in range(count):
            sums = (
                self_sums[0, 0, g],
                self_sums[0, 1, g],
                float(np.asarray(poly[g], np.float64).sum()),
                self_sums[1, 0, g],
                self_sums[1, 1, g],
                float(np.asarray(rbf[g], np.float64).sum()),
            )
            real_p, fake_p = padded[g]
            results.append(
                _finish(
                    real_p,
                    fake_p,
                    radii[0][g],
                    radii[1][g],
                    [c[g] for c in cross],
                    sums,
                    k,
                    kernels,
                )
            )
    return results


def pair_statistics_many(
    groups: Sequence[tuple[np.ndarray, np.ndarray]],
    k: int = 5,
    *,
    kernels: KernelConfig | None = None,
    block: int = 1024,
) -> list[PairStatistics]:
    """:func:`pair_statistics` of many (real, fake) pairs, the small ones batched together.

    Pairs whose sets both fit in one ``block`` run together, one tile each, in a few
    ``vmap``-ed calls (per-class statistics); larger pairs run tile by tile.

    Args:
        groups: (real, fake) pairs, all of the same width.
        k: Neighbourhood size.
        kernels: Kernel parameters; defaults to :class:`KernelConfig`.
        block: Tile side.

    Returns:
        One :class:`PairStatistics` per pair, in order.

    Raises:
        ProbeInputError: As :func:`pair_statistics`, or pairs of different widths.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> pairs = [(rng.normal(size=(40, 8)), rng.normal(size=(30, 8))) for _ in range(3)]
        >>> [round(s.coverage, 3) for s in pair_statistics_many(pairs)] == [
        ...     round(pair_statistics(r, f).coverage, 3) for r, f in pairs
        ... ]
        True
    """
    kernels = kernels or KernelConfig()
    arrays = [(np.asarray(r, np.float32), np.asarray(f, np.float32)) for r, f in groups]
    for r, f in arrays:
        _check(r, f, k)
    if arrays and len({r.shape[1] for r, _ in arrays}) != 1:
        raise ProbeInputError("pair_statistics_many: the pairs have different widths")
    small = [i for i, (r, f) in enumerate(arrays) if max(len(r), len(f)) <= block]
    out: list[PairStatistics | None] = [None] * len(arrays)
    if small:
        for i, stats in zip(small, _batched([arrays[i] for i in small], k, kernels), strict=True):
            out[i] = stats
    for i, (r, f) in enumerate(arrays):
        if out[i] is None:
            out[i] = _tiled(r, f, k, kernels, block)
    return [s for s in out if s is not None]


def pair_statistics(
    real: np.ndarray,
    fake: np.ndarray,
    k: int = 5,
    *,
    kernels: KernelConfig | None = None,
    block: int = 1024,
) -> PairStatistics:
    """Exact k-NN manifold metrics, KID and CMMD of two embedding sets in one sweep.

    Definitions (Naeem et al. 2020 for the first four; strict inequalities as in their code):
    with ``r(x)`` the distance from ``x`` to its k-th nearest neighbour within its own set
    (the point itself counted as its nearest, as in their code),

    - precision = mean over fake ``y`` of ``[exists real x: |y - x| < r(x)]``;
    - recall = mean over real ``x`` of ``[exists fake y: |x - y| < r(y)]``;
    - density = mean over fake ``y`` of ``#{real x: |y - x| < r(x)} / k``;
    - coverage = mean over real ``x`` of ``[min over fake y of |x - y| < r(x)]``;
    - KID (Bińkowski et al. 2018) = unbiased MMD² with ``k(a, b) = (gamma a.b + coef)^degree``;
    - CMMD (Jayasumana et al. 2024) = ``scale`` x biased MMD² with
      ``k(a, b) = exp(-|a - b|^2 / (2 sigma^2))``.

    The distances come from float32 tiles; radii and every comparison within float32 error
    of a radius are redone in float64 (see the module notes), so the four k-NN measures are
    those of float64 arithmetic. Memory is a few ``block x block`` tiles.

    Args:
        real: Natural embeddings, shape (n, d), n > k.
        fake: Synthetic embeddings, shape (m, d), m > k.
        k: Neighbourhood size.
        kernels: Kernel parameters; defaults to :class:`KernelConfig`.
        block: Tile side (sets up to this size run as a single tile).

    Returns:
        The statistics.

    Raises:
        ProbeInputError: Fewer than ``k + 1`` points in a set, mismatched widths, or ``k < 1``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(200, 8)).astype(np.float32)
        >>> stats = pair_statistics(x, x, k=5)
        >>> round(stats.precision, 3), round(stats.recall, 3), abs(stats.cmmd) < 1e-3
        (1.0, 1.0, True)
    """
    real = np.asarray(real, np.float32)
    fake = np.asarray(fake, np.float32)
    _check(real, fake, k)
    kernels = kernels or KernelConfig()
    if max(len(real), len(fake)) <= block:
        return _batched([(real, fake)], k, kernels)[0]
    return _tiled(real, fake, k, kernels, block)
