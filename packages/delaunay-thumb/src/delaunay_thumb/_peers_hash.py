"""Fixed-size placeholder codes: ThumbHash and BlurHash, reported at their own sizes.

Neither has a quality knob: ThumbHash is 5-25 bytes (a DCT in a luma/chroma space with 4-bit
coefficients); BlurHash is ``6 + 2 * (nx * ny - 1)`` base-83 characters for ``nx`` x ``ny``
DCT components (at most 9 x 9, 166 characters). Both are smooth functions of position, so they
are rendered directly at the thumbnail size instead of at a small size and upsampled: ThumbHash
at a longest side equal to the thumbnail's (its aspect ratio is only approximate, so the render
is then resized to the exact thumbnail size with Lanczos); BlurHash at the exact size.

Counted bytes: ThumbHash's raw binary hash (not its base64 text); BlurHash's ASCII characters.

Both libraries are imported lazily. ``thumbhash-python`` pins ``pillow<11`` although it works
with Pillow 13, so it is installed with ``pip install --no-deps thumbhash-python``; the PyPI
``thumbhash`` 0.1.2 has a broken decoder and is not used. ``blurhash-python`` wraps the
reference C implementation. Both read pixels with Pillow's ``Image.getdata``, deprecated in
Pillow 13 and due to be removed in Pillow 14; the warning is silenced here.

Example:
    >>> import numpy as np
    >>> peer = BlurHash(4, 3)
    >>> result = peer.fixed(np.zeros((16, 24, 3), np.uint8))
    >>> result.nbytes, result.decoded.shape
    (28, (16, 24, 3))
"""

from __future__ import annotations

import abc
import base64
import contextlib
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from PIL import Image

from delaunay_thumb._metrics import resize, to_rgb_uint8
from delaunay_thumb._peers_base import (
    Peer,
    PeerDecodeError,
    PeerResult,
    _check_budgets,
    _check_size,
)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence Pillow's ``getdata`` deprecation warning raised inside both libraries."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _import(module: str, pip_command: str) -> Any:
    try:
        return __import__(module)
    except ImportError as error:
        raise ImportError(f"this peer needs the {module!r} module: {pip_command}") from error


class FixedSizePeer(Peer):
    """A code of fixed size: the same result for every budget it fits in."""

    budgeted = False

    @abc.abstractmethod
    def fixed(self, thumb: np.ndarray) -> PeerResult:
        """Code ``thumb`` at the peer's own size."""

    def search(self, thumb: np.ndarray, budgets: Sequence[int]) -> dict[int, PeerResult | None]:
        """The fixed result for each budget it fits in, ``None`` for smaller budgets."""
        _check_budgets(budgets)
        result = self.fixed(thumb)
        return {int(b): (result if result.nbytes <= b else None) for b in budgets}


class ThumbHash(FixedSizePeer):
    """ThumbHash (``thumbhash-python``), rendered at the thumbnail size."""

    name = "thumbhash"
    label = "ThumbHash (binary hash)"

    def fixed(self, thumb: np.ndarray) -> PeerResult:
        """Hash ``thumb`` (the library fits it into 100x100 first) and render it back."""
        module = _import("thumbhash", "pip install --no-deps thumbhash-python")
        rgb = to_rgb_uint8(thumb)
        with _quiet():  # the library closes its input image, so it gets a fresh one
            text = module.image_to_thumbhash(Image.fromarray(rgb))
        data = base64.b64decode(text)
        decoded = self.decode(data, rgb.shape[1], rgb.shape[0])
        return PeerResult(self.name, data, decoded, {"base_size": max(rgb.shape[:2])})

    def decode(self, data: bytes, width: int, height: int) -> np.ndarray:
        """Render the hash with its longest side ``max(width, height)``, then fit exactly.

        Raises:
            PeerDecodeError: ``data`` is not a valid ThumbHash.
        """
        _check_size(width, height)
        module = _import("thumbhash", "pip install --no-deps thumbhash-python")
        if len(data) < 5:
            raise PeerDecodeError("a ThumbHash has at least 5 bytes")
        try:
            image = module.thumbhash_to_image(bytes(data), base_size=max(width, height))
        except Exception as error:  # the library raises IndexError and others on bad input
            raise PeerDecodeError(f"invalid ThumbHash: {error}") from error
        return resize(to_rgb_uint8(image), width, height, "lanczos")


class BlurHash(FixedSizePeer):
    """BlurHash (``blurhash-python``) with ``x_components`` x ``y_components`` DCT terms.

    Args:
        x_components: Horizontal components, 1 to 9.
        y_components: Vertical components, 1 to 9.
    """

    label = "BlurHash"

    def __init__(self, x_components: int = 4, y_components: int = 3) -> None:
        if not (1 <= x_components <= 9 and 1 <= y_components <= 9):
            raise ValueError(
                f"BlurHash components must be in 1..9, got {x_components}x{y_components}"
            )
        self.x_components = x_components
        self.y_components = y_components
        self.name = f"blurhash-{x_components}x{y_components}"

    def fixed(self, thumb: np.ndarray) -> PeerResult:
        """Hash ``thumb`` and render it back at its size."""
        module = _import("blurhash", "pip install blurhash-python")
        rgb = to_rgb_uint8(thumb)
        with _quiet():
            text = module.encode(Image.fromarray(rgb), self.x_components, self.y_components)
        data = text.encode("ascii")
        decoded = self.decode(data, rgb.shape[1], rgb.shape[0])
        params = {"x_components": self.x_components, "y_components": self.y_components}
        return PeerResult(self.name, data, decoded, params)

    def decode(self, data: bytes, width: int, height: int) -> np.ndarray:
        """Render the hash at ``width`` x ``height``.

        Raises:
            PeerDecodeError: ``data`` is not a valid BlurHash.
        """
        _check_size(width, height)
        module = _import("blurhash", "pip install blurhash-python")
        try:
            text = bytes(data).decode("ascii")
            image = module.decode(text, width, height)
        except (UnicodeDecodeError, ValueError, module.BlurhashDecodeError) as error:
            raise PeerDecodeError(f"invalid BlurHash: {error}") from error
        return to_rgb_uint8(image)
