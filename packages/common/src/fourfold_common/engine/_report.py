"""Size and compactness reports of an integer network (bytes per part vs float32)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from fourfold_common.engine._artifact import to_bytes
from fourfold_common.engine._c_export import c_budget
from fourfold_common.engine._errors import EngineError
from fourfold_common.engine._network import IntegerNetwork, infer_buffers
from fourfold_common.engine._ops import Add, Conv, Dense, Lookup, ShiftActivation
from fourfold_common.engine._packing import pack_array, packed_nbytes


@dataclass(frozen=True)
class SizePart:
    """One stored array.

    Attributes:
        owner: Op output name, or ``"tables"`` for the shared product tables.
        part: ``"weights"``, ``"bias"``, ``"bias_index"``, ``"table:<name>"``,
            ``"activation_table"``, ``"boundaries"``, ``"lookup"``, ``"requant_table"``.
        count: Number of values.
        bits: Stored bits per value.
        packed_bytes: Bytes in the artifact payload.
        float32_bytes: Bytes of the float32 counterpart (weights and biases only, else 0).
        dtype: Numpy dtype the network holds the array in (``"int16"`` for a narrow table).
    """

    owner: str
    part: str
    count: int
    bits: int
    packed_bytes: int
    float32_bytes: int
    dtype: str = ""


@dataclass(frozen=True)
class LayerSummary:
    """Compactness of one table layer (the paper's per-layer measures).

    Attributes:
        name: Output buffer of the layer.
        table: Product table name.
        activation_levels: ``Na``: input levels the layer can see.
        weight_levels: ``Nw``: columns of the table.
        table_entries: ``Na · Nw``.
        activation_table_entries: ``Nx`` of the following shift activation (0 if none).
        index_bits: ``ceil(log2 Nw)``.
        parameters: Number of weights (and biases).
    """

    name: str
    table: str
    activation_levels: int
    weight_levels: int
    table_entries: int
    activation_table_entries: int
    index_bits: int
    parameters: int


@dataclass(frozen=True)
class SizeReport:
    """Deployed size of a network.

    Attributes:
        parts: Every stored array.
        layers: Per table layer compactness.
        artifact_bytes: Size of the artifact file (header, payload, checksum).
        payload_bytes: Sum of the packed arrays.
        float32_bytes: Bytes of the same weights and biases as float32.
        flash_bytes: Flash of the C export (:func:`fourfold_common.engine.export_c`): tables at
            their real width (``int8_t``/``int16_t``/... , the smallest holding the entries),
            indices bit-packed; ``None`` when the network cannot be exported to C (indices
            beyond 24 bits).
        ram_bytes: Static activation RAM of the C export (``None`` as above).
        flash_parts: ``flash_bytes`` by category (``weights``, ``table:<name>``, ...).
    """

    parts: tuple[SizePart, ...]
    layers: tuple[LayerSummary, ...]
    artifact_bytes: int
    payload_bytes: int
    float32_bytes: int
    flash_bytes: int | None = None
    ram_bytes: int | None = None
    flash_parts: Mapping[str, int] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """``artifact_bytes / float32_bytes`` (smaller is better)."""
        return self.artifact_bytes / self.float32_bytes if self.float32_bytes else math.inf

    @property
    def flash_ratio(self) -> float:
        """``flash_bytes / float32_bytes`` (``inf`` when unknown or no float32 weights)."""
        if self.flash_bytes is None or not self.float32_bytes:
            return math.inf
        return self.flash_bytes / self.float32_bytes

    @property
    def total_table_entries(self) -> int:
        """Sum of ``Na · Nw`` over the layers (the network-total reading of "entries")."""
        return sum(layer.table_entries for layer in self.layers)


def _part(owner: str, part: str, array: np.ndarray, float_values: bool) -> SizePart:
    packed = pack_array(array)
    count = int(math.prod(packed.shape))
    return SizePart(
        owner,
        part,
        count,
        packed.bits,
        packed_nbytes(count, packed.bits),
        4 * count if float_values else 0,
        packed.dtype,
    )


def size_report(network: IntegerNetwork) -> SizeReport:
    """Bytes per stored part, per-layer table sizes, C flash and RAM, and totals vs float32.

    Flash is counted at the width the C export stores each array at: a table whose entries fit
    ``int16`` takes 2 bytes per entry whatever its numpy dtype, weight indices their packed bits.

    Example:
        >>> import numpy as np
        >>> from fourfold_common.engine import Dense, IntegerNetwork, size_report
        >>> net = IntegerNetwork((Dense("input", "out", "T", np.zeros((100, 10), np.uint8)),),
        ...                      {"T": np.ones((8, 5), np.int32)}, (100,), 8, "out")
        >>> report = size_report(net)
        >>> report.layers[0].table_entries, report.float32_bytes
        (40, 4000)
        >>> report.flash_parts["table:T"]  # 40 int8_t entries and 8 uint8_t row offsets
        48
    """
    buffers = infer_buffers(network)
    parts = [_part("tables", f"table:{n}", t, False) for n, t in network.tables.items()]
    layers = []
    consumers = {op.input: op for op in network.ops}
    for op in network.ops:
        if isinstance(op, (Dense, Conv)):
            parts.append(_part(op.output, "weights", op.weights, True))
            if op.bias is not None:
                parts.append(_part(op.output, "bias", op.bias, True))
            if op.bias_index is not None:
                parts.append(_part(op.output, "bias_index", op.bias_index, True))
            table = network.tables[op.table]
            rows = buffers[op.input].levels
            follower = consumers.get(op.output)
            layers.append(
                LayerSummary(
                    name=op.output,
                    table=op.table,
                    activation_levels=rows,
                    weight_levels=int(table.shape[1]),
                    table_entries=rows * int(table.shape[1]),
                    activation_table_entries=(
                        int(follower.table.size) if isinstance(follower, ShiftActivation) else 0
                    ),
                    index_bits=max(1, math.ceil(math.log2(table.shape[1]))),
                    parameters=int(op.weights.size)
                    + (0 if op.bias is None else int(op.bias.size))
                    + (0 if op.bias_index is None else int(op.bias_index.size)),
                )
            )
        elif isinstance(op, ShiftActivation):
            parts.append(_part(op.output, "activation_table", op.table, False))
        elif isinstance(op, Lookup):
            parts.append(_part(op.output, "lookup", op.table, False))
        elif isinstance(op, Add):
            parts.append(_part(op.output, "requant_table", op.table, False))
        elif hasattr(op, "boundaries"):
            parts.append(_part(op.output, "boundaries", op.boundaries, False))
    artifact = len(to_bytes(network))
    try:
        budget = c_budget(network)
    except EngineError:  # valid for the engine, but beyond what the C export packs
        flash, ram, flash_parts = None, None, {}
    else:
        flash, ram, flash_parts = budget.flash_bytes, budget.ram_bytes, dict(budget.flash_parts)
    return SizeReport(
        parts=tuple(parts),
        layers=tuple(layers),
        artifact_bytes=artifact,
        payload_bytes=sum(p.packed_bytes for p in parts),
        float32_bytes=sum(p.float32_bytes for p in parts),
        flash_bytes=flash,
        ram_bytes=ram,
        flash_parts=flash_parts,
    )


def format_size_report(report: SizeReport) -> str:
    """Markdown tables of a :class:`SizeReport` (layers, then totals)."""
    lines = [
        "| layer | Na | Nw | table entries Na*Nw | activation table Nx | index bits | params |",
        "|---|---|---|---|---|---|---|",
    ]
    for layer in report.layers:
        lines.append(
            f"| {layer.name} | {layer.activation_levels} | {layer.weight_levels} | "
            f"{layer.table_entries} | {layer.activation_table_entries} | {layer.index_bits} | "
            f"{layer.parameters} |"
        )
    lines += [
        "",
        f"- network total table entries: {report.total_table_entries}",
        f"- packed payload: {report.payload_bytes} B; artifact file: {report.artifact_bytes} B",
        f"- float32 weights and biases: {report.float32_bytes} B; "
        f"ratio artifact / float32: {report.ratio:.3f}",
    ]
    if report.flash_bytes is not None:
        lines.append(
            f"- C export: flash {report.flash_bytes} B (ratio to float32 "
            f"{report.flash_ratio:.3f}), static RAM {report.ram_bytes} B"
        )
    return "\n".join(lines)
