"""From a float model to its table-based twin: batch-norm folding and weight copying."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from mulfree_quant._config import QuantConfig
from mulfree_quant._errors import MulfreeError
from mulfree_quant._float_net import FloatConv, FloatDense, FloatNet, FloatResidual
from mulfree_quant._spec import ModelSpec
from mulfree_quant._table_net import QConv, QDense, QResidual, TableNet


def fold_batch_norm(layer: FloatConv) -> tuple[np.ndarray, np.ndarray]:
    """Kernel and bias of ``layer`` with its batch-norm (running statistics) folded in.

    ``k' = k · γ / sqrt(σ² + ε)`` per output channel and ``b' = (b - μ) · γ / sqrt(σ² + ε) + β``.

    Returns:
        ``(kernel, bias)`` as float32 numpy arrays.
    """
    kernel = np.asarray(layer.conv.kernel[...], dtype=np.float64)
    conv_bias = layer.conv.bias
    bias = (
        np.asarray(conv_bias[...], dtype=np.float64)
        if conv_bias is not None
        else np.zeros(kernel.shape[-1])
    )
    norm = layer.norm
    if norm is None:
        return kernel.astype(np.float32), bias.astype(np.float32)
    gamma, beta = norm.scale, norm.bias
    if gamma is None or beta is None:
        raise MulfreeError("batch-norm without scale and bias is not supported")
    scale = np.asarray(gamma[...], np.float64) / np.sqrt(
        np.asarray(norm.var[...], np.float64) + norm.epsilon
    )
    folded_bias = (bias - np.asarray(norm.mean[...], np.float64)) * scale + np.asarray(
        beta[...], np.float64
    )
    return (kernel * scale).astype(np.float32), folded_bias.astype(np.float32)


def _copy(sources: object, targets: object) -> None:
    for source, target in zip(sources, targets, strict=True):  # type: ignore[call-overload]
        if isinstance(source, FloatConv) and isinstance(target, QConv):
            kernel, bias = fold_batch_norm(source)
            target.kernel[...] = jnp.asarray(kernel)
            target.bias[...] = jnp.asarray(bias)
        elif isinstance(source, FloatDense) and isinstance(target, QDense):
            target.kernel[...] = source.linear.kernel[...]
            linear_bias = source.linear.bias
            if linear_bias is not None:
                target.bias[...] = linear_bias[...]
        elif isinstance(source, FloatResidual) and isinstance(target, QResidual):
            _copy(source.body, target.body)


def to_table_based(
    model: FloatNet | ModelSpec, config: QuantConfig, *, seed: int | None = None
) -> TableNet:
    """Build the table-based twin of a float model (or of a bare model definition).

    With a trained :class:`FloatNet`, batch-norm is folded into each conv's kernel and bias and
    all weights are copied, so QAT starts from the float solution. Levels are placeholders until
    :func:`~mulfree_quant.calibrate` runs.

    Args:
        model: A :class:`FloatNet`, or a :class:`ModelSpec` for a freshly initialised twin.
        config: Quantization settings (``Na``, ``Nw``, schemes, ...).
        seed: Initialisation seed of a fresh twin (default ``config.seed``).

    Returns:
        The :class:`TableNet` twin.

    Raises:
        MulfreeError: ``model`` is neither a FloatNet nor a ModelSpec.

    Example:
        >>> from mulfree_quant import FloatNet, QuantConfig, to_table_based, zoo_model
        >>> float_net = FloatNet(zoo_model("mlp", (8, 8, 1)), seed=0)
        >>> twin = to_table_based(float_net, QuantConfig(activation_levels=8, weight_levels=5))
        >>> type(twin).__name__
        'TableNet'
    """
    if isinstance(model, ModelSpec):
        return TableNet(model, config, seed=seed)
    if not isinstance(model, FloatNet):
        raise MulfreeError(f"expected a FloatNet or ModelSpec, got {type(model).__name__}")
    twin = TableNet(model.spec, config, seed=seed)
    _copy(model.layers, twin.layers)
    return twin
