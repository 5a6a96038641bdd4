"""The float model built from a :class:`ModelSpec` (Flax NNX), the starting point of QAT."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from mulfree_quant._spec import (
    Conv,
    Dense,
    Flatten,
    GlobalAvgPool,
    LayerSpec,
    MaxPool,
    ModelSpec,
    Residual,
)


def activate(x: jax.Array, activation: str) -> jax.Array:
    """Apply ``"relu"`` or ``"none"``."""
    return jax.nn.relu(x) if activation == "relu" else x


def max_pool(x: jax.Array, window: int, stride: int) -> jax.Array:
    """Valid max-pooling of an NHWC array."""
    return jax.lax.reduce_window(
        x, -jnp.inf, jax.lax.max, (1, window, window, 1), (1, stride, stride, 1), "VALID"
    )


class NumpyInit:
    """He-normal kernels and zero biases drawn with numpy (no XLA compilation at init).

    Flax initialisers receive a JAX key; these ignore it and draw from one seeded numpy
    generator, so building a model costs no compiled random programs.
    """

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def he(self, key: Any, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
        """Normal with standard deviation ``sqrt(2 / fan_in)`` (fan-in = all but last axis)."""
        del key
        fan_in = int(np.prod(shape[:-1])) or 1
        return jnp.asarray(self.rng.normal(0.0, np.sqrt(2.0 / fan_in), shape), dtype)

    def zeros(self, key: Any, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
        """Zeros."""
        del key
        return jnp.asarray(np.zeros(shape), dtype)

    def ones(self, key: Any, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
        """Ones."""
        del key
        return jnp.asarray(np.ones(shape), dtype)


class FloatConv(nnx.Module):
    """Convolution (+ batch-norm) + activation from a :class:`Conv` spec."""

    def __init__(self, spec: Conv, in_channels: int, *, init: NumpyInit) -> None:
        self.spec = spec
        rngs = nnx.Rngs(0)
        self.conv = nnx.Conv(
            in_channels,
            spec.features,
            (spec.kernel, spec.kernel),
            (spec.stride, spec.stride),
            padding=spec.padding,
            feature_group_count=spec.groups,
            use_bias=not spec.batch_norm,
            kernel_init=init.he,
            bias_init=init.zeros,
            rngs=rngs,
        )
        self.norm = (
            nnx.BatchNorm(
                spec.features,
                momentum=0.9,
                scale_init=init.ones,
                bias_init=init.zeros,
                rngs=rngs,
            )
            if spec.batch_norm
            else None
        )

    def __call__(self, x: jax.Array) -> jax.Array:
        y = self.conv(x)
        if self.norm is not None:
            y = self.norm(y)
        return activate(y, self.spec.activation)


class FloatDense(nnx.Module):
    """Dense + activation from a :class:`Dense` spec."""

    def __init__(self, spec: Dense, in_features: int, *, init: NumpyInit) -> None:
        self.spec = spec
        self.linear = nnx.Linear(
            in_features,
            spec.features,
            kernel_init=init.he,
            bias_init=init.zeros,
            rngs=nnx.Rngs(0),
        )

    def __call__(self, x: jax.Array) -> jax.Array:
        return activate(self.linear(x), self.spec.activation)


class FloatResidual(nnx.Module):
    """``activation(body(x) + x)``."""

    def __init__(self, spec: Residual, shape: tuple[int, ...], *, init: NumpyInit) -> None:
        self.spec = spec
        self.body = nnx.List(build_float_layers(spec.body, shape, init))

    def __call__(self, x: jax.Array) -> jax.Array:
        y = x
        for layer in self.body:
            y = layer(y)
        return activate(y + x, self.spec.activation)


class FloatPool(nnx.Module):
    """Max-pool, global average pool or flatten (no parameters)."""

    def __init__(self, spec: MaxPool | GlobalAvgPool | Flatten) -> None:
        self.spec = spec

    def __call__(self, x: jax.Array) -> jax.Array:
        if isinstance(self.spec, MaxPool):
            return max_pool(x, self.spec.window, self.spec.stride or self.spec.window)
        if isinstance(self.spec, GlobalAvgPool):
            return jnp.mean(x, axis=(1, 2))
        return x.reshape((x.shape[0], -1))


def _channels(shape: tuple[int, ...]) -> int:
    return shape[-1]


def build_float_layers(
    layers: tuple[LayerSpec, ...], shape: tuple[int, ...], init: NumpyInit
) -> list[nnx.Module]:
    """NNX modules for ``layers`` applied to inputs of per-sample ``shape``."""
    from mulfree_quant._spec import _shape_after

    modules: list[nnx.Module] = []
    for position, layer in enumerate(layers):
        if isinstance(layer, Conv):
            modules.append(FloatConv(layer, _channels(shape), init=init))
        elif isinstance(layer, Dense):
            modules.append(FloatDense(layer, shape[0], init=init))
        elif isinstance(layer, Residual):
            modules.append(FloatResidual(layer, shape, init=init))
        else:
            modules.append(FloatPool(layer))
        shape = _shape_after(layer, shape, f"layer {position}")
    return modules


class FloatNet(nnx.Module):
    """The ordinary float network of a :class:`ModelSpec`; inputs are NHWC floats in ``[0, 1]``.

    Example:
        >>> import jax.numpy as jnp
        >>> from mulfree_quant import FloatNet, zoo_model
        >>> net = FloatNet(zoo_model("mlp", (8, 8, 1)), seed=0)
        >>> net(jnp.zeros((2, 8, 8, 1))).shape
        (2, 10)
    """

    def __init__(self, spec: ModelSpec, *, seed: int = 0) -> None:
        self.spec = spec
        init = NumpyInit(seed)
        self.layers = nnx.List(build_float_layers(spec.layers, tuple(spec.input_shape), init))

    def __call__(self, x: jax.Array) -> jax.Array:
        for layer in self.layers:
            x = layer(x)
        return x
