"""Building integer tables and activation maps from float level sets (export time only)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from fourfold_common.engine._errors import EngineError
from fourfold_common.engine._network import IntegerNetwork
from fourfold_common.engine._ops import Lookup, ShiftActivation

TABLE_DTYPES = ("int8", "int16", "int32", "int64")
"""Storage widths of product-table entries (the narrowest that holds a table is its width)."""


def narrow_dtype(values: np.ndarray) -> np.dtype[Any]:
    """Smallest signed integer dtype (``int8``/``int16``/``int32``/``int64``) holding ``values``.

    Raises:
        EngineError: ``values`` is not an integer array, or does not fit ``int64``.

    Example:
        >>> narrow_dtype(np.array([-128, 127])), narrow_dtype(np.array([0, 128]))
        (dtype('int8'), dtype('int16'))
    """
    array = np.asarray(values)
    if not np.issubdtype(array.dtype, np.integer):
        raise EngineError(f"table entries must be integers, got dtype {array.dtype}")
    if array.size == 0:
        return np.dtype(np.int8)
    low, high = int(array.min()), int(array.max())
    for name in TABLE_DTYPES:
        info = np.iinfo(np.dtype(name))
        if info.min <= low and high <= info.max:
            return np.dtype(name)
    raise EngineError(f"table entries in [{low}, {high}] do not fit int64")


def narrow_table(table: np.ndarray) -> np.ndarray:
    """``table`` stored at the smallest signed width holding its entries (values unchanged).

    Example:
        >>> narrow_table(np.array([[0, -300], [5, 7]], dtype=np.int64)).dtype
        dtype('int16')
    """
    array = np.asarray(table)
    return array.astype(narrow_dtype(array))


def narrow_tables(network: IntegerNetwork) -> IntegerNetwork:
    """A copy of ``network`` whose product tables and value lookups are stored narrow.

    Every table of :attr:`IntegerNetwork.tables` and every value :class:`Lookup` table gets the
    smallest signed dtype holding its entries (:func:`narrow_table`). Results of
    :func:`fourfold_common.engine.run` and of the C export are unchanged (the executor gathers
    narrow entries and widens them to the accumulator dtype); the executor's gathers and
    ``size_report`` shrink. The real lever on the width is the fixed-point shift: see
    ``choose_shift(..., entry_bits=16)``.

    Example:
        >>> import numpy as np
        >>> from fourfold_common.engine import Dense, IntegerNetwork
        >>> net = IntegerNetwork((Dense("input", "out", "T", np.array([[0, 1]])),),
        ...                      {"T": np.array([[0, 0], [2, -3]], np.int32)}, (1,), 2, "out")
        >>> narrow_tables(net).tables["T"].dtype
        dtype('int8')
    """
    ops = tuple(
        dataclasses.replace(op, table=narrow_table(op.table))
        if isinstance(op, Lookup) and op.kind == "value"
        else op
        for op in network.ops
    )
    tables = {name: narrow_table(table) for name, table in network.tables.items()}
    return dataclasses.replace(network, ops=ops, tables=tables)


def product_table(
    activation_levels: np.ndarray,
    weight_levels: np.ndarray,
    shift: int,
    *,
    delta: float = 1.0,
    bias_row: bool = False,
    dtype: str = "int32",
) -> np.ndarray:
    """Integer product table ``T[i, j] = round(a_i · w_j · 2^shift / delta)``.

    Args:
        activation_levels: The ``Na`` activation levels (rows).
        weight_levels: The ``Nw`` weight levels (columns).
        shift: Fixed-point shift ``s`` (see :func:`choose_shift`).
        delta: Step of the next activation quantizer (scale of the accumulator unit).
        bias_row: Append a row for activation value ``1`` (biases as weight indices; the
            discrete-nets global ``(|A| + 1) x |W|`` table).
        dtype: Entry width: ``"int8"``, ``"int16"``, ``"int32"``, ``"int64"``, or
            ``"narrow"`` for the smallest of them holding every entry.

    Returns:
        Integer array ``(Na, Nw)``, or ``(Na + 1, Nw)`` with ``bias_row``.

    Raises:
        EngineError: Non-finite levels, ``delta <= 0``, an unknown ``dtype``, or entries not
            representable in ``dtype``.

    Example:
        >>> table = product_table(np.array([0.0, 0.5, 1.0]), np.array([-1.0, 0.25]), 3)
        >>> table.tolist(), table.dtype
        ([[0, 0], [-4, 1], [-8, 2]], dtype('int32'))
        >>> product_table(np.array([0.0, 1.0]), np.array([-1.0, 1.0]), 9, dtype="narrow").dtype
        dtype('int16')
    """
    rows = np.asarray(activation_levels, dtype=np.float64).ravel()
    columns = np.asarray(weight_levels, dtype=np.float64).ravel()
    if bias_row:
        rows = np.concatenate([rows, [1.0]])
    if not (np.all(np.isfinite(rows)) and np.all(np.isfinite(columns))):
        raise EngineError("levels must be finite")
    if not delta > 0:
        raise EngineError(f"delta must be positive, got {delta}")
    if dtype not in (*TABLE_DTYPES, "narrow"):
        raise EngineError(f"dtype must be one of {(*TABLE_DTYPES, 'narrow')}, got {dtype!r}")
    table = np.round(np.outer(rows, columns) * (2.0**shift / delta))
    target = "int64" if dtype == "narrow" else dtype
    info = np.iinfo(np.dtype(target))
    if table.size and (table.max() > info.max or table.min() < info.min):
        raise EngineError(
            f"table entries exceed {target}; lower the shift "
            f"(choose_shift(..., entry_bits={info.bits}) keeps them within {target})"
        )
    result = table.astype(target)
    return narrow_table(result) if dtype == "narrow" else result


def integer_boundaries(real_thresholds: np.ndarray, scale: float) -> np.ndarray:
    """Integer plateau boundaries: ``acc >= B_k`` exactly when ``acc >= t_k · scale``.

    ``B_k = ceil(t_k · scale)``, so comparing an integer accumulator with ``B_k`` decides the
    real comparison exactly (discrete-nets' activation mapping, no multiply at inference).

    Example:
        >>> integer_boundaries(np.array([-0.3, 0.25, 1.0]), 8.0).tolist()
        [-2, 2, 8]
    """
    values = np.ceil(np.asarray(real_thresholds, dtype=np.float64) * scale)
    if not np.all(np.isfinite(values)):
        raise EngineError("thresholds must be finite")
    return values.astype(np.int64)


def make_shift_activation(
    input: str,
    output: str,
    index_of: Callable[[np.ndarray], np.ndarray],
    accumulator_range: tuple[int, int],
    scale: float,
    levels: int,
    *,
    max_entries: int = 256,
) -> ShiftActivation:
    """Build a :class:`ShiftActivation` covering an accumulator range with a small table.

    The shift ``r`` is the smallest one for which the bins ``(lo >> r) - 1 .. (hi >> r) + 1``
    (the range plus one guard bin on each side) number at most ``max_entries``; entry ``v``
    holds ``index_of`` evaluated at the centre of its bin, the real pre-activation
    ``(v + 1/2) · 2^r / scale``. Accumulators outside the table clamp to the guard bins, which
    lie wholly outside ``[lo, hi]``, so give a range containing every point where the index
    changes (e.g. the outermost thresholds); only bins straddling a threshold can differ from
    the exact real mapping.

    Args:
        input: Accumulator buffer name.
        output: Index buffer name.
        index_of: Maps real pre-activation values to output indices (vectorised).
        accumulator_range: ``(lo, hi)`` integer accumulator values to cover.
        scale: Accumulator units per real unit (``2^s / delta``).
        levels: Number of output levels.
        max_entries: Largest table (``Nx``).

    Returns:
        The activation op.

    Example:
        >>> op = make_shift_activation("acc", "idx", lambda z: (z > 0).astype(int), (-40, 40),
        ...                            8.0, 2, max_entries=16)
        >>> op.shift, op.low, op.table.tolist()
        (3, -6, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1])
    """
    low, high = (int(v) for v in accumulator_range)
    if high < low:
        raise EngineError(f"empty accumulator range ({low}, {high})")
    if max_entries < 3:
        raise EngineError("max_entries must be >= 3 (the range and two guard bins)")
    shift = 0
    while (high >> shift) - (low >> shift) + 3 > max_entries:
        shift += 1
    first, last = (low >> shift) - 1, (high >> shift) + 1
    bins = np.arange(first, last + 1, dtype=np.float64)
    centres = (bins + 0.5) * (2.0**shift) / scale
    table = np.asarray(index_of(centres)).astype(np.int64)
    if table.shape != bins.shape or table.min() < 0 or table.max() >= levels:
        raise EngineError("index_of must return one index in [0, levels) per value")
    return ShiftActivation(input, output, shift, first, table.astype(np.int32), levels)
