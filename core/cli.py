"""The ``tunesmith`` command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import sys

from tunesmith.version import __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``tunesmith`` command; subcommands register here."""
    parser = argparse.ArgumentParser(
        prog="tunesmith",
        description="Define-by-run hyperparameter optimization: inspect and drive studies.",
    )
    parser.add_argument("--version", action="version", version=f"tunesmith {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tunesmith`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "command", None) is None:
        parser.print_help()
        return 0
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
