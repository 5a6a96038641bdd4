"""Model definitions: small frozen layer specs shared by the float model and its table twin.

A model is written once as a :class:`ModelSpec`; :class:`~mulfree_quant.FloatNet` builds the
ordinary float network from it and :func:`~mulfree_quant.to_table_based` builds the table-based
twin. That is the whole code change needed to quantize a model.
"""

from __future__ import annotations

from dataclasses import dataclass

from mulfree_quant._errors import MulfreeError

ACTIVATIONS = ("relu", "none")


@dataclass(frozen=True)
class Conv:
    """2-D convolution (NHWC), optionally followed by batch-norm and an activation.

    Attributes:
        features: Output channels.
        kernel: Square kernel size.
        stride: Square stride.
        padding: ``"SAME"`` or ``"VALID"``.
        groups: Channel groups; ``groups == in_channels == features`` is depthwise.
        batch_norm: Insert batch-norm (folded into the weights before quantizing).
        activation: ``"relu"`` or ``"none"``.
    """

    features: int
    kernel: int = 3
    stride: int = 1
    padding: str = "SAME"
    groups: int = 1
    batch_norm: bool = False
    activation: str = "relu"


@dataclass(frozen=True)
class Dense:
    """Fully connected layer with an activation (``"none"`` for the logits).

    Attributes:
        features: Output units.
        activation: ``"relu"`` or ``"none"``.
    """

    features: int
    activation: str = "relu"


@dataclass(frozen=True)
class MaxPool:
    """Max-pooling over ``window x window`` (valid), stride ``stride`` (default ``window``)."""

    window: int = 2
    stride: int = 0


@dataclass(frozen=True)
class GlobalAvgPool:
    """Average over all spatial positions, giving ``(batch, channels)``."""


@dataclass(frozen=True)
class Flatten:
    """``(batch, h, w, c) -> (batch, h * w * c)``."""


@dataclass(frozen=True)
class Residual:
    """``activation(body(x) + x)``: an identity-shortcut residual block (shapes must match).

    Attributes:
        body: Layers of the residual branch.
        activation: ``"relu"`` or ``"none"``, applied after the add.
    """

    body: tuple[Conv | Dense, ...]
    activation: str = "relu"


LayerSpec = Conv | Dense | MaxPool | GlobalAvgPool | Flatten | Residual


@dataclass(frozen=True)
class ModelSpec:
    """A sequential model with optional residual blocks, ending in a ``Dense`` logits layer.

    Attributes:
        name: Model name.
        input_shape: ``(height, width, channels)``.
        layers: Layer specs in order; the last must be a ``Dense`` with ``activation="none"``.

    Example:
        >>> spec = ModelSpec("tiny", (8, 8, 1), (Flatten(), Dense(16), Dense(10, "none")))
        >>> spec.num_classes
        10
    """

    name: str
    input_shape: tuple[int, int, int]
    layers: tuple[LayerSpec, ...]

    def __post_init__(self) -> None:
        validate_spec(self)

    @property
    def num_classes(self) -> int:
        """Number of logits (units of the final ``Dense``)."""
        last = self.layers[-1]
        assert isinstance(last, Dense)
        return last.features


def _shape_after(layer: LayerSpec, shape: tuple[int, ...], where: str) -> tuple[int, ...]:
    if isinstance(layer, Conv):
        if len(shape) != 3:
            raise MulfreeError(f"{where}: Conv needs a (h, w, c) input, got {shape}")
        if layer.activation not in ACTIVATIONS or layer.padding not in ("SAME", "VALID"):
            raise MulfreeError(f"{where}: bad activation or padding")
        if min(layer.features, layer.kernel, layer.stride, layer.groups) < 1:
            raise MulfreeError(f"{where}: sizes must be positive")
        if shape[2] % layer.groups or layer.features % layer.groups:
            raise MulfreeError(f"{where}: channels not divisible by groups={layer.groups}")
        if layer.padding == "SAME":
            size = [-(-s // layer.stride) for s in shape[:2]]
        else:
            if min(shape[:2]) < layer.kernel:
                raise MulfreeError(f"{where}: kernel larger than the input")
            size = [(s - layer.kernel) // layer.stride + 1 for s in shape[:2]]
        return (size[0], size[1], layer.features)
    if isinstance(layer, Dense):
        if len(shape) != 1:
            raise MulfreeError(f"{where}: Dense needs a flat input (add Flatten), got {shape}")
        if layer.activation not in ACTIVATIONS or layer.features < 1:
            raise MulfreeError(f"{where}: bad Dense spec")
        return (layer.features,)
    if isinstance(layer, MaxPool):
        stride = layer.stride or layer.window
        if len(shape) != 3 or min(shape[:2]) < layer.window or layer.window < 1:
            raise MulfreeError(f"{where}: MaxPool window does not fit {shape}")
        return (
            (shape[0] - layer.window) // stride + 1,
            (shape[1] - layer.window) // stride + 1,
            shape[2],
        )
    if isinstance(layer, GlobalAvgPool):
        if len(shape) != 3:
            raise MulfreeError(f"{where}: GlobalAvgPool needs (h, w, c)")
        return (shape[2],)
    if isinstance(layer, Flatten):
        if len(shape) != 3:
            raise MulfreeError(f"{where}: Flatten needs (h, w, c)")
        return (shape[0] * shape[1] * shape[2],)
    if isinstance(layer, Residual):
        if not layer.body or layer.activation not in ACTIVATIONS:
            raise MulfreeError(f"{where}: empty residual body or bad activation")
        inner = shape
        for position, sub in enumerate(layer.body):
            if not isinstance(sub, (Conv, Dense)):
                raise MulfreeError(f"{where}: residual bodies hold Conv/Dense layers only")
            inner = _shape_after(sub, inner, f"{where}.body[{position}]")
        if inner != shape:
            raise MulfreeError(f"{where}: residual body changes the shape {shape} -> {inner}")
        return shape
    raise MulfreeError(f"{where}: unknown layer {layer!r}")


def layer_shapes(spec: ModelSpec) -> list[tuple[int, ...]]:
    """Output shape (without batch) of every top-level layer of ``spec``."""
    shape: tuple[int, ...] = tuple(spec.input_shape)
    shapes = []
    for position, layer in enumerate(spec.layers):
        shape = _shape_after(layer, shape, f"layer {position}")
        shapes.append(shape)
    return shapes


def validate_spec(spec: ModelSpec) -> None:
    """Raise :class:`MulfreeError` unless ``spec`` is a valid model definition."""
    if len(spec.input_shape) != 3 or min(spec.input_shape) < 1:
        raise MulfreeError(f"input_shape must be (h, w, c), got {spec.input_shape}")
    if not spec.layers:
        raise MulfreeError("a model needs at least one layer")
    last = spec.layers[-1]
    if not isinstance(last, Dense) or last.activation != "none":
        raise MulfreeError("the last layer must be Dense(num_classes, activation='none')")
    layer_shapes(spec)
