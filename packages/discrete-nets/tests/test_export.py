from __future__ import annotations

import ast
import inspect
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from discrete_nets import (
    ActivationSpec,
    ExportError,
    ModelConfig,
    build_model,
    deployment,
    evaluate,
    export_network,
    memory_report,
    predict,
    raw_pixels,
    run_integer,
    simulate_integer,
)
from fourfold_common import engine

RAW = 17  # sklearn digits take values 0..16


@pytest.mark.parametrize("name", ["trained_mlp", "trained_cnn"])
def test_classifier_executor_equals_simulation(name: str, request: pytest.FixtureRequest) -> None:
    trained = request.getfixturevalue(name)
    model, levels, test = trained.result.model, trained.result.weight_levels, trained.test
    network = export_network(model, levels, RAW)
    raw = raw_pixels(test.images, RAW)
    seen: list[np.dtype] = []
    integer = run_integer(network, raw, batch_size=100)
    engine.run(
        network,
        raw.reshape((len(raw), *network.input_shape))[:20],
        trace=lambda _, array: seen.append(array.dtype),
    )
    assert seen
    assert all(np.issubdtype(d, np.integer) for d in seen)
    assert integer.dtype == np.int32
    simulated = simulate_integer(model, levels, raw, RAW)
    np.testing.assert_array_equal(integer, simulated)  # 100% of test inputs, bit for bit
    predictions = integer.argmax(axis=1)
    accuracy = float(np.mean(predictions == test.labels))
    assert accuracy > 0.6  # a real classifier after a few epochs
    float_predictions = predict(model, test.images).argmax(axis=1)
    assert np.mean(float_predictions == predictions) > 0.97
    assert evaluate(model, test)["accuracy"] == pytest.approx(accuracy, abs=0.03)


def test_autoencoder_output_indices_equal_simulation(trained_autoencoder) -> None:  # type: ignore[no-untyped-def]
    trained = trained_autoencoder
    model, levels, test = trained.result.model, trained.result.weight_levels, trained.test
    network = export_network(model, levels, RAW)
    raw = raw_pixels(test.images, RAW)
    integer = run_integer(network, raw)
    assert integer.shape == (len(test), 64)
    assert np.issubdtype(integer.dtype, np.unsignedinteger)
    np.testing.assert_array_equal(integer, simulate_integer(model, levels, raw, RAW))
    spec = trained.config.activation
    recon = integer / (spec.num_levels - 1)  # index -> pixel in [0, 1]
    mse = float(np.mean((recon - test.images.reshape(len(test), -1)) ** 2))
    flat = test.images.reshape(len(test), -1)
    baseline = float(np.mean((flat - flat.mean(axis=0)) ** 2))  # predict the mean image
    assert mse < 0.5 * baseline
    assert mse == pytest.approx(evaluate(model, test)["mse"], rel=0.05)


def test_artifact_round_trip_and_corruption(trained_cnn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    trained = trained_cnn
    network = export_network(trained.result.model, trained.result.weight_levels, RAW)
    path = engine.save(network, tmp_path / "cnn.ffi")
    loaded = engine.load(path)
    raw = raw_pixels(trained.test.images[:50], RAW)
    np.testing.assert_array_equal(run_integer(loaded, raw), run_integer(network, raw))
    assert loaded.metadata["weight_levels"] == 32
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "bad.ffi").write_bytes(bytes(data))
    with pytest.raises(engine.ArtifactError):
        engine.load(tmp_path / "bad.ffi")


def test_global_table_has_bias_row_and_factors(trained_mlp) -> None:  # type: ignore[no-untyped-def]
    result = trained_mlp.result
    network = export_network(result.model, result.weight_levels, RAW)
    table = network.tables["T"].astype(np.int64)
    assert table.shape == (16 + 1, 64)
    shift, delta = network.metadata["shift"], network.metadata["delta"]
    plan = deployment(result.model, result.weight_levels, RAW)
    assert plan.shift == shift
    values = plan.weight_values
    np.testing.assert_allclose(values, result.weight_levels, atol=2.0**-shift)
    levels = -1 + np.arange(16) * (2 / 15)
    expected = np.outer(levels, values) * 2.0**shift / delta
    np.testing.assert_allclose(table[:16], expected, atol=0.5 + 1e-6)
    np.testing.assert_allclose(table[16], values * 2.0**shift / delta, atol=0.5 + 1e-6)
    assert math.isfinite(shift)
    assert np.abs(table).max() < 2**15  # int16 entries by default


def test_export_rejects_float_models() -> None:
    spec = ActivationSpec("tanh", None)
    float_acts = build_model(ModelConfig("mlp", (8, 8), 10, (8,), activation=spec))
    with pytest.raises(ExportError, match="num_levels"):
        export_network(float_acts, np.linspace(-1, 1, 4), RAW)
    unclustered = build_model(ModelConfig("mlp", (8, 8), 10, (8,)))
    with pytest.raises(ExportError, match="continuous weights"):
        export_network(unclustered, None, RAW)
    with pytest.raises(ExportError, match="clustering step"):
        export_network(unclustered, np.linspace(-1, 1, 4), RAW)


