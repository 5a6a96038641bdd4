"""Data parallelism over every device of every process (``jax.sharding`` + ``jax.distributed``).

Needs JAX (``pip install "fourfold-common[parallel]"``); the rest of ``fourfold_common`` does
not. One recipe serves one device, all local devices, and many hosts:

1. ``initialize_distributed()`` in every process of a multi-process run (skip it otherwise);
2. ``mesh = data_mesh()``: a one-axis ``"data"`` mesh over ``jax.devices()``;
3. ``replicate(params, mesh)``; every step ``shard_batch(global_batch, mesh)`` -- each process
   transfers only its own rows (``process_batch_slice``), so the assembled batch is row for row
   the one a single process would use, and XLA all-reduces the gradients.

Example:
    >>> import jax, numpy as np
    >>> from fourfold_common.parallel import data_mesh, replicate, shard_batch
    >>> mesh = data_mesh()
    >>> w = replicate(np.zeros(3, np.float32), mesh)
    >>> x = shard_batch(np.ones((4 * mesh.size, 3), np.float32), mesh)
    >>> float(jax.jit(lambda w, x: (x @ (w + 1)).mean())(w, x))
    3.0
"""

try:
    import jax as _jax  # noqa: F401
except ImportError as _error:  # pragma: no cover - depends on the installation
    raise ImportError(
        'fourfold_common.parallel needs JAX: pip install "fourfold-common[parallel]"'
    ) from _error

from fourfold_common.parallel._distributed import (
    DistributedConfig,
    ProcessTopology,
    distributed_config,
    initialize_distributed,
    is_main_process,
    process_topology,
)
from fourfold_common.parallel._errors import ParallelError
from fourfold_common.parallel._mesh import DATA_AXIS, data_mesh
from fourfold_common.parallel._sharding import process_batch_slice, replicate, shard_batch

__all__ = [
    "DATA_AXIS",
    "DistributedConfig",
    "ParallelError",
    "ProcessTopology",
    "data_mesh",
    "distributed_config",
    "initialize_distributed",
    "is_main_process",
    "process_batch_slice",
    "process_topology",
    "replicate",
    "shard_batch",
]
