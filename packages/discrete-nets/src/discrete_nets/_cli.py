"""Command line of ``discrete-nets``: parses arguments and calls the public API."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from discrete_nets.__about__ import __version__
from discrete_nets._activation import ACTIVATIONS, ActivationError, ActivationSpec
from discrete_nets._data import DATASETS, RAW_LEVELS, DataError, load_data
from discrete_nets._demo import format_demo, run_demo
from discrete_nets._export import ExportError, export_network
from discrete_nets._memory import format_memory_report, memory_report
from discrete_nets._models import ARCHITECTURES, ModelConfig, ModelError
from discrete_nets._persist import ModelFileError, load_model, save_model
from discrete_nets._schedule import CLUSTERERS, ClusterSchedule, ScheduleError
from discrete_nets._sweep import format_grid, integer_evaluation, sweep
from discrete_nets._train import TrainConfig, TrainError, evaluate, train
from fourfold_common import engine
from fourfold_common.data import DatasetError
from fourfold_common.io import atomic_write_text, make_run_record, write_run_record
from fourfold_common.parallel import ParallelError, initialize_distributed

_ERRORS = (
    ActivationError,
    DataError,
    DatasetError,
    ExportError,
    ModelError,
    ModelFileError,
    ScheduleError,
    TrainError,
    engine.EngineError,
    engine.ArtifactError,
    ParallelError,
)


def _levels(text: str) -> int | None:
    return None if text.lower() in ("float", "none", "0") else int(text)


def _level_list(text: str) -> list[int | None]:
    return [_levels(part) for part in text.split(",") if part.strip()]


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def _add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=DATASETS, default="digits")
    parser.add_argument("--arch", choices=ARCHITECTURES, default="mlp")
    parser.add_argument("--hidden", type=_sizes, default=(64,), help="dense sizes, e.g. 256,128")
    parser.add_argument("--conv-channels", type=_sizes, default=(6, 16))
    parser.add_argument("--kernel-size", type=int, default=5)
    parser.add_argument("--activation", choices=ACTIVATIONS, default="tanh")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clusterer", choices=CLUSTERERS, default="kmeans")
    parser.add_argument("--every", type=int, default=100, help="cluster every N steps")
    parser.add_argument("--limit", type=int, default=None, help="use the first N train images")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--distributed",
        action="store_true",
        help="join a multi-process run (jax.distributed) before training; the settings come "
        "from --coordinator-address/--num-processes/--process-id or JAX_COORDINATOR_ADDRESS, "
        "JAX_NUM_PROCESSES, JAX_PROCESS_ID (or Slurm / Open MPI auto-detection)",
    )
    parser.add_argument("--coordinator-address", default=None, help="host:port of process 0")
    parser.add_argument("--num-processes", type=int, default=None)
    parser.add_argument("--process-id", type=int, default=None)


def _join(args: argparse.Namespace) -> None:
    explicit = (args.coordinator_address, args.num_processes, args.process_id)
    if args.distributed or any(value is not None for value in explicit):
        topology = initialize_distributed(*explicit)
        print(
            f"process {topology.process_index} of {topology.process_count}: "
            f"{topology.local_device_count} of {topology.device_count} devices",
            file=sys.stderr,
        )


def _model_config(
    args: argparse.Namespace, levels: int | None, shape: tuple[int, int]
) -> ModelConfig:
    return ModelConfig(
        args.arch,
        shape,
        10,
        args.hidden,
        args.conv_channels,
        args.kernel_size,
        ActivationSpec(args.activation, levels),
    )


def _train_config(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(args.epochs, args.batch_size, args.lr, args.seed, not args.no_progress)


def _train(args: argparse.Namespace) -> int:
    _join(args)
    train_split, test = load_data(args.dataset)
    train_split = train_split.head(args.limit)
    shape = (int(train_split.images.shape[1]), int(train_split.images.shape[2]))
    config = _model_config(args, args.levels_a, shape)
    schedule = ClusterSchedule(args.levels_w, args.every, args.clusterer, seed=args.seed)
    result = train(config, train_split, _train_config(args), schedule, args.checkpoint)
    figures = evaluate(result.model, test)
    info = {"dataset": args.dataset, "losses": result.losses, "test": figures}
    path = save_model(args.out, result.model, result.weight_levels, info)
    record = make_run_record("discrete-nets train", {"model": config, "args": vars(args)}, figures)
    write_run_record(path.with_suffix(".run.json"), record)
    print(f"saved {path}; test {json.dumps(figures)}; {result.seconds:.1f} s")
    return 0


def _eval(args: argparse.Namespace) -> int:
    model, levels, info = load_model(args.model)
    dataset = args.dataset or info.get("dataset", "digits")
    _, test = load_data(dataset)
    test = test.head(args.limit)
    figures: dict[str, object] = {"simulated": evaluate(model, test)}
    if model.config.activation.discrete and levels is not None:
        figures["integer"] = integer_evaluation(
            model, levels, test, RAW_LEVELS[dataset], table_bits=args.table_bits
        )
    print(json.dumps(figures, indent=2))
    return 0


def _export(args: argparse.Namespace) -> int:
    model, levels, info = load_model(args.model)
    raw = args.raw_levels or RAW_LEVELS[info.get("dataset", "digits")]
    network = export_network(model, levels, raw, table_bits=args.table_bits)
    path = engine.save(network, args.out)
    report = memory_report(network)
    print(
        f"wrote {path}: {report.artifact_bytes} B; deployed {report.deployed_bytes} B "
        f"({report.ratio:.3f} of float32)"
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    network = engine.load(args.artifact)
    text = format_memory_report(memory_report(network))
    print(text)
    if args.out:
        atomic_write_text(args.out, text + "\n")
    return 0


def _export_c(args: argparse.Namespace) -> int:
    result = engine.export_c(args.artifact, args.out, name=args.name)
    print(
        f"wrote {result.source} and {result.header}: {result.function}(), "
        f"flash {result.flash_bytes} B, RAM {result.ram_bytes} B, "
        f"float32 weights {result.float32_bytes} B"
    )
    return 0


def _sweep(args: argparse.Namespace) -> int:
    _join(args)
    train_split, test = load_data(args.dataset)
    train_split = train_split.head(args.limit)
    shape = (int(train_split.images.shape[1]), int(train_split.images.shape[2]))
    config = _model_config(args, None, shape)
    schedule = ClusterSchedule(None, args.every, args.clusterer, seed=args.seed)
    records = sweep(
        config,
        args.levels_a,
        args.levels_w,
        train_split,
        test,
        _train_config(args),
        schedule,
        RAW_LEVELS[args.dataset],
        args.out,
    )
    text = format_grid([r for r in records if r["activation_levels"] is not None])
    float_metric = records[0]["metric_simulated"]
    print(f"float twin {records[0]['metric']}: {float_metric:.4f}\n{text}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    records = run_demo(args.out, args.epochs, not args.no_progress)
    print(format_demo(records))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``discrete-nets`` command."""
    parser = argparse.ArgumentParser(prog="discrete-nets", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    command = commands.add_parser("train", help="train one discretized (or float) network")
    _add_model_args(command)
    command.add_argument("--levels-a", type=_levels, default=32, help="|A| or 'float'")
    command.add_argument("--levels-w", type=_levels, default=1000, help="|W| or 'float'")
    command.add_argument("--checkpoint", type=Path, default=None, help="resumable checkpoint")
    command.add_argument("--out", type=Path, required=True, help="model file (.npz)")
    command.set_defaults(handler=_train)

    command = commands.add_parser("sweep", help="train and evaluate an |A| x |W| grid")
    _add_model_args(command)
    command.add_argument("--levels-a", type=_level_list, default=[64, 32, 16, 8, 4, 2])
    command.add_argument("--levels-w", type=_level_list, default=[1000, 256, 16, 2])
    command.add_argument("--out", type=Path, default=None, help="folder of per-cell records")
    command.set_defaults(handler=_sweep)

    command = commands.add_parser("eval", help="evaluate a model: simulation and integer")
    command.add_argument("model", type=Path)
    command.add_argument("--dataset", choices=DATASETS, default=None)
    command.add_argument("--limit", type=int, default=None, help="first N test images")
    command.add_argument(
        "--table-bits", type=int, choices=(8, 16, 32), default=16, help="table entry width"
    )
    command.set_defaults(handler=_eval)

    command = commands.add_parser("export", help="write the integer artifact of a model")
    command.add_argument("model", type=Path)
    command.add_argument("--out", type=Path, required=True)
    command.add_argument("--raw-levels", type=int, default=None, help="raw pixel values")
    command.add_argument(
        "--table-bits", type=int, choices=(8, 16, 32), default=16, help="table entry width"
    )
    command.set_defaults(handler=_export)

    command = commands.add_parser("report", help="memory report of an artifact")
    command.add_argument("artifact", type=Path)
    command.add_argument("--out", type=Path, default=None, help="also write the table here")
    command.set_defaults(handler=_report)

    command = commands.add_parser("export-c", help="C99 source and header of an artifact")
    command.add_argument("artifact", type=Path)
    command.add_argument("--out", type=Path, required=True, help="folder for <name>.c/.h")
    command.add_argument("--name", default="net", help="C identifier of the files and symbols")
    command.set_defaults(handler=_export_c)

    command = commands.add_parser("demo", help="the spectrum on digits, offline, in minutes")
    command.add_argument("--epochs", type=int, default=20)
    command.add_argument("--out", type=Path, default=None, help="folder to resume from")
    command.add_argument("--no-progress", action="store_true")
    command.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``discrete-nets`` command line and return its exit status.

    Errors in the input (files, data, options) print one line to stderr and return 2.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except _ERRORS as error:
        print(f"discrete-nets: error: {error}", file=sys.stderr)
        return 2
