"""Assigning values to levels: midpoint thresholds and nearest-level indices."""

from __future__ import annotations

import numpy as np

from fourfold_common.levels._errors import LevelsError


def _check_levels(levels: np.ndarray | list[float]) -> np.ndarray:
    array = np.asarray(levels, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise LevelsError(f"levels must be a non-empty 1-D array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise LevelsError("levels contains NaN or infinity")
    if array.size > 1 and not np.all(np.diff(array) > 0):
        raise LevelsError("levels must be strictly increasing")
    return array


def thresholds(levels: np.ndarray | list[float]) -> np.ndarray:
    """Decision thresholds of nearest-level quantization: midpoints of consecutive levels.

    Args:
        levels: Strictly increasing 1-D array of ``n`` levels.

    Returns:
        Float64 array of shape ``(n - 1,)``.

    Raises:
        LevelsError: ``levels`` is empty, not 1-D, non-finite or not strictly increasing.

    Example:
        >>> thresholds([0.0, 1.0, 3.0]).tolist()
        [0.5, 2.0]
    """
    array = _check_levels(levels)
    return 0.5 * (array[1:] + array[:-1])


def nearest_index(values: np.ndarray | list[float], levels: np.ndarray | list[float]) -> np.ndarray:
    """Index of the nearest level for every value (a value on a threshold goes to the upper level).

    Args:
        values: Array of any shape.
        levels: Strictly increasing 1-D array of ``n`` levels.

    Returns:
        ``int64`` array of the shape of ``values`` with entries in ``[0, n)``.

    Raises:
        LevelsError: Bad ``levels`` or a NaN in ``values``.

    Example:
        >>> nearest_index([-5.0, 0.4, 0.5, 2.9], [0.0, 1.0, 3.0]).tolist()
        [0, 0, 1, 2]
    """
    cuts = thresholds(levels)
    array = np.asarray(values, dtype=np.float64)
    if np.any(np.isnan(array)):
        raise LevelsError("values contains NaN")
    return np.searchsorted(cuts, array, side="right").astype(np.int64)
