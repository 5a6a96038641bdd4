"""Model definitions: an MLP, a LeNet-style CNN and an auto-encoder, all sequential."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import jax
from flax import nnx

from discrete_nets._activation import ActivationSpec
from discrete_nets._layers import Activation, Conv, Dense, Flatten, MaxPool

ARCHITECTURES = ("mlp", "cnn", "autoencoder")
"""Supported architectures; ``cnn`` with the default sizes is LeNet-5 (VALID convolutions)."""


class ModelError(ValueError):
    """A model configuration is inconsistent (unknown architecture, sizes that do not fit)."""


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a discretized network.

    Attributes:
        arch: ``"mlp"``, ``"cnn"`` (LeNet-style: conv-act-pool blocks then dense layers) or
            ``"autoencoder"`` (dense encoder, mirrored decoder, activation on the output).
        input_shape: ``(height, width)`` of the single-channel input images.
        num_outputs: Number of classes (ignored by the auto-encoder, whose output is the
            flattened input).
        hidden: Hidden dense sizes (for the auto-encoder: the encoder sizes down to the code).
        conv_channels: Output channels of each conv block (``cnn`` only).
        kernel_size: Convolution kernel size (``cnn`` only).
        activation: The activation function and its level count ``|A|`` (``None`` = float).

    Example:
        >>> cfg = ModelConfig("mlp", (8, 8), 10, hidden=(32,))
        >>> cfg.is_classifier, cfg.input_size
        (True, 64)
    """

    arch: str = "mlp"
    input_shape: tuple[int, int] = (28, 28)
    num_outputs: int = 10
    hidden: tuple[int, ...] = (256, 128)
    conv_channels: tuple[int, ...] = (6, 16)
    kernel_size: int = 5
    activation: ActivationSpec = field(default_factory=ActivationSpec)

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ModelError(f"arch must be one of {ARCHITECTURES}, got {self.arch!r}")
        sizes = (*self.input_shape, self.num_outputs, *self.hidden, *self.conv_channels)
        if len(self.input_shape) != 2 or any(int(s) < 1 for s in sizes):
            raise ModelError("input_shape must be (height, width) and all sizes positive")
        if self.arch == "autoencoder" and not self.hidden:
            raise ModelError("an auto-encoder needs at least one hidden (code) size")
        if self.arch == "cnn":
            side = min(self.input_shape)
            for _ in self.conv_channels:
                side = (side - self.kernel_size + 1) // 2
                if side < 1:
                    raise ModelError(
                        f"input {self.input_shape} is too small for {len(self.conv_channels)} "
                        f"conv blocks with kernel {self.kernel_size}"
                    )

    @property
    def is_classifier(self) -> bool:
        """Whether the model outputs class logits (otherwise it reconstructs its input)."""
        return self.arch != "autoencoder"

    @property
    def input_size(self) -> int:
        """Number of input pixels."""
        return self.input_shape[0] * self.input_shape[1]

    def with_activation(self, activation: ActivationSpec) -> ModelConfig:
        """Return a copy with another activation spec (e.g. the float twin)."""
        return replace(self, activation=activation)


class Network(nnx.Module):
    """A sequential discretized network (see :func:`build_model`).

    The input is images already mapped onto the activation range (see
    :func:`discrete_nets.input_values`), shape ``(batch, height, width)``.
    """

    def __init__(self, config: ModelConfig, layers: list[nnx.Module]) -> None:
        self.config = config
        self.layers = nnx.List(layers)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = x[..., None] if self.config.arch == "cnn" else x.reshape(x.shape[0], -1)
        for layer in self.layers:
            x = layer(x)
        return x


def build_model(config: ModelConfig, seed: int = 0) -> Network:
    """Build the network described by ``config`` with parameters drawn from ``seed``.

    Example:
        >>> import jax.numpy as jnp
        >>> net = build_model(ModelConfig("cnn", (8, 8), 10, (16,), (4,), 3))
        >>> net(jnp.zeros((2, 8, 8))).shape
        (2, 10)
    """
    rngs = nnx.Rngs(seed)
    spec = config.activation
    layers: list[nnx.Module] = []
    if config.arch == "cnn":
        channels, side_h, side_w = 1, *config.input_shape
        for out in config.conv_channels:
            layers += [Conv(channels, out, config.kernel_size, rngs=rngs), Activation(spec)]
            layers.append(MaxPool(2))
            channels = out
            side_h = (side_h - config.kernel_size + 1) // 2
            side_w = (side_w - config.kernel_size + 1) // 2
        layers.append(Flatten())
        width = channels * side_h * side_w
    else:
        width = config.input_size
    if config.arch == "autoencoder":
        sizes = [*config.hidden, *reversed(config.hidden[:-1]), config.input_size]
    else:
        sizes = [*config.hidden, config.num_outputs]
    for position, size in enumerate(sizes):
        layers.append(Dense(width, size, rngs=rngs))
        last = position == len(sizes) - 1
        if not last or config.arch == "autoencoder":
            layers.append(Activation(spec))
        width = size
    return Network(config, layers)
