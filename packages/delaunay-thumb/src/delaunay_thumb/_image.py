"""Turn whatever the user passes to :func:`delaunay_thumb.encode` into an RGB float image."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from delaunay_thumb._errors import EncodeError

#: Largest number of input pixels accepted (Pillow's decompression-bomb guard is also active).
MAX_PIXELS = 1 << 28


def _from_pil(img: Image.Image) -> NDArray[np.float64]:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img).astype(np.float64)
        scale = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        return np.clip(arr / scale, 0.0, 1.0)
    if mode == "F":
        arr = np.asarray(img).astype(np.float64)
        if not np.all(np.isfinite(arr)):
            raise EncodeError("image contains NaN or infinite values")
        return np.clip(arr, 0.0, 1.0)
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        mode == "P" and "transparency" in img.info
    )
    if mode in ("1", "L") and not has_alpha:
        return np.asarray(img.convert("L"), dtype=np.float64) / 255.0
    arr = np.asarray(img.convert("RGBA" if has_alpha else "RGB"), dtype=np.float64) / 255.0
    return arr


def _from_array(arr: NDArray[Any]) -> NDArray[np.float64]:
    if arr.dtype == np.uint8:
        out = arr.astype(np.float64) / 255.0
    elif arr.dtype == np.uint16:
        out = arr.astype(np.float64) / 65535.0
    elif arr.dtype == np.bool_:
        out = arr.astype(np.float64)
    elif np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float64)
        if not np.all(np.isfinite(out)):
            raise EncodeError("image contains NaN or infinite values")
        if out.size and (out.min() < -1e-6 or out.max() > 1 + 1e-6):
            raise EncodeError("float images must have values in [0, 1]")
        out = np.clip(out, 0.0, 1.0)
    else:
        raise EncodeError(
            f"unsupported dtype {arr.dtype}: use uint8, uint16, bool or float in [0, 1]"
        )
    return out


def load_image(image: object) -> NDArray[np.float64]:
    """Normalise an image to ``(h, w, c)`` float64 in [0, 1] with ``c`` 1 (grey) or 3 (RGB).

    Accepts a numpy array (``HxW``, ``HxWx1``, ``HxWx2`` grey+alpha, ``HxWx3``, ``HxWx4``;
    uint8, uint16, bool or float in [0, 1]), a ``PIL.Image.Image`` of any mode, or a path.
    Alpha is composited over white: the format has no transparency.

    Raises:
        EncodeError: For anything that is not a readable image of a supported shape and dtype.

    Example:
        >>> load_image(np.zeros((2, 3), np.uint8)).shape
        (2, 3, 1)
    """
    if isinstance(image, str | os.PathLike):
        path = Path(image)
        try:
            with Image.open(path) as opened:
                opened.load()
                arr = _from_pil(opened)
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            raise EncodeError(f"cannot read image {path}: {err}") from err
    elif isinstance(image, Image.Image):
        try:
            arr = _from_pil(image)
        except (OSError, ValueError) as err:
            raise EncodeError(f"cannot convert image: {err}") from err
    elif isinstance(image, np.ndarray):
        arr = _from_array(image)
    else:
        raise EncodeError(
            f"expected a numpy array, a PIL image or a path, got {type(image).__name__}"
        )
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise EncodeError(f"unsupported image shape {arr.shape}: expected HxW or HxWx1..4")
    h, w = arr.shape[:2]
    if h == 0 or w == 0:
        raise EncodeError("image is empty")
    if h * w > MAX_PIXELS:
        raise EncodeError(f"image too large: {w}x{h} exceeds {MAX_PIXELS} pixels")
    if arr.shape[2] in (2, 4):  # composite over white
        alpha = arr[..., -1:]
        arr = arr[..., :-1] * alpha + (1.0 - alpha)
    return arr


def working_image(arr: NDArray[np.float64], long_side: int) -> NDArray[np.float64]:
    """Downscale (Lanczos, as for the benchmark thumbnails) so the long side is ``long_side``.

    Images already smaller are returned unchanged. The result is in 0..255 units.

    Example:
        >>> working_image(np.ones((100, 200, 3)), 64).shape
        (32, 64, 3)
    """
    h, w = arr.shape[:2]
    if max(h, w) <= long_side:
        return arr * 255.0
    scale = long_side / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    u8 = np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)
    chans = []
    for c in range(arr.shape[2]):
        im = Image.fromarray(u8[..., c])
        chans.append(np.asarray(im.resize((nw, nh), Image.Resampling.LANCZOS), dtype=np.float64))
    return np.stack(chans, axis=-1)
