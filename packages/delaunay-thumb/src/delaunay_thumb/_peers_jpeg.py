"""JPEG peer with a shared header: only the entropy-coded scan and three bytes are counted.

As in Facebook's 2015 preview photos, the JPEG header is shipped once with the application
rather than with every image. Pillow (libjpeg, baseline, standard Huffman tables, no
``optimize``) writes SOI, the JFIF APP0 segment, the quantisation tables of the chosen quality,
the frame header (SOF0, which holds the width and height), the four standard Huffman tables and
the scan header (SOS); then the entropy-coded scan; then EOI. Everything except the scan is a
pure function of (quality, chroma subsampling, width, height), and the encoder checks that it is
byte-identical to the shared header it rebuilds. So the counted bytes are:

* 1 byte: quality (1-100) in the low 7 bits, the top bit set for 4:4:4 chroma (else 4:2:0);
* 1 byte each: width - 1 and height - 1 of the coded image (at most 256 px);
* the entropy-coded scan data, without the 2-byte EOI marker.

The decoder rebuilds the header by encoding a blank image with the same settings and size.

Example:
    >>> from PIL import Image
    >>> peer = JpegSharedHeader()
    >>> data = peer.encode_small(Image.new("RGB", (8, 8), "red"), 50, "4:2:0")
    >>> list(data[:3]), peer.decode(data, 16, 16).shape
    ([50, 7, 7], (16, 16, 3))
"""

from __future__ import annotations

import functools
import io
import struct

from PIL import Image

from delaunay_thumb._peers_base import PeerDecodeError, RasterPeer, pil_decode

_SUBSAMPLING = {"4:2:0": 2, "4:4:4": 0}
_EOI = b"\xff\xd9"


def _jpeg_file(image: Image.Image, quality: int, variant: str) -> bytes:
    buffer = io.BytesIO()
    image.save(
        buffer,
        format="JPEG",
        quality=quality,
        subsampling=_SUBSAMPLING[variant],
        optimize=False,
        progressive=False,
    )
    return buffer.getvalue()


def split_jpeg(data: bytes) -> tuple[bytes, bytes]:
    """Split a baseline JPEG file into (header up to and including SOS, scan without EOI).

    Raises:
        ValueError: The file does not have the expected marker layout.
    """
    if data[:2] != b"\xff\xd8" or data[-2:] != _EOI:
        raise ValueError("not a complete JPEG file")
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise ValueError(f"expected a marker at byte {position}")
        marker = data[position + 1]
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        position += 2 + length
        if marker == 0xDA:  # start of scan: the rest is entropy-coded data
            return data[:position], data[position:-2]
    raise ValueError("no scan found in JPEG file")


@functools.lru_cache(maxsize=4096)
def shared_header(quality: int, variant: str, width: int, height: int) -> bytes:
    """The header every image with these settings and this size shares."""
    blank = Image.new("RGB", (width, height), (128, 128, 128))
    return split_jpeg(_jpeg_file(blank, quality, variant))[0]


class JpegSharedHeader(RasterPeer):
    """Baseline JPEG whose header is shared: counts the scan plus 3 bytes (see module doc)."""

    name = "jpeg-shared"
    label = "JPEG, shared header (scan + 3 bytes)"
    qualities = range(1, 101)
    all_variants = ("4:2:0", "4:4:4")

    def encode_small(
        self, small: Image.Image, quality: int, variant: str, *, final: bool = False
    ) -> bytes:
        """Encode ``small`` and keep the 3-byte settings header plus the scan."""
        del final
        if not 1 <= small.width <= 256 or not 1 <= small.height <= 256:
            raise ValueError(f"the shared-header JPEG codes up to 256x256, got {small.size}")
        header, scan = split_jpeg(_jpeg_file(small, quality, variant))
        if header != shared_header(quality, variant, small.width, small.height):
            raise RuntimeError("the JPEG header depends on the image content: cannot share it")
        flags = quality | (0x80 if variant == "4:4:4" else 0)
        return bytes([flags, small.width - 1, small.height - 1]) + scan

    def decode_small(self, data: bytes) -> Image.Image:
        """Rebuild the shared header from the 3 leading bytes and decode."""
        if len(data) < 4:
            raise PeerDecodeError("shared-header JPEG data needs at least 4 bytes")
        quality = data[0] & 0x7F
        if not 1 <= quality <= 100:
            raise PeerDecodeError(f"invalid JPEG quality {quality}")
        variant = "4:4:4" if data[0] & 0x80 else "4:2:0"
        header = shared_header(quality, variant, data[1] + 1, data[2] + 1)
        return pil_decode(header + data[3:] + _EOI, "JPEG")
