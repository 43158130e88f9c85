"""Instructions per S2 page, counted by callgrind: the one figure here that noise cannot move.

Wall-clock figures on a shared 2-core machine move by ±30% between runs; valgrind's
instruction count for the same code and inputs is the same twice. Each case renders the
S2 page (50 sections, each data call yielding once) 64 at a time in one trio run, once
with ``WARM`` pages and once with ``WARM + COUNT``; the difference divided by ``COUNT``
is the cost of one page, start-up and imports excluded. Instructions are not seconds
(cache misses are free here), so this ranks changes to the render path; it does not
replace the timed scenarios.

    python -m bench.instructions            all cases (about 5 minutes on 2 cores)
    python -m bench.instructions app floor  some of them

The ``s4-*`` cases count one request of S4's large page through each app's ASGI interface,
no server: the engine (Jinja2 fragments, engine.html fragments) against the Starlette page
that renders the same Jinja2 template whole. Those pages are bigger, so fewer are counted.

Not part of ``python -m bench``: it needs valgrind (Debian package ``valgrind``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import trio

WARM, COUNT, CONCURRENCY = 64, 384, 64

CASES = {
    "page": "page code only: rows, typed conversion, section HTML (the floor's first half)",
    "floor": "50 trio tasks that yield once and report on a channel (the floor's second half)",
    "render": "engine.render into a sink",
    "app": "engine.asgi.App, one ASGI request",
    "app-asyncio": "engine.asgi.App, one ASGI request on an asyncio loop (trio guest mode)",
    "peer-asyncio": "hand-written Starlette page (peer b), one ASGI request on an asyncio loop",
    "s5-page": "S5: the page's own work once warm: 50 section renderers over rows already typed",
    "s5-app": "S5: engine.asgi.App, one ASGI request of the S2 page with every query cached, warm",
    "s5-app-asyncio": "S5: the same on an asyncio loop (trio guest mode), as under uvicorn",
    "s4-jinja-page": "S4: Starlette + a Jinja2 template rendered whole, one ASGI request",
    "s4-page": "S4: the engine page's own work: rows, typed conversion, its 4 Jinja2 fragments",
    "s4-render": "S4: engine.render (Jinja2 fragments) into a sink",
    "s4-app": "S4: engine.asgi.App with Jinja2 fragments, one ASGI request",
    "s4-html-app": "S4: engine.asgi.App with engine.html fragments, one ASGI request",
}
#: S4 cases: (warm pages, counted pages, concurrency); a page is ~10x S2's.
S4_COUNTS = (8, 48, 8)

ASYNCIO_CASES = ("app-asyncio", "peer-asyncio", "s5-app-asyncio")


async def _page() -> None:
    import msgspec

    from bench import page
    from bench.peers import engine_app

    for i in range(len(page.ROUTES["/s2"])):
        rows = msgspec.convert(page.items(i), list[engine_app.Item], from_attributes=True)
        engine_app.section_renderer(i, "q")(q=rows)


async def _floor() -> None:
    send, receive = trio.open_memory_channel[int](float("inf"))

    async def query(i: int) -> None:
        await trio.sleep(0)  # noqa: ASYNC115 (what the S2 page's data calls do)
        send.send_nowait(i)

    async with trio.open_nursery() as nursery:
        for i in range(50):
            nursery.start_soon(query, i)
        for _ in range(50):
            await receive.receive()


async def _sink(data: bytes) -> None:
    await trio.lowlevel.checkpoint()


async def _render() -> None:
    import engine
    from bench.peers import engine_app

    await engine.render(engine_app.PAGES["/s2"], _sink)


async def _request(app: Any, path: str) -> None:
    from bench.micro import _scope

    async def receive() -> dict[str, Any]:
        await trio.sleep_forever()  # a connected client: the disconnect watcher waits
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        await trio.lowlevel.checkpoint()

    await app(_scope(path), receive, send)


async def _app() -> None:
    from bench.peers import engine_app

    await _request(engine_app.app, "/s2")


_S5_ROWS: list[Any] = []


async def _s5_page() -> None:
    import msgspec

    from bench import page
    from bench.peers import engine_app

    if not _S5_ROWS:  # a warm cache holds the rows typed: converted once, not per page
        _S5_ROWS.extend(
            msgspec.convert(page.items(i), list[engine_app.Item]) for i in range(page.S5_SECTIONS)
        )
    for i, rows in enumerate(_S5_ROWS):
        engine_app.section_renderer(i, "q")(q=rows)


async def _s5_app() -> None:
    from bench import page
    from bench.peers import engine_app

    await _request(engine_app.app, page.S5_PATH)  # the warm-up pages fill the cache


async def _s4_jinja_page() -> None:
    from bench.peers import s4_jinja

    await _request(s4_jinja.page_app, "/s4")


_S4_GRAPH: list[Any] = []


async def _s4_page() -> None:
    import msgspec

    from bench import page
    from bench.peers import engine_app
    from engine import Graph

    if not _S4_GRAPH:
        _S4_GRAPH.append(Graph.build(engine_app.PAGES["/s4"]))
    graph = _S4_GRAPH[0]
    values = {"rows": msgspec.convert(page.table_rows(), list[engine_app.Row])}
    for i in range(1, page.S4_SECTIONS):
        values[f"q{i}"] = msgspec.convert(page.items(i), list[engine_app.Item])
    for f in graph.fragments:
        f.renderer(values).encode()


async def _s4_render() -> None:
    import engine
    from bench.peers import engine_app

    await engine.render(engine_app.PAGES["/s4"], _sink)


async def _s4_app() -> None:
    from bench.peers import engine_app

    await _request(engine_app.app, "/s4")


_S4_HTML_APP: list[Any] = []


async def _s4_html_app() -> None:
    if not _S4_HTML_APP:
        from bench.peers import engine_app
        from engine.asgi import App

        _S4_HTML_APP.append(App({"/s4": engine_app.build_large_page("html")}))
    await _request(_S4_HTML_APP[0], "/s4")


def _asyncio_request(app: Any, path: str) -> Callable[[], Awaitable[None]]:
    """One request for ``path`` to ``app`` as an asyncio server makes it: the request body, then a
    ``receive`` that waits (a connected client), and a ``send`` that does not block (the
    transport's buffer takes the bytes)."""
    import asyncio

    from bench.micro import _scope

    async def request() -> None:
        first = [True]

        async def receive() -> dict[str, Any]:
            if first[0]:
                first[0] = False
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()  # a connected client: the disconnect watcher waits
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            pass

        await app(_scope(path), receive, send)

    return request


def _drive_asyncio(case: str, pages: int) -> None:
    import asyncio

    from bench import page

    if case == "peer-asyncio":
        from bench.peers import starlette_ooo

        app = starlette_ooo.app
    else:
        from bench.peers import engine_app

        app = engine_app.app
    request = _asyncio_request(app, page.S5_PATH if case.startswith("s5-") else "/s2")

    async def worker(n: int) -> None:
        for _ in range(n):
            await request()

    async def main() -> None:
        await asyncio.gather(*(worker(pages // CONCURRENCY) for _ in range(CONCURRENCY)))

    asyncio.run(main())


def _drive(case: str, pages: int) -> None:
    if case in ASYNCIO_CASES:
        _drive_asyncio(case, pages)
        return
    fn = {
        "page": _page, "floor": _floor, "render": _render, "app": _app,
        "s5-page": _s5_page, "s5-app": _s5_app,
        "s4-jinja-page": _s4_jinja_page, "s4-page": _s4_page, "s4-render": _s4_render,
        "s4-app": _s4_app, "s4-html-app": _s4_html_app,
    }[case]  # fmt: skip
    concurrency = S4_COUNTS[2] if case.startswith("s4-") else CONCURRENCY

    async def worker(n: int) -> None:
        for _ in range(n):
            await fn()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            for _ in range(concurrency):
                nursery.start_soon(worker, pages // concurrency)

    trio.run(main)


def _count(case: str, pages: int) -> int:
    argv = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, "-m", "bench.instructions", "--drive", case, str(pages),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no total:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def measure(case: str) -> float:
    """Millions of instructions per page for ``case``."""
    warm, count = S4_COUNTS[:2] if case.startswith("s4-") else (WARM, COUNT)
    with ThreadPoolExecutor(2) as pool:  # the two runs are independent: one per core
        base, more = pool.map(lambda n: _count(case, n), (warm, warm + count))
    return (more - base) / count / 1e6


def main(argv: list[str]) -> int:
    if argv[:1] == ["--drive"]:
        _drive(argv[1], int(argv[2]))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    cases = argv or list(CASES)
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        print(f"unknown case {', '.join(unknown)}; choose from {', '.join(CASES)}", file=sys.stderr)
        return 2
    os.environ.setdefault("PYTHONHASHSEED", "0")  # same dict layouts, run after run
    print(f"{'case':13} {'M instructions/page':>20}  what")
    for case in cases:
        print(f"{case:13} {measure(case):20.2f}  {CASES[case]}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
