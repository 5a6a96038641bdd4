"""Artifact format: round trip, bit packing, and rejection of malformed files."""

from __future__ import annotations

import hashlib
import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fourfold_common import engine
from fourfold_common.engine import ArtifactError

from .test_engine import build_mixed_network

RNG = np.random.default_rng(11)


@pytest.fixture(scope="module")
def network():
    return build_mixed_network()


@pytest.fixture(scope="module")
def blob(network):
    return engine.to_bytes(network)


def test_round_trip_preserves_everything(network, blob, tmp_path):
    path = engine.save(network, tmp_path / "net.ffi")
    assert path.read_bytes() == blob
    loaded = engine.load(path)
    assert loaded.input_shape == network.input_shape
    assert loaded.output == network.output
    for name, table in network.tables.items():
        np.testing.assert_array_equal(loaded.tables[name], table)
        assert loaded.tables[name].dtype == table.dtype
    for original, copy in zip(network.ops, loaded.ops, strict=True):
        assert type(original) is type(copy)
    x = RNG.integers(0, 256, size=(5, 8, 8, 1)).astype(np.uint8)
    np.testing.assert_array_equal(engine.run(loaded, x), engine.run(network, x))
    assert engine.to_bytes(loaded) == blob


def test_metadata_round_trip(tmp_path):
    net = engine.IntegerNetwork(
        (engine.Dense("input", "out", "T", np.array([[0, 1]])),),
        {"T": np.array([[0, 0], [2, 3]], np.int32)},
        (1,),
        2,
        "out",
        metadata={"package": "test", "levels": [0.0, 0.5]},
    )
    loaded = engine.from_bytes(engine.to_bytes(net))
    assert loaded.metadata == {"package": "test", "levels": [0.0, 0.5]}
    with pytest.raises(engine.EngineError, match="JSON"):
        engine.to_bytes(
            engine.IntegerNetwork(net.ops, net.tables, (1,), 2, "out", metadata={"x": object()})
        )


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["int8", "uint8", "int16", "uint16", "int32", "int64"]),
    st.lists(st.integers(-(2**31), 2**31 - 1), min_size=0, max_size=50),
)
def test_pack_unpack_round_trip(dtype, raw):
    info = np.iinfo(dtype)
    values = np.clip(np.asarray(raw, dtype=np.int64), info.min, info.max).astype(dtype)
    packed = engine.pack_array(values)
    if values.size:
        assert (
            packed.bits
            == int(values.astype(np.int64).max() - values.astype(np.int64).min()).bit_length()
        )
    restored = engine.unpack_array(packed)
    assert restored.dtype == values.dtype
    np.testing.assert_array_equal(restored, values)


def test_indices_are_stored_at_their_real_width(network, blob):
    header_length = struct.unpack_from("<I", blob, 12)[0]
    header = json.loads(blob[24 : 24 + header_length])
    conv = next(op for op in header["ops"] if op["op"] == "conv")
    entry = header["arrays"][conv["weights"]]
    weights = network.ops[1].weights
    assert entry["bits"] == int(weights.max() - weights.min()).bit_length() <= 3
    assert entry["nbytes"] == (weights.size * entry["bits"] + 7) // 8


def test_every_truncation_is_rejected(blob):
    for length in list(range(0, 40)) + list(range(40, len(blob), 37)) + [len(blob) - 1]:
        with pytest.raises(ArtifactError):
            engine.from_bytes(blob[:length])


def test_trailing_bytes_are_rejected(blob):
    with pytest.raises(ArtifactError, match="trailing"):
        engine.from_bytes(blob + b"\x00")


def test_every_single_byte_corruption_is_rejected(blob):
    positions = sorted(set(range(0, 24)) | set(range(24, len(blob), 11)) | {len(blob) - 1})
    for position in positions:
        damaged = bytearray(blob)
        damaged[position] ^= 0x40
        with pytest.raises(ArtifactError):
            engine.from_bytes(bytes(damaged))


def test_bad_magic_and_version_have_clear_messages(blob):
    with pytest.raises(ArtifactError, match="magic"):
        engine.from_bytes(b"NOTANNET" + blob[8:])
    with pytest.raises(ArtifactError, match="version 2"):
        engine.from_bytes(blob[:8] + struct.pack("<H", 2) + blob[10:])


def resign(header: dict, payload: bytes) -> bytes:
    header_bytes = json.dumps(header).encode()
    body = struct.pack("<8sHHIQ", b"FFINTNET", 1, 0, len(header_bytes), len(payload))
    body += header_bytes + payload
    return body + hashlib.sha256(body).digest()


def split(blob: bytes) -> tuple[dict, bytes]:
    header_length, payload_length = struct.unpack_from("<IQ", blob, 12)
    header = json.loads(blob[24 : 24 + header_length])
    return header, blob[24 + header_length : 24 + header_length + payload_length]


@pytest.mark.parametrize(
    "damage",
    [
        lambda h: h.pop("ops"),
        lambda h: h.update(format="other"),
        lambda h: h["ops"][0].update(op="teleport"),
        lambda h: h["ops"][1].update(table="missing"),
        lambda h: h["ops"][1].update(weights=999),
        lambda h: h["ops"][1].update(stride="x"),
        lambda h: h["ops"][2].update(shift=-3),
        lambda h: h["arrays"][0].update(bits=70),
        lambda h: h["arrays"][0].update(start=10**9),
        lambda h: h["arrays"][0].update(dtype="float32"),
        lambda h: h["arrays"][0].update(shape=[1, 2, 3]),
        lambda h: h["arrays"][0].update(offset=2**40),
        lambda h: h.update(accumulator_dtype="float64"),
        lambda h: h.update(output="nothing"),
        lambda h: h.update(input_shape=[8, 8]),
    ],
)
def test_malformed_headers_with_valid_checksum_are_rejected(blob, damage):
    header, payload = split(blob)
    damage(header)
    with pytest.raises(ArtifactError):
        engine.from_bytes(resign(header, payload))


def test_non_json_header_is_rejected(blob):
    _, payload = split(blob)
    body = struct.pack("<8sHHIQ", b"FFINTNET", 1, 0, 3, len(payload)) + b"\xff{[" + payload
    with pytest.raises(ArtifactError):
        engine.from_bytes(body + hashlib.sha256(body).digest())


def test_unreadable_path_is_artifact_error(tmp_path):
    with pytest.raises(ArtifactError, match="cannot read"):
        engine.load(tmp_path / "missing.ffi")
    with pytest.raises(ArtifactError):
        engine.from_bytes("text")  # type: ignore[arg-type]
