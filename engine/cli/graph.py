"""``engine graph PAGE``: the page's DAG as Mermaid text."""

from __future__ import annotations

import argparse
import sys

from .._diagram import mermaid
from .._errors import PageError
from ._common import add_page_argument, fail, load_graph


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("graph", help="print the page's graph as Mermaid text")
    add_page_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        graph = load_graph(args.page)
    except PageError as error:
        return fail(error)
    sys.stdout.write(mermaid(graph))
    return 0
