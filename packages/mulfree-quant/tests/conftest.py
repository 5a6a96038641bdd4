"""Shared fixtures: a small trained digits model and its table twin (built once per session)."""

from __future__ import annotations

import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

import pytest

import mulfree_quant as mq


@pytest.fixture(scope="session")
def digits():
    return mq.load_dataset("digits")


@pytest.fixture(scope="session")
def trained(digits):
    train, _ = digits
    spec = mq.zoo_model("mlp", (8, 8, 1))
    model = mq.FloatNet(spec, seed=0)
    mq.fit(model, train, mq.TrainConfig(epochs=8, batch_size=64, progress=False))
    quant = mq.QuantConfig.for_entries(40, "kmeans", recluster_every=20)
    twin = mq.to_table_based(model, quant)
    result = mq.fit(
        twin, train, mq.TrainConfig(epochs=2, batch_size=64, learning_rate=5e-4, progress=False)
    )
    network = mq.export(twin, raw_max=16)
    return model, twin, network, result
