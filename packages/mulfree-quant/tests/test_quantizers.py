from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mulfree_quant as mq

RNG = np.random.default_rng(0)
WEIGHTS = RNG.laplace(0.0, 0.05, 5_000)
RELU = np.maximum(RNG.normal(0.2, 1.0, 5_000), 0.0)


@pytest.mark.parametrize("scheme", sorted(mq.SCHEMES))
@pytest.mark.parametrize("n", [2, 5, 10, 20])
def test_weight_levels_count_and_order(scheme, n):
    levels = mq.place_levels(WEIGHTS, n, scheme)
    assert levels.shape == (n,)
    assert np.all(np.diff(levels) > 0)
    bound = np.max(np.abs(WEIGHTS)) + 1e-9
    assert np.all(np.abs(levels) <= bound)


@pytest.mark.parametrize("scheme", sorted(mq.SCHEMES))
@pytest.mark.parametrize("n", [2, 8, 16])
def test_activation_levels_contain_zero_and_are_nonnegative_for_relu(scheme, n):
    levels = mq.activation_levels(RELU, n, scheme)
    assert levels.shape == (n,)
    assert np.all(np.diff(levels) > 0)
    assert levels[0] == 0.0
    signed = mq.activation_levels(RNG.normal(0, 1, 2000), n, scheme)
    assert signed.shape == (n,)
    assert 0.0 in signed


def _mse(levels):
    index = np.asarray(mq.quantize_index(jnp.asarray(WEIGHTS), jnp.asarray(levels)))
    return float(np.mean((WEIGHTS - levels[index]) ** 2))


def test_kmeans_has_the_least_error_and_clipping_helps_uniform():
    errors = {scheme: _mse(mq.place_levels(WEIGHTS, 5, scheme)) for scheme in mq.SCHEMES}
    assert errors["kmeans"] == min(errors.values())  # Lloyd-Max on the sample
    magnitude = float(np.max(np.abs(WEIGHTS)))
    full_range = _mse(np.linspace(-magnitude, magnitude, 5))
    assert errors["uniform"] < 0.5 * full_range  # least-squares clipping of the range
    assert errors["gaussian"] < errors["laplacian"]  # Lloyd-Max vs equal occupancy


def test_clipped_range_trims_heavy_tails_but_not_a_bounded_sample():
    # A uniform sample: the least-squares 9-level quantizer has its outer levels at the centres
    # of the outer cells, ±(1 - 1/9) (the candidate grid resolves 1/48 of the range).
    clean = np.linspace(-1.0, 1.0, 1001)
    assert mq.clipped_range(clean, 9, signed=True) == pytest.approx(8 / 9, abs=0.025)
    clip = mq.clipped_range(WEIGHTS, 9, signed=True)
    assert clip < 0.6 * np.max(np.abs(WEIGHTS))
    assert mq.place_levels(WEIGHTS, 9, "uniform")[-1] == pytest.approx(clip)
    assert mq.clipped_range(RELU, 8, signed=False) < np.max(RELU)


def test_laplacian_relu_levels_follow_the_one_sided_fit():
    sample = np.concatenate([np.zeros(5_000), RNG.exponential(0.5, 50_000)])
    levels = mq.activation_levels(sample, 8, "laplacian")
    expected = -0.5 * np.log1p(-(np.arange(7) + 0.5) / 7)
    assert levels[0] == 0.0
    np.testing.assert_allclose(levels[1:], expected, rtol=0.03)


def test_unknown_scheme_and_bad_config_raise():
    with pytest.raises(mq.MulfreeError):
        mq.place_levels(WEIGHTS, 4, "magic")
    with pytest.raises(mq.MulfreeError):
        mq.QuantConfig(activation_scheme="magic")
    with pytest.raises(mq.MulfreeError):
        mq.QuantConfig(weight_levels=1)
    with pytest.raises(mq.MulfreeError):
        mq.QuantConfig.for_entries(41, "kmeans")
    with pytest.raises(mq.MulfreeError):
        mq.TrainConfig(epochs=0)
    with pytest.raises(mq.MulfreeError, match="activation_mapping"):
        mq.QuantConfig(activation_mapping="lut")


def test_table_shapes_multiply_to_their_entries():
    for entries, (na, nw) in mq.TABLE_SHAPES.items():
        assert na * nw == entries
        assert mq.QuantConfig.for_entries(entries, "uniform").entries == entries


def test_quantize_ste_forward_is_exact_and_gradient_is_identity():
    levels = jnp.array([-1.0, 0.0, 0.5, 2.0])
    x = jnp.array([-3.0, -0.4, 0.3, 0.76, 1.3, 9.0])
    assert mq.quantize_ste(x, levels).tolist() == [-1.0, 0.0, 0.5, 0.5, 2.0, 2.0]
    gradient = jax.grad(lambda v: jnp.sum(mq.quantize_ste(v, levels) * jnp.arange(6.0)))(x)
    np.testing.assert_array_equal(gradient, np.arange(6.0))
    # Through a ReLU the gradient is the continuous function's (zero where x < 0).
    relu_grad = jax.grad(lambda v: jnp.sum(mq.quantize_ste(jax.nn.relu(v), levels)))(x)
    np.testing.assert_array_equal(relu_grad, [0, 0, 1, 1, 1, 1])
