"""Input validation and the shared post-processing of level sets."""

from __future__ import annotations

import numpy as np

from fourfold_common.levels._errors import LevelsError


def check_count(n: int) -> int:
    """Return ``n`` as an int, raising :class:`LevelsError` unless it is a positive integer."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or int(n) < 1:
        raise LevelsError(f"the number of levels must be a positive integer, got {n!r}")
    return int(n)


def check_sample(values: np.ndarray | list[float]) -> np.ndarray:
    """Flatten ``values`` to a finite float64 vector, raising :class:`LevelsError` otherwise."""
    try:
        sample = np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError) as error:
        raise LevelsError(f"values must be numeric, got {type(values).__name__}") from error
    if sample.size == 0:
        raise LevelsError("values is empty: cannot place levels on an empty sample")
    if not np.all(np.isfinite(sample)):
        raise LevelsError("values contains NaN or infinity")
    return sample


def make_distinct(levels: np.ndarray, n: int) -> np.ndarray:
    """Sort ``levels`` and make exactly ``n`` strictly increasing values.

    Duplicates are dropped; the widest gap is then split at its midpoint until ``n`` levels exist
    (a single distinct value is spread to ``v + k * max(|v|, 1) * 1e-3``).
    """
    unique = np.unique(np.asarray(levels, dtype=np.float64))
    if unique.size >= n:
        return unique[:n] if unique.size == n else _reduce(unique, n)
    if unique.size == 1:
        step = max(abs(float(unique[0])), 1.0) * 1e-3
        return unique[0] + step * (np.arange(n) - (n - 1) / 2.0)
    result = list(unique)
    while len(result) < n:
        gaps = np.diff(result)
        widest = int(np.argmax(gaps))
        result.insert(widest + 1, 0.5 * (result[widest] + result[widest + 1]))
    return np.asarray(result, dtype=np.float64)


def _reduce(unique: np.ndarray, n: int) -> np.ndarray:
    # More distinct candidates than wanted: keep evenly spaced ranks (used only defensively).
    ranks = np.round(np.linspace(0, unique.size - 1, n)).astype(np.int64)
    return unique[ranks]
