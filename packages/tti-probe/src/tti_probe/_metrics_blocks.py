"""Exact all-pairs statistics in chunked, jitted distance blocks.

Every k-NN and kernel statistic of two embedding sets (k-NN radii, precision, recall, density,
coverage, the KID polynomial kernel sums and the CMMD Gaussian kernel sums) is read from the same
Gram blocks ``x_block @ y.T``, so the two sets are swept three times in all (x-x, y-y, y-x),
one block of rows at a time: memory stays at ``block x n`` and nothing is sampled.

Rows are padded to a multiple of the block size; padded rows and columns are masked out.
Kernel block sums are returned per row and added up on the host in float64.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from tti_probe._analysis_inputs import ProbeInputError


@dataclasses.dataclass(frozen=True)
class KernelConfig:
    """Kernels of KID and CMMD.

    Attributes:
        kid_degree: Degree of the KID polynomial kernel ``(gamma x.y + coef) ** degree``.
        kid_gamma: Its ``gamma``; ``None`` means ``1 / d`` (Bińkowski et al. 2018).
        kid_coef: Its constant term.
        cmmd_sigma: Bandwidth of the CMMD Gaussian kernel ``exp(-|x-y|^2 / (2 sigma^2))``.
        cmmd_scale: Factor applied to the CMMD MMD² (Jayasumana et al. 2024 use 1000).
    """

    kid_degree: int = 3
    kid_gamma: float | None = None
    kid_coef: float = 1.0
    cmmd_sigma: float = 10.0
    cmmd_scale: float = 1000.0


@dataclasses.dataclass(frozen=True)
class PairStatistics:
    """Statistics of a real (natural) set and a fake (synthetic) set from one sweep.

    Attributes:
        precision: Fraction of fake points inside some real k-NN ball.
        recall: Fraction of real points inside some fake k-NN ball.
        density: Mean number of real k-NN balls holding a fake point, divided by k.
        coverage: Fraction of real k-NN balls holding at least one fake point.
        kid: Unbiased MMD² with the polynomial kernel.
        cmmd: Biased (V-statistic) MMD² with the Gaussian kernel, times ``cmmd_scale``.
        real_radii: Distance of each real point to its k-th nearest real neighbour.
        fake_radii: Same for the fake points.
    """

    precision: float
    recall: float
    density: float
    coverage: float
    kid: float
    cmmd: float
    real_radii: np.ndarray
    fake_radii: np.ndarray


def _pad(x: np.ndarray, block: int) -> tuple[jax.Array, jax.Array, int]:
    n = x.shape[0]
    size = -(-n // block) * block
    padded = np.zeros((size, x.shape[1]), np.float32)
    padded[:n] = x
    mask = np.zeros(size, bool)
    mask[:n] = True
    return jnp.asarray(padded), jnp.asarray(mask), n


def _kernels(
    gram: jax.Array, d2: jax.Array, valid: jax.Array, params: tuple[float, float, int, float]
) -> tuple[jax.Array, jax.Array]:
    gamma, coef, degree, rbf_gamma = params
    poly = jnp.where(valid, (gram * gamma + coef) ** degree, 0.0)
    rbf = jnp.where(valid, jnp.exp(-rbf_gamma * d2), 0.0)
    return poly.sum(axis=1), rbf.sum(axis=1)


@functools.partial(jax.jit, static_argnames=("block", "k", "params"))
def _self_pass(
    x: jax.Array, mask: jax.Array, *, block: int, k: int, params: tuple[float, float, int, float]
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Per row: squared k-NN radius (self excluded), poly and RBF kernel row sums (all columns)."""
    sq = jnp.sum(x * x, axis=1)
    blocks = x.reshape(-1, block, x.shape[1])
    sq_blocks = sq.reshape(-1, block)

    def one(args: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array, jax.Array]:
        rows, rows_sq = args
        gram = rows @ x.T
        d2 = jnp.maximum(rows_sq[:, None] + sq[None, :] - 2.0 * gram, 0.0)
        # The k+1 smallest include the point itself (distance 0), as in Naeem et al.'s code.
        smallest = -jax.lax.top_k(-jnp.where(mask[None, :], d2, jnp.inf), k + 1)[0]
        poly, rbf = _kernels(gram, d2, mask[None, :], params)
        return smallest[:, k], poly, rbf

    radii2, poly, rbf = jax.lax.map(one, (blocks, sq_blocks))
    return radii2.reshape(-1), poly.reshape(-1), rbf.reshape(-1)


