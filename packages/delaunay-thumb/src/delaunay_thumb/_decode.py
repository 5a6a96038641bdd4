"""The decoder: bytes to an RGB image at any size."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from delaunay_thumb._errors import DecodeError
from delaunay_thumb._format import read_stream_triangulated
from delaunay_thumb._render import shade_planes, to_uint8, triangle_map, vertex_positions

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
        mesh, tris = read_stream_triangulated(data)
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
    ids = triangle_map(xy, tris, size)
    return to_uint8(shade_planes(xy, rgb, tris, ids))
