"""Shared fixtures of the tti-probe analysis tests."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)


@pytest.fixture(scope="session")
def planted_world():  # type: ignore[no-untyped-def]
    """A small simulated world with the four planted issues (shared: analyses are jitted once)."""
    from tti_probe import simulate

    return simulate(num_classes=6, per_class=60, dim=32, seed=1)


@pytest.fixture(scope="session")
def planted_analysis(planted_world):  # type: ignore[no-untyped-def]
    """Its analysis with the linear probe trained on synthetic-only and natural-only sets."""
    from tti_probe import AnalysisConfig, analyze

    config = AnalysisConfig(probe_kinds=("linear",), mixes=(1.0, 0.0), progress=False)
    return analyze(planted_world.data, config)
