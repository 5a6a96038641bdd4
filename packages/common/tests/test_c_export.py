"""Tests of fourfold_common.engine.export_c: compiled C is bit-identical to the numpy executor."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
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
    export_c,
)

CC = shutil.which("cc")
# Without a compiler the C tests skip locally, but fail in CI (CI set), which must have one.
needs_cc = pytest.mark.skipif(
    CC is None and not os.environ.get("CI"), reason="no system C compiler (cc) on PATH"
)
CFLAGS = ["-std=c99", "-Wall", "-Werror", "-O2"]
NUMPY_OF = {"uint8_t": "<u1", "uint16_t": "<u2", "int32_t": "<i4", "int64_t": "<i8"}

DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "NAME.h"

int main(int argc, char **argv) {
    static NAME_input_t in[MACRO_INPUT_SIZE];
    static NAME_output_t out[MACRO_OUTPUT_SIZE];
    long count = argc > 1 ? atol(argv[1]) : 0, s;
    for (s = 0; s < count; s++) {
        int32_t result;
        if (fread(in, sizeof in, 1, stdin) != 1) return 2;
        memset(out, 0, sizeof out);
        result = NAME_predict(in, out);
        fwrite(&result, sizeof result, 1, stdout);
        fwrite(out, sizeof out, 1, stdout);
    }
    return 0;
}
"""


