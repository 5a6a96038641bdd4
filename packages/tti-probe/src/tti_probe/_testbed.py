"""The shipped offline testbed: a small CLIP and text-to-image pipeline for Fashion-MNIST.

Both models were trained on this repository's 2-core CPU machines by ``tools/testbed/``
(``train_clip.py``, ``train_diffusion.py``) on the Fashion-MNIST *training* split, and ship
inside the package under ``tti_probe/data/testbed/`` (safetensors, a few MB) with a
``manifest.json`` that records the training data hash, configurations, commit, seed, steps,
final losses, wall times and the sha256 of every shipped file.

:func:`load_testbed` loads both with ``local_files_only=True``: the pipeline through
:func:`tti_probe.load_pipeline` (the code path used for Stable Diffusion), the CLIP through
:class:`tti_probe.ClipEmbedder`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from tti_probe._embed import ClipEmbedder
from tti_probe._models import load_pipeline, require

MANIFEST = "manifest.json"
TESTBED_FORMAT = "tti-probe.testbed/1"


class TestbedError(RuntimeError):
    """The shipped testbed is missing, incomplete, or its files do not match the manifest."""


def default_testbed_dir() -> Path:
    """Directory of the shipped testbed (``clip/``, ``pipeline/``, ``manifest.json``).

    Example:
        >>> (default_testbed_dir() / "manifest.json").is_file()
        True
    """
    return Path(str(resources.files("tti_probe") / "data" / "testbed"))


def file_hashes(
    directory: str | Path, parts: tuple[str, ...] = ("clip", "pipeline")
) -> dict[str, str]:
    """sha256 of every file under ``directory/<part>``, keyed by path relative to ``directory``.

    Example:
        >>> hashes = file_hashes(default_testbed_dir())
        >>> any(name.endswith("model.safetensors") for name in hashes)
        True
    """
    root = Path(directory)
    out: dict[str, str] = {}
    for part in parts:
        for file in sorted((root / part).rglob("*")):
            if file.is_file():
                digest = hashlib.sha256(file.read_bytes()).hexdigest()
                out[file.relative_to(root).as_posix()] = digest
    return out


def read_testbed_manifest(directory: str | Path | None = None) -> dict[str, Any]:
    """The testbed's manifest (training data hash, configs, commit, seeds, losses, file hashes).

    Raises:
        TestbedError: No readable manifest of the testbed format.

    Example:
        >>> read_testbed_manifest()["format"]
        'tti-probe.testbed/1'
    """
    path = Path(directory) if directory is not None else default_testbed_dir()
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TestbedError(f"no readable testbed manifest at {path / MANIFEST}: {error}") from error
    if not isinstance(manifest, dict) or manifest.get("format") != TESTBED_FORMAT:
        raise TestbedError(f"{path / MANIFEST} is not a {TESTBED_FORMAT} manifest")
    return manifest


def verify_testbed(directory: str | Path | None = None) -> dict[str, Any]:
    """Check that the testbed's files are exactly those the manifest lists; return the manifest.

    Raises:
        TestbedError: A file is missing, extra, or has another sha256 than recorded.

    Example:
        >>> verify_testbed()["format"]
        'tti-probe.testbed/1'
    """
    path = Path(directory) if directory is not None else default_testbed_dir()
    manifest = read_testbed_manifest(path)
    expected: dict[str, str] = manifest.get("files", {})
    actual = file_hashes(path)
    problems = [f"missing {name}" for name in sorted(set(expected) - set(actual))]
    problems += [f"unlisted {name}" for name in sorted(set(actual) - set(expected))]
    problems += [
        f"changed {name}"
        for name in sorted(set(expected) & set(actual))
        if expected[name] != actual[name]
    ]
    if problems:
        raise TestbedError(f"testbed at {path} does not match its manifest: {'; '.join(problems)}")
    return manifest


@dataclass(frozen=True)
class Testbed:
    """The loaded testbed.

    Attributes:
        pipeline: The text-to-image :class:`TestbedPipeline` (28x28 greyscale images).
        embedder: The small CLIP as a :class:`ClipEmbedder`.
        manifest: The shipped manifest.
        path: Directory the models were loaded from.
    """

    pipeline: Any
    embedder: ClipEmbedder
    manifest: dict[str, Any]
    path: Path


def load_testbed(
    directory: str | Path | None = None, *, device: str = "cpu", verify: bool = True
) -> Testbed:
    """Load the shipped testbed pipeline and CLIP, offline (``local_files_only=True``).

    Args:
        directory: A testbed directory (default: the one shipped in the package, or one written
            by ``tools/testbed/ship.py``).
        device: Torch device of both models.
        verify: Check the files against the manifest's sha256 first.

    Raises:
        ImportError: The ``hf`` extra (torch, diffusers, transformers) is not installed.
        TestbedError: The files are missing or do not match the manifest.

    Example:
        >>> testbed = load_testbed()
        >>> testbed.embedder.embed_texts(["a photo of a Bag."]).shape
        (1, 64)
    """
    for module in ("torch", "diffusers", "transformers"):
        require(module)
    path = Path(directory) if directory is not None else default_testbed_dir()
    manifest = verify_testbed(path) if verify else read_testbed_manifest(path)
    pipeline = load_pipeline(path / "pipeline", device=device, local_files_only=True)
    embedder = ClipEmbedder(path / "clip", device=device, local_files_only=True)
    return Testbed(pipeline=pipeline, embedder=embedder, manifest=manifest, path=path)
