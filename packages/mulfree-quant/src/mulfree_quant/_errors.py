"""The error type of mulfree-quant."""

from __future__ import annotations


class MulfreeError(ValueError):
    """Bad input to mulfree-quant: an invalid model definition, configuration or checkpoint."""
