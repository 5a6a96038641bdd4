"""The default benchmark images: the 9 colour photos bundled with scikit-image.

``astronaut``, ``chelsea``, ``coffee``, ``colorwheel``, ``hubble_deep_field``,
``immunohistochemistry``, ``retina``, ``rocket`` and the left view of ``stereo_motorcycle``:
every RGB image that ``skimage.data`` loads offline, each once (``cat`` is the same picture as
``chelsea``; ``logo`` is RGBA artwork, not a photo). With this set the ThumbHash and BlurHash
baselines of the prior-art note are reproduced to the last digit.

Example:
    >>> images = default_images(["coffee"])
    >>> images["coffee"].shape
    (400, 600, 3)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_IMAGE_NAMES: tuple[str, ...] = (
    "astronaut",
    "chelsea",
    "coffee",
    "colorwheel",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "rocket",
    "stereo_motorcycle",
)


def default_images(names: Sequence[str] = DEFAULT_IMAGE_NAMES) -> dict[str, np.ndarray]:
    """Load bundled scikit-image photos by name (``uint8``, ``(H, W, 3)``), offline.

    Args:
        names: Names of ``skimage.data`` loaders; for ``stereo_motorcycle`` the left view is
            used.

    Raises:
        ImportError: scikit-image is not installed (``pip install 'delaunay-thumb[bench]'``).
        ValueError: A name is not an RGB image bundled with scikit-image.
    """
    try:
        from skimage import data
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the default images need scikit-image: pip install 'delaunay-thumb[bench]'"
        ) from error
    images: dict[str, np.ndarray] = {}
    for name in names:
        loader = getattr(data, name, None)
        if name.startswith("_") or not callable(loader):
            raise ValueError(f"skimage.data has no image called {name!r}")
        try:
            image = loader()
        except Exception as error:  # e.g. an image that needs a download
            raise ValueError(f"skimage.data.{name} cannot be loaded offline: {error}") from error
        if isinstance(image, tuple):
            image = image[0]
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"skimage.data.{name} is not an RGB uint8 image ({image.shape})")
        images[name] = image
    return images
