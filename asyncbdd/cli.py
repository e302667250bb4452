"""The ``asyncbdd`` command."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from asyncbdd import __version__

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``asyncbdd`` command line; return its exit status."""
    parser = argparse.ArgumentParser(
        prog="asyncbdd",
        description="Behaviour-driven testing for asynchronous, event-driven systems.",
    )
    parser.add_argument("--version", action="version", version=f"asyncbdd {__version__}")
    parser.parse_args(argv)
    parser.print_help()
    return 0