def test_run_integer_rejects_bad_inputs(trained_mlp) -> None:  # type: ignore[no-untyped-def]
    network = export_network(trained_mlp.result.model, trained_mlp.result.weight_levels, RAW)
    with pytest.raises(engine.EngineError):
        run_integer(network, np.full((2, 8, 8), RAW, np.int32))
    with pytest.raises(engine.EngineError):
        run_integer(network, np.zeros((2, 8, 8), np.float32))
    with pytest.raises(ExportError):
        raw_pixels(np.array([[-0.5]]), RAW)


def test_memory_report(trained_mlp) -> None:  # type: ignore[no-untyped-def]
    result = trained_mlp.result
    network = export_network(result.model, result.weight_levels, RAW)
    report = memory_report(network)
    params = 64 * 32 + 32 + 32 * 10 + 10
    assert report.parameters == params
    assert report.float32_bytes == 4 * params
    assert report.index_bits == 6  # ceil(log2 64)
    # every index array is bit-packed to at most ceil(log2 |W|) bits (fewer if its range is small)
    assert params * 4 / 8 < report.index_bytes <= params * 6 / 8 + 4
    assert report.table_entries == 17 * 64
    assert report.table_bits == 16
    assert network.tables["T"].dtype == np.int16
    # the device layout: int16 table entries and their row offsets, indices packed
    assert 2 * 17 * 64 <= report.table_bytes <= 2 * 17 * 64 + 4 * 17
    assert report.deployed_bytes == report.index_bytes + report.table_bytes + report.other_bytes
    assert report.deployed_bytes == engine.size_report(network).flash_bytes
    assert report.artifact_bytes == len(engine.to_bytes(network))
    assert report.artifact_bytes > report.index_bytes
    assert 0 < report.ratio < 1
    assert report.ratio == report.deployed_bytes / report.float32_bytes
    wide = memory_report(export_network(result.model, result.weight_levels, RAW, table_bits=32))
    assert wide.table_bits == 32
    assert wide.index_bytes == report.index_bytes
    assert wide.table_bytes > 1.9 * report.table_bytes - 4 * 17


def test_executor_module_has_no_float_literal() -> None:
    # the executor discrete-nets relies on: integers only, no float constants
    module = sys.modules[engine.run.__module__]
    tree = ast.parse(inspect.getsource(module))
    constants = [n for n in ast.walk(tree) if isinstance(n, ast.Constant)]
    assert constants
    assert not [n for n in constants if isinstance(n.value, float)]


def test_narrower_accumulator_gives_smaller_artifact(trained_mlp) -> None:  # type: ignore[no-untyped-def]
    result, test = trained_mlp.result, trained_mlp.test
    wide = export_network(result.model, result.weight_levels, RAW, table_bits=32)
    narrow = export_network(
        result.model, result.weight_levels, RAW, accumulator_bits=20, table_bits=32
    )
    assert narrow.metadata["shift"] < wide.metadata["shift"]
    # the artifact packs entries at their real width: fewer bits with a smaller shift
    assert memory_report(narrow).artifact_bytes < memory_report(wide).artifact_bytes
    raw = raw_pixels(test.images, RAW)
    integer = run_integer(narrow, raw)
    simulated = simulate_integer(
        result.model, result.weight_levels, raw, RAW, accumulator_bits=20, table_bits=32
    )
    np.testing.assert_array_equal(integer, simulated)
    assert np.abs(integer).max() < 2**19
    with pytest.raises(ExportError, match="accumulator_bits"):
        export_network(result.model, result.weight_levels, RAW, accumulator_bits=40)


@pytest.mark.parametrize("bits", [8, 16, 32])
def test_table_bits_bound_the_entries_and_executor_equals_simulation(  # type: ignore[no-untyped-def]
    trained_mlp, bits
) -> None:
    result, test = trained_mlp.result, trained_mlp.test
    network = export_network(result.model, result.weight_levels, RAW, table_bits=bits)
    table = network.tables["T"]
    assert table.dtype == np.dtype(f"int{bits}")
    assert np.abs(table.astype(np.int64)).max() <= 2 ** (bits - 1) - 1
    assert network.metadata["table_bits"] == bits
    raw = raw_pixels(test.images, RAW)
    simulated = simulate_integer(result.model, result.weight_levels, raw, RAW, table_bits=bits)
    np.testing.assert_array_equal(run_integer(network, raw), simulated)
    shifts = {
        b: export_network(result.model, result.weight_levels, RAW, table_bits=b)
        for b in (8, 16, 32)
    }
    assert shifts[8].metadata["shift"] < shifts[16].metadata["shift"] < shifts[32].metadata["shift"]
    with pytest.raises(ExportError, match="table_bits"):
        export_network(result.model, result.weight_levels, RAW, table_bits=12)
