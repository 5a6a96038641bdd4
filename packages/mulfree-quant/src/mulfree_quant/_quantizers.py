"""Quantizers: level placement per scheme (numpy) and straight-through quantization (JAX)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from fourfold_common.levels import (
    gaussian_levels,
    kmeans_levels,
    laplacian_levels,
    power_of_two_levels,
    quantile_levels,
    uniform_levels,
)
from mulfree_quant._config import SCHEMES
from mulfree_quant._errors import MulfreeError


def clipped_range(sample: np.ndarray, n: int, *, signed: bool, candidates: int = 48) -> float:
    """Clipping magnitude ``m`` of a uniform ``n``-level quantizer with the least squared error.

    Searches ``m`` over ``candidates`` evenly spaced fractions of the sample's largest magnitude
    (the last one is the magnitude itself) and returns the one minimising the mean squared
    error of quantizing ``sample`` to ``n`` uniform levels on ``[-m, m]`` (``signed``) or
    ``[0, m]``. The range is calibrated on data; the levels stay uniform (a *fixed* scheme).

    Example:
        >>> sample = np.concatenate([np.linspace(-1.0, 1.0, 999), [50.0]])
        >>> clipped_range(sample, 5, signed=True) < 5.0
        True
    """
    values = np.asarray(sample, dtype=np.float64).ravel()
    magnitude = float(np.max(np.abs(values))) if values.size else 0.0
    if magnitude <= 0 or n < 2:
        return magnitude if magnitude > 0 else 1.0
    best, best_error = magnitude, np.inf
    for fraction in np.linspace(1.0 / candidates, 1.0, candidates):
        m = magnitude * float(fraction)
        low = -m if signed else 0.0
        step = (m - low) / (n - 1)
        index = np.clip(np.rint((values - low) / step), 0, n - 1)
        error = float(np.mean((low + index * step - values) ** 2))
        if error < best_error:
            best, best_error = m, error
    return best


def place_levels(
    values: np.ndarray, n: int, scheme: str, *, seed: int = 0, max_samples: int = 20_000
) -> np.ndarray:
    """``n`` sorted levels for the sample ``values`` with one of the :data:`SCHEMES`.

    Fixed schemes use only the sample's range: ``uniform`` spans ``[-m, m]`` for signed data and
    ``[0, m]`` for non-negative data, with ``m`` the least-squared-error clipping magnitude of
    :func:`clipped_range` (at most the largest magnitude); ``log`` places powers of two below the
    largest magnitude. Parametric schemes fit a Gaussian or a Laplacian; model-free ones are k-means
    and quantiles (see :mod:`fourfold_common.levels`).

    Args:
        values: Sample (any shape).
        n: Number of levels (need not be a power of two).
        scheme: One of ``uniform``, ``log``, ``gaussian``, ``laplacian``, ``kmeans``,
            ``quantile``.
        seed: Seed of the k-means subsample.
        max_samples: Subsample size for k-means.

    Returns:
        Strictly increasing float64 array of shape ``(n,)``.

    Raises:
        MulfreeError: Unknown scheme.

    Example:
        >>> place_levels(np.array([-1.0, 0.0, 1.0]), 3, "uniform").tolist()
        [-1.0, 0.0, 1.0]
    """
    if scheme not in SCHEMES:
        raise MulfreeError(f"unknown scheme {scheme!r}; choose from {sorted(SCHEMES)}")
    sample = np.asarray(values, dtype=np.float64).ravel()
    magnitude = float(np.max(np.abs(sample))) if sample.size else 0.0
    magnitude = magnitude if magnitude > 0 else 1.0
    nonnegative = bool(sample.size) and float(sample.min()) >= 0
    if scheme == "uniform":
        clip = clipped_range(sample, n, signed=not nonnegative) if sample.size else magnitude
        return uniform_levels(n, 0.0 if nonnegative else -clip, clip)
    if scheme == "log":
        return power_of_two_levels(n, magnitude, signed=not nonnegative)
    if scheme == "gaussian":
        return gaussian_levels(sample, n)
    if scheme == "laplacian":
        return laplacian_levels(sample, n)
    if scheme == "kmeans":
        return kmeans_levels(sample, n, seed=seed, max_samples=max_samples)
    return quantile_levels(sample, n)


def activation_levels(
    values: np.ndarray, n: int, scheme: str, *, seed: int = 0, max_samples: int = 20_000
) -> np.ndarray:
    """Levels for an activation output: always containing an exact ``0``.

    Zero is needed for padding and is where ReLU puts much of its mass. Non-negative samples
    (ReLU outputs) get ``0`` plus ``n - 1`` levels placed on the positive values; signed samples
    get ``n - 1`` levels on all values plus ``0`` (a level that lands on ``0`` is replaced by a
    split of the widest gap). ``uniform`` on non-negative samples is ``n`` uniform levels on
    ``[0, m]`` with ``m`` from :func:`clipped_range`. ``laplacian`` on non-negative samples fits
    the one-sided Laplacian (exponential, maximum-likelihood scale ``b`` = mean of the positive
    values) and places the ``n - 1`` positive levels at its equal-occupancy quantiles
    ``-b · ln(1 - (k + 1/2) / (n - 1))`` (a two-sided fit would put levels below zero).

    Example:
        >>> activation_levels(np.array([0.0, 0.0, 1.0, 2.0, 3.0]), 4, "quantile").tolist()
        [0.0, 1.375, 2.125, 2.875]
    """
    sample = np.asarray(values, dtype=np.float64).ravel()
    nonnegative = sample.size == 0 or float(sample.min()) >= 0
    base = sample[sample > 0] if nonnegative else sample
    if base.size == 0:
        base = np.array([1.0])
    if scheme == "uniform" and nonnegative:
        clip = clipped_range(sample, n, signed=False)
        return uniform_levels(n, 0.0, clip)
    if scheme == "laplacian" and nonnegative:
        occupancy = (np.arange(n - 1) + 0.5) / (n - 1)
        rest = -float(np.mean(base)) * np.log1p(-occupancy)
        return _with_zero(rest, n, float(np.max(base)))
    if scheme in ("uniform", "log"):
        magnitude = float(np.max(np.abs(base)))
        if nonnegative:
            return place_levels(np.array([0.0, magnitude]), n, scheme)
        return _with_zero(place_levels(base, n - 1, scheme, seed=seed), n, magnitude)
    rest = place_levels(base, n - 1, scheme, seed=seed, max_samples=max_samples)
    if nonnegative:
        rest = np.maximum(rest, 0.0)
    return _with_zero(rest, n, float(np.max(np.abs(base))))


def _with_zero(levels: np.ndarray, n: int, scale: float) -> np.ndarray:
    result = sorted({0.0, *(float(v) for v in levels)})
    if len(result) == 1:
        result.append(scale if scale > 0 else 1.0)
    while len(result) < n:
        gaps = np.diff(result)
        widest = int(np.argmax(gaps))
        result.insert(widest + 1, 0.5 * (result[widest] + result[widest + 1]))
    return np.asarray(result[:n] if len(result) > n else result, dtype=np.float64)


def quantize_index(x: jax.Array, levels: jax.Array) -> jax.Array:
    """Nearest-level index (ties to the upper level), by comparisons with the midpoints."""
    cuts = 0.5 * (levels[1:] + levels[:-1])
    return jnp.sum(x[..., None] >= cuts, axis=-1)


def quantize_ste(x: jax.Array, levels: jax.Array) -> jax.Array:
    """Quantize to the nearest level; the gradient passes straight through (identity).

    The forward value is exactly a level; the backward pass sees ``d/dx x = 1``, so the
    gradient is that of the continuous function around the quantizer.

    Example:
        >>> import jax.numpy as jnp
        >>> quantize_ste(jnp.array([0.2, 0.8, 5.0]), jnp.array([0.0, 1.0, 2.0])).tolist()
        [0.0, 1.0, 2.0]
    """
    quantized = jnp.take(levels, quantize_index(x, levels))
    return jax.lax.stop_gradient(quantized) + (x - jax.lax.stop_gradient(x))
