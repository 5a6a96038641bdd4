"""Adaptive parametric level sets: fit a Gaussian or a Laplacian, place levels in closed form."""

from __future__ import annotations

import math

import numpy as np

from fourfold_common.levels._checks import check_count, check_sample, make_distinct
from fourfold_common.levels._errors import LevelsError


def _normal_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * np.square(x)) / math.sqrt(2.0 * math.pi)


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    return np.array([0.5 * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x.tolist()])


def standard_gaussian_levels(n: int, *, iterations: int = 300) -> np.ndarray:
    """Lloyd-Max (minimum mean-squared error) levels of the standard normal distribution.

    Alternates thresholds at midpoints of the levels and levels at the conditional means
    ``(φ(t_lo) - φ(t_hi)) / (Φ(t_hi) - Φ(t_lo))`` of their cells, starting from evenly spaced
    levels on ``[-2, 2]``.

    Args:
        n: Number of levels.
        iterations: Maximum number of Lloyd-Max iterations (it stops earlier on convergence).

    Returns:
        Sorted float64 array of shape ``(n,)``, symmetric about zero.

    Example:
        >>> [round(v, 4) for v in standard_gaussian_levels(2).tolist()]
        [-0.7979, 0.7979]
    """
    n = check_count(n)
    if n == 1:
        return np.zeros(1)
    levels = np.linspace(-2.0, 2.0, n)
    for _ in range(iterations):
        cuts = 0.5 * (levels[1:] + levels[:-1])
        pdf = np.concatenate([[0.0], _normal_pdf(cuts), [0.0]])
        cdf = np.concatenate([[0.0], _normal_cdf(cuts), [1.0]])
        mass = np.maximum(np.diff(cdf), 1e-300)
        updated = (pdf[:-1] - pdf[1:]) / mass
        if np.max(np.abs(updated - levels)) < 1e-12:
            levels = updated
            break
        levels = updated
    return 0.5 * (levels - levels[::-1])


def gaussian_levels(values: np.ndarray | list[float], n: int) -> np.ndarray:
    """Lloyd-Max levels of the Gaussian fitted (mean, standard deviation) to ``values``.

    Args:
        values: Sample of any shape; it is flattened.
        n: Number of levels.

    Returns:
        Sorted, strictly increasing float64 array of shape ``(n,)``: ``mean + std * g`` with
        ``g`` the :func:`standard_gaussian_levels`.

    Raises:
        LevelsError: Empty or non-finite sample, or ``n < 1``.

    Example:
        >>> import numpy as np
        >>> sample = np.random.default_rng(0).normal(3.0, 2.0, 100_000)
        >>> [round(v, 1) for v in gaussian_levels(sample, 2).tolist()]
        [1.4, 4.6]
    """
    n = check_count(n)
    sample = check_sample(values)
    mean, std = float(sample.mean()), float(sample.std())
    if std == 0.0:
        return make_distinct(np.full(n, mean), n)
    return make_distinct(mean + std * standard_gaussian_levels(n), n)


def laplacian_offsets(n: int) -> np.ndarray:
    """Unit-scale offsets ``L`` of the equal-occupancy Laplacian levels ``a ± b·L``.

    For a Laplacian with location 0 and scale 1 the mass beyond ``x >= 0`` is ``e^{-x} / 2``.
    Odd ``n = 2m + 1``: ``L_0 = 0`` and ``L_i = L_{i-1} - ln(1 - 2·e^{L_{i-1}} / n)`` for
    ``i = 1..m``, i.e. ``L_i = -ln(1 - 2i/n)``; each step moves exactly ``1/n`` of the mass past
    the level, so consecutive levels hold ``1/n`` of the mass between them and the outermost
    level has ``1/(2n)`` beyond it (the levels are the ``(k + 1/2)/n`` quantiles). Even ``n``:
    the same recursion started from ``L_{1/2} = -ln(1 - 1/n)`` (no level at the centre), i.e.
    ``L_i = -ln(1 - (2i - 1)/n)`` for ``i = 1..n/2``.

    Args:
        n: Number of levels.

    Returns:
        Sorted float64 array of shape ``(n,)`` symmetric about zero.

    Example:
        >>> [round(v, 4) for v in laplacian_offsets(3).tolist()]
        [-1.0986, 0.0, 1.0986]
    """
    n = check_count(n)
    positive = [0.0] if n % 2 else [-math.log(1.0 - 1.0 / n)]
    while len(positive) < (n + 1) // 2:
        previous = positive[-1]
        positive.append(previous - math.log(1.0 - 2.0 * math.exp(previous) / n))
    half = np.asarray(positive)
    if n % 2:
        return np.concatenate([-half[:0:-1], half])
    return np.concatenate([-half[::-1], half])


def laplacian_levels(values: np.ndarray | list[float], n: int) -> np.ndarray:
    """Closed-form equal-occupancy levels of the Laplacian fitted to ``values``.

    The fit is the maximum-likelihood one: location ``a`` = median, scale ``b`` = mean absolute
    deviation from the median. The levels are ``a + b·L`` with ``L`` from
    :func:`laplacian_offsets` (centres ``a ± b·L_i``, ``L_0 = 0``,
    ``L_i = L_{i-1} - ln(1 - 2·e^{L_{i-1}}/N)``, each cluster ``1/N`` of the mass).

    Args:
        values: Sample of any shape; it is flattened.
        n: Number of levels (odd: a level at the median; even: none there).

    Returns:
        Sorted, strictly increasing float64 array of shape ``(n,)``.

    Raises:
        LevelsError: Empty or non-finite sample, or ``n < 1``.

    Example:
        >>> import numpy as np
        >>> sample = np.random.default_rng(0).laplace(0.0, 1.0, 200_000)
        >>> [round(v, 1) + 0.0 for v in laplacian_levels(sample, 3).tolist()]
        [-1.1, 0.0, 1.1]
    """
    n = check_count(n)
    sample = check_sample(values)
    location = float(np.median(sample))
    scale = float(np.mean(np.abs(sample - location)))
    if scale == 0.0:
        return make_distinct(np.full(n, location), n)
    if not math.isfinite(scale):
        raise LevelsError("values overflow the Laplacian fit")
    return make_distinct(location + scale * laplacian_offsets(n), n)
