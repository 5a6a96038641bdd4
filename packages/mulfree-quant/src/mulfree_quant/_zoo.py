"""The model zoo at small scale: MLP, LeNet-5, small ResNet, small MobileNet, small AlexNet."""

from __future__ import annotations

from collections.abc import Callable

from mulfree_quant._errors import MulfreeError
from mulfree_quant._spec import (
    Conv,
    Dense,
    Flatten,
    GlobalAvgPool,
    LayerSpec,
    MaxPool,
    ModelSpec,
    Residual,
)

Shape = tuple[int, int, int]


def mlp(input_shape: Shape = (28, 28, 1), num_classes: int = 10, width: int = 128) -> ModelSpec:
    """Two hidden layers of ``width`` and ``width // 2`` units."""
    layers = (Flatten(), Dense(width), Dense(width // 2), Dense(num_classes, "none"))
    return ModelSpec("mlp", input_shape, layers)


def lenet5(input_shape: Shape = (28, 28, 1), num_classes: int = 10) -> ModelSpec:
    """LeNet-5: conv 6@5x5 (same), pool, conv 16@5x5, pool, 120, 84, classes."""
    layers: tuple[LayerSpec, ...] = (
        Conv(6, 5, padding="SAME"),
        MaxPool(2),
        Conv(16, 5, padding="VALID"),
        MaxPool(2),
        Flatten(),
        Dense(120),
        Dense(84),
        Dense(num_classes, "none"),
    )
    return ModelSpec("lenet5", input_shape, layers)


def resnet(input_shape: Shape = (28, 28, 1), num_classes: int = 10, width: int = 16) -> ModelSpec:
    """A small ResNet: stem, two stages of one residual block each, global average pool."""

    def block(features: int) -> Residual:
        return Residual(
            (
                Conv(features, 3, batch_norm=True),
                Conv(features, 3, batch_norm=True, activation="none"),
            )
        )

    layers: tuple[LayerSpec, ...] = (
        Conv(width, 3, stride=2, batch_norm=True),
        block(width),
        Conv(2 * width, 3, stride=2, batch_norm=True),
        block(2 * width),
        GlobalAvgPool(),
        Dense(num_classes, "none"),
    )
    return ModelSpec("resnet", input_shape, layers)


def mobilenet(
    input_shape: Shape = (28, 28, 1), num_classes: int = 10, width: int = 16
) -> ModelSpec:
    """A small MobileNet: strided stem, three depthwise-separable blocks, global average pool."""

    def separable(channels: int, features: int, stride: int) -> tuple[Conv, Conv]:
        return (
            Conv(channels, 3, stride=stride, groups=channels, batch_norm=True),
            Conv(features, 1, batch_norm=True),
        )

    layers: tuple[LayerSpec, ...] = (
        Conv(width, 3, stride=2, batch_norm=True),
        *separable(width, 2 * width, 1),
        *separable(2 * width, 4 * width, 2),
        *separable(4 * width, 4 * width, 1),
        GlobalAvgPool(),
        Dense(num_classes, "none"),
    )
    return ModelSpec("mobilenet", input_shape, layers)


def alexnet(input_shape: Shape = (28, 28, 1), num_classes: int = 10) -> ModelSpec:
    """A small AlexNet-style net: five convs, three max-pools, two hidden dense layers."""
    layers: tuple[LayerSpec, ...] = (
        Conv(24, 5),
        MaxPool(2),
        Conv(48, 3),
        MaxPool(2),
        Conv(64, 3),
        Conv(64, 3),
        Conv(48, 3),
        MaxPool(3, 2),
        Flatten(),
        Dense(128),
        Dense(128),
        Dense(num_classes, "none"),
    )
    return ModelSpec("alexnet", input_shape, layers)


ZOO: dict[str, Callable[..., ModelSpec]] = {
    "mlp": mlp,
    "lenet5": lenet5,
    "resnet": resnet,
    "mobilenet": mobilenet,
    "alexnet": alexnet,
}


def zoo_model(name: str, input_shape: Shape = (28, 28, 1), num_classes: int = 10) -> ModelSpec:
    """Definition of the zoo model ``name`` for inputs of ``input_shape``.

    Example:
        >>> zoo_model("lenet5").layers[0].features
        6
    """
    if name not in ZOO:
        raise MulfreeError(f"unknown zoo model {name!r}; choose from {sorted(ZOO)}")
    return ZOO[name](input_shape, num_classes)
