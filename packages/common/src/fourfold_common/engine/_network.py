"""The integer network container and its static validation (shapes, index ranges, overflow)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fourfold_common.engine._errors import EngineError
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

ACCUMULATOR_DTYPES = ("int32", "int64")


@dataclass(frozen=True, eq=False)
class IntegerNetwork:
    """An exported network: integer tables, integer ops, nothing else.

    Attributes:
        ops: Operations executed in order.
        tables: Named integer product tables shared by :class:`Dense`/:class:`Conv` ops: one
            ``Na x Nw`` table per layer (mulfree-quant) or one global ``(|A| + 1) x |W|`` table
            with a bias row (discrete-nets).
        input_shape: Shape of one input sample (without the batch axis).
        input_levels: Inputs are integers in ``[0, input_levels)`` (e.g. 256 for raw ``uint8``
            pixels mapped by a first :class:`Lookup`, or the number of input levels).
        output: Name of the buffer returned by the executor (accumulators: argmax is the
            prediction; or indices, e.g. an auto-encoder's output).
        accumulator_dtype: ``"int32"`` or ``"int64"``.
        metadata: JSON-serializable description (package, model, levels, scales, ...).
        input_name: Name of the input buffer.

    Example:
        >>> import numpy as np
        >>> from fourfold_common.engine import Dense, IntegerNetwork, run
        >>> table = np.array([[0, 0], [-3, 5]], dtype=np.int32)  # 2 activation x 2 weight levels
        >>> net = IntegerNetwork(
        ...     ops=(Dense("input", "logits", "T", np.array([[1, 0], [0, 1]])),),
        ...     tables={"T": table}, input_shape=(2,), input_levels=2, output="logits")
        >>> run(net, np.array([[1, 1]], dtype=np.uint8)).tolist()
        [[2, 2]]
    """

    ops: tuple[Op, ...]
    tables: Mapping[str, np.ndarray]
    input_shape: tuple[int, ...]
    input_levels: int
    output: str
    accumulator_dtype: str = "int32"
    metadata: Mapping[str, Any] = field(default_factory=dict)
    input_name: str = "input"


@dataclass(frozen=True)
class BufferInfo:
    """Static description of one buffer.

    Attributes:
        kind: ``"index"`` or ``"value"``.
        levels: Number of index values (``0`` for value buffers).
        shape: Shape of one sample.
    """

    kind: str
    levels: int
    shape: tuple[int, ...]


def index_dtype(levels: int) -> np.dtype[Any]:
    """Smallest dtype holding indices ``0 .. levels - 1`` (``uint8``, ``uint16`` or ``int32``).

    Example:
        >>> index_dtype(40), index_dtype(1000)
        (dtype('uint8'), dtype('uint16'))
    """
    if levels <= 256:
        return np.dtype(np.uint8)
    if levels <= 65536:
        return np.dtype(np.uint16)
    return np.dtype(np.int32)


def _is_int_array(array: Any) -> bool:
    return isinstance(array, np.ndarray) and np.issubdtype(array.dtype, np.integer)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise EngineError(message)


def _pair(value: Any, what: str) -> tuple[int, int]:
    _require(
        isinstance(value, tuple) and len(value) == 2 and all(int(v) >= 1 for v in value),
        f"{what} must be a pair of positive ints, got {value!r}",
    )
    return int(value[0]), int(value[1])


def _window_out(size: int, window: int, stride: int, what: str) -> int:
    _require(size >= window, f"{what}: window {window} larger than input {size}")
    return (size - window) // stride + 1


def _check_bias(op: Dense | Conv, table: np.ndarray, units: int, name: str) -> None:
    if op.bias is not None:
        _require(_is_int_array(op.bias), f"{name}: bias must be an integer array")
        _require(op.bias.shape == (units,), f"{name}: bias shape {op.bias.shape} != ({units},)")
    if op.bias_index is not None:
        _require(op.bias is None, f"{name}: give bias or bias_index, not both")
        _require(_is_int_array(op.bias_index), f"{name}: bias_index must be integer")
        _require(op.bias_index.shape == (units,), f"{name}: bias_index shape must be ({units},)")
        _require(0 <= op.bias_row < table.shape[0], f"{name}: bias_row {op.bias_row} outside table")
        if op.bias_index.size:
            _require(
                int(op.bias_index.min()) >= 0 and int(op.bias_index.max()) < table.shape[1],
                f"{name}: bias_index outside the table's {table.shape[1]} columns",
            )


def _check_table_op(
    op: Dense | Conv, network: IntegerNetwork, source: BufferInfo, name: str
) -> np.ndarray:
    _require(source.kind == "index", f"{name}: input {op.input!r} must hold indices")
    _require(op.table in network.tables, f"{name}: unknown table {op.table!r}")
    table = network.tables[op.table]
    _require(_is_int_array(table) and table.ndim == 2, f"{name}: table must be a 2-D integer array")
    _require(
        source.levels <= table.shape[0],
        f"{name}: input has {source.levels} levels but table {op.table!r} has "
        f"{table.shape[0]} rows",
    )
    _require(_is_int_array(op.weights), f"{name}: weights must be an integer array")
    if op.weights.size:
        _require(
            int(op.weights.min()) >= 0 and int(op.weights.max()) < table.shape[1],
            f"{name}: weight indices outside the table's {table.shape[1]} columns",
        )
    return table


def _infer(
    op: Op, network: IntegerNetwork, buffers: dict[str, BufferInfo], name: str
) -> BufferInfo:
    _require(op.input in buffers, f"{name}: reads undefined buffer {op.input!r}")
    source = buffers[op.input]
    if isinstance(op, Lookup):
        _require(source.kind == "index", f"{name}: lookup input must hold indices")
        _require(
            _is_int_array(op.table) and op.table.ndim == 1, f"{name}: table must be 1-D integer"
        )
        _require(op.table.size >= source.levels, f"{name}: table shorter than input levels")
        if op.kind == "value":
            return BufferInfo("value", 0, source.shape)
        _require(op.kind == "index", f"{name}: kind must be 'index' or 'value'")
        _require(
            int(op.table.min()) >= 0 and int(op.table.max()) < op.levels,
            f"{name}: table entries outside [0, {op.levels})",
        )
        return BufferInfo("index", int(op.levels), source.shape)
    if isinstance(op, Dense):
        table = _check_table_op(op, network, source, name)
        _require(len(source.shape) == 1, f"{name}: dense input must be flat, got {source.shape}")
        _require(
            op.weights.ndim == 2 and op.weights.shape[0] == source.shape[0],
            f"{name}: weights shape {op.weights.shape} does not match fan-in {source.shape[0]}",
        )
        _check_bias(op, table, op.weights.shape[1], name)
        return BufferInfo("value", 0, (op.weights.shape[1],))
    if isinstance(op, Conv):
        table = _check_table_op(op, network, source, name)
        _require(len(source.shape) == 3, f"{name}: conv input must be (H, W, C)")
        _require(op.weights.ndim == 4, f"{name}: conv weights must be (kh, kw, cin/g, cout)")
        sy, sx = _pair(op.stride, f"{name}: stride")
        _require(
            len(op.padding) == 4 and all(int(p) >= 0 for p in op.padding),
            f"{name}: padding must be four non-negative ints",
        )
        kh, kw, cin_g, cout = op.weights.shape
        height, width, channels = source.shape
        _require(op.groups >= 1 and channels % op.groups == 0, f"{name}: bad groups")
        _require(cin_g * op.groups == channels, f"{name}: weights expect {cin_g * op.groups} ch")
        _require(cout % op.groups == 0, f"{name}: out channels not divisible by groups")
        _require(0 <= op.pad_index < max(source.levels, 1), f"{name}: pad_index out of range")
        top, bottom, left, right = (int(p) for p in op.padding)
        out_h = _window_out(height + top + bottom, kh, sy, name)
        out_w = _window_out(width + left + right, kw, sx, name)
        _check_bias(op, table, cout, name)
        return BufferInfo("value", 0, (out_h, out_w, cout))
    if isinstance(op, ShiftActivation):
        _require(source.kind == "value", f"{name}: activation input must hold values")
        _require(0 <= op.shift < 63, f"{name}: shift must be in [0, 63)")
        _require(abs(op.low) < 2**30, f"{name}: |low| must be < 2**30")
        _require(
            _is_int_array(op.table) and op.table.ndim == 1 and 1 <= op.table.size <= 2**30,
            f"{name}: table must be a non-empty 1-D integer array of at most 2**30 entries",
        )
        _require(
            int(op.table.min()) >= 0 and int(op.table.max()) < op.levels,
            f"{name}: table entries outside [0, {op.levels})",
        )
        return BufferInfo("index", int(op.levels), source.shape)
    if isinstance(op, ThresholdActivation):
        _require(source.kind == "value", f"{name}: activation input must hold values")
        _require(
            _is_int_array(op.boundaries) and op.boundaries.ndim == 1,
            f"{name}: boundaries must be a 1-D integer array",
        )
        _require(bool(np.all(np.diff(op.boundaries) >= 0)), f"{name}: boundaries not sorted")
        return BufferInfo("index", int(op.boundaries.size) + 1, source.shape)
    if isinstance(op, (MaxPool, SumPool)):
        _require(len(source.shape) == 3, f"{name}: pooling input must be (H, W, C)")
        if isinstance(op, MaxPool):
            _require(source.kind == "index", f"{name}: max-pool works on indices")
        wy, wx = _pair(op.window, f"{name}: window")
        sy, sx = _pair(op.stride, f"{name}: stride")
        height, width, channels = source.shape
        shape = (
            _window_out(height, wy, sy, name),
            _window_out(width, wx, sx, name),
            channels,
        )
        if isinstance(op, MaxPool):
            return BufferInfo("index", source.levels, shape)
        return BufferInfo("value", 0, shape)
    if isinstance(op, Add):
        _require(op.other in buffers, f"{name}: reads undefined buffer {op.other!r}")
        other = buffers[op.other]
        _require(source.kind == "index" and other.kind == "index", f"{name}: add works on indices")
        _require(source.shape == other.shape, f"{name}: shapes {source.shape} != {other.shape}")
        _require(
            _is_int_array(op.table)
            and op.table.ndim == 2
            and op.table.shape[0] >= source.levels
            and op.table.shape[1] >= other.levels,
            f"{name}: table must be a 2-D integer array covering both inputs' levels",
        )
        _require(
            int(op.table.min()) >= 0 and int(op.table.max()) < op.levels,
            f"{name}: table entries outside [0, {op.levels})",
        )
        return BufferInfo("index", int(op.levels), source.shape)
    if isinstance(op, Flatten):
        return BufferInfo(source.kind, source.levels, (int(np.prod(source.shape)),))
    raise EngineError(f"{name}: unknown op type {type(op).__name__}")


def infer_buffers(network: IntegerNetwork, *, check_bounds: bool = True) -> dict[str, BufferInfo]:
    """Validate ``network`` statically and describe every buffer.

    Checks buffer names, shapes, index ranges against tables, sortedness of boundaries,
    dtypes (integer arrays only) and that no accumulator can overflow the accumulator dtype
    (see :func:`fourfold_common.engine.accumulator_bounds`).

    Args:
        network: The network to check.
        check_bounds: Also run :func:`fourfold_common.engine.check_overflow`.

    Returns:
        Mapping from buffer name to :class:`BufferInfo`, in execution order.

    Raises:
        EngineError: The first problem found, with the op that has it.
    """
    _require(
        network.accumulator_dtype in ACCUMULATOR_DTYPES,
        f"accumulator_dtype must be one of {ACCUMULATOR_DTYPES}",
    )
    _require(network.input_levels >= 1, "input_levels must be >= 1")
    _require(
        all(isinstance(d, int) and d >= 1 for d in network.input_shape),
        f"bad input_shape {network.input_shape!r}",
    )
    for name, table in network.tables.items():
        _require(_is_int_array(table), f"table {name!r} must be an integer array")
    buffers = {
        network.input_name: BufferInfo("index", network.input_levels, tuple(network.input_shape))
    }
    for position, op in enumerate(network.ops):
        name = f"op {position} ({op.OP} -> {op.output!r})"
        _require(op.output not in buffers, f"{name}: buffer {op.output!r} written twice")
        buffers[op.output] = _infer(op, network, buffers, name)
    _require(network.output in buffers, f"output buffer {network.output!r} is never written")
    if check_bounds:
        from fourfold_common.engine._bounds import check_overflow

        check_overflow(network, buffers)
    return buffers
