"""Loading PyTorch models (diffusers pipelines, transformers CLIP) behind the ``hf`` extra.

torch, diffusers and transformers are imported lazily, so ``import tti_probe`` works without
them; calling into this module without them raises one clear :class:`ImportError`.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

_DTYPES = ("float32", "float16", "bfloat16")


class ModelLoadError(RuntimeError):
    """A model could not be loaded (missing locally, wrong kind, unreadable)."""


def require(module: str) -> ModuleType:
    """Import ``module`` from the ``hf`` extra or raise an ImportError saying how to install it.

    Example:
        >>> require("json").__name__
        'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"this part of tti-probe needs {module.split('.')[0]}: "
            "pip install 'tti-probe[hf]' (torch, diffusers, transformers, accelerate)"
        ) from error


def torch_dtype(name: str) -> Any:
    """The ``torch.dtype`` called ``name`` (``float32``, ``float16`` or ``bfloat16``).

    Raises:
        ValueError: Unknown name.

    Example:
        >>> str(torch_dtype("float16"))
        'torch.float16'
    """
    if name not in _DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}, got {name!r}")
    return getattr(require("torch"), name)


def process_state() -> Any:
    """The accelerate ``PartialState`` of this process (created on first use).

    Without CUDA it is created with ``cpu=True``, so processes started by ``accelerate launch``
    or ``torchrun`` on CPU-only machines form a gloo group instead of each running alone.

    Example:
        >>> process_state().num_processes
        1
    """
    torch = require("torch")
    return require("accelerate").PartialState(cpu=not torch.cuda.is_available())


def resolve_device(device: str | None) -> str:
    """Resolve ``None``/``"auto"`` to the device accelerate assigns this process, else check it.

    Under ``accelerate launch`` ``"auto"`` gives each process its own GPU; on a machine without
    one it gives ``"cpu"``.

    Raises:
        ValueError: torch does not recognise ``device``.

    Example:
        >>> resolve_device("cpu")
        'cpu'
    """
    torch = require("torch")
    if device is None or device == "auto":
        return str(process_state().device)
    try:
        torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"unknown torch device {device!r}: {error}") from error
    return device


def model_fingerprint(model: str | Path, revision: str | None = None) -> str:
    """A short identity of a model for cache keys and manifests.

    A hub id gives ``"<id>@<revision or main>"``. A local directory adds a hash over the names,
    sizes and modification times of its files, so retraining into the same directory changes
    the fingerprint without hashing gigabytes of weights.

    Example:
        >>> model_fingerprint("openai/clip-vit-large-patch14")
        'openai/clip-vit-large-patch14@main'
    """
    path = Path(model)
    if not path.is_dir():
        return f"{model}@{revision or 'main'}"
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        stat = file.stat()
        digest.update(f"{file.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return f"{path.resolve()}#{digest.hexdigest()[:16]}"


def check_local(model: str | Path, kind: str) -> None:
    """Raise :class:`ModelLoadError` if ``model`` looks like a path but is no directory.

    Example:
        >>> check_local("openai/clip-vit-base-patch32", "CLIP model")  # a hub id: no check
    """
    path = Path(model)
    looks_local = path.is_absolute() or str(model).startswith((".", "~")) or path.exists()
    if looks_local and not path.is_dir():
        raise ModelLoadError(f"{kind} directory {model} does not exist")


_OWN_PIPELINES = {"TestbedPipeline": "tti_probe._testbed_pipeline"}
"""Pipeline classes tti-probe defines itself, by the ``_class_name`` of ``model_index.json``."""


def _pipeline_class(model: str | Path, diffusers: ModuleType) -> Any:
    """``DiffusionPipeline``, or tti-probe's own class when a local model names one."""
    index = Path(model) / "model_index.json"
    if index.is_file():
        try:
            name = json.loads(index.read_text(encoding="utf-8")).get("_class_name")
        except (OSError, ValueError, AttributeError) as error:
            raise ModelLoadError(f"unreadable {index}: {error}") from error
        if isinstance(name, str) and name in _OWN_PIPELINES:
            return getattr(importlib.import_module(_OWN_PIPELINES[name]), name)
    return diffusers.DiffusionPipeline


def load_pipeline(
    model: str | Path,
    *,
    revision: str | None = None,
    dtype: str = "float32",
    device: str = "cpu",
    local_files_only: bool = False,
    scheduler: str | None = None,
) -> Any:
    """Load any diffusers text-to-image pipeline from a hub id or a local directory.

    Uses ``diffusers.DiffusionPipeline.from_pretrained``, so the pipeline class named in the
    model's ``model_index.json`` is used (Stable Diffusion 1.x/2.x, SDXL, ...); a local
    directory whose ``model_index.json`` names tti-probe's own :class:`TestbedPipeline` is
    loaded with that class's ``from_pretrained`` (diffusers only looks up its own classes).

    Args:
        model: Hub id (``"stable-diffusion-v1-5/stable-diffusion-v1-5"``) or local directory.
        revision: Hub revision (branch, tag or commit).
        dtype: ``float32``, ``float16`` or ``bfloat16``.
        device: A torch device (``"cpu"``, ``"cuda:0"``).
        local_files_only: Never touch the network (set it when offline).
        scheduler: Optional name of a diffusers scheduler class (e.g. ``"DDIMScheduler"``) to
            replace the pipeline's own, built from the same scheduler config.

    Raises:
        ModelLoadError: The model cannot be found or loaded, or the scheduler is unknown.

    Example:
        >>> import tempfile
        >>> from tti_probe._tiny import build_tiny_pipeline
        >>> pipe = load_pipeline(build_tiny_pipeline(tempfile.mkdtemp()), local_files_only=True)
        >>> type(pipe).__name__
        'StableDiffusionPipeline'
    """
    diffusers = require("diffusers")
    check_local(model, "pipeline")
    # diffusers >= 0.42 renamed ``torch_dtype`` to ``dtype``.
    modern = hasattr(require("diffusers.pipelines.pipeline_utils"), "_resolve_dtype")
    dtype_keyword = {("dtype" if modern else "torch_dtype"): torch_dtype(dtype)}
    try:
        pipe = _pipeline_class(model, diffusers).from_pretrained(
            str(model), revision=revision, local_files_only=local_files_only, **dtype_keyword
        )
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"cannot load a diffusers pipeline from {model}: {error}") from error
    if scheduler is not None:
        scheduler_class = getattr(diffusers, scheduler, None)
        if scheduler_class is None or not hasattr(scheduler_class, "from_config"):
            raise ModelLoadError(f"unknown diffusers scheduler {scheduler!r}")
        pipe.scheduler = scheduler_class.from_config(pipe.scheduler.config)
    pipe = pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def pipeline_description(pipe: Any) -> dict[str, Any]:
    """What a manifest records about a pipeline: its class, scheduler and scheduler config.

    Example:
        >>> class Fake:
        ...     scheduler = None
        >>> pipeline_description(Fake())["pipeline"]
        'Fake'
    """
    scheduler = getattr(pipe, "scheduler", None)
    config: dict[str, Any] = {}
    if scheduler is not None and hasattr(scheduler, "config"):
        config = json.loads(json.dumps(dict(scheduler.config), default=str))
    return {
        "pipeline": type(pipe).__name__,
        "scheduler": type(scheduler).__name__ if scheduler is not None else None,
        "scheduler_config": config,
    }
