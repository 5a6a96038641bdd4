"""The testbed study: the whole synthetic-vs-natural probe, run for real on the shipped models.

:func:`run_testbed_study` generates a synthetic Fashion-MNIST with the shipped testbed pipeline
(through :func:`tti_probe.generate`, the code path used for Stable Diffusion) for every class
under several prompt strategies and guidance scales, embeds the synthetic images and natural
Fashion-MNIST *test* images with the shipped CLIP, runs every analysis (a sweep over the
conditions and the full analysis of one main condition: diversity, fidelity, adherence,
ambiguity, geometry incl. the modality gap, train-on-synthetic vs train-on-natural probes at
equal size), finds the classes the synthetic images are confused with, and writes the HTML
report with image grids. This is what ``tti-probe demo`` runs by default.

Everything is seeded and runs with deterministic torch kernels on one thread, so two runs give
identical figures.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from tti_probe._analysis import Analysis, AnalysisConfig, analyze
from tti_probe._analysis_inputs import ProbeData
from tti_probe._analysis_sweep import Sweep, SweepCondition, sweep
from tti_probe._classes import ClassSpec, fashion_mnist_classes
from tti_probe._models import require
from tti_probe._prompts import sense_prompts
from tti_probe._report import ReportPaths, image_grid, write_report


@dataclasses.dataclass(frozen=True)
class TestbedStudyConfig:
    """Settings of :func:`run_testbed_study`.

    Attributes:
        strategies: Prompt strategies (see :func:`tti_probe.get_strategy`).
        guidance_scales: Classifier-free guidance scales.
        images_per_class: Synthetic images per class and condition (strategy x guidance).
        natural_per_class: Natural Fashion-MNIST test images per class.
        num_inference_steps: DDIM steps per image.
        batch_size: Images per pipeline call.
        main_strategy: Strategy of the condition that gets the full analysis.
        main_guidance: Guidance scale of that condition.
        probe_kinds: Probes of the full analysis (``"linear"``, ``"mlp"``).
        seed: Seed of generation, splits and probes.
        threads: torch threads while the study runs (1 makes runs bit-identical).
    """

    strategies: tuple[str, ...] = ("name", "hypernym")
    guidance_scales: tuple[float, ...] = (1.0, 2.0, 4.0, 7.5)
    images_per_class: int = 20
    natural_per_class: int = 100
    num_inference_steps: int = 10
    batch_size: int = 40
    main_strategy: str = "hypernym"
    main_guidance: float = 2.0
    probe_kinds: tuple[str, ...] = ("linear", "mlp")
    seed: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        if not self.strategies or not self.guidance_scales:
            raise ValueError("TestbedStudyConfig: need at least one strategy and guidance scale")
        if self.images_per_class < 2 or self.natural_per_class < 2:
            raise ValueError("TestbedStudyConfig: need at least 2 images per class")
        if self.main_strategy not in self.strategies:
            raise ValueError(f"main_strategy {self.main_strategy!r} is not among the strategies")
        if self.main_guidance not in self.guidance_scales:
            raise ValueError(f"main_guidance {self.main_guidance} is not among the scales")
        if self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")


@dataclasses.dataclass(frozen=True)
class ConfusedPair:
    """Synthetic images of one class that the CLIP assigns to another.

    Attributes:
        prompted: The class in the prompt.
        assigned: The class the CLIP's zero-shot classifier picked.
        fraction: Share of the prompted class's synthetic images assigned there.
    """

    prompted: str
    assigned: str
    fraction: float


@dataclasses.dataclass(frozen=True)
class TestbedStudy:
    """What :func:`run_testbed_study` measured.

    Attributes:
        analysis: Full analysis of the main condition.
        sweep: One point per (strategy, guidance scale): diversity, fidelity, zero-shot and
            train-on-synthetic accuracy.
        tstr_accuracy: Linear probe trained on synthetic, tested on natural (main condition).
        natural_accuracy: The same probe trained on natural images of equal size.
        confusion: Zero-shot confusion of the main condition's synthetic images
            (rows prompted class, columns assigned class, rows sum to 1).
        confused: Largest off-diagonal confusions, largest first.
        modality_gap: Distance between the centroids of natural images and class prompts.
        report: The report files.
        seconds: Wall time of generation, embedding, analysis and the whole study.
    """

    analysis: Analysis
    sweep: Sweep
    tstr_accuracy: float
    natural_accuracy: float
    confusion: np.ndarray
    confused: tuple[ConfusedPair, ...]
    modality_gap: float
    report: ReportPaths
    seconds: dict[str, float]


@contextmanager
def _deterministic_torch(threads: int) -> Iterator[None]:
    torch = require("torch")
    old_threads = torch.get_num_threads()
    old_mode = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_mode)


def _natural_images(classes: tuple[ClassSpec, ...], per_class: int) -> tuple[list[Any], np.ndarray]:
    from PIL import Image

    from fourfold_common.data import load_fashion_mnist

    test = load_fashion_mnist("test")
    images, labels = [], []
    for label in range(len(classes)):
        for index in np.flatnonzero(np.asarray(test.labels) == label)[:per_class]:
            images.append(Image.fromarray(np.asarray(test.images[index])))
            labels.append(label)
    return images, np.asarray(labels, dtype=np.int64)


def _senses(classes: tuple[ClassSpec, ...]) -> tuple[list[str], list[str]]:
    names, prompts = [], []
    for spec in classes:
        if len(spec.senses) > 1:
            for sense, prompt in zip(spec.senses, sense_prompts(spec), strict=True):
                names.append(f"{spec.name} ({sense.hypernym or sense.definition})")
                prompts.append(prompt)
    return names, prompts


def confused_pairs(
    confusion: np.ndarray, class_names: tuple[str, ...], top: int = 6, minimum: float = 0.05
) -> tuple[ConfusedPair, ...]:
    """The largest off-diagonal entries of a row-normalised confusion matrix.

    Example:
        >>> m = np.array([[0.7, 0.3], [0.02, 0.98]])
        >>> confused_pairs(m, ("Shirt", "T-shirt/top"))[0]
        ConfusedPair(prompted='Shirt', assigned='T-shirt/top', fraction=0.3)
    """
    pairs = [
        ConfusedPair(class_names[i], class_names[j], round(float(confusion[i, j]), 6))
        for i in range(len(class_names))
        for j in range(len(class_names))
        if i != j and confusion[i, j] >= minimum
    ]
    pairs.sort(key=lambda p: (-p.fraction, p.prompted, p.assigned))
    return tuple(pairs[:top])


def _png64(image: Any) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _guidance_grid(
    manifest: Any,
    classes: tuple[ClassSpec, ...],
    strategy: str,
    scales: tuple[float, ...],
    per_cell: int,
) -> Any:
    """Rows: classes; column blocks: guidance scales (``per_cell`` images each)."""
    strategies = manifest.column("strategy")
    guidance = manifest.column("guidance_scale")
    labels = manifest.labels()
    paths = manifest.paths()
    tiles: list[Any] = []
    for k in range(len(classes)):
        for g in scales:
            rows = np.flatnonzero((strategies == strategy) & (guidance == g) & (labels == k))
            tiles += [paths[i] for i in rows[:per_cell]]
    return image_grid(tiles, columns=per_cell * len(scales), size=28)


def _sections(
    study: dict[str, Any], grids: dict[str, str], config: TestbedStudyConfig
) -> list[tuple[str, str]]:
    esc = html.escape
    rows = "".join(
        f"<tr><td class=l>{esc(p['strategy'])}</td><td>{p['guidance']:g}</td>"
        f"<td>{p['vendi']:.3f}</td><td>{p['coverage']:.3f}</td><td>{p['precision']:.3f}</td>"
        f"<td>{p['zero_shot']:.3f}</td><td>{p['tstr']:.3f}</td></tr>"
        for p in study["tradeoff"]
    )
    tradeoff = (
        "<p>Each row: synthetic images of every class under one prompt strategy and guidance "
        "scale, against the natural test images. Diversity = mean per-class Vendi score of the "
        "CLIP embeddings; accuracy = zero-shot accuracy of the small CLIP on the synthetic "
        "images and the accuracy on natural images of a linear probe trained on them.</p>"
        "<table><tr><th class=l>strategy</th><th>guidance</th><th>Vendi</th><th>coverage</th>"
        f"<th>precision</th><th>zero-shot</th><th>train-syn/test-nat</th></tr>{rows}</table>"
    )
    confused = "".join(
        f"<tr><td class=l>{esc(c['prompted'])}</td><td class=l>{esc(c['assigned'])}</td>"
        f"<td>{c['fraction']:.3f}</td></tr>"
        for c in study["confused"]
    )
    main = f"{config.main_strategy}, guidance {config.main_guidance:g}"
    headline = (
        f"<table><tr><td class=l>train on synthetic, test on natural (linear, {main})</td>"
        f"<td>{study['tstr_accuracy']:.4f}</td></tr>"
        f"<tr><td class=l>train on natural, same size, same probe</td>"
        f"<td>{study['natural_accuracy']:.4f}</td></tr>"
        f"<tr><td class=l>modality gap of the small CLIP (natural images vs class prompts)</td>"
        f"<td>{study['modality_gap']:.4f}</td></tr>"
        f"<tr><td class=l>modality gap (synthetic images vs class prompts)</td>"
        f"<td>{study['modality_gap_synthetic']:.4f}</td></tr></table>"
        "<h3>Confused classes (zero-shot CLIP labels of synthetic images, "
        f"{esc(main)})</h3><table><tr><th class=l>prompted</th><th class=l>assigned</th>"
        f"<th>share</th></tr>{confused}</table>"
    )
    grid_html = "".join(
        f"<figure><img alt='{esc(s)}' src='data:image/png;base64,{png}'><figcaption>"
        f"strategy {esc(s)}: rows are classes, column blocks guidance "
        f"{', '.join(f'{g:g}' for g in config.guidance_scales)}</figcaption></figure>"
        for s, png in grids.items()
    )
    return [
        ("Testbed: synthetic vs natural", headline),
        ("Diversity and accuracy vs guidance", tradeoff),
        ("Samples by guidance scale", grid_html),
    ]


def run_testbed_study(
    out_dir: str | Path,
    config: TestbedStudyConfig | None = None,
    *,
    testbed_dir: str | Path | None = None,
    progress: bool = True,
    command: str | None = None,
) -> TestbedStudy:
    """Run the whole study on the shipped testbed and write ``report.html``/``report.json``.

    Outputs under ``out_dir``: ``synthetic/`` (the generation run: PNGs with their records,
    ``manifest.json``; resumable), ``report.html`` and ``report.json``.

    Args:
        out_dir: Output directory (created).
        config: Study settings.
        testbed_dir: A testbed directory (default: the shipped one).
        progress: Show progress bars.
        command: Command line recorded in the report.

    Raises:
        ImportError: The ``hf`` extra is not installed.
        tti_probe.TestbedError: The shipped models are missing or do not match the manifest.
        fourfold_common.data.DatasetError: Fashion-MNIST is not installed.

    Example:
        >>> import tempfile
        >>> small = TestbedStudyConfig(
        ...     guidance_scales=(1.0, 2.0), images_per_class=4, natural_per_class=8,
        ...     num_inference_steps=2, probe_kinds=("linear",))
        >>> study = run_testbed_study(tempfile.mkdtemp(), small, progress=False)
        >>> study.confusion.shape
        (10, 10)
    """
    from tti_probe._embed import embed_manifest, embed_texts
    from tti_probe._generate import GenerationConfig, generate
    from tti_probe._testbed import load_testbed

    config = config or TestbedStudyConfig()
    out = Path(out_dir)
    classes = fashion_mnist_classes()
    names = tuple(c.name for c in classes)
    seconds: dict[str, float] = {}
    began = time.perf_counter()
    with _deterministic_torch(config.threads):
        testbed = load_testbed(testbed_dir)
        generation = GenerationConfig(
            str(testbed.path / "pipeline"),
            strategies=config.strategies,
            guidance_scales=config.guidance_scales,
            images_per_prompt=config.images_per_class,
            seed=config.seed,
            num_inference_steps=config.num_inference_steps,
            batch_size=config.batch_size,
            device="cpu",
            local_files_only=True,
        )
        start = time.perf_counter()
        manifest = generate(
            classes, generation, out / "synthetic", pipeline=testbed.pipeline, progress=progress
        )
        seconds["generate"] = time.perf_counter() - start
        start = time.perf_counter()
        embedder = testbed.embedder
        synthetic = embed_manifest(manifest, embedder, progress=progress)
        natural_images, natural_labels = _natural_images(classes, config.natural_per_class)
        natural = embedder.embed_images(natural_images)
        text = embed_texts([f"a photo of a {n}." for n in names], embedder)
        sense_names, sense_texts = _senses(classes)
        sense_text = embed_texts(sense_texts, embedder) if sense_texts else None
        seconds["embed"] = time.perf_counter() - start
    start = time.perf_counter()
    strategies = manifest.column("strategy")
    guidance = manifest.column("guidance_scale")

    def condition(strategy: str, scale: float) -> ProbeData:
        rows = np.flatnonzero((strategies == strategy) & (guidance == scale))
        return ProbeData.create(
            names,
            synthetic.embeddings[rows],
            synthetic.labels[rows],
            natural,
            natural_labels,
            text=text,
            sense_names=sense_names,
            sense_text=sense_text,
        )

    conditions = [
        SweepCondition(condition(s, g), g, s)
        for s in config.strategies
        for g in config.guidance_scales
    ]
    swept = sweep(
        conditions,
        AnalysisConfig(
            pooled=False, probe_kinds=("linear",), mixes=(1.0,), progress=False, seed=config.seed
        ),
    )
    main_data = condition(config.main_strategy, config.main_guidance)
    analysis = analyze(
        main_data,
        AnalysisConfig(
            probe_kinds=config.probe_kinds,
            mixes=(1.0, 0.5, 0.0),
            progress=progress,
            seed=config.seed,
        ),
    )
    seconds["analyze"] = time.perf_counter() - start
    linear = {t.synthetic_fraction: t.accuracy for t in analysis.transfer if t.kind == "linear"}
    scores = main_data.synthetic @ text.T
    assigned = scores.argmax(axis=1)
    confusion = np.zeros((len(names), len(names)))
    np.add.at(confusion, (main_data.synthetic_labels, assigned), 1.0)
    confusion /= np.maximum(confusion.sum(axis=1, keepdims=True), 1.0)
    confused = confused_pairs(confusion, names)
    geometry = analysis.geometry
    gap = float(geometry.modality_gap_natural) if geometry is not None else float("nan")
    gap_syn = float(geometry.modality_gap_synthetic) if geometry is not None else float("nan")
    tradeoff = [
        {
            "strategy": p.strategy,
            "guidance": p.guidance_scale,
            "vendi": p.vendi_synthetic,
            "coverage": p.coverage,
            "precision": p.precision,
            "zero_shot": p.zero_shot_synthetic,
            "tstr": p.transfer_accuracy,
        }
        for p in swept.points
    ]
    tstr = float(linear.get(1.0, float("nan")))
    natural_accuracy = float(linear.get(0.0, float("nan")))
    extra = {
        "config": dataclasses.asdict(config),
        "testbed_manifest": {k: testbed.manifest[k] for k in ("format", "train_data_sha256")},
        "tstr_accuracy": tstr,
        "natural_accuracy": natural_accuracy,
        "modality_gap": gap,
        "modality_gap_synthetic": gap_syn,
        "confusion": confusion.round(6).tolist(),
        "confused": [dataclasses.asdict(c) for c in confused],
        "tradeoff": tradeoff,
    }
    grids = {
        s: _png64(_guidance_grid(manifest, classes, s, config.guidance_scales, 4))
        for s in config.strategies
    }
    main_rows = np.flatnonzero(
        (strategies == config.main_strategy) & (guidance == config.main_guidance)
    )
    paths = manifest.paths()
    images = {
        name: (
            [paths[i] for i in main_rows if synthetic.labels[i] == k][:12],
            [natural_images[i] for i in np.flatnonzero(natural_labels == k)[:12]],
        )
        for k, name in enumerate(names)
    }
    report = write_report(
        analysis,
        out,
        images=images,
        sweep=swept,
        title="tti-probe demo: the offline Fashion-MNIST text-to-image testbed",
        command=command,
        sections=_sections(extra, grids, config),
        extra=extra,
    )
    seconds["total"] = time.perf_counter() - began
    return TestbedStudy(
        analysis=analysis,
        sweep=swept,
        tstr_accuracy=tstr,
        natural_accuracy=natural_accuracy,
        confusion=confusion,
        confused=confused,
        modality_gap=gap,
        report=report,
        seconds=seconds,
    )
