"""Memory report: deployed bytes of an exported network against its float32 twin."""

from __future__ import annotations

import math
from dataclasses import dataclass

from fourfold_common import engine


@dataclass(frozen=True)
class MemoryReport:
    """Deployed memory of an exported discretized network.

    Attributes:
        parameters: Weights and biases (each stored as one index).
        activation_levels: ``|A|``.
        weight_levels: ``|W|``.
        index_bits: ``ceil(log2 |W|)`` bits per stored weight index.
        index_bytes: Bytes of all weight and bias indices, bit-packed.
        table_entries: ``(|A| + 1) · |W|`` entries of the global table.
        table_bytes: Bytes of the global table, bit-packed to its entries' width.
        other_bytes: Plateau boundaries and the input lookup table.
        artifact_bytes: Size of the artifact file (header, payload and checksum included).
        float32_bytes: Bytes of the same weights and biases as float32.

    Example:
        >>> r = MemoryReport(100, 4, 8, 3, 38, 40, 20, 4, 120, 400)
        >>> round(r.ratio, 2), round(r.payload_ratio, 3)
        (0.3, 0.155)
    """

    parameters: int
    activation_levels: int
    weight_levels: int
    index_bits: int
    index_bytes: int
    table_entries: int
    table_bytes: int
    other_bytes: int
    artifact_bytes: int
    float32_bytes: int

    @property
    def ratio(self) -> float:
        """Artifact bytes over float32 bytes (the paper's claim: under one third)."""
        return self.artifact_bytes / self.float32_bytes

    @property
    def payload_ratio(self) -> float:
        """Indices, table and boundaries (no file header) over float32 bytes."""
        return (self.index_bytes + self.table_bytes + self.other_bytes) / self.float32_bytes


def memory_report(network: engine.IntegerNetwork) -> MemoryReport:
    """Measure the deployed memory of an exported network (see :class:`MemoryReport`).

    The artifact stores every array bit-packed to its real width, so ``artifact_bytes`` is
    what a device must hold; the float32 figure counts the same weights and biases at 4 bytes.
    """
    report = engine.size_report(network)
    table = network.tables["T"]
    index_parts = [p for p in report.parts if p.part in ("weights", "bias_index", "bias")]
    table_parts = [p for p in report.parts if p.part.startswith("table:")]
    other = sum(p.packed_bytes for p in report.parts) - sum(
        p.packed_bytes for p in index_parts + table_parts
    )
    count = int(table.shape[1])
    return MemoryReport(
        parameters=sum(p.count for p in index_parts),
        activation_levels=int(table.shape[0]) - 1,
        weight_levels=count,
        index_bits=max(1, math.ceil(math.log2(count))),
        index_bytes=sum(p.packed_bytes for p in index_parts),
        table_entries=int(table.size),
        table_bytes=sum(p.packed_bytes for p in table_parts),
        other_bytes=other,
        artifact_bytes=report.artifact_bytes,
        float32_bytes=4 * sum(p.count for p in index_parts),
    )


def format_memory_report(report: MemoryReport) -> str:
    """One Markdown table of a :class:`MemoryReport`.

    Example:
        >>> print(format_memory_report(MemoryReport(100, 4, 8, 3, 38, 40, 20, 4, 120, 400))
        ...       .splitlines()[2])
        | 100 | 4 | 8 | 3 | 38 | 40 | 20 | 4 | 120 | 400 | 0.300 |
    """
    r = report
    return "\n".join(
        [
            "| params | |A| | |W| | index bits | index B | table entries | table B | other B "
            "| artifact B | float32 B | artifact / float32 |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            f"| {r.parameters} | {r.activation_levels} | {r.weight_levels} | {r.index_bits} "
            f"| {r.index_bytes} | {r.table_entries} | {r.table_bytes} | {r.other_bytes} "
            f"| {r.artifact_bytes} | {r.float32_bytes} | {r.ratio:.3f} |",
        ]
    )
