"""``Thumb``: a small value type around the encoded bytes."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from delaunay_thumb._decode import decode
from delaunay_thumb._errors import DecodeError

#: MIME type used in ``data:`` URIs.
MIME_TYPE = "image/x-delaunay-thumb"


@dataclass(frozen=True)
class Thumb:
    """An encoded thumbnail.

    Attributes:
        data: The stream bytes.

    Example:
        >>> import numpy as np
        >>> from delaunay_thumb import Thumb, encode
        >>> t = Thumb(encode(np.full((8, 8), 128, np.uint8), 40))
        >>> Thumb.from_base64(t.to_base64()) == t
        True
        >>> t.decode(16).shape
        (16, 16, 3)
    """

    data: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.data, bytes):
            raise TypeError(f"Thumb.data must be bytes, got {type(self.data).__name__}")

    def __len__(self) -> int:
        return len(self.data)

    def to_base64(self) -> str:
        """The bytes as standard base64 text."""
        return base64.b64encode(self.data).decode("ascii")

    @classmethod
    def from_base64(cls, text: str) -> Thumb:
        """Build from base64 text; raises :class:`DecodeError` for invalid base64."""
        try:
            return cls(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError, TypeError) as err:
            raise DecodeError(f"invalid base64: {err}") from err

    def data_uri(self) -> str:
        """A ``data:`` URI carrying the bytes (for embedding next to a JavaScript decoder)."""
        return f"data:{MIME_TYPE};base64,{self.to_base64()}"

    def decode(self, size: int | tuple[int, int] | None = None) -> NDArray[np.uint8]:
        """Decode to ``(h, w, 3)`` uint8; see :func:`delaunay_thumb.decode`."""
        return decode(self.data, size)
