"""Tests of fourfold_common.levels: counts, ordering, occupancy, closed forms, determinism."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fourfold_common.levels import (
    LevelsError,
    gaussian_levels,
    kmeans_levels,
    laplacian_levels,
    laplacian_offsets,
    nearest_index,
    power_of_two_levels,
    quantile_levels,
    standard_gaussian_levels,
    thresholds,
    uniform_levels,
)

RNG = np.random.default_rng(1234)
LAPLACE = RNG.laplace(0.3, 0.7, 200_000)
COUNTS = [1, 2, 3, 5, 8, 40, 41]

DATA_FUNCTIONS = [
    gaussian_levels,
    laplacian_levels,
    quantile_levels,
    lambda values, n: kmeans_levels(values, n, seed=0, max_samples=20_000),
]


@pytest.mark.parametrize("function", DATA_FUNCTIONS)
@pytest.mark.parametrize("n", COUNTS)
def test_data_levels_have_exact_count_and_strict_order(function, n):
    levels = function(LAPLACE, n)
    assert levels.shape == (n,)
    assert levels.dtype == np.float64
    assert np.all(np.diff(levels) > 0)


@pytest.mark.parametrize("function", DATA_FUNCTIONS)
@pytest.mark.parametrize("sample", [[2.5] * 10, [0.0, 1.0] * 5, [7.0]])
def test_degenerate_samples_still_give_n_distinct_levels(function, sample):
    levels = function(sample, 6)
    assert levels.shape == (6,)
    assert np.all(np.diff(levels) > 0)
    assert levels.min() <= min(sample) + 1e-2
    assert levels.max() >= max(sample) - 1e-2


@pytest.mark.parametrize("function", DATA_FUNCTIONS)
@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [float("inf")]])
def test_bad_samples_raise_levels_error(function, bad):
    with pytest.raises(LevelsError):
        function(bad, 4)


@pytest.mark.parametrize("n", [0, -3, 2.5, True, "4"])
def test_bad_counts_raise_levels_error(n):
    with pytest.raises(LevelsError):
        quantile_levels([1.0, 2.0], n)
    with pytest.raises(LevelsError):
        uniform_levels(n, 0.0, 1.0)


def test_uniform_levels():
    np.testing.assert_allclose(uniform_levels(5, -2.0, 2.0), [-2, -1, 0, 1, 2])
    assert uniform_levels(1, 0.0, 4.0).tolist() == [2.0]
    np.testing.assert_allclose(np.diff(uniform_levels(40, 0.0, 3.9)), 0.1)
    with pytest.raises(LevelsError):
        uniform_levels(3, 1.0, 1.0)


def test_power_of_two_levels():
    assert power_of_two_levels(7, 4.0).tolist() == [-4, -2, -1, 0, 1, 2, 4]
    assert power_of_two_levels(6, 4.0).tolist() == [-4, -2, -1, 1, 2, 4]
    assert power_of_two_levels(5, 1.0, signed=False).tolist() == [0, 0.125, 0.25, 0.5, 1]
    with pytest.raises(LevelsError):
        power_of_two_levels(3, 0.0)


def test_standard_gaussian_lloyd_max_known_values():
    # Max (1960) optimal quantizers of N(0, 1).
    np.testing.assert_allclose(standard_gaussian_levels(2), [-0.7979, 0.7979], atol=1e-4)
    np.testing.assert_allclose(
        standard_gaussian_levels(4), [-1.510, -0.4528, 0.4528, 1.510], atol=1e-3
    )
    np.testing.assert_allclose(standard_gaussian_levels(3), [-1.224, 0.0, 1.224], atol=1e-3)


def test_gaussian_levels_scale_with_fit():
    sample = RNG.normal(-2.0, 3.0, 100_000)
    np.testing.assert_allclose(
        gaussian_levels(sample, 4), -2.0 + 3.0 * standard_gaussian_levels(4), atol=0.05
    )


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 8, 40])
def test_laplacian_offsets_recursion_equals_closed_form(n):
    offsets = laplacian_offsets(n)
    positive = offsets[offsets >= 0] if n % 2 else offsets[offsets > 0]
    if n % 2:
        expected = [-math.log(1 - 2 * i / n) for i in range((n + 1) // 2)]
    else:
        expected = [-math.log(1 - (2 * i - 1) / n) for i in range(1, n // 2 + 1)]
    np.testing.assert_allclose(positive, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(offsets, -offsets[::-1], atol=1e-15)


@pytest.mark.parametrize("n", [3, 4, 8, 9])
def test_laplacian_offsets_hold_one_nth_of_the_mass_by_numeric_integration(n):
    offsets = laplacian_offsets(n)
    grid = np.linspace(-40.0, 40.0, 2_000_001)
    density = 0.5 * np.exp(-np.abs(grid))
    cumulative = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]))])
    cumulative *= grid[1] - grid[0]

    def mass_below(x: float) -> float:
        return float(np.interp(x, grid, cumulative))

    between = [mass_below(hi) - mass_below(lo) for lo, hi in itertools.pairwise(offsets)]
    np.testing.assert_allclose(between, 1.0 / n, atol=1e-6)
    np.testing.assert_allclose(1.0 - mass_below(offsets[-1]), 0.5 / n, atol=1e-6)


@pytest.mark.parametrize("function", [laplacian_levels, quantile_levels])
@pytest.mark.parametrize("n", [5, 8, 16])
def test_equal_occupancy_on_a_large_laplacian_sample(function, n):
    levels = function(LAPLACE, n)
    # Mass between consecutive levels is 1/n; beyond each outer level 1/(2n).
    fractions = np.diff(np.searchsorted(np.sort(LAPLACE), levels)) / LAPLACE.size
    np.testing.assert_allclose(fractions, 1.0 / n, atol=0.01)
    # Nearest-level cells are close to equal occupancy (not exact: midpoints of tails).
    cells = np.bincount(nearest_index(LAPLACE, levels), minlength=n) / LAPLACE.size
    assert np.all(cells > 0.6 / n)
    assert np.all(cells < 1.4 / n)


def test_kmeans_levels_are_deterministic_and_lower_error_than_uniform():
    first = kmeans_levels(LAPLACE, 8, seed=3, max_samples=5_000)
    second = kmeans_levels(LAPLACE, 8, seed=3, max_samples=5_000)
    other = kmeans_levels(LAPLACE, 8, seed=4, max_samples=5_000)
    assert np.array_equal(first, second)
    assert not np.array_equal(first, other)
    full = kmeans_levels(LAPLACE, 8)

    def mse(levels: np.ndarray) -> float:
        return float(np.mean((LAPLACE - levels[nearest_index(LAPLACE, levels)]) ** 2))

    uniform = uniform_levels(8, LAPLACE.min(), LAPLACE.max())
    assert mse(full) < 0.5 * mse(uniform)
    assert mse(full) <= mse(quantile_levels(LAPLACE, 8)) + 1e-12


def test_kmeans_matches_gaussian_lloyd_max_on_gaussian_data():
    sample = RNG.normal(0.0, 1.0, 100_000)
    np.testing.assert_allclose(kmeans_levels(sample, 4), standard_gaussian_levels(4), atol=0.03)


def test_kmeans_finds_separated_clusters():
    sample = np.concatenate([RNG.normal(c, 0.01, 300) for c in (-5.0, 0.0, 2.0, 9.0)])
    np.testing.assert_allclose(kmeans_levels(sample, 4), [-5, 0, 2, 9], atol=0.01)


def test_kmeans_argument_errors():
    with pytest.raises(LevelsError):
        kmeans_levels([1.0, 2.0], 2, max_samples=0)
    with pytest.raises(LevelsError):
        kmeans_levels([1.0, 2.0], 2, iterations=-1)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=30),
    st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=12, unique=True),
)
def test_nearest_index_is_a_nearest_level(values, raw_levels):
    levels = np.sort(np.asarray(raw_levels))
    if levels.size > 1 and np.min(np.diff(levels)) <= 0:
        return
    index = nearest_index(values, levels)
    distance = np.abs(np.asarray(values)[:, None] - levels[None, :])
    chosen = distance[np.arange(len(values)), index]
    np.testing.assert_allclose(chosen, distance.min(axis=1), rtol=1e-12, atol=1e-9)


def test_thresholds_and_tie_breaking():
    assert thresholds([0.0, 1.0, 3.0]).tolist() == [0.5, 2.0]
    assert nearest_index([0.5, 2.0], [0.0, 1.0, 3.0]).tolist() == [1, 2]
    assert thresholds([4.0]).size == 0
    with pytest.raises(LevelsError):
        thresholds([1.0, 1.0])
    with pytest.raises(LevelsError):
        nearest_index([float("nan")], [0.0, 1.0])
