"""scikit-learn's bundled 8x8 handwritten digits."""

from __future__ import annotations

import numpy as np

from fourfold_common.data._dataset import ArrayDataset, DatasetError


def load_digits() -> ArrayDataset:
    """Load the 1,797 8x8 digits that ship inside scikit-learn (no download).

    Returns:
        ``uint8`` images of shape ``(1797, 8, 8)`` with values 0..16, labels 0..9.

    Raises:
        DatasetError: scikit-learn is not installed (install ``fourfold-common[digits]``).

    Example:
        >>> ds = load_digits()
        >>> ds.images.shape, ds.num_classes
        ((1797, 8, 8), 10)
    """
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError as error:
        raise DatasetError(
            "load_digits needs scikit-learn: pip install 'fourfold-common[digits]'"
        ) from error
    bunch = sklearn_load_digits()
    images = np.asarray(bunch.images, dtype=np.uint8)
    labels = np.asarray(bunch.target, dtype=np.int64)
    return ArrayDataset(images, labels, tuple(str(d) for d in range(10)))
