"""Datasets as raw integer images (executor input) plus their float view (JAX input)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from fourfold_common.data import load_digits, load_fashion_mnist, train_val_split
from mulfree_quant._errors import MulfreeError

DATASETS = ("digits", "fashion-mnist")


@dataclass(frozen=True)
class Split:
    """Images of one split.

    Attributes:
        raw: Integer images ``(n, h, w, 1)`` in ``[0, raw_max]`` (what the executor reads).
        labels: ``int64`` labels.
        raw_max: Largest raw value (255 for Fashion-MNIST, 16 for digits).
    """

    raw: np.ndarray
    labels: np.ndarray
    raw_max: int

    @cached_property
    def images(self) -> np.ndarray:
        """Float32 view in ``[0, 1]`` (what the JAX models read); computed once."""
        return (self.raw.astype(np.float32) / np.float32(self.raw_max)).astype(np.float32)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def take(self, count: int) -> Split:
        """The first ``count`` samples."""
        return Split(self.raw[:count], self.labels[:count], self.raw_max)


def load_dataset(name: str, *, seed: int = 0) -> tuple[Split, Split]:
    """``(train, test)`` of ``"digits"`` (75/25 stratified split) or ``"fashion-mnist"``.

    Raises:
        MulfreeError: Unknown dataset name.
        fourfold_common.data.DatasetError: The data files are missing.

    Example:
        >>> train, test = load_dataset("digits")
        >>> train.raw.shape[1:], train.raw_max, len(train) + len(test)
        ((8, 8, 1), 16, 1797)
    """
    if name == "digits":
        train, test = train_val_split(load_digits(), val_fraction=0.25, seed=seed)
        return (
            Split(train.images[..., None], train.labels, 16),
            Split(test.images[..., None], test.labels, 16),
        )
    if name == "fashion-mnist":
        train_set, test_set = load_fashion_mnist("train"), load_fashion_mnist("test")
        return (
            Split(train_set.images[..., None], train_set.labels, 255),
            Split(test_set.images[..., None], test_set.labels, 255),
        )
    raise MulfreeError(f"unknown dataset {name!r}; choose from {DATASETS}")
