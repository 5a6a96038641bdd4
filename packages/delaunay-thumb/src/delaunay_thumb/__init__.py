"""Extreme thumbnail codec: the public API of ``delaunay_thumb``."""

from delaunay_thumb.__about__ import __version__

__all__ = ["__version__"]
