"""Training loops (classifier and auto-encoder), data-parallel over every JAX device.

The global batch is split over the one-axis ``"data"`` mesh of :mod:`fourfold_common.parallel`
(all local devices; all processes' devices after ``initialize_distributed``, each process
feeding only its rows of every batch); parameters and optimizer state are replicated, so XLA
inserts the gradient all-reduce and the result does not depend on the number of devices or
processes beyond float summation order. The clustering hook
(:class:`~discrete_nets.ClusterSchedule`) runs on the host between steps, identically in every
process. Checkpoints are written atomically after every epoch; training resumes from them.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import Mesh
from tqdm.auto import tqdm

from discrete_nets._activation import input_values
from discrete_nets._data import Split
from discrete_nets._models import ModelConfig, Network, build_model
from discrete_nets._schedule import ClusterSchedule, cluster_arrays
from fourfold_common.io import atomic_write_bytes
from fourfold_common.parallel import (
    ParallelError,
    data_mesh,
    is_main_process,
    replicate,
    shard_batch,
)

# optax ships without a py.typed marker; typed as Any here so mypy passes whether or not the
# repository's mypy.ini lists it under ignore_missing_imports.
optax: Any = importlib.import_module("optax")


class TrainError(ValueError):
    """A training configuration or checkpoint is not usable, or training diverged."""


_DIVERGED = "training diverged (non-finite loss or parameters): lower the learning rate"


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings.

    Attributes:
        epochs: Passes over the training data.
        batch_size: Global batch size; must be a multiple of the number of devices.
        learning_rate: Adam learning rate (cosine-decayed to 5% over training).
        seed: Seed of the initial parameters and of the shuffling.
        progress: Show a tqdm progress bar.

    Example:
        >>> TrainConfig(epochs=2, batch_size=64).learning_rate
        0.002
    """

    epochs: int = 5
    batch_size: int = 128
    learning_rate: float = 2e-3
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or not self.learning_rate > 0:
            raise TrainError("epochs and batch_size must be >= 1 and learning_rate > 0")


@dataclass
class TrainResult:
    """A trained network and how it got there.

    Attributes:
        model: The trained network (parameters snapped to ``weight_levels`` when clustered).
        weight_levels: The ``|W|`` shared weight values of the last clustering, or ``None``.
        losses: Mean training loss of each epoch.
        seconds: Wall time of the training run (this process only, when resumed).
        resumed_from_epoch: Epochs that were loaded from a checkpoint instead of trained.
    """

    model: Network
    weight_levels: np.ndarray | None
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    resumed_from_epoch: int = 0


def _targets(model_config: ModelConfig, data: Split) -> np.ndarray:
    if model_config.is_classifier:
        return data.labels.astype(np.int32)
    spec = model_config.activation
    flat = data.images.reshape(len(data), -1).astype(np.float64)
    return (spec.low + (spec.high - spec.low) * flat).astype(np.float32)


def _loss_fn(graphdef: Any, classifier: bool) -> Callable[..., jax.Array]:
    def loss(params: Any, x: jax.Array, target: jax.Array) -> jax.Array:
        out = nnx.merge(graphdef, params)(x)
        if classifier:
            return optax.softmax_cross_entropy_with_integer_labels(out, target).mean()
        return jnp.mean(jnp.square(out - target))

    return loss


def _fingerprint(*configs: Any) -> str:
    text = json.dumps([asdict(c) for c in configs], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _save_checkpoint(
    path: Path, fingerprint: str, epoch: int, state: Any, levels: np.ndarray | None, losses: list
) -> None:
    leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(state)]
    buffer = io.BytesIO()
    arrays = {f"leaf_{i}": leaf for i, leaf in enumerate(leaves)}
    meta = json.dumps({"fingerprint": fingerprint, "epoch": epoch, "losses": losses})
    extra = {} if levels is None else {"levels": levels}
    savez: Any = np.savez
    savez(buffer, meta=np.frombuffer(meta.encode(), np.uint8), **arrays, **extra)
    atomic_write_bytes(path, buffer.getvalue())


