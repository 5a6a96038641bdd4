"""Binary range coder with adaptive bit models (the entropy coder of the bitstream).

The coder is the classic carry-propagating 32-bit binary range coder (as in LZMA) with 12-bit
probabilities. Two details save bytes on tiny streams and are part of the format
(``docs/delaunay-thumb/format.md``): the always-zero first output byte is not stored, and the
decoder reads zero bytes past the end of the data, so the encoder drops trailing zero bytes.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

PROB_BITS = 12
PROB_ONE = 1 << PROB_BITS
HALF = PROB_ONE // 2
ADAPT_SHIFT = 4
_TOP = 1 << 24
_MASK32 = 0xFFFFFFFF


def adapt(p0: int, bit: int) -> int:
    """Return the updated probability of a zero bit after coding ``bit``.

    Args:
        p0: Probability of a zero bit in units of ``1 / 4096`` (1..4095).
        bit: The bit just coded (0 or 1).

    Returns:
        The new probability, still within 1..4095.

    Example:
        >>> adapt(2048, 0)
        2176
    """
    if bit:
        return p0 - (p0 >> ADAPT_SHIFT)
    return p0 + ((PROB_ONE - p0) >> ADAPT_SHIFT)


#: Cost in bits of coding a 0 (index 0) or a 1 (index 1) when the zero probability is ``p0``.
_COST = (
    [-math.log2(max(p, 1) / PROB_ONE) for p in range(PROB_ONE + 1)],
    [-math.log2(max(PROB_ONE - p, 1) / PROB_ONE) for p in range(PROB_ONE + 1)],
)


def adaptive_cost(
    contexts: NDArray[np.int64], order: NDArray[np.int64], bits: NDArray[np.int64]
) -> float:
    """Bits an adaptive model spends on binary decisions, without running the range coder.

    Every context starts at probability 1/2 and adapts after each decision exactly as in
    :func:`adapt`; decisions of one context are taken in increasing ``order``. The range coder's
    output is within about a byte of ``ceil(cost / 8)``.

    Args:
        contexts: Context id of each decision.
        order: Position of each decision in the coding order (only compared within a context).
        bits: The decisions (0 or 1).

    Returns:
        The total cost in bits.

    Example:
        >>> round(adaptive_cost(np.zeros(2, np.int64), np.arange(2), np.array([1, 1])), 3)
        1.913
    """
    if contexts.size == 0:
        return 0.0
    sort = np.lexsort((order, contexts))
    cost0, cost1 = _COST
    total = 0.0
    prev = -1
    p = HALF
    for ctx, bit in zip(contexts[sort].tolist(), bits[sort].tolist(), strict=True):
        if ctx != prev:
            prev = ctx
            p = HALF
        if bit:
            total += cost1[p]
            p -= p >> ADAPT_SHIFT
        else:
            total += cost0[p]
            p += (PROB_ONE - p) >> ADAPT_SHIFT
    return total


class RangeEncoder:
    """Encode binary decisions into bytes.

    Example:
        >>> enc = RangeEncoder()
        >>> for b in (1, 0, 1, 1):
        ...     enc.encode_bit(b, 2048)
        >>> dec = RangeDecoder(enc.finish())
        >>> [dec.decode_bit(2048) for _ in range(4)]
        [1, 0, 1, 1]
    """

    def __init__(self) -> None:
        self._low = 0
        self._range = _MASK32
        self._cache = 0
        self._cache_size = 1
        self._out = bytearray()

    def _shift_low(self) -> None:
        low = self._low
        if low < 0xFF000000 or low > _MASK32:
            carry = low >> 32
            out = self._out
            out.append((self._cache + carry) & 0xFF)
            for _ in range(self._cache_size - 1):
                out.append((0xFF + carry) & 0xFF)
            self._cache_size = 0
            self._cache = (low >> 24) & 0xFF
        self._cache_size += 1
        self._low = (low << 8) & _MASK32

    def encode_bit(self, bit: int, p0: int) -> None:
        """Code one bit whose probability of being 0 is ``p0 / 4096``."""
        bound = (self._range >> PROB_BITS) * p0
        if bit:
            self._low += bound
            self._range -= bound
        else:
            self._range = bound
        while self._range < _TOP:
            self._range = (self._range << 8) & _MASK32
            self._shift_low()

    def encode_bits(self, value: int, count: int) -> None:
        """Code ``count`` raw bits of ``value`` (most significant first) at probability 1/2."""
        for shift in range(count - 1, -1, -1):
            self.encode_bit((value >> shift) & 1, HALF)

    def finish(self) -> bytes:
        """Flush the coder and return the shortest byte string that decodes to the same bits."""
        low, rng = self._low, self._range
        # Pick the value in [low, low + range) with the most trailing zero bytes.
        for k in (4, 3, 2, 1, 0):
            unit = 1 << (8 * k)
            value = -(-low // unit) * unit
            if value < low + rng:
                break
        self._low = value
        for _ in range(5):
            self._shift_low()
        data = bytes(self._out[1:])  # the first byte is always zero: not stored
        return data.rstrip(b"\x00")


class RangeDecoder:
    """Decode binary decisions produced by :class:`RangeEncoder`.

    Args:
        data: The coded bytes; reads past the end return zero bytes. The callers bound the
            number of decisions they decode, so hostile data cannot make it loop forever.

    Example:
        >>> RangeDecoder(b"").decode_bits(3)
        0
    """

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0
        self._range = _MASK32
        code = 0
        for _ in range(4):
            code = (code << 8) | self._next()
        self._code = code

    def _next(self) -> int:
        pos = self._pos
        self._pos = pos + 1
        if pos < len(self._data):
            return self._data[pos]
        return 0

    def decode_bit(self, p0: int) -> int:
        """Decode one bit whose probability of being 0 is ``p0 / 4096``."""
        bound = (self._range >> PROB_BITS) * p0
        if self._code < bound:
            self._range = bound
            bit = 0
        else:
            self._code -= bound
            self._range -= bound
            bit = 1
        while self._range < _TOP:
            self._range = (self._range << 8) & _MASK32
            self._code = ((self._code << 8) | self._next()) & _MASK32
        return bit

    def decode_bits(self, count: int) -> int:
        """Decode ``count`` raw bits (most significant first)."""
        value = 0
        for _ in range(count):
            value = (value << 1) | self.decode_bit(HALF)
        return value

    @property
    def bytes_consumed(self) -> int:
        """Number of bytes read so far, including zero padding past the end."""
        return self._pos
