"""Table-based neural units: the public API of ``mulfree_quant``.

Quantize every weight and activation output of a Flax NNX classifier to small level sets,
replace each multiply-accumulate by lookups in a per-layer integer table, and deploy a
multiply-free, float-free integer network (Covell, Marwood, Baluja, Johnston, 2019).

Example:
    >>> from flax import nnx
    >>> from mulfree_quant import FloatNet, QuantConfig, to_table_based, zoo_model
    >>> spec = zoo_model("mlp", (8, 8, 1))
    >>> twin = to_table_based(FloatNet(spec, seed=0), QuantConfig.for_entries(40, "kmeans"))
    >>> twin.config.activation_levels, twin.config.weight_levels
    (8, 5)
"""

from mulfree_quant.__about__ import __version__
from mulfree_quant._calibrate import (
    calibrate,
    calibrate_activations,
    finalize,
    recluster_weights,
    snap_weights,
)
from mulfree_quant._config import (
    ACTIVATION_MAPPINGS,
    SCHEMES,
    TABLE_SHAPES,
    QuantConfig,
    TrainConfig,
)
from mulfree_quant._convert import fold_batch_norm, to_table_based
from mulfree_quant._data import DATASETS, Split, load_dataset
from mulfree_quant._errors import MulfreeError
from mulfree_quant._evaluate import MODES, Evaluation, evaluate
from mulfree_quant._export import EXACT_LIMIT, export, export_artifact
from mulfree_quant._float_net import FloatNet
from mulfree_quant._parallel import data_mesh
from mulfree_quant._quantizers import (
    activation_levels,
    clipped_range,
    place_levels,
    quantize_index,
    quantize_ste,
)
from mulfree_quant._report import CompactnessReport, compactness_report
from mulfree_quant._simulate import build_simulator, simulate
from mulfree_quant._spec import (
    Conv,
    Dense,
    Flatten,
    GlobalAvgPool,
    MaxPool,
    ModelSpec,
    Residual,
)
from mulfree_quant._table_net import Levels, QConv, QDense, QPool, QResidual, TableNet
from mulfree_quant._train import TrainResult, fit, predict_logits
from mulfree_quant._zoo import ZOO, alexnet, lenet5, mlp, mobilenet, resnet, zoo_model

__all__ = [
    "ACTIVATION_MAPPINGS",
    "DATASETS",
    "EXACT_LIMIT",
    "MODES",
    "SCHEMES",
    "TABLE_SHAPES",
    "ZOO",
    "CompactnessReport",
    "Conv",
    "Dense",
    "Evaluation",
    "Flatten",
    "FloatNet",
    "GlobalAvgPool",
    "Levels",
    "MaxPool",
    "ModelSpec",
    "MulfreeError",
    "QConv",
    "QDense",
    "QPool",
    "QResidual",
    "QuantConfig",
    "Residual",
    "Split",
    "TableNet",
    "TrainConfig",
    "TrainResult",
    "__version__",
    "activation_levels",
    "alexnet",
    "build_simulator",
    "calibrate",
    "calibrate_activations",
    "clipped_range",
    "compactness_report",
    "data_mesh",
    "evaluate",
    "export",
    "export_artifact",
    "finalize",
    "fit",
    "fold_batch_norm",
    "lenet5",
    "load_dataset",
    "mlp",
    "mobilenet",
    "place_levels",
    "predict_logits",
    "quantize_index",
    "quantize_ste",
    "recluster_weights",
    "resnet",
    "simulate",
    "snap_weights",
    "to_table_based",
    "zoo_model",
]
