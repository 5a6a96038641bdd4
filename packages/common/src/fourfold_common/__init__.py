"""Shared pieces of the fourfold packages: datasets, I/O helpers, integer lookup engine.

Only what two or more packages need lives here; see ``docs/architecture.md``. Subpackages:
``fourfold_common.data`` (dataset loaders), ``fourfold_common.io`` (atomic writes, run records),
``fourfold_common.levels`` (level placement for scalar quantizers),
``fourfold_common.engine`` (integer network, no-float no-multiply executor, artifact format;
see ``docs/common/engine.md``) and ``fourfold_common.parallel`` (data-parallel training over
every device of every process; needs JAX, the ``parallel`` extra; see
``docs/common/parallel.md``).
"""

from fourfold_common.__about__ import __version__

__all__ = ["__version__"]
