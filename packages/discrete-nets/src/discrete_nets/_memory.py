"""Memory report: deployed bytes of an exported network against its float32 twin."""

from __future__ import annotations

import math
from dataclasses import dataclass

from fourfold_common import engine


@dataclass(frozen=True)
class MemoryReport:
    """Deployed memory of an exported discretized network.

    The deployed figure is what a device must hold to run the network: the constant data of
    the C export (:func:`fourfold_common.engine.export_c`): every weight and bias index
    bit-packed to ``ceil(log2 |W|)`` bits, the global table at the smallest C integer type
    holding its entries (``int16_t`` by default), the plateau boundaries and the input lookup.
    The inference code itself (the same few kilobytes for any network) and the activation
    buffers in RAM (which a float32 network needs too, 4x larger) are not counted on either
    side.

    Attributes:
        parameters: Weights and biases (each stored as one index).
        activation_levels: ``|A|``.
        weight_levels: ``|W|``.
        index_bits: ``ceil(log2 |W|)`` bits per stored weight index.
        index_bytes: Bytes of all weight and bias indices, bit-packed.
        table_entries: ``(|A| + 1) · |W|`` entries of the global table.
        table_bytes: Bytes of the global table in the device (C) layout.
        table_bits: Bits of the table's storage type (8, 16, 32).
        other_bytes: Plateau boundaries and the input lookup table (device layout).
        deployed_bytes: What the device holds: ``index + table + other`` (C ``const`` data).
        artifact_bytes: Size of the artifact file (JSON header, bit-packed payload, checksum).
        float32_bytes: Bytes of the same weights and biases as float32.

    Example:
        >>> r = MemoryReport(100, 4, 8, 3, 38, 40, 80, 16, 8, 126, 200, 400)
        >>> round(r.ratio, 3), round(r.artifact_ratio, 2)
        (0.315, 0.5)
    """

    parameters: int
    activation_levels: int
    weight_levels: int
    index_bits: int
    index_bytes: int
    table_entries: int
    table_bytes: int
    table_bits: int
    other_bytes: int
    deployed_bytes: int
    artifact_bytes: int
    float32_bytes: int

    @property
    def ratio(self) -> float:
        """Deployed bytes over float32 bytes (the paper's claim: under one third)."""
        return self.deployed_bytes / self.float32_bytes

    @property
    def artifact_ratio(self) -> float:
        """Artifact file bytes over float32 bytes."""
        return self.artifact_bytes / self.float32_bytes


def memory_report(network: engine.IntegerNetwork) -> MemoryReport:
    """Measure the deployed memory of an exported network (see :class:`MemoryReport`).

    Raises:
        fourfold_common.engine.EngineError: The network cannot be laid out for a device
            (indices beyond 24 bits).
    """
    report = engine.size_report(network)
    if report.flash_bytes is None:
        raise engine.EngineError("the network has no device (C) layout: indices beyond 24 bits")
    table = network.tables["T"]
    index_parts = [p for p in report.parts if p.part in ("weights", "bias_index", "bias")]
    parts = dict(report.flash_parts)
    index_bytes = parts.pop("weights", 0)
    table_bytes = parts.pop("table:T", 0)
    count = int(table.shape[1])
    entry_bits = 8 * int(engine.narrow_dtype(table).itemsize)
    return MemoryReport(
        parameters=sum(p.count for p in index_parts),
        activation_levels=int(table.shape[0]) - 1,
        weight_levels=count,
        index_bits=max(1, math.ceil(math.log2(count))),
        index_bytes=index_bytes,
        table_entries=int(table.size),
        table_bytes=table_bytes,
        table_bits=entry_bits,
        other_bytes=sum(parts.values()),
        deployed_bytes=report.flash_bytes,
        artifact_bytes=report.artifact_bytes,
        float32_bytes=4 * sum(p.count for p in index_parts),
    )


def format_memory_report(report: MemoryReport) -> str:
    """One Markdown table of a :class:`MemoryReport`.

    Example:
        >>> r = MemoryReport(100, 4, 8, 3, 38, 40, 80, 16, 8, 126, 200, 400)
        >>> print(format_memory_report(r).splitlines()[2])
        | 100 | 4 | 8 | 3 | 38 | 40 x int16 | 80 | 8 | 126 | 200 | 400 | 0.315 |
    """
    r = report
    return "\n".join(
        [
            "| params | |A| | |W| | index bits | index B | table entries | table B | other B "
            "| deployed B | artifact B | float32 B | deployed / float32 |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
            f"| {r.parameters} | {r.activation_levels} | {r.weight_levels} | {r.index_bits} "
            f"| {r.index_bytes} | {r.table_entries} x int{r.table_bits} | {r.table_bytes} "
            f"| {r.other_bytes} | {r.deployed_bytes} | {r.artifact_bytes} | {r.float32_bytes} "
            f"| {r.ratio:.3f} |",
        ]
    )
