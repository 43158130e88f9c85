"""What an open stream costs the process: S3 holds a thousand of them, each for seconds.

A render that waits for its data must not hold copies of its request: the server's scope
already holds the headers, and a browser sends a kilobyte or two of them (cookies, user agent,
client hints). Measured in process with a Chrome-like header set (16 headers, 771 bytes) on
1,000 open S3 streams: 22.9 KiB of Python heap each while every render decoded and lower-cased
them up front (an object per name and value, twice), 17.9 KiB since they are read in place.
"""

from __future__ import annotations

import functools
from typing import Any

import trio

import engine
from engine.asgi import App
from tests.memory import held_per_task

HEADER_BYTES = 40 * 1_000  # what the x-hint headers add to a request


def _page(gate: list[trio.Event]) -> engine.Page:
    async def slow() -> str:
        await gate[0].wait()
        return "done"

    return engine.Page(
        name="waits",
        shell=engine.Shell(html='<!doctype html><body><?marker name="a">'),
        queries=(engine.Query(name="q", call=slow, result=str),),
        fragments=(engine.Fragment(target="a", uses=("q",), template="{{ q }}"),),
    )


def _scope(hints: int) -> dict[str, Any]:
    headers = [(b"host", b"testserver"), (b"cookie", b"theme=dark")]
    headers += [(b"x-hint-%d" % i, b"v" * 1_000) for i in range(hints)]
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/", "raw_path": b"/", "root_path": "", "query_string": b"",
        "headers": headers, "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }  # fmt: skip


async def _call(app: App, scope: dict[str, Any]) -> None:
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        pass  # the bytes are dropped, as a socket that took them would

    await app(scope, receive, send)


async def _held_per_render(app: App, gate: list[trio.Event], hints: int) -> float:
    """Python heap each of four requests holds while it waits for its data."""
    gate[0] = trio.Event()
    scopes = [_scope(hints) for _ in range(4)]  # the server's, made before the render starts
    calls = [functools.partial(_call, app, scope) for scope in scopes]
    return await held_per_task(calls, gate[0].set)


async def test_an_open_stream_holds_its_request_headers_once() -> None:
    gate = [trio.Event()]
    gate[0].set()  # for the warm-up request
    app = App({"/": _page(gate)})
    await _call(app, _scope(40))  # warm: plan, templates, code paths
    few = await _held_per_render(app, gate, 0)
    many = await _held_per_render(app, gate, 40)  # 40 KB more of headers in the scope
    assert many - few < HEADER_BYTES / 10, f"40 KB of headers cost {many - few:,.0f} bytes more"
