"""Generation: class x strategy x guidance scale x seed images from a diffusers pipeline.

The plan (every image the run must end with) is a pure function of the class list and the
:class:`GenerationConfig`. Each image is one PNG written atomically together with its record
(see :mod:`tti_probe._manifest`), so a run killed at any point and restarted generates exactly
the images still missing and never rewrites one. Under ``accelerate launch`` the plan is split
between processes with ``PartialState.split_between_processes`` (each process takes a fixed,
disjoint share, so every image is written by one process only); the main process writes
``manifest.json`` once all processes are done.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from fourfold_common.io import atomic_write_bytes, make_run_record, write_run_record
from tti_probe._classes import ClassSpec
from tti_probe._manifest import (
    ImageRecord,
    Manifest,
    ManifestError,
    collect_records,
    load_manifest,
    png_bytes,
    read_png_record,
    write_manifest,
)
from tti_probe._models import (
    load_pipeline,
    model_fingerprint,
    pipeline_description,
    process_state,
    require,
    resolve_device,
)
from tti_probe._prompts import PromptError, get_strategy


class GenerationError(RuntimeError):
    """A generation run cannot proceed (bad settings, or an output directory made otherwise)."""


@dataclass(frozen=True)
class GenerationConfig:
    """What to generate and how.

    Image ``i`` of class ``k`` uses seed ``seed + k * images_per_prompt + i`` under every
    strategy and guidance scale, so a sweep compares strategies and guidance scales on the same
    starting noise while classes never share noise. Seeds drive one CPU ``torch.Generator`` per
    image, so an image does not depend on its batch or on the device.

    Random guidance (``guidance_range=(low, high)``): instead of the fixed ``guidance_scales``,
    image ``i`` of class ``k`` gets a scale drawn uniformly from ``[low, high]`` (rounded down
    to a multiple of ``guidance_step`` above ``low`` when given) by a generator seeded with
    ``(seed, k, i)``: the draw is a pure function of the image, the same under every strategy,
    on every process and after a resume, and each image's record holds its scale. Pipelines
    take one scale per call, so only images with equal scales share a batch: a
    ``guidance_step`` lets batches fill.

    Attributes:
        model: Hub id (e.g. ``"stable-diffusion-v1-5/stable-diffusion-v1-5"``) or local
            directory of a diffusers text-to-image pipeline.
        strategies: Prompt strategy names (see :func:`tti_probe.get_strategy`).
        guidance_scales: Classifier-free guidance scales to sweep.
        images_per_prompt: Images per (class, strategy, guidance scale).
        seed: First seed.
        num_inference_steps: Denoising steps.
        height: Image height (``None``: the pipeline's default).
        width: Image width (``None``: the pipeline's default).
        batch_size: Images per pipeline call.
        negative_prompt: Optional negative prompt for every image.
        revision: Hub revision of ``model``.
        device: Torch device; ``"auto"`` takes the device accelerate assigns this process.
        dtype: ``"float32"``, ``"float16"`` or ``"bfloat16"``.
        local_files_only: Load without network access (set it offline).
        scheduler: Optional diffusers scheduler class name replacing the pipeline's own.
        guidance_range: ``(low, high)``: draw each image's guidance scale at random (see
            above); ``guidance_scales`` must then be left at its default.
        guidance_step: Grid of the random scales (``None``: continuous).

    Example:
        >>> config = GenerationConfig("some/model", guidance_scales=(2.0, 7.5))
        >>> config.num_images(num_classes=10)
        80
    """

    model: str
    strategies: tuple[str, ...] = ("photo",)
    guidance_scales: tuple[float, ...] = (7.5,)
    images_per_prompt: int = 4
    seed: int = 0
    num_inference_steps: int = 50
    height: int | None = None
    width: int | None = None
    batch_size: int = 4
    negative_prompt: str | None = None
    revision: str | None = None
    device: str = "auto"
    dtype: str = "float32"
    local_files_only: bool = False
    scheduler: str | None = None
    guidance_range: tuple[float, float] | None = None
    guidance_step: float | None = None

    def __post_init__(self) -> None:
        problems = []
        if not self.model:
            problems.append("model must name a hub id or a local directory")
        if isinstance(self.strategies, str) or not self.strategies:
            problems.append("strategies must be a non-empty tuple of names")
        if isinstance(self.guidance_scales, (int, float)) or not self.guidance_scales:
            problems.append("guidance_scales must be a non-empty tuple")
        elif any(not (isinstance(g, (int, float)) and g >= 0) for g in self.guidance_scales):
            problems.append(f"guidance scales must be >= 0, got {self.guidance_scales}")
        if self.images_per_prompt < 1:
            problems.append(f"images_per_prompt must be >= 1, got {self.images_per_prompt}")
        if self.seed < 0:
            problems.append(f"seed must be >= 0, got {self.seed}")
        if self.num_inference_steps < 1:
            problems.append(f"num_inference_steps must be >= 1, got {self.num_inference_steps}")
        if self.batch_size < 1:
            problems.append(f"batch_size must be >= 1, got {self.batch_size}")
        for name in ("height", "width"):
            value = getattr(self, name)
            if value is not None and (value < 8 or value % 8):
                problems.append(f"{name} must be a positive multiple of 8, got {value}")
        if self.dtype not in ("float32", "float16", "bfloat16"):
            problems.append(f"dtype must be float32, float16 or bfloat16, got {self.dtype!r}")
        problems += self._random_guidance_problems()
        if problems:
            raise GenerationError("invalid GenerationConfig: " + "; ".join(problems))
        if len(set(self.guidance_scales)) != len(self.guidance_scales):
            raise GenerationError(f"duplicate guidance scales {self.guidance_scales}")
        if len(set(self.strategies)) != len(self.strategies):
            raise GenerationError(f"duplicate strategies {self.strategies}")
        for strategy in self.strategies:
            try:
                get_strategy(strategy)
            except PromptError as error:
                raise GenerationError(f"invalid GenerationConfig: {error}") from error

    def _random_guidance_problems(self) -> list[str]:
        if self.guidance_range is None:
            if self.guidance_step is not None:
                return ["guidance_step needs guidance_range"]
            return []
        problems = []
        try:
            low, high = (float(v) for v in self.guidance_range)
        except (TypeError, ValueError):
            return [f"guidance_range must be (low, high), got {self.guidance_range!r}"]
        if not (math.isfinite(low) and math.isfinite(high) and 0 <= low <= high):
            problems.append(f"guidance_range needs 0 <= low <= high, got {self.guidance_range}")
        if tuple(self.guidance_scales) != (7.5,):
            problems.append("give either guidance_scales or guidance_range, not both")
        step = self.guidance_step
        if step is not None and not (math.isfinite(step) and step > 0):
            problems.append(f"guidance_step must be > 0, got {step}")
        return problems

    @property
    def random_guidance(self) -> bool:
        """Whether each image's guidance scale is drawn at random (``guidance_range`` set)."""
        return self.guidance_range is not None

    def draw_guidance(self, class_index: int, image_index: int) -> float:
        """The random guidance scale of image ``image_index`` of class ``class_index``.

        Example:
            >>> config = GenerationConfig("m", guidance_range=(1.0, 9.0), guidance_step=0.5)
            >>> g = config.draw_guidance(3, 1)
            >>> g == config.draw_guidance(3, 1) and 1.0 <= g <= 9.0 and (g - 1.0) % 0.5 == 0
            True
        """
        if self.guidance_range is None:
            raise GenerationError("draw_guidance needs guidance_range")
        low, high = (float(v) for v in self.guidance_range)
        generator = np.random.default_rng([self.seed, class_index, image_index])
        value = low + (high - low) * float(generator.random())
        if self.guidance_step is not None:
            value = low + math.floor((value - low) / self.guidance_step) * self.guidance_step
            value = round(min(value, high), 10)
        return value

    def num_images(self, num_classes: int) -> int:
        """Number of images the run makes for ``num_classes`` classes."""
        scales = 1 if self.random_guidance else len(self.guidance_scales)
        return num_classes * len(self.strategies) * scales * self.images_per_prompt

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ImageJob:
    """One planned image: where it goes and what makes it."""

    file: str
    class_index: int
    class_name: str
    strategy: str
    image_index: int
    guidance_scale: float
    seed: int
    prompt: str


def _slug(text: str, unique: bool = False, limit: int = 40) -> str:
    """A file-name-safe form of ``text``; ``unique`` adds a hash when the form loses detail."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-") or "x"
    if unique and slug != text:
        slug += "-" + hashlib.sha256(text.encode()).hexdigest()[:6]
    return slug


def plan_images(classes: Sequence[ClassSpec], config: GenerationConfig) -> list[ImageJob]:
    """Every image of a run, in a fixed order (strategy, guidance scale, class, image number).

    With random guidance the images of a strategy go to one folder ``g<low>-<high>`` (with
    ``s<step>`` when quantised) and each job carries its drawn scale.

    Example:
        >>> jobs = plan_images([ClassSpec("cat")], GenerationConfig("m", images_per_prompt=2))
        >>> [(j.file, j.seed, j.prompt) for j in jobs]  # doctest: +NORMALIZE_WHITESPACE
        [('images/photo/g7.5/0000-cat/00000.png', 0, 'a photo of a cat.'),
         ('images/photo/g7.5/0000-cat/00001.png', 1, 'a photo of a cat.')]
    """
    if not classes:
        raise GenerationError("no classes to generate")
    jobs = []
    if config.guidance_range is not None:
        low, high = config.guidance_range
        step = "" if config.guidance_step is None else f"s{config.guidance_step:g}"
        groups: tuple[float | str, ...] = (f"{float(low):g}-{float(high):g}{step}",)
    else:
        groups = tuple(float(g) for g in config.guidance_scales)
    for strategy_name in config.strategies:
        strategy = get_strategy(strategy_name)
        for group in groups:
            for class_index, spec in enumerate(classes):
                variants = strategy.prompts(spec)
                for i in range(config.images_per_prompt):
                    folder = (
                        f"images/{_slug(strategy.name, unique=True)}/g{group:g}/"
                        if isinstance(group, float)
                        else f"images/{_slug(strategy.name, unique=True)}/g{group}/"
                    ) + f"{class_index:04d}-{_slug(spec.name)}"
                    guidance = (
                        group if isinstance(group, float) else config.draw_guidance(class_index, i)
                    )
                    jobs.append(
                        ImageJob(
                            file=f"{folder}/{i:05d}.png",
                            class_index=class_index,
                            class_name=spec.name,
                            strategy=strategy.name,
                            image_index=i,
                            guidance_scale=float(guidance),
                            seed=config.seed + class_index * config.images_per_prompt + i,
                            prompt=variants[i % len(variants)],
                        )
                    )
    return jobs


_MATCH_FIELDS = (
    "class_index",
    "class_name",
    "strategy",
    "image_index",
    "prompt",
    "negative_prompt",
    "guidance_scale",
    "seed",
    "num_inference_steps",
    "model",
    "revision",
)


def _is_done(root: Path, job: ImageJob, config: GenerationConfig) -> bool:
    """Whether the job's image exists with a matching record (a mismatch is an error)."""
    path = root / job.file
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        leftover.unlink(missing_ok=True)  # a write cut short by a kill; this job owns it
    if not path.exists():
        return False
    try:
        record = read_png_record(path)
    except ManifestError:
        return False  # unreadable leftovers are regenerated
    expected = {
        **dataclasses.asdict(job),
        "negative_prompt": config.negative_prompt,
        "num_inference_steps": config.num_inference_steps,
        "model": config.model,
        "revision": config.revision,
    }
    differing = [key for key in _MATCH_FIELDS if getattr(record, key) != expected[key]]
    for key in ("height", "width"):
        wanted = getattr(config, key)
        if wanted is not None and getattr(record, key) != wanted:
            differing.append(key)
    if differing:
        raise GenerationError(
            f"{path} was made with different settings ({', '.join(differing)} differ); "
            "use a new output directory or the original settings"
        )
    return True


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _append_log(root: Path, process_index: int, entry: dict[str, Any]) -> None:
    log = root / "logs" / f"writes-p{process_index}.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, sort_keys=True) + "\n")
        handle.flush()


def _call_pipeline(pipe: Any, batch: Sequence[ImageJob], config: GenerationConfig) -> list[Any]:
    torch = require("torch")
    kwargs: dict[str, Any] = {
        "prompt": [job.prompt for job in batch],
        "guidance_scale": batch[0].guidance_scale,
        "num_inference_steps": config.num_inference_steps,
        "generator": [torch.Generator("cpu").manual_seed(job.seed) for job in batch],
        "output_type": "pil",
    }
    if config.negative_prompt is not None:
        kwargs["negative_prompt"] = [config.negative_prompt] * len(batch)
    if config.height is not None:
        kwargs["height"] = config.height
    if config.width is not None:
        kwargs["width"] = config.width
    with torch.inference_mode():
        output = pipe(**kwargs)
    images = list(getattr(output, "images", output))
    if len(images) != len(batch):
        raise GenerationError(f"the pipeline returned {len(images)} images for {len(batch)}")
    return images


def _batches(jobs: Sequence[ImageJob], size: int) -> list[list[ImageJob]]:
    """Consecutive batches of at most ``size`` jobs sharing one guidance scale."""
    batches: list[list[ImageJob]] = []
    for job in jobs:
        if (
            batches
            and len(batches[-1]) < size
            and batches[-1][0].guidance_scale == job.guidance_scale
        ):
            batches[-1].append(job)
        else:
            batches.append([job])
    return batches


def generate(
    classes: Sequence[ClassSpec],
    config: GenerationConfig,
    out_dir: str | Path,
    *,
    pipeline: Any | None = None,
    progress: bool = True,
    on_image: Callable[[ImageRecord], None] | None = None,
) -> Manifest:
    """Generate the images of ``config`` for ``classes`` into ``out_dir`` (resumable).

    Layout: ``out_dir/images/<strategy>/g<guidance>/<class>/<n>.png`` (each PNG holds its
    record), ``out_dir/manifest.json`` (all records with SHA-256, written when the run
    completes), ``out_dir/run_record.json`` (versions, settings, timings) and
    ``out_dir/logs/writes-p<process>.jsonl`` (one line per image written, an audit trail).

    Resuming: images already on disk with a matching record are kept untouched; only missing
    ones are generated. Running the same call again after completion generates nothing.

    Scale-out: run the same script under ``accelerate launch`` (any number of processes,
    GPUs or hosts sharing ``out_dir``); each process generates a disjoint share of the plan on
    its own device (``device="auto"``), and the main process writes the manifest.

    Args:
        classes: The classes to generate.
        config: What and how to generate.
        out_dir: Output directory (created).
        pipeline: An already loaded pipeline to use instead of loading ``config.model`` (any
            callable taking the diffusers text-to-image keywords and returning ``.images``).
        progress: Show a tqdm progress bar (main process only).
        on_image: Called with each new image's record after it is written.

    Returns:
        The manifest of the whole run (on every process, once all are done).

    Raises:
        GenerationError: Invalid settings, or ``out_dir`` holds images made otherwise.
        tti_probe.ModelLoadError: The pipeline cannot be loaded.

    Example:
        >>> import tempfile
        >>> from tti_probe._tiny import build_tiny_pipeline
        >>> model = str(build_tiny_pipeline(tempfile.mkdtemp()))
        >>> config = GenerationConfig(model, guidance_scales=(1.0, 3.0), images_per_prompt=1,
        ...                           num_inference_steps=2, device="cpu", local_files_only=True)
        >>> manifest = generate([ClassSpec("cat")], config, tempfile.mkdtemp(), progress=False)
        >>> [r.guidance_scale for r in manifest.records]
        [1.0, 3.0]
    """
    root = Path(out_dir)
    classes = tuple(classes)
    jobs = plan_images(classes, config)
    state = process_state()
    with state.split_between_processes(jobs) as share:
        mine = list(share)
    root.mkdir(parents=True, exist_ok=True)
    pending = [job for job in mine if not _is_done(root, job, config)]
    started = time.perf_counter()
    fingerprint = model_fingerprint(config.model, config.revision)
    description: dict[str, Any] = {"pipeline": None, "scheduler": None, "scheduler_config": {}}
    if pending or pipeline is not None:
        if pipeline is None:
            pipeline = load_pipeline(
                config.model,
                revision=config.revision,
                dtype=config.dtype,
                device=resolve_device(config.device),
                local_files_only=config.local_files_only,
                scheduler=config.scheduler,
            )
        description = pipeline_description(pipeline)
    bar = tqdm(
        total=len(mine),
        initial=len(mine) - len(pending),
        desc=f"generate [{state.process_index}]",
        unit="img",
        disable=not (progress and state.is_main_process),
    )
    with bar:
        # Random scales: group equal scales so that batches fill (the order is free).
        ordered = (
            sorted(pending, key=lambda job: job.guidance_scale)
            if config.random_guidance
            else pending
        )
        for batch in _batches(ordered, config.batch_size):
            tick = time.perf_counter()
            images = _call_pipeline(pipeline, batch, config)
            seconds = (time.perf_counter() - tick) / len(batch)
            for job, image in zip(batch, images, strict=True):
                record = ImageRecord(
                    **dataclasses.asdict(job),
                    negative_prompt=config.negative_prompt,
                    num_inference_steps=config.num_inference_steps,
                    width=int(image.width),
                    height=int(image.height),
                    model=config.model,
                    revision=config.revision,
                    model_fingerprint=fingerprint,
                    pipeline=str(description["pipeline"]),
                    scheduler=description["scheduler"],
                    seconds=round(seconds, 6),
                    process_index=state.process_index,
                    created=_now(),
                )
                data = png_bytes(image, record)
                atomic_write_bytes(root / job.file, data)
                _append_log(
                    root,
                    state.process_index,
                    {
                        "file": job.file,
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "pid": os.getpid(),
                        "time": record.created,
                    },
                )
                bar.update(1)
                if on_image is not None:
                    on_image(record)
    elapsed = time.perf_counter() - started
    state.wait_for_everyone()
    manifest = Manifest(root, classes, config.to_dict(), ())
    if state.is_main_process:
        manifest = dataclasses.replace(
            manifest, records=tuple(collect_records(root, [j.file for j in jobs]))
        )
        write_manifest(manifest)
        figures = {
            "images": len(jobs),
            "generated_by_main_process": len(pending),
            "main_process_seconds": round(elapsed, 3),
            "num_processes": state.num_processes,
            **{k: v for k, v in description.items() if k != "scheduler_config"},
        }
        write_run_record(
            root / "run_record.json",
            make_run_record("tti-probe generate", config, figures),
        )
    state.wait_for_everyone()
    if not state.is_main_process:
        manifest = load_manifest(root)
    return manifest
