"""Command line of ``tti-probe``: parses arguments and calls the public API."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tti_probe.__about__ import __version__
from tti_probe._commands import add_commands


def _demo(args: argparse.Namespace) -> int:
    del args
    print(
        "tti-probe demo: not implemented yet (tracked in issue #6); nothing was run.",
        file=sys.stderr,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``tti-probe`` command."""
    parser = argparse.ArgumentParser(prog="tti-probe", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the main job offline on an embedded default")
    demo.set_defaults(handler=_demo)
    add_commands(commands)  # classes, prompts, generate, embed, build-tiny
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tti-probe`` command line and return its exit status."""
    args = build_parser().parse_args(argv)
    handler = args.handler
    return int(handler(args))
