"""Bit packing of integer arrays to their real width (offset + ``bits`` per value)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INTEGER_DTYPES = ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64")


@dataclass(frozen=True)
class PackedArray:
    """An integer array stored as ``offset + value`` with ``bits`` bits per value.

    Attributes:
        dtype: Numpy dtype name of the unpacked array.
        shape: Shape of the unpacked array.
        offset: Minimum value (subtracted before packing).
        bits: Bits per value (``0`` when all values are equal).
        data: Little-endian bit stream, ``ceil(size * bits / 8)`` bytes.
    """

    dtype: str
    shape: tuple[int, ...]
    offset: int
    bits: int
    data: bytes


def pack_array(array: np.ndarray) -> PackedArray:
    """Pack an integer array to ``bits = bit_length(max - min)`` bits per value.

    Example:
        >>> packed = pack_array(np.array([0, 5, 39], dtype=np.uint8))
        >>> packed.bits, len(packed.data)
        (6, 3)
    """
    values = np.asarray(array)
    if values.dtype.name not in INTEGER_DTYPES:
        raise ValueError(f"cannot pack dtype {values.dtype}; integer dtypes only")
    flat = values.astype(np.int64).ravel()
    offset = int(flat.min()) if flat.size else 0
    span = (flat - offset).astype(np.uint64)
    bits = int(span.max()).bit_length() if flat.size else 0
    if bits == 0:
        data = b""
    else:
        matrix = (span[:, None] >> np.arange(bits, dtype=np.uint64)) & np.uint64(1)
        data = np.packbits(matrix.astype(np.uint8).ravel(), bitorder="little").tobytes()
    return PackedArray(values.dtype.name, tuple(values.shape), offset, bits, data)


def packed_nbytes(size: int, bits: int) -> int:
    """Bytes taken by ``size`` values of ``bits`` bits (rounded up to a whole byte)."""
    return (size * bits + 7) // 8


def unpack_array(packed: PackedArray) -> np.ndarray:
    """Inverse of :func:`pack_array`; raises ``ValueError`` on inconsistent fields."""
    if packed.dtype not in INTEGER_DTYPES:
        raise ValueError(f"unsupported dtype {packed.dtype!r}")
    if not 0 <= packed.bits <= 63:
        raise ValueError(f"bits must be in [0, 63], got {packed.bits}")
    if any(not isinstance(d, int) or d < 0 for d in packed.shape):
        raise ValueError(f"bad shape {packed.shape!r}")
    size = int(np.prod(packed.shape, dtype=np.int64))
    if len(packed.data) != packed_nbytes(size, packed.bits):
        raise ValueError("packed data length does not match shape and bits")
    if packed.bits == 0:
        span = np.zeros(size, dtype=np.int64)
    else:
        bits = np.unpackbits(
            np.frombuffer(packed.data, dtype=np.uint8), count=size * packed.bits, bitorder="little"
        ).reshape(size, packed.bits)
        weights = np.left_shift(np.int64(1), np.arange(packed.bits, dtype=np.int64))
        span = (bits.astype(np.int64) * weights).sum(axis=1)
    values = span + packed.offset
    info = np.iinfo(np.dtype(packed.dtype))
    if size and (int(values.min()) < info.min or int(values.max()) > info.max):
        raise ValueError(f"values do not fit {packed.dtype}")
    return values.astype(packed.dtype).reshape(packed.shape)
