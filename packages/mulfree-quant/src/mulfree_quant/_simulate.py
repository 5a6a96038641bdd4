"""Bit-exact JAX simulation of an exported integer network (float32 on integer values).

Every accumulator of a mulfree-quant export stays below ``2^24``, where float32 represents
integers exactly and sums of them exactly, so this JAX pass computes the same integers as the
numpy executor while using XLA convolutions and matrix products (one-hot decomposition over the
``Na`` activation indices). It is the fast path for evaluation and is checked against the
executor on whole test sets.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from fourfold_common import engine
from mulfree_quant._errors import MulfreeError

_EXACT = 2**24


def _conv(op: engine.Conv, table: np.ndarray, rows: int, x: jax.Array) -> jax.Array:
    top, bottom, left, right = op.padding
    padded = jnp.pad(
        x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=op.pad_index
    )
    gathered = jnp.asarray(table[:rows][:, op.weights], jnp.float32)  # (rows, kh, kw, cin, cout)

    def accumulate(acc: jax.Array, row: jax.Array) -> tuple[jax.Array, None]:
        onehot = (padded == row).astype(jnp.float32)
        part = jax.lax.conv_general_dilated(
            onehot,
            gathered[row],
            op.stride,
            "VALID",
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
            feature_group_count=op.groups,
            precision=jax.lax.Precision.HIGHEST,
        )
        return acc + part, None

    kh, kw, _, cout = op.weights.shape
    out_h = (padded.shape[1] - kh) // op.stride[0] + 1
    out_w = (padded.shape[2] - kw) // op.stride[1] + 1
    start = jnp.zeros((x.shape[0], out_h, out_w, cout), jnp.float32)
    acc, _ = jax.lax.scan(accumulate, start, jnp.arange(rows))
    return acc


def _dense(op: engine.Dense, table: np.ndarray, rows: int, x: jax.Array) -> jax.Array:
    gathered = jnp.asarray(table[:rows][:, op.weights], jnp.float32)  # (rows, fan_in, units)
    onehot = jax.nn.one_hot(x, rows, dtype=jnp.float32)  # (batch, fan_in, rows)
    return jnp.einsum("bki,iko->bo", onehot, gathered, precision=jax.lax.Precision.HIGHEST)


def _bias(op: engine.Dense | engine.Conv, table: np.ndarray, acc: jax.Array) -> jax.Array:
    if op.bias is not None:
        return acc + jnp.asarray(op.bias, jnp.float32)
    if op.bias_index is not None:
        return acc + jnp.asarray(table[op.bias_row][op.bias_index], jnp.float32)
    return acc


def _window(x: jax.Array, op: engine.MaxPool | engine.SumPool, kind: str) -> jax.Array:
    dims = (1, *op.window, 1)
    strides = (1, *op.stride, 1)
    if kind == "max":
        return jax.lax.reduce_window(x, x.dtype.type(0), jax.lax.max, dims, strides, "VALID")
    return jax.lax.reduce_window(x, 0.0, jax.lax.add, dims, strides, "VALID")


def build_simulator(
    network: engine.IntegerNetwork, *, jit: bool = True
) -> Callable[[jax.Array], jax.Array]:
    """A function (jitted unless ``jit=False``) mapping integer inputs to the output, bit-exact.

    Raises:
        MulfreeError: Some accumulator may reach ``2^24`` (float32 would not be exact).
    """
    buffers = engine.infer_buffers(network)
    bounds = engine.accumulator_bounds(network, buffers)
    if bounds and max(bounds.values()) >= _EXACT:
        raise MulfreeError("accumulators may reach 2^24: the float32 simulation is not exact")

    def forward(inputs: jax.Array) -> jax.Array:
        values: dict[str, jax.Array] = {network.input_name: inputs.astype(jnp.int32)}
        for op in network.ops:
            x = values[op.input]
            if isinstance(op, engine.Lookup):
                dtype = jnp.int32 if op.kind == "index" else jnp.float32
                y = jnp.take(jnp.asarray(op.table).astype(dtype), x)
            elif isinstance(op, (engine.Dense, engine.Conv)):
                table = network.tables[op.table]
                rows = buffers[op.input].levels
                acc = (
                    _dense(op, table, rows, x)
                    if isinstance(op, engine.Dense)
                    else _conv(op, table, rows, x)
                )
                y = _bias(op, table, acc)
            elif isinstance(op, engine.ShiftActivation):
                shifted = jnp.floor(x * (2.0**-op.shift)) - op.low
                position = jnp.clip(shifted, 0, op.table.size - 1).astype(jnp.int32)
                y = jnp.take(jnp.asarray(op.table, jnp.int32), position)
            elif isinstance(op, engine.ThresholdActivation):
                limits = np.clip(op.boundaries, -_EXACT - 1, _EXACT + 1).astype(np.float32)
                y = jnp.sum(x[..., None] >= jnp.asarray(limits), axis=-1).astype(jnp.int32)
            elif isinstance(op, engine.MaxPool):
                y = _window(x, op, "max")
            elif isinstance(op, engine.SumPool):
                y = _window(x.astype(jnp.float32), op, "sum")
            elif isinstance(op, engine.Add):
                y = jnp.asarray(op.table, jnp.int32)[x, values[op.other]]
            elif isinstance(op, engine.Flatten):
                y = x.reshape((x.shape[0], -1))
            else:  # pragma: no cover - infer_buffers rejects unknown ops
                raise MulfreeError(f"cannot simulate {type(op).__name__}")
            values[op.output] = y
        return values[network.output]

    return jax.jit(forward) if jit else forward


def simulate(
    network: engine.IntegerNetwork,
    inputs: np.ndarray,
    *,
    batch_size: int = 500,
    jit: bool = True,
) -> np.ndarray:
    """Run the bit-exact JAX simulation; returns int64 accumulators (or indices).

    ``jit=False`` skips XLA compilation of the whole network (faster for a few inputs).

    Example:
        >>> import numpy as np
        >>> from fourfold_common import engine
        >>> net = engine.IntegerNetwork(
        ...     (engine.Dense("input", "out", "T", np.array([[0, 1]])),),
        ...     {"T": np.array([[0, 0], [2, 3]], np.int32)}, (1,), 2, "out")
        >>> simulate(net, np.array([[0], [1]])).tolist()
        [[0, 0], [2, 3]]
    """
    data = np.asarray(inputs)
    if not np.issubdtype(data.dtype, np.integer):
        raise MulfreeError(f"inputs must be integers, got {data.dtype}")
    if data.shape[1:] != tuple(network.input_shape) or data.shape[0] == 0:
        raise MulfreeError(
            f"inputs must have shape (n>0, *{network.input_shape}), got {data.shape}"
        )
    forward = build_simulator(network, jit=jit)
    outputs = []
    for start in range(0, data.shape[0], batch_size):
        chunk = data[start : start + batch_size]
        pad = batch_size - chunk.shape[0] if data.shape[0] > batch_size else 0
        if pad:
            chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)])
        result = np.asarray(forward(jnp.asarray(chunk)))
        outputs.append(result[: result.shape[0] - pad] if pad else result)
    return np.rint(np.concatenate(outputs)).astype(np.int64)
