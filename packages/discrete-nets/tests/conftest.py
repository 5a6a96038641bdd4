from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from discrete_nets import (
    ActivationSpec,
    ClusterSchedule,
    ModelConfig,
    Split,
    TrainConfig,
    TrainResult,
    load_data,
    train,
)


@dataclass
class Trained:
    config: ModelConfig
    result: TrainResult
    test: Split


@pytest.fixture(scope="session")
def digits() -> tuple[Split, Split]:
    return load_data("digits")


def _train(
    digits: tuple[Split, Split],
    config: ModelConfig,
    levels: int,
    epochs: int = 4,
    learning_rate: float = 2e-3,
) -> Trained:
    train_split, test_split = digits
    result = train(
        config,
        train_split,
        TrainConfig(epochs, 64, learning_rate, progress=False),
        ClusterSchedule(num_levels=levels, every=20),
    )
    return Trained(config, result, test_split)


@pytest.fixture(scope="session")
def trained_mlp(digits: tuple[Split, Split]) -> Trained:
    spec = ActivationSpec("tanh", 16)
    return _train(digits, ModelConfig("mlp", (8, 8), 10, (32,), activation=spec), 64)


@pytest.fixture(scope="session")
def trained_cnn(digits: tuple[Split, Split]) -> Trained:
    spec = ActivationSpec("tanh", 8)
    config = ModelConfig("cnn", (8, 8), 10, (16,), (8,), 3, activation=spec)
    return _train(digits, config, 32, epochs=8)


@pytest.fixture(scope="session")
def trained_autoencoder(digits: tuple[Split, Split]) -> Trained:
    spec = ActivationSpec("tanh", 16)
    config = ModelConfig("autoencoder", (8, 8), 10, (24,), activation=spec)
    return _train(digits, config, 100, epochs=12, learning_rate=1e-2)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
