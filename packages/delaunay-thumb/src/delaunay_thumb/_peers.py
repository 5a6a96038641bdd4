"""The peer codecs of the benchmark, by name.

=================  ==========================================================================
name               what is counted
=================  ==========================================================================
``webp-file``      the whole WebP file (Pillow, lossy, method 6)
``webp-stripped``  the VP8 key frame only (20-byte RIFF + chunk header and pad byte rebuilt)
``avif-payload``   the AV1 sequence header and frame OBUs (container and temporal delimiter
                   rebuilt from the sequence header)
``jpeg-shared``    the JPEG scan plus 3 bytes (quality/chroma flag, width, height); the header
                   is shared
``thumbhash``      the raw ThumbHash bytes (fixed size, ~21-25 bytes)
``blurhash-4x3``   the BlurHash characters for 4 x 3 components (28 bytes)
``blurhash-9x9``   the BlurHash characters for 9 x 9 components (166 bytes)
=================  ==========================================================================

``avif-payload`` and ``jpeg-shared`` search both 4:2:0 and 4:4:4 chroma; the names
``avif-payload-420``, ``avif-payload-444``, ``jpeg-shared-420`` and ``jpeg-shared-444`` restrict
them to one (the prior-art AVIF baseline matches ``avif-payload-420``).

The block codecs search their best downscale and quality within each budget (see
:class:`~delaunay_thumb._peers_base.SearchConfig`) and upsample with Lanczos.

Example:
    >>> import numpy as np
    >>> thumb = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    >>> results = make_peer("jpeg-shared").search(thumb, [60, 200])
    >>> [r.nbytes <= b for b, r in results.items()]
    [True, True]
"""

from __future__ import annotations

import re

from delaunay_thumb._peers_avif import AvifPayload
from delaunay_thumb._peers_base import (
    Peer,
    PeerDecodeError,
    PeerResult,
    RasterPeer,
    SearchConfig,
)
from delaunay_thumb._peers_hash import BlurHash, FixedSizePeer, ThumbHash
from delaunay_thumb._peers_jpeg import JpegSharedHeader
from delaunay_thumb._peers_webp import WebPFile, WebPStripped

__all__ = [
    "PEER_NAMES",
    "AvifPayload",
    "BlurHash",
    "FixedSizePeer",
    "JpegSharedHeader",
    "Peer",
    "PeerDecodeError",
    "PeerResult",
    "RasterPeer",
    "SearchConfig",
    "ThumbHash",
    "WebPFile",
    "WebPStripped",
    "make_peer",
]

PEER_NAMES: tuple[str, ...] = (
    "webp-file",
    "webp-stripped",
    "avif-payload",
    "jpeg-shared",
    "thumbhash",
    "blurhash-4x3",
    "blurhash-9x9",
)

_RASTER: dict[str, type[RasterPeer]] = {
    WebPFile.name: WebPFile,
    WebPStripped.name: WebPStripped,
    AvifPayload.name: AvifPayload,
    JpegSharedHeader.name: JpegSharedHeader,
}


_VARIANT_SUFFIX = {"-420": ("4:2:0",), "-444": ("4:4:4",)}


def make_peer(name: str, config: SearchConfig | None = None) -> Peer:
    """The peer called ``name``.

    Names: those of the module table, ``blurhash-<nx>x<ny>`` for any size, and the
    single-subsampling ``avif-payload-420/-444`` and ``jpeg-shared-420/-444``.

    Args:
        name: Peer name.
        config: Search settings for the block codecs (ignored by the fixed-size codes).

    Raises:
        ValueError: Unknown name.

    Example:
        >>> make_peer("blurhash-9x9").name
        'blurhash-9x9'
    """
    if name in _RASTER:
        return _RASTER[name](config)
    for suffix, variants in _VARIANT_SUFFIX.items():
        base = name.removesuffix(suffix)
        if base != name and base in ("avif-payload", "jpeg-shared"):
            return _RASTER[base](config, variants)
    if name == ThumbHash.name:
        return ThumbHash()
    match = re.fullmatch(r"blurhash-([1-9])x([1-9])", name)
    if match:
        return BlurHash(int(match.group(1)), int(match.group(2)))
    raise ValueError(f"unknown peer {name!r}; known: {', '.join(PEER_NAMES)}")
