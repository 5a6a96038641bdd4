"""Training loops (optax): float pre-training and quantization-aware training (QAT)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

from fourfold_common.io import atomic_open
from mulfree_quant._calibrate import calibrate, calibrate_activations, finalize, recluster_weights
from mulfree_quant._config import TrainConfig
from mulfree_quant._data import Split
from mulfree_quant._errors import MulfreeError
from mulfree_quant._float_net import FloatNet
from mulfree_quant._parallel import data_mesh, replicate, shard_batch
from mulfree_quant._table_net import TableNet


@dataclass
class TrainResult:
    """What a training run did.

    Attributes:
        steps: Optimizer steps taken (in this call, after any resume).
        losses: Mean training loss of each epoch.
        reclusterings: Number of re-clustering steps (QAT only).
        resumed_from_epoch: Epoch the run resumed from (0 for a fresh run).
    """

    steps: int = 0
    losses: list[float] = field(default_factory=list)
    reclusterings: int = 0
    resumed_from_epoch: int = 0


def _save_checkpoint(path: Path, trees: tuple[Any, ...], epoch: int) -> None:
    leaves = jax.tree.leaves(trees)
    arrays = {f"leaf_{i}": np.asarray(leaf) for i, leaf in enumerate(leaves)}
    arrays["epoch"] = np.asarray(epoch)
    savez: Any = np.savez
    with atomic_open(path, "wb") as handle:
        savez(handle, **arrays)


def _load_checkpoint(path: Path, trees: tuple[Any, ...]) -> tuple[tuple[Any, ...], int]:
    leaves, treedef = jax.tree.flatten(trees)
    try:
        with np.load(path) as data:
            stored = [data[f"leaf_{i}"] for i in range(len(leaves))]
            epoch = int(data["epoch"])
            extra = len(data.files) - 1 - len(leaves)
    except (OSError, KeyError, ValueError) as error:
        raise MulfreeError(f"cannot resume from {path}: {error}") from error
    if extra or any(np.shape(a) != np.shape(b) for a, b in zip(stored, leaves, strict=True)):
        raise MulfreeError(f"checkpoint {path} does not match this model")
    restored = [
        jnp.asarray(a, dtype=jnp.asarray(b).dtype) for a, b in zip(stored, leaves, strict=True)
    ]
    return jax.tree.unflatten(treedef, restored), epoch


def fit(
    model: FloatNet | TableNet,
    train: Split,
    config: TrainConfig,
    *,
    calibration: Split | None = None,
    checkpoint: str | Path | None = None,
    devices: list[Any] | None = None,
) -> TrainResult:
    """Train ``model`` in place with AdamW (cosine schedule), data-parallel over ``devices``.

    For a :class:`TableNet` this is quantization-aware training: the forward pass is quantized
    (straight-through gradients), weight and activation levels are re-placed every
    ``model.config.recluster_every`` steps on the latent weights and on ``calibration`` images,
    and training ends on a quantization step (:func:`~mulfree_quant.finalize`: re-cluster,
    snap weights to their levels, recalibrate activations).

    Args:
        model: A :class:`FloatNet` or a :class:`TableNet` (calibrated or not).
        train: Training split.
        config: Epochs, batch size, learning rate, seed.
        calibration: Images for activation calibration (default: the first training images).
        checkpoint: If given, state is saved there after every epoch and a run started with an
            existing checkpoint resumes after its last completed epoch.
        devices: Devices of the data-parallel mesh (default: all local devices).

    Returns:
        A :class:`TrainResult`.

    Raises:
        MulfreeError: Batch size not divisible by the device count, too few samples for one
            batch, or a checkpoint that does not match the model.
    """
    mesh = data_mesh(devices)
    if config.batch_size % mesh.size:
        raise MulfreeError(
            f"batch_size {config.batch_size} is not a multiple of the {mesh.size} devices"
        )
    steps_per_epoch = len(train) // config.batch_size
    if steps_per_epoch == 0:
        raise MulfreeError(f"need at least {config.batch_size} training samples")
    total = steps_per_epoch * config.epochs
    if config.max_steps:
        total = min(total, config.max_steps)
    twin = model if isinstance(model, TableNet) else None
    calibration_images = (calibration or train).images
    if twin is not None:
        calibrate(twin, calibration_images)
    model.train()
    schedule = optax.cosine_decay_schedule(config.learning_rate, max(total, 1))
    optimizer = optax.adamw(schedule, weight_decay=config.weight_decay)
    graphdef, params, rest = cast(tuple[Any, Any, Any], nnx.split(model, nnx.Param, ...))
    opt_state = optimizer.init(params)

    def loss_fn(params: Any, rest: Any, x: jax.Array, y: jax.Array) -> tuple[jax.Array, Any]:
        net = nnx.merge(graphdef, params, rest, copy=True)
        logits = net(x)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, nnx.state(net, nnx.Not(nnx.Param))

    @jax.jit
    def step(params: Any, rest: Any, opt_state: Any, x: jax.Array, y: jax.Array) -> Any:
        (loss, new_rest), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, rest, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), new_rest, opt_state, loss

    result = TrainResult()
    start_epoch = 0
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.exists():
        (params, rest, opt_state), start_epoch = _load_checkpoint(path, (params, rest, opt_state))
        result.resumed_from_epoch = start_epoch
    params, rest, opt_state = replicate((params, rest, opt_state), mesh)
    done = start_epoch * steps_per_epoch
    bar = tqdm(total=total, initial=min(done, total), disable=not config.progress, desc="train")
    for epoch in range(start_epoch, config.epochs):
        if done >= total:
            break
        order = np.random.default_rng(config.seed + epoch).permutation(len(train))
        losses = []
        for batch in range(steps_per_epoch):
            if done >= total:
                break
            index = np.sort(order[batch * config.batch_size : (batch + 1) * config.batch_size])
            x = shard_batch(train.images[index], mesh)
            y = shard_batch(train.labels[index].astype(np.int32), mesh)
            params, rest, opt_state, loss = step(params, rest, opt_state, x, y)
            losses.append(loss)
            done += 1
            result.steps += 1
            if twin is not None and done % twin.config.recluster_every == 0 and done < total:
                nnx.update(twin, params, rest)
                twin.eval()
                recluster_weights(twin)
                calibrate_activations(twin, calibration_images, passes=1)
                twin.train()
                _, params, rest = cast(tuple[Any, Any, Any], nnx.split(twin, nnx.Param, ...))
                params, rest = replicate((params, rest), mesh)
                result.reclusterings += 1
            bar.update(1)
            if done % 20 == 0:
                bar.set_postfix(loss=f"{float(loss):.4f}", epoch=epoch)
        result.losses.append(float(jnp.mean(jnp.stack(losses))) if losses else float("nan"))
        if path is not None:
            _save_checkpoint(path, (params, rest, opt_state), epoch + 1)
    bar.close()
    nnx.update(model, params, rest)
    model.eval()
    if twin is not None:
        finalize(twin, calibration_images)
        result.reclusterings += 1
    return result


@functools.lru_cache(maxsize=16)
def _forward(graphdef: Any) -> Any:
    def forward(state: Any, x: jax.Array) -> jax.Array:
        return nnx.merge(graphdef, state)(x)

    return jax.jit(forward)


def predict_logits(
    model: FloatNet | TableNet, images: np.ndarray, *, batch_size: int = 500
) -> np.ndarray:
    """Logits of the JAX model (float, or fake-quantized for a twin) in eval mode."""
    model.eval()
    graphdef, state = nnx.split(model)
    forward = _forward(graphdef)

    outputs = []
    for start in range(0, images.shape[0], batch_size):
        chunk = images[start : start + batch_size]
        pad = batch_size - chunk.shape[0] if images.shape[0] > batch_size else 0
        if pad:
            chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)])
        logits = np.asarray(forward(state, jnp.asarray(chunk)))
        outputs.append(logits[: logits.shape[0] - pad] if pad else logits)
    return np.concatenate(outputs)
