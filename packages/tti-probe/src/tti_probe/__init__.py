"""Text-to-image synthetic-data probe: the public API of ``tti_probe``."""

from tti_probe.__about__ import __version__
from tti_probe._analysis_inputs import (
    ProbeData,
    ProbeInputError,
    as_embeddings,
    l2_normalize,
    load_npz,
    save_npz,
)
from tti_probe._metrics_blocks import KernelConfig, PairStatistics, pair_statistics
from tti_probe._metrics_diversity import Diversity, diversity
from tti_probe._metrics_fidelity import Fidelity, fidelity, frechet_distance

__all__ = [
    "Diversity",
    "Fidelity",
    "KernelConfig",
    "PairStatistics",
    "ProbeData",
    "ProbeInputError",
    "__version__",
    "as_embeddings",
    "diversity",
    "fidelity",
    "frechet_distance",
    "l2_normalize",
    "load_npz",
    "pair_statistics",
    "save_npz",
]