def _load_checkpoint(
    path: Path, fingerprint: str, state: Any
) -> tuple[int, Any, np.ndarray | None, list[float]] | None:
    if not path.exists():
        return None
    try:
        with np.load(path) as archive:
            meta = json.loads(archive["meta"].tobytes().decode())
            leaves, treedef = jax.tree.flatten(state)
            loaded = [archive[f"leaf_{i}"] for i in range(len(leaves))]
            levels = archive.get("levels", None)
    except (OSError, ValueError, KeyError) as error:
        raise TrainError(f"checkpoint {path} is unreadable: {error}") from error
    if meta.get("fingerprint") != fingerprint:
        raise TrainError(
            f"checkpoint {path} belongs to another configuration; delete it or use another path"
        )
    restored = jax.tree.unflatten(treedef, [jnp.asarray(a) for a in loaded])
    return int(meta["epoch"]), restored, levels, list(meta["losses"])


def train(
    model_config: ModelConfig,
    data: Split,
    config: TrainConfig | None = None,
    schedule: ClusterSchedule | None = None,
    checkpoint: str | Path | None = None,
    mesh: Mesh | None = None,
) -> TrainResult:
    """Train a classifier (cross-entropy) or auto-encoder (MSE) with Adam.

    Activations are discretized on every forward pass (per ``model_config.activation``);
    weights are clustered by ``schedule`` and the run ends on a clustering step.

    Args:
        model_config: The architecture and activation spec.
        data: Training images in ``[0, 1]`` and labels (labels unused by the auto-encoder).
        config: Optimisation settings (default :class:`TrainConfig`).
        schedule: Weight clustering schedule (``num_levels=None`` = float weights; default
            :class:`ClusterSchedule`).
        checkpoint: Optional file for per-epoch checkpoints; an existing one of the same
            configuration is resumed, one of another configuration is an error.
        mesh: Device mesh with a ``"data"`` axis (default:
            :func:`fourfold_common.parallel.data_mesh`, every device of every process). In a
            multi-process run every process calls ``train`` with the same arguments and data.

    Returns:
        The trained network (its arrays on this process's default device, identical in every
        process), the shared weight values and the loss history.

    Raises:
        TrainError: The batch size does not split over the devices, the data is smaller than
            one batch, the checkpoint is unusable, or training diverged.

    Example:
        >>> from discrete_nets import ActivationSpec, ModelConfig, load_data
        >>> train_split, _ = load_data("digits")
        >>> cfg = ModelConfig("mlp", (8, 8), 10, (16,), activation=ActivationSpec("tanh", 8))
        >>> result = train(cfg, train_split.head(256), TrainConfig(1, 64, progress=False),
        ...                ClusterSchedule(num_levels=4, every=2))
        >>> len(result.weight_levels), len(result.losses)
        (4, 1)
    """
    config = TrainConfig() if config is None else config
    schedule = ClusterSchedule() if schedule is None else schedule
    mesh = data_mesh() if mesh is None else mesh
    devices = int(mesh.devices.size)
    if config.batch_size % devices:
        raise TrainError(f"batch_size {config.batch_size} is not a multiple of {devices} devices")
    steps_per_epoch = len(data) // config.batch_size
    if steps_per_epoch < 1:
        raise TrainError(f"{len(data)} examples are fewer than one batch of {config.batch_size}")
    total = steps_per_epoch * config.epochs

    model = build_model(model_config, config.seed)
    graphdef, params = nnx.split(model)
    schedule_fn = optax.cosine_decay_schedule(config.learning_rate, total, alpha=0.05)
    tx = optax.adam(schedule_fn)
    opt_state = tx.init(params)
    levels: np.ndarray | None = None
    losses: list[float] = []
    start_epoch = 0
    fingerprint = _fingerprint(model_config, config, schedule)
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None:
        loaded = _load_checkpoint(path, fingerprint, (params, opt_state))
        if loaded is not None:
            start_epoch, (params, opt_state), levels, losses = loaded
    params, opt_state = replicate((params, opt_state), mesh)

    loss_fn = _loss_fn(graphdef, model_config.is_classifier)

    @jax.jit
    def step(params: Any, opt_state: Any, x: jax.Array, target: jax.Array) -> tuple:
        loss, grads = jax.value_and_grad(loss_fn)(params, x, target)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    inputs = input_values(data.images, model_config.activation)
    targets = _targets(model_config, data)
    began = time.perf_counter()
    bar = tqdm(
        total=total,
        initial=start_epoch * steps_per_epoch,
        disable=not (config.progress and is_main_process()),
        desc=f"train {model_config.arch}",
        unit="step",
    )
    with bar:
        for epoch in range(start_epoch, config.epochs):
            order = np.random.default_rng([config.seed, epoch]).permutation(len(data))
            epoch_loss = jnp.zeros((), jnp.float32)
            for position in range(steps_per_epoch):
                batch = order[position * config.batch_size : (position + 1) * config.batch_size]
                try:
                    x, t = shard_batch(inputs[batch], mesh), shard_batch(targets[batch], mesh)
                except ParallelError as error:
                    raise TrainError(str(error)) from error
                params, opt_state, loss = step(params, opt_state, x, t)
                epoch_loss = epoch_loss + loss
                global_step = epoch * steps_per_epoch + position
                if schedule.is_cluster_step(global_step, total):
                    params, levels = _cluster(params, schedule, (global_step + 1) / total)
                    params = replicate(params, mesh)
                bar.update(1)
            losses.append(float(epoch_loss) / steps_per_epoch)
            if not np.isfinite(losses[-1]):
                raise TrainError(_DIVERGED)
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            if path is not None:
                _save_checkpoint(path, fingerprint, epoch + 1, (params, opt_state), levels, losses)
    seconds = time.perf_counter() - began
    # replicated global arrays -> this process's own copy, so evaluation and export that
    # follow are ordinary single-process JAX / numpy work
    local = jax.tree.map(lambda leaf: jnp.asarray(np.asarray(leaf)), params)
    return TrainResult(nnx.merge(graphdef, local), levels, losses, seconds, start_epoch)


