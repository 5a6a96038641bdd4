"""Training: data parallelism over 4 host devices, checkpoint resume, persistence."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import mulfree_quant as mq
from mulfree_quant._persist import load_model, save_model

PARALLEL_SCRIPT = textwrap.dedent(
    """
    import jax, numpy as np
    from flax import nnx
    import mulfree_quant as mq
    assert len(jax.devices()) == 4, jax.devices()
    train, _ = mq.load_dataset("digits")
    train = train.take(512)
    config = mq.TrainConfig(epochs=1, batch_size=64, max_steps=6, progress=False)
    results = []
    for devices in (jax.devices()[:1], jax.devices()):
        model = mq.FloatNet(mq.zoo_model("mlp", (8, 8, 1)), seed=0)
        mq.fit(model, train, config, devices=devices)
        results.append(np.asarray(model.layers[1].linear.kernel[...]))
    difference = float(np.max(np.abs(results[0] - results[1])))
    moved = float(np.max(np.abs(results[0] - np.asarray(
        mq.FloatNet(mq.zoo_model("mlp", (8, 8, 1)), seed=0).layers[1].linear.kernel[...]))))
    print("RESULT", difference, moved)
    """
)


def test_four_host_devices_give_the_same_result_as_one():
    env = dict(os.environ)
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4 --xla_cpu_multi_thread_eigen=false"
    completed = subprocess.run(
        [sys.executable, "-c", PARALLEL_SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    line = next(x for x in completed.stdout.splitlines() if x.startswith("RESULT"))
    difference, moved = (float(v) for v in line.split()[1:])
    assert moved > 1e-3  # training really changed the weights
    assert difference < 1e-5  # 4-way data parallel == 1 device, up to float reassociation


def test_batch_size_must_divide_over_devices(digits):
    train, _ = digits
    model = mq.FloatNet(mq.zoo_model("mlp", (8, 8, 1)), seed=0)
    with pytest.raises(mq.MulfreeError, match="at least"):
        mq.fit(model, train.take(10), mq.TrainConfig(batch_size=64, progress=False))


def test_checkpoint_resume_restores_state(digits, tmp_path):
    train, _ = digits
    train = train.take(256)
    config = mq.TrainConfig(epochs=2, batch_size=64, progress=False)
    first = mq.FloatNet(mq.zoo_model("mlp", (8, 8, 1)), seed=0)
    result = mq.fit(first, train, config, checkpoint=tmp_path / "ckpt.npz")
    assert result.steps == 8
    assert result.resumed_from_epoch == 0
    second = mq.FloatNet(mq.zoo_model("mlp", (8, 8, 1)), seed=5)
    resumed = mq.fit(second, train, config, checkpoint=tmp_path / "ckpt.npz")
    assert resumed.resumed_from_epoch == 2
    assert resumed.steps == 0
    np.testing.assert_array_equal(
        first.layers[1].linear.kernel[...], second.layers[1].linear.kernel[...]
    )
    other = mq.FloatNet(mq.zoo_model("lenet5", (28, 28, 1)), seed=0)
    with pytest.raises(mq.MulfreeError, match=r"does not match|cannot resume"):
        mq.fit(
            other,
            mq.Split(np.zeros((64, 28, 28, 1), np.uint8), np.zeros(64, int), 255),
            config,
            checkpoint=tmp_path / "ckpt.npz",
        )


def test_save_and_load_models(trained, digits, tmp_path):
    model, twin, _, _ = trained
    _, test = digits
    for original in (model, twin):
        path = save_model(original, tmp_path / "model.npz", dataset="digits")
        loaded, extra = load_model(path)
        assert extra == {"dataset": "digits"}
        assert type(loaded) is type(original)
        np.testing.assert_array_equal(
            mq.predict_logits(loaded, test.images), mq.predict_logits(original, test.images)
        )
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(mq.MulfreeError):
        load_model(tmp_path / "bad.npz")
    with pytest.raises(mq.MulfreeError):
        load_model(tmp_path / "missing.npz")


def test_batch_norm_statistics_update_during_training(digits):
    train, _ = digits
    spec = mq.ModelSpec(
        "bn",
        (8, 8, 1),
        (mq.Conv(4, 3, batch_norm=True), mq.GlobalAvgPool(), mq.Dense(10, "none")),
    )
    model = mq.FloatNet(spec, seed=0)
    norm = model.layers[0].norm
    before = np.asarray(norm.mean[...]).copy()
    mq.fit(model, train.take(128), mq.TrainConfig(epochs=1, batch_size=64, progress=False))
    assert np.abs(np.asarray(norm.mean[...]) - before).max() > 1e-3
    twin = mq.to_table_based(model, mq.QuantConfig())
    np.testing.assert_allclose(
        twin(train.images[:8], quantize=False), model(train.images[:8]), rtol=1e-4, atol=1e-4
    )


def test_finalize_snaps_weights_without_moving_any_level(digits):
    train, test = digits
    model = mq.FloatNet(mq.zoo_model("mlp", (8, 8, 1)), seed=0)
    mq.fit(model, train, mq.TrainConfig(epochs=2, batch_size=64, progress=False))
    twin = mq.to_table_based(model, mq.QuantConfig.for_entries(40, "kmeans"))
    mq.calibrate(twin, train.images)
    before = mq.predict_logits(twin, test.images)
    levels = [np.asarray(layer.weight_levels[...]).copy() for layer in twin.layers[1:]]
    outputs = [np.asarray(layer.output_levels[...]).copy() for layer in twin.layers[1:3]]
    assert not np.all(np.isin(np.asarray(twin.layers[1].kernel[...]), levels[0]))
    mq.finalize(twin, train.images)
    for layer, kept in zip(twin.layers[1:], levels, strict=True):
        np.testing.assert_array_equal(layer.weight_levels[...], kept)
        assert np.all(np.isin(np.asarray(layer.kernel[...]), kept))
    for layer, kept in zip(twin.layers[1:3], outputs, strict=True):
        np.testing.assert_array_equal(layer.output_levels[...], kept)
    np.testing.assert_allclose(mq.predict_logits(twin, test.images), before, rtol=1e-5, atol=1e-5)
