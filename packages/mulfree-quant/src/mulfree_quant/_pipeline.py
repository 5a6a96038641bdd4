"""End-to-end helpers: float training, QAT to a table twin, and the offline demo table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mulfree_quant._config import QuantConfig, TrainConfig
from mulfree_quant._convert import to_table_based
from mulfree_quant._data import Split, load_dataset
from mulfree_quant._evaluate import evaluate
from mulfree_quant._export import export
from mulfree_quant._float_net import FloatNet
from mulfree_quant._report import compactness_report
from mulfree_quant._spec import ModelSpec
from mulfree_quant._table_net import TableNet
from mulfree_quant._train import fit
from mulfree_quant._zoo import zoo_model


def train_float(spec: ModelSpec, train: Split, config: TrainConfig, **fit_options: Any) -> FloatNet:
    """Initialise and train the float model of ``spec``."""
    model = FloatNet(spec, seed=config.seed)
    fit(model, train, config, **fit_options)
    return model


def quantize_model(
    model: FloatNet, train: Split, quant: QuantConfig, config: TrainConfig, **fit_options: Any
) -> TableNet:
    """Twin of ``model`` (batch-norm folded), calibrated, QAT-trained, ending quantized."""
    twin = to_table_based(model, quant)
    fit(twin, train, config, **fit_options)
    return twin


@dataclass(frozen=True)
class DemoRow:
    """One line of the demo table."""

    label: str
    entries: int
    fake: float
    simulate: float
    executor: float
    agreement: float
    deployed_bytes: int
    float32_bytes: int


def demo_rows(
    *,
    dataset: str = "digits",
    model: str = "mlp",
    entries: tuple[int, ...] = (40, 320),
    schemes: tuple[str, ...] = ("uniform", "gaussian", "kmeans"),
    float_epochs: int = 15,
    qat_epochs: int = 4,
    progress: bool = False,
) -> tuple[float, list[DemoRow]]:
    """Train a float model, then a table twin per ``(entries, scheme)``; evaluate all readings.

    Returns:
        ``(float_accuracy, rows)``; each row has fake-quant, simulated and executor accuracy,
        the executor/simulation agreement, and deployed vs float32 bytes.
    """
    train, test = load_dataset(dataset)
    height, width, channels = train.raw.shape[1:]
    spec = zoo_model(model, (height, width, channels))
    float_model = train_float(
        spec, train, TrainConfig(epochs=float_epochs, batch_size=64, progress=progress)
    )
    float_accuracy = evaluate(float_model, test).accuracy
    rows = []
    for count in entries:
        for scheme in schemes:
            quant = QuantConfig.for_entries(count, scheme, recluster_every=50)
            qat = TrainConfig(
                epochs=qat_epochs, batch_size=64, learning_rate=5e-4, progress=progress
            )
            twin = quantize_model(float_model, train, quant, qat)
            network = export(twin, raw_max=train.raw_max)
            fake = evaluate(twin, test)
            simulated = evaluate(network, test, "simulate")
            executed = evaluate(network, test, "executor")
            size = compactness_report(network).size
            rows.append(
                DemoRow(
                    f"{scheme} {quant.activation_levels}x{quant.weight_levels}",
                    count,
                    fake.accuracy,
                    simulated.accuracy,
                    executed.accuracy,
                    float((simulated.predictions == executed.predictions).mean()),
                    size.artifact_bytes,
                    size.float32_bytes,
                )
            )
    return float_accuracy, rows


def format_demo(float_accuracy: float, rows: list[DemoRow]) -> str:
    """The demo table as Markdown."""
    lines = [
        f"float model: {100 * float_accuracy:.2f} % test accuracy",
        "",
        "| quantizer Na x Nw | entries/layer | fake-quant % | table sim % | integer executor % "
        "| executor == sim | deployed B | float32 B | ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.label} | {row.entries} | {100 * row.fake:.2f} | {100 * row.simulate:.2f} | "
            f"{100 * row.executor:.2f} | {100 * row.agreement:.1f} % | {row.deployed_bytes} | "
            f"{row.float32_bytes} | {row.deployed_bytes / row.float32_bytes:.3f} |"
        )
    return "\n".join(lines)
