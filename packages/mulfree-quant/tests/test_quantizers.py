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


def test_adaptive_schemes_beat_uniform_on_laplacian_weights():
    def mse(levels):
        index = np.asarray(mq.quantize_index(jnp.asarray(WEIGHTS), jnp.asarray(levels)))
        return float(np.mean((WEIGHTS - levels[index]) ** 2))

    uniform = mse(mq.place_levels(WEIGHTS, 5, "uniform"))
    for scheme in ("laplacian", "kmeans", "quantile"):
        assert mse(mq.place_levels(WEIGHTS, 5, scheme)) < 0.7 * uniform


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
