"""Static memory plan of a C export: buffer types, aliases, fusion, arena offsets.

Every buffer of an :class:`IntegerNetwork` gets a C element type (indices: the smallest unsigned
type, values: the accumulator type). :class:`Flatten` outputs alias their input. A table op
(:class:`Dense`/:class:`Conv`) immediately followed by the only reader of its accumulators, an
activation, is *fused*: the accumulators of one output position live in a small scratch array and
never in a full buffer; likewise a value :class:`Lookup` read only by the :class:`SumPool` that
follows it (average pooling) is folded into the pool. The remaining buffers are placed in one
static arena per element type (separate arenas keep the C free of type punning) by first-fit over
their lifetimes, so buffers that are never alive at the same time share memory; the network
output is written straight to the caller's array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fourfold_common.engine._network import BufferInfo, IntegerNetwork, index_dtype
from fourfold_common.engine._ops import (
    Add,
    Conv,
    Dense,
    Flatten,
    Lookup,
    ShiftActivation,
    SumPool,
    ThresholdActivation,
)

ACTIVATIONS = (ShiftActivation, ThresholdActivation)

C_TYPES = {
    "uint8": "uint8_t",
    "uint16": "uint16_t",
    "int32": "int32_t",
    "int64": "int64_t",
}
C_SIZES = {"uint8_t": 1, "uint16_t": 2, "int32_t": 4, "int64_t": 8}

INPUT = "input"
OUTPUT = "output"


@dataclass(frozen=True)
class Slot:
    """Where a buffer's elements live.

    Attributes:
        ctype: C element type.
        size: Elements per sample.
        place: ``"input"`` (the caller's input array), ``"output"`` (the caller's output array)
            or ``"arena"``.
        offset: Element offset inside the arena of ``ctype`` (``place == "arena"`` only).
    """

    ctype: str
    size: int
    place: str
    offset: int = 0


@dataclass(frozen=True)
class Step:
    """One emitted C function: an op, possibly fused with the op that follows it.

    Fused pairs: a table op and its activation (the accumulators of one position stay in a
    scratch array), and a value :class:`Lookup` and its :class:`SumPool` (the pool looks the
    values up itself, so the value map is never stored).

    Attributes:
        position: Index of the (first) op in ``network.ops``.
        fused: Index of the fused follower op, or ``-1``.
    """

    position: int
    fused: int = -1


@dataclass(frozen=True)
class MemoryPlan:
    """The complete static memory layout of an exported network.

    Attributes:
        buffers: :func:`infer_buffers` result.
        root: Buffer name to the name of the buffer owning its memory (aliases resolved).
        slots: Storage of every root buffer that has memory.
        arenas: Elements of the static arena of each C type.
        steps: The C functions in execution order.
        scratch: Elements of the accumulator scratch array used by fused steps.
        accumulator_ctype: C type of value buffers.
    """

    buffers: dict[str, BufferInfo]
    root: dict[str, str]
    slots: dict[str, Slot]
    arenas: dict[str, int]
    steps: tuple[Step, ...]
    scratch: int
    accumulator_ctype: str

    @property
    def ram_bytes(self) -> int:
        """Bytes of every static buffer (arenas and scratch)."""
        arenas = sum(C_SIZES[ctype] * size for ctype, size in self.arenas.items())
        return arenas + C_SIZES[self.accumulator_ctype] * self.scratch


def buffer_ctype(info: BufferInfo, accumulator_ctype: str) -> str:
    """C element type of a buffer."""
    if info.kind == "value":
        return accumulator_ctype
    return C_TYPES[index_dtype(info.levels).name]


def _readers(network: IntegerNetwork) -> dict[str, list[int]]:
    readers: dict[str, list[int]] = {}
    for position, op in enumerate(network.ops):
        sources = [op.input, op.other] if isinstance(op, Add) else [op.input]
        for source in sources:
            readers.setdefault(source, []).append(position)
    return readers


def _steps(network: IntegerNetwork) -> tuple[Step, ...]:
    readers = _readers(network)
    steps: list[Step] = []
    skip = -1
    for position, op in enumerate(network.ops):
        if position == skip or isinstance(op, Flatten):
            continue
        following = network.ops[position + 1] if position + 1 < len(network.ops) else None
        fusable = (isinstance(op, (Dense, Conv)) and isinstance(following, ACTIVATIONS)) or (
            isinstance(op, Lookup) and op.kind == "value" and isinstance(following, SumPool)
        )
        if (
            fusable
            and following is not None
            and following.input == op.output
            and readers.get(op.output) == [position + 1]
            and op.output != network.output
        ):
            steps.append(Step(position, position + 1))
            skip = position + 1
        else:
            steps.append(Step(position))
    return tuple(steps)


def _first_fit(items: list[tuple[str, int, int, int]]) -> tuple[dict[str, int], int]:
    """Offsets for ``(name, size, first, last)`` items so that live-together items are disjoint."""
    placed: list[tuple[int, int, int, int]] = []  # offset, size, first, last
    offsets: dict[str, int] = {}
    for name, size, first, last in sorted(items, key=lambda item: (-item[1], item[2], item[0])):
        busy = sorted(
            (offset, offset + extent)
            for offset, extent, start, end in placed
            if start <= last and first <= end
        )
        offset = 0
        for low, high in busy:
            if offset + size <= low:
                break
            offset = max(offset, high)
        placed.append((offset, size, first, last))
        offsets[name] = offset
    total = max((offset + size for offset, size, _, _ in placed), default=0)
    return offsets, total


def plan_memory(network: IntegerNetwork, buffers: dict[str, BufferInfo]) -> MemoryPlan:
    """Decide types, aliases, fused steps and arena offsets for every buffer of ``network``.

    Args:
        network: A validated network.
        buffers: Its :func:`infer_buffers` result.

    Returns:
        The memory plan.
    """
    accumulator_ctype = C_TYPES[network.accumulator_dtype]
    root = {network.input_name: network.input_name}
    for op in network.ops:
        root[op.output] = root[op.input] if isinstance(op, Flatten) else op.output
    steps = _steps(network)
    fused_away = {network.ops[step.position].output for step in steps if step.fused >= 0}
    output_root = root[network.output]

    first: dict[str, int] = {}
    last: dict[str, int] = {}
    scratch = 0
    for number, step in enumerate(steps):
        op = network.ops[step.position]
        sources = [op.input, op.other] if isinstance(op, Add) else [op.input]
        for source in sources:
            last[root[source]] = number
        target = network.ops[step.fused].output if step.fused >= 0 else op.output
        first.setdefault(root[target], number)
        last[root[target]] = max(last.get(root[target], number), number)
        if step.fused >= 0 and isinstance(op, (Dense, Conv)):
            scratch = max(scratch, buffers[op.output].shape[-1])

    slots: dict[str, Slot] = {}
    items: dict[str, list[tuple[str, int, int, int]]] = {}
    for name, info in buffers.items():
        if root[name] != name or name in fused_away:
            continue
        ctype = buffer_ctype(info, accumulator_ctype)
        size = int(np.prod(info.shape, dtype=np.int64))
        if name == network.input_name:
            slots[name] = Slot(ctype, size, INPUT)
        elif name == output_root:
            slots[name] = Slot(ctype, size, OUTPUT)
        elif name in first:
            items.setdefault(ctype, []).append((name, size, first[name], last[name]))
    arenas: dict[str, int] = {}
    for ctype, group in items.items():
        offsets, total = _first_fit(group)
        arenas[ctype] = total
        for name, size, _, _ in group:
            slots[name] = Slot(ctype, size, "arena", offsets[name])
    return MemoryPlan(buffers, root, slots, arenas, steps, scratch, accumulator_ctype)
