"""``engine render PAGE``: the stream on stdout, each write flushed as it is produced."""

from __future__ import annotations

import argparse
import sys

import trio

from .._errors import EngineError, Redirect
from .._render import render
from ..asgi._guest import run_as_asyncio_guest
from ..context.request import Request
from ..context.response import Response, check_header
from ..contract.trace import Timeline
from ..definition.graph import Graph
from ._common import add_page_argument, fail, load_graph

MODES = ("out-of-order", "in-order", "buffered")


def parse_param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def parse_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {text!r}")
    try:
        check_header(name.strip(), value.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return name.strip(), value.strip()


def request_of(args: argparse.Namespace) -> Request:
    """The request ``-p``, ``--header`` and ``--cookie`` describe."""
    return Request.build(
        params=dict(args.param), headers=list(args.header), cookies=dict(args.cookie)
    )


def add_render_options(parser: argparse.ArgumentParser) -> None:
    add_page_argument(parser)
    parser.add_argument(
        "--param",
        "-p",
        action="append",
        type=parse_param,
        default=[],
        metavar="NAME=VALUE",
        help="a path or query-string parameter (repeatable)",
    )
    parser.add_argument(
        "--header",
        "-H",
        action="append",
        type=parse_header,
        default=[],
        metavar="'NAME: VALUE'",
        help="a request header (repeatable)",
    )
    parser.add_argument(
        "--cookie",
        action="append",
        type=parse_param,
        default=[],
        metavar="NAME=VALUE",
        help="a request cookie (repeatable)",
    )
    parser.add_argument("--mode", choices=MODES, help="default: the page's own mode")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("render", help="render a page to stdout as it streams")
    add_render_options(parser)
    parser.add_argument("--nonce", help="CSP nonce for every inline script")
    parser.add_argument(
        "--trace", action="store_true", help="print a timeline of queries and writes to stderr"
    )
    parser.add_argument(
        "--include",
        "-i",
        action="store_true",
        help="print the response head (status, headers and cookies set by shell queries) first",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        graph = load_graph(args.page)
        # A page whose queries await asyncio libraries gets an asyncio host, trio as its guest.
        run = run_as_asyncio_guest if graph.asyncio_queries else trio.run
        timeline = run(_render, graph, request_of(args), args)
    except BrokenPipeError:  # `engine render page.toml | head`
        return 0
    except Redirect as redirect:
        print(f"redirect: {redirect.status_code} to {redirect.location}", file=sys.stderr)
        return 0
    except (EngineError, ValueError) as error:
        return fail(error)
    if timeline is not None:
        print(timeline.format(), file=sys.stderr)
    return 0


async def _render(graph: Graph, request: Request, args: argparse.Namespace) -> Timeline | None:
    out = sys.stdout.buffer
    timeline = Timeline(graph, args.mode or graph.page.mode, trio.current_time())
    head = Response(secure=request.secure)

    def write(data: bytes) -> None:
        if args.include and not head.sent:
            lines = [b"HTTP/1.1 200 OK", *(k + b": " + v for k, v in _head_lines(head))]
            out.write(b"\r\n".join(lines) + b"\r\n\r\n")
        out.write(data)
        out.flush()

    async def sink(data: bytes) -> None:
        await trio.to_thread.run_sync(write, data)

    await render(
        graph,
        sink,
        request=request,
        response=head,
        mode=args.mode,
        nonce=args.nonce,
        tracer=timeline if args.trace else None,
    )
    return timeline if args.trace else None


def _head_lines(head: Response) -> list[tuple[bytes, bytes]]:
    cache = [(b"cache-control", head.cache_control.encode())] if head.cache_control else []
    return [(b"content-type", b"text/html; charset=utf-8"), *cache, *head.head()]
