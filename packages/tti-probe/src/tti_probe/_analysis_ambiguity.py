"""Ambiguity: modes of a class's synthetic set, where they drift, and colliding class prompts."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from tti_probe._analysis_inputs import ProbeInputError, as_embeddings, l2_normalize

_VARIANCE_FLOOR = 1e-3


@dataclasses.dataclass(frozen=True)
class Modes:
    """Modes found in one embedding set.

    Attributes:
        count: Number of modes chosen by BIC (1 = unimodal).
        assignments: Mode of each embedding (most responsible mixture component).
        fractions: Fraction of the embeddings in each mode.
        centroids: Mean unit-normalised embedding of each mode, shape (count, d).
        bic: BIC of the fitted mixture for 1..max_modes modes (``inf`` where a fit was
            rejected because a mode held less than ``min_fraction`` of the set).
    """

    count: int
    assignments: np.ndarray
    fractions: np.ndarray
    centroids: np.ndarray
    bic: np.ndarray


def _log_density(z: jax.Array, means: jax.Array, variances: jax.Array) -> jax.Array:
    diff = z[:, None, :] - means[None, :, :]
    return -0.5 * jnp.sum(
        jnp.log(2.0 * jnp.pi * variances)[None] + diff * diff / variances[None], axis=2
    )


def _init_means(z: jax.Array, w: jax.Array, key: jax.Array, k: int) -> jax.Array:
    # k-means++ seeding (Arthur & Vassilvitskii 2007) over rows of weight 1; each draw
    # proportional to p uses the Gumbel-max trick: argmax(log p + Gumbel noise).
    gumbel = jax.random.gumbel(key, (k, z.shape[0]), z.dtype)
    first = jnp.argmax(jnp.where(w > 0, gumbel[0], -jnp.inf))
    means = jnp.zeros((k, z.shape[1]), z.dtype).at[0].set(z[first])
    d2 = jnp.sum((z - z[first]) ** 2, axis=1)
    for j in range(1, k):
        logits = jnp.where(w > 0, jnp.log(d2 + 1e-12), -jnp.inf)
        pick = jnp.argmax(logits + gumbel[j])
        means = means.at[j].set(z[pick])
        d2 = jnp.minimum(d2, jnp.sum((z - z[pick]) ** 2, axis=1))
    return means


def _fit_mixture(
    z: jax.Array, w: jax.Array, keys: jax.Array, k: jax.Array, *, max_k: int, iterations: int
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Diagonal Gaussian mixture with ``k`` active components by EM, best of the restarts.

    ``k`` is traced (components ``>= k`` are switched off), so one compilation serves every
    number of modes. Returns the log-likelihood, responsibilities, means and variances.
    """
    n_eff = w.sum()
    active = jnp.arange(max_k) < k

    def fit(key: jax.Array) -> tuple[jax.Array, ...]:
        means = _init_means(z, w, key, max_k)
        variances = jnp.ones((max_k, z.shape[1]), z.dtype)
        log_pi = jnp.where(active, -jnp.log(k.astype(z.dtype)), -jnp.inf)

        def step(_: int, state: tuple[jax.Array, jax.Array, jax.Array]) -> tuple[jax.Array, ...]:
            means, variances, log_pi = state
            logp = _log_density(z, means, variances) + log_pi[None]
            resp = jax.nn.softmax(logp, axis=1) * w[:, None]
            nk = resp.sum(axis=0) + 1e-9
            means = resp.T @ z / nk[:, None]
            second = resp.T @ (z * z) / nk[:, None]
            variances = jnp.maximum(second - means * means, _VARIANCE_FLOOR)
            return means, variances, jnp.where(active, jnp.log(nk / n_eff), -jnp.inf)

        means, variances, log_pi = jax.lax.fori_loop(
            0, iterations, step, (means, variances, log_pi)
        )
        logp = _log_density(z, means, variances) + log_pi[None]
        loglik = jnp.sum(w * jax.nn.logsumexp(logp, axis=1))
        return loglik, jax.nn.softmax(logp, axis=1), means, variances

    logliks, resps, means, variances = jax.vmap(fit)(keys)
    best = jnp.argmax(logliks)
    return logliks[best], resps[best], means[best], variances[best]