def compile_export(export: engine.CExport, directory: Path) -> Path:
    name = export.function.removesuffix("_predict")
    driver = directory / f"{name}_driver.c"
    assert CC is not None, "the C export tests need a C99 compiler on PATH as `cc`"
    driver.write_text(DRIVER.replace("NAME", name).replace("MACRO", name.upper()))
    program = directory / f"{name}_prog"
    completed = subprocess.run(
        [CC, *CFLAGS, "-o", str(program), str(driver), str(export.source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return program


def run_c(export: engine.CExport, program: Path, inputs: np.ndarray) -> tuple[np.ndarray, ...]:
    data = inputs.astype(NUMPY_OF[export.input_ctype]).tobytes()
    completed = subprocess.run(
        [str(program), str(len(inputs))], input=data, capture_output=True, check=True
    )
    record = np.dtype(
        [("result", "<i4"), ("out", NUMPY_OF[export.output_ctype], (export.output_size,))]
    )
    decoded = np.frombuffer(completed.stdout, dtype=record)
    assert decoded.shape == (len(inputs),)
    return decoded["result"], decoded["out"]


def check_bit_identical(net: IntegerNetwork, inputs: np.ndarray, tmp_path: Path, name: str):
    export = export_c(net, tmp_path, name=name)
    program = compile_export(export, tmp_path)
    results, outputs = run_c(export, program, inputs)
    expected = engine.run(net, inputs).reshape(len(inputs), -1)
    np.testing.assert_array_equal(outputs, expected)
    np.testing.assert_array_equal(results, np.argmax(expected, axis=1))
    return export, program


# --- the strict source checker --------------------------------------------------------------

_TOKEN = re.compile(
    r"[A-Za-z_]\w*|0[xX][0-9a-fA-F]+[uU]?|\d+[uU]?|<<=|>>=|<<|>>|\+\+|--|->|&&|\|\||"
    r"[-+*/%<>=!&|^~]=?|[(){}\[\];,?:.#]"
)
FORBIDDEN = {"float", "double", "_Complex", "malloc", "calloc", "realloc", "free"}
FORBIDDEN |= {"/", "%", "/=", "%=", "*="}
_INTEGER_TYPES = {"int8_t", "int16_t", "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t"}


def code_tokens(source: str) -> list[str]:
    """Tokens of C source with comments, string and character literals removed."""
    source = re.sub(r"/\*.*?\*/", " ", source, flags=re.DOTALL)
    source = re.sub(r"//[^\n]*", " ", source)
    source = re.sub(r'"(?:\\.|[^"\\\n])*"', ' "" ', source)
    source = re.sub(r"'(?:\\.|[^'\\\n])*'", " '' ", source)
    return _TOKEN.findall(source)


def arithmetic_violations(source: str, typedefs: set[str]) -> list[str]:
    """Float types, heap calls, ``/``, ``%``, and any ``*`` that is not ``<type> *<name>``."""
    tokens = code_tokens(source)
    types = _INTEGER_TYPES | typedefs | {"void", "char"}
    problems = []
    for position, token in enumerate(tokens):
        if token in FORBIDDEN:
            problems.append(token)
        elif token == "*":
            before = tokens[position - 1] if position else ""
            after = tokens[position + 1] if position + 1 < len(tokens) else ""
            follow = tokens[position + 2] if position + 2 < len(tokens) else ""
            declaration = (
                before in types
                and re.fullmatch(r"[A-Za-z_]\w*", after) is not None
                and follow in {",", ")", ";", "="}
            )
            if not declaration:
                problems.append(" ".join(tokens[max(position - 3, 0) : position + 4]))
    return problems


def test_checker_catches_multiplication_and_floats():
    assert arithmetic_violations("int32_t f(const uint8_t *x) { return x[0]; }", set()) == []
    assert arithmetic_violations("int32_t a = b * c;", set())
    assert arithmetic_violations("int32_t a = x[1] *2;", set())
    assert arithmetic_violations("y = (int32_t)*p;", set())
    assert arithmetic_violations("float a;", set())
    assert arithmetic_violations("a = b / 2;", set())
    assert arithmetic_violations("a = b % 2;", set())
    assert arithmetic_violations("/* a * b */ // c * d\n int32_t x = 1;", set()) == []


# --- networks covering every op ---------------------------------------------------------------


def spatial_net(seed: int) -> IntegerNetwork:
    """Lookup, padded strided conv + shift activation, depthwise conv with bias indices +
    thresholds, residual add, max-pool, value lookup + sum-pool + shift, flatten, dense layers
    with both activation kinds, value (logit) output."""
    rng = np.random.default_rng(seed)
    na = 6
    t1 = rng.integers(-120, 120, size=(na, 7)).astype(np.int32)  # 7 columns: row-offset table
    t2 = rng.integers(-60, 60, size=(5 + 1, 8)).astype(np.int16)  # bias row, 8 columns: shift
    t3 = rng.integers(-90, 90, size=(7, 4)).astype(np.int32)
    t4 = rng.integers(-500, 500, size=(4 + 1, 3)).astype(np.int64)
    ops = (
        Lookup("input", "x0", rng.integers(0, na, size=256), levels=na),
        Conv(
            "x0",
            "a1",
            "T1",
            rng.integers(0, 7, size=(3, 3, 3, 8)),
            stride=(2, 1),
            padding=(1, 2, 0, 1),
            pad_index=2,
            bias=rng.integers(-30, 30, size=8),
        ),
        ShiftActivation("a1", "x1", 4, -20, rng.integers(0, 5, size=40), 5),
        Conv(
            "x1",
            "a2",
            "T2",
            rng.integers(0, 8, size=(3, 3, 1, 8)),
            padding=(1, 1, 1, 1),
            groups=8,
            pad_index=0,
            bias_index=rng.integers(0, 8, size=8),
            bias_row=5,
        ),
        ThresholdActivation("a2", "x2", np.sort(rng.integers(-150, 150, size=4))),
        Add("x1", "x2", "x3", rng.integers(0, 5, size=(5, 5)), 5),
        MaxPool("x3", "x4", (2, 2), (1, 1)),
        Lookup("x4", "v5", rng.integers(-40, 40, size=5), kind="value"),
        SumPool("v5", "s6", (2, 3), (2, 3)),
        ShiftActivation("s6", "x6", 2, -30, rng.integers(0, 7, size=60), 7),
        Flatten("x6", "f"),
        Dense("f", "h", "T3", rng.integers(0, 4, size=(32, 10)), bias=rng.integers(-9, 9, 10)),
        ThresholdActivation("h", "hx", np.sort(rng.integers(-400, 400, size=3))),
        Dense(
            "hx",
            "logits",
            "T4",
            rng.integers(0, 3, size=(10, 3)),
            bias_index=rng.integers(0, 3, 3),
            bias_row=4,
        ),
    )
    return IntegerNetwork(ops, {"T1": t1, "T2": t2, "T3": t3, "T4": t4}, (9, 8, 3), 256, "logits")


def wide_net(seed: int) -> IntegerNetwork:
    """uint16 inputs and indices, 8-bit weight indices, index output (auto-encoder style)."""
    rng = np.random.default_rng(seed)
    table = rng.integers(-2000, 2000, size=(300, 256)).astype(np.int32)
    ops = (
        Lookup("input", "x0", rng.integers(0, 300, size=1000), levels=300),
        Dense("x0", "a1", "T", rng.integers(0, 256, size=(12, 20)), bias=rng.integers(-99, 99, 20)),
        ShiftActivation("a1", "out", 6, -200, rng.integers(0, 9, size=400), 9),
    )
    return IntegerNetwork(ops, {"T": table}, (12,), 1000, "out")


def conv_output_net(seed: int) -> IntegerNetwork:
    """A grouped convolution whose accumulators are the (flattened) output: unfused, written
    straight to the caller's array; all weights equal, so they take 0 bits."""
    rng = np.random.default_rng(seed)
    table = rng.integers(-50, 50, size=(4, 3)).astype(np.int32)
    weights = np.full((2, 2, 2, 6), 1)
    ops = (
        Conv("input", "acc", "T", weights, stride=(1, 2), padding=(0, 1, 1, 1), groups=2),
        SumPool("acc", "pooled", (2, 1), (1, 1)),  # on accumulators: no lookup to fold in
        Flatten("acc", "flat"),
    )
    return IntegerNetwork(ops, {"T": table}, (5, 6, 4), 4, "flat")


def int64_net(seed: int) -> IntegerNetwork:
    """int64 accumulators with entries beyond int32, int32 inputs, 11-bit weight indices,
    bias indices, thresholds beyond int32, index output."""
    rng = np.random.default_rng(seed)
    table = rng.integers(-(2**40), 2**40, size=(3 + 1, 2000)).astype(np.int64)
    boundaries = np.sort(rng.integers(-(2**42), 2**42, size=6)).astype(np.int64)
    ops = (
        Lookup("input", "x0", rng.integers(0, 3, size=70000), levels=3),
        Dense(
            "x0",
            "a1",
            "T",
            rng.integers(0, 2000, size=(16, 5)),
            bias_index=rng.integers(0, 2000, 5),
            bias_row=3,
        ),
        ThresholdActivation("a1", "out", boundaries),
    )
    return IntegerNetwork(ops, {"T": table}, (16,), 70000, "out", accumulator_dtype="int64")


def aligned_net(seed: int) -> IntegerNetwork:
    """Byte-aligned weight runs: 2-bit grouped conv (4 per group), 4-bit and 1-bit dense."""
    rng = np.random.default_rng(seed)
    t1 = rng.integers(-99, 99, size=(3, 4)).astype(np.int32)
    t2 = rng.integers(-99, 99, size=(5, 16)).astype(np.int32)
    t3 = rng.integers(-999, 999, size=(4, 2)).astype(np.int32)
    ops = (
        Conv("input", "a0", "T1", rng.integers(0, 4, size=(3, 3, 1, 8)), groups=2),
        ThresholdActivation("a0", "x0", np.sort(rng.integers(-200, 200, size=4))),
        Flatten("x0", "f"),
        Dense("f", "a1", "T2", rng.integers(0, 16, size=(48, 6)), bias=rng.integers(-9, 9, 6)),
        ShiftActivation("a1", "x1", 5, -30, rng.integers(0, 4, size=60), 4),
        Dense("x1", "logits", "T3", rng.integers(0, 2, size=(6, 8))),
    )
    return IntegerNetwork(ops, {"T1": t1, "T2": t2, "T3": t3}, (4, 5, 2), 3, "logits")


def test_byte_aligned_runs_are_decoded_a_byte_at_a_time(tmp_path):
    text = export_c(aligned_net(11), tmp_path).source.read_text()
    for per_byte in (2, 4, 8):  # 4-, 2- and 1-bit weights
        assert f"j += {per_byte})" in text
    assert "acc[o + 7] += row[wv >> 7];" in text


def many_columns_net(seed: int) -> IntegerNetwork:
    """18-bit weight and bias indices (read as 4-byte words) into a 140000-column table."""
    rng = np.random.default_rng(seed)
    table = rng.integers(-128, 128, size=(3, 140000)).astype(np.int8)
    ops = (
        Dense(
            "input",
            "logits",
            "T",
            rng.integers(0, 140000, size=(5, 4)),
            bias_index=rng.integers(0, 140000, 4),
            bias_row=2,
        ),
    )
    return IntegerNetwork(ops, {"T": table}, (5,), 2, "logits")


def tiny_net(seed: int) -> IntegerNetwork:
    """Degenerate sizes: a 3x3 kernel on a padded 1x1 image, shift 0, single-tap pools, a
    threshold activation without boundaries (one level)."""
    rng = np.random.default_rng(seed)
    table = rng.integers(-50, 50, size=(4, 5)).astype(np.int32)
    ops = (
        Conv("input", "a", "T", rng.integers(0, 5, size=(3, 3, 2, 3)), (2, 2), (1, 1, 1, 1)),
        ShiftActivation("a", "x", 0, -60, rng.integers(0, 4, size=120), 4),
        MaxPool("x", "m", (1, 1), (1, 1)),
        Lookup("m", "v", rng.integers(-99, 99, size=4), kind="value"),
        SumPool("v", "s", (1, 1), (1, 1)),
        ThresholdActivation("s", "one", np.zeros(0, np.int64)),
    )
    return IntegerNetwork(ops, {"T": table}, (1, 1, 2), 4, "s")


def topology_net(seed: int) -> IntegerNetwork:
    """Odd graphs: an add of a buffer with itself, accumulators read twice (no fusion), the
    output buffer read by later ops, a dead buffer, an output that is not the last op."""
    rng = np.random.default_rng(seed)
    table = rng.integers(-300, 300, size=(5, 6)).astype(np.int32)
    ops = (
        Lookup("input", "x0", rng.integers(0, 4, size=9), levels=4),
        Add("x0", "x0", "x1", rng.integers(0, 5, size=(4, 4)), 5),
        Dense("x1", "a2", "T", rng.integers(0, 6, size=(6, 7)), bias=rng.integers(-5, 5, 7)),
        ShiftActivation("a2", "x3", 3, -40, rng.integers(0, 3, size=80), 3),
        ThresholdActivation("a2", "x4", np.sort(rng.integers(-400, 400, size=2))),
        Lookup("x3", "dead", np.array([2, 0, 1]), levels=3),
        Add("x3", "x4", "x5", rng.integers(0, 2, size=(3, 3)), 2),
        Lookup("x4", "values", rng.integers(-9, 9, size=3), kind="value"),  # unfused, dead
    )
    return IntegerNetwork(ops, {"T": table}, (6,), 9, "x3")


def copy_net(seed: int) -> IntegerNetwork:
    """No computation at all: the output is the flattened input."""
    del seed
    return IntegerNetwork((Flatten("input", "flat"),), {}, (3, 2, 2), 7, "flat")


NETS = {
    "tiny": (tiny_net, 4),
    "columns": (many_columns_net, 2),
    "aligned": (aligned_net, 3),
    "topology": (topology_net, 9),
    "copy": (copy_net, 7),
    "spatial": (spatial_net, 257),
    "wide": (wide_net, 1000),
    "convout": (conv_output_net, 4),
    "wide64": (int64_net, 70000),
}


@needs_cc
@pytest.mark.parametrize("kind", sorted(NETS))
def test_compiled_c_matches_executor(kind, tmp_path):
    build, levels = NETS[kind]
    net = build(11)
    rng = np.random.default_rng(3)
    high = min(levels, net.input_levels)
    inputs = rng.integers(0, high, size=(64, *net.input_shape))
    export, program = check_bit_identical(net, inputs, tmp_path, f"n_{kind}")
    source = export.source.read_text()
    typedefs = {f"n_{kind}_input_t", f"n_{kind}_output_t"}
    assert arithmetic_violations(source, typedefs) == []
    assert arithmetic_violations(export.header.read_text(), typedefs) == []
    assert export.flash_bytes == sum(export.flash_parts.values())
    assert (export.flash_bytes > 0) == bool(net.tables)
    if net.input_levels < 2 ** (8 * np.dtype(NUMPY_OF[export.input_ctype]).itemsize):
        bad = inputs[:2].copy()
        bad[1].flat[-1] = net.input_levels  # out of range: -1, output untouched
        results, outputs = run_c(export, program, bad)
        assert results[1] == -1
        assert not outputs[1].any()
        assert results[0] == np.argmax(engine.run(net, bad[:1]))


@needs_cc
def test_outputs_vary_so_the_comparison_means_something(tmp_path):
    net = spatial_net(5)
    inputs = np.random.default_rng(0).integers(0, 256, size=(64, 9, 8, 3))
    expected = engine.run(net, inputs)
    assert len(np.unique(np.argmax(expected, axis=1))) >= 2
    check_bit_identical(net, inputs, tmp_path, "vary")


def test_memory_plan_shares_and_fuses(tmp_path):
    net = spatial_net(1)
    export = export_c(net, tmp_path)
    text = export.source.read_text()
    # Table layers directly followed by their only reader, an activation, are fused.
    assert "conv + shift_activation" in text
    assert "dense + threshold_activation" in text
    assert "lookup + sum_pool" in text  # average pooling reads indices, stores no value map
    assert "static int32_t net_scratch[10];" in text  # largest fused layer: 10 units
    buffers = engine.infer_buffers(net)
    naive = 0
    for name, info in buffers.items():
        if name != "input":
            item = 4 if info.kind == "value" else 1
            naive += item * int(np.prod(info.shape))
    assert export.ram_bytes < naive // 2
    header = export.header.read_text()
    assert f"NET_FLASH_BYTES {export.flash_bytes}" in header
    assert f"NET_RAM_BYTES {export.ram_bytes}" in header
    assert f"flash (const tables and packed indices): {export.flash_bytes} bytes" in text


def test_weights_are_bit_packed(tmp_path):
    net = wide_net(0)  # 12 x 20 weights of 8 bits, 300 x 256 int16-range table
    export = export_c(net, tmp_path)
    assert export.flash_parts["weights"] == 12 * 20
    assert export.flash_parts["table:T"] == 300 * 256 * 2
    net64 = int64_net(0)  # 16 x 5 weights of 11 bits
    export64 = export_c(net64, tmp_path, name="w64")
    # 11-bit values are read as 3-byte words: 2 zero bytes keep the last read inside the array.
    assert export64.flash_parts["weights"] == (16 * 5 * 11 + 7) // 8 + 2
    assert export64.float32_bytes == 4 * (16 * 5 + 5)


def test_artifact_path_and_bytes_give_the_same_source(tmp_path):
    net = spatial_net(2)
    path = engine.save(net, tmp_path / "net.ffi")
    from_net = export_c(net, tmp_path / "a").source.read_text()
    from_path = export_c(path, tmp_path / "b").source.read_text()
    from_bytes = export_c(path.read_bytes(), tmp_path / "c").source.read_text()
    assert from_net == from_path == from_bytes


def test_bad_inputs_raise_clear_errors(tmp_path):
    net = wide_net(0)
    with pytest.raises(EngineError, match="C identifier"):
        export_c(net, tmp_path, name="1net")
    with pytest.raises(EngineError, match="C identifier"):
        export_c(net, tmp_path, name="net-x")
    with pytest.raises(EngineError, match="IntegerNetwork"):
        export_c(42, tmp_path)  # type: ignore[arg-type]
    with pytest.raises(engine.ArtifactError):
        export_c(b"not an artifact", tmp_path)
    with pytest.raises(engine.ArtifactError):
        export_c(tmp_path / "missing.ffi", tmp_path)
    broken = IntegerNetwork(net.ops, {}, net.input_shape, net.input_levels, net.output)
    with pytest.raises(EngineError, match="unknown table"):
        export_c(broken, tmp_path)
    assert not list(tmp_path.glob("*.c"))


# --- every zoo model of mulfree-quant ----------------------------------------------------------

MULFREE_ZOO = ("alexnet", "lenet5", "mlp", "mobilenet", "resnet")


@pytest.fixture(scope="module")
def fashion_raw() -> np.ndarray:
    from fourfold_common.data import load_fashion_mnist

    return load_fashion_mnist("test").images[:16, :, :, None]


@needs_cc
@pytest.mark.parametrize("name", MULFREE_ZOO)
def test_mulfree_quant_zoo_model_in_c_matches_executor(name, fashion_raw, tmp_path):
    """An untrained zoo twin (40 entries: 8 x 5 levels), weights re-clustered and snapped,
    activations calibrated on real images, exported by mulfree-quant, then to C."""
    mq = pytest.importorskip("mulfree_quant")

    assert set(MULFREE_ZOO) == set(mq.ZOO)
    twin = mq.to_table_based(mq.zoo_model(name), mq.QuantConfig.for_entries(40, "laplacian"))
    mq.recluster_weights(twin)
    mq.snap_weights(twin)
    mq.calibrate_activations(twin, fashion_raw.astype(np.float32) / np.float32(255), passes=1)
    network = mq.export(twin)
    cname = f"mq_{name}"
    export, _ = check_bit_identical(network, fashion_raw, tmp_path, cname)
    typedefs = {f"{cname}_input_t", f"{cname}_output_t"}
    assert arithmetic_violations(export.source.read_text(), typedefs) == []
    assert export.flash_parts["weights"] < export.float32_bytes / 10  # 3-bit indices


def test_mulfree_quant_cli_export_c(tmp_path, capsys):
    cli = pytest.importorskip("mulfree_quant._cli")
    artifact = engine.save(spatial_net(4), tmp_path / "net.ffi")
    out = tmp_path / "c"
    assert cli.main(["export-c", "--artifact", str(artifact), "--out", str(out)]) == 0
    assert (out / "net.c").read_text() == export_c(artifact, tmp_path / "d").source.read_text()
    assert "flash" in capsys.readouterr().out
    bad_name = ["export-c", "--artifact", str(artifact), "--out", str(out), "--name", "9"]
    assert cli.main(bad_name) == 2
    assert "C identifier" in capsys.readouterr().err


# --- every model family of discrete-nets -------------------------------------------------------

DISCRETE_ARCHITECTURES = ("autoencoder", "cnn", "mlp")


@needs_cc
@pytest.mark.parametrize("arch", DISCRETE_ARCHITECTURES)
def test_discrete_nets_model_in_c_matches_executor(arch, tmp_path):
    """An untrained discrete-nets model whose parameters are snapped to 64 shared values (the
    clustering step every training run ends on), exported by discrete-nets, then to C."""
    dn = pytest.importorskip("discrete_nets")
    jax = pytest.importorskip("jax")
    nnx = pytest.importorskip("flax.nnx")
    from sklearn.datasets import load_digits

    assert set(DISCRETE_ARCHITECTURES) == set(dn.ARCHITECTURES)
    sizes = {"cnn": {"hidden": (16,), "conv_channels": (8,), "kernel_size": 3}}
    config = dn.ModelConfig(
        arch,
        (8, 8),
        10,
        **sizes.get(arch, {"hidden": (24,)}),
        activation=dn.ActivationSpec("tanh", 16),
    )
    graphdef, params, rest = nnx.split(dn.build_model(config, seed=1), nnx.Param, ...)
    leaves, treedef = jax.tree.flatten(params)
    levels, indices = dn.cluster_arrays(
        [np.asarray(leaf) for leaf in leaves], dn.ClusterSchedule(num_levels=64)
    )
    snapped = [levels[index].astype(np.float32) for index in indices]
    model = nnx.merge(graphdef, jax.tree.unflatten(treedef, snapped), rest)
    network = dn.export_network(model, levels, raw_levels=17)
    raw = load_digits().images[:64].astype(np.int64).reshape(64, *network.input_shape)
    name = f"dn_{arch}"
    export, _ = check_bit_identical(network, raw, tmp_path, name)
    typedefs = {f"{name}_input_t", f"{name}_output_t"}
    assert arithmetic_violations(export.source.read_text(), typedefs) == []
    assert export.flash_parts["weights"] < export.float32_bytes / 5  # 6-bit indices


def test_discrete_nets_cli_export_c(tmp_path, capsys):
    cli = pytest.importorskip("discrete_nets._cli")
    artifact = engine.save(spatial_net(4), tmp_path / "net.ffi")
    assert cli.main(["export-c", str(artifact), "--out", str(tmp_path / "c"), "--name", "m"]) == 0
    expected = export_c(artifact, tmp_path / "direct", name="m")
    assert (tmp_path / "c" / "m.c").read_text() == expected.source.read_text()
    assert (tmp_path / "c" / "m.h").read_text() == expected.header.read_text()
    assert f"flash {expected.flash_bytes} B" in capsys.readouterr().out
    (tmp_path / "bad.ffi").write_bytes(b"FFINTNET" + bytes(40))
    assert cli.main(["export-c", str(tmp_path / "bad.ffi"), "--out", str(tmp_path / "x")]) == 2
    assert "error" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# --- accumulators at the edges of their dtype: executor and C agree bit for bit ----------------

SHIFT_EDGES = [(0, 2**30 - 1), (0, -(2**30 - 1)), (5, -(2**30 - 1))]


def edge_table(accumulator: str) -> np.ndarray:
    """Columns reaching the ends of ``accumulator``: ``+-top`` alone, ``+-half`` twice, zeros."""
    top = int(np.iinfo(np.dtype(accumulator)).max)
    half = top // 2
    columns = [[top, -top, 0], [-top, top, 1], [half, -half, 3], [0, 0, 0], [top - 1, -top, -1]]
    return np.array(columns, dtype=np.dtype(accumulator)).T.copy()  # (3 levels, 5 columns)


def edge_dense_net(accumulator: str, shift: int, low: int) -> IntegerNetwork:
    """A dense layer whose accumulators hit ``+-top`` and ``+-(top - 1)`` (never fused: read by
    a shift activation and by thresholds at the edges), combined injectively by an add table."""
    top = int(np.iinfo(np.dtype(accumulator)).max)
    edges = [-top - 2, -top, -top + 1, -1, 0, 1, top - 1, top, top + 1]
    edges = [e for e in edges if -(2**63) <= e < 2**63]
    weights = np.array([[0, 3, 2, 1, 4, 3, 2], [3, 1, 2, 3, 3, 4, 3]])
    ops = (
        Dense("input", "acc", "T", weights),
        ShiftActivation("acc", "s", shift, low, np.arange(64) % 5, 5),
        ThresholdActivation("acc", "t", np.array(edges, dtype=np.int64)),
        Add("s", "t", "out", np.add.outer(8 * np.arange(5), np.arange(len(edges) + 1)), 40 + 8),
    )
    return IntegerNetwork(ops, {"T": edge_table(accumulator)}, (2,), 3, "out", accumulator)


def edge_spatial_net(accumulator: str, shift: int, low: int) -> IntegerNetwork:
    """A 1x1 convolution at the edges fused with its shift activation, then values of
    ``+-top // 4`` summed over 2x2 windows (``+-top`` again, lookup fused into the pool)."""
    top = int(np.iinfo(np.dtype(accumulator)).max)
    quarter = top // 4
    ops = (
        Conv("input", "acc", "T", np.array([0, 1, 2, 4]).reshape(1, 1, 1, 4)),
        ShiftActivation("acc", "s", shift, low, np.arange(64) % 5, 5),
        Lookup("s", "v", np.array([quarter, 1, -1, -quarter, 0]), kind="value"),
        SumPool("v", "sums", (2, 2), (2, 2)),
        Flatten("sums", "out"),
    )
    return IntegerNetwork(ops, {"T": edge_table(accumulator)}, (2, 2, 1), 3, "out", accumulator)


@needs_cc
@pytest.mark.parametrize("accumulator", ["int32", "int64"])
def test_accumulators_at_the_dtype_edges_agree_with_c(accumulator, tmp_path):
    top = int(np.iinfo(np.dtype(accumulator)).max)
    grid2 = np.array(list(np.ndindex(3, 3)))
    grid4 = np.array(list(np.ndindex(3, 3, 3, 3))).reshape(-1, 2, 2, 1)
    for number, (shift, low) in enumerate(SHIFT_EDGES):
        for kind, build, inputs in (
            ("d", edge_dense_net, grid2),
            ("s", edge_spatial_net, grid4),
        ):
            net = build(accumulator, shift, low)
            seen: dict[str, np.ndarray] = {}
            engine.run(net, inputs, trace=seen.__setitem__)
            # The crafted tables really drive the accumulators to the edges.
            assert {top, -top} <= set(seen["acc"].ravel().tolist())
            if kind == "s":
                assert int(np.max(np.abs(seen["sums"]))) == top - 3
            # Reference: the clamp computed on Python integers (no wrap-around possible).
            shifted = np.array([int(a) >> shift for a in seen["acc"].ravel()], dtype=object)
            position = np.clip(shifted - low, 0, 63).astype(np.int64)
            np.testing.assert_array_equal(seen["s"].ravel(), position % 5)
            check_bit_identical(net, inputs, tmp_path, f"edge_{kind}{number}")


@needs_cc
@pytest.mark.parametrize("table_dtype", ["int8", "int16"])
def test_narrow_tables_in_c_match_executor(table_dtype, tmp_path):
    """int8/int16 tables at their extremes become int8_t/int16_t arrays; sums widen in C too."""
    from .test_engine_narrow import NARROW_INPUTS, narrow_network

    net = narrow_network(table_dtype)
    export, _ = check_bit_identical(net, NARROW_INPUTS, tmp_path, f"narrow_{table_dtype}")
    ctype = f"{table_dtype}_t"
    assert re.search(
        rf"static const {ctype} narrow_{table_dtype}_t\d+\[40\]", export.source.read_text()
    )
    assert export.flash_parts["table:T"] == 40 * np.dtype(table_dtype).itemsize
