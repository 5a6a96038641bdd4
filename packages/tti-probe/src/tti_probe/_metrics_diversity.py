"""Diversity of one embedding set: mean pairwise cosine distance, Vendi score, effective rank.

All three are computed exactly from ``min(n, d)``-sized moment matrices: the n x n
cosine-similarity matrix ``U U^T`` (``U`` the unit rows) has the same non-zero eigenvalues as
the d x d matrix ``U^T U``, and likewise for the centred embeddings.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from tti_probe._analysis_inputs import ProbeInputError, as_embeddings


@dataclasses.dataclass(frozen=True)
class Diversity:
    """Diversity scores of one set.

    Attributes:
        mean_cosine_distance: Mean over pairs ``i != j`` of ``1 - cos(x_i, x_j)``.
        vendi: Vendi score with the cosine kernel (an effective number of distinct items,
            between 1 and ``min(n, d)``).
        effective_rank: Effective rank of the centred embeddings (between 1 and ``min(n, d)``).
        count: Number of embeddings.
    """

    mean_cosine_distance: float
    vendi: float
    effective_rank: float
    count: int


@jax.jit
def _moments(x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    unit = x / jnp.linalg.norm(x, axis=1, keepdims=True)
    centred = x - x.mean(axis=0)
    # The non-zero eigenvalues of A^T A and A A^T agree: use the smaller of the two products.
    if x.shape[0] < x.shape[1]:
        unit_gram, cov = unit @ unit.T, centred @ centred.T
    else:
        unit_gram, cov = unit.T @ unit, centred.T @ centred
    return unit.sum(axis=0), unit_gram, cov, jnp.min(jnp.linalg.norm(x, axis=1))


def _entropy_exp(weights: np.ndarray) -> float:
    p = np.clip(weights, 0.0, None)
    p = p[p > 0] / p.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def diversity(x: object) -> Diversity:
    """Diversity scores of an embedding set.

    Definitions (all ours to combine; sources cited):

    - mean pairwise cosine distance ``1 - (|sum_i u_i|^2 - n) / (n (n - 1))`` with ``u_i`` the
      unit rows, i.e. the mean of ``1 - cos`` over ordered pairs ``i != j``;
    - Vendi score (Friedman & Dieng 2023, "The Vendi Score"), ``exp(-sum_i l_i log l_i)`` with
      ``l_i`` the eigenvalues of ``K / n``, ``K_ij = cos(x_i, x_j)`` (as
      ``vendi_score.vendi.score_X`` with ``normalize=True``, q = 1);
    - effective rank (Roy & Vetterli 2007), ``exp(H(p))`` with ``p_i = s_i / sum_j s_j`` and
      ``s_i`` the singular values of the mean-centred embeddings.

    Args:
        x: Embeddings, shape (n, d), n >= 2, no zero rows.

    Returns:
        The scores.

    Raises:
        ProbeInputError: Fewer than two rows, a zero row, or non-finite values.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> wide = diversity(rng.normal(size=(200, 16)))
        >>> narrow = diversity(rng.normal(size=(200, 16)) * 0.1 + 3.0)
        >>> wide.vendi > narrow.vendi and wide.mean_cosine_distance > narrow.mean_cosine_distance
        True
    """
    array = as_embeddings(x, "embeddings", min_rows=2)
    n = array.shape[0]
    total, unit_gram, cov, min_norm = _moments(jnp.asarray(array))
    if float(min_norm) == 0.0:
        raise ProbeInputError("diversity: an embedding has zero norm (cosine undefined)")
    total64 = np.asarray(total, np.float64)
    mean_cos = (float(total64 @ total64) - n) / (n * (n - 1))
    # The d x d eigenvalue problems are small: float64 on the host.
    kernel_eigs = np.linalg.eigvalsh(np.asarray(unit_gram, np.float64) / n)
    cov_eigs = np.clip(np.linalg.eigvalsh(np.asarray(cov, np.float64)), 0.0, None)
    return Diversity(
        mean_cosine_distance=1.0 - mean_cos,
        vendi=_entropy_exp(kernel_eigs),
        effective_rank=_entropy_exp(np.sqrt(cov_eigs)),
        count=n,
    )
