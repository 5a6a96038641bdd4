"""Adherence to the prompt: CLIP score and zero-shot correctness against all class prompts."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from tti_probe._analysis_inputs import ProbeInputError, as_embeddings, as_labels


@jax.jit
def _cosine_rows(a: jax.Array, b: jax.Array) -> jax.Array:
    a = a / jnp.linalg.norm(a, axis=1, keepdims=True)
    b = b / jnp.linalg.norm(b, axis=1, keepdims=True)
    return jnp.sum(a * b, axis=1)


@jax.jit
def _cosine_matrix(a: jax.Array, b: jax.Array) -> jax.Array:
    a = a / jnp.linalg.norm(a, axis=1, keepdims=True)
    b = b / jnp.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


def cosine_matrix(a: object, b: object) -> np.ndarray:
    """Cosine similarity of every row of ``a`` with every row of ``b``, shape (len(a), len(b)).

    Example:
        >>> cosine_matrix([[1.0, 0.0]], [[1.0, 1.0], [0.0, 2.0]]).round(3).tolist()
        [[0.707, 0.0]]
    """
    x = as_embeddings(a, "a")
    y = as_embeddings(b, "b")
    if x.shape[1] != y.shape[1]:
        raise ProbeInputError(f"a (d={x.shape[1]}) and b (d={y.shape[1]}) differ in dimension")
    return np.asarray(_cosine_matrix(jnp.asarray(x), jnp.asarray(y)))


def clip_scores(images: object, texts: object) -> np.ndarray:
    """CLIP score of each image embedding with its own prompt embedding.

    ``100 * max(cos(image, text), 0)``, the definition of ``torchmetrics``' ``CLIPScore``
    (Hessel et al. 2021 use ``2.5 * max(cos, 0)``; the ranking is the same).

    Args:
        images: Image embeddings, shape (n, d).
        texts: Prompt embeddings, one per image, shape (n, d).

    Returns:
        Scores in [0, 100], shape (n,).

    Raises:
        ProbeInputError: Shapes differ or contain non-finite values.

    Example:
        >>> clip_scores([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, -1.0]]).tolist()
        [100.0, 0.0]
    """
    x = as_embeddings(images, "images")
    t = as_embeddings(texts, "texts")
    if x.shape != t.shape:
        raise ProbeInputError(f"images {x.shape} and texts {t.shape} must have the same shape")
    return np.asarray(100.0 * jnp.maximum(_cosine_rows(jnp.asarray(x), jnp.asarray(t)), 0.0))


@dataclasses.dataclass(frozen=True)
class ZeroShot:
    """Zero-shot classification of image embeddings against all class prompts.

    Attributes:
        predictions: Predicted class of each image (argmax cosine with the class prompts).
        accuracy: Overall fraction predicted as their own class.
        per_class_accuracy: Accuracy per class (NaN for a class without images).
        confusion: Count matrix, rows = true class, columns = predicted class.
    """

    predictions: np.ndarray
    accuracy: float
    per_class_accuracy: np.ndarray
    confusion: np.ndarray


def zero_shot(images: object, labels: object, class_text: object) -> ZeroShot:
    """Classify each image by its most similar class prompt and score against ``labels``.

    Args:
        images: Image embeddings, shape (n, d).
        labels: Class of each image (the prompted class for synthetic images), shape (n,).
        class_text: One prompt embedding per class, shape (num_classes, d).

    Returns:
        Predictions, accuracies and the confusion matrix.

    Raises:
        ProbeInputError: Inconsistent shapes or labels out of range.

    Example:
        >>> text = np.eye(3)
        >>> zs = zero_shot([[0.9, 0.1, 0.0], [0.0, 0.2, 0.8]], [0, 1], text)
        >>> zs.predictions.tolist(), zs.accuracy
        ([0, 2], 0.5)
    """
    sims = cosine_matrix(images, class_text)
    num_classes = sims.shape[1]
    y = as_labels(labels, sims.shape[0], num_classes)
    predictions = np.argmax(sims, axis=1)
    confusion = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(confusion, (y, predictions), 1)
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(totals > 0, np.diag(confusion) / np.maximum(totals, 1), np.nan)
    return ZeroShot(
        predictions=predictions,
        accuracy=float(np.mean(predictions == y)),
        per_class_accuracy=per_class,
        confusion=confusion,
    )
