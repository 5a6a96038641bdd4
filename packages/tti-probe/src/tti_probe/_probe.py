"""Train-on-one-set, test-on-another classifiers (linear probe, small MLP) in Flax NNX + optax."""

from __future__ import annotations

import dataclasses
import functools
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from tti_probe._analysis_inputs import ProbeInputError, as_embeddings, as_labels


@dataclasses.dataclass(frozen=True)
class ProbeConfig:
    """How a probe classifier is trained.

    Attributes:
        kind: ``"linear"`` (softmax regression) or ``"mlp"`` (one hidden ReLU layer).
        hidden: Width of the MLP's hidden layer.
        epochs: Passes over the training set (raised so that at least ``min_steps``
            optimiser steps are taken on small sets).
        min_steps: Smallest number of optimiser steps.
        batch_size: Minibatch size.
        learning_rate: Peak AdamW learning rate (cosine decay).
        weight_decay: AdamW weight decay.
        seed: Seed of the initialisation and the shuffling.
    """

    kind: Literal["linear", "mlp"] = "linear"
    hidden: int = 256
    epochs: int = 10
    min_steps: int = 300
    batch_size: int = 256
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("linear", "mlp"):
            raise ProbeInputError(f"ProbeConfig.kind must be 'linear' or 'mlp', got {self.kind!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.hidden < 1 or self.learning_rate <= 0:
            raise ProbeInputError("ProbeConfig: epochs, batch_size, hidden, learning_rate > 0")


class LinearProbe(nnx.Module):
    """Softmax regression on standardised embeddings."""

    def __init__(self, dim: int, num_classes: int, *, rngs: nnx.Rngs) -> None:
        self.out = nnx.Linear(dim, num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Class logits."""
        return self.out(x)


class MLPProbe(nnx.Module):
    """One hidden ReLU layer on standardised embeddings."""

    def __init__(self, dim: int, hidden: int, num_classes: int, *, rngs: nnx.Rngs) -> None:
        self.hidden = nnx.Linear(dim, hidden, rngs=rngs)
        self.out = nnx.Linear(hidden, num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Class logits."""
        return self.out(jax.nn.relu(self.hidden(x)))


@dataclasses.dataclass(frozen=True)
class TrainedProbe:
    """A trained probe: the model and the standardisation fitted on its training set.

    Attributes:
        model: The Flax NNX module.
        mean: Feature means of the training set.
        scale: Feature standard deviations of the training set (floored).
        num_classes: Number of classes.
    """

    model: nnx.Module
    mean: np.ndarray
    scale: np.ndarray
    num_classes: int

    def predict(self, x: object) -> np.ndarray:
        """Predicted class of each embedding."""
        array = as_embeddings(x, "embeddings")
        z = jnp.asarray((array - self.mean) / self.scale)
        graphdef, state = nnx.split(self.model)
        return np.asarray(_predict(graphdef, state, z))


@functools.partial(jax.jit, static_argnums=0)
def _predict(graphdef: nnx.GraphDef[nnx.Module], state: nnx.State, z: jax.Array) -> jax.Array:
    model = nnx.merge(graphdef, state)
    return jnp.argmax(model(z), axis=1)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _train_epochs(
    graphdef: nnx.GraphDef[nnx.Module],
    tx: optax.GradientTransformation,
    state: nnx.State,
    opt_state: optax.OptState,
    z: jax.Array,
    labels: jax.Array,
    batches: jax.Array,
    batches_w: jax.Array,
) -> tuple[nnx.State, optax.OptState, jax.Array]:
    def loss_fn(params: nnx.State, x: jax.Array, y: jax.Array, w: jax.Array) -> jax.Array:
        model = nnx.merge(graphdef, params)
        logits = model(x)
        losses = optax.softmax_cross_entropy_with_integer_labels(logits, y)
        return jnp.sum(losses * w) / jnp.maximum(jnp.sum(w), 1.0)

    def step(
        carry: tuple[nnx.State, optax.OptState], batch: tuple[jax.Array, jax.Array]
    ) -> tuple[tuple[nnx.State, optax.OptState], jax.Array]:
        params, opt = carry
        index, w = batch
        loss, grads = jax.value_and_grad(loss_fn)(params, z[index], labels[index], w)
        updates, opt = tx.update(grads, opt, params)
        return (optax.apply_updates(params, updates), opt), loss

    (state, opt_state), losses = jax.lax.scan(step, (state, opt_state), (batches, batches_w))
    return state, opt_state, losses


@functools.lru_cache(maxsize=64)
def _optimizer(
    learning_rate: float, weight_decay: float, steps: int
) -> optax.GradientTransformation:
    # Cached so that equal settings give the same (hashable) object: no recompilation.
    return optax.adamw(optax.cosine_decay_schedule(learning_rate, steps), weight_decay=weight_decay)


def train_probe(
    x: object, y: object, num_classes: int, config: ProbeConfig | None = None
) -> TrainedProbe:
    """Train a linear or MLP probe on embeddings ``x`` with labels ``y``.

    Features are standardised with the training set's statistics; training is AdamW with
    cosine decay on shuffled minibatches (the last partial batch is padded and masked), all
    epochs in one jitted ``lax.scan``.

    Args:
        x: Training embeddings, shape (n, d).
        y: Their classes, shape (n,).
        num_classes: Number of classes.
        config: Training settings.

    Returns:
        The trained probe.

    Raises:
        ProbeInputError: Bad shapes or labels.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = np.concatenate([rng.normal(size=(50, 4)) + 3, rng.normal(size=(50, 4)) - 3])
        >>> y = np.repeat([0, 1], 50)
        >>> probe = train_probe(x, y, 2, ProbeConfig(epochs=30))
        >>> float(np.mean(probe.predict(x) == y))
        1.0
    """
    config = config or ProbeConfig()
    array = as_embeddings(x, "train embeddings")
    labels = as_labels(y, array.shape[0], num_classes, "train labels")
    mean = array.mean(axis=0)
    scale = np.maximum(array.std(axis=0), 1e-6).astype(np.float32)
    z = ((array - mean) / scale).astype(np.float32)
    n, d = z.shape
    rngs = nnx.Rngs(config.seed)
    model: nnx.Module
    if config.kind == "linear":
        model = LinearProbe(d, num_classes, rngs=rngs)
    else:
        model = MLPProbe(d, config.hidden, num_classes, rngs=rngs)
    batch = min(config.batch_size, n)
    per_epoch = -(-n // batch)
    epochs = max(config.epochs, -(-config.min_steps // per_epoch))
    steps = per_epoch * epochs
    tx = _optimizer(config.learning_rate, config.weight_decay, steps)
    graphdef, state = nnx.split(model)
    opt_state = tx.init(state)
    rng = np.random.default_rng(config.seed)
    order = np.concatenate([rng.permutation(n) for _ in range(epochs)])
    padded = np.zeros(epochs * per_epoch * batch, np.int64)
    weights = np.zeros(padded.shape[0], np.float32)
    for e in range(epochs):
        start = e * per_epoch * batch
        padded[start : start + n] = order[e * n : (e + 1) * n]
        weights[start : start + n] = 1.0
    state, _, _ = _train_epochs(
        graphdef,
        tx,
        state,
        opt_state,
        jnp.asarray(z),
        jnp.asarray(labels.astype(np.int32)),
        jnp.asarray(padded.reshape(steps, batch).astype(np.int32)),
        jnp.asarray(weights.reshape(steps, batch)),
    )
    return TrainedProbe(nnx.merge(graphdef, state), mean, scale, num_classes)


@dataclasses.dataclass(frozen=True)
class ProbeScore:
    """Accuracy of a probe on a test set.

    Attributes:
        accuracy: Overall accuracy.
        per_class_accuracy: Accuracy per class (NaN for a class absent from the test set).
    """

    accuracy: float
    per_class_accuracy: np.ndarray


def score_probe(probe: TrainedProbe, x: object, y: object) -> ProbeScore:
    """Accuracy of ``probe`` on embeddings ``x`` with labels ``y``, overall and per class.

    Example:
        >>> x = np.array([[1.0, 0.0], [0.0, 1.0]] * 20)
        >>> y = np.array([0, 1] * 20)
        >>> score_probe(train_probe(x, y, 2, ProbeConfig(epochs=30)), x, y).accuracy
        1.0
    """
    array = as_embeddings(x, "test embeddings")
    labels = as_labels(y, array.shape[0], probe.num_classes, "test labels")
    correct = probe.predict(array) == labels
    totals = np.bincount(labels, minlength=probe.num_classes)
    hits = np.bincount(labels, weights=correct, minlength=probe.num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(totals > 0, hits / np.maximum(totals, 1), np.nan)
    return ProbeScore(float(np.mean(correct)), per_class)
