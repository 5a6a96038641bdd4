"""Every analysis of a synthetic set against a natural set, per class and overall."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
from tqdm.auto import tqdm

from tti_probe._analysis_ambiguity import Collision, count_modes, nearest_rows, prompt_collisions
from tti_probe._analysis_concept import concept_offsets
from tti_probe._analysis_geometry import Geometry, class_centroids, geometry
from tti_probe._analysis_inputs import ProbeData, ProbeInputError, l2_normalize
from tti_probe._metrics_adherence import clip_scores, zero_shot
from tti_probe._metrics_blocks import KernelConfig
from tti_probe._metrics_diversity import Diversity, diversity
from tti_probe._metrics_fidelity import Fidelity, fidelity, fidelity_many
from tti_probe._probe import ProbeConfig, score_probe, train_probe

ISSUES = ("ambiguity", "adherence", "low diversity", "not represented")
"""The four issues of Marwood et al. that the diagnosis flags, in this order."""


@dataclasses.dataclass(frozen=True)
class AnalysisConfig:
    """Settings of :func:`analyze` (thresholds of the diagnosis are ours; see the docs).

    Attributes:
        k: Neighbourhood size of the k-NN manifolds (precision, recall, density, coverage).
        normalize: L2-normalise every embedding first (CLIP embeddings compare by cosine).
        pooled: Also compare the pooled synthetic and natural sets (all classes together).
        max_pooled: Subsample each pooled set to at most this many rows (``None``: exact).
        kernels: KID and CMMD kernels.
        block: Rows per distance block.
        max_modes: Largest number of modes tried per class.
        mode_dims: Principal components used to count modes.
        min_mode_fraction: Smallest mode, as a fraction of a class's set.
        collision_threshold: Prompt-embedding cosine at or above which two prompts collide.
        probe_kinds: Probes trained for the transfer study (``"linear"``, ``"mlp"``).
        probe: Training settings shared by the probes (``kind`` is overridden).
        mixes: Fractions of synthetic images in the transfer training sets (1 = synthetic
            only, 0 = natural only), at equal size per class.
        test_fraction: Fraction of each class's natural set held out for testing the probes.
        ambiguity_min_modes: A class is ambiguous when its synthetic set has at least this many
            modes and more modes than its natural set.
        adherence_margin: Adherence fails when the zero-shot accuracy of a class's synthetic
            images is lower than that of its natural images by more than this.
        low_diversity_ratio: Diversity is low when synthetic Vendi / natural Vendi is below this.
        concept_threshold: The concept is not represented when the normalised centroid offset
            is at least this.
        seed: Seed of the splits, subsampling and probes.
        progress: Show a progress bar.
    """

    k: int = 5
    normalize: bool = True
    pooled: bool = True
    max_pooled: int | None = None
    kernels: KernelConfig = dataclasses.field(default_factory=KernelConfig)
    block: int = 512
    max_modes: int = 4
    mode_dims: int = 4
    min_mode_fraction: float = 0.1
    collision_threshold: float = 0.9
    probe_kinds: tuple[str, ...] = ("linear", "mlp")
    probe: ProbeConfig = dataclasses.field(default_factory=ProbeConfig)
    mixes: tuple[float, ...] = (1.0, 0.5, 0.0)
    test_fraction: float = 0.5
    ambiguity_min_modes: int = 2
    adherence_margin: float = 0.2
    low_diversity_ratio: float = 0.6
    concept_threshold: float = 1.0
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        if self.k < 1 or self.max_modes < 1 or self.mode_dims < 1:
            raise ProbeInputError("AnalysisConfig: k, max_modes and mode_dims must be >= 1")
        if not 0.0 < self.test_fraction < 1.0:
            raise ProbeInputError("AnalysisConfig.test_fraction must lie in (0, 1)")
        if any(not 0.0 <= m <= 1.0 for m in self.mixes):
            raise ProbeInputError("AnalysisConfig.mixes must lie in [0, 1]")
        if any(kind not in ("linear", "mlp") for kind in self.probe_kinds):
            raise ProbeInputError("AnalysisConfig.probe_kinds: 'linear' and/or 'mlp'")
        if self.max_pooled is not None and self.max_pooled <= self.k:
            raise ProbeInputError("AnalysisConfig.max_pooled must exceed k")


@dataclasses.dataclass(frozen=True)
class ModeSummary:
    """One mode of a class's synthetic set.

    Attributes:
        fraction: Fraction of the class's synthetic images in the mode.
        nearest_class: Class whose natural centroid is most similar to the mode's centroid.
        nearest_class_cosine: That cosine.
        nearest_sense: Most similar extra sense (``None`` without senses).
        nearest_sense_cosine: That cosine (NaN without senses).
    """

    fraction: float
    nearest_class: str
    nearest_class_cosine: float
    nearest_sense: str | None
    nearest_sense_cosine: float


@dataclasses.dataclass(frozen=True)
class ClassReport:
    """Every per-class result.

    Attributes:
        name: Class name.
        n_synthetic: Number of synthetic images.
        n_natural: Number of natural images.
        diversity_synthetic: Diversity of the synthetic set (``None`` under 2 images).
        diversity_natural: Diversity of the natural set (``None`` under 2 images).
        fidelity: Synthetic vs natural of this class (``None`` with k or fewer in a set).
        clip_score_synthetic: Mean CLIP score of synthetic images with their prompts.
        clip_score_natural: Mean CLIP score of natural images with the class prompt.
        zero_shot_synthetic: Zero-shot accuracy of synthetic images against all class prompts.
        zero_shot_natural: Same for natural images.
        zero_shot_confused_with: Most frequent wrong zero-shot class of synthetic images.
        modes_synthetic: Modes of the synthetic set.
        modes_natural: Modes of the natural set.
        modes: Summary of each synthetic mode.
        drift_fraction: Fraction of synthetic images whose nearest natural class centroid is
            another class.
        drift_target: The most frequent such class (``None`` if none).
        nearest_prompt: Class whose prompt embedding is most similar to this one's.
        nearest_prompt_cosine: That cosine.
        concept_offset: Normalised synthetic-to-natural centroid offset.
        true_class_rank: Rank of the true class's natural centroid from the synthetic centroid.
        text_to_natural: Cosine of the class prompt with the natural centroid.
        text_to_synthetic: Cosine of the class prompt with the synthetic centroid.
        transfer_synthetic: Accuracy on natural test images of the first probe trained on
            synthetic images only.
        transfer_natural: Same for the probe trained on natural images only.
        issues: The issues diagnosed for this class (a subset of :data:`ISSUES`).
    """

    name: str
    n_synthetic: int
    n_natural: int
    diversity_synthetic: Diversity | None
    diversity_natural: Diversity | None
    fidelity: Fidelity | None
    clip_score_synthetic: float
    clip_score_natural: float
    zero_shot_synthetic: float
    zero_shot_natural: float
    zero_shot_confused_with: str | None
    modes_synthetic: int
    modes_natural: int
    modes: tuple[ModeSummary, ...]
    drift_fraction: float
    drift_target: str | None
    nearest_prompt: str | None
    nearest_prompt_cosine: float
    concept_offset: float
    true_class_rank: int
    text_to_natural: float
    text_to_synthetic: float
    transfer_synthetic: float
    transfer_natural: float
    issues: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class TransferResult:
    """One train-on-X / test-on-natural run.

    Attributes:
        kind: ``"linear"`` or ``"mlp"``.
        synthetic_fraction: Fraction of synthetic images in the training set.
        n_train: Training-set size.
        accuracy: Accuracy on the held-out natural images.
        per_class_accuracy: Per-class accuracy there.
    """

    kind: str
    synthetic_fraction: float
    n_train: int
    accuracy: float
    per_class_accuracy: np.ndarray


@dataclasses.dataclass(frozen=True)
class Analysis:
    """The result of :func:`analyze`.

    Attributes:
        class_names: Class names.
        classes: Per-class results.
        summary: Overall figures (means over classes, pooled measures, counts of issues).
        pooled: Pooled synthetic-vs-natural fidelity (``None`` when disabled).
        geometry: CLIP geometry (``None`` without text embeddings).
        collisions: Colliding class prompts.
        transfer: The transfer runs.
        config: The settings used.
    """

    class_names: tuple[str, ...]
    classes: tuple[ClassReport, ...]
    summary: dict[str, float]
    pooled: Fidelity | None
    geometry: Geometry | None
    collisions: tuple[Collision, ...]
    transfer: tuple[TransferResult, ...]
    config: AnalysisConfig


def _nanmean(values: Sequence[float]) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _split_natural(
    labels: np.ndarray, num_classes: int, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in range(num_classes):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = round(len(idx) * test_fraction)
        if len(idx) >= 2:
            n_test = min(max(n_test, 1), len(idx) - 1)
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.concatenate(train).astype(np.int64), np.concatenate(test).astype(np.int64)


def transfer_study(
    data: ProbeData,
    config: AnalysisConfig | None = None,
) -> tuple[TransferResult, ...]:
    """Train probes on synthetic, natural and mixed sets and test them on held-out natural images.

    Each class's natural set is split into train and test (``config.test_fraction``); every
    training set has, per class, ``min(#synthetic, #natural train)`` images, of which a fraction
    ``mix`` are synthetic, so train-on-synthetic and train-on-natural are compared at equal size.

    Args:
        data: The embeddings (normalised first when ``config.normalize``).
        config: Settings (probes, mixes, split).

    Returns:
        One result per probe kind and mix.

    Raises:
        ProbeInputError: No class has both synthetic and natural training images.
    """
    config = config or AnalysisConfig()
    syn, nat = data.synthetic, data.natural
    if config.normalize:
        syn, nat = l2_normalize(syn), l2_normalize(nat)
    train_idx, test_idx = _split_natural(
        data.natural_labels, data.num_classes, config.test_fraction, config.seed
    )
    rng = np.random.default_rng(config.seed + 1)
    syn_by_class = [
        rng.permutation(np.flatnonzero(data.synthetic_labels == c)) for c in range(data.num_classes)
    ]
    nat_train_labels = data.natural_labels[train_idx]
    nat_by_class = [
        rng.permutation(train_idx[nat_train_labels == c]) for c in range(data.num_classes)
    ]
    sizes = [min(len(s), len(n)) for s, n in zip(syn_by_class, nat_by_class, strict=True)]
    if sum(sizes) == 0:
        raise ProbeInputError("transfer study: no class has both synthetic and natural images")
    results = []
    for kind in config.probe_kinds:
        probe_config = dataclasses.replace(config.probe, kind=kind)  # type: ignore[arg-type]
        for mix in config.mixes:
            xs, ys = [], []
            for c, size in enumerate(sizes):
                n_syn = round(mix * size)
                xs += [syn[syn_by_class[c][:n_syn]], nat[nat_by_class[c][: size - n_syn]]]
                ys += [np.full(n_syn, c), np.full(size - n_syn, c)]
            x = np.concatenate(xs)
            y = np.concatenate(ys)
            probe = train_probe(x, y, data.num_classes, probe_config)
            score = score_probe(probe, nat[test_idx], data.natural_labels[test_idx])
            results.append(
                TransferResult(kind, float(mix), len(y), score.accuracy, score.per_class_accuracy)
            )
    return tuple(results)


def _subsample(x: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    if limit is None or x.shape[0] <= limit:
        return x
    return x[np.sort(np.random.default_rng(seed).choice(x.shape[0], limit, replace=False))]


def analyze(data: ProbeData, config: AnalysisConfig | None = None) -> Analysis:
    """Run every analysis on a synthetic set and a natural set, per class and overall.

    Diversity, fidelity and coverage, adherence (CLIP score, zero-shot), ambiguity (modes,
    drift, prompt collisions), concept representation (centroid offset, true-class rank),
    transfer (train on synthetic, test on natural), CLIP geometry, and a per-class diagnosis
    of the four issues with the thresholds of :class:`AnalysisConfig`. Analyses that need text
    embeddings are skipped (NaN) when ``data.text`` is ``None``. The many small host-side
    eigenvalue problems run with single-threaded BLAS (threads only contend at that size).

    Args:
        data: The embeddings.
        config: Settings.

    Returns:
        The analysis.

    Raises:
        ProbeInputError: Invalid data (see :class:`ProbeData`) or settings.

    Example:
        >>> from tti_probe import simulate
        >>> world = simulate(num_classes=5, per_class=40, dim=16, seed=0)
        >>> result = analyze(world.data, AnalysisConfig(probe_kinds=("linear",), progress=False))
        >>> [c.name for c in result.classes if "ambiguity" in c.issues]
        ['crane']
    """
    with threadpool_limits(1, user_api="blas"):
        return _analyze(data, config)


def _analyze(data: ProbeData, config: AnalysisConfig | None = None) -> Analysis:
    config = config or AnalysisConfig()
    names = data.class_names
    num_classes = data.num_classes
    syn, nat = data.synthetic, data.natural
    text, syn_text, sense_text = data.text, data.synthetic_text, data.sense_text
    if config.normalize:
        syn, nat = l2_normalize(syn), l2_normalize(nat)
        text = None if text is None else l2_normalize(text)
        syn_text = None if syn_text is None else l2_normalize(syn_text)
        sense_text = None if sense_text is None else l2_normalize(sense_text)
    ys, yn = data.synthetic_labels, data.natural_labels
    nat_centroids = class_centroids(nat, yn, num_classes)

    zs_syn = zs_nat = None
    clip_syn = clip_nat = np.full(0, np.nan)
    if text is not None:
        zs_syn = zero_shot(syn, ys, text)
        zs_nat = zero_shot(nat, yn, text)
        clip_syn = clip_scores(syn, syn_text if syn_text is not None else text[ys])
        clip_nat = clip_scores(nat, text[yn])
    collisions = prompt_collisions(text, config.collision_threshold) if text is not None else ()
    prompt_sims = None
    if text is not None and num_classes > 1:
        prompt_sims = text.astype(np.float64) @ text.astype(np.float64).T
        np.fill_diagonal(prompt_sims, -np.inf)
    offsets = concept_offsets(syn, ys, nat, yn, num_classes)
    geo = geometry(syn, ys, nat, yn, text) if text is not None else None
    drift_idx, _ = nearest_rows(syn, np.nan_to_num(nat_centroids, nan=0.0))
    transfer = (
        transfer_study(
            dataclasses.replace(data, synthetic=syn, natural=nat),
            dataclasses.replace(config, normalize=False),
        )
        if config.probe_kinds and config.mixes
        else ()
    )
    first_syn = next((t for t in transfer if t.synthetic_fraction == 1.0), None)
    first_nat = next(
        (
            t
            for t in transfer
            if t.synthetic_fraction == 0.0 and (first_syn is None or t.kind == first_syn.kind)
        ),
        None,
    )

    reports = []
    classes = range(num_classes)
    # Per-class fidelity of every class at once (batched distance tiles).
    measurable = [c for c in classes if np.sum(ys == c) > config.k and np.sum(yn == c) > config.k]
    fidelities: dict[int, Fidelity] = dict(
        zip(
            measurable,
            fidelity_many(
                [(nat[yn == c], syn[ys == c]) for c in measurable],
                config.k,
                kernels=config.kernels,
                block=config.block,
            ),
            strict=True,
        )
    )
    for c in tqdm(classes, desc="tti-probe: classes", disable=not config.progress):
        s_c = syn[ys == c]
        n_c = nat[yn == c]
        div_s = diversity(s_c) if len(s_c) >= 2 else None
        div_n = diversity(n_c) if len(n_c) >= 2 else None
        fid = fidelities.get(c)
        modes_s = (
            count_modes(
                s_c,
                config.max_modes,
                dims=config.mode_dims,
                min_fraction=config.min_mode_fraction,
                seed=config.seed,
            )
            if len(s_c) >= 8
            else None
        )
        modes_n = (
            count_modes(
                n_c,
                config.max_modes,
                dims=config.mode_dims,
                min_fraction=config.min_mode_fraction,
                seed=config.seed,
            )
            if len(n_c) >= 8
            else None
        )
        summaries: list[ModeSummary] = []
        if modes_s is not None:
            cls_idx, cls_cos = nearest_rows(
                modes_s.centroids.astype(np.float32), np.nan_to_num(nat_centroids, nan=0.0)
            )
            if sense_text is not None and len(data.sense_names):
                sense_idx, sense_cos = nearest_rows(
                    modes_s.centroids.astype(np.float32), sense_text
                )
            for j in range(modes_s.count):
                summaries.append(
                    ModeSummary(
                        fraction=float(modes_s.fractions[j]),
                        nearest_class=names[int(cls_idx[j])],
                        nearest_class_cosine=float(cls_cos[j]),
                        nearest_sense=(
                            data.sense_names[int(sense_idx[j])]
                            if sense_text is not None and len(data.sense_names)
                            else None
                        ),
                        nearest_sense_cosine=(
                            float(sense_cos[j])
                            if sense_text is not None and len(data.sense_names)
                            else float("nan")
                        ),
                    )
                )
        drift = drift_idx[ys == c]
        wrong = drift[drift != c]
        drift_target = names[int(np.bincount(wrong).argmax())] if len(wrong) else None
        confused = None
        if zs_syn is not None:
            row = zs_syn.confusion[c].copy()
            row[c] = 0
            confused = names[int(row.argmax())] if row.sum() > 0 else None
        nearest_prompt, nearest_prompt_cos = None, float("nan")
        if prompt_sims is not None:
            j = int(np.argmax(prompt_sims[c]))
            nearest_prompt, nearest_prompt_cos = names[j], float(prompt_sims[c, j])
        zs_s = float(zs_syn.per_class_accuracy[c]) if zs_syn is not None else float("nan")
        zs_n = float(zs_nat.per_class_accuracy[c]) if zs_nat is not None else float("nan")
        n_modes_s = modes_s.count if modes_s is not None else 1
        n_modes_n = modes_n.count if modes_n is not None else 1
        issues = []
        ambiguous = n_modes_s >= config.ambiguity_min_modes and n_modes_s > n_modes_n
        if ambiguous:
            issues.append("ambiguity")
        # Ambiguity explains a zero-shot loss by itself, so adherence is judged without it.
        if not ambiguous and zs_n - zs_s > config.adherence_margin:
            issues.append("adherence")
        if (
            div_s is not None
            and div_n is not None
            and div_s.vendi < config.low_diversity_ratio * div_n.vendi
        ):
            issues.append("low diversity")
        if math.isfinite(offsets.offset[c]) and offsets.offset[c] >= config.concept_threshold:
            issues.append("not represented")
        s_mask = ys == c
        reports.append(
            ClassReport(
                name=names[c],
                n_synthetic=len(s_c),
                n_natural=len(n_c),
                diversity_synthetic=div_s,
                diversity_natural=div_n,
                fidelity=fid,
                clip_score_synthetic=float(np.mean(clip_syn[s_mask]))
                if clip_syn.size and s_mask.any()
                else float("nan"),
                clip_score_natural=float(np.mean(clip_nat[yn == c]))
                if clip_nat.size and (yn == c).any()
                else float("nan"),
                zero_shot_synthetic=zs_s,
                zero_shot_natural=zs_n,
                zero_shot_confused_with=confused,
                modes_synthetic=n_modes_s,
                modes_natural=n_modes_n,
                modes=tuple(summaries),
                drift_fraction=float(len(wrong) / len(drift)) if len(drift) else float("nan"),
                drift_target=drift_target,
                nearest_prompt=nearest_prompt,
                nearest_prompt_cosine=nearest_prompt_cos,
                concept_offset=float(offsets.offset[c]),
                true_class_rank=int(offsets.rank[c]),
                text_to_natural=float(geo.text_to_natural[c]) if geo is not None else float("nan"),
                text_to_synthetic=float(geo.text_to_synthetic[c])
                if geo is not None
                else float("nan"),
                transfer_synthetic=float(first_syn.per_class_accuracy[c])
                if first_syn is not None
                else float("nan"),
                transfer_natural=float(first_nat.per_class_accuracy[c])
                if first_nat is not None
                else float("nan"),
                issues=tuple(issues),
            )
        )

    pooled = None
    if config.pooled and len(syn) > config.k and len(nat) > config.k:
        pooled = fidelity(
            _subsample(nat, config.max_pooled, config.seed),
            _subsample(syn, config.max_pooled, config.seed + 1),
            config.k,
            kernels=config.kernels,
            block=config.block,
        )
    summary = _summarise(reports, zs_syn, zs_nat, clip_syn, clip_nat, transfer)
    return Analysis(names, tuple(reports), summary, pooled, geo, collisions, transfer, config)


def _summarise(
    reports: Sequence[ClassReport],
    zs_syn: object,
    zs_nat: object,
    clip_syn: np.ndarray,
    clip_nat: np.ndarray,
    transfer: Sequence[TransferResult],
) -> dict[str, float]:
    def mean_of(getter: str, source: str) -> float:
        values = []
        for r in reports:
            obj = getattr(r, source)
            values.append(getattr(obj, getter) if obj is not None else float("nan"))
        return _nanmean(values)

    summary: dict[str, float] = {
        "classes": float(len(reports)),
        "synthetic_images": float(sum(r.n_synthetic for r in reports)),
        "natural_images": float(sum(r.n_natural for r in reports)),
        "vendi_synthetic": mean_of("vendi", "diversity_synthetic"),
        "vendi_natural": mean_of("vendi", "diversity_natural"),
        "mean_cosine_distance_synthetic": mean_of("mean_cosine_distance", "diversity_synthetic"),
        "mean_cosine_distance_natural": mean_of("mean_cosine_distance", "diversity_natural"),
        "effective_rank_synthetic": mean_of("effective_rank", "diversity_synthetic"),
        "effective_rank_natural": mean_of("effective_rank", "diversity_natural"),
        "class_precision": mean_of("precision", "fidelity"),
        "class_recall": mean_of("recall", "fidelity"),
        "class_density": mean_of("density", "fidelity"),
        "class_coverage": mean_of("coverage", "fidelity"),
        "class_frechet": mean_of("frechet", "fidelity"),
        "class_kid": mean_of("kid", "fidelity"),
        "class_cmmd": mean_of("cmmd", "fidelity"),
        "zero_shot_synthetic": getattr(zs_syn, "accuracy", float("nan")),
        "zero_shot_natural": getattr(zs_nat, "accuracy", float("nan")),
        "clip_score_synthetic": float(np.mean(clip_syn)) if clip_syn.size else float("nan"),
        "clip_score_natural": float(np.mean(clip_nat)) if clip_nat.size else float("nan"),
        "concept_offset": _nanmean([r.concept_offset for r in reports]),
        "true_class_rank_1": _nanmean([float(r.true_class_rank == 1) for r in reports]),
        "drift_fraction": _nanmean([r.drift_fraction for r in reports]),
    }
    for issue in ISSUES:
        summary["classes_" + issue.replace(" ", "_")] = float(
            sum(issue in r.issues for r in reports)
        )
    for t in transfer:
        summary[f"transfer_{t.kind}_synthetic_{t.synthetic_fraction:g}"] = t.accuracy
    return summary
