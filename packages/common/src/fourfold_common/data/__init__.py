"""Dataset loaders returning numpy arrays, and deterministic splits.

Example:
    >>> from fourfold_common.data import load_digits, train_val_split
    >>> train, val = train_val_split(load_digits(), val_fraction=0.2, seed=0)
    >>> len(train) + len(val)
    1797
"""

from fourfold_common.data._dataset import ArrayDataset, DatasetError
from fourfold_common.data._digits import load_digits
from fourfold_common.data._folder import IMAGE_SUFFIXES, list_image_folder, load_image_folder
from fourfold_common.data._idx import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_DIR,
    MNIST_CLASSES,
    load_fashion_mnist,
    load_idx,
    load_idx_dataset,
    parse_idx,
)
from fourfold_common.data._split import split_indices, train_val_split

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_DIR",
    "IMAGE_SUFFIXES",
    "MNIST_CLASSES",
    "ArrayDataset",
    "DatasetError",
    "list_image_folder",
    "load_digits",
    "load_fashion_mnist",
    "load_idx",
    "load_idx_dataset",
    "load_image_folder",
    "parse_idx",
    "split_indices",
    "train_val_split",
]
