"""One grid cell (train, evaluate in simulation and in the integer executor) and the grid sweep.

A cell is one ``(|A|, |W|)`` point of the spectrum; ``None`` stands for continuous. Each cell's
record is written atomically as JSON as soon as it is done, so an interrupted sweep resumes
where it stopped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from discrete_nets._activation import ActivationSpec
from discrete_nets._data import Split
from discrete_nets._export import export_network, raw_pixels, run_integer, simulate_integer
from discrete_nets._memory import memory_report
from discrete_nets._models import ModelConfig, Network
from discrete_nets._schedule import ClusterSchedule
from discrete_nets._train import TrainConfig, evaluate, predict, train
from fourfold_common.io import atomic_write_text


def _label(levels: int | None) -> str:
    return "float" if levels is None else str(levels)


def integer_evaluation(
    model: Network,
    weight_levels: np.ndarray | None,
    test: Split,
    raw_levels: int,
    accumulator_bits: int = 32,
    table_bits: int = 16,
) -> dict[str, Any]:
    """Export ``model``, run it in the integer executor, and compare with the simulations.

    Returns:
        ``metric_integer`` (accuracy or MSE of the integer network), ``match_simulation``
        (fraction of test inputs whose integer output equals the exact integer-unit simulation
        bit for bit), ``match_float`` (fraction agreeing with the float simulation: same
        prediction, or same output indices), and the memory figures.

    Example:
        >>> from discrete_nets import ActivationSpec, ClusterSchedule, ModelConfig
        >>> from discrete_nets import TrainConfig, load_data, train
        >>> tr, te = load_data("digits")
        >>> cfg = ModelConfig("mlp", (8, 8), 10, (16,), activation=ActivationSpec("tanh", 8))
        >>> r = train(cfg, tr.head(128), TrainConfig(1, 64, progress=False),
        ...           ClusterSchedule(num_levels=16, every=1))
        >>> integer_evaluation(r.model, r.weight_levels, te, 17)["match_simulation"]
        1.0
    """
    network = export_network(model, weight_levels, raw_levels, accumulator_bits, table_bits)
    raw = raw_pixels(test.images, raw_levels)
    integer = run_integer(network, raw)
    simulated = simulate_integer(
        model,
        weight_levels,
        raw,
        raw_levels,
        accumulator_bits=accumulator_bits,
        table_bits=table_bits,
    )
    floats = predict(model, test.images)
    config = model.config
    spec = config.activation
    count = int(spec.num_levels or 0)
    rows = integer.reshape(len(test), -1)
    match_simulation = float(np.mean(np.all(rows == simulated.reshape(len(test), -1), axis=1)))
    if config.is_classifier:
        predictions = integer.argmax(axis=1)
        metric = float(np.mean(predictions == test.labels))
        match_float = float(np.mean(predictions == floats.argmax(axis=1)))
    else:
        recon = integer.astype(np.float64) / (count - 1)
        metric = float(np.mean(np.square(recon - test.images.reshape(len(test), -1))))
        float_index = np.clip(np.floor((floats - spec.low) / spec.step + 0.5), 0, count - 1)
        match_float = float(np.mean(float_index == integer))
    memory = memory_report(network)
    return {
        "metric_integer": metric,
        "match_simulation": match_simulation,
        "match_float": match_float,
        "deployed_bytes": memory.deployed_bytes,
        "artifact_bytes": memory.artifact_bytes,
        "float32_bytes": memory.float32_bytes,
        "memory_ratio": memory.ratio,
        "artifact_ratio": memory.artifact_ratio,
        "index_bits": memory.index_bits,
        "table_bytes": memory.table_bytes,
        "index_bytes": memory.index_bytes,
        "accumulator_bits": accumulator_bits,
        "table_bits": memory.table_bits,
        "test_inputs": len(test),
    }


def run_cell(
    model_config: ModelConfig,
    activation_levels: int | None,
    weight_levels: int | None,
    train_split: Split,
    test: Split,
    train_config: TrainConfig,
    schedule: ClusterSchedule,
    raw_levels: int,
) -> dict[str, Any]:
    """Train and evaluate one ``(|A|, |W|)`` cell; returns its JSON-ready record."""
    spec = ActivationSpec(model_config.activation.name, activation_levels)
    config = model_config.with_activation(spec)
    began = time.perf_counter()
    result = train(config, train_split, train_config, replace(schedule, num_levels=weight_levels))
    metric_name = "accuracy" if config.is_classifier else "mse"
    record: dict[str, Any] = {
        "activation_levels": activation_levels,
        "weight_levels": weight_levels,
        "metric": metric_name,
        "metric_simulated": evaluate(result.model, test)[metric_name],
        "final_loss": result.losses[-1],
        "train_seconds": result.seconds,
    }
    if activation_levels is not None and weight_levels is not None:
        record.update(integer_evaluation(result.model, result.weight_levels, test, raw_levels))
    record["seconds"] = time.perf_counter() - began
    return record


def sweep(
    model_config: ModelConfig,
    activation_grid: Sequence[int | None],
    weight_grid: Sequence[int | None],
    train_split: Split,
    test: Split,
    train_config: TrainConfig,
    schedule: ClusterSchedule,
    raw_levels: int,
    out_dir: str | Path | None = None,
    include_float: bool = True,
) -> list[dict[str, Any]]:
    """Run every ``(|A|, |W|)`` cell of the grid (plus the float twin), resuming from ``out_dir``.

    Args:
        model_config: Architecture; its activation name is used, its level count replaced.
        activation_grid: ``|A|`` values (``None`` = continuous activations).
        weight_grid: ``|W|`` values (``None`` = continuous weights).
        train_split: Training data.
        test: Test data.
        train_config: Optimisation settings, shared by all cells.
        schedule: Clustering schedule; its ``num_levels`` is replaced per cell.
        raw_levels: Raw integer pixel values of the dataset.
        out_dir: Folder for one JSON record per cell; existing records are reused.
        include_float: Also run the fully continuous twin (``None``, ``None``).

    Returns:
        One record per cell, the float twin first.
    """
    cells: list[tuple[int | None, int | None]] = [(None, None)] if include_float else []
    cells += [(a, w) for a in activation_grid for w in weight_grid if (a, w) != (None, None)]
    folder = Path(out_dir) if out_dir is not None else None
    records = []
    quiet = replace(train_config, progress=False)
    for a, w in tqdm(cells, desc=f"sweep {model_config.arch}", disable=not train_config.progress):
        path = folder / f"cell_A{_label(a)}_W{_label(w)}.json" if folder is not None else None
        if path is not None and path.exists():
            records.append(json.loads(path.read_text(encoding="utf-8")))
            continue
        record = run_cell(model_config, a, w, train_split, test, quiet, schedule, raw_levels)
        if path is not None:
            atomic_write_text(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
        records.append(record)
    return records


def format_grid(records: Sequence[dict[str, Any]], key: str = "metric_simulated") -> str:
    """Markdown table: rows ``|A|`` (``A``), columns ``|W|`` (``W``), cells ``key``.

    Example:
        >>> print(format_grid([{"activation_levels": 8, "weight_levels": 2,
        ...                      "metric_simulated": 0.5}]))
        | A / W | 2 |
        |---|---|
        | 8 | 0.5000 |
    """
    a_values = list(dict.fromkeys(r["activation_levels"] for r in records))
    w_values = list(dict.fromkeys(r["weight_levels"] for r in records))
    lookup = {(r["activation_levels"], r["weight_levels"]): r.get(key) for r in records}
    lines = [
        "| A / W | " + " | ".join(_label(w) for w in w_values) + " |",
        "|---|" + "---|" * len(w_values),
    ]
    for a in a_values:
        cells = []
        for w in w_values:
            value = lookup.get((a, w))
            cells.append("" if value is None else f"{value:.4f}")
        lines.append(f"| {_label(a)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
