"""Run every benchmark in tools/bench/ (each writes its figures to docs/benchmarks/).

Usage (from the repository root)::

    hatch run bench                 # all of them, one after another
    hatch run bench -- --only delaunay_thumb c_export
    hatch run bench -- --list

Each benchmark is a script ``tools/bench/<name>.py`` run in its own process, so one failing
benchmark does not hide the others; the exit status is non-zero if any failed. (A script named
like a package, e.g. ``mulfree_quant.py``, drops its own folder from ``sys.path`` first so that
``import mulfree_quant`` finds the package, not the script.)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def discover() -> dict[str, Path]:
    return {path.stem: path for path in sorted(HERE.glob("*.py")) if path.name != "run_all.py"}


def main(argv: list[str] | None = None) -> int:
    benchmarks = discover()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="+", choices=sorted(benchmarks), help="run only these")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, path in benchmarks.items():
            print(f"{name:<24} {path.relative_to(ROOT)}")
        return 0
    failed = []
    for name in args.only or benchmarks:
        print(f"== {name}: python {benchmarks[name].relative_to(ROOT)}", flush=True)
        start = time.perf_counter()
        status = subprocess.call([sys.executable, str(benchmarks[name])], cwd=ROOT)
        print(f"== {name}: exit {status} after {time.perf_counter() - start:.0f} s", flush=True)
        if status != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
