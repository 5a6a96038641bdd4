"""Discretized networks: no float, no multiply, no non-linear function at inference.

Implements Baluja, Marwood, Covell and Johnston, "No Multiplication? No Floating Point? No
Problem! Training Networks for Efficient Inference" (arXiv 1809.09244) with Flax NNX.

Example:
    >>> import jax.numpy as jnp
    >>> from discrete_nets import ActivationSpec, discretize
    >>> discretize(jnp.array([-3.0, 0.0, 3.0]), ActivationSpec("tanh", 3)).tolist()
    [-1.0, 0.0, 1.0]
"""

from discrete_nets.__about__ import __version__
from discrete_nets._activation import (
    ACTIVATIONS,
    ActivationError,
    ActivationSpec,
    activation_indices,
    activation_levels,
    discretize,
    input_indices,
    input_values,
    plateau_boundaries,
)
from discrete_nets._data import DATASETS, DataError, Split, load_data
from discrete_nets._export import (
    Deployment,
    ExportError,
    deployment,
    export_network,
    raw_pixels,
    run_integer,
    simulate_integer,
)
from discrete_nets._layers import Activation, Conv, Dense, Flatten, MaxPool
from discrete_nets._memory import MemoryReport, format_memory_report, memory_report
from discrete_nets._models import ARCHITECTURES, ModelConfig, ModelError, Network, build_model
from discrete_nets._persist import ModelFileError, load_model, save_model
from discrete_nets._schedule import (
    CLUSTERERS,
    ClusterSchedule,
    ScheduleError,
    cluster_arrays,
    shared_levels,
)
from discrete_nets._train import (
    TrainConfig,
    TrainError,
    TrainResult,
    evaluate,
    predict,
    train,
)
from fourfold_common.parallel import data_mesh

__all__ = [
    "ACTIVATIONS",
    "ARCHITECTURES",
    "CLUSTERERS",
    "DATASETS",
    "Activation",
    "ActivationError",
    "ActivationSpec",
    "ClusterSchedule",
    "Conv",
    "DataError",
    "Dense",
    "Deployment",
    "ExportError",
    "Flatten",
    "MaxPool",
    "MemoryReport",
    "ModelConfig",
    "ModelError",
    "ModelFileError",
    "Network",
    "ScheduleError",
    "Split",
    "TrainConfig",
    "TrainError",
    "TrainResult",
    "__version__",
    "activation_indices",
    "activation_levels",
    "build_model",
    "cluster_arrays",
    "data_mesh",
    "deployment",
    "discretize",
    "evaluate",
    "export_network",
    "format_memory_report",
    "input_indices",
    "input_values",
    "load_data",
    "load_model",
    "memory_report",
    "plateau_boundaries",
    "predict",
    "raw_pixels",
    "run_integer",
    "save_model",
    "shared_levels",
    "simulate_integer",
    "train",
]
