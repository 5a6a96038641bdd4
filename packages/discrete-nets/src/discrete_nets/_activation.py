"""Discretized activations: outputs rounded to evenly spaced levels, continuous gradient.

The output range of a bounded activation is split into ``num_levels`` evenly spaced output
levels. The forward pass rounds ``f(x)`` to the nearest level; the backward pass uses the
derivative of the continuous ``f`` (a straight-through estimator on the continuous function).
Because the levels are even in ``f(x)``, the plateaus in ``x`` are unequal: short where ``f`` is
steep, long where it is flat. The plateau boundaries in ``x`` are what the integer executor
compares against, so no non-linear function is ever evaluated at inference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np


class ActivationError(ValueError):
    """An activation name or level count is not supported."""


@dataclass(frozen=True)
class _Function:
    forward: Callable[[jax.Array], jax.Array]
    inverse: Callable[[np.ndarray], np.ndarray]
    low: float
    high: float


def _logit(y: np.ndarray) -> np.ndarray:
    return np.log(y) - np.log1p(-y)


_FUNCTIONS: dict[str, _Function] = {
    "tanh": _Function(jnp.tanh, np.arctanh, -1.0, 1.0),
    "sigmoid": _Function(jax.nn.sigmoid, _logit, 0.0, 1.0),
    "relu6": _Function(jax.nn.relu6, lambda y: y, 0.0, 6.0),
    "hard_tanh": _Function(jax.nn.hard_tanh, lambda y: y, -1.0, 1.0),
}

ACTIVATIONS: tuple[str, ...] = tuple(sorted(_FUNCTIONS))
"""Names of the supported (bounded, monotone) activation functions."""


@dataclass(frozen=True)
class ActivationSpec:
    """A bounded activation function and its number of output levels.

    Attributes:
        name: One of :data:`ACTIVATIONS` (``"tanh"``, ``"sigmoid"``, ``"relu6"``,
            ``"hard_tanh"``).
        num_levels: Number of evenly spaced output levels ``|A|`` (at least 2), or ``None``
            for the continuous function (the float twin).

    Example:
        >>> spec = ActivationSpec("tanh", 4)
        >>> spec.low, spec.high, spec.step
        (-1.0, 1.0, 0.6666666666666666)
    """

    name: str = "tanh"
    num_levels: int | None = 32

    def __post_init__(self) -> None:
        if self.name not in _FUNCTIONS:
            raise ActivationError(
                f"unknown activation {self.name!r}; supported: {', '.join(ACTIVATIONS)} "
                "(the activation must be bounded and monotone)"
            )
        if self.num_levels is not None and (
            isinstance(self.num_levels, bool)
            or not isinstance(self.num_levels, int)
            or self.num_levels < 2
        ):
            raise ActivationError(
                f"num_levels must be an integer >= 2 or None, got {self.num_levels!r}"
            )

    @property
    def low(self) -> float:
        """Lower end of the function's output range."""
        return _FUNCTIONS[self.name].low

    @property
    def high(self) -> float:
        """Upper end of the function's output range."""
        return _FUNCTIONS[self.name].high

    @property
    def discrete(self) -> bool:
        """Whether the outputs are discretized (``num_levels`` is set)."""
        return self.num_levels is not None

    @property
    def step(self) -> float:
        """Spacing between adjacent output levels.

        Raises:
            ActivationError: The spec is continuous.
        """
        return (self.high - self.low) / (self._levels() - 1)

    def _levels(self) -> int:
        if self.num_levels is None:
            raise ActivationError("a continuous activation (num_levels=None) has no levels")
        return self.num_levels

    def apply(self, x: jax.Array) -> jax.Array:
        """Evaluate the continuous activation function ``f(x)``."""
        return _FUNCTIONS[self.name].forward(x)


def activation_levels(spec: ActivationSpec) -> np.ndarray:
    """Return the ``|A|`` evenly spaced output levels of ``spec`` (float64, ascending).

    Example:
        >>> activation_levels(ActivationSpec("sigmoid", 3)).tolist()
        [0.0, 0.5, 1.0]
    """
    count = spec._levels()
    return spec.low + spec.step * np.arange(count, dtype=np.float64)


