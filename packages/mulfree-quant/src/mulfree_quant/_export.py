"""Export of a trained table-based twin to the shared integer network (tables + indices)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from fourfold_common import engine
from fourfold_common.levels import nearest_index, thresholds
from mulfree_quant._errors import MulfreeError
from mulfree_quant._quantizers import quantize_index
from mulfree_quant._spec import GlobalAvgPool, MaxPool, _shape_after
from mulfree_quant._table_net import QConv, QDense, QPool, QResidual, TableNet

EXACT_LIMIT = 2**24
"""Accumulators stay below this so that the float32 JAX simulation is bit-exact."""


def _boundaries(cuts: np.ndarray, scale: float, activation: str) -> np.ndarray:
    """Integer accumulator cut points: index ``k`` for ``acc >= boundaries[k - 1]``.

    A real pre-activation ``z = acc / scale`` gets index ``#{k : z >= cuts[k]}`` (ties go up, as
    in :func:`~mulfree_quant.quantize_index`), i.e. ``acc >= ceil(cuts[k] · scale)``. Above 0
    ReLU is the identity; a cut point at or below 0 admits every ReLU output, so its boundary is
    put below any reachable accumulator (all accumulators stay within ``±2^24``).
    """
    limit = float(EXACT_LIMIT + 1)
    scaled = np.clip(np.ceil(np.asarray(cuts, np.float64) * scale), -limit, limit)
    if activation == "relu":
        scaled = np.where(np.asarray(cuts) <= 0, -limit, scaled)
    return scaled.astype(np.int32)


@dataclass
class _State:
    buffer: str
    levels: np.ndarray
    shape: tuple[int, ...]


class _Builder:
    def __init__(self, model: TableNet) -> None:
        self.model = model
        self.config = model.config
        self.ops: list[engine.Op] = []
        self.tables: dict[str, np.ndarray] = {}
        self.layers: list[dict[str, object]] = []
        self.count = 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def activation_op(
        self,
        source: str,
        activation: str,
        out_levels: np.ndarray,
        scale: float,
    ) -> str:
        output = self.name("x")
        cuts = thresholds(out_levels)
        if self.config.activation_mapping == "threshold":
            self.ops.append(
                engine.ThresholdActivation(source, output, _boundaries(cuts, scale, activation))
            )
            return output

        def index_of(z: np.ndarray) -> np.ndarray:
            value = np.maximum(z, 0.0) if activation == "relu" else z
            return nearest_index(value, out_levels)

        if cuts.size:
            low = math.floor(float(cuts.min()) * scale) - 1
            high = math.ceil(float(cuts.max()) * scale) + 1
        else:
            low = high = 0
        op = engine.make_shift_activation(
            source,
            output,
            index_of,
            (low, high),
            scale,
            out_levels.size,
            max_entries=self.config.activation_table_entries,
        )
        self.ops.append(op)
        return output

    def table_layer(self, layer: QConv | QDense, state: _State) -> tuple[str, int, float]:
        a = state.levels
        w_levels = np.asarray(layer.weight_levels[...], np.float64)
        kernel = np.asarray(layer.kernel[...], np.float64)
        bias = np.asarray(layer.bias[...], np.float64)
        w_index = nearest_index(kernel, w_levels).astype(engine.index_dtype(w_levels.size))
        fan_in = int(np.prod(kernel.shape[:-1]))
        max_product = float(np.max(np.abs(a)) * np.max(np.abs(w_levels)))
        bias_abs = float(np.max(np.abs(bias))) if bias.size else 0.0
        shift = engine.choose_shift(max_product, fan_in, bias_abs=bias_abs, limit=EXACT_LIMIT)
        table_name = self.name("T")
        self.tables[table_name] = engine.product_table(a, w_levels, shift)
        bias_int = np.round(bias * 2.0**shift).astype(np.int32)
        acc = self.name("acc")
        if isinstance(layer, QConv):
            padding = layer.padding
            pad_index = 0
            if any(padding):
                zeros = np.flatnonzero(a == 0.0)
                if zeros.size != 1:
                    raise MulfreeError(f"layer {layer.key}: padded conv input has no level 0")
                pad_index = int(zeros[0])
            self.ops.append(
                engine.Conv(
                    state.buffer,
                    acc,
                    table_name,
                    w_index,
                    (layer.spec.stride, layer.spec.stride),
                    padding,
                    layer.spec.groups,
                    pad_index,
                    bias=bias_int,
                )
            )
        else:
            self.ops.append(engine.Dense(state.buffer, acc, table_name, w_index, bias=bias_int))
        self.layers.append(
            {
                "key": layer.key,
                "table": table_name,
                "shift": shift,
                "activation_levels": a.tolist(),
                "weight_levels": w_levels.tolist(),
            }
        )
        return acc, shift, 2.0**shift

    def layer(self, layer: object, state: _State) -> _State:
        if isinstance(layer, (QConv, QDense)):
            acc, _, scale = self.table_layer(layer, state)
            shape = _shape_after(layer.spec, state.shape, layer.key)
            if isinstance(layer, QDense) and layer.final:
                return _State(acc, np.zeros(0), shape)
            out_levels = np.asarray(layer.output_levels[...], np.float64)
            buffer = self.activation_op(acc, layer.spec.activation, out_levels, scale)
            return _State(buffer, out_levels, shape)
        if isinstance(layer, QResidual):
            inner = state
            for sub in layer.body:
                inner = self.layer(sub, inner)
            out_levels = np.asarray(layer.output_levels[...], np.float64)
            total = inner.levels[:, None] + state.levels[None, :]
            if layer.spec.activation == "relu":
                total = np.maximum(total, 0.0)
            table = nearest_index(total, out_levels).astype(np.int32)
            output = self.name("x")
            self.ops.append(engine.Add(inner.buffer, state.buffer, output, table, out_levels.size))
            return _State(output, out_levels, state.shape)
        assert isinstance(layer, QPool)
        spec = layer.spec
        shape = _shape_after(spec, state.shape, layer.key)
        if isinstance(spec, MaxPool):
            output = self.name("x")
            stride = spec.stride or spec.window
            self.ops.append(
                engine.MaxPool(state.buffer, output, (spec.window, spec.window), (stride, stride))
            )
            return _State(output, state.levels, shape)
        if isinstance(spec, GlobalAvgPool):
            height, width, _ = state.shape
            count = height * width
            shift = engine.choose_shift(
                float(np.max(np.abs(state.levels))), count, limit=EXACT_LIMIT
            )
            values = np.round(state.levels * 2.0**shift).astype(np.int32)
            value_buffer, sum_buffer = self.name("v"), self.name("s")
            self.ops.append(engine.Lookup(state.buffer, value_buffer, values, "value"))
            self.ops.append(
                engine.SumPool(value_buffer, sum_buffer, (height, width), (height, width))
            )
            out_levels = np.asarray(layer.output_levels[...], np.float64)
            pooled = self.activation_op(sum_buffer, "none", out_levels, 2.0**shift * count)
            output = self.name("x")
            self.ops.append(engine.Flatten(pooled, output))
            return _State(output, out_levels, shape)
        output = self.name("x")
        self.ops.append(engine.Flatten(state.buffer, output))
        return _State(output, state.levels, shape)


def export(model: TableNet, *, raw_max: int = 255) -> engine.IntegerNetwork:
    """The integer network of a (finalized) twin: per-layer tables, indices, activation tables.

    Each table layer gets ``T[i, j] = round(a_i · w_j · 2^s)`` with ``s`` from
    :func:`fourfold_common.engine.choose_shift` keeping every accumulator below ``2^24`` (so
    int32 cannot overflow and the float32 simulation is exact); its bias is ``round(b · 2^s)``.
    Activations map the accumulator to the next index by comparisons with the ``Na - 1``
    integer cut points (``config.activation_mapping="threshold"``, the default: the export then
    agrees with the quantized forward pass up to table rounding), or by an arithmetic shift and
    a table of at most ``config.activation_table_entries`` entries (``"shift"``; the paper's
    ``δ`` is absorbed into that table). Raw integer inputs ``0..raw_max`` are mapped to input
    indices by a lookup.

    Args:
        model: A calibrated (ideally finalized) :class:`TableNet`.
        raw_max: Largest raw input value (255 for 8-bit images, 16 for scikit-learn digits).

    Returns:
        The :class:`fourfold_common.engine.IntegerNetwork`; its ``output`` holds the logits'
        integer accumulators.

    Raises:
        MulfreeError: A padded conv whose input levels lack an exact ``0``.
    """
    if raw_max < 1:
        raise MulfreeError(f"raw_max must be >= 1, got {raw_max}")
    builder = _Builder(model)
    input_levels = np.asarray(model.input_levels[...], np.float64)
    # Same float32 arithmetic as Split.images and the JAX quantizer, so ties agree exactly.
    raw_values = np.arange(raw_max + 1).astype(np.float32) / np.float32(raw_max)
    lut = np.asarray(
        quantize_index(jnp.asarray(raw_values), jnp.asarray(model.input_levels[...]))
    ).astype(np.int32)
    builder.ops.append(engine.Lookup("input", "x0", lut, "index", input_levels.size))
    state = _State("x0", input_levels, tuple(model.spec.input_shape))
    for layer in model.layers:
        state = builder.layer(layer, state)
    metadata = {
        "package": "mulfree-quant",
        "model": model.spec.name,
        "raw_max": raw_max,
        "quant_config": dataclasses.asdict(model.config),
        "input_levels": input_levels.tolist(),
        "layers": builder.layers,
    }
    network = engine.IntegerNetwork(
        ops=tuple(builder.ops),
        tables=builder.tables,
        input_shape=tuple(model.spec.input_shape),
        input_levels=raw_max + 1,
        output=state.buffer,
        metadata=metadata,
    )
    engine.infer_buffers(network)
    return network


def export_artifact(model: TableNet, path: str | Path, *, raw_max: int = 255) -> Path:
    """:func:`export` and save as one artifact file (atomic); returns the path."""
    return engine.save(export(model, raw_max=raw_max), path)
