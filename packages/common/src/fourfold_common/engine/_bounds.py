"""Overflow safety: worst-case accumulator bounds and the choice of the fixed-point shift."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from fourfold_common.engine._errors import EngineError
from fourfold_common.engine._ops import Conv, Dense, Lookup, SumPool

if TYPE_CHECKING:
    from fourfold_common.engine._network import BufferInfo, IntegerNetwork


def _table_op_bound(op: Dense | Conv, table: np.ndarray, rows: int) -> int:
    column_max = np.max(np.abs(table[:rows].astype(np.int64)), axis=0)
    per_weight = column_max[op.weights.astype(np.int64)]
    units = per_weight.reshape(-1, per_weight.shape[-1]).sum(axis=0)
    if op.bias is not None:
        units = units + np.abs(op.bias.astype(np.int64))
    if op.bias_index is not None:
        units = units + np.abs(table[op.bias_row].astype(np.int64))[op.bias_index]
    return int(units.max()) if units.size else 0


def accumulator_bounds(
    network: IntegerNetwork, buffers: dict[str, BufferInfo] | None = None
) -> dict[str, int]:
    """Worst-case absolute value of every integer *value* buffer, over all possible inputs.

    For a table op each unit's bound is ``Σ_k max_i |T[i, w_k]| + |bias|`` with ``i`` ranging
    over the input's possible indices; every partial sum is bounded by it too, so an accumulator
    that respects the bound never overflows at any point of the summation.

    Args:
        network: The network.
        buffers: Result of :func:`infer_buffers` (computed when omitted).

    Returns:
        Mapping from value-buffer name to its bound (Python int, exact).

    Example:
        >>> import numpy as np
        >>> from fourfold_common.engine import Dense, IntegerNetwork, accumulator_bounds
        >>> net = IntegerNetwork((Dense("input", "acc", "T", np.zeros((3, 1), np.uint8)),),
        ...                      {"T": np.array([[-7], [5]], np.int32)}, (3,), 2, "acc")
        >>> accumulator_bounds(net)
        {'acc': 21}
    """
    if buffers is None:
        from fourfold_common.engine._network import infer_buffers

        buffers = infer_buffers(network, check_bounds=False)
    bounds: dict[str, int] = {}
    for op in network.ops:
        source = buffers[op.input]
        if isinstance(op, Lookup) and op.kind == "value":
            bounds[op.output] = int(np.max(np.abs(op.table[: source.levels].astype(np.int64))))
        elif isinstance(op, (Dense, Conv)):
            table = network.tables[op.table]
            bounds[op.output] = _table_op_bound(op, table, source.levels)
        elif isinstance(op, SumPool):
            inner = bounds.get(op.input, max(source.levels - 1, 0))
            bounds[op.output] = inner * op.window[0] * op.window[1]
        elif buffers[op.output].kind == "value" and op.input in bounds:
            bounds[op.output] = bounds[op.input]  # flatten of a value buffer
    return bounds


def check_overflow(network: IntegerNetwork, buffers: dict[str, BufferInfo] | None = None) -> None:
    """Raise :class:`EngineError` if any accumulator could exceed the accumulator dtype.

    Example:
        >>> import numpy as np
        >>> from fourfold_common.engine import Dense, IntegerNetwork, check_overflow
        >>> big = np.array([[2**30]], np.int64)
        >>> net = IntegerNetwork((Dense("input", "acc", "T", np.zeros((4, 1), np.uint8)),),
        ...                      {"T": big}, (4,), 1, "acc")
        >>> try:
        ...     check_overflow(net)
        ... except ValueError as error:
        ...     print(error)
        accumulator 'acc' may reach 4294967296, beyond int32
    """
    limit = int(np.iinfo(np.dtype(network.accumulator_dtype)).max)
    for name, bound in accumulator_bounds(network, buffers).items():
        if bound > limit:
            raise EngineError(
                f"accumulator {name!r} may reach {bound}, beyond {network.accumulator_dtype}"
            )


def choose_shift(
    max_abs_product: float,
    fan_in: int,
    *,
    bias_abs: float = 0.0,
    accumulator_bits: int = 32,
    limit: int | None = None,
    entry_bits: int | None = None,
) -> int:
    """Largest fixed-point shift ``s`` whose scaled, rounded table cannot overflow.

    Entries are ``round(x · 2^s)`` with ``|x| <= max_abs_product``, so a unit with ``fan_in``
    terms and a bias of magnitude ``<= bias_abs`` stays within
    ``fan_in · (m·2^s + 1/2) + (b·2^s + 1/2)``; ``s`` is the largest integer (possibly negative)
    keeping that ``<= limit`` (default ``2^(accumulator_bits - 1) - 1``). Use a smaller ``limit``
    (e.g. ``2^24``) when a float32 simulation must stay exact. With ``entry_bits`` the shift
    also keeps every entry, ``round(m·2^s)`` and ``round(b·2^s)``, within a signed
    ``entry_bits``-bit integer (``entry_bits=16``: an ``int16`` table, half the flash of
    ``int32``), at the price of a coarser fixed point.

    Args:
        max_abs_product: Largest ``|a_i · w_j / δ|`` of the layer.
        fan_in: Number of summed table entries per unit.
        bias_abs: Largest ``|bias / δ|``.
        accumulator_bits: Width of the signed accumulator.
        limit: Explicit bound on the accumulator magnitude.
        entry_bits: Width of the signed table entries (e.g. 8 or 16), or ``None``.

    Returns:
        The shift ``s``.

    Raises:
        EngineError: Negative/non-finite magnitudes, ``fan_in < 1``, ``entry_bits < 2``, or no
            shift can fit.

    Example:
        >>> choose_shift(1.0, 1000), choose_shift(1.0, 1000, entry_bits=16)
        (21, 14)
    """
    if not (math.isfinite(max_abs_product) and max_abs_product >= 0):
        raise EngineError(f"max_abs_product must be finite and >= 0, got {max_abs_product}")
    if not (math.isfinite(bias_abs) and bias_abs >= 0):
        raise EngineError(f"bias_abs must be finite and >= 0, got {bias_abs}")
    if fan_in < 1:
        raise EngineError(f"fan_in must be >= 1, got {fan_in}")
    if entry_bits is not None and entry_bits < 2:
        raise EngineError(f"entry_bits must be >= 2, got {entry_bits}")
    bound = limit if limit is not None else 2 ** (accumulator_bits - 1) - 1
    room = bound - 0.5 * fan_in - 0.5
    scale = fan_in * max_abs_product + bias_abs
    if room <= 0:
        raise EngineError(f"fan-in {fan_in} cannot fit in an accumulator bounded by {bound}")
    if scale == 0:
        return 62
    shift = min(62, math.floor(math.log2(room / scale)))

    def worst(s: int) -> float:
        return fan_in * (max_abs_product * 2.0**s + 0.5) + bias_abs * 2.0**s + 0.5

    def entry(s: int) -> float:
        return max(max_abs_product, bias_abs) * 2.0**s + 0.5

    entry_limit = 2 ** (entry_bits - 1) - 1 if entry_bits is not None else math.inf
    while shift > -1074 and (worst(shift) > bound or entry(shift) > entry_limit):
        shift -= 1
    return shift
