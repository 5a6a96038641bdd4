"""Saving and loading trained networks (configuration, parameters, shared weight values)."""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from discrete_nets._activation import ActivationSpec
from discrete_nets._models import ModelConfig, Network, build_model
from fourfold_common.io import atomic_write_bytes

MODEL_FORMAT = "discrete-nets.model/1"


class ModelFileError(ValueError):
    """A model file is missing, unreadable, or not a discrete-nets model."""


def config_from_json(data: dict[str, Any]) -> ModelConfig:
    """Rebuild a :class:`ModelConfig` from its ``dataclasses.asdict`` form.

    Example:
        >>> from dataclasses import asdict
        >>> cfg = ModelConfig("mlp", (8, 8), 10, (16,))
        >>> config_from_json(asdict(cfg)) == cfg
        True
    """
    try:
        fields = dict(data)
        fields["activation"] = ActivationSpec(**fields["activation"])
        for key in ("input_shape", "hidden", "conv_channels"):
            fields[key] = tuple(int(v) for v in fields[key])
        return ModelConfig(**fields)
    except (KeyError, TypeError) as error:
        raise ModelFileError(f"not a model configuration: {error}") from error


def save_model(
    path: str | Path,
    model: Network,
    weight_levels: np.ndarray | None,
    info: dict[str, Any] | None = None,
) -> Path:
    """Write a trained network to one ``.npz`` file atomically and return its path.

    Example:
        >>> import tempfile, pathlib
        >>> net = build_model(ModelConfig("mlp", (8, 8), 10, (16,)))
        >>> path = save_model(pathlib.Path(tempfile.mkdtemp()) / "m.npz", net, None)
        >>> load_model(path)[0].config == net.config
        True
    """
    _, state = nnx.split(model)
    leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(state)]
    header = {
        "format": MODEL_FORMAT,
        "config": asdict(model.config),
        "info": info or {},
    }
    arrays = {f"leaf_{i}": leaf for i, leaf in enumerate(leaves)}
    if weight_levels is not None:
        arrays["weight_levels"] = np.asarray(weight_levels, dtype=np.float64)
    buffer = io.BytesIO()
    header_bytes = json.dumps(header, default=str).encode()
    savez: Any = np.savez
    savez(buffer, header=np.frombuffer(header_bytes, np.uint8), **arrays)
    return atomic_write_bytes(path, buffer.getvalue())


def load_model(path: str | Path) -> tuple[Network, np.ndarray | None, dict[str, Any]]:
    """Load a network written by :func:`save_model`.

    Returns:
        ``(model, weight_levels, info)``.

    Raises:
        ModelFileError: The file is missing, corrupt, or of another format.
    """
    try:
        with np.load(Path(path)) as archive:
            header = json.loads(archive["header"].tobytes().decode())
            if header.get("format") != MODEL_FORMAT:
                raise ModelFileError(f"{path} is not a {MODEL_FORMAT} file")
            config = config_from_json(header["config"])
            model = build_model(config)
            graphdef, state = nnx.split(model)
            leaves, treedef = jax.tree.flatten(state)
            loaded = [archive[f"leaf_{i}"] for i in range(len(leaves))]
            levels = archive.get("weight_levels", None)
    except ModelFileError:
        raise
    except (OSError, ValueError, KeyError, EOFError) as error:
        raise ModelFileError(f"cannot read model file {path}: {error}") from error
    for old, new in zip(leaves, loaded, strict=True):
        if np.shape(old) != new.shape:
            raise ModelFileError(f"{path}: parameter shapes do not match its configuration")
    state = jax.tree.unflatten(treedef, [jnp.asarray(a) for a in loaded])
    return nnx.merge(graphdef, state), levels, dict(header.get("info", {}))
