"""The two exception types of the codec."""

from __future__ import annotations


class DecodeError(ValueError):
    """Raised by :func:`delaunay_thumb.decode` for any malformed, truncated or hostile stream.

    It is the only exception the decoder raises for bad *data* (a bad ``size`` argument is a
    plain :class:`ValueError`).

    Example:
        >>> import delaunay_thumb
        >>> try:
        ...     delaunay_thumb.decode(b"")
        ... except delaunay_thumb.DecodeError as err:
        ...     print("rejected")
        rejected
    """


class EncodeError(ValueError):
    """Raised by :func:`delaunay_thumb.encode` for input it cannot turn into a thumbnail.

    Examples are an unreadable file, an array of an unsupported shape or dtype, NaN values, or a
    byte budget below the smallest possible stream.

    Example:
        >>> import numpy as np
        >>> import delaunay_thumb
        >>> try:
        ...     delaunay_thumb.encode(np.zeros((4, 4, 7)))
        ... except delaunay_thumb.EncodeError as err:
        ...     print("rejected")
        rejected
    """
