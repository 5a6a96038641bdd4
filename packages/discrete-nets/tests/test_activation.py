from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from discrete_nets import (
    ACTIVATIONS,
    ActivationError,
    ActivationSpec,
    activation_indices,
    activation_levels,
    discretize,
    input_indices,
    input_values,
    plateau_boundaries,
)


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("count", [2, 4, 32, 64])
def test_levels_are_evenly_spaced_over_the_range(name: str, count: int) -> None:
    spec = ActivationSpec(name, count)
    levels = activation_levels(spec)
    assert levels.shape == (count,)
    assert levels[0] == pytest.approx(spec.low)
    assert levels[-1] == pytest.approx(spec.high)
    np.testing.assert_allclose(np.diff(levels), spec.step, rtol=1e-12)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_boundaries_map_to_level_midpoints_and_step_the_index(name: str) -> None:
    spec = ActivationSpec(name, 8)
    bounds = plateau_boundaries(spec)
    levels = activation_levels(spec)
    assert bounds.shape == (7,)
    assert np.all(np.diff(bounds) > 0)
    f_at = np.asarray(spec.apply(jnp.asarray(bounds, jnp.float32)), np.float64)
    np.testing.assert_allclose(f_at, 0.5 * (levels[1:] + levels[:-1]), atol=1e-6)
    eps = 1e-3 * (1 + np.abs(bounds))
    below = np.asarray(activation_indices(jnp.asarray(bounds - eps, jnp.float32), spec))
    above = np.asarray(activation_indices(jnp.asarray(bounds + eps, jnp.float32), spec))
    np.testing.assert_array_equal(below, np.arange(7))
    np.testing.assert_array_equal(above, np.arange(1, 8))


def test_plateaus_are_unequal_for_tanh_and_equal_for_a_linear_piece() -> None:
    tanh_widths = np.diff(plateau_boundaries(ActivationSpec("tanh", 16)))
    assert tanh_widths.max() / tanh_widths.min() > 4  # long where tanh is flat
    assert tanh_widths[len(tanh_widths) // 2] == tanh_widths.min()  # short where steep
    np.testing.assert_allclose(np.diff(plateau_boundaries(ActivationSpec("relu6", 7))), 1.0)


def test_index_equals_count_of_boundaries_below(rng: np.random.Generator) -> None:
    spec = ActivationSpec("sigmoid", 32)
    x = rng.normal(0.0, 4.0, 20_000)
    index = np.asarray(activation_indices(jnp.asarray(x, jnp.float32), spec))
    counted = np.searchsorted(plateau_boundaries(spec), x.astype(np.float32), side="right")
    assert np.mean(index == counted) > 0.999
    values = np.asarray(discretize(jnp.asarray(x, jnp.float32), spec))
    np.testing.assert_allclose(values, activation_levels(spec)[index], atol=1e-6)


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "relu6"])
def test_gradient_is_the_continuous_derivative(name: str) -> None:
    spec = ActivationSpec(name, 4)
    x = jnp.linspace(-3.0, 7.0, 41)
    grad = jax.vmap(jax.grad(lambda v: discretize(v, spec)))(x)
    expected = jax.vmap(jax.grad(lambda v: spec.apply(v)))(x)
    np.testing.assert_allclose(np.asarray(grad), np.asarray(expected), rtol=1e-6, atol=1e-7)
    assert float(jnp.max(jnp.abs(grad))) > 0  # not a zero-gradient staircase


def test_continuous_spec_is_the_function() -> None:
    x = jnp.linspace(-2, 2, 9)
    np.testing.assert_allclose(discretize(x, ActivationSpec("tanh", None)), jnp.tanh(x))


def test_bilevel_tanh_is_sign_like() -> None:
    spec = ActivationSpec("tanh", 2)
    out = discretize(jnp.array([-0.3, -1e-3, 1e-3, 2.0]), spec)
    assert out.tolist() == [-1.0, -1.0, 1.0, 1.0]
    assert plateau_boundaries(spec).tolist() == [0.0]


def test_inputs_map_onto_the_levels() -> None:
    spec = ActivationSpec("tanh", 5)
    pixels = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
    assert input_indices(pixels, spec).tolist() == [0, 0, 2, 4, 4]
    np.testing.assert_allclose(input_values(pixels, spec), [-1, -1, 0, 1, 1])
    with pytest.raises(ActivationError, match=r"\[0, 1\]"):
        input_indices(np.array([1.5]), spec)
    with pytest.raises(ActivationError, match=r"\[0, 1\]"):
        input_values(np.array([np.nan]), ActivationSpec("tanh", None))


@pytest.mark.parametrize(
    ("name", "count"), [("relu", 4), ("tanh", 1), ("tanh", 2.5), ("tanh", True)]
)
def test_bad_specs_are_rejected(name: str, count: object) -> None:
    with pytest.raises(ActivationError):
        ActivationSpec(name, count)  # type: ignore[arg-type]


def test_continuous_spec_has_no_levels() -> None:
    with pytest.raises(ActivationError, match="continuous"):
        activation_levels(ActivationSpec("tanh", None))
