"""AVIF peer with the container stripped: only the AV1 sequence header and frame are counted.

Pillow 13 writes AVIF natively (libavif). An AVIF file is an ISO-BMFF/HEIF container: ``ftyp``
(brands), ``meta`` (``hdlr``, ``pitm``, ``iloc``, ``iinf``/``infe``, and the item properties
``ispe`` (size), ``pixi`` (bit depth), ``av1C`` (codec configuration), ``colr`` (colour space),
``ipma``), then ``mdat`` holding the AV1 bitstream of the single image item: a 2-byte temporal
delimiter OBU, the sequence header OBU and the frame OBU. About 270 bytes of that file carry no
information the decoder could not infer.

Counted here: the sequence header OBU and the frame OBU, byte for byte as the encoder wrote them
(OBU headers and size fields included). Not counted: everything else, which the decoder rebuilds:
the temporal delimiter (always ``12 00``) and the whole container, whose only image-dependent
fields (width, height, profile, level, chroma subsampling, colour description) are read back
from the counted sequence header. The sequence header itself (about 11 bytes) is still counted
although a dedicated format could reduce it to a byte or two.

Example:
    >>> from PIL import Image
    >>> peer = AvifPayload()
    >>> data = peer.encode_small(Image.new("RGB", (8, 8), "red"), 50, "4:2:0")
    >>> data[0] == 0x0A, peer.decode(data, 16, 16).shape
    (True, (16, 16, 3))
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from delaunay_thumb._peers_base import PeerDecodeError, RasterPeer, SearchConfig, pil_decode

_OBU_TEMPORAL_DELIMITER = 2
_OBU_SEQUENCE_HEADER = 1
_TEMPORAL_DELIMITER = b"\x12\x00"
_INFE = b"\x00\x01\x00\x00av01\x00"  # item 1, no protection, type av01, empty name


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full_box(kind: bytes, version: int, flags: int, payload: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags) + payload)


def _iter_boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the boxes in ``data[start:end]``."""
    boxes = []
    position = start
    while position + 8 <= end:
        size, kind = struct.unpack(">I4s", data[position : position + 8])
        header = 8
        if size == 1:
            (size,) = struct.unpack(">Q", data[position + 8 : position + 16])
            header = 16
        elif size == 0:
            size = end - position
        if size < header or position + size > end:
            raise ValueError(f"corrupt box {kind!r} at byte {position}")
        boxes.append((kind, position + header, position + size))
        position += size
    return boxes


def _leb128(data: bytes, position: int) -> tuple[int, int]:
    value = 0
    for index in range(8):
        if position + index >= len(data):
            raise ValueError("truncated leb128")
        byte = data[position + index]
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return value, position + index + 1
    raise ValueError("leb128 longer than 8 bytes")


def _obus(data: bytes) -> list[tuple[int, int, int]]:
    """(type, start, end) of each OBU (header included) in an AV1 low-overhead bitstream."""
    obus = []
    position = 0
    while position < len(data):
        header = data[position]
        kind = (header >> 3) & 0x0F
        has_extension = (header >> 2) & 1
        if header & 0x80 or not (header >> 1) & 1:
            raise ValueError("OBU without size field or with the forbidden bit set")
        size, payload_start = _leb128(data, position + 1 + has_extension)
        end = payload_start + size
        if end > len(data):
            raise ValueError("truncated OBU")
        obus.append((kind, position, end))
        position = end
    return obus


class _Bits:
    def __init__(self, data: bytes, start: int) -> None:
        self.data = data
        self.position = start * 8

    def read(self, count: int) -> int:
        value = 0
        for _ in range(count):
            byte = self.position >> 3
            if byte >= len(self.data):
                raise ValueError("truncated sequence header")
            value = (value << 1) | ((self.data[byte] >> (7 - (self.position & 7))) & 1)
            self.position += 1
        return value


