"""Tests of fourfold_common.engine: executor vs references, integer-only, overflow, reports."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import numpy as np
import pytest

from fourfold_common import engine
from fourfold_common.engine import (
    Add,
    Conv,
    Dense,
    EngineError,
    Flatten,
    IntegerNetwork,
    Lookup,
    MaxPool,
    ShiftActivation,
    SumPool,
    ThresholdActivation,
)

RNG = np.random.default_rng(7)


def reference_conv(x, table, weights, stride, padding, groups, pad_index, bias):
    top, bottom, left, right = padding
    x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=pad_index)
    kh, kw, cin_g, cout = weights.shape
    cout_g = cout // groups
    out_h = (x.shape[1] - kh) // stride[0] + 1
    out_w = (x.shape[2] - kw) // stride[1] + 1
    out = np.zeros((x.shape[0], out_h, out_w, cout), dtype=np.int64)
    for b, y, xx, o in itertools.product(
        range(x.shape[0]), range(out_h), range(out_w), range(cout)
    ):
        group = o // cout_g
        total = 0
        for dy, dx, c in itertools.product(range(kh), range(kw), range(cin_g)):
            index = x[b, y * stride[0] + dy, xx * stride[1] + dx, group * cin_g + c]
            total += int(table[index, weights[dy, dx, c, o]])
        out[b, y, xx, o] = total + (0 if bias is None else int(bias[o]))
    return out


def make_trace():
    seen: dict[str, np.ndarray] = {}

    def trace(name, array):
        assert isinstance(array, np.ndarray)
        assert np.issubdtype(array.dtype, np.integer), (name, array.dtype)
        seen[name] = array

    return trace, seen


@pytest.mark.parametrize(
    ("stride", "padding", "groups", "cin", "cout"),
    [
        ((1, 1), (0, 0, 0, 0), 1, 3, 4),
        ((2, 1), (1, 1, 2, 0), 1, 2, 3),
        ((1, 1), (1, 1, 1, 1), 4, 4, 4),  # depthwise
        ((2, 2), (1, 0, 1, 0), 2, 4, 6),  # grouped
    ],
)
def test_conv_matches_reference(stride, padding, groups, cin, cout):
    na, nw = 5, 7
    table = RNG.integers(-1000, 1000, size=(na, nw)).astype(np.int32)
    weights = RNG.integers(0, nw, size=(3, 3, cin // groups, cout)).astype(np.uint8)
    bias = RNG.integers(-50, 50, size=cout).astype(np.int32)
    x = RNG.integers(0, na, size=(3, 7, 6, cin)).astype(np.uint8)
    op = Conv("input", "acc", "T", weights, stride, padding, groups, 2, bias=bias)
    net = IntegerNetwork((op,), {"T": table}, (7, 6, cin), na, "acc")
    trace, _ = make_trace()
    result = engine.run(net, x, trace=trace, batch_size=2)
    expected = reference_conv(x, table, weights, stride, padding, groups, 2, bias)
    assert result.dtype == np.int32
    np.testing.assert_array_equal(result, expected)


def test_dense_with_global_table_and_bias_row():
    # discrete-nets style: one (|A| + 1) x |W| table, last row for biases.
    activation_levels = np.linspace(-1.0, 1.0, 8)
    weight_levels = np.linspace(-0.5, 0.5, 10)
    table = engine.product_table(activation_levels, weight_levels, 10, bias_row=True)
    assert table.shape == (9, 10)
    weights = RNG.integers(0, 10, size=(20, 6))
    bias_index = RNG.integers(0, 10, size=6)
    op = Dense("input", "acc", "G", weights, bias_index=bias_index, bias_row=8)
    net = IntegerNetwork((op,), {"G": table}, (20,), 8, "acc")
    x = RNG.integers(0, 8, size=(11, 20))
    expected = table[x[:, :, None], weights[None]].sum(axis=1) + table[8, bias_index]
    np.testing.assert_array_equal(engine.run(net, x), expected)
    real = activation_levels[x] @ weight_levels[weights] + weight_levels[bias_index]
    np.testing.assert_allclose(engine.run(net, x) / 2**10, real, atol=21 * 0.5 / 2**10)


def build_mixed_network(accumulator_dtype="int32"):
    """Every op kind: lookup, conv, shift act, max-pool, depthwise, add, avg-pool, dense."""
    na = 6
    tables = {
        "T1": RNG.integers(-300, 300, size=(na, 5)).astype(np.int32),
        "T2": RNG.integers(-300, 300, size=(na, 4)).astype(np.int32),
        "T3": RNG.integers(-300, 300, size=(na, 3)).astype(np.int32),
    }
    pixels = (np.arange(256) * na // 256).astype(np.uint8)
    act_table = np.clip(np.arange(-4, 40) // 6, 0, na - 1).astype(np.uint8)
    add_table = np.minimum(np.add.outer(np.arange(na), np.arange(na)), na - 1)
    values = np.arange(na, dtype=np.int32) * 7 - 3
    ops = (
        Lookup("input", "x0", pixels, "index", na),
        Conv("x0", "a1", "T1", RNG.integers(0, 5, (3, 3, 1, 4)), (1, 1), (1, 1, 1, 1), 1, 0),
        ShiftActivation("a1", "x1", 5, -4, act_table, na),
        MaxPool("x1", "p1", (2, 2), (2, 2)),
        Conv("p1", "a2", "T2", RNG.integers(0, 4, (3, 3, 1, 4)), (1, 1), (1, 1, 1, 1), 4, 0),
        ThresholdActivation("a2", "x2", np.array([-200, -50, 0, 80, 400], dtype=np.int64)),
        Add("x2", "p1", "r", add_table, na),
        Lookup("r", "v", values, "value"),
        SumPool("v", "s", (4, 4), (4, 4)),
        ShiftActivation("s", "g", 3, -2, act_table[:20], na),
        Flatten("g", "f"),
        Dense("f", "logits", "T3", RNG.integers(0, 3, (4, 5)), np.arange(5, dtype=np.int32)),
    )
    return IntegerNetwork(ops, tables, (8, 8, 1), 256, "logits", accumulator_dtype)


def reference_mixed(net, x):
    ops = {op.output: op for op in net.ops}
    x0 = ops["x0"].table[x]
    c1 = ops["a1"]
    a1 = reference_conv(x0, net.tables["T1"], c1.weights, c1.stride, c1.padding, 1, 0, None)
    s1 = ops["x1"]
    x1 = s1.table[np.clip((a1 >> s1.shift) - s1.low, 0, s1.table.size - 1)]
    p1 = x1.reshape(x1.shape[0], 4, 2, 4, 2, 4).max(axis=(2, 4))
    c2 = ops["a2"]
    a2 = reference_conv(p1, net.tables["T2"], c2.weights, (1, 1), c2.padding, 4, 0, None)
    x2 = np.searchsorted(ops["x2"].boundaries, a2, side="right")
    r = ops["r"].table[x2, p1]
    s = ops["v"].table[r].astype(np.int64).sum(axis=(1, 2))
    g_op = ops["g"]
    g = g_op.table[np.clip((s >> g_op.shift) - g_op.low, 0, g_op.table.size - 1)]
    dense = ops["logits"]
    table = net.tables["T3"]
    return table[g[:, :, None], dense.weights[None]].sum(axis=1) + dense.bias


def test_every_op_matches_reference_and_every_intermediate_is_integer():
    net = build_mixed_network()
    x = RNG.integers(0, 256, size=(9, 8, 8, 1)).astype(np.uint8)
    trace, seen = make_trace()
    result = engine.run(net, x, trace=trace, batch_size=4)
    np.testing.assert_array_equal(result, reference_mixed(net, x))
    assert set(seen) == {op.output for op in net.ops}
    for name in ("x0", "x1", "p1", "x2", "r", "g"):
        assert seen[name].dtype == np.uint8
    for name in ("a1", "a2", "s", "logits"):
        assert seen[name].dtype == np.int32
    assert np.array_equal(engine.run(net, x, batch_size=1), result)


EXECUTOR = Path(engine.__file__).with_name("_executor.py")
FORBIDDEN_NAMES = {
    "float",
    "float16",
    "float32",
    "float64",
    "double",
    "dot",
    "matmul",
    "multiply",
    "divide",
    "true_divide",
    "floor_divide",
    "einsum",
    "tensordot",
    "inner",
    "outer",
    "prod",
    "mean",
    "average",
    "kron",
    "convolve",
    "vdot",
    "power",
    "sqrt",
    "exp",
    "log",
}


def forbidden_constructs(source: str) -> list[str]:
    problems = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(
            node.op, (ast.Mult, ast.MatMult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
        ):
            problems.append(f"line {node.lineno}: operator {type(node.op).__name__}")
        if isinstance(node, ast.Constant) and isinstance(node.value, (float, complex)):
            problems.append(f"line {node.lineno}: float literal {node.value!r}")
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            problems.append(f"line {node.lineno}: name {node.id}")
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_NAMES:
            problems.append(f"line {node.lineno}: attribute {node.attr}")
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "divmod":
            problems.append(f"line {node.lineno}: divmod")
    return problems


def test_executor_module_has_no_float_and_no_multiply():
    assert forbidden_constructs(EXECUTOR.read_text()) == []


@pytest.mark.parametrize(
    "snippet", ["y = a * b", "y = a @ b", "y = np.dot(a, b)", "y = 0.5", "y = float(a)", "a /= 2"]
)
def test_static_check_catches_forbidden_constructs(snippet):
    assert forbidden_constructs(snippet)


def test_choose_shift_prevents_int32_overflow_on_worst_case_input():
    fan_in = 400
    activation_levels = np.array([0.0, 0.3, 1.7, 6.0])
    weight_levels = np.array([-0.9, -0.1, 0.2, 0.75])
    max_product = float(np.max(np.abs(np.outer(activation_levels, weight_levels))))
    shift = engine.choose_shift(max_product, fan_in, bias_abs=2.0)
    table = engine.product_table(activation_levels, weight_levels, shift)
    weights = np.zeros((fan_in, 2), dtype=np.uint8)  # all weights at -0.9: worst case
    weights[:, 1] = 3
    bias = np.array([-round(2.0 * 2**shift), round(2.0 * 2**shift)], dtype=np.int64)
    net = IntegerNetwork(
        (Dense("input", "acc", "T", weights, bias),), {"T": table}, (400,), 4, "acc"
    )
    bound = engine.accumulator_bounds(net)["acc"]
    assert bound <= 2**31 - 1
    assert bound > 2**29  # the shift is not wastefully small: within a factor 4 of the limit
    worst = np.full((1, fan_in), 3)
    result = engine.run(net, worst)
    exact = table[3, weights].astype(np.int64).sum(axis=0) + bias
    np.testing.assert_array_equal(result[0], exact)
    assert abs(int(exact[0])) == bound
    # One more bit of shift would overflow, and the engine refuses that network.
    too_big = engine.product_table(activation_levels, weight_levels, shift + 1, dtype="int64")
    bias2 = bias * 2
    net2 = IntegerNetwork(
        (Dense("input", "acc", "T", weights, bias2),), {"T": too_big}, (400,), 4, "acc"
    )
    with pytest.raises(EngineError, match="beyond int32"):
        engine.run(net2, worst)
    wide = IntegerNetwork(net2.ops, net2.tables, (400,), 4, "acc", "int64")
    assert int(engine.run(wide, worst)[0, 0]) < -(2**31)


def test_choose_shift_respects_a_float32_exactness_limit():
    shift = engine.choose_shift(3.0, 150, limit=2**24)
    assert 150 * (3.0 * 2**shift + 0.5) + 0.5 <= 2**24
    assert 150 * (3.0 * 2 ** (shift + 1) + 0.5) + 0.5 > 2**24
    with pytest.raises(EngineError):
        engine.choose_shift(float("nan"), 3)
    with pytest.raises(EngineError):
        engine.choose_shift(1.0, 0)


def test_sum_pool_bound_is_checked():
    na = 4
    values = np.array([0, 1, 2, 2**28], dtype=np.int64)
    ops = (Lookup("input", "v", values, "value"), SumPool("v", "s", (4, 4), (4, 4)))
    net = IntegerNetwork(ops, {}, (4, 4, 1), na, "s")
    assert engine.accumulator_bounds(net)["s"] == 16 * 2**28
    with pytest.raises(EngineError, match="may reach"):
        engine.check_overflow(net)


def test_shift_activation_builder_places_bins_correctly():
    op = engine.make_shift_activation(
        "acc",
        "idx",
        lambda z: np.clip(np.floor(z), 0, 9).astype(int),
        (-100, 1000),
        64.0,
        10,
        max_entries=64,
    )
    assert op.table.size <= 64
    acc = np.arange(-200, 1200, dtype=np.int32)
    # Feed accumulator values through a value lookup, then the activation op.
    ops = (Lookup("input", "acc", acc, "value"), op)
    net = IntegerNetwork(ops, {}, (1,), acc.size, "idx")
    index = engine.run(net, np.arange(acc.size)[:, None])[:, 0]
    shifted = np.clip((acc >> op.shift) - op.low, 0, op.table.size - 1)
    np.testing.assert_array_equal(index, op.table[shifted])
    real = np.clip(np.floor(acc / 64.0), 0, 9)
    assert np.mean(index == real) > 0.9
    assert np.all(np.abs(index - real) <= 1)


def test_integer_boundaries_decide_real_comparisons_exactly():
    real = np.array([-1.3, -0.01, 0.0, 0.37, 2.5])
    scale = 2.0**7
    boundaries = engine.integer_boundaries(real, scale)
    acc = np.arange(-400, 400)
    np.testing.assert_array_equal(
        np.searchsorted(boundaries, acc, side="right"),
        (acc[:, None] >= real[None, :] * scale).sum(axis=1),
    )


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda ops: (Dense("nowhere", "acc", "T", ops[0].weights),), "undefined buffer"),
        (lambda ops: (Dense("input", "acc", "X", ops[0].weights),), "unknown table"),
        (lambda ops: (Dense("input", "acc", "T", ops[0].weights + 9),), "outside the table"),
        (lambda ops: (Dense("input", "acc", "T", ops[0].weights[:3]),), "fan-in"),
        (lambda ops: (Dense("input", "acc", "T", ops[0].weights.astype(float)),), "integer"),
        (lambda ops: (*ops, Flatten("acc", "acc")), "written twice"),
    ],
)
def test_invalid_networks_raise_engine_error(mutate, message):
    base = (Dense("input", "acc", "T", np.zeros((5, 2), np.uint8)),)
    net = IntegerNetwork(mutate(base), {"T": np.ones((3, 4), np.int32)}, (5,), 3, "acc")
    with pytest.raises(EngineError, match=message):
        engine.run(net, np.zeros((1, 5), np.uint8))


def test_bad_inputs_raise_engine_error():
    net = IntegerNetwork(
        (Dense("input", "acc", "T", np.zeros((5, 2), np.uint8)),),
        {"T": np.ones((3, 4), np.int32)},
        (5,),
        3,
        "acc",
    )
    for bad in (
        np.zeros((1, 5)),
        np.zeros((1, 4), np.uint8),
        np.full((1, 5), 3),
        -np.ones((1, 5), int),
    ):
        with pytest.raises(EngineError):
            engine.run(net, bad)
    with pytest.raises(EngineError):
        engine.run(net, np.zeros((0, 5), np.uint8))


def test_size_report_counts_bits_and_bytes():
    weights = RNG.integers(0, 40, size=(300, 50)).astype(np.uint8)
    weights[0, 0], weights[0, 1] = 0, 39
    table = RNG.integers(-(2**14), 2**14, size=(8, 40)).astype(np.int32)
    op = Dense("input", "out", "T", weights, np.zeros(50, np.int32))
    net = IntegerNetwork((op,), {"T": table}, (300,), 8, "out")
    report = engine.size_report(net)
    layer = report.layers[0]
    assert (layer.activation_levels, layer.weight_levels, layer.table_entries) == (8, 40, 320)
    assert layer.index_bits == 6
    parts = {part.part: part for part in report.parts}
    assert parts["weights"].bits == 6
    assert parts["weights"].packed_bytes == (300 * 50 * 6 + 7) // 8
    assert parts["weights"].float32_bytes == 300 * 50 * 4
    assert parts["bias"].bits == 0
    assert parts["bias"].packed_bytes == 0
    assert report.float32_bytes == (300 * 50 + 50) * 4
    assert report.artifact_bytes == len(engine.to_bytes(net))
    assert report.ratio < 6.5 / 32 + 0.05
    text = engine.format_size_report(report)
    assert "| out | 8 | 40 | 320 |" in text
