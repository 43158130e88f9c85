"""``engine check PAGE``: every definition problem at once; exit 1 on errors."""

from __future__ import annotations

import argparse
import sys

from ..definition.graph import Graph
from ._common import page_command


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    page_command(commands, "check", "validate a page and print its problems", show)


def show(graph: Graph) -> int:
    for warning in graph.warnings:
        print(warning, file=sys.stderr)
    print(
        f"page {graph.name!r}: ok ({len(graph.queries)} queries, {len(graph.fragments)}"
        f" fragments, {len(graph.warnings)} warnings)"
    )
    return 0
