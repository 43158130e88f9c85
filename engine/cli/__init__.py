"""The ``engine`` command: render, check, graph and serve pages.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and
``run(args) -> int``; this module only dispatches.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from . import check, diagnose, graph, render, schema, serve, trace

__all__ = ["main"]

_COMMANDS = (render, check, graph, trace, schema, serve, diagnose)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="engine", description="A declarative dataflow engine that streams HTML."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _COMMANDS:
        command.add_parser(commands)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
