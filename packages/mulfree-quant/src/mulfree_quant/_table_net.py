"""The table-based twin (Flax NNX): every weight and activation output is quantized.

Forward values are exact levels; gradients pass straight through (see
:func:`~mulfree_quant.quantize_ste`). Latent float weights are kept for training and
re-clustered periodically; levels live in :class:`Levels` variables, which the optimizer never
touches.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from mulfree_quant._float_net import activate, max_pool
from mulfree_quant._quantizers import quantize_ste
from mulfree_quant._spec import (
    Conv,
    Dense,
    Flatten,
    GlobalAvgPool,
    LayerSpec,
    MaxPool,
    ModelSpec,
    Residual,
    _shape_after,
)

Collect = dict[str, jax.Array] | None


class Levels(nnx.Variable[jax.Array]):
    """Sorted quantization levels of one quantizer (not a trainable parameter)."""


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """``(before, after)`` padding of XLA's ``"SAME"`` for one spatial axis.

    Example:
        >>> same_padding(28, 5, 1), same_padding(28, 3, 2)
        ((2, 2), (0, 1))
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv_padding(spec: Conv, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Explicit ``(top, bottom, left, right)`` padding of a conv spec on a ``(h, w, c)`` input."""
    if spec.padding == "VALID":
        return (0, 0, 0, 0)
    top, bottom = same_padding(shape[0], spec.kernel, spec.stride)
    left, right = same_padding(shape[1], spec.kernel, spec.stride)
    return (top, bottom, left, right)


def _placeholder(n: int, signed: bool) -> jax.Array:
    return jnp.asarray(np.linspace(-1.0 if signed else 0.0, 1.0, n), jnp.float32)


def _he(rng: np.random.Generator, shape: tuple[int, ...]) -> jax.Array:
    fan_in = int(np.prod(shape[:-1]))
    return jnp.asarray(rng.normal(0.0, np.sqrt(2.0 / fan_in), shape), jnp.float32)


def _emit(y: jax.Array, levels: jax.Array, key: str, quantize: bool, collect: Collect) -> jax.Array:
    """Record a layer's continuous output (for calibration), then quantize it if asked."""
    if collect is not None:
        collect[key] = y
    return quantize_ste(y, levels) if quantize else y


class QConv(nnx.Module):
    """Quantized convolution: quantized weights (``Nw`` levels), quantized output (``Na``).

    Depthwise when ``spec.groups`` equals the channel count. Batch-norm is not part of the twin:
    it is folded into ``kernel`` and ``bias`` by :func:`~mulfree_quant.to_table_based`.
    """

    def __init__(
        self,
        spec: Conv,
        shape: tuple[int, ...],
        na: int,
        nw: int,
        key: str,
        *,
        rng: np.random.Generator,
    ) -> None:
        self.spec = spec
        self.key = key
        self.padding = conv_padding(spec, shape)
        kernel_shape = (spec.kernel, spec.kernel, shape[2] // spec.groups, spec.features)
        self.kernel = nnx.Param(_he(rng, kernel_shape))
        self.bias = nnx.Param(jnp.asarray(np.zeros(spec.features), jnp.float32))
        self.weight_levels = Levels(_placeholder(nw, True))
        self.output_levels = Levels(_placeholder(na, spec.activation == "none"))

    def __call__(self, x: jax.Array, quantize: bool = True, collect: Collect = None) -> jax.Array:
        kernel = self.kernel[...]
        if quantize:
            kernel = quantize_ste(kernel, self.weight_levels[...])
        top, bottom, left, right = self.padding
        z = jax.lax.conv_general_dilated(
            x,
            kernel,
            (self.spec.stride, self.spec.stride),
            [(top, bottom), (left, right)],
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
            feature_group_count=self.spec.groups,
        )
        y = activate(z + self.bias[...], self.spec.activation)
        return _emit(y, self.output_levels[...], self.key, quantize, collect)


class QDense(nnx.Module):
    """Quantized dense layer; the final one (``final=True``) outputs unquantized logits."""

    def __init__(
        self,
        spec: Dense,
        in_features: int,
        na: int,
        nw: int,
        key: str,
        *,
        final: bool,
        rng: np.random.Generator,
    ) -> None:
        self.spec = spec
        self.key = key
        self.final = final
        self.kernel = nnx.Param(_he(rng, (in_features, spec.features)))
        self.bias = nnx.Param(jnp.asarray(np.zeros(spec.features), jnp.float32))
        self.weight_levels = Levels(_placeholder(nw, True))
        self.output_levels = Levels(_placeholder(na, spec.activation == "none"))

    def __call__(self, x: jax.Array, quantize: bool = True, collect: Collect = None) -> jax.Array:
        kernel = self.kernel[...]
        if quantize:
            kernel = quantize_ste(kernel, self.weight_levels[...])
        y = activate(x @ kernel + self.bias[...], self.spec.activation)
        if self.final:
            return y
        return _emit(y, self.output_levels[...], self.key, quantize, collect)


class QPool(nnx.Module):
    """Max-pool (on quantized values, i.e. on indices), global average pool, or flatten.

    The global average pool has its own output quantizer (the requantization table).
    """

    def __init__(self, spec: MaxPool | GlobalAvgPool | Flatten, na: int, key: str) -> None:
        self.spec = spec
        self.key = key
        self.output_levels = Levels(_placeholder(na, False))

    def __call__(self, x: jax.Array, quantize: bool = True, collect: Collect = None) -> jax.Array:
        if isinstance(self.spec, MaxPool):
            return max_pool(x, self.spec.window, self.spec.stride or self.spec.window)
        if isinstance(self.spec, Flatten):
            return x.reshape((x.shape[0], -1))
        y = jnp.mean(x, axis=(1, 2))
        return _emit(y, self.output_levels[...], self.key, quantize, collect)


class QResidual(nnx.Module):
    """``activation(q(body(x)) + x)`` requantized with its own levels (the add table)."""

    def __init__(
        self,
        spec: Residual,
        shape: tuple[int, ...],
        na: int,
        nw: int,
        key: str,
        *,
        rng: np.random.Generator,
    ) -> None:
        self.spec = spec
        self.key = key
        self.body = nnx.List(build_table_layers(spec.body, shape, na, nw, f"{key}.", rng))
        self.output_levels = Levels(_placeholder(na, spec.activation == "none"))

    def __call__(self, x: jax.Array, quantize: bool = True, collect: Collect = None) -> jax.Array:
        y = x
        for layer in self.body:
            y = layer(y, quantize, collect)
        y = activate(y + x, self.spec.activation)
        return _emit(y, self.output_levels[...], self.key, quantize, collect)


TableLayer = QConv | QDense | QPool | QResidual


def build_table_layers(
    layers: tuple[LayerSpec, ...],
    shape: tuple[int, ...],
    na: int,
    nw: int,
    prefix: str,
    rng: np.random.Generator,
    final_index: int = -1,
) -> list[TableLayer]:
    """Quantized modules for ``layers`` on inputs of per-sample ``shape``."""
    modules: list[TableLayer] = []
    for position, layer in enumerate(layers):
        key = f"{prefix}{position}"
        if isinstance(layer, Conv):
            modules.append(QConv(layer, shape, na, nw, key, rng=rng))
        elif isinstance(layer, Dense):
            final = position == final_index
            modules.append(QDense(layer, shape[0], na, nw, key, final=final, rng=rng))
        elif isinstance(layer, Residual):
            modules.append(QResidual(layer, shape, na, nw, key, rng=rng))
        else:
            modules.append(QPool(layer, na, key))
        shape = _shape_after(layer, shape, key)
    return modules


class TableNet(nnx.Module):
    """The table-based twin of a :class:`ModelSpec`.

    Inputs are NHWC floats in ``[0, 1]``, quantized to ``input_levels`` uniform levels. Call with
    ``quantize=False`` for the continuous forward pass (used by calibration), and with a
    ``collect`` dict to record every activation output before its quantizer.

    Example:
        >>> import jax.numpy as jnp
        >>> from mulfree_quant import QuantConfig, TableNet, zoo_model
        >>> net = TableNet(zoo_model("mlp", (8, 8, 1)), QuantConfig())
        >>> net(jnp.zeros((2, 8, 8, 1))).shape
        (2, 10)
    """

    def __init__(self, spec: ModelSpec, config: object, *, seed: int | None = None) -> None:
        from mulfree_quant._config import QuantConfig

        assert isinstance(config, QuantConfig)
        self.spec = spec
        self.config = config
        na, nw = config.activation_levels, config.weight_levels
        self.input_levels = Levels(
            jnp.asarray(np.linspace(0.0, 1.0, config.effective_input_levels), jnp.float32)
        )
        rng = np.random.default_rng(config.seed if seed is None else seed)
        self.layers = nnx.List(
            build_table_layers(
                spec.layers,
                tuple(spec.input_shape),
                na,
                nw,
                "",
                rng,
                final_index=len(spec.layers) - 1,
            )
        )

    def __call__(self, x: jax.Array, quantize: bool = True, collect: Collect = None) -> jax.Array:
        if quantize:
            x = quantize_ste(x, self.input_levels[...])
        for layer in self.layers:
            x = layer(x, quantize, collect)
        return x


def iter_weight_layers(layers: object) -> list[QConv | QDense]:
    """Every QConv/QDense in execution order (descending into residual bodies)."""
    found: list[QConv | QDense] = []
    for layer in layers:  # type: ignore[attr-defined]
        if isinstance(layer, (QConv, QDense)):
            found.append(layer)
        elif isinstance(layer, QResidual):
            found.extend(iter_weight_layers(layer.body))
    return found


def iter_quantizers(layers: object) -> list[TableLayer]:
    """Every module with an activation-output quantizer, keyed by ``module.key``."""
    found: list[TableLayer] = []
    for layer in layers:  # type: ignore[attr-defined]
        if isinstance(layer, QResidual):
            found.extend(iter_quantizers(layer.body))
            found.append(layer)
        elif (isinstance(layer, QDense) and layer.final) or (
            isinstance(layer, QPool) and not isinstance(layer.spec, GlobalAvgPool)
        ):
            continue
        else:
            found.append(layer)
    return found
