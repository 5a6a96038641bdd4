"""Concept representation: how far the synthetic centroid of a class sits from the natural one."""

from __future__ import annotations

import dataclasses

import numpy as np

from tti_probe._analysis_geometry import class_centroids


@dataclasses.dataclass(frozen=True)
class ConceptOffsets:
    """Per-class offsets of synthetic centroids from natural centroids.

    Attributes:
        offset: ``|c_syn - c_nat| / min_{c' != c} |c_nat - c'_nat|``: 1 means the synthetic
            centroid is as far from its class as the nearest other natural class is (NaN with
            one class or an empty set).
        rank: Rank (1 = nearest) of the true class's natural centroid among all natural
            centroids, by distance to the synthetic centroid (0 when undefined).
        nearest_class: Index of the natural centroid nearest the synthetic centroid (-1 when
            undefined).
        distance: The raw centroid distance ``|c_syn - c_nat|``.
    """

    offset: np.ndarray
    rank: np.ndarray
    nearest_class: np.ndarray
    distance: np.ndarray


def concept_offsets(
    synthetic: np.ndarray,
    synthetic_labels: np.ndarray,
    natural: np.ndarray,
    natural_labels: np.ndarray,
    num_classes: int,
) -> ConceptOffsets:
    """Synthetic-to-natural centroid offset normalised by inter-class distances (our measure).

    Centroids are means of unit-normalised embeddings. The offset divides the distance between
    a class's synthetic and natural centroids by the distance from its natural centroid to the
    nearest other natural centroid; the rank tells whether the synthetic centroid is nearer its
    own class than any other (rank 1) or not.

    Example:
        >>> nat = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> syn = np.array([[0.1, 1.0], [0.0, 1.0]])
        >>> out = concept_offsets(syn, np.array([0, 1]), nat, np.array([0, 1]), 2)
        >>> out.rank.tolist(), out.nearest_class.tolist()
        ([2, 1], [1, 1])
    """
    nat_c = class_centroids(natural, natural_labels, num_classes)
    syn_c = class_centroids(synthetic, synthetic_labels, num_classes)
    between = np.linalg.norm(nat_c[:, None, :] - nat_c[None, :, :], axis=2)
    np.fill_diagonal(between, np.inf)
    with np.errstate(invalid="ignore"):
        nearest_other = np.nanmin(np.where(np.isnan(between), np.inf, between), axis=1)
    to_nat = np.linalg.norm(syn_c[:, None, :] - nat_c[None, :, :], axis=2)
    own = to_nat[np.arange(num_classes), np.arange(num_classes)]
    offset = np.full(num_classes, np.nan)
    rank = np.zeros(num_classes, np.int64)
    nearest = np.full(num_classes, -1, np.int64)
    for c in range(num_classes):
        if np.isnan(own[c]):
            continue
        row = np.where(np.isnan(to_nat[c]), np.inf, to_nat[c])
        rank[c] = 1 + int(np.sum(row < own[c]))
        nearest[c] = int(np.argmin(row))
        if np.isfinite(nearest_other[c]) and nearest_other[c] > 0:
            offset[c] = own[c] / nearest_other[c]
    return ConceptOffsets(offset=offset, rank=rank, nearest_class=nearest, distance=own)
