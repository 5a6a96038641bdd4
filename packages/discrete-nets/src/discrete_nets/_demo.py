"""The offline demo: the spectrum from float to bi-level on scikit-learn digits, in minutes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from discrete_nets._activation import ActivationSpec
from discrete_nets._data import RAW_LEVELS, load_data
from discrete_nets._models import ModelConfig
from discrete_nets._schedule import ClusterSchedule
from discrete_nets._sweep import sweep
from discrete_nets._train import TrainConfig

DEMO_CELLS = ((32, 1000), (8, 16), (2, 2))
"""``(|A|, |W|)`` points of the demo, after the float twin."""


def run_demo(
    out_dir: str | Path | None = None, epochs: int = 20, progress: bool = True
) -> list[dict[str, Any]]:
    """Train an MLP classifier and an auto-encoder on digits across the spectrum.

    For each model: the float twin, then ``|A| x |W|`` = 32 x 1000, 8 x 16 and 2 x 2; every
    discretized cell is exported and run in the integer executor.

    Returns:
        Records (see :func:`discrete_nets.sweep`) with a ``model`` key added.
    """
    train_split, test = load_data("digits")
    raw = RAW_LEVELS["digits"]
    models = {
        "mlp": (ModelConfig("mlp", (8, 8), 10, (64,), activation=ActivationSpec("tanh")), 2e-3),
        "autoencoder": (
            ModelConfig("autoencoder", (8, 8), 10, (32,), activation=ActivationSpec("tanh")),
            1e-2,
        ),
    }
    records = []
    for name, (config, rate) in models.items():
        folder = None if out_dir is None else Path(out_dir) / name
        train_config = TrainConfig(epochs, 64, rate, progress=progress)
        schedule = ClusterSchedule(every=50)
        cells = []
        for a, w in [(None, None), *DEMO_CELLS]:
            cells += sweep(
                config,
                [a],
                [w],
                train_split,
                test,
                train_config,
                schedule,
                raw,
                folder,
                include_float=(a is None),
            )
        records += [{"model": name, **cell} for cell in cells]
    return records


def format_demo(records: list[dict[str, Any]]) -> str:
    """The demo's Markdown table (one row per model and cell)."""
    lines = [
        "| model | A | W | metric | simulated | integer | int == sim | "
        "int == float sim | deployed / float32 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:

        def show(key: str, pattern: str = "{:.4f}", record: dict[str, Any] = r) -> str:
            value = record.get(key)
            return "-" if value is None else pattern.format(value)

        a = r["activation_levels"] or "float"
        w = r["weight_levels"] or "float"
        lines.append(
            f"| {r['model']} | {a} | {w} | {r['metric']} | {show('metric_simulated')} | "
            f"{show('metric_integer')} | {show('match_simulation', '{:.2%}')} | "
            f"{show('match_float', '{:.2%}')} | {show('memory_ratio', '{:.3f}')} |"
        )
    return "\n".join(lines)
