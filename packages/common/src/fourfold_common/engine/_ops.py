"""The operations of an integer network: small frozen dataclasses, one per op kind.

Buffers are named; every op reads one (or two) named buffers and writes one. A buffer holds
either *indices* (non-negative integers addressing a level set, dtype ``uint8``/``uint16``/
``int32``) or *integer values* (accumulators and other signed sums, the network's accumulator
dtype). Spatial buffers are ``(batch, height, width, channels)``; flat ones ``(batch, features)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np


@dataclass(frozen=True, eq=False)
class Lookup:
    """Element-wise table lookup ``out = table[in]``.

    Maps raw integer inputs (e.g. ``uint8`` pixels) to indices, or indices to integer values
    (``kind="value"``, e.g. before a :class:`SumPool`).

    Attributes:
        input: Name of the index buffer read.
        output: Name of the buffer written.
        table: 1-D integer array with one entry per possible input value.
        kind: ``"index"`` (entries are indices into ``levels`` levels) or ``"value"``.
        levels: Number of output levels when ``kind == "index"`` (ignored otherwise).
    """

    input: str
    output: str
    table: np.ndarray
    kind: str = "index"
    levels: int = 0
    OP: ClassVar[str] = "lookup"
    ARRAYS: ClassVar[tuple[str, ...]] = ("table",)


@dataclass(frozen=True, eq=False)
class Dense:
    """Fully connected table layer: ``acc[b, o] = Σ_k T[x[b, k], w[k, o]] + bias[o]``.

    Attributes:
        input: Index buffer ``(batch, fan_in)``.
        output: Accumulator buffer ``(batch, units)``.
        table: Name of an entry of :attr:`IntegerNetwork.tables` (rows: activation levels,
            columns: weight levels).
        weights: Weight indices, integer array ``(fan_in, units)``, entries ``< table.shape[1]``.
        bias: Optional integer bias added to each unit, ``(units,)`` (already scaled).
        bias_index: Optional weight indices of the biases, ``(units,)``; the bias of unit ``o``
            is ``T[bias_row, bias_index[o]]`` (the discrete-nets global table's bias row).
        bias_row: Table row used with ``bias_index``.
    """

    input: str
    output: str
    table: str
    weights: np.ndarray
    bias: np.ndarray | None = None
    bias_index: np.ndarray | None = None
    bias_row: int = -1
    OP: ClassVar[str] = "dense"
    ARRAYS: ClassVar[tuple[str, ...]] = ("weights", "bias", "bias_index")


@dataclass(frozen=True, eq=False)
class Conv:
    """2-D convolution by table lookups (NHWC), with stride, explicit padding and groups.

    ``acc[b, y, x, o] = Σ T[in[b, y·sy + dy, x·sx + dx, c], w[dy, dx, c', o]] + bias[o]`` over
    the taps and the input channels ``c`` of the group of ``o``. ``groups == channels`` with one
    input channel per group is a depthwise convolution.

    Attributes:
        input: Index buffer ``(batch, height, width, channels)``.
        output: Accumulator buffer ``(batch, out_height, out_width, out_channels)``.
        table: Name of the product table.
        weights: Weight indices ``(kh, kw, channels // groups, out_channels)``.
        stride: ``(sy, sx)``.
        padding: ``(top, bottom, left, right)`` rows/columns of ``pad_index`` added.
        groups: Number of channel groups (``out_channels`` must be divisible by it).
        pad_index: Index used for padded positions (the index of the level 0 in float terms).
        bias: As in :class:`Dense`.
        bias_index: As in :class:`Dense`.
        bias_row: As in :class:`Dense`.
    """

    input: str
    output: str
    table: str
    weights: np.ndarray
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    groups: int = 1
    pad_index: int = 0
    bias: np.ndarray | None = None
    bias_index: np.ndarray | None = None
    bias_row: int = -1
    OP: ClassVar[str] = "conv"
    ARRAYS: ClassVar[tuple[str, ...]] = ("weights", "bias", "bias_index")


@dataclass(frozen=True, eq=False)
class ShiftActivation:
    """Accumulator to index by an arithmetic shift and a small table (mulfree-quant).

    ``out = table[clip((acc >> shift) - low, 0, len(table) - 1)]``. Entries may repeat, so
    non-uniform plateaus of any activation function are representable.

    Attributes:
        input: Accumulator/value buffer.
        output: Index buffer.
        shift: Arithmetic right shift (``>= 0``).
        low: Shifted value mapped to the first table entry (smaller values clamp to it).
        table: 1-D integer array of output indices (``Nx`` entries).
        levels: Number of output levels (table entries are ``< levels``).
    """

    input: str
    output: str
    shift: int
    low: int
    table: np.ndarray
    levels: int
    OP: ClassVar[str] = "shift_activation"
    ARRAYS: ClassVar[tuple[str, ...]] = ("table",)


@dataclass(frozen=True, eq=False)
class ThresholdActivation:
    """Accumulator to index by comparisons with sorted integer plateau boundaries (discrete-nets).

    ``out = #{k : acc >= boundaries[k]}``: a binary search of comparisons, no multiply.

    Attributes:
        input: Accumulator/value buffer.
        output: Index buffer with ``len(boundaries) + 1`` levels.
        boundaries: Non-decreasing 1-D integer array.
    """

    input: str
    output: str
    boundaries: np.ndarray
    OP: ClassVar[str] = "threshold_activation"
    ARRAYS: ClassVar[tuple[str, ...]] = ("boundaries",)


@dataclass(frozen=True, eq=False)
class MaxPool:
    """Max-pooling directly on indices (valid windows, no padding).

    Correct because levels are sorted: the largest index is the largest level.

    Attributes:
        input: Index buffer ``(batch, height, width, channels)``.
        output: Index buffer.
        window: ``(wy, wx)``.
        stride: ``(sy, sx)``.
    """

    input: str
    output: str
    window: tuple[int, int]
    stride: tuple[int, int]
    OP: ClassVar[str] = "max_pool"
    ARRAYS: ClassVar[tuple[str, ...]] = ()


@dataclass(frozen=True, eq=False)
class SumPool:
    """Sum over valid windows of an integer value buffer.

    Average pooling is a value :class:`Lookup`, then ``SumPool``, then a
    :class:`ShiftActivation` whose table folds in the division by the window size.

    Attributes:
        input: Value buffer ``(batch, height, width, channels)``.
        output: Value buffer.
        window: ``(wy, wx)``.
        stride: ``(sy, sx)``.
    """

    input: str
    output: str
    window: tuple[int, int]
    stride: tuple[int, int]
    OP: ClassVar[str] = "sum_pool"
    ARRAYS: ClassVar[tuple[str, ...]] = ()


@dataclass(frozen=True, eq=False)
class Add:
    """Residual add of two index buffers through a 2-D requantization table.

    ``out = table[a, b]`` where ``table[i, j]`` is the index of the requantized
    ``level_a[i] + level_b[j]`` (any following activation, e.g. ReLU, folded in).

    Attributes:
        input: First index buffer.
        other: Second index buffer of the same shape.
        output: Index buffer.
        table: 2-D integer array of output indices.
        levels: Number of output levels.
    """

    input: str
    other: str
    output: str
    table: np.ndarray
    levels: int
    OP: ClassVar[str] = "add"
    ARRAYS: ClassVar[tuple[str, ...]] = ("table",)


@dataclass(frozen=True, eq=False)
class Flatten:
    """Reshape ``(batch, ...)`` to ``(batch, features)`` (row-major, NHWC order)."""

    input: str
    output: str
    OP: ClassVar[str] = "flatten"
    ARRAYS: ClassVar[tuple[str, ...]] = ()


Op = (
    Lookup
    | Dense
    | Conv
    | ShiftActivation
    | ThresholdActivation
    | MaxPool
    | SumPool
    | Add
    | Flatten
)

OP_TYPES: dict[str, type[Op]] = {
    cls.OP: cls
    for cls in (
        Lookup,
        Dense,
        Conv,
        ShiftActivation,
        ThresholdActivation,
        MaxPool,
        SumPool,
        Add,
        Flatten,
    )
}
