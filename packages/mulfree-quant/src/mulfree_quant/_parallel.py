"""Data parallelism: the shared :mod:`fourfold_common.parallel` helpers, under this package.

One ``"data"`` mesh over every device of every process (``jax.devices()``; all hosts' devices
after :func:`~fourfold_common.parallel.initialize_distributed`), replicated parameters, and
global batches of which each process transfers only its own rows. See
``docs/common/parallel.md``.
"""

from __future__ import annotations

from fourfold_common.parallel import (
    data_mesh,
    initialize_distributed,
    process_batch_slice,
    replicate,
    shard_batch,
)

__all__ = [
    "data_mesh",
    "initialize_distributed",
    "process_batch_slice",
    "replicate",
    "shard_batch",
]
