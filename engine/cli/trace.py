"""``engine trace PAGE``: render once and draw the waterfall (SVG) of what happened."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import trio

from .._errors import EngineError
from .._render import render
from ..contract.trace import Timeline
from ..definition.graph import Graph
from ..pictures.waterfall import waterfall_svg
from ._common import fail, load_graph
from .render import add_render_options, request_of


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("trace", help="render a page and write a waterfall SVG")
    add_render_options(parser)
    parser.add_argument("--output", "-o", default="-", help="SVG file (default: stdout)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        graph = load_graph(args.page)
        timeline = trio.run(_trace, graph, args)
    except (EngineError, ValueError) as error:
        return fail(error)
    svg = waterfall_svg(timeline)
    if args.output == "-":
        sys.stdout.write(svg)
    else:
        Path(args.output).write_text(svg, encoding="utf-8")
        print(timeline.format(), file=sys.stderr)
    return 0


async def _trace(graph: Graph, args: argparse.Namespace) -> Timeline:
    timeline = Timeline(graph, args.mode or graph.page.mode, trio.current_time())

    async def discard(data: bytes) -> None:
        pass

    await render(graph, discard, request=request_of(args), mode=args.mode, tracer=timeline)
    return timeline
