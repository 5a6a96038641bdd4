"""IDX files (MNIST, Fashion-MNIST) and the Fashion-MNIST loader."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from fourfold_common.data._dataset import ArrayDataset, DatasetError

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's ``dataset-fashion-mnist`` package puts the IDX files."""

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
MNIST_CLASSES = tuple(str(digit) for digit in range(10))

_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_MAX_IDX_BYTES = 2**31


def parse_idx(data: bytes) -> np.ndarray:
    """Decode the bytes of an IDX file (already decompressed) into an array.

    Args:
        data: The raw file content.

    Returns:
        An array of the dtype and shape the header declares (native byte order).

    Raises:
        DatasetError: The header is malformed or the payload length disagrees with it.

    Example:
        >>> parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 9])).tolist()
        [7, 9]
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DatasetError("not an IDX file: the magic number must start with two zero bytes")
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_DTYPES:
        raise DatasetError(f"unknown IDX element type 0x{type_code:02x}")
    header_end = 4 + 4 * ndim
    if len(data) < header_end:
        raise DatasetError("truncated IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if expected > _MAX_IDX_BYTES or len(data) - header_end != expected:
        raise DatasetError(
            f"IDX payload is {len(data) - header_end} bytes but the header {shape} "
            f"of {dtype} needs {expected}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_end).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def load_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file, gzip-compressed (``.gz``) or raw.

    Args:
        path: File to read.

    Returns:
        The decoded array.

    Raises:
        DatasetError: The file is missing, not gzip despite its name, or malformed.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DatasetError(f"cannot read IDX file {path}: {error}") from error
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise DatasetError(f"corrupt gzip data in {path}: {error}") from error
    try:
        return parse_idx(raw)
    except DatasetError as error:
        raise DatasetError(f"{path}: {error}") from error


def _find_idx(root: Path, stem: str) -> Path:
    for candidate in (root / f"{stem}.gz", root / stem):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(root / f"{stem}.gz")


def load_idx_dataset(
    root: str | Path, split: str, class_names: tuple[str, ...] = MNIST_CLASSES
) -> ArrayDataset:
    """Load an MNIST-layout directory (``train-images-idx3-ubyte[.gz]`` and so on).

    Args:
        root: Directory holding the four IDX files.
        split: ``"train"`` or ``"test"``.
        class_names: Names of the label values.

    Returns:
        Images as ``uint8`` of shape ``(n, 28, 28)`` and labels as ``int64``.

    Raises:
        DatasetError: Files missing or malformed, or ``split`` unknown.
    """
    if split not in ("train", "test"):
        raise DatasetError(f"split must be 'train' or 'test', got {split!r}")
    prefix = "train" if split == "train" else "t10k"
    root = Path(root)
    try:
        images = load_idx(_find_idx(root, f"{prefix}-images-idx3-ubyte"))
        labels = load_idx(_find_idx(root, f"{prefix}-labels-idx1-ubyte"))
    except FileNotFoundError as error:
        raise DatasetError(f"missing IDX file {error.args[0]}") from error
    if images.ndim != 3 or labels.ndim != 1:
        raise DatasetError(f"unexpected IDX shapes {images.shape} and {labels.shape} in {root}")
    return ArrayDataset(images.astype(np.uint8), labels.astype(np.int64), class_names)


def load_fashion_mnist(split: str = "train", root: str | Path | None = None) -> ArrayDataset:
    """Load Fashion-MNIST from Debian's ``dataset-fashion-mnist`` package (or ``root``).

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000 images).
        root: Directory with the IDX files; defaults to ``/usr/share/datasets/fashion-mnist``.

    Returns:
        ``uint8`` images of shape ``(n, 28, 28)``, labels and the ten class names.

    Raises:
        DatasetError: The files are absent (the message names the Debian package) or malformed.

    Example:
        >>> test = load_fashion_mnist("test")  # doctest: +SKIP
        >>> test.images.shape
        (10000, 28, 28)
    """
    directory = Path(root) if root is not None else FASHION_MNIST_DIR
    if root is None and not directory.is_dir():
        raise DatasetError(
            f"Fashion-MNIST not found in {directory}: install the Debian package with "
            "'apt-get install -y dataset-fashion-mnist' or pass root=<directory with the IDX files>"
        )
    return load_idx_dataset(directory, split, FASHION_MNIST_CLASSES)
