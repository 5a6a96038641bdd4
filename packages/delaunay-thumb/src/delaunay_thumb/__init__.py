"""Extreme thumbnail codec: a whole image preview in ~200 bytes via a Delaunay triangulation.

Example:
    >>> import numpy as np
    >>> import delaunay_thumb
    >>> img = np.zeros((48, 64, 3), np.uint8); img[:, 32:] = (200, 50, 10)
    >>> data = delaunay_thumb.encode(img, max_bytes=100)
    >>> len(data) <= 100
    True
    >>> delaunay_thumb.decode(data, 128).shape
    (96, 128, 3)
"""

from delaunay_thumb.__about__ import __version__
from delaunay_thumb._decode import decode
from delaunay_thumb._encode import encode
from delaunay_thumb._errors import DecodeError, EncodeError
from delaunay_thumb._html import write_html_page
from delaunay_thumb._js import js_decoder_path
from delaunay_thumb._thumb import Thumb

__all__ = [
    "DecodeError",
    "EncodeError",
    "Thumb",
    "__version__",
    "decode",
    "encode",
    "js_decoder_path",
    "write_html_page",
]
