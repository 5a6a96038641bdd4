"""The single error type of level placement."""

from __future__ import annotations


class LevelsError(ValueError):
    """Bad input to a level-placement function (empty sample, non-finite values, ``n < 1``...)."""
