from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

from discrete_nets import (
    ActivationSpec,
    ClusterSchedule,
    ModelConfig,
    Split,
    TrainConfig,
    TrainError,
    train,
)

CONFIG = ModelConfig("mlp", (8, 8), 10, (16,), activation=ActivationSpec("tanh", 16))


def _params(model: nnx.Module) -> np.ndarray:
    leaves = jax.tree.leaves(nnx.state(model, nnx.Param))
    return np.concatenate([np.ravel(np.asarray(leaf)) for leaf in leaves])


def test_checkpoint_resumes_and_rejects_other_configs(
    digits: tuple[Split, Split], tmp_path: Path
) -> None:
    data = digits[0].head(256)
    checkpoint = tmp_path / "run.ckpt"
    settings = TrainConfig(2, 64, progress=False)
    schedule = ClusterSchedule(num_levels=8, every=3)
    first = train(CONFIG, data, settings, schedule, checkpoint)
    assert checkpoint.exists()
    assert first.resumed_from_epoch == 0
    again = train(CONFIG, data, settings, schedule, checkpoint)
    assert again.resumed_from_epoch == 2
    assert again.losses == first.losses
    np.testing.assert_array_equal(_params(again.model), _params(first.model))
    np.testing.assert_array_equal(again.weight_levels, first.weight_levels)
    with pytest.raises(TrainError, match="another configuration"):
        train(CONFIG, data, TrainConfig(3, 64, progress=False), schedule, checkpoint)
    checkpoint.write_bytes(b"garbage")
    with pytest.raises(TrainError, match="unreadable"):
        train(CONFIG, data, settings, schedule, checkpoint)


def test_training_is_deterministic_and_validates(digits: tuple[Split, Split]) -> None:
    data = digits[0].head(128)
    settings = TrainConfig(1, 64, progress=False)
    a = train(CONFIG, data, settings, ClusterSchedule(num_levels=8, every=1))
    b = train(CONFIG, data, settings, ClusterSchedule(num_levels=8, every=1))
    np.testing.assert_array_equal(_params(a.model), _params(b.model))
    with pytest.raises(TrainError, match="fewer than one batch"):
        train(CONFIG, data.head(10), settings)
    with pytest.raises(TrainError):
        TrainConfig(epochs=0)


def test_divergence_is_reported(digits: tuple[Split, Split]) -> None:
    data = digits[0].head(128)
    with pytest.raises(TrainError, match="diverged"):
        train(
            CONFIG,
            data,
            TrainConfig(1, 64, learning_rate=float("inf"), progress=False),
            ClusterSchedule(num_levels=8, every=1),
        )
