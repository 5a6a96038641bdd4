"""Shared pieces of the fourfold packages: datasets, I/O helpers, integer lookup engine.

Only what two or more packages need lives here; see ``docs/architecture.md``.
"""

from fourfold_common.__about__ import __version__

__all__ = ["__version__"]
