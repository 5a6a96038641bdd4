"""JSON run records: what was run, with which versions, and what it measured."""

from __future__ import annotations

import dataclasses
import datetime
import json
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from fourfold_common.io._atomic import atomic_write_text

RECORD_FORMAT = "fourfold.run-record/1"


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def git_revision(directory: str | Path | None = None) -> str | None:
    """Return the git commit of ``directory`` (``-dirty`` appended if modified), or ``None``."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if status else "")


def package_versions(names: Iterable[str]) -> dict[str, str | None]:
    """Installed version of each distribution name (``None`` where not installed)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


_DEFAULT_PACKAGES = (
    "fourfold-common",
    "delaunay-thumb",
    "mulfree-quant",
    "discrete-nets",
    "tti-probe",
    "numpy",
    "jax",
    "flax",
    "optax",
    "torch",
    "diffusers",
    "transformers",
)


def make_run_record(
    name: str,
    config: Any,
    figures: Mapping[str, Any],
    packages: Iterable[str] = _DEFAULT_PACKAGES,
    command: str | None = None,
) -> dict[str, Any]:
    """Build a JSON-ready record of one run.

    Args:
        name: What was run (e.g. ``"delaunay-thumb bench"``).
        config: Configuration (a dataclass, mapping, or anything JSON-like).
        figures: Measured results.
        packages: Distribution names whose installed versions are recorded.
        command: The command line that produced the run (defaults to ``sys.argv``).

    Example:
        >>> record = make_run_record("demo", {"seed": 0}, {"accuracy": 0.9}, packages=["numpy"])
        >>> record["figures"]["accuracy"], sorted(record["versions"])
        (0.9, ['numpy'])
    """
    return {
        "format": RECORD_FORMAT,
        "name": name,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": command if command is not None else " ".join(sys.argv),
        "git_revision": git_revision(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": package_versions(packages),
        "config": _jsonable(config),
        "figures": _jsonable(dict(figures)),
    }


def write_run_record(path: str | Path, record: Mapping[str, Any]) -> Path:
    """Write a run record as indented JSON, atomically."""
    return atomic_write_text(path, json.dumps(_jsonable(record), indent=2, sort_keys=True) + "\n")


def read_run_record(path: str | Path) -> dict[str, Any]:
    """Read a run record written by :func:`write_run_record`.

    Raises:
        ValueError: The file is not valid JSON or not a run record.
    """
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read run record {path}: {error}") from error
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise ValueError(f"{path} is not a run record ({RECORD_FORMAT})")
    return record
