"""Export, the integer executor and the bit-exact simulation, on every zoo model."""

from __future__ import annotations

import numpy as np
import pytest

import mulfree_quant as mq
from fourfold_common import engine


@pytest.fixture(scope="module")
def fashion_sample():
    from fourfold_common.data import load_fashion_mnist

    test = load_fashion_mnist("test")
    return mq.Split(test.images[:16, :, :, None], test.labels[:16], 255)


@pytest.mark.parametrize("name", sorted(mq.ZOO))
def test_executor_equals_simulation_bit_for_bit_on_every_zoo_model(name, fashion_sample):
    spec = mq.zoo_model(name)
    twin = mq.to_table_based(spec, mq.QuantConfig.for_entries(40, "laplacian"))
    mq.recluster_weights(twin)
    mq.snap_weights(twin)
    mq.calibrate_activations(twin, fashion_sample.images, passes=1)
    network = mq.export(twin)
    bounds = engine.accumulator_bounds(network)
    assert max(bounds.values()) < mq.EXACT_LIMIT
    dtypes = set()
    executed = engine.run(
        network, fashion_sample.raw, trace=lambda _, a: dtypes.add(a.dtype.kind), batch_size=16
    )
    assert dtypes <= {"u", "i"}
    simulated = mq.simulate(network, fashion_sample.raw, batch_size=16)
    np.testing.assert_array_equal(executed, simulated)
    # Tables: Na x Nw = 8 x 5 per layer; weights stored in 3 bits.
    report = mq.compactness_report(network)
    assert set(report.per_layer_entries) <= {40, 8 * 5}
    assert all(layer.index_bits == 3 for layer in report.size.layers)
    assert report.size.payload_bytes < 0.25 * report.size.float32_bytes


def test_trained_twin_three_readings_agree(trained, digits):
    model, twin, network, result = trained
    _, test = digits
    float_eval = mq.evaluate(model, test)
    fake = mq.evaluate(twin, test)
    simulated = mq.evaluate(network, test, "simulate")
    executed = mq.evaluate(network, test, "executor")
    assert float_eval.accuracy > 0.9
    assert np.array_equal(simulated.predictions, executed.predictions)
    # Threshold activations: the export differs from fake-quant only by table rounding.
    assert np.mean(fake.predictions == executed.predictions) >= 0.995
    assert executed.accuracy > float_eval.accuracy - 0.04
    assert result.reclusterings >= 2


def test_shift_activation_export_also_runs_bit_exact(fashion_sample):
    quant = mq.QuantConfig.for_entries(40, "kmeans", activation_mapping="shift")
    twin = mq.to_table_based(mq.zoo_model("lenet5"), quant)
    mq.calibrate(twin, fashion_sample.images)
    mq.finalize(twin, fashion_sample.images)
    network = mq.export(twin)
    kinds = {type(op).__name__ for op in network.ops}
    assert "ShiftActivation" in kinds
    assert "ThresholdActivation" not in kinds
    np.testing.assert_array_equal(
        engine.run(network, fashion_sample.raw), mq.simulate(network, fashion_sample.raw)
    )


def test_threshold_export_reproduces_the_quantized_forward_pass(fashion_sample):
    twin = mq.to_table_based(mq.zoo_model("lenet5"), mq.QuantConfig.for_entries(40, "kmeans"))
    mq.calibrate(twin, fashion_sample.images)
    mq.finalize(twin, fashion_sample.images)
    network = mq.export(twin)
    assert any(isinstance(op, engine.ThresholdActivation) for op in network.ops)
    report = mq.compactness_report(network)
    assert report.activation_table_entries == 4 * (8 - 1)  # 4 quantized outputs, Na - 1 cuts
    # Logits: integer accumulators / 2^shift of the last layer equal the float logits.
    shift = network.metadata["layers"][-1]["shift"]
    logits = mq.simulate(network, fashion_sample.raw) / 2.0**shift
    expected = np.asarray(mq.predict_logits(twin, fashion_sample.images))
    np.testing.assert_allclose(logits, expected, atol=0.02 * np.abs(expected).max())


def test_training_ends_on_a_quantization_step(trained):
    _, twin, _, _ = trained
    for layer in twin.layers:
        if isinstance(layer, mq.QDense):
            kernel = np.asarray(layer.kernel[...])
            assert np.all(np.isin(kernel, np.asarray(layer.weight_levels[...])))
            assert np.unique(kernel).size <= twin.config.weight_levels


def test_exported_tables_are_the_products_of_the_levels(trained):
    network = trained[2]
    for record in network.metadata["layers"]:
        a = np.asarray(record["activation_levels"])
        w = np.asarray(record["weight_levels"])
        table = network.tables[record["table"]]
        assert table.shape == (a.size, w.size)
        np.testing.assert_array_equal(table, np.round(np.outer(a, w) * 2.0 ** record["shift"]))


def test_artifact_round_trip(trained, digits, tmp_path):
    _, twin, network, _ = trained
    _, test = digits
    path = mq.export_artifact(twin, tmp_path / "mlp.ffi", raw_max=16)
    loaded = engine.load(path)
    np.testing.assert_array_equal(engine.run(loaded, test.raw), engine.run(network, test.raw))
    assert path.stat().st_size == mq.compactness_report(network).size.artifact_bytes
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    with pytest.raises(engine.ArtifactError):
        engine.from_bytes(bytes(data))


def test_simulation_rejects_bad_inputs(trained):
    _, _, network, _ = trained
    with pytest.raises(mq.MulfreeError):
        mq.simulate(network, np.zeros((2, 8, 8, 1), np.float32))
    with pytest.raises(mq.MulfreeError):
        mq.simulate(network, np.zeros((2, 4, 4, 1), np.uint8))
    with pytest.raises(engine.EngineError):
        engine.run(network, np.full((1, 8, 8, 1), 17))
