"""Flax NNX layers of a discretized network.

Every layer is a plain ``flax.nnx`` module. Dense and convolution layers hold float
parameters that the clustering schedule snaps to the shared weight values; the
:class:`Activation` layer discretizes its outputs to ``|A|`` levels; :class:`MaxPool` works on
activation values, which is the same as working on their indices because the level map is
monotone. Convolutions are ``VALID`` with stride 1, so every input of a unit is a real
activation (there is no padding value that would need its own table row).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from discrete_nets._activation import ActivationSpec, discretize


class Dense(nnx.Module):
    """Fully connected layer ``y = x @ kernel + bias``.

    Example:
        >>> from flax import nnx
        >>> import jax.numpy as jnp
        >>> layer = Dense(3, 2, rngs=nnx.Rngs(0))
        >>> layer(jnp.ones((4, 3))).shape
        (4, 2)
    """

    def __init__(self, in_features: int, out_features: int, *, rngs: nnx.Rngs) -> None:
        init = jax.nn.initializers.lecun_normal()
        self.kernel = nnx.Param(init(rngs.params(), (in_features, out_features), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((out_features,), jnp.float32))

    def __call__(self, x: jax.Array) -> jax.Array:
        return x @ self.kernel[...] + self.bias[...]


class Conv(nnx.Module):
    """2-D convolution, ``VALID`` padding, stride 1, NHWC layout.

    Example:
        >>> from flax import nnx
        >>> import jax.numpy as jnp
        >>> Conv(1, 4, 3, rngs=nnx.Rngs(0))(jnp.ones((2, 8, 8, 1))).shape
        (2, 6, 6, 4)
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, *, rngs: nnx.Rngs
    ) -> None:
        init = jax.nn.initializers.lecun_normal()
        shape = (kernel_size, kernel_size, in_channels, out_channels)
        self.kernel = nnx.Param(init(rngs.params(), shape, jnp.float32))
        self.bias = nnx.Param(jnp.zeros((out_channels,), jnp.float32))

    def __call__(self, x: jax.Array) -> jax.Array:
        y = jax.lax.conv_general_dilated(
            x,
            self.kernel[...],
            window_strides=(1, 1),
            padding="VALID",
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )
        return y + self.bias[...]


class Activation(nnx.Module):
    """Discretized activation layer (continuous when ``spec.num_levels`` is ``None``).

    Example:
        >>> import jax.numpy as jnp
        >>> Activation(ActivationSpec("tanh", 3))(jnp.array([-5.0, 0.0, 5.0])).tolist()
        [-1.0, 0.0, 1.0]
    """

    def __init__(self, spec: ActivationSpec) -> None:
        self.spec = spec

    def __call__(self, x: jax.Array) -> jax.Array:
        return discretize(x, self.spec)


class MaxPool(nnx.Module):
    """Non-overlapping ``size`` x ``size`` max-pool (NHWC); trailing rows/columns are dropped.

    Example:
        >>> import jax.numpy as jnp
        >>> MaxPool(2)(jnp.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0].tolist()
        [[5.0, 7.0], [13.0, 15.0]]
    """

    def __init__(self, size: int = 2) -> None:
        self.size = size

    def __call__(self, x: jax.Array) -> jax.Array:
        window = (1, self.size, self.size, 1)
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, window, window, "VALID")


class Flatten(nnx.Module):
    """Flatten all but the batch axis (row-major, NHWC order).

    Example:
        >>> import jax.numpy as jnp
        >>> Flatten()(jnp.ones((2, 3, 3, 4))).shape
        (2, 36)
    """

    def __call__(self, x: jax.Array) -> jax.Array:
        return x.reshape(x.shape[0], -1)
