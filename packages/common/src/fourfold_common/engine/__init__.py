"""The integer lookup engine: network representation, integer executor, artifact format.

An :class:`IntegerNetwork` is a list of explicit integer ops over named buffers plus integer
product tables. Layers gather table entries ``T[activation_index, weight_index]`` and add them
(:class:`Dense`, :class:`Conv`, depthwise via ``groups``); accumulators become the next layer's
indices through an arithmetic shift and a small table (:class:`ShiftActivation`, mulfree-quant)
or comparisons with integer plateau boundaries (:class:`ThresholdActivation`, discrete-nets).
:class:`MaxPool` acts on indices; average pooling is :class:`Lookup` (to values) +
:class:`SumPool` + :class:`ShiftActivation`; residual adds use a 2-D requantization table
(:class:`Add`). :func:`run` executes a network in numpy with integer dtypes only (gathers, adds,
shifts, comparisons; no float and no multiply); tables may be stored at any signed width
(:func:`narrow_tables`, ``product_table(..., dtype="narrow")``), gathers widen them to the
accumulator dtype. :func:`save`/:func:`load` write/read the single-file artifact (bit-packed
arrays, JSON header, SHA-256); :func:`load` raises only :class:`ArtifactError` on bad files.
:func:`accumulator_bounds`, :func:`check_overflow` and :func:`choose_shift` guarantee the
accumulator cannot overflow. Format: ``docs/common/engine.md``.

Example:
    >>> import numpy as np
    >>> from fourfold_common import engine
    >>> a_levels, w_levels = np.array([0.0, 0.5, 1.0]), np.array([-1.0, 1.0])
    >>> shift = engine.choose_shift(1.0, fan_in=2)
    >>> T = engine.product_table(a_levels, w_levels, shift)
    >>> net = engine.IntegerNetwork(
    ...     ops=(engine.Dense("input", "logits", "T", np.array([[1, 0], [1, 1]])),),
    ...     tables={"T": T}, input_shape=(2,), input_levels=3, output="logits")
    >>> logits = engine.run(net, np.array([[2, 1]]))
    >>> (logits / 2**shift).tolist()  # 1.0*[1, -1] + 0.5*[1, 1]
    [[1.5, -0.5]]
"""

from fourfold_common.engine._artifact import FORMAT_VERSION, MAGIC, from_bytes, load, save, to_bytes
from fourfold_common.engine._bounds import accumulator_bounds, check_overflow, choose_shift
from fourfold_common.engine._c_export import CBudget, CExport, c_budget, export_c
from fourfold_common.engine._errors import ArtifactError, EngineError
from fourfold_common.engine._executor import run
from fourfold_common.engine._float32 import float32_bytes
from fourfold_common.engine._network import BufferInfo, IntegerNetwork, index_dtype, infer_buffers
from fourfold_common.engine._ops import (
    OP_TYPES,
    Add,
    Conv,
    Dense,
    Flatten,
    Lookup,
    MaxPool,
    Op,
    ShiftActivation,
    SumPool,
    ThresholdActivation,
)
from fourfold_common.engine._packing import PackedArray, pack_array, unpack_array
from fourfold_common.engine._report import (
    LayerSummary,
    SizePart,
    SizeReport,
    format_size_report,
    size_report,
)
from fourfold_common.engine._tables import (
    TABLE_DTYPES,
    integer_boundaries,
    make_shift_activation,
    narrow_dtype,
    narrow_table,
    narrow_tables,
    product_table,
)

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "OP_TYPES",
    "TABLE_DTYPES",
    "Add",
    "ArtifactError",
    "BufferInfo",
    "CBudget",
    "CExport",
    "Conv",
    "Dense",
    "EngineError",
    "Flatten",
    "IntegerNetwork",
    "LayerSummary",
    "Lookup",
    "MaxPool",
    "Op",
    "PackedArray",
    "ShiftActivation",
    "SizePart",
    "SizeReport",
    "SumPool",
    "ThresholdActivation",
    "accumulator_bounds",
    "c_budget",
    "check_overflow",
    "choose_shift",
    "export_c",
    "float32_bytes",
    "format_size_report",
    "from_bytes",
    "index_dtype",
    "infer_buffers",
    "integer_boundaries",
    "load",
    "make_shift_activation",
    "narrow_dtype",
    "narrow_table",
    "narrow_tables",
    "pack_array",
    "product_table",
    "run",
    "save",
    "size_report",
    "to_bytes",
    "unpack_array",
]