def plateau_boundaries(spec: ActivationSpec) -> np.ndarray:
    """Return the ``|A| - 1`` inputs ``x`` at which the discretized output steps up.

    Boundary ``k`` is where ``f(x)`` crosses the midpoint between levels ``k`` and ``k + 1``,
    so the output index of ``x`` is the number of boundaries ``<= x``. The boundaries are
    unequally spaced unless ``f`` is linear over its range.

    Example:
        >>> plateau_boundaries(ActivationSpec("relu6", 4)).tolist()
        [1.0, 3.0, 5.0]
        >>> [round(b, 4) for b in plateau_boundaries(ActivationSpec("tanh", 3))]
        [-0.5493, 0.5493]
    """
    count = spec._levels()
    midpoints = spec.low + spec.step * (np.arange(count - 1, dtype=np.float64) + 0.5)
    return np.asarray(_FUNCTIONS[spec.name].inverse(midpoints), dtype=np.float64)


def activation_indices(x: jax.Array, spec: ActivationSpec) -> jax.Array:
    """Index of the output level that ``f(x)`` rounds to (``int32``, in ``[0, |A|)``).

    Example:
        >>> import jax.numpy as jnp
        >>> activation_indices(jnp.array([-3.0, 0.1, 3.0]), ActivationSpec("tanh", 3)).tolist()
        [0, 1, 2]
    """
    count = spec._levels()
    position = (spec.apply(x) - spec.low) / spec.step
    # Half-up rounding: an input on a plateau boundary goes to the upper level, as in the
    # integer executor's comparison ``sum >= boundary``.
    return jnp.clip(jnp.floor(position + 0.5), 0, count - 1).astype(jnp.int32)


def discretize(x: jax.Array, spec: ActivationSpec) -> jax.Array:
    """Discretized activation: forward rounds ``f(x)`` to a level, backward uses ``f'(x)``.

    For a continuous ``spec`` (``num_levels=None``) this is ``f(x)``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> spec = ActivationSpec("tanh", 3)
        >>> discretize(jnp.array([-2.0, 0.2, 2.0]), spec).tolist()
        [-1.0, 0.0, 1.0]
        >>> float(jax.grad(lambda v: discretize(v, spec))(0.0))
        1.0
    """
    y = spec.apply(x)
    if not spec.discrete:
        return y
    quantized = spec.low + spec.step * activation_indices(x, spec).astype(y.dtype)
    return y + jax.lax.stop_gradient(quantized - y)


def input_indices(pixels: np.ndarray, spec: ActivationSpec) -> np.ndarray:
    """Quantize inputs in ``[0, 1]`` to activation-level indices (``int32``).

    Inputs map linearly onto the activation's output range, so a network's first layer sees
    the same ``|A|`` levels as every other layer and one global table serves them all.

    Raises:
        ActivationError: An input lies outside ``[0, 1]`` or is not finite.

    Example:
        >>> import numpy as np
        >>> input_indices(np.array([0.0, 0.4, 1.0]), ActivationSpec("tanh", 3)).tolist()
        [0, 1, 2]
    """
    pixels = np.asarray(pixels)
    _check_unit_range(pixels)
    count = spec._levels()
    position = pixels.astype(np.float64) * (count - 1)
    return np.clip(np.floor(position + 0.5), 0, count - 1).astype(np.int32)


def input_values(pixels: np.ndarray, spec: ActivationSpec) -> np.ndarray:
    """Map inputs in ``[0, 1]`` onto the activation's range (``float32``).

    A discrete ``spec`` rounds them to its levels (the values of :func:`input_indices`); a
    continuous one maps them linearly.

    Raises:
        ActivationError: An input lies outside ``[0, 1]`` or is not finite.

    Example:
        >>> import numpy as np
        >>> input_values(np.array([0.0, 0.5, 1.0]), ActivationSpec("tanh", None)).tolist()
        [-1.0, 0.0, 1.0]
    """
    pixels = np.asarray(pixels)
    if not spec.discrete:
        _check_unit_range(pixels)
        return (spec.low + (spec.high - spec.low) * pixels.astype(np.float64)).astype(np.float32)
    return activation_levels(spec).astype(np.float32)[input_indices(pixels, spec)]


def _check_unit_range(pixels: np.ndarray) -> None:
    if pixels.size and (
        not np.all(np.isfinite(pixels)) or float(pixels.min()) < 0 or float(pixels.max()) > 1
    ):
        raise ActivationError("inputs must be finite and lie in [0, 1]")
