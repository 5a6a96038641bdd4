"""Fidelity and coverage of a synthetic set against a natural set, in embedding space."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from tti_probe._analysis_inputs import ProbeInputError, as_embeddings
from tti_probe._metrics_blocks import KernelConfig, PairStatistics, pair_statistics_many


@dataclasses.dataclass(frozen=True)
class Fidelity:
    """Distribution-level comparison of a synthetic set with a natural set.

    Attributes:
        precision: Fraction of synthetic points on the natural k-NN manifold (fidelity).
        recall: Fraction of natural points on the synthetic k-NN manifold (diversity).
        density: Precision counting how many natural balls hold each synthetic point.
        coverage: Fraction of natural k-NN balls that hold a synthetic point.
        frechet: Fréchet distance between Gaussians fitted to the two sets.
        kid: Kernel inception distance (unbiased MMD², cubic polynomial kernel).
        cmmd: CMMD (biased MMD², Gaussian kernel, sigma 10, times 1000).
    """

    precision: float
    recall: float
    density: float
    coverage: float
    frechet: float
    kid: float
    cmmd: float


@jax.jit
def _mean_cov(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    mean = x.mean(axis=0)
    centred = x - mean
    return mean, centred.T @ centred / (x.shape[0] - 1)


def _sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def _nuclear_norm_cross(a: np.ndarray, b: np.ndarray) -> float:
    # tr((S_a^{1/2} S_b S_a^{1/2})^{1/2}) for S_a = A A^T, S_b = B B^T is the sum of the singular
    # values of A^T B: the non-zero eigenvalues of S_a S_b are those of (A^T B)^T (A^T B).
    cross = a.T @ b
    small = cross @ cross.T if cross.shape[0] <= cross.shape[1] else cross.T @ cross
    return float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((small + small.T) / 2), 0.0, None))))


def frechet_distance(real: object, fake: object) -> float:
    """Fréchet distance between Gaussians fitted to two embedding sets.

    ``|mu_r - mu_f|^2 + tr(S_r + S_f - 2 (S_r^{1/2} S_f S_r^{1/2})^{1/2})`` (Heusel et al. 2017,
    FID's formula, here in the given embedding space), with unbiased (n - 1) covariances. The
    moments are computed in JAX; the matrix square-root trace in float64 on the host, through
    the ``d x d`` covariances, or, when a set has fewer points than dimensions (per-class sets),
    exactly through the singular values of the ``n x m`` cross product of the centred sets.

    Args:
        real: Natural embeddings, shape (n, d), n >= 2.
        fake: Synthetic embeddings, shape (m, d), m >= 2.

    Returns:
        The distance (>= 0 up to rounding).

    Raises:
        ProbeInputError: Fewer than two rows in a set or different widths.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(500, 4))
        >>> frechet_distance(x, x) < 1e-4, frechet_distance(x, x + 1.0) > 3.9
        (True, True)
    """
    xr = as_embeddings(real, "real", min_rows=2)
    xf = as_embeddings(fake, "fake", min_rows=2)
    if xr.shape[1] != xf.shape[1]:
        raise ProbeInputError(f"real (d={xr.shape[1]}) and fake (d={xf.shape[1]}) differ")
    n, m, d = xr.shape[0], xf.shape[0], xr.shape[1]
    if min(n, m) < d:
        a = xr.astype(np.float64)
        b = xf.astype(np.float64)
        mu_r, mu_f = a.mean(axis=0), b.mean(axis=0)
        ca = (a - mu_r) / np.sqrt(n - 1)
        cb = (b - mu_f) / np.sqrt(m - 1)
        diff = mu_r - mu_f
        traces = float(np.sum(ca * ca) + np.sum(cb * cb))
        return float(diff @ diff + traces - 2.0 * _nuclear_norm_cross(ca.T, cb.T))
    mu_r, cov_r = (np.asarray(v, np.float64) for v in _mean_cov(jnp.asarray(xr)))
    mu_f, cov_f = (np.asarray(v, np.float64) for v in _mean_cov(jnp.asarray(xf)))
    root_r = _sqrtm_psd((cov_r + cov_r.T) / 2)
    middle = root_r @ cov_f @ root_r
    cross = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)))
    diff = mu_r - mu_f
    return float(diff @ diff + np.trace(cov_r) + np.trace(cov_f) - 2.0 * cross)


def fidelity(
    real: object,
    fake: object,
    k: int = 5,
    *,
    kernels: KernelConfig | None = None,
    block: int = 512,
) -> Fidelity:
    """All fidelity and coverage measures of ``fake`` against ``real``, exactly (no sampling).

    Precision, recall, density and coverage follow Naeem et al. 2020 ("Reliable Fidelity and
    Diversity Metrics for Generative Models"); KID follows Bińkowski et al. 2018 (unbiased);
    CMMD follows Jayasumana et al. 2024 ("Rethinking FID"), whose estimator includes the
    diagonal. See :func:`tti_probe.pair_statistics` and :func:`tti_probe.frechet_distance`.

    Args:
        real: Natural embeddings, shape (n, d), n > k.
        fake: Synthetic embeddings, shape (m, d), m > k.
        k: Neighbourhood size of the k-NN manifolds.
        kernels: KID and CMMD kernel parameters.
        block: Rows per distance block.

    Returns:
        The measures.

    Raises:
        ProbeInputError: Too few rows, different widths, or non-finite values.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(300, 8))
        >>> f = fidelity(x, x)
        >>> f.precision, f.recall, f.coverage
        (1.0, 1.0, 1.0)
    """
    return fidelity_many([(real, fake)], k, kernels=kernels, block=block)[0]


def _from_stats(stats: PairStatistics, frechet: float) -> Fidelity:
    return Fidelity(
        precision=stats.precision,
        recall=stats.recall,
        density=stats.density,
        coverage=stats.coverage,
        frechet=frechet,
        kid=stats.kid,
        cmmd=stats.cmmd,
    )


def fidelity_many(
    groups: Sequence[tuple[object, object]],
    k: int = 5,
    *,
    kernels: KernelConfig | None = None,
    block: int = 512,
) -> list[Fidelity]:
    """:func:`fidelity` of many (real, fake) pairs, e.g. one per class, exactly.

    Pairs that fit in one ``block`` share a few batched (``vmap``-ed) distance computations
    instead of one call each; see :func:`tti_probe._metrics_blocks.pair_statistics_many`.

    Args:
        groups: (real, fake) embedding pairs of one width, each set with more than k rows.
        k: Neighbourhood size of the k-NN manifolds.
        kernels: KID and CMMD kernel parameters.
        block: Tile side.

    Returns:
        One :class:`Fidelity` per pair, in order.

    Raises:
        ProbeInputError: Too few rows, different widths, or non-finite values.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> pairs = [(rng.normal(size=(50, 4)), rng.normal(size=(40, 4)) + s) for s in (0, 3)]
        >>> near, far = fidelity_many(pairs)
        >>> near.precision > far.precision and near.frechet < far.frechet
        True
    """
    arrays = [
        (as_embeddings(r, "real", min_rows=k + 1), as_embeddings(f, "fake", min_rows=k + 1))
        for r, f in groups
    ]
    stats = pair_statistics_many(arrays, k, kernels=kernels, block=block)
    return [_from_stats(s, frechet_distance(r, f)) for s, (r, f) in zip(stats, arrays, strict=True)]
