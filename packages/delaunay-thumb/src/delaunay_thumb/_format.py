"""The bitstream: a 2-byte header and a range-coded body (``docs/delaunay-thumb/format.md``).

This module is the single definition of the format on the Python side: :func:`write_stream`
and :func:`read_stream` are exact inverses on valid :class:`Mesh` values, and :func:`read_stream`
rejects anything else with :class:`~delaunay_thumb.DecodeError`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from delaunay_thumb._delaunay import triangulate
from delaunay_thumb._errors import DecodeError
from delaunay_thumb._rangecoder import HALF, RangeDecoder, RangeEncoder, adapt

VERSION = 0
#: Grid long-side sizes (number of grid points), indexed by the 4-bit header code.
GRID_LONG: tuple[int, ...] = (8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 128, 192, 256)
#: Quantiser steps of luma and chroma, indexed by 4-bit codes.
QSTEPS: tuple[int, ...] = (2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48)
#: Upper bound on the number of vertices a stream may declare (decoder safety cap).
MAX_VERTICES = 4096
_N_EG_ORDER = 4
_GAP_CTX = 8
_MAG_CTX = 6
_MAX_EXP = 10

IntArray = NDArray[np.int64]


def grid_shape(long_code: int, aspect: int, portrait: bool) -> tuple[int, int]:
    """Grid size ``(columns, rows)`` from the header fields.

    Args:
        long_code: Index into :data:`GRID_LONG`.
        aspect: Header byte 1: the short side over the long side is ``(aspect + 1) / 256``.
        portrait: Whether the image is taller than wide.

    Returns:
        ``(gw, gh)``, the number of grid points along x and y (each at least 2).

    Example:
        >>> grid_shape(6, 170, False)
        (32, 22)
    """
    L = GRID_LONG[long_code]
    S = max(2, ((L - 1) * (aspect + 1) * 2 + 256) // 512 + 1)
    return (S, L) if portrait else (L, S)


def aspect_code(width: int, height: int) -> int:
    """Header byte 1 for an image of ``width x height`` pixels.

    Example:
        >>> aspect_code(64, 43)
        171
    """
    long_side, short_side = max(width, height), min(width, height)
    return min(255, max(0, (short_side * 512 + long_side) // (2 * long_side) - 1))


def eligible_points(gw: int, gh: int) -> IntArray:
    """Raster-ordered ``(x, y)`` grid points that may carry a coded vertex (all but corners).

    Example:
        >>> eligible_points(3, 2).tolist()
        [[1, 0], [1, 1]]
    """
    ys, xs = np.divmod(np.arange(gw * gh, dtype=np.int64), gw)
    corner = ((xs == 0) | (xs == gw - 1)) & ((ys == 0) | (ys == gh - 1))
    return np.stack([xs[~corner], ys[~corner]], axis=1)


@dataclass(frozen=True, eq=False)
class Mesh:
    """Everything a stream carries, in grid units and quantiser indices.

    Attributes:
        long_code: Index into :data:`GRID_LONG`.
        aspect: Header aspect byte (see :func:`grid_shape`).
        portrait: Image taller than wide.
        grey: Greyscale stream (no chroma).
        qy_code: Index into :data:`QSTEPS` for luma.
        qc_code: Index into :data:`QSTEPS` for chroma (ignored when ``grey``).
        points: ``(n, 2)`` int64 grid ``(x, y)`` of all vertices, corners included, in raster
            order.
        colours: ``(n, 3)`` int64 quantiser indices ``(Y, Co, Cg)`` per vertex (chroma 0 when
            ``grey``).
    """

    long_code: int
    aspect: int
    portrait: bool
    grey: bool
    qy_code: int
    qc_code: int
    points: IntArray
    colours: IntArray

    @property
    def grid(self) -> tuple[int, int]:
        """Grid size ``(gw, gh)``."""
        return grid_shape(self.long_code, self.aspect, self.portrait)

    def rgb(self) -> NDArray[np.float64]:
        """Dequantised, unclamped RGB per vertex, ``(n, 3)`` float64 in 0..255 units."""
        qy, qc = QSTEPS[self.qy_code], QSTEPS[self.qc_code]
        y = self.colours[:, 0] * float(qy)
        if self.grey:
            return np.repeat(y[:, None], 3, axis=1)
        co = self.colours[:, 1] * float(qc)
        cg = self.colours[:, 2] * float(qc)
        return np.stack([y + co - cg, y + cg, y - co - cg], axis=1)


def index_ranges(qy: int, qc: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Valid ``(lo, hi)`` quantiser indices for luma and for each chroma channel.

    Example:
        >>> index_ranges(4, 8)
        ((0, 64), (-16, 16))
    """
    return (0, (255 + qy // 2) // qy), (-((128 + qc // 2) // qc), (128 + qc // 2) // qc)


def neighbours_before(n: int, tris: IntArray) -> list[list[int]]:
    """For each vertex, its triangulation neighbours with a smaller index, sorted.

    Example:
        >>> neighbours_before(4, np.array([[0, 1, 3], [0, 3, 2]]))
        [[], [0], [0], [0, 1, 2]]
    """
    nb: list[set[int]] = [set() for _ in range(n)]
    for a, b, c in tris.tolist():
        for u, v in ((a, b), (b, c), (c, a)):
            if u < v:
                nb[v].add(u)
            else:
                nb[u].add(v)
    return [sorted(s) for s in nb]


class _Models:
    """Adaptive probabilities of every context (initial state defined by the format)."""

    def __init__(self) -> None:
        self.gap = [HALF] * _GAP_CTX
        self.zero = [[HALF] * 3 for _ in range(3)]
        self.sign = [HALF] * 3
        self.mag = [[HALF] * _MAG_CTX for _ in range(3)]


def _activity_bucket(spread: int) -> int:
    return 0 if spread == 0 else (1 if spread <= 2 else 2)


def predict(values: list[int], default: int) -> tuple[int, int]:
    """Prediction (rounded mean) and activity bucket from already-decoded neighbour values.

    Example:
        >>> predict([3, 4], 0)
        (4, 1)
    """
    if not values:
        return default, 2
    s = sum(values)
    c = len(values)
    return (2 * s + c) // (2 * c), _activity_bucket(max(values) - min(values))


def _rice_k(rem_points: int, rem_vertices: int) -> int:
    return max(0, ((rem_points - rem_vertices) // (2 * rem_vertices)).bit_length())


def write_stream(mesh: Mesh, tris: IntArray | None = None) -> bytes:
    """Serialise ``mesh`` (whose points must include the grid corners) to bytes.

    ``tris`` may pass the canonical triangulation of ``mesh.points`` when it is already known.

    Example:
        >>> import numpy as np
        >>> pts = np.array([[0, 0], [7, 0], [0, 7], [7, 7]])
        >>> mesh = Mesh(0, 255, False, True, 5, 5, pts, np.array([[20, 0, 0]] * 4))
        >>> len(write_stream(mesh))
        4
    """
    gw, gh = mesh.grid
    head0 = (VERSION << 6) | (int(mesh.grey) << 5) | (int(mesh.portrait) << 4) | mesh.long_code
    enc = RangeEncoder()
    enc.encode_bits(mesh.qy_code, 4)
    if not mesh.grey:
        enc.encode_bits(mesh.qc_code, 4)
    elig = eligible_points(gw, gh)
    flat = mesh.points[:, 1] * gw + mesh.points[:, 0]
    eflat = elig[:, 1] * gw + elig[:, 0]
    inner = np.searchsorted(eflat, flat[np.isin(flat, eflat)])
    n_inner = int(inner.size)
    # Exp-Golomb of order 4 for the vertex count.
    v = n_inner + (1 << _N_EG_ORDER)
    nbits = v.bit_length()
    for _ in range(nbits - 1 - _N_EG_ORDER):
        enc.encode_bit(1, HALF)
    enc.encode_bit(0, HALF)
    enc.encode_bits(v - (1 << (nbits - 1)), nbits - 1)
    models = _Models()
    total = int(eflat.size)
    nxt = 0
    for i, p in enumerate(inner.tolist()):
        rem_v = n_inner - i
        rem_p = total - nxt
        gap = p - nxt
        if rem_p > rem_v:
            k = _rice_k(rem_p, rem_v)
            q = gap >> k
            for j in range(q):
                c = min(j, _GAP_CTX - 1)
                enc.encode_bit(1, models.gap[c])
                models.gap[c] = adapt(models.gap[c], 1)
            if ((q + 1) << k) <= rem_p - rem_v:  # a stop bit is needed
                c = min(q, _GAP_CTX - 1)
                enc.encode_bit(0, models.gap[c])
                models.gap[c] = adapt(models.gap[c], 0)
            enc.encode_bits(gap & ((1 << k) - 1), k)
        nxt = p + 1
    _code_colours(mesh, enc, None, tris)
    return bytes([head0, mesh.aspect]) + enc.finish()


def _code_colours(
    mesh: Mesh | None,
    enc: RangeEncoder | None,
    dec: _ColourDecoding | None,
    tris: IntArray | None = None,
) -> IntArray:
    """Shared colour coding loop: encodes from ``mesh`` or decodes into ``dec``.

    Returns the canonical triangulation of the vertices.
    """
    if mesh is not None:
        points, grey, qy = mesh.points, mesh.grey, QSTEPS[mesh.qy_code]
        values = mesh.colours
    else:
        assert dec is not None
        points, grey, qy = dec.points, dec.grey, dec.qy
        values = dec.colours
    n = points.shape[0]
    if tris is None:
        tris = triangulate(points)
    before = neighbours_before(n, tris)
    models = _Models()
    channels = 1 if grey else 3
    defaults = ((128 + qy // 2) // qy, 0, 0)
    cols: list[list[int]] = [[0, 0, 0] for _ in range(n)]
    src = values.tolist()
    for i in range(n):
        nb = before[i]
        row = cols[i]
        for ch in range(channels):
            # Inline of predict() (hot loop of the decoder).
            if nb:
                vals = [cols[j][ch] for j in nb]
                c = len(vals)
                pred = (2 * sum(vals) + c) // (2 * c)
                spread = max(vals) - min(vals)
                bucket = 0 if spread == 0 else (1 if spread <= 2 else 2)
            else:
                pred, bucket = defaults[ch], 2
            if enc is not None:
                val = src[i][ch]
                r = val - pred
                _encode_residual(enc, models, ch, bucket, r)
            else:
                assert dec is not None
                r = _decode_residual(dec.rd, models, ch, bucket)
                val = pred + r
            row[ch] = val
    if dec is not None:
        dec.colours = np.array(cols, dtype=np.int64).reshape(n, 3)
    return tris


def _encode_residual(enc: RangeEncoder, models: _Models, ch: int, bucket: int, r: int) -> None:
    z = models.zero[ch]
    if r == 0:
        enc.encode_bit(0, z[bucket])
        z[bucket] = adapt(z[bucket], 0)
        return
    enc.encode_bit(1, z[bucket])
    z[bucket] = adapt(z[bucket], 1)
    s = int(r < 0)
    enc.encode_bit(s, models.sign[ch])
    models.sign[ch] = adapt(models.sign[ch], s)
    m = abs(r)  # >= 1; Exp-Golomb of order 0 on m
    e = m.bit_length() - 1
    mg = models.mag[ch]
    for j in range(e):
        c = min(j, _MAG_CTX - 1)
        enc.encode_bit(1, mg[c])
        mg[c] = adapt(mg[c], 1)
    c = min(e, _MAG_CTX - 1)
    enc.encode_bit(0, mg[c])
    mg[c] = adapt(mg[c], 0)
    enc.encode_bits(m - (1 << e), e)


def _decode_residual(rd: RangeDecoder, models: _Models, ch: int, bucket: int) -> int:
    z = models.zero[ch]
    bit = rd.decode_bit(z[bucket])
    z[bucket] = adapt(z[bucket], bit)
    if not bit:
        return 0
    s = rd.decode_bit(models.sign[ch])
    models.sign[ch] = adapt(models.sign[ch], s)
    mg = models.mag[ch]
    e = 0
    while True:
        c = min(e, _MAG_CTX - 1)
        bit = rd.decode_bit(mg[c])
        mg[c] = adapt(mg[c], bit)
        if not bit:
            break
        e += 1
        if e > _MAX_EXP:
            raise DecodeError("corrupt stream: colour residual too large")
    m = (1 << e) + rd.decode_bits(e)
    return -m if s else m


class _ColourDecoding:
    def __init__(self, rd: RangeDecoder, points: IntArray, grey: bool, qy: int) -> None:
        self.rd = rd
        self.points = points
        self.grey = grey
        self.qy = qy
        self.colours: IntArray = np.zeros((0, 3), dtype=np.int64)


def read_stream(data: bytes) -> Mesh:
    """Parse a stream into a :class:`Mesh` (see :func:`read_stream_triangulated`).

    Example:
        >>> read_stream(bytes([0xC0, 0]))
        Traceback (most recent call last):
        ...
        delaunay_thumb._errors.DecodeError: unsupported format version 3
    """
    return read_stream_triangulated(data)[0]


def read_header(data: object) -> tuple[bytes, bool, bool, int, int, tuple[int, int]]:
    """Check and parse the 2-byte header (section 2 of the spec), shared by both parsers.

    Returns:
        ``(data as bytes, grey, portrait, long-side code, aspect byte, (gw, gh))``.

    Raises:
        DecodeError: If ``data`` is not bytes, is shorter than the header, or has another
            format version.

    Example:
        >>> read_header(bytes([0xC0, 0]))
        Traceback (most recent call last):
        ...
        delaunay_thumb._errors.DecodeError: unsupported format version 3
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < 2:
        raise DecodeError("stream too short: a thumbnail has at least a 2-byte header")
    head0, aspect = data[0], data[1]
    if head0 >> 6 != VERSION:
        raise DecodeError(f"unsupported format version {head0 >> 6}")
    grey = bool(head0 & 0x20)
    portrait = bool(head0 & 0x10)
    long_code = head0 & 0x0F
    return data, grey, portrait, long_code, aspect, grid_shape(long_code, aspect, portrait)


def read_stream_triangulated(data: bytes) -> tuple[Mesh, IntArray]:
    """Parse a stream into a :class:`Mesh`.

    Args:
        data: The whole thumbnail file.

    Returns:
        The decoded mesh and its canonical triangulation.

    Raises:
        DecodeError: For any malformed input (too short, unknown version, impossible values).

    Example:
        >>> import numpy as np
        >>> pts = np.array([[0, 0], [7, 0], [0, 7], [7, 7]])
        >>> mesh = Mesh(0, 255, False, True, 5, 5, pts, np.array([[20, 0, 0]] * 4))
        >>> read_stream_triangulated(write_stream(mesh))[0].colours[:, 0].tolist()
        [20, 20, 20, 20]
    """
    data, grey, portrait, long_code, aspect, (gw, gh) = read_header(data)
    rd = RangeDecoder(data[2:])
    qy_code = rd.decode_bits(4)
    qc_code = 0 if grey else rd.decode_bits(4)
    elig = eligible_points(gw, gh)
    total = int(elig.shape[0])
    prefix = 0
    while rd.decode_bit(HALF):
        prefix += 1
        if prefix > 16:
            raise DecodeError("corrupt stream: vertex count too large")
    nbits = prefix + _N_EG_ORDER
    n_inner = (1 << nbits) + rd.decode_bits(nbits) - (1 << _N_EG_ORDER)
    if n_inner > total or n_inner + 4 > MAX_VERTICES:
        raise DecodeError(
            f"corrupt stream: {n_inner} vertices do not fit the {gw}x{gh} grid "
            f"or exceed the cap of {MAX_VERTICES}"
        )
    models = _Models()
    inner = np.empty(n_inner, dtype=np.int64)
    nxt = 0
    for i in range(n_inner):
        rem_v = n_inner - i
        rem_p = total - nxt
        if rem_p > rem_v:
            k = _rice_k(rem_p, rem_v)
            limit = rem_p - rem_v  # largest allowed gap
            q = 0
            while ((q + 1) << k) <= limit:
                c = min(q, _GAP_CTX - 1)
                bit = rd.decode_bit(models.gap[c])
                models.gap[c] = adapt(models.gap[c], bit)
                if not bit:
                    break
                q += 1
            gap = (q << k) + rd.decode_bits(k)
            if gap > limit:
                raise DecodeError("corrupt stream: vertex position outside the grid")
        else:
            gap = 0
        inner[i] = nxt + gap
        nxt = nxt + gap + 1
    corners = np.array([[0, 0], [gw - 1, 0], [0, gh - 1], [gw - 1, gh - 1]], dtype=np.int64)
    pts = np.concatenate([corners, elig[inner]])
    order = np.lexsort((pts[:, 0], pts[:, 1]))
    pts = pts[order]
    qy = QSTEPS[qy_code]
    cd = _ColourDecoding(rd, pts, grey, qy)
    tris = _code_colours(None, None, cd)
    (ylo, yhi), (clo, chi) = index_ranges(qy, QSTEPS[qc_code])
    col = cd.colours
    if col[:, 0].min() < ylo or col[:, 0].max() > yhi:
        raise DecodeError("corrupt stream: luma index out of range")
    if col[:, 1:].min() < clo or col[:, 1:].max() > chi:
        raise DecodeError("corrupt stream: chroma index out of range")
    return Mesh(long_code, aspect, portrait, grey, qy_code, qc_code, pts, col), tris
