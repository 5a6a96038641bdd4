"""Adaptive model-free level sets: 1-D k-means (Lloyd-Max on the sample) and quantiles."""

from __future__ import annotations

import numpy as np

from fourfold_common.levels._checks import check_count, check_sample, make_distinct
from fourfold_common.levels._errors import LevelsError


def quantile_levels(values: np.ndarray | list[float], n: int) -> np.ndarray:
    """Equal-occupancy levels: the ``(k + 1/2) / n`` sample quantiles, ``k = 0..n-1``.

    Args:
        values: Sample of any shape; it is flattened.
        n: Number of levels.

    Returns:
        Sorted, strictly increasing float64 array of shape ``(n,)`` (ties in the sample are
        split so that the count is always ``n``).

    Raises:
        LevelsError: Empty or non-finite sample, or ``n < 1``.

    Example:
        >>> quantile_levels(list(range(100)), 4).tolist()
        [12.375, 37.125, 61.875, 86.625]
    """
    n = check_count(n)
    sample = check_sample(values)
    return make_distinct(np.quantile(sample, (np.arange(n) + 0.5) / n), n)


def kmeans_levels(
    values: np.ndarray | list[float],
    n: int,
    *,
    seed: int = 0,
    max_samples: int | None = None,
    iterations: int = 100,
) -> np.ndarray:
    """1-D k-means (Lloyd-Max on the empirical distribution), deterministic.

    Starts from :func:`quantile_levels` and alternates nearest-level assignment (thresholds at
    midpoints) with cell means, using a sorted sample and cumulative sums, so one iteration costs
    ``O(n log N)`` after an ``O(N log N)`` sort. Empty cells keep their level.

    Args:
        values: Sample of any shape; it is flattened.
        n: Number of levels.
        seed: Seed of the subsample (only used when ``max_samples`` is exceeded).
        max_samples: If given and the sample is larger, a random subsample of this size (without
            replacement) is clustered instead (mini-batch k-means for big networks).
        iterations: Maximum number of Lloyd iterations (stops earlier on convergence).

    Returns:
        Sorted, strictly increasing float64 array of shape ``(n,)``.

    Raises:
        LevelsError: Empty or non-finite sample, ``n < 1``, ``max_samples < 1`` or
            ``iterations < 0``.

    Example:
        >>> [round(v, 6) for v in kmeans_levels([0.0, 0.1, 0.2, 10.0, 10.1, 10.2], 2).tolist()]
        [0.1, 10.1]
    """
    n = check_count(n)
    sample = check_sample(values)
    if iterations < 0:
        raise LevelsError(f"iterations must be >= 0, got {iterations}")
    if max_samples is not None:
        if max_samples < 1:
            raise LevelsError(f"max_samples must be >= 1, got {max_samples}")
        if sample.size > max_samples:
            rng = np.random.default_rng(seed)
            sample = sample[rng.choice(sample.size, size=max_samples, replace=False)]
    ordered = np.sort(sample)
    cumulative = np.concatenate([[0.0], np.cumsum(ordered)])
    levels = make_distinct(np.quantile(ordered, (np.arange(n) + 0.5) / n), n)
    for _ in range(iterations):
        cuts = np.searchsorted(ordered, 0.5 * (levels[1:] + levels[:-1]), side="left")
        edges = np.concatenate([[0], cuts, [ordered.size]])
        counts = np.diff(edges)
        sums = cumulative[edges[1:]] - cumulative[edges[:-1]]
        updated = np.where(counts > 0, sums / np.maximum(counts, 1), levels)
        updated = make_distinct(updated, n)
        if np.array_equal(updated, levels):
            break
        levels = updated
    return levels