@dataclass(frozen=True)
class SequenceHeader:
    """The fields of an AV1 still-picture sequence header that the container repeats."""

    profile: int
    level: int
    width: int
    height: int
    monochrome: bool
    subsampling_x: int
    subsampling_y: int
    chroma_sample_position: int
    colour: tuple[int, int, int] | None
    full_range: bool


def parse_sequence_header(payload: bytes) -> SequenceHeader:
    """Parse a reduced still-picture AV1 sequence header (the OBU payload, no OBU header).

    Raises:
        ValueError: Not a reduced still-picture header (what libavif writes for one image), or
            a header with a bit depth other than 8.
    """
    bits = _Bits(payload, 0)
    profile = bits.read(3)
    bits.read(1)  # still_picture
    if not bits.read(1):
        raise ValueError("only reduced still-picture AV1 sequence headers are supported")
    level = bits.read(5)
    width_bits = bits.read(4) + 1
    height_bits = bits.read(4) + 1
    width = bits.read(width_bits) + 1
    height = bits.read(height_bits) + 1
    bits.read(3)  # use_128x128_superblock, enable_filter_intra, enable_intra_edge_filter
    bits.read(3)  # enable_superres, enable_cdef, enable_restoration
    if bits.read(1):  # high_bitdepth
        raise ValueError("only 8-bit AV1 is supported")
    monochrome = bool(bits.read(1)) if profile != 1 else False
    colour: tuple[int, int, int] | None = None
    if bits.read(1):  # color_description_present_flag
        colour = (bits.read(8), bits.read(8), bits.read(8))
    subsampling_x = subsampling_y = 1
    chroma_sample_position = 0
    if monochrome:
        full_range = bool(bits.read(1))
    elif colour is not None and colour == (1, 13, 0):
        full_range, subsampling_x, subsampling_y = True, 0, 0
    else:
        full_range = bool(bits.read(1))
        if profile == 1:
            subsampling_x = subsampling_y = 0
        elif profile == 2:
            raise ValueError("AV1 profile 2 is not supported")
        if subsampling_x and subsampling_y:
            chroma_sample_position = bits.read(2)
    return SequenceHeader(
        profile,
        level,
        width,
        height,
        monochrome,
        subsampling_x,
        subsampling_y,
        chroma_sample_position,
        colour,
        full_range,
    )


def strip_container(data: bytes) -> bytes:
    """The counted part of a Pillow AVIF file: its sequence header and frame OBUs.

    Raises:
        ValueError: Not a single-item AVIF file with the expected OBUs.
    """
    boxes = _iter_boxes(data, 0, len(data))
    mdat = [(start, end) for kind, start, end in boxes if kind == b"mdat"]
    if not boxes or boxes[0][0] != b"ftyp" or len(mdat) != 1:
        raise ValueError("not a single-item AVIF file")
    bitstream = data[mdat[0][0] : mdat[0][1]]
    obus = _obus(bitstream)
    kept = [(kind, start, end) for kind, start, end in obus if kind != _OBU_TEMPORAL_DELIMITER]
    if not kept or kept[0][0] != _OBU_SEQUENCE_HEADER:
        raise ValueError("AVIF item does not start with a sequence header")
    return b"".join(bitstream[start:end] for _, start, end in kept)