@functools.partial(jax.jit, static_argnames=("max_k", "iterations"))
def _fit_all(
    z: jax.Array, w: jax.Array, keys: jax.Array, ks: jax.Array, *, max_k: int, iterations: int
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """:func:`_fit_mixture` for every number of modes in ``ks`` at once (one dispatch)."""
    return jax.vmap(lambda k: _fit_mixture(z, w, keys, k, max_k=max_k, iterations=iterations))(ks)


def _separated(means: np.ndarray, variances: np.ndarray, minimum: float) -> bool:
    # Ashman's D = sqrt(2) |m1 - m2| / sqrt(s1^2 + s2^2) (Ashman, Bird & Zepf 1994), per pair.
    for i in range(len(means)):
        for j in range(i + 1, len(means)):
            d = np.sqrt(2.0 * np.sum((means[i] - means[j]) ** 2 / (variances[i] + variances[j])))
            if d < minimum:
                return False
    return True


def _whitened_scores(x: np.ndarray, dims: int) -> np.ndarray:
    centred = x.astype(np.float64) - x.mean(axis=0, dtype=np.float64)
    n, d = centred.shape
    # Principal components from the smaller of the n x n Gram and the d x d scatter matrix.
    if n <= d:
        values, vectors = np.linalg.eigh(centred @ centred.T)
        order = np.argsort(values)[::-1]
        values, scores = values[order], vectors[:, order] * np.sqrt(np.clip(values[order], 0, None))
    else:
        values, vectors = np.linalg.eigh(centred.T @ centred)
        order = np.argsort(values)[::-1]
        values, scores = values[order], centred @ vectors[:, order]
    keep = int(min(dims, np.sum(values > values[0] * 1e-10) if values[0] > 0 else 0))
    if keep == 0:
        return np.zeros((n, 1), np.float32)
    scores = scores[:, :keep]
    return (scores / scores.std(axis=0)).astype(np.float32)


def count_modes(
    x: object,
    max_modes: int = 4,
    *,
    dims: int = 4,
    min_fraction: float = 0.1,
    min_separation: float = 2.0,
    restarts: int = 4,
    iterations: int = 60,
    seed: int = 0,
) -> Modes:
    """Count the modes of an embedding set with a BIC-selected Gaussian mixture (our method).

    The set is projected on its ``dims`` leading principal components and whitened (so a
    single anisotropic Gaussian becomes isotropic and is not split), then diagonal Gaussian
    mixtures with 1..``max_modes`` components are fitted by EM (k-means++ seeding, best of
    ``restarts``) and the one with the lowest Bayesian information criterion
    ``-2 log L + P log n`` (Schwarz 1978; ``P = 2 k dims + k - 1``) is kept, among fits whose
    every component holds at least ``min_fraction`` of the points and whose components are
    pairwise separated by Ashman's D >= ``min_separation``.

    Args:
        x: Embeddings, shape (n, d), n >= 4.
        max_modes: Largest number of modes tried.
        dims: Principal components kept.
        min_fraction: Smallest acceptable mode, as a fraction of the set.
        min_separation: Smallest acceptable Ashman's D between two modes (2 separates two
            Gaussians cleanly); rules out a broad and a narrow component around one centre.
        restarts: EM restarts per number of modes.
        iterations: EM iterations.
        seed: Seed of the k-means++ seeding.

    Returns:
        The modes.

    Raises:
        ProbeInputError: Fewer than four embeddings or bad parameters.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> one = rng.normal(size=(200, 16))
        >>> two = np.concatenate([one[:100] + 4.0, one[100:] - 4.0])
        >>> count_modes(one).count, count_modes(two).count
        (1, 2)
    """
    array = as_embeddings(x, "embeddings", min_rows=4)
    if max_modes < 1 or dims < 1 or not 0.0 <= min_fraction < 1.0:
        raise ProbeInputError("count_modes: need max_modes >= 1, dims >= 1, 0 <= min_fraction < 1")
    n = array.shape[0]
    z = _whitened_scores(array, dims)
    size = -(-n // 64) * 64
    zp = np.zeros((size, z.shape[1]), np.float32)
    zp[:n] = z
    w = np.zeros(size, np.float32)
    w[:n] = 1.0
    keys = jax.random.split(jax.random.key(seed), restarts)
    p = z.shape[1]
    bic = np.full(max_modes, np.inf)
    best_resp = np.zeros((n, 1), np.float32)
    ks = np.arange(1, min(max_modes, n // 2) + 1)
    logliks, resps, all_means, all_vars = (
        np.asarray(a)
        for a in _fit_all(
            jnp.asarray(zp),
            jnp.asarray(w),
            keys,
            jnp.asarray(ks),
            max_k=max_modes,
            iterations=iterations,
        )
    )
    for i, k in enumerate(ks):
        resp_k = resps[i, :n, :k]
        hard = np.bincount(np.argmax(resp_k, axis=1), minlength=k) / n
        if k > 1 and (
            np.min(hard) < min_fraction
            or not _separated(all_means[i, :k], all_vars[i, :k], min_separation)
        ):
            continue
        score = -2.0 * float(logliks[i]) + (2 * k * p + k - 1) * np.log(n)
        if np.isfinite(score):
            bic[k - 1] = score
            if score <= np.min(bic):
                best_resp = resp_k
    assignments = np.argmax(best_resp, axis=1)
    count = int(best_resp.shape[1])
    units = l2_normalize(array).astype(np.float64)
    centroids = np.stack([units[assignments == j].mean(axis=0) for j in range(count)])
    fractions = np.bincount(assignments, minlength=count) / n
    return Modes(count, assignments, fractions, centroids, bic)


@dataclasses.dataclass(frozen=True)
class Collision:
    """Two class prompts whose text embeddings nearly coincide.

    Attributes:
        first: Index of one class.
        second: Index of the other class.
        cosine: Cosine similarity of their prompt embeddings.
    """

    first: int
    second: int
    cosine: float


def prompt_collisions(text: object, threshold: float = 0.9) -> tuple[Collision, ...]:
    """Pairs of class prompts with text-embedding cosine at least ``threshold``, most similar first.

    Near-colliding prompts cannot be told apart by the text encoder, so a text-to-image model
    conditioned on it cannot draw them apart either (our measure).

    Example:
        >>> prompt_collisions([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0]], 0.9)
        (Collision(first=0, second=1, cosine=0.99493...),)
    """
    t = l2_normalize(as_embeddings(text, "text")).astype(np.float64)
    sims = t @ t.T
    first, second = np.triu_indices(len(t), k=1)
    values = sims[first, second]
    order = np.argsort(-values, kind="stable")
    return tuple(
        Collision(int(first[i]), int(second[i]), float(values[i]))
        for i in order
        if values[i] >= threshold
    )


def nearest_rows(x: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index and cosine of the most similar candidate row for each row of ``x``.

    Example:
        >>> idx, cos = nearest_rows(np.array([[1.0, 0.1]]), np.array([[0.0, 1.0], [1.0, 0.0]]))
        >>> idx.tolist()
        [1]
    """
    a = l2_normalize(x).astype(np.float64)
    b = candidates.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
    sims = np.nan_to_num(a @ b.T, nan=-np.inf)
    idx = np.argmax(sims, axis=1)
    return idx, sims[np.arange(len(a)), idx]