@functools.partial(jax.jit, static_argnames=("block", "params"))
def _cross_pass(
    fake: jax.Array,
    fake_mask: jax.Array,
    fake_r2: jax.Array,
    real: jax.Array,
    real_mask: jax.Array,
    real_r2: jax.Array,
    *,
    block: int,
    params: tuple[float, float, int, float],
) -> tuple[jax.Array, ...]:
    """Fake rows against all real columns: PRDC counts and cross kernel row sums."""
    real_sq = jnp.sum(real * real, axis=1)
    fake_sq = jnp.sum(fake * fake, axis=1)
    nb = fake.shape[0] // block
    blocks = (
        fake.reshape(nb, block, -1),
        fake_sq.reshape(nb, block),
        fake_r2.reshape(nb, block),
        fake_mask.reshape(nb, block),
    )
    real_r2_masked = jnp.where(real_mask, real_r2, -jnp.inf)

    def step(
        carry: tuple[jax.Array, jax.Array], args: tuple[jax.Array, ...]
    ) -> tuple[tuple[jax.Array, jax.Array], tuple[jax.Array, ...]]:
        recall_any, min_d2 = carry
        rows, rows_sq, rows_r2, rows_mask = args
        gram = rows @ real.T
        d2 = jnp.maximum(rows_sq[:, None] + real_sq[None, :] - 2.0 * gram, 0.0)
        inside_real = d2 < real_r2_masked[None, :]
        precision = jnp.any(inside_real, axis=1)
        density = jnp.sum(inside_real, axis=1)
        inside_fake = (d2 < rows_r2[:, None]) & rows_mask[:, None]
        recall_any = recall_any | jnp.any(inside_fake, axis=0)
        min_d2 = jnp.minimum(min_d2, jnp.min(jnp.where(rows_mask[:, None], d2, jnp.inf), axis=0))
        poly, rbf = _kernels(gram, d2, real_mask[None, :], params)
        return (recall_any, min_d2), (precision, density, poly, rbf)

    init = (jnp.zeros(real.shape[0], bool), jnp.full(real.shape[0], jnp.inf, real.dtype))
    (recall_any, min_d2), (precision, density, poly, rbf) = jax.lax.scan(step, init, blocks)
    return (
        precision.reshape(-1),
        density.reshape(-1),
        poly.reshape(-1),
        rbf.reshape(-1),
        recall_any,
        min_d2 < real_r2,
    )


