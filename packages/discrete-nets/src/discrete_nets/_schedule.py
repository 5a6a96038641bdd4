"""Weight clustering schedule: snap all weights and biases to ``|W|`` shared values.

Every ``every`` steps, and always on the last step, all parameters of the network (kernels and
biases of every layer, together) are clustered to ``|W|`` shared values and replaced by their
nearest value; training continues on the continuous parameters in between, so training ends
discretized. The level placement comes from :mod:`fourfold_common.levels`: subsampled 1-D
k-means, or the closed-form Laplacian equal-occupancy levels ``a ± b·L_i``. Early in training
(before ``pin_fraction`` of the steps) the Laplacian scale is chosen so that the outermost level
sits on the largest weight, which keeps the extreme weights representable while the
distribution is still far from Laplacian.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fourfold_common.levels import kmeans_levels, laplacian_levels, laplacian_offsets, nearest_index

CLUSTERERS = ("kmeans", "laplacian")
"""Names of the weight clusterers."""


class ScheduleError(ValueError):
    """A clustering schedule is misconfigured."""


@dataclass(frozen=True)
class ClusterSchedule:
    """When and how the weights are clustered to ``|W|`` shared values.

    Attributes:
        num_levels: Number of shared weight values ``|W|`` (at least 2), or ``None`` for
            continuous weights (no clustering).
        every: Cluster after every ``every`` optimizer steps (and always after the last).
        method: ``"kmeans"`` or ``"laplacian"``.
        max_samples: Subsample size for k-means on large networks (``None`` = all weights).
        pin_fraction: Fraction of training during which the Laplacian outermost level is pinned
            to the largest weight magnitude.
        seed: Seed of the k-means subsample.

    Example:
        >>> schedule = ClusterSchedule(num_levels=16, every=10)
        >>> [s for s in range(25) if schedule.is_cluster_step(s, total_steps=25)]
        [9, 19, 24]
    """

    num_levels: int | None = 1000
    every: int = 100
    method: str = "kmeans"
    max_samples: int | None = 50_000
    pin_fraction: float = 0.25
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_levels is not None and (
            isinstance(self.num_levels, bool)
            or not isinstance(self.num_levels, int)
            or self.num_levels < 2
        ):
            raise ScheduleError(f"num_levels must be an int >= 2 or None, got {self.num_levels!r}")
        if self.every < 1:
            raise ScheduleError(f"every must be >= 1, got {self.every}")
        if self.method not in CLUSTERERS:
            raise ScheduleError(f"method must be one of {CLUSTERERS}, got {self.method!r}")
        if not 0.0 <= self.pin_fraction <= 1.0:
            raise ScheduleError(f"pin_fraction must lie in [0, 1], got {self.pin_fraction}")

    @property
    def active(self) -> bool:
        """Whether weights are clustered at all."""
        return self.num_levels is not None

    def is_cluster_step(self, step: int, total_steps: int) -> bool:
        """Whether to cluster after (0-based) ``step`` of ``total_steps``; the last step always."""
        if not self.active:
            return False
        return (step + 1) % self.every == 0 or step + 1 == total_steps


def shared_levels(
    weights: np.ndarray, schedule: ClusterSchedule, progress: float = 1.0
) -> np.ndarray:
    """Place the ``|W|`` shared weight values for the pooled ``weights``.

    Args:
        weights: All parameters of the network, any shape.
        schedule: The clustering schedule (``num_levels`` must be set).
        progress: Fraction of training done, in ``[0, 1]``; the Laplacian clusterer pins its
            outermost level to the largest weight while ``progress < pin_fraction``.

    Returns:
        Strictly increasing ``float64`` array of ``num_levels`` values.

    Raises:
        ScheduleError: The schedule is continuous.

    Example:
        >>> import numpy as np
        >>> w = np.random.default_rng(0).laplace(0.0, 0.1, 5000)
        >>> len(shared_levels(w, ClusterSchedule(num_levels=8, method="laplacian")))
        8
    """
    if schedule.num_levels is None:
        raise ScheduleError("a continuous schedule (num_levels=None) has no shared values")
    flat = np.asarray(weights, dtype=np.float64).ravel()
    count = schedule.num_levels
    if schedule.method == "kmeans":
        return kmeans_levels(flat, count, seed=schedule.seed, max_samples=schedule.max_samples)
    if progress < schedule.pin_fraction:
        centre = float(np.median(flat))
        spread = float(np.max(np.abs(flat - centre)))
        offsets = laplacian_offsets(count)
        if spread > 0.0:
            return centre + spread / float(offsets[-1]) * offsets
    return laplacian_levels(flat, count)


def cluster_arrays(
    arrays: Sequence[np.ndarray], schedule: ClusterSchedule, progress: float = 1.0
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Cluster several parameter arrays jointly to one set of shared values.

    Returns:
        ``(levels, indices)``: the shared values and, per array, the ``int64`` index of each
        element's nearest value (so ``levels[indices[k]]`` is the snapped array ``k``).

    Example:
        >>> import numpy as np
        >>> levels, (idx,) = cluster_arrays([np.array([0.0, 0.1, 1.0, 1.1])],
        ...                                 ClusterSchedule(num_levels=2))
        >>> [round(v, 2) for v in levels.tolist()], idx.tolist()
        ([0.05, 1.05], [0, 0, 1, 1])
    """
    pooled = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])
    levels = shared_levels(pooled, schedule, progress)
    return levels, [nearest_index(np.asarray(a), levels) for a in arrays]