def add_container(payload: bytes) -> bytes:
    """Rebuild a complete AVIF file around the counted OBUs (inverse of :func:`strip_container`).

    Raises:
        ValueError: ``payload`` does not start with a supported sequence header OBU.
    """
    obus = _obus(payload)
    if not obus or obus[0][0] != _OBU_SEQUENCE_HEADER:
        raise ValueError("payload does not start with a sequence header OBU")
    _, start, end = obus[0]
    _, header_end = _leb128(payload, start + 1 + ((payload[start] >> 2) & 1))
    sequence = parse_sequence_header(payload[header_end:end])
    av1c = bytes(
        [
            0x81,
            (sequence.profile << 5) | sequence.level,
            (sequence.monochrome << 4)
            | (sequence.subsampling_x << 3)
            | (sequence.subsampling_y << 2)
            | sequence.chroma_sample_position,
            0,
        ]
    )
    primaries, transfer, matrix = sequence.colour or (1, 13, 6)
    colr = b"nclx" + struct.pack(">HHHB", primaries, transfer, matrix, 0x80 * sequence.full_range)
    channels = 1 if sequence.monochrome else 3
    properties = _box(
        b"ipco",
        _full_box(b"ispe", 0, 0, struct.pack(">II", sequence.width, sequence.height))
        + _full_box(b"pixi", 0, 0, bytes([channels] + [8] * channels))
        + _box(b"av1C", av1c)
        + _box(b"colr", colr),
    )
    association = _full_box(b"ipma", 0, 0, struct.pack(">IHB", 1, 1, 4) + bytes([1, 2, 0x83, 4]))
    item_data = _TEMPORAL_DELIMITER + payload

    def meta(offset: int) -> bytes:
        return _full_box(
            b"meta",
            0,
            0,
            _full_box(b"hdlr", 0, 0, b"\x00" * 4 + b"pict" + b"\x00" * 12 + b"\x00")
            + _full_box(b"pitm", 0, 0, struct.pack(">H", 1))
            + _full_box(
                b"iloc", 0, 0, struct.pack(">BBHHHHII", 0x44, 0, 1, 1, 0, 1, offset, len(item_data))
            )
            + _full_box(b"iinf", 0, 0, struct.pack(">H", 1) + _full_box(b"infe", 2, 0, _INFE))
            + _box(b"iprp", properties + association),
        )

    ftyp = _box(b"ftyp", b"avif" + struct.pack(">I", 0) + b"avifmif1miafMA1B")
    offset = len(ftyp) + len(meta(0)) + 8
    return ftyp + meta(offset) + _box(b"mdat", item_data)


class AvifPayload(RasterPeer):
    """AVIF (Pillow/libavif) counting only the AV1 sequence header and frame OBUs.

    The search runs at libavif ``speed`` (fast); its best few (size, subsampling) candidates are
    then searched again at ``final_speed`` (slow, better), see
    :attr:`~delaunay_thumb._peers_base.SearchConfig.final_candidates`. On the benchmark's 64 px
    thumbnails at 200 bytes a full search at speed 4 scored 0.35 dB above one at Pillow's
    default speed 6, for 3.3 times the time; the final stage gets that gain cheaply.

    Args:
        config: Search settings.
        variants: Chroma subsamplings searched, a subset of ``("4:2:0", "4:4:4")`` (default
            both: the search keeps whichever scores better within the budget).
        speed: libavif encoder speed of the search (0 slowest/best to 10).
        final_speed: libavif encoder speed of the final stage.
    """

    name = "avif-payload"
    label = "AVIF, container stripped (AV1 sequence header + frame)"
    all_variants = ("4:2:0", "4:4:4")
    has_final_stage = True

    def __init__(
        self,
        config: SearchConfig | None = None,
        variants: Sequence[str] | None = None,
        speed: int = 6,
        final_speed: int = 2,
    ) -> None:
        super().__init__(config, variants)
        for value in (speed, final_speed):
            if not 0 <= value <= 10:
                raise ValueError(f"AVIF speed must be in 0..10, got {value}")
        self.speed = speed
        self.final_speed = final_speed

    def encode_small(
        self, small: Image.Image, quality: int, variant: str, *, final: bool = False
    ) -> bytes:
        """Encode ``small`` as AVIF and keep only the counted OBUs."""
        buffer = io.BytesIO()
        speed = self.final_speed if final else self.speed
        small.save(buffer, format="AVIF", quality=quality, speed=speed, subsampling=variant)
        return strip_container(buffer.getvalue())

    def decode_small(self, data: bytes) -> Image.Image:
        """Rebuild the container from the sequence header and decode."""
        try:
            rebuilt = add_container(data)
        except ValueError as error:
            raise PeerDecodeError(f"invalid AVIF payload: {error}") from error
        return pil_decode(rebuilt, "AVIF")
