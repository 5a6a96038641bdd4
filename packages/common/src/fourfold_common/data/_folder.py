"""Image folders: one subfolder per class."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fourfold_common.data._dataset import ArrayDataset, DatasetError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})


def list_image_folder(root: str | Path) -> tuple[list[tuple[Path, int]], tuple[str, ...]]:
    """List ``(file, label)`` pairs of a folder with one subfolder per class.

    Classes are the subfolder names sorted; files are sorted within each class, so the order
    is deterministic. Hidden files and non-image suffixes are ignored.

    Raises:
        DatasetError: ``root`` is not a directory or holds no class folder with images.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"image folder {root} does not exist or is not a directory")
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    entries: list[tuple[Path, int]] = []
    names: list[str] = []
    for class_dir in class_dirs:
        files = sorted(
            f
            for f in class_dir.iterdir()
            if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in IMAGE_SUFFIXES
        )
        if not files:
            continue
        label = len(names)
        names.append(class_dir.name)
        entries.extend((f, label) for f in files)
    if not entries:
        raise DatasetError(f"no class subfolder with images in {root}")
    return entries, tuple(names)


def load_image_folder(
    root: str | Path, size: tuple[int, int] | None = None, mode: str = "RGB"
) -> ArrayDataset:
    """Load an image folder (``root/<class>/<image>``) into arrays.

    Args:
        root: Folder with one subfolder per class.
        size: Optional ``(width, height)`` to resize every image to (Lanczos); without it all
            images must already share one size.
        mode: Pillow mode to convert to, e.g. ``"RGB"`` or ``"L"``.

    Returns:
        ``uint8`` images, labels and the class names (subfolder names, sorted).

    Raises:
        DatasetError: Pillow missing, an image unreadable, or sizes differ without ``size``.
    """
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as error:
        raise DatasetError(
            "load_image_folder needs Pillow: pip install 'fourfold-common[images]'"
        ) from error
    entries, names = list_image_folder(root)
    arrays = []
    for path, _ in entries:
        try:
            with Image.open(path) as image:
                converted = image.convert(mode)
                if size is not None:
                    converted = converted.resize(size, Image.Resampling.LANCZOS)
                arrays.append(np.asarray(converted, dtype=np.uint8))
        except (OSError, UnidentifiedImageError, ValueError) as error:
            raise DatasetError(f"cannot read image {path}: {error}") from error
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise DatasetError(
            f"images in {root} have different shapes {sorted(shapes)}: pass size=(w, h)"
        )
    labels = np.array([label for _, label in entries], dtype=np.int64)
    return ArrayDataset(np.stack(arrays), labels, names)
