"""The labelled-array container every loader returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class DatasetError(RuntimeError):
    """A dataset is missing, unreadable or malformed.

    The message says what was expected and, when the data comes from a system package,
    which package to install.
    """


@dataclass(frozen=True)
class ArrayDataset:
    """Images and integer labels held as numpy arrays.

    Attributes:
        images: Array of shape ``(n, height, width)`` or ``(n, height, width, channels)``.
        labels: ``int64`` array of shape ``(n,)`` with values in ``[0, len(class_names))``.
        class_names: Human-readable name of each class, indexed by label.

    Example:
        >>> import numpy as np
        >>> ds = ArrayDataset(np.zeros((2, 4, 4), np.uint8), np.array([0, 1]), ("a", "b"))
        >>> len(ds), ds.num_classes
        (2, 2)
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.images.shape[0] != self.labels.shape[0]:
            raise DatasetError(
                f"images and labels disagree in length: {self.images.shape[0]} vs "
                f"{self.labels.shape[0]}"
            )
        if self.labels.ndim != 1:
            raise DatasetError(f"labels must be 1-D, got shape {self.labels.shape}")
        if self.labels.size and (
            int(self.labels.min()) < 0 or int(self.labels.max()) >= len(self.class_names)
        ):
            raise DatasetError(
                f"labels must lie in [0, {len(self.class_names)}), got "
                f"[{int(self.labels.min())}, {int(self.labels.max())}]"
            )

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_classes(self) -> int:
        """Number of classes (length of ``class_names``)."""
        return len(self.class_names)

    def subset(self, indices: np.ndarray) -> ArrayDataset:
        """Return the examples at ``indices`` (in that order), sharing class names.

        Example:
            >>> import numpy as np
            >>> ds = ArrayDataset(np.arange(3)[:, None, None], np.array([0, 1, 0]), ("a", "b"))
            >>> ds.subset(np.array([2, 0])).labels.tolist()
            [0, 0]
        """
        return ArrayDataset(self.images[indices], self.labels[indices], self.class_names)
