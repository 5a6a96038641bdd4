"""The single error type of the data-parallel helpers."""

from __future__ import annotations


class ParallelError(ValueError):
    """A mesh, batch or multi-process setup that cannot work (and why)."""