def _choose_block(n: int, block: int) -> int:
    # Small sets use one block rounded up to a multiple of 8 (fewer distinct compiled shapes).
    return min(block, max(8, -(-n // 8) * 8))


def pair_statistics(
    real: np.ndarray,
    fake: np.ndarray,
    k: int = 5,
    *,
    kernels: KernelConfig | None = None,
    block: int = 1024,
) -> PairStatistics:
    """Exact k-NN manifold metrics, KID and CMMD of two embedding sets in one sweep.

    Definitions (Naeem et al. 2020 for the first four; strict inequalities as in their code):
    with ``r(x)`` the distance from ``x`` to its k-th nearest neighbour within its own set,

    - precision = mean over fake ``y`` of ``[exists real x: |y - x| < r(x)]``;
    - recall = mean over real ``x`` of ``[exists fake y: |x - y| < r(y)]``;
    - density = mean over fake ``y`` of ``#{real x: |y - x| < r(x)} / k``;
    - coverage = mean over real ``x`` of ``[min over fake y of |x - y| < r(x)]``;
    - KID (Bińkowski et al. 2018) = unbiased MMD² with ``k(a, b) = (gamma a.b + coef)^degree``;
    - CMMD (Jayasumana et al. 2024) = ``scale`` x biased MMD² with
      ``k(a, b) = exp(-|a - b|^2 / (2 sigma^2))``.

    Args:
        real: Natural embeddings, shape (n, d), n > k.
        fake: Synthetic embeddings, shape (m, d), m > k.
        k: Neighbourhood size.
        kernels: Kernel parameters; defaults to :class:`KernelConfig`.
        block: Rows per distance block (memory ``block x max(n, m)`` floats).

    Returns:
        The statistics.

    Raises:
        ProbeInputError: Fewer than ``k + 1`` points in a set, mismatched widths, or ``k < 1``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(200, 8)).astype(np.float32)
        >>> stats = pair_statistics(x, x, k=5)
        >>> round(stats.precision, 3), round(stats.recall, 3), abs(stats.kid) < 1e-4
        (1.0, 1.0, True)
    """
    kernels = kernels or KernelConfig()
    if k < 1:
        raise ProbeInputError(f"k must be >= 1, got {k}")
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ProbeInputError(f"incompatible shapes {real.shape} and {fake.shape}")
    if real.shape[0] <= k or fake.shape[0] <= k:
        raise ProbeInputError(
            f"need more than k={k} points in each set, got {real.shape[0]} and {fake.shape[0]}"
        )
    d = real.shape[1]
    gamma = kernels.kid_gamma if kernels.kid_gamma is not None else 1.0 / d
    params = (
        float(gamma),
        float(kernels.kid_coef),
        int(kernels.kid_degree),
        1.0 / (2.0 * kernels.cmmd_sigma**2),
    )
    b_real = _choose_block(real.shape[0], block)
    b_fake = _choose_block(fake.shape[0], block)
    xr, mr, n = _pad(np.asarray(real, np.float32), b_real)
    xf, mf, m = _pad(np.asarray(fake, np.float32), b_fake)
    r2_real, poly_rr, rbf_rr = _self_pass(xr, mr, block=b_real, k=k, params=params)
    r2_fake, poly_ff, rbf_ff = _self_pass(xf, mf, block=b_fake, k=k, params=params)
    prec, dens, poly_fr, rbf_fr, rec, cov = _cross_pass(
        xf, mf, r2_fake, xr, mr, r2_real, block=b_fake, params=params
    )
    real64 = np.asarray(real, np.float64)
    fake64 = np.asarray(fake, np.float64)
    diag_poly_r = (np.sum(real64 * real64, axis=1) * gamma + kernels.kid_coef) ** kernels.kid_degree
    diag_poly_f = (np.sum(fake64 * fake64, axis=1) * gamma + kernels.kid_coef) ** kernels.kid_degree
    s_rr = np.sum(np.asarray(poly_rr, np.float64)[:n]) - diag_poly_r.sum()
    s_ff = np.sum(np.asarray(poly_ff, np.float64)[:m]) - diag_poly_f.sum()
    s_fr = np.sum(np.asarray(poly_fr, np.float64)[:m])
    kid = s_rr / (n * (n - 1)) + s_ff / (m * (m - 1)) - 2.0 * s_fr / (n * m)
    c_rr = np.sum(np.asarray(rbf_rr, np.float64)[:n]) / (n * n)
    c_ff = np.sum(np.asarray(rbf_ff, np.float64)[:m]) / (m * m)
    c_fr = np.sum(np.asarray(rbf_fr, np.float64)[:m]) / (n * m)
    cmmd = kernels.cmmd_scale * (c_rr + c_ff - 2.0 * c_fr)
    return PairStatistics(
        precision=float(np.mean(np.asarray(prec)[:m])),
        recall=float(np.mean(np.asarray(rec)[:n])),
        density=float(np.mean(np.asarray(dens)[:m])) / k,
        coverage=float(np.mean(np.asarray(cov)[:n])),
        kid=float(kid),
        cmmd=float(cmmd),
        real_radii=np.sqrt(np.asarray(r2_real)[:n]),
        fake_radii=np.sqrt(np.asarray(r2_fake)[:m]),
    )
