"""Command line of ``mulfree-quant``: parses arguments and calls the public API."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mulfree_quant.__about__ import __version__


def _train(args: argparse.Namespace) -> int:
    from mulfree_quant import TrainConfig, load_dataset, zoo_model
    from mulfree_quant._persist import save_model
    from mulfree_quant._pipeline import train_float

    train, _ = load_dataset(args.dataset)
    spec = zoo_model(args.model, tuple(train.raw.shape[1:]))
    config = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr, seed=args.seed
    )
    model = train_float(spec, train, config, checkpoint=args.checkpoint)
    save_model(model, args.out, dataset=args.dataset)
    print(f"saved float {args.model} to {args.out}")
    return 0


def _quant_config(args: argparse.Namespace) -> object:
    from mulfree_quant import QuantConfig

    overrides: dict[str, int | str] = {}
    if args.weight_scheme:
        overrides["weight_scheme"] = args.weight_scheme
    if args.activation_table_entries:
        overrides["activation_table_entries"] = args.activation_table_entries
    if args.activation_mapping:
        overrides["activation_mapping"] = args.activation_mapping
    if args.na and args.nw:
        return QuantConfig(
            activation_levels=args.na,
            weight_levels=args.nw,
            activation_scheme=args.scheme,
            weight_scheme=str(overrides.pop("weight_scheme", args.scheme)),
            **overrides,  # type: ignore[arg-type]
        )
    return QuantConfig.for_entries(args.entries, args.scheme, **overrides)


def _quantize(args: argparse.Namespace) -> int:
    from mulfree_quant import FloatNet, MulfreeError, TrainConfig, load_dataset
    from mulfree_quant._persist import load_model, save_model
    from mulfree_quant._pipeline import quantize_model

    model, extra = load_model(args.model_file)
    if not isinstance(model, FloatNet):
        raise MulfreeError(f"{args.model_file} is not a float model")
    dataset = extra.get("dataset", "digits")
    train, _ = load_dataset(dataset)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr)
    twin = quantize_model(model, train, _quant_config(args), config, checkpoint=args.checkpoint)  # type: ignore[arg-type]
    save_model(twin, args.out, dataset=dataset)
    print(f"saved table-based twin to {args.out}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from fourfold_common import engine
    from mulfree_quant import evaluate, load_dataset
    from mulfree_quant._persist import load_model

    if args.artifact:
        network = engine.load(args.artifact)
        dataset = args.dataset or (
            "digits" if network.metadata.get("raw_max") == 16 else "fashion-mnist"
        )
        _, test = load_dataset(dataset)
        test = test.take(args.limit) if args.limit else test
        modes = [args.mode] if args.mode else ["simulate", "executor"]
        results = [evaluate(network, test, mode) for mode in modes]
    else:
        model, extra = load_model(args.model_file)
        _, test = load_dataset(args.dataset or extra.get("dataset", "digits"))
        test = test.take(args.limit) if args.limit else test
        results = [evaluate(model, test)]
    for result in results:
        print(
            f"{result.mode}: accuracy {100 * result.accuracy:.2f} % on {len(test)} images "
            f"({result.seconds:.2f} s)"
        )
    if len(results) == 2:
        same = float((results[0].predictions == results[1].predictions).mean())
        print(f"simulate == executor on {100 * same:.2f} % of the images")
    return 0


def _export(args: argparse.Namespace) -> int:
    from mulfree_quant import MulfreeError, TableNet, export_artifact
    from mulfree_quant._persist import load_model

    model, extra = load_model(args.model_file)
    if not isinstance(model, TableNet):
        raise MulfreeError(f"{args.model_file} is not a table-based twin (run quantize first)")
    raw_max = 16 if extra.get("dataset") == "digits" else 255
    path = export_artifact(model, args.out, raw_max=raw_max)
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


def _report(args: argparse.Namespace) -> int:
    from fourfold_common import engine
    from mulfree_quant import compactness_report

    print(compactness_report(engine.load(args.artifact)).to_markdown())
    return 0


def _export_c(args: argparse.Namespace) -> int:
    from fourfold_common import engine
    from mulfree_quant import MulfreeError

    try:
        result = engine.export_c(args.artifact, args.out, name=args.name)
    except engine.ArtifactError:
        raise
    except engine.EngineError as error:
        raise MulfreeError(str(error)) from error
    print(
        f"wrote {result.source} and {result.header}: {result.function}(), "
        f"flash {result.flash_bytes} B, RAM {result.ram_bytes} B, "
        f"float32 weights {result.float32_bytes} B"
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    from mulfree_quant._pipeline import demo_rows, format_demo

    float_accuracy, rows = demo_rows(
        dataset=args.dataset,
        model=args.model,
        float_epochs=args.float_epochs,
        qat_epochs=args.qat_epochs,
        progress=not args.quiet,
    )
    print(format_demo(float_accuracy, rows))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``mulfree-quant`` command."""
    from mulfree_quant._config import SCHEMES, TABLE_SHAPES
    from mulfree_quant._data import DATASETS
    from mulfree_quant._zoo import ZOO

    parser = argparse.ArgumentParser(prog="mulfree-quant", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a float zoo model")
    train.add_argument("--dataset", choices=DATASETS, default="digits")
    train.add_argument("--model", choices=sorted(ZOO), default="mlp")
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--lr", type=float, default=2e-3)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--checkpoint", help="resumable per-epoch checkpoint file")
    train.add_argument("--out", required=True, help="model file (.npz)")
    train.set_defaults(handler=_train)

    quantize = commands.add_parser("quantize", help="float model -> calibrated, QAT-trained twin")
    quantize.add_argument("--model-file", required=True)
    quantize.add_argument("--entries", type=int, choices=sorted(TABLE_SHAPES), default=40)
    quantize.add_argument("--na", type=int, default=0, help="activation levels (with --nw)")
    quantize.add_argument("--nw", type=int, default=0, help="weight levels (with --na)")
    quantize.add_argument("--scheme", choices=sorted(SCHEMES), default="kmeans")
    quantize.add_argument("--weight-scheme", choices=sorted(SCHEMES), default="")
    quantize.add_argument("--activation-table-entries", type=int, default=0)
    quantize.add_argument(
        "--activation-mapping",
        choices=["threshold", "shift"],
        default="",
        help="export: integer cut points (default) or the paper's shift + table",
    )
    quantize.add_argument("--epochs", type=int, default=3)
    quantize.add_argument("--batch-size", type=int, default=64)
    quantize.add_argument("--lr", type=float, default=5e-4)
    quantize.add_argument("--checkpoint", help="resumable per-epoch checkpoint file")
    quantize.add_argument("--out", required=True)
    quantize.set_defaults(handler=_quantize)

    evaluate = commands.add_parser("eval", help="test accuracy of a model file or an artifact")
    source = evaluate.add_mutually_exclusive_group(required=True)
    source.add_argument("--model-file")
    source.add_argument("--artifact")
    evaluate.add_argument("--dataset", choices=DATASETS, default="")
    evaluate.add_argument("--mode", choices=["simulate", "executor"], default="")
    evaluate.add_argument("--limit", type=int, default=0, help="first N test images only")
    evaluate.set_defaults(handler=_eval)

    export = commands.add_parser("export", help="twin -> integer artifact file")
    export.add_argument("--model-file", required=True)
    export.add_argument("--out", required=True)
    export.set_defaults(handler=_export)

    report = commands.add_parser("report", help="compactness report of an artifact")
    report.add_argument("--artifact", required=True)
    report.set_defaults(handler=_report)

    export_c = commands.add_parser("export-c", help="C99 source and header of an artifact")
    export_c.add_argument("--artifact", required=True)
    export_c.add_argument("--out", required=True, help="folder for <name>.c and <name>.h")
    export_c.add_argument("--name", default="net", help="C identifier of the files and symbols")
    export_c.set_defaults(handler=_export_c)

    demo = commands.add_parser("demo", help="offline demo on digits: accuracy/compactness table")
    demo.add_argument("--dataset", choices=DATASETS, default="digits")
    demo.add_argument("--model", choices=sorted(ZOO), default="mlp")
    demo.add_argument("--float-epochs", type=int, default=15)
    demo.add_argument("--qat-epochs", type=int, default=4)
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mulfree-quant`` command line and return its exit status."""
    args = build_parser().parse_args(argv)
    from fourfold_common.data import DatasetError
    from fourfold_common.engine import ArtifactError
    from mulfree_quant._errors import MulfreeError

    try:
        return int(args.handler(args))
    except (MulfreeError, ArtifactError, DatasetError) as error:
        print(f"mulfree-quant: error: {error}", file=sys.stderr)
        return 2
