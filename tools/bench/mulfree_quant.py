"""Benchmark mulfree-quant: float vs table-based twins on Fashion-MNIST, side by side.

For each model (LeNet-5, small MobileNet) one float model is trained, then one table-based twin
per (entries per layer, scheme) is QAT-trained from it, exported, and evaluated three ways: the
fake-quant JAX model, the bit-exact JAX simulation of the exported tables, and the numpy integer
executor (full test set). It also checks executor == simulation on the full test set for the
other zoo models (MLP, small ResNet, small AlexNet, briefly trained), measures executor
throughput against the float JAX model, and reports deployed bytes vs float32.

Usage (repository root, dev environment)::

    python tools/bench/mulfree_quant.py                 # the grid, tens of minutes on 2 cores
    python tools/bench/mulfree_quant.py --quick         # smoke test: small subsets

Results go to ``docs/benchmarks/mulfree-quant.md`` and ``.json``. Every finished configuration is
kept in ``out/mulfree-quant-bench/`` so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
# This file is called mulfree_quant.py: keep its folder from shadowing the package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import shlex  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import mulfree_quant as mq  # noqa: E402
from fourfold_common import engine  # noqa: E402
from fourfold_common.io import (  # noqa: E402
    atomic_write_text,
    make_run_record,
    write_run_record,
)
from mulfree_quant._persist import load_model, save_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FAMILY = {
    "uniform": "fixed",
    "log": "fixed",
    "gaussian": "parametric",
    "laplacian": "parametric",
    "kmeans": "model-free",
    "quantile": "model-free",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="lenet5,mobilenet")
    parser.add_argument("--entries", default="40,80,160,320")
    parser.add_argument("--schemes", default="uniform,gaussian,kmeans")
    parser.add_argument(
        "--model-schemes",
        default="",
        help="per-model override of --schemes, e.g. 'mobilenet=kmeans;lenet5=uniform,kmeans'",
    )
    parser.add_argument("--zoo", default="mlp,resnet,alexnet", help="extra executor==sim check")
    parser.add_argument("--train-limit", type=int, default=0, help="first N training images")
    parser.add_argument("--test-limit", type=int, default=0, help="first N test images")
    parser.add_argument("--float-epochs", type=int, default=4)
    parser.add_argument("--qat-epochs", type=int, default=1)
    parser.add_argument("--qat-lr", type=float, default=1e-3, help="peak QAT learning rate")
    parser.add_argument("--qat-steps", type=int, default=0, help="cap on QAT steps (0: none)")
    parser.add_argument(
        "--model-overrides",
        default="",
        help="per-model settings, e.g. 'mobilenet=float_epochs:3,qat_steps:150'",
    )
    parser.add_argument(
        "--executor-limit",
        type=int,
        default=1000,
        help="test images run by the (slow) numpy executor per grid cell; the 40-entry k-means "
        "cell of each model always runs the whole test set (0: whole test set everywhere)",
    )
    parser.add_argument("--zoo-steps", type=int, default=300, help="training steps of zoo checks")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--recluster-every", type=int, default=40, help="QAT steps")
    parser.add_argument("--work", default=str(ROOT / "out" / "mulfree-quant-bench"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "mulfree-quant.md"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--cached-only",
        action="store_true",
        help="render from the finished configurations in --work; compute nothing new",
    )
    parser.add_argument(
        "--from-record",
        action="store_true",
        help="only re-render the Markdown from the JSON run record beside --out",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.train_limit, args.test_limit = args.train_limit or 2000, args.test_limit or 500
        args.float_epochs, args.qat_epochs, args.zoo_steps = 1, 1, 20
        args.entries, args.schemes, args.zoo = "40", "kmeans", "mlp"
        args.work = args.work + "-quick"
        args.out = str(Path(args.out).with_name("mulfree-quant-quick.md"))
    return args


class NotCachedError(Exception):
    """A result is missing and ``--cached-only`` forbids computing it."""


CACHED_ONLY = False


def cached(path: Path, compute: Any) -> dict[str, Any]:
    if path.exists():
        return json.loads(path.read_text())
    if CACHED_ONLY:
        raise NotCachedError(str(path))
    result = compute()
    atomic_write_text(path, json.dumps(result, indent=1))
    return result


def throughput(seconds: float, count: int) -> float:
    return count / seconds if seconds > 0 else float("inf")


def timed_float(model: mq.FloatNet, test: mq.Split) -> float:
    mq.predict_logits(model, test.images[:500])  # compile
    start = time.perf_counter()
    mq.predict_logits(model, test.images)
    return time.perf_counter() - start


SETTINGS = ("float_epochs", "qat_epochs", "qat_steps", "qat_lr", "recluster_every", "batch_size")


def model_args(args: argparse.Namespace, name: str) -> argparse.Namespace:
    """``args`` with the ``--model-overrides`` of model ``name`` applied."""
    values = vars(args).copy()
    for item in args.model_overrides.split(";"):
        model, _, pairs = item.partition("=")
        if model.strip() != name:
            continue
        for pair in pairs.split(","):
            key, _, value = pair.partition(":")
            if key not in SETTINGS:
                raise SystemExit(f"--model-overrides: unknown setting {key!r}; use {SETTINGS}")
            values[key] = type(values[key])(value)
    return argparse.Namespace(**values)


def run_grid_model(
    name: str, train: mq.Split, test: mq.Split, args: argparse.Namespace
) -> dict[str, Any]:
    args = model_args(args, name)
    work = Path(args.work) / name
    work.mkdir(parents=True, exist_ok=True)
    spec = mq.zoo_model(name)
    float_path = work / "float.npz"
    train_config = mq.TrainConfig(
        epochs=args.float_epochs, batch_size=args.batch_size, learning_rate=2e-3
    )
    if CACHED_ONLY and not float_path.exists():
        raise NotCachedError(str(float_path))
    if float_path.exists():
        float_model, _ = load_model(float_path)
    else:
        print(f"[{name}] float training, {args.float_epochs} epochs", flush=True)
        start = time.perf_counter()
        float_model = mq.FloatNet(spec, seed=0)
        mq.fit(float_model, train, train_config, checkpoint=work / "float.ckpt.npz")
        save_model(float_model, float_path, seconds=time.perf_counter() - start)
    assert isinstance(float_model, mq.FloatNet)
    float_eval = mq.evaluate(float_model, test)
    float_seconds = timed_float(float_model, test)

    def control() -> dict[str, Any]:
        print(f"[{name}] control: float + {args.qat_epochs} epoch(s) at the QAT LR", flush=True)
        extra, _ = load_model(float_path)
        assert isinstance(extra, mq.FloatNet)
        config = mq.TrainConfig(
            epochs=args.qat_epochs,
            batch_size=args.batch_size,
            learning_rate=args.qat_lr,
            max_steps=args.qat_steps,
        )
        mq.fit(extra, train, config)
        return {"accuracy": mq.evaluate(extra, test).accuracy}

    control_accuracy = cached(work / "float-control.json", control)["accuracy"]
    rows = []
    overrides = dict(item.split("=", 1) for item in args.model_schemes.split(";") if "=" in item)
    schemes = overrides.get(name, args.schemes).split(",")
    for entries in [int(v) for v in args.entries.split(",")]:
        for scheme in schemes:

            def compute(entries: int = entries, scheme: str = scheme) -> dict[str, Any]:
                print(f"[{name}] QAT {entries} entries, {scheme}", flush=True)
                quant = mq.QuantConfig.for_entries(
                    entries, scheme, recluster_every=args.recluster_every
                )
                qat = mq.TrainConfig(
                    epochs=args.qat_epochs,
                    batch_size=args.batch_size,
                    learning_rate=args.qat_lr,
                    max_steps=args.qat_steps,
                )
                start = time.perf_counter()
                twin = mq.to_table_based(float_model, quant)
                mq.fit(twin, train, qat)
                train_seconds = time.perf_counter() - start
                network = mq.export(twin)
                engine.save(network, work / f"{entries}-{scheme}.ffi")
                fake = mq.evaluate(twin, test)
                simulated = mq.evaluate(network, test, "simulate")
                full = not args.executor_limit or (entries == 40 and scheme == "kmeans")
                checked = test if full else test.take(args.executor_limit)
                executed = mq.evaluate(network, checked, "executor")
                count = len(checked)
                report = mq.compactness_report(network)
                return {
                    "model": name,
                    "entries": entries,
                    "scheme": scheme,
                    "family": FAMILY.get(scheme, scheme),
                    "Na": quant.activation_levels,
                    "Nw": quant.weight_levels,
                    "fake": fake.accuracy,
                    "simulate": simulated.accuracy,
                    "executor": executed.accuracy,
                    "executor_images": count,
                    "executor_equals_simulation": float(
                        np.mean(simulated.predictions[:count] == executed.predictions)
                    ),
                    "fake_agrees": float(np.mean(fake.predictions == simulated.predictions)),
                    "executor_seconds": executed.seconds * len(test) / count,
                    "simulate_seconds": simulated.seconds,
                    "qat_seconds": train_seconds,
                    "settings": {key: getattr(args, key) for key in SETTINGS},
                    "compactness": report.to_dict(),
                }

            try:
                rows.append(cached(work / f"{entries}-{scheme}.json", compute))
            except NotCachedError:
                print(f"[{name}] {entries}/{scheme} not computed (--cached-only)", flush=True)
    return {
        "model": name,
        "float_accuracy": float_eval.accuracy,
        "control_accuracy": control_accuracy,
        "settings": {key: getattr(args, key) for key in SETTINGS},
        "float_seconds": float_seconds,
        "test_images": len(test),
        "rows": rows,
    }


def run_zoo_check(
    name: str, train: mq.Split, test: mq.Split, args: argparse.Namespace
) -> dict[str, Any]:
    work = Path(args.work) / name
    work.mkdir(parents=True, exist_ok=True)

    def compute() -> dict[str, Any]:
        print(
            f"[{name}] zoo check: {args.zoo_steps} float + {args.zoo_steps} QAT steps", flush=True
        )
        model = mq.FloatNet(mq.zoo_model(name), seed=0)
        short = mq.TrainConfig(epochs=50, batch_size=args.batch_size, max_steps=args.zoo_steps)
        mq.fit(model, train, short)
        float_eval = mq.evaluate(model, test)
        float_seconds = timed_float(model, test)
        twin = mq.to_table_based(model, mq.QuantConfig.for_entries(40, "kmeans"))
        mq.fit(twin, train, short)
        network = mq.export(twin)
        simulated = mq.evaluate(network, test, "simulate")
        executed = mq.evaluate(network, test, "executor")
        report = mq.compactness_report(network)
        return {
            "model": name,
            "float_accuracy": float_eval.accuracy,
            "executor": executed.accuracy,
            "simulate": simulated.accuracy,
            "executor_equals_simulation": float(
                np.mean(simulated.predictions == executed.predictions)
            ),
            "executor_seconds": executed.seconds,
            "float_seconds": float_seconds,
            "compactness": report.to_dict(),
        }

    return cached(work / "zoo-40-kmeans.json", compute)


def _gap_target(entries: int) -> float | None:
    return {40: 1.6, 320: 0.3}.get(entries)


def markdown(results: dict[str, Any], command: str, args: argparse.Namespace) -> str:
    limit = getattr(args, "executor_limit", 0)
    lines = [
        "# mulfree-quant benchmark",
        "",
        f"Command: `{command}`",
        "",
        *(
            [
                "(Rendered with `--cached-only` from the configurations this command had "
                "finished; anything it had not finished is listed as not run.)",
                "",
            ]
            if getattr(args, "cached_only", False)
            else []
        ),
        f"Fashion-MNIST, {results['train_images']} training images, "
        f"{results['test_images']} test images. Per model: one float model (AdamW, peak LR "
        "2e-3, cosine), then per cell QAT from that float model (AdamW, cosine; weight and "
        "activation levels re-placed every few steps; training ends by snapping the weights "
        "to their levels); the epochs, steps and learning rates are given under each model. "
        "2 CPU cores shared with other jobs. Entries per layer = Na x "
        "Nw (40 = 8x5, 80 = 8x10, 160 = 16x10, 320 = 16x20); schemes: uniform (fixed; range "
        "calibrated by least squared error), Gaussian (parametric: Lloyd-Max levels of the "
        "fitted Gaussian), k-means (model-free), used for weights and activation outputs "
        "alike. Activations are exported as integer threshold comparisons "
        "(`activation_mapping='threshold'`).",
        "",
        "Readings: *table %* = accuracy of the exported integer network on the whole test set "
        "(the bit-exact JAX simulation of its tables; the numpy integer executor gives the same "
        "predictions, see *exec == sim*); *gap* = float - table, in points; *fake %* = the QAT "
        "model's quantized JAX forward pass; *exec == sim* = share of identical predictions of "
        "the numpy integer executor (no float, no multiply) and the simulation, on the number "
        "of test images given (the whole test set for the 40-entry k-means cell"
        + (f", the first {limit} elsewhere" if limit else "")
        + "); *fake == table* = share of identical predictions of the fake-quant model and the "
        "exported network.",
        "",
        "*Control*: the float model trained for the same extra epochs at the QAT learning rate "
        "(no quantization), so that QAT's extra training is not mistaken for quantization "
        "robustness; the gap is given against the float baseline and, in brackets, against "
        "this control.",
        "",
    ]
    full = [(e, sch) for e in (40, 80, 160, 320) for sch in ("uniform", "gaussian", "kmeans")]
    missing = []
    for model in results["grid"]:
        done = {(row["entries"], row["scheme"]) for row in model["rows"]}
        absent = [f"{e}/{sch}" for e, sch in full if (e, sch) not in done]
        if absent:
            missing.append(f"{model['model']}: {', '.join(absent)}")
    present = {model["model"] for model in results["grid"]}
    missing += [
        f"{name}: every cell" for name in args.models.split(",") if name and name not in present
    ]
    if missing or results["train_images"] < 60000:
        lines += [
            f"**Reduced grid** ({results['train_images']} of the 60000 training images). Not "
            "run (entries/scheme): " + ("; ".join(missing) if missing else "none") + ".",
            "",
        ]
    summary = []
    for model in results["grid"]:
        float_acc = model["float_accuracy"]
        control = model.get("control_accuracy")
        control_text = f", control {100 * control:.2f} %" if control is not None else ""
        lines += [f"## {model['model']}: float {100 * float_acc:.2f} %{control_text}", ""]
        settings = model.get("settings")
        if settings:
            steps = settings["qat_steps"]
            qat = f"{steps} steps" if steps else f"{settings['qat_epochs']} epoch(s)"
            lines += [
                f"Training: float {settings['float_epochs']} epochs; QAT {qat} per cell at peak "
                f"LR {settings['qat_lr']:g}, levels re-placed every "
                f"{settings['recluster_every']} steps; batch {settings['batch_size']}.",
                "",
            ]
        lines += [
            "| entries/layer | Na x Nw | scheme (family) | float % | table % | gap pts "
            "| target | fake % | exec == sim | fake == table | deployed B | float32 B | ratio |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        met = total = 0
        for row in model["rows"]:
            size = row["compactness"]
            gap = 100 * (float_acc - row["simulate"])
            bound = _gap_target(row["entries"])
            if bound is None:
                target = "-"
            else:
                total += 1
                met += gap <= bound
                target = ("met" if gap <= bound else "not met") + f" (<= {bound})"
            versus = f" ({100 * (control - row['simulate']):+.2f})" if control is not None else ""
            images = row.get("executor_images", results["test_images"])
            lines.append(
                f"| {row['entries']} | {row['Na']}x{row['Nw']} | {row['scheme']} "
                f"({row['family']}) | {100 * float_acc:.2f} | {100 * row['simulate']:.2f} | "
                f"{gap:+.2f}{versus} | {target} | {100 * row['fake']:.2f} | "
                f"{100 * row['executor_equals_simulation']:.2f} % of {images} | "
                f"{100 * row['fake_agrees']:.2f} % | {size['artifact_bytes']} | "
                f"{size['float32_bytes']} | {size['ratio_vs_float32']:.3f} |"
            )
        summary.append(f"{model['model']}: {met} of {total} target cells met")
        lines.append("")
        if model["rows"]:
            first = model["rows"][0]["compactness"]
            lines += [
                f"Compactness ({model['model']}, {model['rows'][0]['entries']} entries/layer): "
                f"{len(first['layers'])} table layers, network total "
                f"{first['network_entries']} table entries, activation mappings "
                f"{first['activation_table_entries']} entries in total.",
                "",
            ]
    if summary:
        lines += [
            "**Targets** (gap <= 1.6 points at 40 entries, <= 0.3 at 320): "
            + "; ".join(summary)
            + ".",
            "",
        ]
    lines += [
        "## Executor == simulation on every zoo model (full test set)",
        "",
        "| model | float % | executor % (40 entries, k-means) | exec == sim | deployed B | "
        "float32 B | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for model in results["grid"]:
        for row in model["rows"]:
            if row["entries"] == 40 and row["scheme"] == "kmeans":
                size = row["compactness"]
                lines.append(
                    f"| {model['model']} | {100 * model['float_accuracy']:.2f} | "
                    f"{100 * row['executor']:.2f} | "
                    f"{100 * row['executor_equals_simulation']:.2f} % "
                    f"| {size['artifact_bytes']} | {size['float32_bytes']} | "
                    f"{size['ratio_vs_float32']:.3f} |"
                )
    for row in results["zoo"]:
        size = row["compactness"]
        lines.append(
            f"| {row['model']} (short training) | {100 * row['float_accuracy']:.2f} | "
            f"{100 * row['executor']:.2f} | {100 * row['executor_equals_simulation']:.2f} % | "
            f"{size['artifact_bytes']} | {size['float32_bytes']} | {size['ratio_vs_float32']:.3f} |"
        )
    checked = {model["model"] for model in results["grid"]} | {
        row["model"] for row in results["zoo"]
    }
    unchecked = [name for name in sorted(mq.ZOO) if name not in checked]
    if unchecked:
        lines += [
            "",
            f"Not checked on the full test set in this run: {', '.join(unchecked)}. The test "
            "suite (`packages/mulfree-quant/tests/test_export.py`) checks executor == simulation "
            "bit for bit (all accumulators) on every zoo model, on 16 Fashion-MNIST test images.",
        ]
    lines += [
        "",
        "## Throughput, side by side (same test set, same process)",
        "",
        "| model | float JAX img/s | integer executor img/s | executor / float |",
        "|---|---|---|---|",
    ]
    for entry in results["throughput"]:
        lines.append(
            f"| {entry['model']} | {entry['float']:.0f} | {entry['executor']:.0f} | "
            f"{entry['executor'] / entry['float']:.4f} |"
        )
    lines += [
        "",
        "The numpy executor does literal table gathers and adds; it is slower than XLA's float "
        "kernels on this CPU. The gains to claim are memory, operation types (no multiply, no "
        "float) and hardware simplicity, not CPU speed.",
        "",
        "Deployed bytes = the whole artifact file (bit-packed weight indices, product tables, "
        "activation tables, integer biases, JSON header, checksum); float32 = 4 bytes per weight "
        'and bias of the same network. The paper\'s "40 / 320 entries" is read here as *table '
        "entries per layer* (Na x Nw); the network totals are the sum over table layers.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_record:
        record = json.loads(Path(args.out).with_suffix(".json").read_text())
        recorded = argparse.Namespace(**record["config"])
        text = markdown(record["figures"], record["command"], recorded)
        atomic_write_text(Path(args.out), text)
        print(text)
        return 0
    given = argv if argv is not None else sys.argv[1:]
    command = "python tools/bench/mulfree_quant.py " + shlex.join(
        [arg for arg in given if arg != "--cached-only"]
    )
    train, test = mq.load_dataset("fashion-mnist")
    if args.train_limit:
        train = train.take(args.train_limit)
    if args.test_limit:
        test = test.take(args.test_limit)
    global CACHED_ONLY
    CACHED_ONLY = args.cached_only
    zoo, grid = [], []
    for name in [name for name in args.zoo.split(",") if name]:
        try:
            zoo.append(run_zoo_check(name, train, test, args))
        except NotCachedError:
            print(f"[{name}] zoo check not computed (--cached-only)", flush=True)
    for name in [name for name in args.models.split(",") if name]:
        try:
            grid.append(run_grid_model(name, train, test, args))
        except NotCachedError:
            print(f"[{name}] not computed (--cached-only)", flush=True)
    rates = []
    for model in grid:
        for row in model["rows"]:
            if row["entries"] == 40 and row["scheme"] == "kmeans":
                rates.append(
                    {
                        "model": model["model"],
                        "float": throughput(model["float_seconds"], model["test_images"]),
                        "executor": throughput(row["executor_seconds"], model["test_images"]),
                    }
                )
    for row in zoo:
        rates.append(
            {
                "model": row["model"],
                "float": throughput(row["float_seconds"], len(test)),
                "executor": throughput(row["executor_seconds"], len(test)),
            }
        )
    results = {
        "train_images": len(train),
        "test_images": len(test),
        "grid": grid,
        "zoo": zoo,
        "throughput": rates,
    }
    text = markdown(results, command, args)
    print(text)
    out = Path(args.out)
    atomic_write_text(out, text)
    write_run_record(
        out.with_suffix(".json"),
        make_run_record("mulfree-quant bench", vars(args), results, command=command),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
