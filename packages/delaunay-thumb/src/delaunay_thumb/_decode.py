"""The decoder: bytes to an RGB image at any size."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from delaunay_thumb._delaunay import triangulate
from delaunay_thumb._errors import DecodeError
from delaunay_thumb._format import (
    _GAP_CTX,
    _MAG_CTX,
    _MAX_EXP,
    _N_EG_ORDER,
    MAX_VERTICES,
    QSTEPS,
    Mesh,
    eligible_points,
    index_ranges,
    read_header,
)
from delaunay_thumb._rangecoder import ADAPT_SHIFT, HALF, PROB_BITS, PROB_ONE
from delaunay_thumb._render import (
    exact_triangle_map,
    shade_planes,
    to_uint8,
    vertex_positions,
)

#: Longest side of the output when ``size`` is None.
DEFAULT_SIZE = 64
#: Largest accepted output side, in pixels.
MAX_SIDE = 4096


def output_size(aspect: int, portrait: bool, size: int | tuple[int, int] | None) -> tuple[int, int]:
    """Output ``(width, height)`` for a stream's aspect byte and the requested ``size``.

    Args:
        aspect: Header aspect byte: short side / long side = ``(aspect + 1) / 256``.
        portrait: Whether the image is taller than wide.
        size: Longest side in pixels, an explicit ``(width, height)``, or None for
            :data:`DEFAULT_SIZE`.

    Returns:
        ``(width, height)``.

    Raises:
        ValueError: For a size that is not a positive integer (pair) up to :data:`MAX_SIDE`.

    Example:
        >>> output_size(171, False, 128)
        (128, 86)
    """
    if size is None:
        size = DEFAULT_SIZE
    if isinstance(size, tuple):
        if len(size) != 2:
            raise ValueError("size must be an int or a (width, height) pair")
        w, h = size
        if not all(isinstance(v, int | np.integer) and 1 <= v <= MAX_SIDE for v in (w, h)):
            raise ValueError(f"width and height must be integers in 1..{MAX_SIDE}")
        return int(w), int(h)
    if isinstance(size, bool) or not isinstance(size, int | np.integer):
        raise ValueError("size must be an int, a (width, height) pair, or None")
    if not 1 <= size <= MAX_SIDE:
        raise ValueError(f"size must be in 1..{MAX_SIDE}")
    long_side = int(size)
    short_side = max(1, (long_side * (aspect + 1) * 2 + 256) // 512)
    return (short_side, long_side) if portrait else (long_side, short_side)


def decode(data: bytes, size: int | tuple[int, int] | None = None) -> NDArray[np.uint8]:
    """Decode a thumbnail stream to an RGB image.

    Args:
        data: The whole stream as produced by :func:`delaunay_thumb.encode`.
        size: Longest side of the output in pixels (the aspect ratio comes from the stream),
            an explicit ``(width, height)``, or None for a longest side of 64.

    Returns:
        ``(height, width, 3)`` uint8 RGB. Greyscale streams also return three (equal) channels.

    Raises:
        DecodeError: For any malformed, truncated or hostile ``data`` (the only exception type
            raised for bad data).
        ValueError: For an invalid ``size``.

    Example:
        >>> import numpy as np
        >>> import delaunay_thumb
        >>> img = np.zeros((30, 40, 3), np.uint8); img[:, 20:] = 200
        >>> out = delaunay_thumb.decode(delaunay_thumb.encode(img, 60), 80)
        >>> out.shape, out.dtype
        ((60, 80, 3), dtype('uint8'))
    """
    try:
        mesh, tris = read_stream_fast(data)
    except DecodeError:
        raise
    except (ValueError, IndexError, OverflowError, MemoryError) as err:
        raise DecodeError(f"corrupt stream: {err}") from err
    w, h = output_size(mesh.aspect, mesh.portrait, size)
    return render_mesh(mesh.points, tris, mesh.rgb(), mesh.grid, (w, h))


def render_mesh(
    points: NDArray[np.int64],
    tris: NDArray[np.int64],
    rgb: NDArray[np.float64],
    grid: tuple[int, int],
    size: tuple[int, int],
) -> NDArray[np.uint8]:
    """Render vertex colours over a triangulation to ``(h, w, 3)`` uint8.

    Example:
        >>> pts = np.array([[0, 0], [1, 0], [0, 1], [1, 1]])
        >>> tris = np.array([[0, 1, 3], [0, 3, 2]])
        >>> render_mesh(pts, tris, np.full((4, 3), 9.0), (2, 2), (3, 2))[0, 0].tolist()
        [9, 9, 9]
    """
    xy = vertex_positions(points, grid, size)
    ids = exact_triangle_map(points, grid, tris, size)
    return to_uint8(shade_planes(xy, rgb, tris, ids))


def previous_neighbours(n: int, tris: NDArray[np.int64]) -> list[list[int]]:
    """For each vertex, its triangulation neighbours with a smaller index, sorted (vectorised).

    Example:
        >>> previous_neighbours(4, np.array([[0, 1, 3], [0, 3, 2]]))
        [[], [0], [0], [0, 1, 2]]
    """
    e = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    lo, hi = e.min(1), e.max(1)
    keys = np.unique(hi * n + lo)
    hi_s, lo_s = np.divmod(keys, n)
    bounds = np.searchsorted(hi_s, np.arange(n + 1)).tolist()
    flat = lo_s.tolist()
    return [flat[bounds[i] : bounds[i + 1]] for i in range(n)]


def read_stream_fast(data: bytes) -> tuple[Mesh, NDArray[np.int64]]:
    """Parse a stream into a mesh and its canonical triangulation, following the spec directly.

    The same result as :func:`delaunay_thumb._format.read_stream_triangulated` (the reference
    parser; the tests compare the two on valid and hostile streams), with the range decoder and
    the adaptive models inlined into one loop, which makes it several times faster.

    Raises:
        DecodeError: For any malformed input.

    Example:
        >>> read_stream_fast(bytes([0xC0, 0]))
        Traceback (most recent call last):
        ...
        delaunay_thumb._errors.DecodeError: unsupported format version 3
    """
    data, grey, portrait, long_code, aspect, (gw, gh) = read_header(data)

    # Range decoder state (see _rangecoder.RangeDecoder), inlined for speed.
    body = data[2:]
    size = len(body)
    top, mask, shift, one = 1 << 24, 0xFFFFFFFF, ADAPT_SHIFT, PROB_ONE
    rng = mask
    code = 0
    pos = 0
    for _ in range(4):
        code = (code << 8) | (body[pos] if pos < size else 0)
        pos += 1

    def bit(p0: int) -> int:
        nonlocal rng, code, pos
        bound = (rng >> PROB_BITS) * p0
        if code < bound:
            rng = bound
            b = 0
        else:
            code -= bound
            rng -= bound
            b = 1
        while rng < top:
            rng = (rng << 8) & mask
            code = ((code << 8) | (body[pos] if pos < size else 0)) & mask
            pos += 1
        return b

    def bits(count: int) -> int:
        value = 0
        for _ in range(count):
            value = (value << 1) | bit(HALF)
        return value

    qy_code = bits(4)
    qc_code = 0 if grey else bits(4)
    total = gw * gh - 4
    prefix = 0
    while bit(HALF):
        prefix += 1
        if prefix > 16:
            raise DecodeError("corrupt stream: vertex count too large")
    nbits = prefix + _N_EG_ORDER
    n_inner = (1 << nbits) + bits(nbits) - (1 << _N_EG_ORDER)
    if n_inner > total or n_inner + 4 > MAX_VERTICES:
        raise DecodeError(
            f"corrupt stream: {n_inner} vertices do not fit the {gw}x{gh} grid "
            f"or exceed the cap of {MAX_VERTICES}"
        )
    gap_p = [HALF] * _GAP_CTX
    inner = [0] * n_inner
    nxt = 0
    for i in range(n_inner):
        rem_v = n_inner - i
        rem_p = total - nxt
        if rem_p > rem_v:
            k = max(0, ((rem_p - rem_v) // (2 * rem_v)).bit_length())
            limit = rem_p - rem_v
            q = 0
            while ((q + 1) << k) <= limit:
                c = q if q < _GAP_CTX else _GAP_CTX - 1
                p = gap_p[c]
                if bit(p):
                    gap_p[c] = p - (p >> shift)
                    q += 1
                else:
                    gap_p[c] = p + ((one - p) >> shift)
                    break
            gap = (q << k) + bits(k)
            if gap > limit:
                raise DecodeError("corrupt stream: vertex position outside the grid")
        else:
            gap = 0
        inner[i] = nxt + gap
        nxt = nxt + gap + 1
    elig = eligible_points(gw, gh)
    corners = np.array([[0, 0], [gw - 1, 0], [0, gh - 1], [gw - 1, gh - 1]], dtype=np.int64)
    pts = np.concatenate([corners, elig[np.array(inner, dtype=np.int64)]])
    pts = pts[np.lexsort((pts[:, 0], pts[:, 1]))]
    n = pts.shape[0]
    tris = triangulate(pts)
    before = previous_neighbours(n, tris)

    qy = QSTEPS[qy_code]
    channels = 1 if grey else 3
    defaults = ((128 + qy // 2) // qy, 0, 0)
    zero_p = [[HALF] * 3 for _ in range(3)]
    sign_p = [HALF] * 3
    mag_p = [[HALF] * _MAG_CTX for _ in range(3)]
    planes: list[list[int]] = [[0] * n for _ in range(3)]
    for i in range(n):
        nb = before[i]
        for ch in range(channels):
            vals_all = planes[ch]
            if nb:
                vals = [vals_all[j] for j in nb]
                c = len(vals)
                pred = (2 * sum(vals) + c) // (2 * c)
                spread = max(vals) - min(vals)
                bucket = 0 if spread == 0 else (1 if spread <= 2 else 2)
            else:
                pred, bucket = defaults[ch], 2
            z = zero_p[ch]
            p = z[bucket]
            # The zero flag, the most frequent decision: bit() inlined.
            bound = (rng >> PROB_BITS) * p
            if code < bound:
                rng = bound
                while rng < top:
                    rng = (rng << 8) & mask
                    code = ((code << 8) | (body[pos] if pos < size else 0)) & mask
                    pos += 1
                z[bucket] = p + ((one - p) >> shift)
                vals_all[i] = pred
                continue
            code -= bound
            rng -= bound
            while rng < top:
                rng = (rng << 8) & mask
                code = ((code << 8) | (body[pos] if pos < size else 0)) & mask
                pos += 1
            z[bucket] = p - (p >> shift)
            p = sign_p[ch]
            s = bit(p)
            sign_p[ch] = p - (p >> shift) if s else p + ((one - p) >> shift)
            mg = mag_p[ch]
            e = 0
            while True:
                c = e if e < _MAG_CTX else _MAG_CTX - 1
                p = mg[c]
                if bit(p):
                    mg[c] = p - (p >> shift)
                    e += 1
                    if e > _MAX_EXP:
                        raise DecodeError("corrupt stream: colour residual too large")
                else:
                    mg[c] = p + ((one - p) >> shift)
                    break
            m = (1 << e) + bits(e)
            vals_all[i] = pred - m if s else pred + m
    col = np.zeros((n, 3), dtype=np.int64)
    for ch in range(channels):
        col[:, ch] = planes[ch]
    (ylo, yhi), (clo, chi) = index_ranges(qy, QSTEPS[qc_code])
    if col[:, 0].min() < ylo or col[:, 0].max() > yhi:
        raise DecodeError("corrupt stream: luma index out of range")
    if col[:, 1:].min() < clo or col[:, 1:].max() > chi:
        raise DecodeError("corrupt stream: chroma index out of range")
    return Mesh(long_code, aspect, portrait, grey, qy_code, qc_code, pts, col), tris
