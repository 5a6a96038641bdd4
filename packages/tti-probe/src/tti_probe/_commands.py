"""The ``classes``, ``prompts``, ``generate``, ``embed`` and ``build-tiny`` subcommands.

Each handler only parses its arguments and calls the public API; the errors the API documents
become one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fourfold_common.data import DatasetError
from tti_probe._classes import (
    ClassListError,
    ClassSpec,
    class_to_dict,
    fashion_mnist_classes,
    load_classes,
    load_imagenet_classes,
)
from tti_probe._embed import (
    ClipEmbedder,
    EmbeddedSet,
    EmbeddingError,
    embed_class_prompts,
    embed_image_folder,
    embed_manifest,
)
from tti_probe._generate import GenerationConfig, GenerationError, generate
from tti_probe._manifest import MANIFEST_NAME, ManifestError, load_manifest
from tti_probe._models import ModelLoadError
from tti_probe._prompts import BUILTIN_STRATEGIES, PromptError, make_prompts
from tti_probe._tiny import build_tiny_clip, build_tiny_pipeline

_ERRORS = (
    ClassListError,
    PromptError,
    GenerationError,
    ModelLoadError,
    ManifestError,
    EmbeddingError,
    DatasetError,
    ImportError,
    ValueError,
)


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except _ERRORS as error:
            print(f"tti-probe {args.command}: error: {error}", file=sys.stderr)
            return 2

    return run


def select_classes(source: str, select: str | None = None) -> tuple[ClassSpec, ...]:
    """Resolve ``--classes`` (``imagenet``, ``fashion-mnist`` or a file) and ``--select``.

    ``select`` is a Python-style slice ``"start:stop"`` or comma-separated indices.

    Raises:
        ClassListError: Unknown source, bad selection, or an empty result.

    Example:
        >>> [c.name for c in select_classes("fashion-mnist", "0,9")]
        ['T-shirt/top', 'Ankle boot']
    """
    if source == "imagenet":
        classes = load_imagenet_classes()
    elif source == "fashion-mnist":
        classes = fashion_mnist_classes()
    else:
        classes = load_classes(source)
    if not select:
        return classes
    try:
        if ":" in select:
            start, _, stop = select.partition(":")
            chosen = classes[slice(int(start) if start else None, int(stop) if stop else None)]
        else:
            chosen = tuple(classes[int(i)] for i in select.split(","))
    except (ValueError, IndexError) as error:
        raise ClassListError(
            f"bad --select {select!r} for {len(classes)} classes: {error}"
        ) from error
    if not chosen:
        raise ClassListError(f"--select {select!r} selects no class")
    return chosen


def _add_class_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--classes",
        default="fashion-mnist",
        help="imagenet, fashion-mnist, or a class file (.json or one name a line)",
    )
    parser.add_argument("--select", help="subset: 'start:stop' or comma-separated indices")


def _classes(args: argparse.Namespace) -> int:
    classes = select_classes(args.classes, args.select)
    if args.ambiguous:
        classes = tuple(c for c in classes if c.is_ambiguous)
    if args.json:
        print(json.dumps([class_to_dict(c) for c in classes], indent=1, ensure_ascii=False))
        return 0
    for index, spec in enumerate(classes):
        senses = f"{len(spec.senses)} senses" if spec.senses else ""
        print(f"{index}\t{spec.wnid or ''}\t{spec.name}\t{spec.hypernym or ''}\t{senses}")
    return 0


def _prompts(args: argparse.Namespace) -> int:
    classes = select_classes(args.classes, args.select)
    for prompt in make_prompts(classes, args.strategy or ["photo"], args.per_class):
        print(f"{prompt.strategy}\t{prompt.class_index}\t{prompt.index}\t{prompt.text}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    classes = select_classes(args.classes, args.select)
    config = GenerationConfig(
        model=args.model,
        strategies=tuple(args.strategy or ["photo"]),
        guidance_scales=tuple(args.guidance or [7.5]),
        images_per_prompt=args.images_per_prompt,
        seed=args.seed,
        num_inference_steps=args.steps,
        height=args.height,
        width=args.width,
        batch_size=args.batch_size,
        negative_prompt=args.negative_prompt,
        revision=args.revision,
        device=args.device,
        dtype=args.dtype,
        local_files_only=args.offline,
        scheduler=args.scheduler,
        guidance_range=tuple(args.guidance_range) if args.guidance_range else None,
        guidance_step=args.guidance_step,
    )
    manifest = generate(classes, config, args.out, progress=not args.quiet)
    print(f"{len(manifest)} images in {Path(args.out) / MANIFEST_NAME}")
    return 0


def _embed(args: argparse.Namespace) -> int:
    embedder = ClipEmbedder(
        args.model,
        revision=args.revision,
        device=args.device,
        dtype=args.dtype,
        local_files_only=args.offline,
        batch_size=args.batch_size,
    )
    options: dict[str, Any] = {"cache_dir": args.cache, "progress": not args.quiet}
    source = Path(args.images)
    if (source / MANIFEST_NAME).is_file() or source.name == MANIFEST_NAME:
        manifest = load_manifest(source)
        classes: tuple[ClassSpec, ...] | None = manifest.classes
        embedded = embed_manifest(manifest, embedder, **options)
    else:
        classes = select_classes(args.classes, args.select) if args.classes else None
        embedded = embed_image_folder(
            source, embedder, classes=classes, skip_unmatched=args.skip_unmatched, **options
        )
    if args.class_text:
        specs = classes or tuple(ClassSpec(name) for name in embedded.class_names)
        embedded = EmbeddedSet.from_arrays(
            embedded.embeddings,
            embedded.labels,
            embedded.class_names,
            embedded.files,
            embed_class_prompts(specs, embedder, args.class_text),
        )
    embedded.save(args.out)
    print(
        f"{embedded.embeddings.shape[0]} embeddings of dimension "
        f"{embedded.embeddings.shape[1]} in {args.out}"
    )
    return 0


def _build_tiny(args: argparse.Namespace) -> int:
    out = Path(args.out)
    pipeline = build_tiny_pipeline(out / "sd", seed=args.seed, image_size=args.image_size)
    clip = build_tiny_clip(out / "clip", seed=args.seed, image_size=args.image_size)
    print(f"tiny random pipeline: {pipeline}\ntiny random CLIP: {clip}")
    return 0


def add_commands(commands: Any) -> None:
    """Add the generation-side subcommands to the ``tti-probe`` subparsers object."""
    parser = commands.add_parser("classes", help="list a class set (names, hypernyms, senses)")
    _add_class_options(parser)
    parser.add_argument("--ambiguous", action="store_true", help="only names with >1 sense")
    parser.add_argument("--json", action="store_true", help="print JSON with all fields")
    parser.set_defaults(handler=_guarded(_classes))

    parser = commands.add_parser("prompts", help="print the prompts of strategies")
    _add_class_options(parser)
    parser.add_argument(
        "--strategy",
        action="append",
        help=f"{', '.join(BUILTIN_STRATEGIES)} or 'template:<text with {{c}}>' (repeatable)",
    )
    parser.add_argument("--per-class", type=int, default=1, help="prompts per class")
    parser.set_defaults(handler=_guarded(_prompts))

    parser = commands.add_parser(
        "generate", help="generate images with a diffusers pipeline (resumable)"
    )
    parser.add_argument("--model", required=True, help="hub id or local pipeline directory")
    parser.add_argument("--out", required=True, help="output directory")
    _add_class_options(parser)
    parser.add_argument("--strategy", action="append", help="prompt strategy (repeatable)")
    parser.add_argument("--guidance", type=float, action="append", help="guidance (repeatable)")
    parser.add_argument(
        "--guidance-range",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        help="draw each image's guidance uniformly in [LOW, HIGH] (seeded; not with --guidance)",
    )
    parser.add_argument(
        "--guidance-step", type=float, help="round random guidance down to this grid above LOW"
    )
    parser.add_argument("--images-per-prompt", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--height", type=int)
    parser.add_argument("--width", type=int)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--negative-prompt")
    parser.add_argument("--scheduler", help="diffusers scheduler class, e.g. DDIMScheduler")
    _add_model_options(parser)
    parser.set_defaults(handler=_guarded(_generate))

    parser = commands.add_parser("embed", help="embed generated or natural images with CLIP")
    parser.add_argument("--model", required=True, help="hub id or local CLIP directory")
    parser.add_argument(
        "--images", required=True, help="a generate output directory or a natural class folder"
    )
    parser.add_argument("--out", required=True, help="output .npz")
    parser.add_argument("--cache", help="feature cache directory")
    parser.add_argument(
        "--classes", help="match natural class folders to this class set (see 'classes')"
    )
    parser.add_argument("--select", help="subset of --classes")
    parser.add_argument(
        "--skip-unmatched", action="store_true", help="ignore folders matching no class"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--class-text",
        metavar="STRATEGY",
        help="also store one text embedding per class (prompt ensemble of STRATEGY)",
    )
    _add_model_options(parser)
    parser.set_defaults(handler=_guarded(_embed))

    parser = commands.add_parser(
        "build-tiny", help="build tiny random SD and CLIP models (offline smoke tests)"
    )
    parser.add_argument("out", help="directory; gets sd/ and clip/")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=32)
    parser.set_defaults(handler=_guarded(_build_tiny))


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--revision", help="hub revision")
    parser.add_argument(
        "--device", default="auto", help="torch device; auto = accelerate's device for the process"
    )
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument(
        "--offline", action="store_true", help="local_files_only: never touch the network"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(argv: Sequence[str]) -> int:
    """Parse ``argv`` with only these subcommands and run it (for tests).

    Example:
        >>> run(["classes", "--classes", "fashion-mnist", "--select", "0:1"])
        ... # doctest: +NORMALIZE_WHITESPACE
        0 T-shirt/top top 3 senses
        0
    """
    parser = argparse.ArgumentParser(prog="tti-probe")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))
