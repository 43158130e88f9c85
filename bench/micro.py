"""S2's page rendered in-process, without any server: what each way of writing it costs.

The same 50-section page as S2 (latency 0, each data call still yields once), driven
in a loop on one pinned core, with a sink that only counts writes. It separates the
cost of the rendering approach from the cost of the server's sends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import trio
import trio.testing

from bench import page
from bench.stats import summary

PATH = page.SCENARIOS["S2"]["path"]


def _page_code() -> None:
    for i in range(len(page.ROUTES[PATH])):
        page.render_section(i, page.items(i))


async def _trio_ooo(sink: Callable[[bytes], Awaitable[None]]) -> None:
    from bench.peers import trio_ooo

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message.get("body"):
            await sink(message["body"])

    await trio_ooo.app({"type": "http", "path": PATH}, receive, send)


async def _engine(sink: Callable[[bytes], Awaitable[None]]) -> None:
    import engine
    from bench.peers import engine_app

    await engine.render(engine_app.PAGES[PATH], sink)


async def _starlette_ooo(sink: Callable[[bytes], Awaitable[None]]) -> None:
    from starlette.requests import Request

    from bench.peers import starlette_ooo

    scope = {"type": "http", "path": PATH, "method": "GET", "headers": [], "query_string": b""}
    response = await starlette_ooo.endpoint(Request(scope))
    async for chunk in response.body_iterator:
        await sink(chunk.encode() if isinstance(chunk, str) else chunk)


def _time_async(runner: str, fn: Any, n: int, rounds: int) -> tuple[list[float], int]:
    writes = [0]

    async def sink(data: bytes) -> None:
        writes[0] += 1

    async def loop() -> list[float]:
        for _ in range(max(10, n // 10)):
            await fn(sink)
        out = []
        for _ in range(rounds):
            t = time.perf_counter()
            for _ in range(n):
                await fn(sink)
            out.append((time.perf_counter() - t) / n * 1e6)
        return out

    writes[0] = 0
    times = trio.run(loop) if runner == "trio" else asyncio.run(loop())
    per_render = writes[0] / (n * rounds + max(10, n // 10))
    return times, round(per_render)


def run_render(quick: bool = False, engine_ok: bool = True) -> dict[str, Any]:
    n, rounds = (50, 3) if quick else (300, 7)
    out: dict[str, Any] = {"sections": len(page.ROUTES[PATH]), "iterations": n, "rounds": rounds}
    rows: dict[str, Any] = {}
    t = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(n):
            _page_code()
        t.append((time.perf_counter() - t0) / n * 1e6)
    rows["page code only (data + HTML, no concurrency)"] = {"us": summary(t, 1), "writes": None}
    cases = [
        ("hand-written asyncio (Starlette body iterator)", "asyncio", _starlette_ooo),
        ("hand-written trio (nursery + channel)", "trio", _trio_ooo),
    ]
    if engine_ok:
        from bench.peers import engine_app

        cases.append(("engine.render", "trio", _engine))
        cases.append((f"engine through its ASGI app ({engine_app.ASGI_KIND})", "trio",
                      _asgi_caller(engine_app.app, PATH)))  # fmt: skip
    for name, runner, fn in cases:
        times, writes = _time_async(runner, fn, n, rounds)
        rows[name] = {"us": summary(times, 1), "writes": writes}
    out["rows"] = rows
    if engine_ok:
        out["memory"] = run_memory(200 if quick else 1000)
    return out


# ---------------------------------------------------------------------------------------
# The engine's ASGI layer without a server, and memory per open render
# ---------------------------------------------------------------------------------------
def _scope(path: str) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "headers": [(b"host", b"127.0.0.1")],
    }  # fmt: skip


async def _receive_then_wait() -> dict[str, Any]:
    # The first call gets the (empty) request; any later call (a disconnect watcher)
    # waits until it is cancelled, as a connected client does.
    await trio.sleep_forever()
    raise AssertionError("unreachable")


def _asgi_caller(app: Any, path: str) -> Callable[[Callable[[bytes], Awaitable[None]]], Any]:
    async def call(sink: Callable[[bytes], Awaitable[None]]) -> None:
        first = [True]

        async def receive() -> dict[str, Any]:
            if first[0]:
                first[0] = False
                return {"type": "http.request", "body": b"", "more_body": False}
            return await _receive_then_wait()

        async def send(message: dict[str, Any]) -> None:
            if message.get("body"):
                await sink(message["body"])

        await app(_scope(path), receive, send)

    return call


def run_memory(n: int, hold_s: float = 3600.0) -> dict[str, Any]:
    """Python heap (tracemalloc) held per open render while all ``n`` wait on their query.

    S3's page (one section), with the section's data call held for ``hold_s``; the
    requests are driven through each app's ASGI interface with no server, so this is the
    app's own share of S3's memory per stream (the server's connection state excluded).
    """
    import tracemalloc

    from bench.peers import engine_app, trio_ooo
    from engine.asgi import App

    path = "/bench-memory"
    page.ROUTES[path] = [hold_s]  # the hand-written app looks its route up per request
    cases = {
        "hand-written trio ASGI app": trio_ooo.app,
        "engine.asgi.App": App({path: engine_app.build_page("memory", [hold_s])}),
    }
    out: dict[str, Any] = {"renders": n}
    try:
        for name, app in cases.items():

            async def main(app: Any = app) -> float:
                writes = [0]
                all_out = trio.Event()

                async def sink(data: bytes) -> None:
                    writes[0] += 1
                    if writes[0] >= n:
                        all_out.set()

                call = _asgi_caller(app, path)
                async with trio.open_nursery() as nursery:  # warm the code paths
                    nursery.start_soon(call, sink)
                    await trio.sleep(0.05)
                    nursery.cancel_scope.cancel()
                writes[0] = 0
                tracemalloc.start()
                base = tracemalloc.get_traced_memory()[0]
                async with trio.open_nursery() as nursery:
                    for _ in range(n):
                        nursery.start_soon(call, sink)
                    await all_out.wait()  # every shell is out
                    await trio.testing.wait_all_tasks_blocked()  # every query is waiting too
                    held = tracemalloc.get_traced_memory()[0] - base
                    nursery.cancel_scope.cancel()
                tracemalloc.stop()
                return held / n / 1024

            out[name] = {"kib_per_render": round(trio.run(main), 2)}
    finally:
        page.ROUTES.pop(path, None)
    return out


def main() -> None:
    """``python -m bench.micro [--quick] [--no-engine]``: print the results as JSON.

    ``python -m bench`` runs this in a fresh process pinned to the server core, so that
    the suite's own heap (thousands of S3 results) does not slow the renders' garbage
    collection.
    """
    import json
    import sys

    args = sys.argv[1:]
    print(json.dumps(run_render("--quick" in args, "--no-engine" not in args)))


if __name__ == "__main__":
    main()
