"""Export a trained discretized network to the shared integer engine, and run it.

The deployed network uses one global table of ``(|A| + 1) x |W|`` integers (``int16`` by
default: the fixed-point shift is chosen so every entry fits ``table_bits``),
``T[i, j] = round(a_i · w_j · 2^s / δ)`` with ``δ`` half the activation step, the last row
holding the biases (``a = 1``). Because the activation levels are ``a_i = δ · m_i`` with
integer ``m_i`` and the shared weight values are snapped to multiples of ``2^-s`` at export,
``T[i, j] = m_i · W_j`` exactly with ``W_j = w_j · 2^s``. A unit sums table entries (gathers and
adds) and maps the sum to its next activation index by comparing it with the integer plateau
boundaries ``B_k = ceil(b_k · 2^s / δ)``; max-pool acts on indices. Inputs are raw integer
pixels mapped to activation indices by a lookup table.

:func:`simulate_integer` evaluates the same discretized network in JAX with integer matrix
products (exact, fast); :func:`run_integer` runs the exported network in the numpy executor of
:mod:`fourfold_common.engine` (gathers, adds and comparisons only). They must agree bit for bit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from discrete_nets.__about__ import __version__
from discrete_nets._activation import (
    ActivationSpec,
    activation_levels,
    input_indices,
    plateau_boundaries,
)
from discrete_nets._layers import Activation, Conv, Dense, Flatten, MaxPool
from discrete_nets._models import Network
from fourfold_common import engine
from fourfold_common.levels import nearest_index


class ExportError(ValueError):
    """A model cannot be exported (continuous activations, weights not clustered, ...)."""


@dataclass(frozen=True)
class Deployment:
    """The integer quantities of a discretized network (shared by export and simulation).

    Attributes:
        spec: The activation spec (discrete).
        shift: Fixed-point shift ``s``.
        delta: ``δ``, half the activation step: activation level ``a_i = δ · m_i``.
        multiples: ``m_i`` (``int64``, one per activation level).
        weight_integers: ``W_j = w_j · 2^s`` (``int64``, one per shared weight value).
        bias_integers: The table's bias row ``round(w_j · 2^s / δ)``.
        boundaries: Integer plateau boundaries ``B_k`` (``int64``, ``|A| - 1`` values).
        layers: Per table layer, ``(weight_indices, bias_indices)`` (``int64``).
        input_table: Raw pixel value to input activation index.
        table_bits: Signed width every table entry fits (8, 16 or 32).
    """

    spec: ActivationSpec
    shift: int
    delta: float
    multiples: np.ndarray
    weight_integers: np.ndarray
    bias_integers: np.ndarray
    boundaries: np.ndarray
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    input_table: np.ndarray
    table_bits: int = 32

    @property
    def scale(self) -> float:
        """Accumulator units per real unit, ``2^s / δ``."""
        return 2.0**self.shift / self.delta

    @property
    def weight_values(self) -> np.ndarray:
        """The deployed shared weight values ``W_j / 2^s``."""
        return self.weight_integers / 2.0**self.shift


def _table_layers(model: Network) -> list[Dense | Conv]:
    return [layer for layer in model.layers if isinstance(layer, (Dense, Conv))]


TABLE_BITS = (8, 16, 32)
_TABLE_DTYPES = {8: "int8", 16: "int16", 32: "int32"}


def deployment(
    model: Network,
    weight_levels: np.ndarray | None,
    raw_levels: int = 256,
    accumulator_bits: int = 32,
    table_bits: int = 16,
) -> Deployment:
    """Derive the integer quantities of ``model`` (whose weights lie on ``weight_levels``).

    Args:
        model: A trained network with discrete activations.
        weight_levels: The ``|W|`` shared weight values of the last clustering step.
        raw_levels: Number of raw input values (256 for 8-bit pixels, 17 for sklearn digits).
        accumulator_bits: Width of the signed accumulator (at most 32, the executor's
            ``int32``); a narrower one gives a smaller shift, narrower table entries and a
            smaller artifact, at the cost of coarser weight values.
        table_bits: Signed width of the table entries: 16 (default, an ``int16`` table, half
            the memory of ``int32``), 8 or 32. The shift is the largest that fits both the
            entries and the accumulator; fewer bits mean coarser deployed weight values
            ``W_j / 2^s`` (measure the exported accuracy: the benchmark does).

    Raises:
        ExportError: Continuous activations, no shared weight values, parameters that are
            not on the shared values (the run did not end on a clustering step), or a
            ``table_bits`` / ``accumulator_bits`` out of range.
    """
    spec = model.config.activation
    if not spec.discrete:
        raise ExportError("continuous activations cannot be exported: set num_levels (|A|)")
    if weight_levels is None:
        raise ExportError(
            "continuous weights cannot be exported: train with ClusterSchedule(num_levels=|W|)"
        )
    if raw_levels < 2:
        raise ExportError(f"raw_levels must be >= 2, got {raw_levels}")
    if not 8 <= accumulator_bits <= 32:
        raise ExportError(f"accumulator_bits must lie in [8, 32], got {accumulator_bits}")
    if table_bits not in TABLE_BITS:
        raise ExportError(f"table_bits must be one of {TABLE_BITS}, got {table_bits}")
    levels = np.asarray(weight_levels, dtype=np.float64)
    if levels.ndim != 1 or levels.size < 2 or not np.all(np.isfinite(levels)):
        raise ExportError("weight_levels must be a finite 1-D array of at least 2 values")
    tolerance = 1e-6 * (1.0 + float(np.max(np.abs(levels))))
    layers: list[tuple[np.ndarray, np.ndarray]] = []
    fan_in = 1
    for layer in _table_layers(model):
        kernel = np.asarray(layer.kernel[...], dtype=np.float64)
        bias = np.asarray(layer.bias[...], dtype=np.float64)
        pair = (nearest_index(kernel, levels), nearest_index(bias, levels))
        for values, index in zip((kernel, bias), pair, strict=True):
            if values.size and float(np.max(np.abs(levels[index] - values))) > tolerance:
                raise ExportError(
                    "parameters are not on the shared weight values: the run must end on a "
                    "clustering step (ClusterSchedule) and weight_levels must be its values"
                )
        layers.append(pair)
        fan_in = max(fan_in, kernel.size // kernel.shape[-1])
    delta = spec.step / 2.0
    multiples = np.round(activation_levels(spec) / delta).astype(np.int64)
    largest = float(np.max(np.abs(levels)))
    top = int(np.max(np.abs(multiples)))
    shift = engine.choose_shift(
        top * largest,
        fan_in,
        bias_abs=largest / delta,
        accumulator_bits=accumulator_bits,
        entry_bits=None if table_bits == 32 else table_bits,
    )
    entry_limit = 2 ** (table_bits - 1) - 1
    while True:
        # the table is m_i * round(w_j 2^s): its rounding can exceed choose_shift's entry bound
        weight_integers = np.round(levels * 2.0**shift).astype(np.int64)
        bias_integers = np.round(weight_integers / delta).astype(np.int64)
        widest = max(top * int(np.max(np.abs(weight_integers))), int(np.max(np.abs(bias_integers))))
        if widest <= entry_limit or shift <= -64:
            break
        shift -= 1
    boundaries = engine.integer_boundaries(plateau_boundaries(spec), 2.0**shift / delta)
    raw = np.arange(raw_levels, dtype=np.float64) / (raw_levels - 1)
    return Deployment(
        spec,
        int(shift),
        float(delta),
        multiples,
        weight_integers,
        bias_integers,
        np.asarray(boundaries, dtype=np.int64),
        tuple(layers),
        input_indices(raw, spec).astype(np.int64),
        table_bits,
    )


def export_network(
    model: Network,
    weight_levels: np.ndarray | None,
    raw_levels: int = 256,
    accumulator_bits: int = 32,
    table_bits: int = 16,
) -> engine.IntegerNetwork:
    """Build the integer network of ``model`` for :mod:`fourfold_common.engine`.

    The network takes raw integer pixels in ``[0, raw_levels)`` (shape ``(h, w, 1)`` for a
    CNN, ``(h * w,)`` otherwise) and returns integer logits (classifier; argmax is the class)
    or output activation indices (auto-encoder). ``accumulator_bits`` and ``table_bits`` are
    as in :func:`deployment`; the global table is held at ``table_bits`` (``int16`` default).

    Raises:
        ExportError: As :func:`deployment`, or the global table does not factor exactly.

    Example:
        >>> from discrete_nets import ActivationSpec, ClusterSchedule, ModelConfig, TrainConfig
        >>> from discrete_nets import load_data, train
        >>> data, _ = load_data("digits")
        >>> cfg = ModelConfig("mlp", (8, 8), 10, (16,), activation=ActivationSpec("tanh", 4))
        >>> result = train(cfg, data.head(128), TrainConfig(1, 64, progress=False),
        ...                ClusterSchedule(num_levels=8, every=1))
        >>> net = export_network(result.model, result.weight_levels, raw_levels=17)
        >>> net.tables["T"].shape
        (5, 8)
    """
    plan = deployment(model, weight_levels, raw_levels, accumulator_bits, table_bits)
    spec = plan.spec
    table = engine.product_table(
        activation_levels(spec),
        plan.weight_values,
        plan.shift,
        delta=plan.delta,
        bias_row=True,
        dtype=_TABLE_DTYPES[table_bits],
    )
    expected = np.concatenate(
        [np.outer(plan.multiples, plan.weight_integers), plan.bias_integers[None, :]]
    )
    if not np.array_equal(table.astype(np.int64), expected):
        raise ExportError("the global table does not factor as m_i * W_j; please report this")
    config = model.config
    bias_row = int(spec.num_levels or 0)
    count = len(plan.weight_integers)
    ops: list[Any] = [engine.Lookup("input", "x0", plan.input_table, "index", bias_row)]
    current, table_position = "x0", 0
    for position, layer in enumerate(model.layers, start=1):
        name = f"x{position}"
        if isinstance(layer, (Dense, Conv)):
            weights, biases = plan.layers[table_position]
            table_position += 1
            bias_index = biases.astype(engine.index_dtype(count))
            indices = weights.astype(engine.index_dtype(count))
            if isinstance(layer, Dense):
                ops.append(
                    engine.Dense(
                        current, name, "T", indices, bias_index=bias_index, bias_row=bias_row
                    )
                )
            else:
                ops.append(
                    engine.Conv(
                        current, name, "T", indices, bias_index=bias_index, bias_row=bias_row
                    )
                )
        elif isinstance(layer, Activation):
            ops.append(engine.ThresholdActivation(current, name, plan.boundaries))
        elif isinstance(layer, MaxPool):
            size = (layer.size, layer.size)
            ops.append(engine.MaxPool(current, name, size, size))
        elif isinstance(layer, Flatten):
            ops.append(engine.Flatten(current, name))
        else:
            raise ExportError(f"layer {type(layer).__name__} has no integer form")
        current = name
    h, w = config.input_shape
    shape = (h, w, 1) if config.arch == "cnn" else (h * w,)
    metadata = {
        "package": "discrete-nets",
        "version": __version__,
        "model": _config_json(config),
        "activation_levels": int(spec.num_levels or 0),
        "weight_levels": count,
        "shift": plan.shift,
        "delta": plan.delta,
        "raw_levels": len(plan.input_table),
        "accumulator_bits": accumulator_bits,
        "table_bits": table_bits,
    }
    network = engine.IntegerNetwork(
        tuple(ops), {"T": table}, shape, len(plan.input_table), current, "int32", metadata
    )
    engine.infer_buffers(network)
    return network


def _config_json(config: Any) -> dict[str, Any]:
    return asdict(config)


def raw_pixels(images: np.ndarray, raw_levels: int = 256) -> np.ndarray:
    """Pixels in ``[0, 1]`` back to raw integers ``0 .. raw_levels - 1`` (``int32``).

    Example:
        >>> import numpy as np
        >>> raw_pixels(np.array([0.0, 0.5, 1.0]), 17).tolist()
        [0, 8, 16]
    """
    pixels = np.asarray(images, dtype=np.float64)
    if pixels.size and (
        not np.all(np.isfinite(pixels)) or pixels.min() < 0.0 or pixels.max() > 1.0
    ):
        raise ExportError("images must be finite and lie in [0, 1]")
    return np.round(pixels * (raw_levels - 1)).astype(np.int32)


def run_integer(
    network: engine.IntegerNetwork, raw: np.ndarray, batch_size: int = 256
) -> np.ndarray:
    """Run an exported network in the integer executor on raw pixels ``(n, h, w)``.

    Returns:
        Integer logits ``(n, classes)`` or output indices ``(n, h*w)``.

    Raises:
        fourfold_common.engine.EngineError: Inputs of the wrong shape, dtype or range.
    """
    data = np.asarray(raw)
    data = data.reshape((data.shape[0], *network.input_shape)) if data.ndim else data
    return engine.run(network, data, batch_size=batch_size)


def simulate_integer(
    model: Network,
    weight_levels: np.ndarray | None,
    raw: np.ndarray,
    raw_levels: int = 256,
    batch_size: int = 1000,
    accumulator_bits: int = 32,
    table_bits: int = 16,
) -> np.ndarray:
    """The discretized forward pass in exact integer units, in JAX (no table lookups).

    Dense and conv layers are integer matrix products ``Σ m_i · W_j`` (``int32``), activations
    count the boundaries below the sum, max-pool takes the largest index. This is the
    simulation the executor is checked against.

    Returns:
        The same array :func:`run_integer` returns for the exported network.
    """
    plan = deployment(model, weight_levels, raw_levels, accumulator_bits, table_bits)
    multiples = jnp.asarray(plan.multiples, jnp.int32)
    boundaries = jnp.asarray(plan.boundaries, jnp.int32)
    weights = []
    for (w_idx, b_idx), layer in zip(plan.layers, _table_layers(model), strict=True):
        kernel = plan.weight_integers[w_idx].astype(np.int32)
        bias = plan.bias_integers[b_idx].astype(np.int32)
        weights.append((isinstance(layer, Conv), jnp.asarray(kernel), jnp.asarray(bias)))
    pools = [layer.size for layer in model.layers if isinstance(layer, MaxPool)]
    kinds = [type(layer).__name__ for layer in model.layers]

    def forward(x: jax.Array) -> jax.Array:
        table_iter, pool_iter = iter(weights), iter(pools)
        for kind in kinds:
            if kind in ("Dense", "Conv"):
                is_conv, kernel, bias = next(table_iter)
                values = multiples[x]
                if is_conv:
                    acc = jax.lax.conv_general_dilated(
                        values,
                        kernel,
                        (1, 1),
                        "VALID",
                        dimension_numbers=("NHWC", "HWIO", "NHWC"),
                        preferred_element_type=jnp.int32,
                    )
                else:
                    acc = jnp.dot(values, kernel, preferred_element_type=jnp.int32)
                x = acc + bias
            elif kind == "Activation":
                x = jnp.sum(x[..., None] >= boundaries, axis=-1, dtype=jnp.int32)
            elif kind == "MaxPool":
                size = next(pool_iter)
                window = (1, size, size, 1)
                low = jnp.iinfo(jnp.int32).min
                x = jax.lax.reduce_window(x, low, jax.lax.max, window, window, "VALID")
            elif kind == "Flatten":
                x = x.reshape(x.shape[0], -1)
        return x

    compiled = jax.jit(forward)
    table = np.asarray(plan.input_table, dtype=np.int32)
    data = np.asarray(raw)
    if data.size and (data.min() < 0 or data.max() >= raw_levels):
        raise ExportError(f"raw pixels must lie in [0, {raw_levels})")
    h, w = model.config.input_shape
    shape = (h, w, 1) if model.config.arch == "cnn" else (h * w,)
    indices = table[data.reshape((data.shape[0], *shape))]
    parts = [
        np.asarray(compiled(jnp.asarray(indices[i : i + batch_size])))
        for i in range(0, len(indices), batch_size)
    ]
    return np.concatenate(parts)
