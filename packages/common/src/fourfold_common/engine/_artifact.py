"""The single-file binary artifact of an integer network: save, load, verify.

Layout (all integers little-endian)::

    offset  size  field
    0       8     magic  b"FFINTNET"
    8       2     format version (uint16, currently 1)
    10      2     reserved, 0
    12      4     header length H (uint32)
    16      8     payload length P (uint64)
    24      H     header: UTF-8 JSON (network structure, array directory, metadata)
    24+H    P     payload: every array bit-packed to its real width, concatenated
    24+H+P  32    SHA-256 of bytes [0, 24+H+P)

See ``docs/common/engine.md`` for the header schema.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

from fourfold_common.engine._errors import ArtifactError, EngineError
from fourfold_common.engine._network import IntegerNetwork, infer_buffers
from fourfold_common.engine._ops import OP_TYPES, Op
from fourfold_common.engine._packing import PackedArray, pack_array, unpack_array
from fourfold_common.io import atomic_write_bytes

MAGIC = b"FFINTNET"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sHHIQ")
_DIGEST = 32
_TUPLE_FIELDS = {"stride", "padding", "window"}


class _Writer:
    def __init__(self) -> None:
        self.directory: list[dict[str, Any]] = []
        self.chunks: list[bytes] = []
        self.position = 0

    def add(self, array: np.ndarray) -> int:
        packed = pack_array(array)
        self.directory.append(
            {
                "dtype": packed.dtype,
                "shape": list(packed.shape),
                "offset": packed.offset,
                "bits": packed.bits,
                "start": self.position,
                "nbytes": len(packed.data),
            }
        )
        self.chunks.append(packed.data)
        self.position += len(packed.data)
        return len(self.directory) - 1


def _op_to_json(op: Op, writer: _Writer) -> dict[str, Any]:
    record: dict[str, Any] = {"op": op.OP}
    for item in dataclasses.fields(op):
        value = getattr(op, item.name)
        if item.name in op.ARRAYS:
            record[item.name] = None if value is None else writer.add(value)
        elif isinstance(value, tuple):
            record[item.name] = [int(v) for v in value]
        elif isinstance(value, np.integer):
            record[item.name] = int(value)
        else:
            record[item.name] = value
    return record


def to_bytes(network: IntegerNetwork) -> bytes:
    """Serialize a (validated) network to the artifact byte string.

    Raises:
        EngineError: The network is invalid.
    """
    infer_buffers(network)
    writer = _Writer()
    tables = {name: writer.add(table) for name, table in network.tables.items()}
    header = {
        "format": "fourfold.intnet",
        "input_shape": list(network.input_shape),
        "input_levels": network.input_levels,
        "input_name": network.input_name,
        "output": network.output,
        "accumulator_dtype": network.accumulator_dtype,
        "metadata": dict(network.metadata),
        "tables": tables,
        "ops": [_op_to_json(op, writer) for op in network.ops],
        "arrays": writer.directory,
    }
    try:
        header_bytes = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    except (TypeError, ValueError) as error:
        raise EngineError(f"metadata is not JSON-serializable: {error}") from error
    payload = b"".join(writer.chunks)
    body = _PREFIX.pack(MAGIC, FORMAT_VERSION, 0, len(header_bytes), len(payload))
    body += header_bytes + payload
    return body + hashlib.sha256(body).digest()


def save(network: IntegerNetwork, path: str | Path) -> Path:
    """Write ``network`` to ``path`` atomically as one artifact file and return the path.

    Example:
        >>> import tempfile, pathlib
        >>> import numpy as np
        >>> from fourfold_common.engine import Dense, IntegerNetwork, load, save
        >>> net = IntegerNetwork((Dense("input", "out", "T", np.array([[0, 1]])),),
        ...                      {"T": np.array([[0, 0], [2, 3]], np.int32)}, (1,), 2, "out")
        >>> path = save(net, pathlib.Path(tempfile.mkdtemp()) / "net.ffi")
        >>> load(path).tables["T"].tolist()
        [[0, 0], [2, 3]]
    """
    return atomic_write_bytes(path, to_bytes(network))


def _array(directory: list[Any], payload: bytes, ref: Any) -> np.ndarray:
    if not isinstance(ref, int) or isinstance(ref, bool) or not 0 <= ref < len(directory):
        raise ArtifactError(f"bad array reference {ref!r}")
    entry = directory[ref]
    start, nbytes = int(entry["start"]), int(entry["nbytes"])
    if start < 0 or nbytes < 0 or start + nbytes > len(payload):
        raise ArtifactError(f"array {ref} lies outside the payload")
    packed = PackedArray(
        str(entry["dtype"]),
        tuple(entry["shape"]),
        int(entry["offset"]),
        int(entry["bits"]),
        payload[start : start + nbytes],
    )
    return unpack_array(packed)


def _op_from_json(record: dict[str, Any], directory: list[Any], payload: bytes) -> Op:
    kind = record.get("op")
    if kind not in OP_TYPES:
        raise ArtifactError(f"unknown op type {kind!r}")
    cls = OP_TYPES[kind]
    values: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        if item.name not in record:
            continue
        value = record[item.name]
        if item.name in cls.ARRAYS:
            values[item.name] = None if value is None else _array(directory, payload, value)
        elif item.name in _TUPLE_FIELDS:
            values[item.name] = tuple(int(v) for v in value)
        else:
            values[item.name] = value
    return cls(**values)


def from_bytes(data: bytes) -> IntegerNetwork:
    """Parse and fully validate an artifact byte string.

    Raises:
        ArtifactError: Wrong magic, unsupported version, truncated or trailing bytes, checksum
            mismatch, malformed header, inconsistent arrays, or an invalid network. This is the
            only exception raised for bad input.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ArtifactError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < _PREFIX.size + _DIGEST:
        raise ArtifactError(f"artifact truncated: {len(data)} bytes")
    magic, version, _reserved, header_length, payload_length = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise ArtifactError("not a fourfold integer-network artifact (bad magic)")
    if version != FORMAT_VERSION:
        raise ArtifactError(f"unsupported artifact version {version} (this reader: 1)")
    end = _PREFIX.size + header_length + payload_length
    if len(data) != end + _DIGEST:
        raise ArtifactError(
            f"artifact length {len(data)} does not match its header ({end + _DIGEST} expected): "
            "truncated or trailing bytes"
        )
    if hashlib.sha256(data[:end]).digest() != data[end:]:
        raise ArtifactError("artifact checksum mismatch: the file is corrupted")
    try:
        header = json.loads(data[_PREFIX.size : _PREFIX.size + header_length].decode("utf-8"))
        if not isinstance(header, dict) or header.get("format") != "fourfold.intnet":
            raise ArtifactError("header is not a fourfold.intnet header")
        payload = data[_PREFIX.size + header_length : end]
        directory = header["arrays"]
        tables = {
            str(name): _array(directory, payload, ref) for name, ref in header["tables"].items()
        }
        ops = tuple(_op_from_json(op, directory, payload) for op in header["ops"])
        network = IntegerNetwork(
            ops=ops,
            tables=tables,
            input_shape=tuple(int(v) for v in header["input_shape"]),
            input_levels=int(header["input_levels"]),
            output=str(header["output"]),
            accumulator_dtype=str(header["accumulator_dtype"]),
            metadata=dict(header["metadata"]),
            input_name=str(header["input_name"]),
        )
        infer_buffers(network)
    except ArtifactError:
        raise
    except (EngineError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise ArtifactError(f"malformed artifact: {error}") from error
    return network


def load(path: str | Path) -> IntegerNetwork:
    """Read and validate an artifact file written by :func:`save`.

    Raises:
        ArtifactError: The file cannot be read or is not a valid artifact (see
            :func:`from_bytes`).
    """
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ArtifactError(f"cannot read artifact {path}: {error}") from error
    return from_bytes(data)
