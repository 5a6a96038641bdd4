"""Replicated parameters and batches split over the ``"data"`` axis, across processes."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from fourfold_common.parallel._errors import ParallelError
from fourfold_common.parallel._mesh import DATA_AXIS


def _check_mesh(mesh: Mesh) -> None:
    if DATA_AXIS not in mesh.axis_names:
        raise ParallelError(f"the mesh has axes {mesh.axis_names}; expected a {DATA_AXIS!r} axis")


def _batch_sharding(mesh: Mesh, ndim: int) -> NamedSharding:
    if ndim < 1:
        raise ParallelError("a batch needs a leading batch axis; got a scalar")
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def process_batch_slice(batch_size: int, mesh: Mesh) -> slice:
    """The rows of every global batch that this process feeds.

    Every process builds the same global batch order (same seed, same permutation) and feeds
    only these rows; the mesh places them so the assembled global batch is identical, row for
    row, to the one a single process would feed. With one process this is ``slice(0,
    batch_size)``.

    Args:
        batch_size: Rows of the global batch; a multiple of ``mesh.size``.
        mesh: A mesh with a ``"data"`` axis (:func:`data_mesh`).

    Returns:
        A contiguous slice of ``range(batch_size)``.

    Raises:
        ParallelError: ``batch_size`` does not divide over the mesh, this process owns no
            device of the mesh, or its rows are not contiguous (a hand-built mesh that
            interleaves processes; use :func:`data_mesh`).

    Example:
        >>> from fourfold_common.parallel import data_mesh
        >>> process_batch_slice(8, data_mesh(jax.devices()[:1]))
        slice(0, 8, None)
    """
    _check_mesh(mesh)
    if batch_size < 1 or batch_size % mesh.size:
        raise ParallelError(
            f"a batch of {batch_size} does not divide over {mesh.size} devices; "
            "choose a batch size that is a multiple of the device count"
        )
    per_device = batch_size // mesh.size
    flat = list(mesh.devices.flat)
    mine = [i for i, device in enumerate(flat) if device.process_index == jax.process_index()]
    if not mine:
        raise ParallelError(f"process {jax.process_index()} owns no device of the mesh")
    if mine != list(range(mine[0], mine[-1] + 1)):
        raise ParallelError(
            "this process's devices are not contiguous on the mesh's data axis; "
            "build the mesh with data_mesh()"
        )
    return slice(mine[0] * per_device, (mine[-1] + 1) * per_device)


def shard_batch(batch: Any, mesh: Mesh, *, local: bool = False) -> jax.Array:
    """Split a batch along its first axis over the ``"data"`` axis of ``mesh``.

    Each process hands over only its own rows (``jax.make_array_from_process_local_data``),
    so nothing crosses hosts. By default ``batch`` is the *global* batch, identical on every
    process, and the process takes its rows itself; with ``local=True`` it is already this
    process's rows (``batch[process_batch_slice(...)]`` of the global batch), e.g. from a
    loader that reads only its share.

    Args:
        batch: Array-like with a leading batch axis.
        mesh: A mesh with a ``"data"`` axis (:func:`data_mesh`).
        local: ``batch`` holds this process's rows only.

    Returns:
        The global batch as one ``jax.Array`` sharded over ``"data"``.

    Raises:
        ParallelError: The batch is a scalar or does not divide over the devices.

    Example:
        >>> import numpy as np
        >>> from fourfold_common.parallel import data_mesh
        >>> shard_batch(np.zeros((8, 3), np.float32), data_mesh(jax.devices()[:1])).shape
        (8, 3)
    """
    array = np.asarray(batch)
    sharding = _batch_sharding(mesh, array.ndim)
    if local:
        local_devices = sum(d.process_index == jax.process_index() for d in mesh.devices.flat)
        if local_devices == 0:
            raise ParallelError(f"process {jax.process_index()} owns no device of the mesh")
        if array.shape[0] % local_devices:
            raise ParallelError(
                f"a local batch of {array.shape[0]} does not divide over this process's "
                f"{local_devices} devices"
            )
        global_rows = array.shape[0] // local_devices * mesh.size
    else:
        global_rows = array.shape[0]
        array = array[process_batch_slice(global_rows, mesh)]
    global_shape = (global_rows, *array.shape[1:])
    return jax.make_array_from_process_local_data(sharding, array, global_shape)


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Place every array of ``tree`` whole on every device of ``mesh`` (all processes).

    Every process must pass the same values (parameters from the same seed, the same
    clustering, the same checkpoint); with several processes, leaves are taken to the host
    first so a value on one local device can become a global replicated array.

    Args:
        tree: A pytree of arrays (parameters, optimizer state).
        mesh: The mesh.

    Returns:
        The same tree with replicated ``jax.Array`` leaves.

    Example:
        >>> import numpy as np
        >>> from fourfold_common.parallel import data_mesh
        >>> replicate({"w": np.ones(3)}, data_mesh())["w"].sharding.is_fully_replicated
        True
    """
    sharding = NamedSharding(mesh, PartitionSpec())
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)

    def place(leaf: Any) -> Any:
        if isinstance(leaf, jax.Array) and leaf.sharding == sharding:
            return leaf
        return jax.device_put(np.asarray(leaf), sharding)

    return jax.tree.map(place, tree)
