"""The numpy integer executor: gathers, adds, shifts and comparisons on integer dtypes only.

This module is checked statically by the test suite: it must contain no float literal, no
``float`` name, no multiplication/division/power operator and no call to a multiplying numpy
routine. Every buffer it produces is an integer array (asserted through ``trace``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fourfold_common.engine._errors import EngineError
from fourfold_common.engine._network import IntegerNetwork, index_dtype, infer_buffers
from fourfold_common.engine._ops import (
    Add,
    Conv,
    Dense,
    Flatten,
    Lookup,
    MaxPool,
    Op,
    ShiftActivation,
    SumPool,
    ThresholdActivation,
)


def _bias(op: Dense | Conv, table: np.ndarray, acc: np.ndarray) -> np.ndarray:
    if op.bias is not None:
        return acc + op.bias.astype(acc.dtype)
    if op.bias_index is not None:
        return acc + np.take(table[op.bias_row], op.bias_index).astype(acc.dtype)
    return acc


def _dense(op: Dense, table: np.ndarray, x: np.ndarray, acc_dtype: np.dtype[Any]) -> np.ndarray:
    rows = table[:, op.weights]  # (Na, fan_in, units): one table column per weight
    positions = np.arange(op.weights.shape[0])
    gathered = rows[x, positions]  # (batch, fan_in, units)
    acc = np.sum(gathered, axis=1, dtype=acc_dtype)
    return _bias(op, table, acc)


def _windows(
    x: np.ndarray, window: tuple[int, int], stride: tuple[int, int]
) -> list[tuple[int, int, np.ndarray]]:
    """Every tap ``(dy, dx)`` of a sliding window as a strided slice ``(batch, oh, ow, ...)``."""
    out_h = len(range(0, x.shape[1] - window[0] + 1, stride[0]))
    out_w = len(range(0, x.shape[2] - window[1] + 1, stride[1]))
    return [
        (dy, dx, x[:, dy :: stride[0], dx :: stride[1]][:, :out_h, :out_w])
        for dy in range(window[0])
        for dx in range(window[1])
    ]


def _conv(op: Conv, table: np.ndarray, x: np.ndarray, acc_dtype: np.dtype[Any]) -> np.ndarray:
    top, bottom, left, right = op.padding
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=op.pad_index)
    kh, kw, cin_g, cout = op.weights.shape
    grouped = padded.reshape((*padded.shape[:3], op.groups, cin_g))
    weights = op.weights.reshape((kh, kw, cin_g, op.groups, -1))
    group_ids = np.arange(op.groups)
    acc: np.ndarray | None = None
    for dy, dx, patch in _windows(grouped, (kh, kw), op.stride):
        for channel in range(cin_g):
            rows = table[:, weights[dy, dx, channel]]  # (Na, groups, cout / groups)
            part = rows[patch[..., channel], group_ids].astype(acc_dtype)
            acc = part if acc is None else acc + part
    assert acc is not None
    return _bias(op, table, acc.reshape((*acc.shape[:3], cout)))


def _shift_activation(op: ShiftActivation, acc: np.ndarray) -> np.ndarray:
    # Clamp before subtracting ``low``: ``low`` and ``low + Nx - 1`` lie within +-2^31 (checked
    # by ``infer_buffers``), so neither the clamp nor the subtraction can wrap around, whatever
    # the accumulator (the C export does the same comparisons).
    shifted = np.right_shift(acc, op.shift)
    position = np.clip(shifted, op.low, op.low + op.table.size - 1) - op.low
    return np.take(op.table, position).astype(index_dtype(op.levels))


def _threshold_activation(op: ThresholdActivation, acc: np.ndarray) -> np.ndarray:
    index = np.searchsorted(op.boundaries, acc, side="right")
    return index.astype(index_dtype(op.boundaries.size + 1))


def _max_pool(op: MaxPool, x: np.ndarray) -> np.ndarray:
    result = None
    for _, _, part in _windows(x, op.window, op.stride):
        result = part if result is None else np.maximum(result, part)
    assert result is not None
    return result


def _sum_pool(op: SumPool, x: np.ndarray, acc_dtype: np.dtype[Any]) -> np.ndarray:
    result = None
    for _, _, part in _windows(x, op.window, op.stride):
        term = part.astype(acc_dtype)
        result = term if result is None else result + term
    assert result is not None
    return result


def _step(
    op: Op, network: IntegerNetwork, buffers: dict[str, np.ndarray], acc_dtype: np.dtype[Any]
) -> np.ndarray:
    x = buffers[op.input]
    if isinstance(op, Lookup):
        dtype = index_dtype(op.levels) if op.kind == "index" else acc_dtype
        return np.take(op.table, x).astype(dtype)
    if isinstance(op, Dense):
        return _dense(op, network.tables[op.table], x, acc_dtype)
    if isinstance(op, Conv):
        return _conv(op, network.tables[op.table], x, acc_dtype)
    if isinstance(op, ShiftActivation):
        return _shift_activation(op, x)
    if isinstance(op, ThresholdActivation):
        return _threshold_activation(op, x)
    if isinstance(op, MaxPool):
        return _max_pool(op, x)
    if isinstance(op, SumPool):
        return _sum_pool(op, x, acc_dtype)
    if isinstance(op, Add):
        return op.table[x, buffers[op.other]].astype(index_dtype(op.levels))
    if isinstance(op, Flatten):
        return x.reshape((x.shape[0], -1))
    raise EngineError(f"unknown op {type(op).__name__}")


def run(
    network: IntegerNetwork,
    inputs: np.ndarray,
    *,
    batch_size: int = 256,
    trace: Callable[[str, np.ndarray], None] | None = None,
) -> np.ndarray:
    """Execute ``network`` on integer ``inputs`` with integer arithmetic only.

    Args:
        network: A valid network (checked by :func:`infer_buffers`, including overflow safety).
        inputs: Integer array ``(batch,) + network.input_shape`` with values in
            ``[0, network.input_levels)``.
        batch_size: Samples processed at once (bounds memory; results do not depend on it).
        trace: Optional callback ``trace(buffer_name, array)`` called for every buffer produced
            (used by tests to assert that every intermediate is an integer array).

    Returns:
        The output buffer: integer accumulators (argmax = class) or indices.

    Raises:
        EngineError: Invalid network, non-integer inputs, wrong shape, or out-of-range values.

    Example:
        >>> import numpy as np
        >>> from fourfold_common.engine import Dense, IntegerNetwork, run
        >>> net = IntegerNetwork((Dense("input", "out", "T", np.array([[0, 1]])),),
        ...                      {"T": np.array([[0, 0], [2, 3]], np.int32)}, (1,), 2, "out")
        >>> run(net, np.array([[0], [1]])).tolist()
        [[0, 0], [2, 3]]
    """
    infer_buffers(network)
    data = np.asarray(inputs)
    if not np.issubdtype(data.dtype, np.integer):
        raise EngineError(f"inputs must be an integer array, got dtype {data.dtype}")
    if data.shape[1:] != tuple(network.input_shape):
        raise EngineError(
            f"inputs must have shape (batch, {', '.join(map(str, network.input_shape))}), "
            f"got {data.shape}"
        )
    if data.size and (int(data.min()) < 0 or int(data.max()) >= network.input_levels):
        raise EngineError(f"input values must lie in [0, {network.input_levels})")
    if batch_size < 1:
        raise EngineError(f"batch_size must be >= 1, got {batch_size}")
    acc_dtype = np.dtype(network.accumulator_dtype)
    data = data.astype(index_dtype(network.input_levels))
    outputs = []
    for start in range(0, data.shape[0], batch_size):
        buffers = {network.input_name: data[start : start + batch_size]}
        for op in network.ops:
            buffers[op.output] = _step(op, network, buffers, acc_dtype)
            if trace is not None:
                trace(op.output, buffers[op.output])
        outputs.append(buffers[network.output])
    if not outputs:
        raise EngineError("inputs is empty")
    return np.concatenate(outputs, axis=0)
