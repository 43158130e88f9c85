"""App resources over ASGI: entered at lifespan startup, shared by requests, closed at
shutdown; opened on first use where no lifespan comes (a Starlette Mount); one set per worker
process under ``engine serve --workers 2``; on Hypercorn's trio worker and under uvicorn."""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator

import msgspec
import pytest
import resource_site
import trio
from servers import fetch, free_port, hypercorn_argv, start_server, uvicorn_argv
from test_app import call

import engine
from engine.asgi import App


@pytest.fixture(autouse=True)
def fresh_events() -> None:
    resource_site.EVENTS.clear()


class Lifespan:
    """The server side of the lifespan protocol."""

    def __init__(self) -> None:
        self.inbox_send, self.inbox = trio.open_memory_channel[dict](10)
        self.sent: list[str] = []
        self.event = trio.Event()

    async def receive(self) -> dict:
        return await self.inbox.receive()

    async def send(self, message: dict) -> None:
        self.sent.append(message["type"])
        self.event.set()
        self.event = trio.Event()


async def test_lifespan_opens_once_shares_across_requests_and_closes(autojump_clock) -> None:
    app = App({"/": resource_site.page, "/again": resource_site.page})
    server = Lifespan()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(app, {"type": "lifespan"}, server.receive, server.send)
        await server.inbox_send.send({"type": "lifespan.startup"})
        await server.event.wait()
        assert server.sent == ["lifespan.startup.complete"]
        assert [e.split()[:2] for e in resource_site.EVENTS] == [["open", "pool"]]
        bodies = [(await call(app, path)).body for path in ("/", "/again", "/")]
        serials = {re.search(rb"pool=(\d+)", b)[1] for b in bodies}  # type: ignore[index]
        assert len(serials) == 1, "every request sees the one pool the app opened"
        assert sum(e.startswith("open pool") for e in resource_site.EVENTS) == 1
        await server.inbox_send.send({"type": "lifespan.shutdown"})
    assert server.sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert resource_site.EVENTS[-1].startswith("close pool")
    assert "open cache" not in resource_site.EVENTS, "no query needs the cache: never opened"


async def test_without_lifespan_resources_open_on_first_use_once(autojump_clock) -> None:
    app = App({"/": resource_site.page})
    async with trio.open_nursery():
        first, second = (await call(app, "/")).body, (await call(app, "/")).body
        assert [e.split()[:2] for e in resource_site.EVENTS] == [["open", "pool"]]
    assert re.search(rb"pool=(\d+)", first)[1] == re.search(rb"pool=(\d+)", second)[1]  # type: ignore[index]


async def test_a_resource_that_cannot_open_fails_startup(autojump_clock) -> None:
    async def refuse() -> AsyncIterator[None]:
        raise ConnectionRefusedError("db down")
        yield

    page = msgspec.structs.replace(resource_site.page, resources=engine.Resources(pool=refuse))
    server = Lifespan()
    await server.inbox_send.send({"type": "lifespan.startup"})
    await App({"/": page})({"type": "lifespan"}, server.receive, server.send)
    assert server.sent == ["lifespan.startup.failed"]


def _serve_workers(tmp_path, workers: int):
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "engine",
        "serve",
        "resource_site:page",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    return start_server(argv, port=port, log=tmp_path / "serve.log", name="engine serve")


def test_each_worker_of_engine_serve_has_its_own_resources(tmp_path) -> None:
    server = _serve_workers(tmp_path, 2)
    try:
        seen: dict[bytes, set[bytes]] = {}
        for _ in range(200):
            body = fetch(server.port, "/").body
            found = re.search(rb"pid=(\d+) pool=(\d+)", body)
            assert found, body
            seen.setdefault(found[1], set()).add(found[2])
            if len(seen) == 2:
                break
        assert len(seen) == 2, f"only one worker answered: {seen}"
        for pid, pools in seen.items():
            assert len(pools) == 1, f"worker {pid} opened more than one pool: {pools}"
    finally:
        server.stop()
    log = server.output()
    assert log.count("Traceback") == 0, log


@pytest.mark.parametrize("kind", ["hypercorn", "uvicorn"])
def test_real_servers_open_resources_at_startup_and_close_them(tmp_path, kind) -> None:
    port = free_port()
    app = "resource_app:app"
    argv = hypercorn_argv(app, port) if kind == "hypercorn" else uvicorn_argv(app, port)
    server = start_server(argv, port=port, log=tmp_path / f"{kind}.log", name=kind)
    try:
        bodies = [fetch(server.port, "/").body for _ in range(3)]
        assert len({re.search(rb"pool=(\d+)", b)[1] for b in bodies}) == 1  # type: ignore[index]
    finally:
        assert server.stop() == 0
    log = server.output()
    assert "resource_app: open pool 1" in log and "resource_app: close pool 1" in log, log
    assert log.index("open pool 1") < log.index("close pool 1")


async def test_an_app_takes_fakes_for_its_resources(autojump_clock) -> None:
    fake = resource_site.Pool(pid=0, serial=99)
    app = App({"/": resource_site.page}, resources={"pool": fake})
    assert b"pid=0 pool=99" in (await call(app, "/")).body
    assert resource_site.EVENTS == [], "the real pool is never opened"
    with pytest.raises(KeyError, match="declares resource nope"):
        App({"/": resource_site.page}, resources={"nope": 1})
