"""Benchmark of discrete-nets: the |A| x |W| spectrum on Fashion-MNIST and digits.

Trains each model's float twin and discretized versions in one run, evaluates the simulated
(float JAX) forward pass, exports every fully discretized cell to the integer engine, runs the
integer executor, and reports accuracy / MSE, integer-vs-simulation agreement and deployed
memory. Results go to docs/benchmarks/discrete-nets.md, .json and .png. Every cell is cached as
JSON under --work, so an interrupted run resumes.

    XLA_FLAGS=--xla_cpu_multi_thread_eigen=false python tools/bench/discrete_nets.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

# This file shares its name with the package: drop its own folder from the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from flax import nnx  # noqa: E402

from discrete_nets import (  # noqa: E402
    ActivationSpec,
    ClusterSchedule,
    ModelConfig,
    Split,
    TrainConfig,
    build_model,
    cluster_arrays,
    evaluate,
    export_network,
    load_data,
    memory_report,
    raw_pixels,
    run_integer,
    simulate_integer,
    train,
)
from discrete_nets._data import RAW_LEVELS  # noqa: E402
from discrete_nets._sweep import integer_evaluation  # noqa: E402
from fourfold_common.io import (  # noqa: E402
    atomic_write_text,
    make_run_record,
    write_run_record,
)

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Study:
    name: str
    dataset: str
    config: ModelConfig
    epochs: int
    learning_rate: float
    cells: tuple[tuple[int | None, int | None], ...]
    full_integer: tuple[tuple[int, int], ...]  # cells whose integer run covers the full test set
    integer_subset: int  # test inputs of the integer run for the other cells
    method: str = "kmeans"  # weight clusterer


def _grid(a_values: list[int], w_values: list[int]) -> tuple[tuple[int | None, int | None], ...]:
    return ((None, None), *[(a, w) for a in a_values for w in w_values])


def studies(quick: bool) -> list[Study]:
    tanh = ActivationSpec("tanh")
    mlp = ModelConfig("mlp", (28, 28), 10, (256, 128), activation=tanh)
    lenet = ModelConfig("cnn", (28, 28), 10, (120, 84), (6, 16), 5, activation=tanh)
    autoencoder = ModelConfig("autoencoder", (8, 8), 10, (32,), activation=tanh)
    if quick:
        return [
            Study(
                "mlp-quick",
                "digits",
                ModelConfig("mlp", (8, 8), 10, (64,), activation=tanh),
                10,
                2e-3,
                _grid([32, 2], [1000, 2]),
                ((32, 1000),),
                200,
            ),
        ]
    return [
        Study(
            "digits-autoencoder",
            "digits",
            autoencoder,
            20,
            1e-2,
            _grid([64, 32, 16, 8, 4, 2], [1000, 256, 16, 2]),
            ((32, 1000),),
            100_000,
        ),
        Study(
            "fmnist-mlp",
            "fashion-mnist",
            mlp,
            3,
            2e-3,
            _grid([32, 8, 2], [1000, 16, 2]),
            ((32, 1000),),
            2000,
        ),
        Study(
            "fmnist-lenet5",
            "fashion-mnist",
            lenet,
            2,
            2e-3,
            _grid([32, 8, 2], [1000, 16, 2]),
            ((32, 1000),),
            2000,
        ),
        Study(
            "fmnist-mlp-laplacian",
            "fashion-mnist",
            mlp,
            3,
            2e-3,
            _grid([32, 8, 2], [1000, 16, 2]),
            ((32, 1000),),
            2000,
            "laplacian",
        ),
    ]


def _label(value: int | None) -> str:
    return "float" if value is None else str(value)


def run_cell(
    study: Study, a: int | None, w: int | None, data: tuple[Split, Split]
) -> dict[str, Any]:
    train_split, test = data
    config = study.config.with_activation(ActivationSpec(study.config.activation.name, a))
    schedule = ClusterSchedule(num_levels=w, every=100, method=study.method)
    began = time.perf_counter()
    result = train(
        config,
        train_split,
        TrainConfig(
            study.epochs,
            128 if study.dataset != "digits" else 64,
            study.learning_rate,
            progress=True,
        ),
        schedule,
    )
    metric = "accuracy" if config.is_classifier else "mse"
    record: dict[str, Any] = {
        "study": study.name,
        "activation_levels": a,
        "weight_levels": w,
        "metric": metric,
        "metric_simulated": evaluate(result.model, test)[metric],
        "train_seconds": result.seconds,
        "final_loss": result.losses[-1],
    }
    if a is not None and w is not None:
        raw_levels = RAW_LEVELS[study.dataset]
        full = (a, w) in study.full_integer or study.integer_subset >= len(test)
        subset = test if full else test.head(study.integer_subset)
        record.update(integer_evaluation(result.model, result.weight_levels, subset, raw_levels))
        # exact integer-unit simulation on the whole test set (fast, JAX)
        raw = raw_pixels(test.images, raw_levels)
        sim = simulate_integer(result.model, result.weight_levels, raw, raw_levels)
        record["metric_integer_sim_full"] = _metric(config, sim, test, a)
        if (a, w) in study.full_integer:
            # the same trained model deployed with other table entry widths (default: 16)
            head = raw[:1000]
            record["table_variants_checked_inputs"] = len(head)
            record["table_variants"] = {}
            for bits in TABLE_VARIANTS:
                network = export_network(
                    result.model, result.weight_levels, raw_levels, table_bits=bits
                )
                sim = simulate_integer(
                    result.model, result.weight_levels, raw, raw_levels, table_bits=bits
                )
                executor = run_integer(network, head).reshape(len(head), -1)
                memory = memory_report(network)
                record["table_variants"][str(bits)] = {
                    "metric_integer_sim_full": _metric(config, sim, test, a),
                    "match_simulation_first_1000": float(
                        np.mean(np.all(executor == sim[: len(head)].reshape(len(head), -1), 1))
                    ),
                    "memory_ratio": memory.ratio,
                    "deployed_bytes": memory.deployed_bytes,
                    "artifact_bytes": memory.artifact_bytes,
                    "shift": network.metadata["shift"],
                }
    record["seconds"] = time.perf_counter() - began
    print(json.dumps({k: v for k, v in record.items() if not isinstance(v, dict)}), flush=True)
    return record


TABLE_VARIANTS = (32, 16, 8)

MEMORY_MODELS = {
    "digits-autoencoder 64-32-64": ModelConfig("autoencoder", (8, 8), 10, (32,)),
    "fmnist-lenet5": ModelConfig("cnn", (28, 28), 10, (120, 84), (6, 16), 5),
    "fmnist-mlp 784-256-128-10": ModelConfig("mlp", (28, 28), 10, (256, 128)),
    "wide mlp 784-1024-1024-10": ModelConfig("mlp", (28, 28), 10, (1024, 1024)),
}
MEMORY_W = (1000, 512, 256, 128, 64, 16, 2)


def memory_only(config: ModelConfig, a: int, w: int, table_bits: int = 16) -> float:
    """Deployed / float32 bytes of an architecture: depends only on its shapes, |A| and |W|.

    Every parameter, biases included, gets a random value like a trained one before being
    clustered to |W| values, so every index array is packed at its full ceil(log2 |W|) bits;
    the table's entries fill their ``table_bits`` type (the shift is the largest that fits).
    """
    model = build_model(config.with_activation(ActivationSpec("tanh", a)))
    graphdef, state = nnx.split(model)
    leaves, treedef = jax.tree.flatten(state)
    rng = np.random.default_rng(0)
    values = [rng.normal(0.0, 0.1, np.shape(x)) for x in leaves]
    levels, indices = cluster_arrays(values, ClusterSchedule(w))
    snapped = [levels[i].astype(np.float32) for i in indices]
    model = nnx.merge(graphdef, jax.tree.unflatten(treedef, snapped))
    return memory_report(export_network(model, levels, 256, table_bits=table_bits)).ratio


def memory_table() -> tuple[str, dict[str, dict[str, Any]]]:
    figures: dict[str, dict[str, Any]] = {}
    header = (
        "| model | params | A=32, W=1000, int32 table | "
        + " | ".join(f"W={w}" for w in MEMORY_W)
        + " | largest W <= 1000 within 1/3 |"
    )
    lines = [header, "|---|---|---|" + "---|" * len(MEMORY_W) + "---|"]
    for name, config in MEMORY_MODELS.items():
        params = sum(int(np.size(x)) for x in jax.tree.leaves(nnx.state(build_model(config))))
        row = {f"A32_W{w}": memory_only(config, 32, w) for w in MEMORY_W}
        wide = memory_only(config, 32, 1000, table_bits=32)
        within = [w for w in MEMORY_W if row[f"A32_W{w}"] <= 1 / 3]
        best = max(within) if within else None
        figures[name] = {"params": params, "A32_W1000_int32": wide, **row, "largest_w": best}
        lines.append(
            f"| {name} | {params} | {wide:.3f} | "
            + " | ".join(f"**{v:.3f}**" if v <= 1 / 3 else f"{v:.3f}" for v in row.values())
            + f" | {best if best is not None else 'none'} |"
        )
    return "\n".join(lines), figures


def _metric(config: ModelConfig, outputs: np.ndarray, test: Split, a: int) -> float:
    if config.is_classifier:
        return float(np.mean(outputs.argmax(axis=1) == test.labels))
    recon = outputs.astype(np.float64) / (a - 1)
    return float(np.mean((recon - test.images.reshape(len(test), -1)) ** 2))


def _legacy(record: dict[str, Any] | None) -> str:
    """Mark integer figures of cells cached before the int16 default (exported with int32)."""
    if record is None or record.get("activation_levels") is None or "table_bits" in record:
        return ""
    return " †"


def grid_table(records: list[dict[str, Any]], key: str, digits: int = 4, mark: bool = False) -> str:
    a_values = list(
        dict.fromkeys(r["activation_levels"] for r in records if r["activation_levels"])
    )
    w_values = list(dict.fromkeys(r["weight_levels"] for r in records if r["weight_levels"]))
    lookup = {(r["activation_levels"], r["weight_levels"]): r.get(key) for r in records}
    by_cell = {(r["activation_levels"], r["weight_levels"]): r for r in records}
    lines = [
        "| A \\ W | " + " | ".join(map(str, w_values)) + " |",
        "|---|" + "---|" * len(w_values),
    ]
    for a in a_values:
        cells = [
            ""
            if lookup.get((a, w)) is None
            else f"{lookup[(a, w)]:.{digits}f}" + (_legacy(by_cell.get((a, w))) if mark else "")
            for w in w_values
        ]
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def heatmap(by_study: dict[str, list[dict[str, Any]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(n, r) for n, r in by_study.items() if len({x["weight_levels"] for x in r}) > 2]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    for axis, (name, records) in zip(axes[0], panels, strict=True):
        a_values = list(
            dict.fromkeys(r["activation_levels"] for r in records if r["activation_levels"])
        )
        w_values = list(dict.fromkeys(r["weight_levels"] for r in records if r["weight_levels"]))
        lookup = {
            (r["activation_levels"], r["weight_levels"]): r["metric_simulated"] for r in records
        }
        grid = np.array([[lookup.get((a, w), np.nan) for w in w_values] for a in a_values])
        metric = records[0]["metric"]
        image = axis.imshow(grid, cmap="viridis" if metric == "accuracy" else "viridis_r")
        axis.set_xticks(range(len(w_values)), [str(w) for w in w_values])
        axis.set_yticks(range(len(a_values)), [str(a) for a in a_values])
        axis.set_xlabel("|W| (shared weight values)")
        axis.set_ylabel("|A| (activation levels)")
        float_value = next(r["metric_simulated"] for r in records if r["activation_levels"] is None)
        axis.set_title(f"{name}: {metric} (float twin {float_value:.4f})")
        for i in range(len(a_values)):
            for j in range(len(w_values)):
                if np.isfinite(grid[i, j]):
                    rgba = image.cmap(image.norm(grid[i, j]))
                    shade = (
                        "k" if 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2] > 0.5 else "w"
                    )
                    axis.text(
                        j, i, f"{grid[i, j]:.3f}", ha="center", va="center", color=shade, fontsize=8
                    )
        fig.colorbar(image, ax=axis)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run on digits")
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "bench-discrete-nets")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks")
    parser.add_argument("--only", default=None, help="comma-separated study names")
    parser.add_argument(
        "--cached-only",
        action="store_true",
        help="report only the cells already computed under --work (train nothing)",
    )
    args = parser.parse_args(argv)
    command = (
        "XLA_FLAGS=--xla_cpu_multi_thread_eigen=false python tools/bench/discrete_nets.py "
        + " ".join(argv if argv is not None else sys.argv[1:])
    )
    chosen = studies(args.quick)
    if args.only:
        chosen = [s for s in chosen if s.name in args.only.split(",")]
    cache: dict[str, tuple[Split, Split]] = {}
    by_study: dict[str, list[dict[str, Any]]] = {}
    began = time.perf_counter()
    for study in chosen:
        if study.dataset not in cache:
            cache[study.dataset] = load_data(study.dataset)
        records = []
        for a, w in study.cells:
            path = args.work / study.name / f"A{_label(a)}_W{_label(w)}.json"
            if path.exists():
                records.append(json.loads(path.read_text()))
                continue
            if args.cached_only:
                continue
            record = run_cell(study, a, w, cache[study.dataset])
            atomic_write_text(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
            records.append(record)
        by_study[study.name] = records
    total = time.perf_counter() - began
    name = "discrete-nets-quick" if args.quick else "discrete-nets"
    write_outputs(by_study, chosen, args.out, name, command, total)
    return 0


def write_outputs(
    by_study: dict[str, list[dict[str, Any]]],
    chosen: list[Study],
    out: Path,
    name: str,
    command: str,
    total: float,
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    cell_seconds = sum(r.get("seconds", 0.0) for records in by_study.values() for r in records)
    lines = [
        "# discrete-nets benchmark",
        "",
        "Made by (from the repository root, 2 shared CPU cores; cells cached under "
        "out/bench-discrete-nets/):",
        "",
        f"```bash\n{command.strip()}\n```",
        "",
        f"Wall time of this invocation: {total:.0f} s; compute in the cells (summed over "
        f"every cell, cached or not): {cell_seconds:.0f} s.",
        "",
    ]
    summary = []
    for study in chosen:
        records = by_study[study.name]
        for r in records:
            a, w = r["activation_levels"], r["weight_levels"]
            if a is not None and w is not None:
                r["deployed_ratio"] = memory_only(study.config, a, w)
        float_record = next(r for r in records if r["activation_levels"] is None)
        metric = float_record["metric"]
        sizes = sorted({r["test_inputs"] for r in records if "test_inputs" in r})
        if len(sizes) == 1:
            coverage = f"every cell on the full test set of {sizes[0]} inputs"
        else:
            coverage = (
                f"cells {list(study.full_integer)} on the full test set of {sizes[-1]} inputs, "
                f"the others on its first {sizes[0]}; the exact integer-unit simulation covers "
                "the full set in every cell (json: metric_integer_sim_full)"
            )
        lines += [
            f"## {study.name} ({study.dataset}, {study.config.arch}, hidden {study.config.hidden}, "
            f"{study.method} weight clustering every 100 steps, "
            f"{study.epochs} epochs, activation {study.config.activation.name})",
            "",
            f"Float twin {metric}: **{float_record['metric_simulated']:.4f}**.",
            "",
            f"Simulated (float JAX) {metric} over |A| (rows) x |W| (columns):",
            "",
            grid_table(records, "metric_simulated"),
            "",
            f"Integer executor {metric} ({coverage}):",
            "",
            grid_table(records, "metric_integer", mark=True),
            "",
            "Integer executor == exact integer-unit simulation "
            "(fraction of test inputs, bit for bit):",
            "",
            grid_table(records, "match_simulation", 4, mark=True),
            "",
            "Integer executor == float simulation (same prediction / same output indices):",
            "",
            grid_table(records, "match_float", 4, mark=True),
            "",
            *(
                [
                    "† cell cached from the run before the int16 default: its integer figures "
                    "are those of an int32 table (the simulated figures do not depend on it).",
                    "",
                ]
                if any(_legacy(r) for r in records)
                else []
            ),
            "Deployed bytes / float32 bytes (int16 table; from the architecture, see "
            "the last section):",
            "",
            grid_table(records, "deployed_ratio", 3),
            "",
        ]
        for r in records:
            if "table_variants" in r:
                lines += [
                    f"Table entry width at |A|={r['activation_levels']}, "
                    f"|W|={r['weight_levels']} (the same trained model exported three ways; "
                    f"{metric} of the exact integer-unit simulation on the full test set, "
                    "executor == simulation on the first "
                    f"{r['table_variants_checked_inputs']} test inputs):",
                    "",
                    f"| table entries | shift s | {metric} | executor == simulation "
                    "| deployed B | deployed / float32 | artifact B |",
                    "|---|---|---|---|---|---|---|",
                ]
                for bits, x in r["table_variants"].items():
                    lines.append(
                        f"| int{bits}{' (default)' if bits == '16' else ''} | {x['shift']} "
                        f"| {x['metric_integer_sim_full']:.4f} "
                        f"| {x['match_simulation_first_1000']:.2%} | {x['deployed_bytes']} "
                        f"| {x['memory_ratio']:.3f} | {x['artifact_bytes']} |"
                    )
                lines.append("")
            if r["activation_levels"] is not None and r["weight_levels"] is not None:
                summary.append((study.name, r, float_record))
    lines += [
        "## Headline checks",
        "",
        "| study | A | W | metric | float twin | simulated | integer | gap | int == sim "
        "| deployed / float32 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name_, r, f in summary:
        if (r["activation_levels"], r["weight_levels"]) != (32, 1000):
            continue
        gap = r["metric_simulated"] - f["metric_simulated"]
        lines.append(
            f"| {name_} | 32 | 1000 | {r['metric']} | {f['metric_simulated']:.4f} "
            f"| {r['metric_simulated']:.4f} | {r.get('metric_integer', float('nan')):.4f} "
            f"| {gap:+.4f} | {r.get('match_simulation', float('nan')):.2%} | "
            f"{r.get('deployed_ratio', float('nan')):.3f} |"
        )
    lines.append("")
    memory_text, memory_figures = memory_table()
    lines += [
        "## Deployed memory by architecture",
        "",
        "Deployed bytes over float32 weight bytes at |A| = 32: what a device holds to run the "
        "network, i.e. the constant data of the C export (every weight and bias index "
        "bit-packed to ceil(log2 |W|) bits, the (|A|+1) x |W| table as int16 (int32 in the "
        "third column: the table before narrow entries), plateau boundaries, input lookup); "
        "code and activation RAM are not counted on either side. The size depends only on "
        "the architecture, |A| and |W|, so it is measured on random weights clustered to |W| "
        "values; the first three rows are the models trained above. Bold: within one third. "
        "At |W| = 1000 the indices alone take 10/32 = 0.3125 of float32, so the (|A|+1) x "
        "|W| table must stay under 2% of the float32 bytes: only models of about 1M "
        "parameters and more get there (the paper's AlexNet has 60M).",
        "",
        memory_text,
        "",
    ]
    text = "\n".join(lines)
    print(text)
    atomic_write_text(out / f"{name}.md", text)
    write_run_record(
        out / f"{name}.json",
        make_run_record(
            name,
            {"studies": [s.name for s in chosen]},
            {**by_study, "memory": memory_figures},
            command=command,
        ),
    )
    try:
        heatmap(by_study, out / f"{name}.png")
    except (ImportError, ValueError) as error:  # plotting is optional
        print(f"heat-map skipped: {error}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
