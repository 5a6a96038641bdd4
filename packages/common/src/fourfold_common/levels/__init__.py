"""Level placement: where to put the ``n`` values of a scalar quantizer (numpy only).

Every placement function returns a sorted, strictly increasing ``float64`` array of exactly ``n``
levels (``n`` need not be a power of two). Fixed schemes ignore the data; adaptive parametric
schemes fit a distribution and place levels in closed form; adaptive model-free schemes use the
sample directly. :func:`nearest_index` and :func:`thresholds` turn a level set into a quantizer.
All functions raise :class:`LevelsError` (a ``ValueError``) on bad input.

Example:
    >>> import numpy as np
    >>> from fourfold_common.levels import laplacian_levels, nearest_index
    >>> weights = np.random.default_rng(0).laplace(0.0, 0.1, 10_000)
    >>> levels = laplacian_levels(weights, 5)
    >>> index = nearest_index(weights, levels)
    >>> levels.shape, int(index.min()), int(index.max())
    ((5,), 0, 4)
"""

from fourfold_common.levels._assign import nearest_index, thresholds
from fourfold_common.levels._errors import LevelsError
from fourfold_common.levels._fixed import power_of_two_levels, uniform_levels
from fourfold_common.levels._model_free import kmeans_levels, quantile_levels
from fourfold_common.levels._parametric import (
    gaussian_levels,
    laplacian_levels,
    laplacian_offsets,
    standard_gaussian_levels,
)

__all__ = [
    "LevelsError",
    "gaussian_levels",
    "kmeans_levels",
    "laplacian_levels",
    "laplacian_offsets",
    "nearest_index",
    "power_of_two_levels",
    "quantile_levels",
    "standard_gaussian_levels",
    "thresholds",
    "uniform_levels",
]
