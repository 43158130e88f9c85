"""What the subcommands share: loading PAGE and reporting errors in one line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from .._errors import EngineError, PageError
from ..definition.graph import Graph
from ..definition.load import load


def add_page_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "page", metavar="PAGE", help="a page file (.toml/.json/.yaml) or module:attr"
    )


def load_graph(ref: str) -> Graph:
    """Load and check PAGE; a page file's problems name the file and key."""
    page = load(ref)
    source = ref if Path(ref).suffix.lower() in (".toml", ".json", ".yaml", ".yml") else None
    return Graph.build(page, source=source)


def fail(error: BaseException) -> int:
    """Print ``error`` for a person (every problem of a PageError) and return exit code 1."""
    if isinstance(error, PageError):
        for problem in error.problems:
            print(problem, file=sys.stderr)
    elif isinstance(error, EngineError):
        print(f"error: {error}", file=sys.stderr)
    else:
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
    return 1


def page_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help: str,
    show: Callable[[Graph], int],
) -> None:
    """A subcommand that loads and checks PAGE, then shows something of its graph."""

    def run(args: argparse.Namespace) -> int:
        try:
            graph = load_graph(args.page)
        except PageError as error:
            return fail(error)
        return show(graph)

    parser = commands.add_parser(name, help=help)
    add_page_argument(parser)
    parser.set_defaults(run=run)
