"""``engine check PAGE``: every definition problem at once; exit 1 on errors."""

from __future__ import annotations

import argparse
import sys

from .._errors import PageError
from ._common import add_page_argument, fail, load_graph


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("check", help="validate a page and print its problems")
    add_page_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        graph = load_graph(args.page)
    except PageError as error:
        return fail(error)
    for warning in graph.warnings:
        print(warning, file=sys.stderr)
    print(
        f"page {graph.name!r}: ok ({len(graph.queries)} queries, {len(graph.fragments)}"
        f" fragments, {len(graph.warnings)} warnings)"
    )
    return 0
