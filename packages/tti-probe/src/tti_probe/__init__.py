"""Text-to-image synthetic-data probe: the public API of ``tti_probe``."""

from tti_probe.__about__ import __version__

__all__ = ["__version__"]
