"""Thumbnails and image-quality metrics for the benchmark: PSNR on RGB and SSIM.

The reference of every measurement is the *thumbnail*: the original resized with Lanczos so
that its longest side is 64 or 128 pixels. Codecs are scored on what they reconstruct at exactly
that size.

Example:
    >>> import numpy as np
    >>> from delaunay_thumb._metrics import make_thumbnail, psnr
    >>> image = np.zeros((300, 451, 3), np.uint8)
    >>> make_thumbnail(image, 64).shape
    (43, 64, 3)
    >>> psnr(image[:8, :8], image[:8, :8])
    inf
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from PIL import Image

Resample = Literal["lanczos", "bicubic", "bilinear", "nearest"]

_FILTERS: dict[str, Image.Resampling] = {
    "lanczos": Image.Resampling.LANCZOS,
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
}


def to_rgb_uint8(image: np.ndarray | Image.Image) -> np.ndarray:
    """Convert an image to a contiguous ``uint8`` array of shape ``(H, W, 3)``.

    Greyscale is replicated to three channels; an alpha channel is composited over white (a
    thumbnail is shown on a page, and white is the usual page colour); integer images wider than
    8 bits and float images in ``[0, 1]`` are rescaled; boolean images map to 0/255.

    Args:
        image: A Pillow image or an array of shape ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or
            ``(H, W, 4)``.

    Returns:
        The RGB image as ``uint8``.

    Raises:
        ValueError: The array has another shape, is empty, or has an unsupported dtype.

    Example:
        >>> to_rgb_uint8(np.ones((2, 3), bool)).shape
        (2, 3, 3)
    """
    if isinstance(image, Image.Image):
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return np.asarray(Image.alpha_composite(white, rgba).convert("RGB")).copy()
        return np.asarray(image.convert("RGB")).copy()
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        expected = "(H, W), (H, W, 3) or (H, W, 4)"
        raise ValueError(f"expected an image of shape {expected}, got {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"empty image of shape {array.shape}")
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    elif np.issubdtype(array.dtype, np.floating):
        array = np.clip(np.rint(np.nan_to_num(array) * 255.0), 0, 255).astype(np.uint8)
    elif np.issubdtype(array.dtype, np.integer):
        if array.dtype != np.uint8:
            top = 65535 if array.max(initial=0) > 255 else 255
            array = np.clip(np.rint(array.astype(np.float64) * (255.0 / top)), 0, 255)
            array = array.astype(np.uint8)
    else:
        raise ValueError(f"unsupported image dtype {array.dtype}")
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.shape[2] == 4:
        alpha = array[:, :, 3:4].astype(np.float64) / 255.0
        blended = array[:, :, :3] * alpha + 255.0 * (1.0 - alpha)
        array = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(array)


def fit_long_side(width: int, height: int, long_side: int) -> tuple[int, int]:
    """Size ``(width, height)`` scaled so that its longest side is ``long_side`` (at least 1).

    Example:
        >>> fit_long_side(451, 300, 64)
        (64, 43)
    """
    if width <= 0 or height <= 0 or long_side <= 0:
        raise ValueError(f"sizes must be positive, got {width}x{height} -> {long_side}")
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize(
    image: np.ndarray, width: int, height: int, resample: Resample = "lanczos"
) -> np.ndarray:
    """Resize an RGB ``uint8`` image with Pillow.

    Example:
        >>> resize(np.zeros((4, 4, 3), np.uint8), 8, 2).shape
        (2, 8, 3)
    """
    if resample not in _FILTERS:
        raise ValueError(f"unknown resampling filter {resample!r}; choose from {sorted(_FILTERS)}")
    if image.shape[1] == width and image.shape[0] == height:
        return image
    resized = Image.fromarray(image).resize((width, height), _FILTERS[resample])
    return np.asarray(resized).copy()


def make_thumbnail(image: np.ndarray | Image.Image, long_side: int) -> np.ndarray:
    """The benchmark reference: ``image`` resized with Lanczos to the given longest side.

    Args:
        image: Any image accepted by :func:`to_rgb_uint8`.
        long_side: Longest side of the thumbnail in pixels (64 and 128 in the benchmark).

    Returns:
        The thumbnail as ``uint8`` of shape ``(H, W, 3)``.

    Example:
        >>> make_thumbnail(np.zeros((10, 20), np.uint8), 8).shape
        (4, 8, 3)
    """
    rgb = to_rgb_uint8(image)
    width, height = fit_long_side(rgb.shape[1], rgb.shape[0], long_side)
    return resize(rgb, width, height, "lanczos")


def _check_pair(reference: np.ndarray, test: np.ndarray) -> None:
    if reference.shape != test.shape:
        raise ValueError(f"shapes differ: reference {reference.shape}, test {test.shape}")


def mse(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean squared error over all pixels and channels.

    Example:
        >>> mse(np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 2, np.uint8))
        4.0
    """
    _check_pair(reference, test)
    difference = reference.astype(np.float64) - test.astype(np.float64)
    return float(np.mean(difference * difference))


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB on RGB (peak 255), over all channels together.

    Example:
        >>> round(psnr(np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 2, np.uint8)), 2)
        42.11
    """
    error = mse(reference, test)
    if error == 0.0:
        return float("inf")
    return float(10.0 * np.log10(255.0 * 255.0 / error))


def ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """SSIM by ``skimage.metrics.structural_similarity(channel_axis=-1, data_range=255)``.

    Needs scikit-image (the ``bench`` extra). Images smaller than the default 7x7 window use the
    largest odd window that fits.

    Raises:
        ImportError: scikit-image is not installed.

    Example:
        >>> image = np.arange(300, dtype=np.uint8).reshape(10, 10, 3)
        >>> ssim(image, image)
        1.0
    """
    _check_pair(reference, test)
    try:
        from skimage.metrics import structural_similarity
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("SSIM needs scikit-image: pip install 'delaunay-thumb[bench]'") from error
    smallest = min(reference.shape[0], reference.shape[1])
    window = 7 if smallest >= 7 else max(1, smallest - (1 - smallest % 2))
    if window < 3:
        raise ValueError(f"image of shape {reference.shape} is too small for SSIM")
    value = structural_similarity(reference, test, channel_axis=-1, data_range=255, win_size=window)
    return float(value)
