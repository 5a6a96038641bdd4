from __future__ import annotations

import itertools
import math

import jax
import numpy as np
import pytest
from flax import nnx

from discrete_nets import ClusterSchedule, ScheduleError, cluster_arrays, shared_levels
from fourfold_common.levels import laplacian_offsets


def test_cluster_steps_end_on_the_last_step() -> None:
    schedule = ClusterSchedule(num_levels=8, every=7)
    steps = [s for s in range(30) if schedule.is_cluster_step(s, 30)]
    assert steps == [6, 13, 20, 27, 29]
    assert not any(ClusterSchedule(num_levels=None).is_cluster_step(s, 30) for s in range(30))


@pytest.mark.parametrize("method", ["kmeans", "laplacian"])
@pytest.mark.parametrize("count", [2, 16, 1000])
def test_clusterers_give_exactly_count_values(method: str, count: int) -> None:
    weights = np.random.default_rng(1).laplace(0.0, 0.05, 30_000)
    levels = shared_levels(weights, ClusterSchedule(num_levels=count, method=method))
    assert levels.shape == (count,)
    assert np.all(np.diff(levels) > 0)


def test_laplacian_levels_hold_equal_occupancy() -> None:
    count = 9
    weights = np.random.default_rng(2).laplace(0.01, 0.2, 400_000)
    levels, (index,) = cluster_arrays(
        [weights], ClusterSchedule(num_levels=count, method="laplacian")
    )
    # Equal occupancy: each level's mass between midpoints of the closed form.
    # Levels are the (k + 1/2)/N quantiles, so the mass between adjacent levels is 1/N.
    between = [np.mean((weights >= a) & (weights < b)) for a, b in itertools.pairwise(levels)]
    np.testing.assert_allclose(between, 1.0 / count, atol=0.004)
    assert np.mean(weights > levels[-1]) == pytest.approx(0.5 / count, abs=0.003)
    assert len(np.unique(index)) == count


def test_laplacian_closed_form_matches_numeric_quantiles() -> None:
    count = 10
    offsets = laplacian_offsets(count)
    q = (np.arange(count) + 0.5) / count
    numeric = np.where(q < 0.5, np.log(2 * q), -np.log(2 * (1 - q)))  # Laplace(0, 1) quantiles
    np.testing.assert_allclose(offsets, numeric, atol=1e-12)


def test_laplacian_pins_outermost_level_early() -> None:
    weights = np.random.default_rng(3).normal(0.0, 0.1, 5000)
    schedule = ClusterSchedule(num_levels=16, method="laplacian", pin_fraction=0.5)
    early = shared_levels(weights, schedule, progress=0.1)
    late = shared_levels(weights, schedule, progress=0.9)
    centre = np.median(weights)
    assert max(abs(early[0] - centre), abs(early[-1] - centre)) == pytest.approx(
        np.max(np.abs(weights - centre)), rel=1e-9
    )
    assert late[-1] < early[-1]


def test_kmeans_reduces_quantization_error_versus_laplacian() -> None:
    weights = np.concatenate([np.random.default_rng(4).normal(m, 0.01, 3000) for m in (-1, 0, 1)])
    errors = {}
    for method in ("kmeans", "laplacian"):
        levels, (index,) = cluster_arrays([weights], ClusterSchedule(num_levels=3, method=method))
        errors[method] = float(np.mean((levels[index] - weights) ** 2))
    assert errors["kmeans"] < 1e-3 < errors["laplacian"]


def test_schedule_validation() -> None:
    with pytest.raises(ScheduleError):
        ClusterSchedule(num_levels=1)
    with pytest.raises(ScheduleError):
        ClusterSchedule(method="median")
    with pytest.raises(ScheduleError):
        ClusterSchedule(every=0)
    with pytest.raises(ScheduleError, match="continuous"):
        shared_levels(np.ones(4), ClusterSchedule(num_levels=None))


def test_training_ends_discretized(trained_mlp) -> None:  # type: ignore[no-untyped-def]
    result = trained_mlp.result
    levels = result.weight_levels
    assert levels is not None
    assert levels.shape == (64,)
    leaves = [np.asarray(x) for x in jax.tree.leaves(nnx.state(result.model, nnx.Param))]
    pooled = np.concatenate([leaf.ravel() for leaf in leaves])
    distance = np.min(np.abs(pooled[:, None] - levels[None, :]), axis=1)
    assert float(distance.max()) < 1e-6  # every weight and bias sits on a shared value
    assert len(np.unique(pooled)) <= 64
    assert math.isfinite(result.losses[-1])
    assert result.losses[-1] < result.losses[0]
