"""Saving and loading models (float or twin) as one ``.npz`` file with a JSON description."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from fourfold_common.io import atomic_write_bytes
from mulfree_quant._config import QuantConfig
from mulfree_quant._errors import MulfreeError
from mulfree_quant._float_net import FloatNet
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
from mulfree_quant._table_net import TableNet

MODEL_FORMAT = "mulfree-quant.model/1"
_LAYERS: dict[str, type[Any]] = {
    cls.__name__: cls for cls in (Conv, Dense, MaxPool, GlobalAvgPool, Flatten, Residual)
}


def spec_to_json(spec: ModelSpec) -> dict[str, Any]:
    """JSON-ready description of a :class:`ModelSpec`."""

    def layer(item: LayerSpec) -> dict[str, Any]:
        record: dict[str, Any] = {"type": type(item).__name__}
        for field in dataclasses.fields(item):
            value = getattr(item, field.name)
            record[field.name] = [layer(sub) for sub in value] if field.name == "body" else value
        return record

    return {
        "name": spec.name,
        "input_shape": list(spec.input_shape),
        "layers": [layer(item) for item in spec.layers],
    }


def spec_from_json(data: dict[str, Any]) -> ModelSpec:
    """Inverse of :func:`spec_to_json`; raises :class:`MulfreeError` on malformed input."""

    def layer(record: dict[str, Any]) -> LayerSpec:
        values = dict(record)
        kind = values.pop("type", None)
        if kind not in _LAYERS:
            raise MulfreeError(f"unknown layer type {kind!r}")
        if "body" in values:
            values["body"] = tuple(layer(sub) for sub in values["body"])
        return _LAYERS[kind](**values)

    try:
        return ModelSpec(
            str(data["name"]),
            tuple(int(v) for v in data["input_shape"]),  # type: ignore[arg-type]
            tuple(layer(item) for item in data["layers"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise MulfreeError(f"malformed model description: {error}") from error


def save_model(model: FloatNet | TableNet, path: str | Path, **extra: Any) -> Path:
    """Save ``model`` (definition, quantization config, all state) to one ``.npz`` file.

    Args:
        model: A :class:`FloatNet` or :class:`TableNet`.
        path: Destination (written atomically).
        **extra: JSON-serializable notes stored with the model (e.g. the dataset name).
    """
    meta: dict[str, Any] = {
        "format": MODEL_FORMAT,
        "kind": "table" if isinstance(model, TableNet) else "float",
        "spec": spec_to_json(model.spec),
        "extra": extra,
    }
    if isinstance(model, TableNet):
        meta["quant_config"] = dataclasses.asdict(model.config)
    leaves = jax.tree.leaves(nnx.state(model))
    arrays = {f"leaf_{i}": np.asarray(leaf) for i, leaf in enumerate(leaves)}
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    savez: Any = np.savez
    savez(buffer, **arrays)
    return atomic_write_bytes(path, buffer.getvalue())


def load_model(path: str | Path) -> tuple[FloatNet | TableNet, dict[str, Any]]:
    """Load a model saved by :func:`save_model`; returns ``(model, extra)``.

    Raises:
        MulfreeError: Missing, unreadable or inconsistent file.
    """
    try:
        with np.load(Path(path)) as data:
            meta = json.loads(bytes(data["__meta__"]).decode())
            stored = {name: data[name] for name in data.files if name != "__meta__"}
    except (OSError, KeyError, ValueError) as error:
        raise MulfreeError(f"cannot read model {path}: {error}") from error
    if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
        raise MulfreeError(f"{path} is not a {MODEL_FORMAT} file")
    spec = spec_from_json(meta["spec"])
    model: FloatNet | TableNet
    if meta["kind"] == "table":
        try:
            config = QuantConfig(**meta["quant_config"])
        except TypeError as error:
            raise MulfreeError(f"bad quantization config in {path}: {error}") from error
        model = TableNet(spec, config, seed=0)
    else:
        model = FloatNet(spec, seed=0)
    state = nnx.state(model)
    leaves, treedef = jax.tree.flatten(state)
    if len(stored) != len(leaves):
        raise MulfreeError(f"{path} holds {len(stored)} arrays, the model needs {len(leaves)}")
    restored = []
    for i, leaf in enumerate(leaves):
        array = stored[f"leaf_{i}"]
        if array.shape != np.shape(leaf):
            raise MulfreeError(
                f"{path}: array {i} has shape {array.shape}, expected {np.shape(leaf)}"
            )
        restored.append(jnp.asarray(array, dtype=jnp.asarray(leaf).dtype))
    nnx.update(model, jax.tree.unflatten(treedef, restored))
    model.eval()
    return model, dict(meta.get("extra", {}))
