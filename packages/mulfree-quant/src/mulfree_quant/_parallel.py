"""Data parallelism over the local devices with a ``jax.sharding`` mesh."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from mulfree_quant._errors import MulfreeError


def data_mesh(devices: list[Any] | None = None) -> Mesh:
    """A 1-D mesh named ``"data"`` over ``devices`` (default: all local devices).

    For multi-host training call ``jax.distributed.initialize()`` first and pass
    ``jax.devices()``; each host then feeds its slice of every global batch.
    """
    chosen = devices if devices is not None else jax.local_devices()
    return Mesh(np.asarray(chosen), ("data",))


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Place every array of ``tree`` on all devices of ``mesh``."""
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def shard_batch(batch: np.ndarray, mesh: Mesh) -> jax.Array:
    """Split a batch along its first axis over the ``"data"`` axis of ``mesh``."""
    if batch.shape[0] % mesh.size:
        raise MulfreeError(
            f"batch of {batch.shape[0]} does not divide over {mesh.size} devices; "
            "choose a batch_size that is a multiple of the device count"
        )
    return jax.device_put(batch, NamedSharding(mesh, PartitionSpec("data")))
