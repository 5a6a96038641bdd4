"""Discretized networks: the public API of ``discrete_nets``."""

from discrete_nets.__about__ import __version__

__all__ = ["__version__"]
