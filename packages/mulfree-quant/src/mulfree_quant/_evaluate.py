"""Evaluation in three readings: fake-quant JAX, bit-exact JAX simulation, integer executor."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from fourfold_common import engine
from mulfree_quant._data import Split
from mulfree_quant._errors import MulfreeError
from mulfree_quant._float_net import FloatNet
from mulfree_quant._simulate import simulate
from mulfree_quant._table_net import TableNet
from mulfree_quant._train import predict_logits

MODES = ("float", "fake", "simulate", "executor")


@dataclass(frozen=True)
class Evaluation:
    """Accuracy of one reading of a model on a split.

    Attributes:
        mode: ``"float"`` (a FloatNet), ``"fake"`` (the twin's quantized JAX forward),
            ``"simulate"`` (the exported tables, bit-exact in JAX) or ``"executor"`` (the numpy
            integer executor on the exported network).
        accuracy: Fraction of correct predictions.
        predictions: Predicted class of every sample.
        seconds: Wall time of the prediction, including any JIT compilation.
    """

    mode: str
    accuracy: float
    predictions: np.ndarray
    seconds: float


def evaluate(
    model: FloatNet | TableNet | engine.IntegerNetwork,
    data: Split,
    mode: str = "",
    *,
    batch_size: int = 500,
) -> Evaluation:
    """Evaluate a float model, a twin or an exported network on ``data``.

    Args:
        model: :class:`FloatNet` (mode ``float``), :class:`TableNet` (mode ``fake``) or an
            exported :class:`~fourfold_common.engine.IntegerNetwork` (modes ``simulate`` and
            ``executor``).
        data: The split; networks read ``data.raw``, JAX models ``data.images``.
        mode: One of :data:`MODES`; defaults to ``float``, ``fake`` or ``executor`` by type.
        batch_size: Samples per batch.

    Returns:
        An :class:`Evaluation`.

    Raises:
        MulfreeError: A mode that does not fit the model type.
    """
    if isinstance(model, engine.IntegerNetwork):
        mode = mode or "executor"
        start = time.perf_counter()
        if mode == "executor":
            outputs = engine.run(model, data.raw, batch_size=batch_size)
        elif mode == "simulate":
            outputs = simulate(model, data.raw, batch_size=batch_size)
        else:
            raise MulfreeError(
                f"an exported network is evaluated with simulate/executor, not {mode!r}"
            )
    else:
        expected = "float" if isinstance(model, FloatNet) else "fake"
        mode = mode or expected
        if mode != expected:
            raise MulfreeError(f"a {type(model).__name__} is evaluated in mode {expected!r}")
        start = time.perf_counter()
        outputs = predict_logits(model, data.images, batch_size=batch_size)
    seconds = time.perf_counter() - start
    predictions = np.argmax(outputs, axis=-1)
    accuracy = float(np.mean(predictions == data.labels))
    return Evaluation(mode, accuracy, predictions, seconds)
