"""The one-axis ``"data"`` mesh over every device of every process."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh

from fourfold_common.parallel._errors import ParallelError

DATA_AXIS = "data"


def data_mesh(devices: Sequence[Any] | None = None) -> Mesh:
    """A one-axis mesh named ``"data"`` for data-parallel training.

    The default is every device of every process (``jax.devices()``): the local devices in a
    single process, all hosts' devices once :func:`initialize_distributed` has run. Devices are
    ordered by ``(process_index, id)`` so each process owns one contiguous run of the axis, and
    therefore one contiguous slice of every global batch (see :func:`process_batch_slice`).

    Args:
        devices: The devices to use (default: ``jax.devices()``).

    Returns:
        The mesh.

    Raises:
        ParallelError: ``devices`` is empty or lists a device twice.

    Example:
        >>> mesh = data_mesh()
        >>> mesh.axis_names, mesh.size == len(jax.devices())
        (('data',), True)
    """
    chosen = list(jax.devices() if devices is None else devices)
    if not chosen:
        raise ParallelError("data_mesh needs at least one device")
    if len(set(chosen)) != len(chosen):
        raise ParallelError("data_mesh got the same device twice")
    ordered = sorted(chosen, key=lambda d: (d.process_index, d.id))
    return Mesh(np.asarray(ordered, dtype=object), (DATA_AXIS,))
