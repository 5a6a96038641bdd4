"""The recognisability judge: a small CNN trained on natural Fashion-MNIST (train split).

It labels generated images; the share labelled as their prompted class is the testbed's
recognisability. Trained deterministically (seeded, one thread) and cached next to the models.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from fourfold_common.data import load_fashion_mnist
from fourfold_common.io import atomic_write_bytes


def _net() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(32 * 7 * 7, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 10),
    )


def _inputs(images: np.ndarray) -> torch.Tensor:
    """uint8 or [0, 1] float (n, 28, 28) -> the judge's (n, 1, 28, 28) in [-1, 1]."""
    x = np.asarray(images, dtype=np.float32)
    if images.dtype == np.uint8:
        x = x / 255.0
    return torch.from_numpy(x * 2 - 1)[:, None]


class Judge:
    def __init__(self, net: torch.nn.Module, test_accuracy: float, train_s: float) -> None:
        self.net = net.eval()
        self.test_accuracy = test_accuracy
        self.train_s = train_s

    @torch.no_grad()
    def predict(self, images: np.ndarray) -> np.ndarray:
        out = [
            self.net(_inputs(images[i : i + 500])).argmax(1).numpy()
            for i in range(0, len(images), 500)
        ]
        return np.concatenate(out) if out else np.zeros(0, np.int64)


def load_judge(cache: Path, *, epochs: int = 2, train_size: int = 30000, seed: int = 0) -> Judge:
    """Train (or load from ``cache``) the judge; its test-split accuracy is recorded."""
    if cache.is_file():
        state = torch.load(cache, map_location="cpu", weights_only=False)
        net = _net()
        net.load_state_dict(state["net"])
        return Judge(net, state["test_accuracy"], state["train_s"])
    began = time.perf_counter()
    train = load_fashion_mnist("train")
    keep = np.random.default_rng([seed, 7]).permutation(len(train.labels))[:train_size]
    x = _inputs(np.asarray(train.images)[keep])
    y = torch.from_numpy(np.asarray(train.labels)[keep]).long()
    torch.manual_seed(seed)
    net = _net()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    batch = 100
    for epoch in range(epochs):
        order = torch.from_numpy(np.random.default_rng([seed, epoch]).permutation(len(x)))
        for start in tqdm(range(0, len(x) - batch + 1, batch), desc=f"judge epoch {epoch + 1}"):
            rows = order[start : start + batch]
            loss = torch.nn.functional.cross_entropy(net(x[rows]), y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    judge = Judge(net, 0.0, time.perf_counter() - began)
    test = load_fashion_mnist("test")
    judge.test_accuracy = float(
        (judge.predict(np.asarray(test.images)) == np.asarray(test.labels)).mean()
    )
    buffer = io.BytesIO()
    torch.save(
        {"net": net.state_dict(), "test_accuracy": judge.test_accuracy, "train_s": judge.train_s},
        buffer,
    )
    atomic_write_bytes(cache, buffer.getvalue())
    return judge
