"""Sweeps: how every measure moves with guidance scale and prompt strategy."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from tti_probe._analysis import Analysis, AnalysisConfig, analyze
from tti_probe._analysis_inputs import ProbeData, ProbeInputError


@dataclasses.dataclass(frozen=True)
class SweepCondition:
    """One generation condition: the synthetic set made with it, and its labels.

    Attributes:
        data: Synthetic embeddings of this condition with the (shared) natural embeddings.
        guidance_scale: Classifier-free guidance scale (``None`` if not applicable).
        strategy: Prompt strategy name (``None`` if not applicable).
        name: Free label; defaults to ``"<strategy> g=<guidance>"``.
    """

    data: ProbeData
    guidance_scale: float | None = None
    strategy: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        """The condition's display name."""
        if self.name:
            return self.name
        guidance = "-" if self.guidance_scale is None else f"{self.guidance_scale:g}"
        return f"{self.strategy or '-'} g={guidance}"


@dataclasses.dataclass(frozen=True)
class SweepPoint:
    """Summary figures of one condition.

    Attributes:
        name: Condition label.
        guidance_scale: Guidance scale.
        strategy: Prompt strategy.
        vendi_synthetic: Mean per-class Vendi score of the synthetic sets.
        mean_cosine_distance_synthetic: Mean per-class mean pairwise cosine distance.
        precision: Mean per-class precision.
        recall: Mean per-class recall.
        density: Mean per-class density.
        coverage: Mean per-class coverage.
        frechet: Mean per-class Fréchet distance.
        zero_shot_synthetic: Zero-shot accuracy of the synthetic images.
        clip_score_synthetic: Mean CLIP score of the synthetic images.
        transfer_accuracy: Accuracy on natural test images of the first probe trained on
            synthetic images only.
        classes_flagged: Number of classes with at least one issue.
    """

    name: str
    guidance_scale: float | None
    strategy: str | None
    vendi_synthetic: float
    mean_cosine_distance_synthetic: float
    precision: float
    recall: float
    density: float
    coverage: float
    frechet: float
    zero_shot_synthetic: float
    clip_score_synthetic: float
    transfer_accuracy: float
    classes_flagged: int


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A sweep's points and the full analysis of each condition.

    Attributes:
        points: One summary per condition, in input order.
        analyses: The full analysis per condition.
    """

    points: tuple[SweepPoint, ...]
    analyses: tuple[Analysis, ...]


def sweep(conditions: Sequence[SweepCondition], config: AnalysisConfig | None = None) -> Sweep:
    """Analyse each condition's synthetic set against the natural set and summarise.

    The default settings skip the pooled comparison and train only the linear probe on
    synthetic images (``mixes=(1.0,)``), which is what the trade-off curve needs; pass a
    ``config`` to change that.

    Args:
        conditions: The conditions (e.g. one per guidance scale x prompt strategy).
        config: Analysis settings.

    Returns:
        The sweep.

    Raises:
        ProbeInputError: No condition, or conditions with different class lists.

    Example:
        >>> from tti_probe import simulate
        >>> a = simulate(num_classes=5, per_class=30, dim=16, synthetic_spread=1.0)
        >>> b = simulate(num_classes=5, per_class=30, dim=16, synthetic_spread=0.3)
        >>> conditions = [SweepCondition(a.data, 2.0, "name"), SweepCondition(b.data, 7.5, "name")]
        >>> result = sweep(conditions)
        >>> result.points[0].vendi_synthetic > result.points[1].vendi_synthetic
        True
    """
    if not conditions:
        raise ProbeInputError("sweep: no condition given")
    names = conditions[0].data.class_names
    if any(c.data.class_names != names for c in conditions):
        raise ProbeInputError("sweep: every condition must use the same class list")
    config = config or AnalysisConfig(
        pooled=False, probe_kinds=("linear",), mixes=(1.0,), progress=False
    )
    points, analyses = [], []
    for condition in conditions:
        result = analyze(condition.data, config)
        s = result.summary
        first = next((t for t in result.transfer if t.synthetic_fraction == 1.0), None)
        points.append(
            SweepPoint(
                name=condition.label,
                guidance_scale=condition.guidance_scale,
                strategy=condition.strategy,
                vendi_synthetic=s["vendi_synthetic"],
                mean_cosine_distance_synthetic=s["mean_cosine_distance_synthetic"],
                precision=s["class_precision"],
                recall=s["class_recall"],
                density=s["class_density"],
                coverage=s["class_coverage"],
                frechet=s["class_frechet"],
                zero_shot_synthetic=s["zero_shot_synthetic"],
                clip_score_synthetic=s["clip_score_synthetic"],
                transfer_accuracy=first.accuracy if first is not None else float("nan"),
                classes_flagged=sum(bool(r.issues) for r in result.classes),
            )
        )
        analyses.append(result)
    return Sweep(tuple(points), tuple(analyses))
