"""Deterministic train/validation splits."""

from __future__ import annotations

import numpy as np

from fourfold_common.data._dataset import ArrayDataset, DatasetError


def split_indices(
    num_examples: int, val_fraction: float, seed: int, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(num_examples)`` into train and validation indices.

    The split depends only on ``(num_examples, val_fraction, seed, labels)``, never on global
    random state. With ``labels`` the split is stratified: every class gives the same fraction
    (rounded) to validation.

    Args:
        num_examples: Number of examples to split.
        val_fraction: Fraction in ``[0, 1)`` that goes to validation.
        seed: Seed of the permutation.
        labels: Optional class label per example for a stratified split.

    Returns:
        ``(train_indices, val_indices)``, each sorted ascending.

    Example:
        >>> train, val = split_indices(10, 0.2, seed=0)
        >>> len(train), len(val)
        (8, 2)
    """
    if num_examples < 0:
        raise DatasetError(f"num_examples must be >= 0, got {num_examples}")
    if not 0.0 <= val_fraction < 1.0:
        raise DatasetError(f"val_fraction must lie in [0, 1), got {val_fraction}")
    rng = np.random.default_rng(seed)
    if labels is None:
        order = rng.permutation(num_examples)
        num_val = round(num_examples * val_fraction)
        return np.sort(order[num_val:]), np.sort(order[:num_val])
    labels = np.asarray(labels)
    if labels.shape != (num_examples,):
        raise DatasetError(f"labels must have shape ({num_examples},), got {labels.shape}")
    val_parts = []
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        members = members[rng.permutation(members.size)]
        val_parts.append(members[: round(members.size * val_fraction)])
    val = np.sort(np.concatenate(val_parts)) if val_parts else np.zeros(0, np.int64)
    train = np.setdiff1d(np.arange(num_examples), val)
    return train, val


def train_val_split(
    dataset: ArrayDataset, val_fraction: float = 0.1, seed: int = 0, stratify: bool = True
) -> tuple[ArrayDataset, ArrayDataset]:
    """Split a dataset into train and validation parts deterministically.

    Args:
        dataset: The dataset to split.
        val_fraction: Fraction in ``[0, 1)`` that goes to validation.
        seed: Seed of the split; the same seed always gives the same split.
        stratify: Keep class proportions equal in both parts.

    Returns:
        ``(train, val)`` datasets.

    Example:
        >>> import numpy as np
        >>> ds = ArrayDataset(np.zeros((10, 2, 2)), np.array([0, 1] * 5), ("a", "b"))
        >>> train, val = train_val_split(ds, 0.2, seed=1)
        >>> len(train), sorted(val.labels.tolist())
        (8, [0, 1])
    """
    train, val = split_indices(
        len(dataset), val_fraction, seed, dataset.labels if stratify else None
    )
    return dataset.subset(train), dataset.subset(val)
