"""Table-based neural units: the public API of ``mulfree_quant``."""

from mulfree_quant.__about__ import __version__

__all__ = ["__version__"]
