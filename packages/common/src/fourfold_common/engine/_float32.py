"""The float32 counterpart of an integer network: bytes of its weights and biases at 4 bytes."""

from __future__ import annotations

from fourfold_common.engine._network import IntegerNetwork
from fourfold_common.engine._ops import Conv, Dense


def float32_bytes(network: IntegerNetwork) -> int:
    """Bytes of the weights and biases of every table layer stored as float32.

    Example:
        >>> import numpy as np
        >>> from fourfold_common.engine import Dense, IntegerNetwork
        >>> net = IntegerNetwork((Dense("input", "out", "T", np.zeros((3, 2), np.uint8),
        ...                             bias=np.zeros(2, np.int32)),),
        ...                      {"T": np.ones((2, 2), np.int8)}, (3,), 2, "out")
        >>> float32_bytes(net)  # 6 weights and 2 biases
        32
    """
    count = 0
    for op in network.ops:
        if isinstance(op, (Dense, Conv)):
            count += int(op.weights.size)
            for extra in (op.bias, op.bias_index):
                count += 0 if extra is None else int(extra.size)
    return 4 * count
