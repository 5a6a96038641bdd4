"""Our codec seen through the peer interface, so the benchmark treats it like the others.

It calls only the public API: ``delaunay_thumb.encode(thumb, max_bytes, effort=..., seed=...)``
and ``delaunay_thumb.decode(data, (width, height))``. The thumbnail is the input, as for every
peer, and the budget is checked on every result (a stream over budget is an error, not a
measurement).

Example:
    >>> reason = ours_unavailable()
    >>> reason is None or isinstance(reason, str)
    True
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from delaunay_thumb._metrics import to_rgb_uint8
from delaunay_thumb._peers_base import Peer, PeerDecodeError, PeerResult, _check_budgets


def _api() -> Any:
    return importlib.import_module("delaunay_thumb")


def ours_unavailable() -> str | None:
    """``None`` if ``delaunay_thumb.encode/decode`` work on a small image, else why not."""
    try:
        api = _api()
        for name in ("encode", "decode", "DecodeError"):
            if not hasattr(api, name):
                return f"delaunay_thumb.{name} does not exist yet"
        ramp = np.linspace(0, 255, 24 * 32 * 3).reshape(24, 32, 3).astype(np.uint8)
        data = api.encode(ramp, max_bytes=100)
        if not isinstance(data, bytes) or len(data) > 100:
            return "delaunay_thumb.encode did not return at most 100 bytes"
        decoded = api.decode(data, (32, 24))
        if np.asarray(decoded).shape != (24, 32, 3):
            return "delaunay_thumb.decode did not return the requested size"
    except Exception as error:  # any failure means: not functional yet
        return f"delaunay_thumb encode/decode failed: {type(error).__name__}: {error}"
    return None


class Ours(Peer):
    """``delaunay_thumb.encode`` / ``decode`` at each budget.

    Args:
        effort: Encoder effort; ``None`` uses the codec's default.
        seed: Encoder seed.
    """

    name = "ours"
    label = "delaunay-thumb (ours)"

    def __init__(self, effort: int | None = None, seed: int = 0) -> None:
        self.effort = effort
        self.seed = seed

    def search(self, thumb: np.ndarray, budgets: Sequence[int]) -> dict[int, PeerResult | None]:
        """Encode ``thumb`` once per budget (the codec does its own rate control).

        Raises:
            RuntimeError: The codec returned more bytes than the budget.
        """
        _check_budgets(budgets)
        rgb = to_rgb_uint8(thumb)
        api = _api()
        options: dict[str, int] = {"seed": self.seed}
        if self.effort is not None:
            options["effort"] = self.effort
        results: dict[int, PeerResult | None] = {}
        for budget in budgets:
            start = time.process_time()
            data = api.encode(rgb, max_bytes=int(budget), **options)
            seconds = time.process_time() - start
            if len(data) > budget:
                raise RuntimeError(f"delaunay_thumb.encode returned {len(data)} > {budget} bytes")
            decoded = self.decode(data, rgb.shape[1], rgb.shape[0])
            results[int(budget)] = PeerResult(self.name, bytes(data), decoded, {}, seconds)
        return results

    def decode(self, data: bytes, width: int, height: int) -> np.ndarray:
        """``delaunay_thumb.decode(data, (width, height))``.

        Raises:
            PeerDecodeError: The codec rejected the stream.
        """
        api = _api()
        try:
            return np.asarray(api.decode(bytes(data), (width, height)))
        except api.DecodeError as error:
            raise PeerDecodeError(str(error)) from error