def _cluster(params: Any, schedule: ClusterSchedule, progress: float) -> tuple[Any, np.ndarray]:
    leaves, treedef = jax.tree.flatten(params)
    arrays = [np.asarray(leaf) for leaf in leaves]
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise TrainError(_DIVERGED)
    levels, indices = cluster_arrays(arrays, schedule, progress)
    snapped = [levels[idx].astype(np.float32) for idx in indices]
    return jax.tree.unflatten(treedef, snapped), levels


def predict(model: Network, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Run the simulated (float) discretized forward pass on images in ``[0, 1]``.

    Returns:
        Logits ``(n, classes)`` for a classifier, outputs ``(n, h*w)`` in the activation
        range for an auto-encoder (``float32``).

    Example:
        >>> import numpy as np
        >>> from discrete_nets import ModelConfig, build_model
        >>> predict(build_model(ModelConfig("mlp", (8, 8), 10, (16,))), np.zeros((3, 8, 8))).shape
        (3, 10)
    """
    graphdef, params = nnx.split(model)
    forward = jax.jit(lambda p, x: nnx.merge(graphdef, p)(x))
    inputs = input_values(np.asarray(images), model.config.activation)
    outputs = [
        np.asarray(forward(params, inputs[i : i + batch_size]))
        for i in range(0, len(inputs), batch_size)
    ]
    return np.concatenate(outputs) if outputs else np.zeros((0,), np.float32)


def evaluate(model: Network, data: Split, batch_size: int = 1000) -> dict[str, float]:
    """Accuracy (classifier) or reconstruction MSE in pixel units (auto-encoder).

    Example:
        >>> import numpy as np
        >>> from discrete_nets import ModelConfig, Split, build_model
        >>> net = build_model(ModelConfig("autoencoder", (8, 8), 10, (8,)))
        >>> sorted(evaluate(net, Split(np.zeros((4, 8, 8), np.float32), np.zeros(4, int))))
        ['mse']
    """
    outputs = predict(model, data.images, batch_size)
    config = model.config
    if config.is_classifier:
        return {"accuracy": float(np.mean(outputs.argmax(axis=1) == data.labels))}
    spec = config.activation
    recon = (outputs.astype(np.float64) - spec.low) / (spec.high - spec.low)
    target = data.images.reshape(len(data), -1).astype(np.float64)
    return {"mse": float(np.mean(np.square(recon - target)))}
