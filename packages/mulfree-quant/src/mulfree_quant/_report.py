"""Compactness report: per layer and network-wide table sizes, bits, bytes vs float32."""

from __future__ import annotations

from dataclasses import dataclass

from fourfold_common import engine


@dataclass(frozen=True)
class CompactnessReport:
    """The paper's compactness measures plus deployed bytes.

    Attributes:
        model: Model name.
        size: The engine's :class:`~fourfold_common.engine.SizeReport` (parts, layers, bytes).
        per_layer_entries: ``Na · Nw`` of each table layer (the "entries per layer" reading of
            the paper's 40 / 320 headline; our benchmark uses this one).
        network_entries: Sum over layers (the "network total" reading).
        activation_table_entries: Sum of the activation mappings' sizes: ``Nx`` of each shift
            table plus ``Na - 1`` of each threshold mapping (its integer cut points).
    """

    model: str
    size: engine.SizeReport
    per_layer_entries: tuple[int, ...]
    network_entries: int
    activation_table_entries: int

    def to_markdown(self) -> str:
        """The report as Markdown (layer table, then totals)."""
        entries = sorted(set(self.per_layer_entries))
        lines = [
            f"### {self.model}",
            "",
            engine.format_size_report(self.size),
            f"- per-layer table entries (headline reading 1): {', '.join(map(str, entries))}",
            f"- network total table entries (reading 2): {self.network_entries}",
            f"- activation tables: {self.activation_table_entries} entries in total",
        ]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary."""
        return {
            "model": self.model,
            "artifact_bytes": self.size.artifact_bytes,
            "payload_bytes": self.size.payload_bytes,
            "float32_bytes": self.size.float32_bytes,
            "ratio_vs_float32": self.size.ratio,
            "per_layer_entries": list(self.per_layer_entries),
            "network_entries": self.network_entries,
            "activation_table_entries": self.activation_table_entries,
            "layers": [
                {
                    "name": layer.name,
                    "Na": layer.activation_levels,
                    "Nw": layer.weight_levels,
                    "entries": layer.table_entries,
                    "Nx": layer.activation_table_entries,
                    "index_bits": layer.index_bits,
                    "parameters": layer.parameters,
                }
                for layer in self.size.layers
            ],
        }


def compactness_report(network: engine.IntegerNetwork) -> CompactnessReport:
    """Compactness of an exported network.

    Example:
        >>> import numpy as np
        >>> from fourfold_common import engine
        >>> net = engine.IntegerNetwork(
        ...     (engine.Dense("input", "out", "T", np.zeros((4, 3), np.uint8)),),
        ...     {"T": np.ones((8, 5), np.int32)}, (4,), 8, "out", metadata={"model": "toy"})
        >>> compactness_report(net).per_layer_entries
        (40,)
    """
    size = engine.size_report(network)
    per_layer = tuple(layer.table_entries for layer in size.layers)
    return CompactnessReport(
        model=str(network.metadata.get("model", "network")),
        size=size,
        per_layer_entries=per_layer,
        network_entries=sum(per_layer),
        activation_table_entries=sum(
            int(op.table.size)
            if isinstance(op, engine.ShiftActivation)
            else int(op.boundaries.size)
            if isinstance(op, engine.ThresholdActivation)
            else 0
            for op in network.ops
        ),
    )
