"""``engine render PAGE``: the stream on stdout, each write flushed as it is produced."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping

import trio

from .._errors import EngineError
from .._render import render
from ..asgi._guest import run_as_asyncio_guest
from ..contract.trace import Timeline
from ..definition.graph import Graph
from ._common import add_page_argument, fail, load_graph

MODES = ("out-of-order", "in-order", "buffered")


def parse_param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def add_render_options(parser: argparse.ArgumentParser) -> None:
    add_page_argument(parser)
    parser.add_argument(
        "--param",
        "-p",
        action="append",
        type=parse_param,
        default=[],
        metavar="NAME=VALUE",
        help="a request parameter (repeatable)",
    )
    parser.add_argument("--mode", choices=MODES, help="default: the page's own mode")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("render", help="render a page to stdout as it streams")
    add_render_options(parser)
    parser.add_argument("--nonce", help="CSP nonce for every inline script")
    parser.add_argument(
        "--trace", action="store_true", help="print a timeline of queries and writes to stderr"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        graph = load_graph(args.page)
        # A page whose queries await asyncio libraries gets an asyncio host, trio as its guest.
        run = run_as_asyncio_guest if graph.asyncio_queries else trio.run
        timeline = run(_render, graph, dict(args.param), args)
    except BrokenPipeError:  # `engine render page.toml | head`
        return 0
    except (EngineError, ValueError) as error:
        return fail(error)
    if timeline is not None:
        print(timeline.format(), file=sys.stderr)
    return 0


async def _render(
    graph: Graph, params: Mapping[str, str], args: argparse.Namespace
) -> Timeline | None:
    out = sys.stdout.buffer
    timeline = Timeline(graph, args.mode or graph.page.mode, trio.current_time())

    def write(data: bytes) -> None:
        out.write(data)
        out.flush()

    async def sink(data: bytes) -> None:
        await trio.to_thread.run_sync(write, data)

    await render(
        graph,
        sink,
        params=params,
        mode=args.mode,
        nonce=args.nonce,
        tracer=timeline if args.trace else None,
    )
    return timeline if args.trace else None
