"""CLIP geometry: modality gap, cone angle, prompt-to-centroid cosines."""

from __future__ import annotations

import dataclasses

import numpy as np

from tti_probe._analysis_inputs import ProbeInputError, as_embeddings, l2_normalize


def modality_gap(images: object, texts: object) -> float:
    """Modality gap ``|mean(u_img) - mean(u_txt)|`` of unit-normalised embeddings.

    The definition of Liang et al. 2022 ("Mind the Gap"), who measured about 0.82 for CLIP.

    Example:
        >>> round(modality_gap([[1.0, 0.0]], [[0.0, 1.0]]), 4)
        1.4142
    """
    x = l2_normalize(as_embeddings(images, "images"))
    t = l2_normalize(as_embeddings(texts, "texts"))
    if x.shape[1] != t.shape[1]:
        raise ProbeInputError("images and texts differ in dimension")
    diff = x.astype(np.float64).mean(axis=0) - t.astype(np.float64).mean(axis=0)
    return float(np.linalg.norm(diff))


def mean_pairwise_cosine(x: object) -> float:
    """Cone angle as the mean cosine over pairs ``i != j`` (1 = all one direction, 0 = spread).

    Computed exactly in ``O(n d)`` from ``|sum_i u_i|^2``.

    Example:
        >>> mean_pairwise_cosine([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
        0.3333333333333333
    """
    u = l2_normalize(as_embeddings(x, "embeddings", min_rows=2)).astype(np.float64)
    n = u.shape[0]
    total = u.sum(axis=0)
    return float((total @ total - n) / (n * (n - 1)))


@dataclasses.dataclass(frozen=True)
class Geometry:
    """Joint-embedding geometry of a probe's data.

    Attributes:
        modality_gap_natural: Gap between natural images and class prompts.
        modality_gap_synthetic: Gap between synthetic images and class prompts.
        cone_natural: Mean pairwise cosine of natural image embeddings.
        cone_synthetic: Mean pairwise cosine of synthetic image embeddings.
        cone_text: Mean pairwise cosine of the class prompt embeddings.
        text_to_natural: Per class, cosine of the prompt with the natural centroid.
        text_to_synthetic: Per class, cosine of the prompt with the synthetic centroid.
    """

    modality_gap_natural: float
    modality_gap_synthetic: float
    cone_natural: float
    cone_synthetic: float
    cone_text: float
    text_to_natural: np.ndarray
    text_to_synthetic: np.ndarray


def class_centroids(x: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Mean of the unit-normalised embeddings of each class (NaN row for an empty class).

    Example:
        >>> class_centroids(np.array([[2.0, 0.0], [0.0, 3.0]]), np.array([0, 0]), 2)[0].tolist()
        [0.5, 0.5]
    """
    u = l2_normalize(x)
    sums = np.zeros((num_classes, u.shape[1]))
    for c in range(num_classes):
        sums[c] = u[labels == c].sum(axis=0, dtype=np.float64)
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None]


def _cos_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def geometry(
    synthetic: np.ndarray,
    synthetic_labels: np.ndarray,
    natural: np.ndarray,
    natural_labels: np.ndarray,
    text: np.ndarray,
) -> Geometry:
    """Measure the modality gap, cone angles and prompt-to-centroid cosines.

    The prompt-to-centroid cosines compare each class prompt with the centroid (mean of unit
    vectors) of its natural and of its synthetic images; a prompt closer to the synthetic
    centroid than to the natural one shows the generator following the text encoder's idea of
    the class rather than the natural images (our measure; the paper's is not public).

    Args:
        synthetic: Synthetic image embeddings (n_s, d) with labels ``synthetic_labels``.
        synthetic_labels: Their classes.
        natural: Natural image embeddings (n_n, d) with labels ``natural_labels``.
        natural_labels: Their classes.
        text: Class prompt embeddings (num_classes, d).

    Returns:
        The geometry.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(20, 4)) + 3
        >>> g = geometry(x, np.arange(20) % 2, x, np.arange(20) % 2, rng.normal(size=(2, 4)))
        >>> g.modality_gap_natural == g.modality_gap_synthetic
        True
    """
    num_classes = text.shape[0]
    nat_c = class_centroids(natural, natural_labels, num_classes)
    syn_c = class_centroids(synthetic, synthetic_labels, num_classes)
    return Geometry(
        modality_gap_natural=modality_gap(natural, text),
        modality_gap_synthetic=modality_gap(synthetic, text),
        cone_natural=mean_pairwise_cosine(natural),
        cone_synthetic=mean_pairwise_cosine(synthetic),
        cone_text=mean_pairwise_cosine(text) if num_classes > 1 else float("nan"),
        text_to_natural=_cos_rows(text.astype(np.float64), nat_c),
        text_to_synthetic=_cos_rows(text.astype(np.float64), syn_c),
    )
