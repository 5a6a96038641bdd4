"""Command line of ``mulfree-quant``: parses arguments and calls the public API."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mulfree_quant.__about__ import __version__


def _demo(args: argparse.Namespace) -> int:
    del args
    print(
        "mulfree-quant demo: not implemented yet (tracked in issue #4); nothing was run.",
        file=sys.stderr,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``mulfree-quant`` command."""
    parser = argparse.ArgumentParser(prog="mulfree-quant", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the main job offline on an embedded default")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mulfree-quant`` command line and return its exit status."""
    args = build_parser().parse_args(argv)
    handler = args.handler
    return int(handler(args))
