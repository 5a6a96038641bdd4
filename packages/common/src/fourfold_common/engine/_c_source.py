"""C99 text helpers for the C export: integer literals, constant arrays, bit-stream readers.

Constant arrays are stored at the smallest standard integer width holding their values, except
weight (and bias) indices, which are truly bit-packed (see :func:`packed_reader`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from fourfold_common.engine._c_plan import C_SIZES
from fourfold_common.engine._errors import EngineError
from fourfold_common.engine._packing import pack_array

MAX_PACKED_BITS = 24
_SIGNED = (("int8_t", 8), ("int16_t", 16), ("int32_t", 32), ("int64_t", 64))
_UNSIGNED = (("uint8_t", 8), ("uint16_t", 16), ("uint32_t", 32))
_WIDTHS = {"int8_t": 1, "int16_t": 2, "uint32_t": 4, **C_SIZES}


def c_int(value: int, ctype: str = "int32_t") -> str:
    """A C literal of ``value`` valid for ``ctype`` (int64 literals via ``INT64_C``)."""
    value = int(value)
    if ctype == "int64_t" or not -(2**31) < value < 2**31:
        if value == -(2**63):
            return "(-INT64_C(9223372036854775807) - 1)"
        return f"INT64_C({value})"
    if value == -(2**31):
        return "(-2147483647 - 1)"
    return str(value)


def smallest_ctype(values: np.ndarray, *, signed: bool) -> str:
    """Smallest standard integer type holding every value of ``values``."""
    low = int(values.min()) if values.size else 0
    high = int(values.max()) if values.size else 0
    if signed:
        for ctype, bits in _SIGNED:
            if -(2 ** (bits - 1)) <= low and high < 2 ** (bits - 1):
                return ctype
    elif low >= 0:
        for ctype, bits in _UNSIGNED:
            if high < 2**bits:
                return ctype
    raise EngineError(f"values in [{low}, {high}] fit no C integer type")


@dataclass(frozen=True)
class Packed:
    """A bit-packed constant stream.

    Attributes:
        name: C array name (``""`` when ``bits == 0``: every value equals ``offset``).
        bits: Bits per value.
        offset: Value added to every decoded value.
    """

    name: str
    bits: int
    offset: int


@dataclass
class Constants:
    """Collects the ``static const`` arrays of one export and their flash bytes by category.

    With ``emit=False`` only the sizes are collected (no C text): the memory budget of a
    network without writing its source (see :func:`fourfold_common.engine.size_report`).
    """

    prefix: str
    emit: bool = True
    lines: list[str] = field(default_factory=list)
    parts: dict[str, int] = field(default_factory=dict)
    ctypes: dict[str, str] = field(default_factory=dict)
    count: int = 0

    def array(self, hint: str, values: np.ndarray, category: str, *, signed: bool = True) -> str:
        """Declare a constant array at the smallest width and return its C name."""
        flat = np.asarray(values).astype(np.int64).ravel()
        if flat.size == 0:
            raise EngineError(f"internal: empty constant array {hint!r}")
        ctype = smallest_ctype(flat, signed=signed)
        return self._declare(
            hint, ctype, int(flat.size), category, lambda: [c_int(v, ctype) for v in flat.tolist()]
        )

    def _declare(
        self, hint: str, ctype: str, size: int, category: str, items: Callable[[], list[str]]
    ) -> str:
        """Declare ``size`` literals (rendered by ``items`` only when emitting); return the name."""
        name = f"{self.prefix}_{hint}{self.count}"
        self.count += 1
        if self.emit:
            literals = items()
            self.lines.append(f"static const {ctype} {name}[{size}] = {{")
            for start in range(0, size, 16):
                self.lines.append("    " + ", ".join(literals[start : start + 16]) + ",")
            self.lines.append("};")
        self.parts[category] = self.parts.get(category, 0) + _WIDTHS[ctype] * size
        self.ctypes[name] = ctype
        return name

    def packed(
        self, hint: str, values: np.ndarray, category: str, *, byte_aligned: bool = False
    ) -> Packed:
        """Declare a bit-packed stream of integers (offset + ``bits`` per value, LSB first).

        Streams read with :func:`reader_next` get ``reader_bytes(bits) - 1`` zero bytes
        appended, so its whole-word reads never leave the array; ``byte_aligned`` streams
        (read a byte at a time) get none.
        """
        packed = pack_array(np.asarray(values).astype(np.int64))
        if packed.bits > MAX_PACKED_BITS:
            raise EngineError(
                f"indices need {packed.bits} bits; the C export packs at most {MAX_PACKED_BITS}"
            )
        if packed.bits == 0:
            return Packed("", 0, packed.offset)
        data = packed.data + bytes(0 if byte_aligned else reader_bytes(packed.bits) - 1)
        name = self._declare(
            hint, "uint8_t", len(data), category, lambda: [f"0x{byte:02x}u" for byte in data]
        )
        return Packed(name, packed.bits, packed.offset)

    @property
    def flash_bytes(self) -> int:
        """Total bytes of all constant arrays."""
        return sum(self.parts.values())


def index_bits(values: np.ndarray) -> int:
    """Bits per value of the packed stream of ``values`` (``bit_length(max - min)``)."""
    flat = np.asarray(values).astype(np.int64)
    return (int(flat.max()) - int(flat.min())).bit_length() if flat.size else 0


def reader_bytes(bits: int) -> int:
    """Bytes one read must cover: a value of ``bits`` bits starting at any bit of a byte."""
    return (7 + bits + 7) >> 3


def reader_declarations(variable: str, stream: Packed) -> list[str]:
    """Locals of a bit-stream reader named ``variable`` (only those its decoding uses)."""
    if stream.bits == 0:
        return [f"uint32_t {variable}v;"]
    return [f"uint32_t {variable}n, {variable}i, {variable}v;"]


def reader_reset(variable: str, stream: Packed) -> list[str]:
    """Statements restarting the reader at the beginning of ``stream``."""
    return [] if stream.bits == 0 else [f"{variable}n = 0u;"]


def reader_next(variable: str, stream: Packed) -> list[str]:
    """Statements decoding the next value (minus the stream offset) into ``<variable>v``.

    Branch-free random access by bit position ``n``: or the bytes ``n >> 3`` onwards into a
    word with shifts, shift right by ``n & 7``, mask ``bits`` bits, advance ``n`` by ``bits``.
    """
    if stream.bits == 0:
        return [f"{variable}v = 0u;"]
    name, count = stream.name, reader_bytes(stream.bits)
    parts = [f"(uint32_t){name}[{variable}i]"]
    parts += [f"((uint32_t){name}[{variable}i + {k}] << {8 * k})" for k in range(1, count)]
    mask = (1 << stream.bits) - 1
    return [
        f"{variable}i = {variable}n >> 3;",
        f"{variable}v = (({' | '.join(parts)}) >> ({variable}n & 7u)) & {mask}u;",
        f"{variable}n += {stream.bits}u;",
    ]
