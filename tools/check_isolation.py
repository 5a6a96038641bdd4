"""Prove "install only what you need": build each package's wheel and install it alone.

For every package under ``packages/``: build its wheel, create a fresh virtual environment,
install the wheel with only its declared dependencies (sibling wheels found in the build
folder), import it, run its CLI ``--help``, and fail if a forbidden dependency came along or
the sibling requirement on fourfold-common is an exact pin. Prints the installed size of each
fresh environment.

Usage (from the repository root, in the dev or test environment)::

    python tools/check_isolation.py [--keep DIR] [--only delaunay-thumb ...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# folder -> (import name, console script or None, distributions that must not be installed)
HEAVY_ML = ("torch", "diffusers", "transformers", "accelerate", "tensorflow")
RULES: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    "common": ("fourfold_common", None, ("jax", "jaxlib", "flax", *HEAVY_ML)),
    "delaunay-thumb": ("delaunay_thumb", "delaunay-thumb", ("jax", "jaxlib", "flax", *HEAVY_ML)),
    "mulfree-quant": ("mulfree_quant", "mulfree-quant", HEAVY_ML),
    "discrete-nets": ("discrete_nets", "discrete-nets", HEAVY_ML),
    "tti-probe": ("tti_probe", "tti-probe", HEAVY_ML),
}


@dataclass(frozen=True)
class IsolationResult:
    folder: str
    wheel: str
    installed: tuple[str, ...]
    venv_bytes: int
    seconds: float
    problems: tuple[str, ...]


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


def build_wheels(out_dir: Path, folders: list[str]) -> dict[str, Path]:
    """Build one wheel per package folder into ``out_dir`` and return them by folder."""
    wheels: dict[str, Path] = {}
    for folder in folders:
        before = set(out_dir.glob("*.whl"))
        result = _run(
            [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out_dir)],
            cwd=ROOT / "packages" / folder,
        )
        if result.returncode != 0:
            raise SystemExit(f"building {folder} failed:\n{result.stdout}\n{result.stderr}")
        new = sorted(set(out_dir.glob("*.whl")) - before)
        if len(new) != 1:
            raise SystemExit(f"expected one new wheel for {folder}, got {new}")
        wheels[folder] = new[0]
    return wheels


def _requires(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(name).decode()
    return [
        line.split(":", 1)[1].strip()
        for line in text.splitlines()
        if line.startswith("Requires-Dist:")
    ]


def _tree_bytes(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for file in files:
            full = os.path.join(dirpath, file)
            if not os.path.islink(full):
                total += os.path.getsize(full)
    return total


def check_package(folder: str, wheel: Path, wheel_dir: Path, work: Path) -> IsolationResult:
    """Install ``wheel`` into a fresh venv and check imports, CLI and forbidden dependencies."""
    import_name, script, forbidden = RULES[folder]
    start = time.perf_counter()
    problems: list[str] = []
    for requirement in _requires(wheel):
        if re.match(r"fourfold-common(\[[^\]]*\])?\s*==", requirement):
            problems.append(f"sibling requirement is an exact pin: {requirement}")
    venv = work / folder
    uv = shutil.which("uv")
    python = venv / "bin" / "python"
    if uv:
        steps = [
            [uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(python),
                "--find-links",
                str(wheel_dir),
                str(wheel),
            ],
        ]
    else:
        steps = [
            [sys.executable, "-m", "venv", str(venv)],
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--find-links",
                str(wheel_dir),
                str(wheel),
            ],
        ]
    for step in steps:
        result = _run(step)
        if result.returncode != 0:
            problems.append(f"{' '.join(step[:3])} failed: {result.stderr.strip()[-2000:]}")
            return IsolationResult(
                folder, wheel.name, (), 0, time.perf_counter() - start, tuple(problems)
            )
    list_code = (
        "import importlib.metadata as m, json; "
        "print(json.dumps(sorted({d.metadata['Name'].lower() for d in m.distributions()})))"
    )
    listing = _run([str(python), "-c", list_code])
    installed = tuple(json.loads(listing.stdout)) if listing.returncode == 0 else ()
    for name in forbidden:
        if name in installed:
            problems.append(f"forbidden dependency installed: {name}")
    env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false", "PYTHONNOUSERSITE": "1"}
    env.pop("PYTHONPATH", None)
    imported = _run(
        [str(python), "-c", f"import {import_name}; print({import_name}.__version__)"],
        env=env,
        cwd=work,
    )
    if imported.returncode != 0:
        problems.append(f"import {import_name} failed: {imported.stderr.strip()[-2000:]}")
    if script is not None:
        helped = _run([str(venv / "bin" / script), "--help"], env=env, cwd=work)
        if helped.returncode != 0 or "usage" not in helped.stdout.lower():
            problems.append(f"{script} --help failed: {helped.stderr.strip()[-2000:]}")
    return IsolationResult(
        folder,
        wheel.name,
        installed,
        _tree_bytes(venv),
        time.perf_counter() - start,
        tuple(problems),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", nargs="*", choices=sorted(RULES), help="check only these package folders"
    )
    parser.add_argument("--keep", type=Path, help="build and install under DIR and keep it")
    args = parser.parse_args(argv)
    folders = args.only or list(RULES)
    work = args.keep or Path(tempfile.mkdtemp(prefix="fourfold-isolation-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        wheel_dir = work / "wheels"
        wheel_dir.mkdir(exist_ok=True)
        # common is always built: the others resolve fourfold-common from the same folder.
        wheels = build_wheels(wheel_dir, sorted(set(folders) | {"common"}, key=list(RULES).index))
        results = [check_package(folder, wheels[folder], wheel_dir, work) for folder in folders]
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{'package':<16} {'venv MB':>8} {'dists':>6} {'seconds':>8}  status")
    for r in results:
        status = "ok" if not r.problems else "FAIL: " + "; ".join(r.problems)
        print(
            f"{r.folder:<16} {r.venv_bytes / 1e6:8.1f} {len(r.installed):6d} "
            f"{r.seconds:8.1f}  {status}"
        )
    return 1 if any(r.problems for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
