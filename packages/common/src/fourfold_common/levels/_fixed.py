"""Fixed level sets: uniform over a range, and powers of two (logarithmic)."""

from __future__ import annotations

import numpy as np

from fourfold_common.levels._checks import check_count
from fourfold_common.levels._errors import LevelsError


def uniform_levels(n: int, low: float, high: float) -> np.ndarray:
    """``n`` evenly spaced levels from ``low`` to ``high`` inclusive.

    With ``n == 1`` the single level is the midpoint of the range.

    Args:
        n: Number of levels (any positive integer, not only powers of two).
        low: Lowest level.
        high: Highest level; must exceed ``low``.

    Returns:
        Sorted float64 array of shape ``(n,)``.

    Raises:
        LevelsError: ``n < 1``, a non-finite bound, or ``low >= high``.

    Example:
        >>> uniform_levels(5, -1.0, 1.0).tolist()
        [-1.0, -0.5, 0.0, 0.5, 1.0]
    """
    n = check_count(n)
    if not (np.isfinite(low) and np.isfinite(high)) or not low < high:
        raise LevelsError(f"need finite low < high, got low={low!r}, high={high!r}")
    if n == 1:
        return np.array([0.5 * (low + high)])
    return np.linspace(float(low), float(high), n)


def power_of_two_levels(n: int, max_abs: float, *, signed: bool = True) -> np.ndarray:
    """Logarithmic levels ``±max_abs · 2^-k`` (and zero), the classic power-of-two quantizer.

    Signed, odd ``n``: zero plus ``(n - 1) / 2`` magnitudes of each sign. Signed, even ``n``:
    ``n / 2`` magnitudes of each sign and no zero. Unsigned: zero plus ``n - 1`` magnitudes
    ``max_abs · 2^-k`` for ``k = 0 .. n - 2``.

    Args:
        n: Number of levels.
        max_abs: Largest magnitude (the level ``2^0 · max_abs``); must be positive.
        signed: Whether negative levels are included.

    Returns:
        Sorted float64 array of shape ``(n,)``.

    Raises:
        LevelsError: ``n < 1`` or ``max_abs`` not a positive finite number.

    Example:
        >>> power_of_two_levels(5, 1.0).tolist()
        [-1.0, -0.5, 0.0, 0.5, 1.0]
        >>> power_of_two_levels(4, 8.0, signed=False).tolist()
        [0.0, 2.0, 4.0, 8.0]
    """
    n = check_count(n)
    if not (np.isfinite(max_abs) and max_abs > 0):
        raise LevelsError(f"max_abs must be a positive finite number, got {max_abs!r}")
    if not signed:
        magnitudes = float(max_abs) * np.exp2(-np.arange(n - 1, dtype=np.float64))
        return np.sort(np.concatenate([[0.0], magnitudes]))
    half = n // 2
    magnitudes = float(max_abs) * np.exp2(-np.arange(half, dtype=np.float64))
    parts = [-magnitudes, magnitudes] + ([np.zeros(1)] if n % 2 else [])
    return np.sort(np.concatenate(parts))
