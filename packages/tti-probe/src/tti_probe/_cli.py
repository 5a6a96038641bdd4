"""Command line of ``tti-probe``: parses arguments and calls the public API."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tti_probe.__about__ import __version__
from tti_probe._commands import add_commands


def _error(message: object) -> int:
    print(f"tti-probe: error: {message}", file=sys.stderr)
    return 2


def _images(args: argparse.Namespace, class_names: Sequence[str]) -> object:
    from tti_probe import images_from_folders

    if args.synthetic_images is None and args.natural_images is None:
        return None
    return images_from_folders(args.synthetic_images, args.natural_images, class_names)


def _analyze(args: argparse.Namespace) -> int:
    from tti_probe import (
        AnalysisConfig,
        ProbeInputError,
        analyze,
        load_npz,
        probe_data_from_sets,
        write_report,
    )

    try:
        if args.natural is not None:
            data = probe_data_from_sets(args.embeddings, args.natural)
        else:
            data = load_npz(args.embeddings)
        config = AnalysisConfig(
            k=args.k,
            pooled=not args.no_pooled,
            max_pooled=args.max_pooled,
            probe_kinds=tuple(args.probes),
            seed=args.seed,
            progress=not args.quiet,
        )
        analysis = analyze(data, config)
        paths = write_report(
            analysis,
            args.out,
            images=_images(args, data.class_names),  # type: ignore[arg-type]
            command=" ".join(["tti-probe", *sys.argv[1:]]),
        )
    except ProbeInputError as error:
        return _error(error)
    for name in ("vendi_synthetic", "vendi_natural", "zero_shot_synthetic", "class_coverage"):
        print(f"{name}: {analysis.summary[name]:.4g}")
    for t in analysis.transfer:
        print(f"transfer {t.kind} synthetic_fraction={t.synthetic_fraction:g}: {t.accuracy:.4f}")
    for report in analysis.classes:
        if report.issues:
            print(f"{report.name}: {', '.join(report.issues)}")
    print(f"wrote {paths.html} and {paths.json}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from tti_probe import ProbeInputError, report_from_record

    try:
        html = args.html or str(args.record).removesuffix(".json") + ".html"
        import json
        from pathlib import Path

        names = json.loads(Path(args.record).read_text(encoding="utf-8"))["figures"]["class_names"]
        path = report_from_record(args.record, html, images=_images(args, names))  # type: ignore[arg-type]
    except (OSError, KeyError, TypeError, ValueError) as error:
        return _error(error if isinstance(error, ProbeInputError) else f"{args.record}: {error}")
    print(f"wrote {path}")
    return 0


def _simulated_demo(args: argparse.Namespace) -> int:
    from tti_probe import format_detection_table, run_demo

    result = run_demo(
        args.out,
        pipeline=not args.no_pipeline,
        seed=args.seed,
        progress=not args.quiet,
        command=" ".join(["tti-probe", *sys.argv[1:]]),
    )
    print("Planted vs detected (simulated embedding world, 12 classes, 200 + 200 per class):")
    print(format_detection_table(result.detection))
    print("Simulated sweep (diversity vs train-on-synthetic accuracy):")
    for p in result.sweep.points:
        print(
            f"  {p.name:<16} Vendi {p.vendi_synthetic:6.3f}  coverage {p.coverage:5.3f}  "
            f"accuracy {p.transfer_accuracy:5.3f}"
        )
    print(f"report: {result.report.html}")
    print(f"pipeline pass: {result.pipeline_note}")
    return 0 if all(row.detected for row in result.detection) else 1


def _demo(args: argparse.Namespace) -> int:
    if args.simulated:
        return _simulated_demo(args)
    from fourfold_common.data import DatasetError
    from tti_probe import TestbedError, TestbedStudyConfig, run_testbed_study

    try:
        config = TestbedStudyConfig(
            images_per_class=args.images_per_class,
            num_inference_steps=args.steps,
            seed=args.seed,
        )
        study = run_testbed_study(
            args.out,
            config,
            progress=not args.quiet,
            command=" ".join(["tti-probe", *sys.argv[1:]]),
        )
    except (ImportError, ValueError, TestbedError, DatasetError) as error:
        return _error(error)
    print("Offline testbed: small CLIP + small text-to-image diffusion model on Fashion-MNIST")
    print("Diversity and accuracy vs guidance (per strategy):")
    for p in study.sweep.points:
        print(
            f"  {p.name:<16} Vendi {p.vendi_synthetic:6.3f}  coverage {p.coverage:5.3f}  "
            f"zero-shot {p.zero_shot_synthetic:5.3f}  train-syn/test-nat {p.transfer_accuracy:5.3f}"
        )
    main = f"{config.main_strategy} g={config.main_guidance:g}"
    print(
        f"Train on synthetic ({main}) / test on natural: {study.tstr_accuracy:.4f}; "
        f"train on natural, equal size: {study.natural_accuracy:.4f}"
    )
    confused = ", ".join(f"{c.prompted} -> {c.assigned} {c.fraction:.2f}" for c in study.confused)
    print(f"Most confused (zero-shot labels of synthetic {main}): {confused or 'none'}")
    print(f"Modality gap of the small CLIP: {study.modality_gap:.4f}")
    flagged = [f"{c.name}: {', '.join(c.issues)}" for c in study.analysis.classes if c.issues]
    print(f"Flagged classes: {'; '.join(flagged) or 'none'}")
    print(f"report: {study.report.html}  ({study.seconds['total']:.0f} s)")
    return 0


def _add_image_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--synthetic-images", help="folder with one subfolder of images per class")
    parser.add_argument("--natural-images", help="folder with one subfolder of images per class")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``tti-probe`` command."""
    parser = argparse.ArgumentParser(prog="tti-probe", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="run the whole study offline on the shipped Fashion-MNIST testbed (a few minutes)",
    )
    demo.add_argument("--out", default="tti-probe-demo", help="output directory")
    demo.add_argument(
        "--simulated",
        action="store_true",
        help="instead run the simulated planted-issue check (no models)",
    )
    demo.add_argument(
        "--no-pipeline",
        action="store_true",
        help="with --simulated: skip the tiny random-model pass",
    )
    demo.add_argument(
        "--images-per-class",
        type=int,
        default=20,
        help="synthetic images per class, strategy and guidance scale (default 20)",
    )
    demo.add_argument("--steps", type=int, default=10, help="denoising steps per image")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(handler=_demo)
    analyze = commands.add_parser(
        "analyze", help="run every analysis on an embeddings .npz; write JSON + HTML"
    )
    analyze.add_argument(
        "embeddings",
        help=".npz with class_names, synthetic, natural, ... (or, with --natural, the synthetic "
        "set written by 'tti-probe embed')",
    )
    analyze.add_argument(
        "--natural", default=None, help="natural set written by 'tti-probe embed' (.npz)"
    )
    analyze.add_argument("--out", default="tti-probe-report", help="output directory")
    analyze.add_argument("--k", type=int, default=5, help="k of the k-NN manifolds")
    analyze.add_argument(
        "--probes",
        nargs="*",
        default=["linear", "mlp"],
        choices=["linear", "mlp"],
        help="transfer probes to train",
    )
    analyze.add_argument("--no-pooled", action="store_true", help="skip the pooled comparison")
    analyze.add_argument(
        "--max-pooled",
        type=int,
        default=None,
        help="subsample the pooled sets to this many rows (default: exact)",
    )
    analyze.add_argument("--seed", type=int, default=0)
    analyze.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_image_options(analyze)
    analyze.set_defaults(handler=_analyze)
    report = commands.add_parser("report", help="re-render the HTML of a saved analysis JSON")
    report.add_argument("record", help="the JSON written by 'tti-probe analyze'")
    report.add_argument("--html", default=None, help="output HTML (default: beside the JSON)")
    _add_image_options(report)
    report.set_defaults(handler=_report)
    add_commands(commands)  # classes, prompts, generate, embed, build-tiny
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tti-probe`` command line and return its exit status."""
    args = build_parser().parse_args(argv)
    handler = args.handler
    return int(handler(args))
