"""``tti-probe demo``: the planted-issue simulation, a simulated sweep and a tiny pipeline pass."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tti_probe._analysis import Analysis, AnalysisConfig, analyze
from tti_probe._analysis_inputs import ProbeData
from tti_probe._analysis_sweep import Sweep, SweepCondition, sweep
from tti_probe._report import ReportImages, ReportPaths, write_report
from tti_probe._simulate import simulate

# The simulated sweep: lower diversity as guidance grows (the trade-off Stable Diffusion
# shows); "hypernym" prompts keep a little more spread. Illustrative, not measured.
_SWEEP_SPREADS = {
    "name": {1.0: 1.0, 2.0: 0.85, 4.0: 0.6, 7.5: 0.4},
    "hypernym": {1.0: 1.05, 2.0: 0.95, 4.0: 0.75, 7.5: 0.55},
}


@dataclasses.dataclass(frozen=True)
class DetectionRow:
    """Whether a planted issue was found in its class.

    Attributes:
        issue: The planted issue.
        planted_class: The class it was planted in.
        detected: Whether the diagnosis flagged that issue for that class.
        also_flagged: Other classes flagged with the same issue (false alarms).
    """

    issue: str
    planted_class: str
    detected: bool
    also_flagged: tuple[str, ...]


def detection_table(
    analysis: Analysis, planted: Sequence[tuple[str, str]]
) -> tuple[DetectionRow, ...]:
    """Compare planted ``(issue, class)`` pairs with the diagnosis of ``analysis``.

    Example:
        >>> world = simulate(num_classes=6, per_class=60, dim=32, seed=1)
        >>> result = analyze(world.data, AnalysisConfig(probe_kinds=(), progress=False))
        >>> all(row.detected for row in detection_table(result, world.planted))
        True
    """
    rows = []
    for issue, name in planted:
        flagged = tuple(c.name for c in analysis.classes if issue in c.issues)
        rows.append(
            DetectionRow(issue, name, name in flagged, tuple(f for f in flagged if f != name))
        )
    return tuple(rows)


def format_detection_table(rows: Sequence[DetectionRow]) -> str:
    """The detection table as aligned text.

    Example:
        >>> print(format_detection_table([DetectionRow("ambiguity", "crane", True, ())]))
        issue            planted in   detected   false alarms
        ambiguity        crane        yes        -
    """
    lines = [f"{'issue':<16} {'planted in':<12} {'detected':<10} false alarms"]
    for row in rows:
        lines.append(
            f"{row.issue:<16} {row.planted_class:<12} {'yes' if row.detected else 'NO':<10} "
            f"{', '.join(row.also_flagged) or '-'}"
        )
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class DemoResult:
    """What ``tti-probe demo`` produced.

    Attributes:
        detection: Planted vs detected, one row per issue.
        simulation: The analysis of the simulated world.
        sweep: The simulated guidance x strategy sweep.
        report: The simulation's report files.
        pipeline_report: The tiny-pipeline report files (``None`` when skipped).
        pipeline_note: Why the pipeline pass was skipped, or what it ran.
    """

    detection: tuple[DetectionRow, ...]
    simulation: Analysis
    sweep: Sweep
    report: ReportPaths
    pipeline_report: ReportPaths | None
    pipeline_note: str


def simulated_sweep(
    num_classes: int = 12, per_class: int = 200, dim: int = 128, seed: int = 0
) -> tuple[SweepCondition, ...]:
    """Sweep conditions of the simulated world (guidance scale x prompt strategy).

    Guidance and strategy act through the synthetic spread only (see the source table):
    an illustration of :func:`tti_probe.sweep`, not a measurement of any model.
    """
    conditions = []
    for strategy, spreads in _SWEEP_SPREADS.items():
        for guidance, spread in spreads.items():
            world = simulate(
                num_classes, per_class, dim, plant=False, seed=seed, synthetic_spread=spread
            )
            conditions.append(SweepCondition(world.data, guidance, strategy))
    return tuple(conditions)


def run_tiny_pipeline(
    out_dir: str | Path,
    *,
    seed: int = 0,
    progress: bool = True,
    images_per_prompt: int = 6,
) -> tuple[Analysis, ReportPaths]:
    """One pass of generate, embed, analyse and report on tiny random local models.

    Builds a tiny diffusers pipeline and a tiny CLIP from configs (random weights, saved and
    loaded back with ``local_files_only=True``), generates images of four Fashion-MNIST
    classes under two prompt strategies and two guidance scales, embeds them and
    Fashion-MNIST test images of the same classes, and writes the report with image grids.
    The models are untrained, so the figures only prove that the path runs.

    Raises:
        tti_probe.ModelLoadError: The ``hf`` extra (torch, diffusers, transformers) is missing.
        fourfold_common.data.DatasetError: Fashion-MNIST is not installed.
    """
    from PIL import Image

    from fourfold_common.data import load_fashion_mnist
    from fourfold_common.io import atomic_write_bytes
    from tti_probe._classes import fashion_mnist_classes
    from tti_probe._embed import ClipEmbedder, embed_image_folder, embed_manifest, embed_texts
    from tti_probe._generate import GenerationConfig, generate
    from tti_probe._tiny import build_tiny_clip, build_tiny_pipeline

    out = Path(out_dir)
    classes = fashion_mnist_classes()[:4]
    models = out / "models"
    pipe_dir = build_tiny_pipeline(models / "pipeline", seed=seed)
    clip_dir = build_tiny_clip(models / "clip", seed=seed)
    config = GenerationConfig(
        str(pipe_dir),
        strategies=("photo", "hypernym"),
        guidance_scales=(1.0, 3.0),
        images_per_prompt=images_per_prompt,
        num_inference_steps=2,
        seed=seed,
        device="cpu",
        local_files_only=True,
    )
    manifest = generate(classes, config, out / "synthetic", progress=progress)
    natural_root = out / "natural"
    test = load_fashion_mnist("test")
    for label, spec in enumerate(classes):
        folder = natural_root / "".join(ch if ch.isalnum() else "_" for ch in spec.name)
        for i, index in enumerate(np.flatnonzero(test.labels == label)[: 4 * images_per_prompt]):
            target = folder / f"{i:03d}.png"
            if not target.exists():
                buffer = io.BytesIO()
                Image.fromarray(test.images[index]).save(buffer, format="PNG")
                atomic_write_bytes(target, buffer.getvalue())
    embedder = ClipEmbedder(clip_dir, local_files_only=True)
    synthetic = embed_manifest(manifest, embedder, progress=progress)
    natural = embed_image_folder(natural_root, embedder, classes=classes, progress=progress)
    text = embed_texts([f"a photo of a {c.name}." for c in classes], embedder)
    data = ProbeData.create(
        [c.name for c in classes],
        synthetic.embeddings,
        synthetic.labels,
        natural.embeddings,
        natural.labels,
        text=text,
    )
    config_a = AnalysisConfig(
        k=3, probe_kinds=("linear",), mixes=(1.0, 0.0), progress=progress, seed=seed
    )
    analysis = analyze(data, config_a)
    images: ReportImages = {
        c.name: (
            [p for p, y in zip(manifest.paths(), manifest.labels(), strict=True) if y == k][:12],
            [Path(f) for f, y in zip(natural.files, natural.labels, strict=True) if y == k][:12],
        )
        for k, c in enumerate(classes)
    }
    paths = write_report(
        analysis,
        out,
        images=images,
        title="tti-probe: tiny local models (untrained; proves the pipeline runs)",
        stem="pipeline-report",
    )
    return analysis, paths


def run_demo(
    out_dir: str | Path = "tti-probe-demo",
    *,
    pipeline: bool = True,
    seed: int = 0,
    progress: bool = True,
    command: str | None = None,
    num_classes: int = 12,
    per_class: int = 200,
    dim: int = 128,
) -> DemoResult:
    """Run the demo: plant the four issues, detect them, sweep, report; then the tiny pipeline.

    Args:
        out_dir: Output directory (``report.html``/``.json`` and ``pipeline-report.*``).
        pipeline: Also run :func:`run_tiny_pipeline` (needs the ``hf`` extra).
        seed: Seed of everything.
        progress: Show progress bars.
        command: Command line recorded in the reports.
        num_classes: Classes of the simulated world (and sweep).
        per_class: Synthetic and natural embeddings per class.
        dim: Embedding dimension.

    Returns:
        The results; ``pipeline_note`` says why the pipeline pass was skipped, if it was.
    """
    out = Path(out_dir)
    world = simulate(num_classes, per_class, dim, seed=seed)
    config = AnalysisConfig(progress=progress, seed=seed)
    analysis = analyze(world.data, config)
    rows = detection_table(analysis, world.planted)
    swept = sweep(simulated_sweep(num_classes, per_class, dim, seed=seed))
    paths = write_report(
        analysis,
        out,
        sweep=swept,
        title="tti-probe demo: simulated world with four planted issues",
        command=command,
    )
    note = "skipped (pipeline=False)"
    pipeline_paths = None
    if pipeline:
        from fourfold_common.data import DatasetError
        from tti_probe._models import ModelLoadError

        try:
            _, pipeline_paths = run_tiny_pipeline(out / "pipeline", seed=seed, progress=progress)
            note = f"tiny local models: report in {pipeline_paths.html}"
        except (ImportError, ModelLoadError, DatasetError) as error:
            note = f"skipped: {type(error).__name__}: {error}"
    return DemoResult(rows, analysis, swept, paths, pipeline_paths, note)
