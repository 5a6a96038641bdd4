"""Shared parts of the testbed trainers: determinism, checkpoints, loss curves, data hashes."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fourfold_common.data import FASHION_MNIST_DIR
from fourfold_common.io import atomic_write_bytes, atomic_write_text


def set_determinism(threads: int) -> None:
    """Fixed thread count and deterministic torch kernels (bit-identical reruns on one box)."""
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    # Filling every new tensor with NaN costs ~6 % of a UNet step; kernels stay deterministic.
    torch.utils.deterministic.fill_uninitialized_memory = False  # type: ignore[attr-defined]
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def step_generator(seed: int, step: int, stream: int) -> torch.Generator:
    """A torch generator that depends only on (seed, step, stream): resuming needs no RNG state."""
    return torch.Generator().manual_seed(
        int(np.random.SeedSequence([seed, step, stream]).generate_state(1)[0])
    )


def step_rng(seed: int, step: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, step, stream])


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The shuffled sample order of one epoch (a function of seed and epoch only)."""
    return np.random.default_rng([seed, epoch, 99]).permutation(n)


def batch_indices(seed: int, step: int, batch: int, n: int) -> np.ndarray:
    """Indices of training step ``step``: consecutive slices of per-epoch permutations."""
    per_epoch = n // batch
    epoch, offset = divmod(step, per_epoch)
    return epoch_order(seed, epoch, n)[offset * batch : (offset + 1) * batch]


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)


def fashion_mnist_hash(split: str = "train") -> dict[str, str]:
    """sha256 of the IDX files of one split (the training data's identity)."""
    prefix = "train" if split == "train" else "t10k"
    out = {}
    for name in (f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"):
        out[name] = hashlib.sha256((FASHION_MNIST_DIR / name).read_bytes()).hexdigest()
    return out


def write_loss_curve(directory: Path, history: dict[str, list[float]], title: str) -> None:
    """``loss.json`` (every logged value) and ``loss.png`` (the curves) in ``directory``."""
    atomic_write_text(directory / "loss.json", json.dumps(history, indent=1) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps = history["step"]
    for key, values in history.items():
        if key == "step" or len(values) != len(steps):
            continue
        ax.plot(steps, values, label=key, linewidth=1)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(directory / "loss.png", buffer.getvalue())


def smooth(values: list[float], window: int = 20) -> list[float]:
    out = []
    for i in range(len(values)):
        chunk = values[max(0, i - window + 1) : i + 1]
        out.append(float(sum(chunk) / len(chunk)))
    return out
