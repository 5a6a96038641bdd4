"""WebP peers: the whole file, and the VP8 payload with the RIFF header stripped.

A lossy WebP file from Pillow (``method=6``, the slowest and best) is a 12-byte RIFF header
(``"RIFF"``, size, ``"WEBP"``), an 8-byte ``"VP8 "`` chunk header (tag, payload size), the VP8
key frame, and a zero pad byte when the frame has odd length. The stripped peer counts only the
VP8 key frame: its own 10-byte frame header carries the width and height, so the decoder rebuilds
the 20 header bytes (and the pad byte) from the payload length alone.

Example:
    >>> import numpy as np
    >>> from PIL import Image
    >>> peer = WebPStripped()
    >>> data = peer.encode_small(Image.new("RGB", (8, 8), "red"), 50, "")
    >>> peer.decode(data, 16, 16).shape
    (16, 16, 3)
"""

from __future__ import annotations

import io
import struct

from PIL import Image

from delaunay_thumb._peers_base import PeerDecodeError, RasterPeer, pil_decode

_RIFF_HEADER_BYTES = 20


def _webp_file(small: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    small.save(buffer, format="WEBP", quality=quality, method=6)
    return buffer.getvalue()


class WebPFile(RasterPeer):
    """The complete WebP file (Pillow, lossy, ``method=6``): every byte counted."""

    name = "webp-file"
    label = "WebP file (Pillow, method 6)"

    def encode_small(
        self, small: Image.Image, quality: int, variant: str, *, final: bool = False
    ) -> bytes:
        """Encode ``small`` as a complete WebP file."""
        del variant, final
        return _webp_file(small, quality)

    def decode_small(self, data: bytes) -> Image.Image:
        """Decode a WebP file."""
        return pil_decode(data, "WEBP")


def strip_riff(data: bytes) -> bytes:
    """The VP8 key frame of a simple lossy WebP file (RIFF and chunk headers removed).

    Raises:
        ValueError: ``data`` is not a simple lossy WebP file (one ``"VP8 "`` chunk).
    """
    if len(data) < _RIFF_HEADER_BYTES or data[:4] != b"RIFF" or data[8:16] != b"WEBPVP8 ":
        raise ValueError("not a simple lossy WebP file (RIFF/WEBP/'VP8 ' expected)")
    (size,) = struct.unpack("<I", data[16:20])
    payload = data[_RIFF_HEADER_BYTES : _RIFF_HEADER_BYTES + size]
    if len(payload) != size:
        raise ValueError("truncated WebP file")
    return payload


def add_riff(payload: bytes) -> bytes:
    """Rebuild the WebP file around a VP8 key frame (inverse of :func:`strip_riff`).

    Example:
        >>> data = add_riff(b"abc")
        >>> data[8:16], len(data)
        (b'WEBPVP8 ', 24)
    """
    pad = b"\x00" * (len(payload) % 2)
    riff_size = 4 + 8 + len(payload) + len(pad)
    return (
        b"RIFF"
        + struct.pack("<I", riff_size)
        + b"WEBPVP8 "
        + struct.pack("<I", len(payload))
        + payload
        + pad
    )


class WebPStripped(RasterPeer):
    """The VP8 key frame only: the 20-byte RIFF and chunk headers and the pad byte not counted."""

    name = "webp-stripped"
    label = "WebP, RIFF header stripped (VP8 frame only)"

    def encode_small(
        self, small: Image.Image, quality: int, variant: str, *, final: bool = False
    ) -> bytes:
        """Encode ``small`` and keep only the VP8 key frame."""
        del variant, final
        return strip_riff(_webp_file(small, quality))

    def decode_small(self, data: bytes) -> Image.Image:
        """Re-add the RIFF header and decode."""
        if len(data) < 10:
            raise PeerDecodeError("a VP8 key frame has at least 10 bytes")
        return pil_decode(add_riff(data), "WEBP")
