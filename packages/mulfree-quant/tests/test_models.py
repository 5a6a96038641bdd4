from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import mulfree_quant as mq


@pytest.mark.parametrize("name", sorted(mq.ZOO))
def test_zoo_model_shapes(name):
    from mulfree_quant._spec import layer_shapes

    spec = mq.zoo_model(name)
    assert layer_shapes(spec)[-1] == (10,)
    assert mq.zoo_model(name, (32, 32, 3), 7).num_classes == 7


def test_invalid_specs_raise():
    with pytest.raises(mq.MulfreeError, match="last layer"):
        mq.ModelSpec("bad", (8, 8, 1), (mq.Flatten(), mq.Dense(10)))
    with pytest.raises(mq.MulfreeError, match="Flatten"):
        mq.ModelSpec("bad", (8, 8, 1), (mq.Dense(10, "none"),))
    with pytest.raises(mq.MulfreeError, match="groups"):
        mq.ModelSpec("bad", (8, 8, 3), (mq.Conv(4, groups=2), mq.Flatten(), mq.Dense(2, "none")))
    with pytest.raises(mq.MulfreeError, match="shape"):
        mq.ModelSpec(
            "bad", (8, 8, 1), (mq.Residual((mq.Conv(4),)), mq.Flatten(), mq.Dense(2, "none"))
        )
    with pytest.raises(mq.MulfreeError):
        mq.zoo_model("vgg")


@pytest.mark.parametrize("name", ["resnet", "mobilenet"])
def test_batch_norm_folding_preserves_the_float_function(name):
    spec = mq.zoo_model(name)
    model = mq.FloatNet(spec, seed=1)
    rng = np.random.default_rng(0)
    # Give batch-norm non-trivial statistics and affine parameters.
    for layer in jax_modules(model):
        if isinstance(layer, nnx.BatchNorm):
            size = layer.mean[...].shape
            layer.mean[...] = jnp.asarray(rng.normal(0, 0.3, size), jnp.float32)
            layer.var[...] = jnp.asarray(rng.uniform(0.5, 2.0, size), jnp.float32)
            layer.scale[...] = jnp.asarray(rng.uniform(0.5, 1.5, size), jnp.float32)
            layer.bias[...] = jnp.asarray(rng.normal(0, 0.2, size), jnp.float32)
    model.eval()
    twin = mq.to_table_based(model, mq.QuantConfig())
    x = jnp.asarray(rng.random((4, 28, 28, 1)), jnp.float32)
    np.testing.assert_allclose(twin(x, quantize=False), model(x), rtol=1e-4, atol=1e-4)


def jax_modules(model):
    return [module for _, module in nnx.iter_graph(model) if isinstance(module, nnx.Module)]
