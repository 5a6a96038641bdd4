"""Error types of the integer engine."""

from __future__ import annotations


class EngineError(ValueError):
    """An invalid integer network, a bad executor input, or a possible accumulator overflow."""


class ArtifactError(ValueError):
    """An artifact file is malformed, truncated, corrupted, or of an unsupported version."""
