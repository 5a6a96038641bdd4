"""Frozen configuration dataclasses: quantizer choice, quantization setup, training."""

from __future__ import annotations

from dataclasses import dataclass, field

from mulfree_quant._errors import MulfreeError

SCHEMES = {
    "uniform": "fixed",
    "log": "fixed",
    "gaussian": "parametric",
    "laplacian": "parametric",
    "kmeans": "model-free",
    "quantile": "model-free",
}
"""Quantization scheme name -> family (fixed / parametric / model-free)."""

ACTIVATION_MAPPINGS = ("threshold", "shift")
"""Export mappings from an accumulator to the next index (see :class:`QuantConfig`)."""

TABLE_SHAPES = {40: (8, 5), 80: (8, 10), 160: (16, 10), 320: (16, 20)}
"""Table entries per layer -> (activation levels Na, weight levels Nw) used by the benchmark."""


@dataclass(frozen=True)
class QuantConfig:
    """How a table-based twin quantizes.

    Attributes:
        activation_levels: ``Na``: levels of every activation output (and the input).
        weight_levels: ``Nw``: levels of every layer's weights.
        activation_scheme: Level placement for activation outputs (see :data:`SCHEMES`).
        weight_scheme: Level placement for weights.
        input_levels: Levels of the network input (uniform on ``[0, 1]``); defaults to
            ``activation_levels``.
        activation_table_entries: Largest activation table ``Nx`` (shift + table mapping).
        activation_mapping: How an accumulator becomes the next layer's index in the export:
            ``"threshold"`` (default) compares it with the ``Na - 1`` integer cut points, which
            reproduces the quantized forward pass exactly up to table rounding;
            ``"shift"`` is the paper's arithmetic shift plus a table of at most
            ``activation_table_entries`` entries (bins straddling a cut point may differ).
        recluster_every: Re-place weight and activation levels every this many QAT steps.
        calibration_samples: Images used to calibrate activation levels.
        max_cluster_samples: Subsample size for k-means on large layers.
        seed: Seed of the subsampling.

    Example:
        >>> QuantConfig.for_entries(40, "kmeans").weight_levels
        5
    """

    activation_levels: int = 8
    weight_levels: int = 5
    activation_scheme: str = "kmeans"
    weight_scheme: str = "kmeans"
    input_levels: int = 0
    activation_table_entries: int = 1024
    activation_mapping: str = "threshold"
    recluster_every: int = 100
    calibration_samples: int = 512
    max_cluster_samples: int = 20_000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.activation_levels < 2 or self.weight_levels < 2:
            raise MulfreeError("activation_levels and weight_levels must be >= 2")
        for scheme in (self.activation_scheme, self.weight_scheme):
            if scheme not in SCHEMES:
                raise MulfreeError(f"unknown scheme {scheme!r}; choose from {sorted(SCHEMES)}")
        if self.input_levels == 1 or self.input_levels < 0:
            raise MulfreeError("input_levels must be >= 2 (or 0 for activation_levels)")
        if self.activation_mapping not in ACTIVATION_MAPPINGS:
            raise MulfreeError(
                f"activation_mapping must be one of {ACTIVATION_MAPPINGS}, "
                f"got {self.activation_mapping!r}"
            )
        if self.activation_table_entries < 2 or self.recluster_every < 1:
            raise MulfreeError("activation_table_entries >= 2 and recluster_every >= 1 needed")
        if self.calibration_samples < 1 or self.max_cluster_samples < 1:
            raise MulfreeError("calibration_samples and max_cluster_samples must be >= 1")

    @property
    def entries(self) -> int:
        """Table entries per layer, ``Na · Nw``."""
        return self.activation_levels * self.weight_levels

    @property
    def effective_input_levels(self) -> int:
        """``input_levels`` or, when 0, ``activation_levels``."""
        return self.input_levels or self.activation_levels

    @classmethod
    def for_entries(cls, entries: int, scheme: str, **overrides: int | str) -> QuantConfig:
        """Config with ``Na x Nw`` from :data:`TABLE_SHAPES` and one scheme for both."""
        if entries not in TABLE_SHAPES:
            raise MulfreeError(f"entries must be one of {sorted(TABLE_SHAPES)}, got {entries}")
        na, nw = TABLE_SHAPES[entries]
        values: dict[str, int | str] = {
            "activation_levels": na,
            "weight_levels": nw,
            "activation_scheme": scheme,
            "weight_scheme": scheme,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class TrainConfig:
    """Training loop settings (float pre-training and QAT alike).

    Attributes:
        epochs: Passes over the training set.
        batch_size: Global batch size (split over the local devices).
        learning_rate: Peak Adam learning rate (cosine decay).
        weight_decay: Decoupled weight decay (AdamW).
        seed: Shuffling and initialisation seed.
        max_steps: Stop after this many steps (0: no limit).
        progress: Show a tqdm progress bar.
    """

    epochs: int = 3
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    max_steps: int = 0
    progress: bool = True
    extra: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or not self.learning_rate > 0:
            raise MulfreeError("epochs, batch_size and learning_rate must be positive")
        if self.max_steps < 0 or self.weight_decay < 0:
            raise MulfreeError("max_steps and weight_decay must be >= 0")
