"""A controlled world in embedding space that plants each of the four issues.

Every embedding is built from named parts and then L2-normalised, like CLIP features:

- a natural image of class ``c`` is ``h + s_c + k_c + noise``: a shared image-cone offset
  ``h``, the class's semantic part ``s_c`` (what a caption names), its context ``k_c`` (what
  photos of it also show) and anisotropic noise;
- a class prompt is ``g + s_c + small noise``: texts share another offset ``g``, which gives the
  modality gap of real CLIP models;
- a synthetic image of a healthy class is ``h + s_c + k_c + e + 0.85 noise`` (``e`` a small
  shared "generator style", slightly less spread than natural images).

Four classes get one planted issue each:

- **ambiguity**: half the synthetic images show another sense of the name (``s', k'``, with its
  own sense prompt);
- **adherence**: the generator under-draws the named object (semantic part x 0.2, context kept);
- **low diversity**: synthetic noise x 0.3;
- **not represented**: the generator draws the named object in a context ``k*`` that no natural
  image of the class has (semantic part kept, so zero-shot still succeeds).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tti_probe._analysis_inputs import ProbeData, ProbeInputError

_NAMES = (
    "crane", "espresso", "axolotl", "tench", "jay", "tiger", "kite", "seal", "ram", "bass",
    "mouse", "tank", "bat", "trolley", "organ", "drake", "coral", "knot", "plane", "pitcher",
)  # fmt: skip

PLANTED_ORDER = ("ambiguity", "adherence", "low diversity", "not represented")


@dataclasses.dataclass(frozen=True)
class SimulatedWorld:
    """The simulated embeddings and what was planted where.

    Attributes:
        data: Synthetic and natural embeddings, class prompts and the extra sense prompt.
        planted: ``(issue, class name)`` pairs, one per planted issue.
    """

    data: ProbeData
    planted: tuple[tuple[str, str], ...]


def _unit(rng: np.random.Generator, dim: int, norm: float) -> np.ndarray:
    v = rng.normal(size=dim)
    return norm * v / np.linalg.norm(v)


def simulate(
    num_classes: int = 12,
    per_class: int = 200,
    dim: int = 128,
    *,
    plant: bool = True,
    seed: int = 0,
    spread: float = 0.9,
    synthetic_spread: float = 0.85,
) -> SimulatedWorld:
    """Build a simulated world (see the module docs for its construction).

    Args:
        num_classes: Number of classes (at least 5 when ``plant``; names repeat with a
            numeric suffix beyond 20).
        per_class: Synthetic and natural images per class.
        dim: Embedding dimension.
        plant: Plant the four issues in classes 0-3 (``crane``, ``espresso``, ``axolotl``,
            ``tench``); otherwise every class is healthy.
        seed: Seed of everything.
        spread: Norm of the natural within-class noise relative to the class parts.
        synthetic_spread: Factor on the noise of healthy synthetic classes.

    Returns:
        The world.

    Raises:
        ProbeInputError: Too few classes, images or dimensions.

    Example:
        >>> world = simulate(num_classes=6, per_class=50, dim=32)
        >>> world.data.synthetic.shape, world.planted[0]
        ((300, 32), ('ambiguity', 'crane'))
    """
    if num_classes < (5 if plant else 2) or per_class < 10 or dim < 8:
        raise ProbeInputError(
            "simulate: need num_classes >= 5 (2 without planting), per_class >= 10, dim >= 8"
        )
    rng = np.random.default_rng(seed)
    names = tuple(
        _NAMES[i % len(_NAMES)] + ("" if i < len(_NAMES) else f"-{i // len(_NAMES)}")
        for i in range(num_classes)
    )
    h = _unit(rng, dim, 1.2)
    g = _unit(rng, dim, 1.2)
    e = _unit(rng, dim, 0.15)
    semantic = np.stack([_unit(rng, dim, 1.0) for _ in range(num_classes)])
    context = np.stack([_unit(rng, dim, 1.0) for _ in range(num_classes)])
    # Anisotropic within-class noise: a random scale per dimension, shared shape per class.
    scales = rng.uniform(0.3, 1.7, size=(num_classes, dim))

    def noise(c: int, n: int, factor: float) -> np.ndarray:
        z = rng.normal(size=(n, dim)) * scales[c]
        return factor * spread * z / np.sqrt(np.sum(scales[c] ** 2))

    natural = np.concatenate(
        [h + semantic[c] + context[c] + noise(c, per_class, 1.0) for c in range(num_classes)]
    )
    synthetic_parts = []
    planted: list[tuple[str, str]] = []
    sense_s = _unit(rng, dim, 1.0)
    sense_k = _unit(rng, dim, 1.0)
    new_context = _unit(rng, dim, 2.5)
    for c in range(num_classes):
        base = h + semantic[c] + context[c] + e
        issue = PLANTED_ORDER[c] if plant and c < len(PLANTED_ORDER) else None
        if issue == "ambiguity":
            half = per_class // 2
            other = h + sense_s + sense_k + e
            part = np.concatenate(
                [
                    base + noise(c, half, synthetic_spread),
                    other + noise(c, per_class - half, synthetic_spread),
                ]
            )
        elif issue == "adherence":
            weak = h + 0.2 * semantic[c] + context[c] + e
            part = weak + noise(c, per_class, synthetic_spread)
        elif issue == "low diversity":
            part = base + noise(c, per_class, 0.3)
        elif issue == "not represented":
            # Noise scaled with the larger norm, so normalisation does not shrink the spread.
            part = h + semantic[c] + new_context + e + noise(c, per_class, 1.6 * synthetic_spread)
        else:
            part = base + noise(c, per_class, synthetic_spread)
        if issue is not None:
            planted.append((issue, names[c]))
        synthetic_parts.append(part)
    synthetic = np.concatenate(synthetic_parts)
    labels = np.repeat(np.arange(num_classes), per_class)
    text = g + semantic + rng.normal(size=(num_classes, dim)) * 0.05
    sense_names: tuple[str, ...] = ()
    sense_text = None
    if plant:
        sense_names = (f"{names[0]} (other sense)",)
        sense_text = (g + sense_s)[None, :]
    data = ProbeData.create(
        names,
        synthetic,
        labels,
        natural,
        labels,
        text=text,
        sense_names=sense_names,
        sense_text=sense_text,
    )
    return SimulatedWorld(data, tuple(planted))
