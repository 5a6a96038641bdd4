from __future__ import annotations

import itertools

import numpy as np
import pytest

from tti_probe import ProbeInputError, diversity


def test_vendi_matches_reference_package() -> None:
    vendi = pytest.importorskip("vendi_score.vendi")
    rng = np.random.default_rng(0)
    for d in (8, 40):
        x = rng.normal(size=(150, d)) + 0.3
        assert diversity(x).vendi == pytest.approx(float(vendi.score_X(x)), rel=1e-5)


def test_mean_cosine_distance_and_effective_rank_match_direct_formulas() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 10)) + 0.5
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    cos = u @ u.T
    n = len(x)
    expected_mcd = np.mean(1 - cos[~np.eye(n, dtype=bool)])
    s = np.linalg.svd(x - x.mean(0), compute_uv=False)
    p = s / s.sum()
    expected_rank = np.exp(-(p * np.log(p)).sum())
    got = diversity(x)
    assert got.mean_cosine_distance == pytest.approx(expected_mcd, rel=1e-5)
    assert got.effective_rank == pytest.approx(expected_rank, rel=1e-5)
    assert got.count == n


def test_shrinking_spread_lowers_every_diversity_score() -> None:
    rng = np.random.default_rng(2)
    centre = rng.normal(size=32) * 3
    noise = rng.normal(size=(200, 32))
    scores = [diversity(centre + s * noise) for s in (2.0, 1.0, 0.5, 0.1)]
    for wide, narrow in itertools.pairwise(scores):
        assert narrow.mean_cosine_distance < wide.mean_cosine_distance
        assert narrow.vendi < wide.vendi


def test_effective_rank_counts_dimensions() -> None:
    rng = np.random.default_rng(3)
    x = np.zeros((400, 20))
    x[:, :3] = rng.normal(size=(400, 3))
    x[:, 3] = 10.0  # constant offset, removed by centring
    assert diversity(x).effective_rank == pytest.approx(3.0, rel=0.05)


def test_identical_points_have_vendi_one() -> None:
    x = np.tile(np.array([[1.0, 2.0, 3.0]]), (10, 1))
    d = diversity(x)
    assert d.vendi == pytest.approx(1.0, rel=1e-4)
    assert d.mean_cosine_distance == pytest.approx(0.0, abs=1e-5)


def test_bad_inputs() -> None:
    with pytest.raises(ProbeInputError, match="at least 2"):
        diversity(np.ones((1, 3)))
    with pytest.raises(ProbeInputError, match="zero norm"):
        diversity(np.array([[0.0, 0.0], [1.0, 0.0]]))
    with pytest.raises(ProbeInputError, match="2-D"):
        diversity(np.ones(3))
