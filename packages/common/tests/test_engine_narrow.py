"""Narrow table entries: int8/int16 tables in the executor, the artifact and the size report."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fourfold_common import engine
from fourfold_common.engine import (
    Conv,
    Dense,
    EngineError,
    Flatten,
    IntegerNetwork,
    Lookup,
    ShiftActivation,
    SumPool,
    ThresholdActivation,
)


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (-128, 127, "int8"),
        (0, 128, "int16"),
        (-129, 0, "int16"),
        (-(2**15), 2**15 - 1, "int16"),
        (0, 2**15, "int32"),
        (-(2**31), 2**31 - 1, "int32"),
        (0, 2**31, "int64"),
        (-(2**63), 2**63 - 1, "int64"),
    ],
)
def test_narrow_dtype_is_the_smallest_signed_width(low, high, expected):
    values = np.array([low, high], dtype=np.int64 if high < 2**63 else np.uint64)
    assert engine.narrow_dtype(values) == np.dtype(expected)
    narrowed = engine.narrow_table(values.astype(np.int64))
    assert narrowed.dtype == np.dtype(expected)
    assert narrowed.tolist() == [low, high]


def test_narrow_dtype_rejects_non_integers_and_values_beyond_int64():
    with pytest.raises(EngineError, match="integers"):
        engine.narrow_dtype(np.array([0.5]))
    with pytest.raises(EngineError, match="int64"):
        engine.narrow_dtype(np.array([2**64 - 1], dtype=np.uint64))


def test_product_table_widths():
    a, w = np.linspace(0.0, 1.0, 5), np.linspace(-1.0, 1.0, 7)
    wide = engine.product_table(a, w, 14)
    assert wide.dtype == np.int32
    for dtype in ("int16", "int64", "narrow"):
        table = engine.product_table(a, w, 14, dtype=dtype)
        np.testing.assert_array_equal(table, wide)
        assert table.dtype == np.dtype("int16" if dtype == "narrow" else dtype)
    assert engine.product_table(a, w, 6, dtype="narrow").dtype == np.int8
    with pytest.raises(EngineError, match=r"exceed int16.*entry_bits=16"):
        engine.product_table(a, w, 15, dtype="int16")
    with pytest.raises(EngineError, match="dtype must be one of"):
        engine.product_table(a, w, 3, dtype="uint8")


@pytest.mark.parametrize("entry_bits", [8, 12, 16])
def test_choose_shift_entry_bits_is_the_largest_fitting_shift(entry_bits):
    a, w = np.linspace(-0.7, 1.3, 9), np.linspace(-0.9, 0.4, 11)
    magnitude = float(np.max(np.abs(np.outer(a, w))))
    shift = engine.choose_shift(magnitude, 500, entry_bits=entry_bits)
    assert shift <= engine.choose_shift(magnitude, 500)
    dtype = "int8" if entry_bits == 8 else "int16"
    table = engine.product_table(a, w, shift, dtype=dtype)  # fits: no error
    assert int(np.max(np.abs(table))) < 2 ** (entry_bits - 1)
    assert (
        int(np.max(np.abs(engine.product_table(a, w, shift + 1, dtype="int64"))))
        >= 2 ** (entry_bits - 1) - 1
    )  # one more bit of fixed point would (nearly) overflow the entry width
    with pytest.raises(EngineError, match="entry_bits"):
        engine.choose_shift(magnitude, 500, entry_bits=1)


def narrow_network(table_dtype: str) -> IntegerNetwork:
    """Entries at the extremes of ``table_dtype`` everywhere: a padded convolution with bias
    indices, a value lookup + sum-pool, and a dense layer whose first unit adds 100 maximal
    entries (its accumulator goes far beyond the entry width: gathers must widen)."""
    rng = np.random.default_rng(5)
    info = np.iinfo(np.dtype(table_dtype))
    table = rng.integers(info.min, int(info.max) + 1, size=(5, 8), dtype=np.int64)
    table[:, 0] = [info.max, info.min, info.max, info.min, info.max]
    table[:, 2] = info.max
    dense_weights = rng.integers(0, 8, size=(100, 5))
    dense_weights[:, 0] = 2
    ops = (
        Lookup("input", "x", rng.integers(0, 4, size=16), levels=4),
        Conv(
            "x",
            "c",
            "T",
            rng.integers(0, 8, size=(3, 3, 1, 4)),
            padding=(1, 1, 1, 1),
            bias_index=np.array([0, 1, 2, 3]),
            bias_row=4,
        ),
        ShiftActivation("c", "cx", max(int(info.bits) - 5, 0), -8, np.arange(20) % 4, 4),
        Lookup("cx", "v", np.array([info.max, info.min, 0, 1], dtype=table_dtype), kind="value"),
        SumPool("v", "s", (2, 2), (2, 2)),
        ThresholdActivation("s", "sx", np.array([-5, 0, 7], dtype=np.int64)),
        Flatten("sx", "f"),
        Dense("f", "logits", "T", dense_weights),
    )
    accumulator = "int32" if info.bits < 32 else "int64"
    tables = {"T": table.astype(table_dtype)}
    return IntegerNetwork(ops, tables, (10, 10, 1), 16, "logits", accumulator)


def widened(network: IntegerNetwork) -> IntegerNetwork:
    """The same network with every table stored as int64."""
    ops = tuple(
        dataclasses.replace(op, table=op.table.astype(np.int64))
        if isinstance(op, Lookup) and op.kind == "value"
        else op
        for op in network.ops
    )
    tables = {name: table.astype(np.int64) for name, table in network.tables.items()}
    return dataclasses.replace(network, ops=ops, tables=tables)


NARROW_INPUTS = np.random.default_rng(8).integers(0, 16, size=(24, 10, 10, 1))


@pytest.mark.parametrize("table_dtype", ["int8", "int16"])
def test_executor_gathers_narrow_entries_and_widens_them(table_dtype):
    net = narrow_network(table_dtype)
    seen: dict[str, np.ndarray] = {}
    logits = engine.run(net, NARROW_INPUTS, trace=seen.__setitem__)
    np.testing.assert_array_equal(logits, engine.run(widened(net), NARROW_INPUTS))
    assert logits.dtype == np.int32
    assert seen["c"].dtype == seen["s"].dtype == np.int32
    limit = int(np.iinfo(np.dtype(table_dtype)).max)
    assert int(np.max(np.abs(logits))) > 50 * limit  # far beyond the entry width, no wrap
    assert int(np.max(np.abs(seen["s"]))) > limit  # the pooled values too
    assert len(np.unique(seen["cx"])) > 1  # the activations really vary


def test_narrow_tables_keeps_results_and_narrows_every_table():
    wide = widened(narrow_network("int16"))
    narrow = engine.narrow_tables(wide)
    assert narrow.tables["T"].dtype == np.int16
    lookup = next(op for op in narrow.ops if isinstance(op, Lookup) and op.kind == "value")
    assert lookup.table.dtype == np.int16
    index_lookup = narrow.ops[0]
    assert index_lookup is wide.ops[0]  # index lookups are left alone
    np.testing.assert_array_equal(
        engine.run(narrow, NARROW_INPUTS), engine.run(wide, NARROW_INPUTS)
    )


@pytest.mark.parametrize("table_dtype", ["int8", "int16"])
def test_artifact_round_trips_narrow_tables(table_dtype, tmp_path):
    net = narrow_network(table_dtype)
    loaded = engine.load(engine.save(net, tmp_path / "narrow.ffi"))
    assert loaded.tables["T"].dtype == np.dtype(table_dtype)
    np.testing.assert_array_equal(loaded.tables["T"], net.tables["T"])
    np.testing.assert_array_equal(engine.run(loaded, NARROW_INPUTS), engine.run(net, NARROW_INPUTS))
    report = engine.size_report(net)
    table_part = next(p for p in report.parts if p.part == "table:T")
    bits = np.iinfo(np.dtype(table_dtype)).bits
    assert (table_part.dtype, table_part.bits) == (table_dtype, bits)  # extremes: full width
    assert table_part.packed_bytes == 40 * bits // 8


@pytest.mark.parametrize("table_dtype", ["int8", "int16", "int32"])
def test_size_report_counts_flash_at_the_real_width(table_dtype, tmp_path):
    net = narrow_network(table_dtype)
    width = np.dtype(table_dtype).itemsize
    report = engine.size_report(net)
    export = engine.export_c(net, tmp_path)
    assert report.flash_bytes == export.flash_bytes
    assert report.ram_bytes == export.ram_bytes
    assert dict(report.flash_parts) == dict(export.flash_parts)
    assert report.flash_parts["table:T"] == 40 * width  # 8 columns: rows addressed by a shift
    assert report.flash_parts["lookups"] == 16 + 4 * width  # uint8 index lookup + values
    # The real width is that of the entries, not of the numpy dtype they happen to be held in.
    assert engine.size_report(widened(net)).flash_parts["table:T"] == 40 * width
    assert report.flash_ratio == report.flash_bytes / report.float32_bytes
    assert f"flash {report.flash_bytes} B" in engine.format_size_report(report)


def test_size_report_without_c_export_has_no_flash_figure():
    table = np.zeros((1, 2**24 + 1), dtype=np.int8)  # 25-bit indices: beyond the C export's 24
    op = Dense("input", "out", "T", np.array([[0, 2**24]]))
    report = engine.size_report(IntegerNetwork((op,), {"T": table}, (1,), 1, "out"))
    assert report.flash_bytes is None
    assert report.ram_bytes is None
    assert report.flash_ratio == float("inf")
    assert "C export" not in engine.format_size_report(report)


# A version-1 artifact with int8/int16 tables, written by fourfold-common before narrow tables
# were documented (commit c69f806): it must keep loading and computing the same logits.
GOLDEN_V1 = bytes.fromhex(
    "4646494e544e4554010000007e04000029000000000000007b22616363756d756c61746f725f647479706522"
    "3a22696e743332222c22617272617973223a5b7b2262697473223a382c226474797065223a22696e7438222c"
    "226e6279746573223a31352c226f6666736574223a2d3132382c227368617065223a5b352c335d2c22737461"
    "7274223a307d2c7b2262697473223a31362c226474797065223a22696e743136222c226e6279746573223a31"
    "362c226f6666736574223a2d33323736382c227368617065223a5b342c325d2c227374617274223a31357d2c"
    "7b2262697473223a322c226474797065223a22696e743634222c226e6279746573223a322c226f6666736574"
    "223a302c227368617065223a5b385d2c227374617274223a33317d2c7b2262697473223a322c226474797065"
    "223a22696e743634222c226e6279746573223a322c226f6666736574223a302c227368617065223a5b322c33"
    "5d2c227374617274223a33337d2c7b2262697473223a322c226474797065223a22696e743634222c226e6279"
    "746573223a312c226f6666736574223a302c227368617065223a5b335d2c227374617274223a33357d2c7b22"
    "62697473223a382c226474797065223a22696e743634222c226e6279746573223a332c226f6666736574223a"
    "2d3130302c227368617065223a5b335d2c227374617274223a33367d2c7b2262697473223a312c2264747970"
    "65223a22696e743634222c226e6279746573223a312c226f6666736574223a302c227368617065223a5b332c"
    "325d2c227374617274223a33397d2c7b2262697473223a342c226474797065223a22696e743634222c226e62"
    "79746573223a312c226f6666736574223a2d352c227368617065223a5b325d2c227374617274223a34307d5d"
    "2c22666f726d6174223a22666f7572666f6c642e696e746e6574222c22696e7075745f6c6576656c73223a38"
    "2c22696e7075745f6e616d65223a22696e707574222c22696e7075745f7368617065223a5b325d2c226d6574"
    "6164617461223a7b7d2c226f7073223a5b7b22696e707574223a22696e707574222c226b696e64223a22696e"
    "646578222c226c6576656c73223a342c226f70223a226c6f6f6b7570222c226f7574707574223a227830222c"
    "227461626c65223a327d2c7b2262696173223a6e756c6c2c22626961735f696e646578223a342c2262696173"
    "5f726f77223a342c22696e707574223a227830222c226f70223a2264656e7365222c226f7574707574223a22"
    "61222c227461626c65223a2254222c2277656967687473223a337d2c7b22626f756e646172696573223a352c"
    "22696e707574223a2261222c226f70223a227468726573686f6c645f61637469766174696f6e222c226f7574"
    "707574223a2268227d2c7b2262696173223a372c22626961735f696e646578223a6e756c6c2c22626961735f"
    "726f77223a2d312c22696e707574223a2268222c226f70223a2264656e7365222c226f7574707574223a226c"
    "6f67697473222c227461626c65223a2257222c2277656967687473223a367d5d2c226f7574707574223a226c"
    "6f67697473222c227461626c6573223a7b2254223a302c2257223a317d7d0080ff7b8389e41c878182837988"
    "7700000080ffffff7f2c81d47e0c800d8050faa401210064c8360a36d62bf5b6c6bd429c19b3baf2d181f0f9"
    "9d72c377abbfaaeef04aeb6ceee5d3"
)
# logits of the 64 inputs np.ndindex(8, 8), computed by the code that wrote it
GOLDEN_V1_LOGITS = [
    [303, 32461],
    [303, 32461],
    [-32751, 32775],
    [-32751, 32775],
    [-32750, -32760],
    [-32750, -32760],
    [-32751, 32775],
    [-32751, 32775],
    [303, 32461],
    [303, 32461],
    [-32751, 32775],
    [-32751, 32775],
    [-32750, -32760],
    [-32750, -32760],
    [-32751, 32775],
    [-32751, 32775],
    [16, 32775],
    [16, 32775],
    [303, 32461],
    [303, 32461],
    [318, -33060],
    [318, -33060],
    [4, 32162],
    [4, 32162],
    [16, 32775],
    [16, 32775],
    [303, 32461],
    [303, 32461],
    [318, -33060],
    [318, -33060],
    [4, 32162],
    [4, 32162],
    [17, -32760],
    [17, -32760],
    [16, -32761],
    [16, -32761],
    [-283, -33060],
    [-283, -33060],
    [16, -32761],
    [16, -32761],
    [17, -32760],
    [17, -32760],
    [16, -32761],
    [16, -32761],
    [-283, -33060],
    [-283, -33060],
    [16, -32761],
    [16, -32761],
    [16, 32775],
    [16, 32775],
    [303, 32461],
    [303, 32461],
    [5, -33373],
    [5, -33373],
    [303, 32461],
    [303, 32461],
    [16, 32775],
    [16, 32775],
    [303, 32461],
    [303, 32461],
    [5, -33373],
    [5, -33373],
    [303, 32461],
    [303, 32461],
]


def test_old_version_1_artifacts_still_load():
    net = engine.from_bytes(GOLDEN_V1)
    assert net.tables["T"].dtype == np.int8
    assert net.tables["W"].dtype == np.int16
    inputs = np.array(list(np.ndindex(8, 8)))
    assert engine.run(net, inputs).tolist() == GOLDEN_V1_LOGITS
    assert engine.to_bytes(net) == GOLDEN_V1  # the writer still writes the same format
