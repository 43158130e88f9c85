"""``engine graph PAGE``: the page's DAG as Mermaid text."""

from __future__ import annotations

import argparse
import sys

from ..definition.graph import Graph
from ..pictures.diagram import mermaid
from ._common import page_command


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    page_command(commands, "graph", "print the page's graph as Mermaid text", show)


def show(graph: Graph) -> int:
    sys.stdout.write(mermaid(graph))
    return 0
