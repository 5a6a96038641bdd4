"""Datasets as pixel arrays in ``[0, 1]`` with integer labels, split into train and test."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fourfold_common.data import load_digits, load_fashion_mnist, train_val_split

DATASETS = ("digits", "fashion-mnist")
"""Names accepted by :func:`load_data`."""


RAW_LEVELS = {"digits": 17, "fashion-mnist": 256}
"""Number of raw integer pixel values of each dataset (the integer network's input range)."""


class DataError(ValueError):
    """A dataset name, split or subset size is not valid."""


@dataclass(frozen=True)
class Split:
    """Images in ``[0, 1]`` (``float32``, shape ``(n, h, w)``) and ``int64`` labels.

    Example:
        >>> import numpy as np
        >>> s = Split(np.zeros((2, 8, 8), np.float32), np.array([0, 1]))
        >>> len(s)
        2
    """

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def head(self, count: int | None) -> Split:
        """Return the first ``count`` examples (all when ``count`` is ``None``)."""
        if count is None:
            return self
        if count < 1:
            raise DataError(f"a subset needs at least one example, got {count}")
        return Split(self.images[:count], self.labels[:count])


def load_data(
    name: str, root: str | Path | None = None, test_fraction: float = 0.25, seed: int = 0
) -> tuple[Split, Split]:
    """Load a dataset as ``(train, test)`` splits with pixels scaled to ``[0, 1]``.

    ``digits`` (scikit-learn's 8x8 digits, values 0..16) is split deterministically and
    stratified by ``test_fraction`` and ``seed``; ``fashion-mnist`` (28x28) uses its official
    60,000 / 10,000 split, read from ``root`` or the Debian package's directory.

    Raises:
        DataError: Unknown dataset name.
        fourfold_common.data.DatasetError: The files are missing or malformed.

    Example:
        >>> train, test = load_data("digits")
        >>> train.images.shape[1:], float(train.images.max()), len(train) + len(test)
        ((8, 8), 1.0, 1797)
    """
    if name == "digits":
        train, test = train_val_split(load_digits(), val_fraction=test_fraction, seed=seed)
        scale = 16.0
    elif name == "fashion-mnist":
        train, test = load_fashion_mnist("train", root), load_fashion_mnist("test", root)
        scale = 255.0
    else:
        raise DataError(f"unknown dataset {name!r}; choose one of {DATASETS}")

    def convert(images: np.ndarray, labels: np.ndarray) -> Split:
        pixels = (images.astype(np.float32) / np.float32(scale)).clip(0.0, 1.0)
        return Split(pixels, labels.astype(np.int64))

    return convert(train.images, train.labels), convert(test.images, test.labels)
