"""asyncio queries in process: real aiosqlite and httpx.AsyncClient on an asyncio host loop
with trio as its guest (what uvicorn and ``engine render`` give them), cancellation both ways,
and a clear refusal on a pure trio host."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiosqlite
import asyncio_pages as pages
import pytest
import trio
from upstream import Upstream

import engine
from engine import Fragment, Page, Query, Shell
from engine.asgi._guest import run_as_asyncio_guest
from engine.resolution.bridge import AsyncioCancelled, asyncio_context, run_on_asyncio


@pytest.fixture
def drivers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Upstream]:
    """A SQLite file, an events file and a local HTTP service, named in the environment."""
    db = tmp_path / "shop.sqlite"
    pages.create_db(str(db))
    monkeypatch.setenv("ENGINE_TEST_DB", str(db))
    monkeypatch.setenv("ENGINE_TEST_EVENTS", str(tmp_path / "events"))
    (tmp_path / "events").touch()
    with Upstream() as upstream:
        monkeypatch.setenv("ENGINE_TEST_UPSTREAM", upstream.url)
        yield upstream


def events() -> list[str]:
    return Path(os.environ["ENGINE_TEST_EVENTS"]).read_text().splitlines()


@pytest.mark.parametrize("mode", ["out-of-order", "in-order", "buffered"])
def test_queries_await_aiosqlite_and_httpx_on_the_host_loop(drivers: Upstream, mode) -> None:
    html = run_as_asyncio_guest(lambda: engine.render_to_bytes(pages.shop, mode=mode)).decode()
    assert "<li>Kettle</li><li>Teapot</li><li>Mug &lt;3</li>" in html
    assert "Lyon: 21.5 °C" in html
    assert '"name":"Mug \\u003c3"' in html  # exposed, embedded safely


def test_a_batched_asyncio_query_streams_its_cursor_in_batches(drivers: Upstream) -> None:
    html = run_as_asyncio_guest(engine.render_to_bytes, pages.batches).decode()
    assert '<li>Kettle</li><li>Teapot</li><?marker name="list.1">' in html
    assert '<template for="list.1"><li>Mug &lt;3</li>' in html


def test_an_asyncio_exception_or_cancellation_fails_only_its_query(drivers: Upstream) -> None:
    failures: list[tuple[str, BaseException]] = []

    async def main() -> bytes:
        parts: list[bytes] = []

        async def sink(data: bytes) -> None:
            parts.append(data)

        await engine.render(
            pages.failing, sink, mode="in-order", on_error=lambda p, n, e: failures.append((n, e))
        )
        return b"".join(parts)

    html = run_as_asyncio_guest(main).decode()
    assert "<!--engine:failed--><i>a failed</i>" in html
    assert "<!--engine:failed--><i>b failed</i>" in html
    causes = {name: error.__cause__ for name, error in failures}
    assert type(causes["broken"]).__name__ == "OperationalError"
    assert isinstance(causes["cancels_itself"], AsyncioCancelled)


def test_cancelling_the_render_cancels_the_blocked_asyncio_task(drivers: Upstream) -> None:
    async def main() -> list[str]:
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:

                async def sink(data: bytes) -> None:
                    pass

                nursery.start_soon(lambda: engine.render(pages.hang, sink, params={"label": "x"}))
                await trio.to_thread.run_sync(drivers.hanging.acquire)  # the request is out
                scope.cancel()  # what a client disconnect does to the render
        return events()  # the host loop still runs: nothing else has cancelled the task yet

    assert run_as_asyncio_guest(main) == ["started x asyncio-task=True", "cancelled x"]


def test_a_timeout_cancels_the_asyncio_task_and_fails_the_query(drivers: Upstream) -> None:
    page = Page(
        name="timed",
        shell=Shell(html='<!doctype html><p><?marker name="late"></p>'),
        queries=(Query(name="hanging", call=pages.hanging, result=str, timeout=0.05),),
        fragments=(
            Fragment(target="late", uses=("hanging",), template="{{ hanging }}", error="late!"),
        ),
    )

    async def main() -> tuple[bytes, list[str]]:
        return await engine.render_to_bytes(page), events()

    html, seen = run_as_asyncio_guest(main)
    assert b"<!--engine:failed-->late!" in html
    assert seen == ["started hang asyncio-task=True", "cancelled hang"]


def test_a_cancelled_asyncio_query_unwinds_before_the_render_goes_on() -> None:
    # docs: cancelling the trio side cancels the asyncio task and waits for it to finish
    # unwinding (closing its cursor, giving back its connection), however long that takes.
    log: list[str] = []

    @engine.on_asyncio
    async def slow() -> str:
        try:
            await asyncio.sleep(60)
        finally:
            await asyncio.sleep(0.05)  # a cleanup that takes the host loop a while
            log.append("unwound")
        return "never"

    page = Page(
        name="unwinds",
        shell=Shell(html='<!doctype html><p><?marker name="late"></p>'),
        queries=(Query(name="slow", call=slow, result=str, timeout=0.05),),
        fragments=(Fragment(target="late", uses=("slow",), template="{{ slow }}", error="late!"),),
    )

    async def main() -> bytes:
        html = await engine.render_to_bytes(page)
        log.append("render returned")
        return html

    assert b"<!--engine:failed-->late!" in run_as_asyncio_guest(main)
    assert log == ["unwound", "render returned"]


async def test_a_pure_trio_host_refuses_the_page_before_the_first_byte() -> None:
    written: list[bytes] = []

    async def sink(data: bytes) -> None:
        written.append(data)

    with pytest.raises(engine.NoAsyncioHost) as caught:
        await engine.render(pages.shop, sink)
    assert written == []
    assert caught.value.status_code == 500 and caught.value.page == "asyncio-shop"
    assert str(caught.value) == (  # the fix, whole: the hosts that run such pages
        "page 'asyncio-shop': queries 'products', 'weather' run on asyncio"
        ' (loop = "asyncio" or @engine.on_asyncio) but no asyncio loop hosts this render'
        " (a pure trio host: trio.run or Hypercorn's trio worker); serve it from an asyncio"
        " server (uvicorn, `hypercorn --worker-class asyncio`, Starlette/FastAPI) or with"
        " `engine serve`/`engine render`, which pick an asyncio host for such pages"
    )
    with pytest.raises(engine.NoAsyncioHost):
        await engine.render_fragment(pages.shop, "weather", sink)


async def test_app_startup_fails_on_a_pure_trio_host_naming_page_and_query() -> None:
    sent: list[dict] = []
    messages = iter([{"type": "lifespan.startup"}])

    async def receive() -> dict:
        return next(messages)

    async def send(message: dict) -> None:
        sent.append(message)

    await pages.app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.failed"]
    assert "page 'asyncio-shop'" in sent[0]["message"]
    assert "queries 'products', 'weather' run on asyncio" in sent[0]["message"]
    assert pages.app.asyncio_queries["asyncio-hang"] == ("hanging",)


def test_an_app_without_asyncio_queries_starts_under_trio() -> None:
    from engine.asgi import App

    trio_only = App({"/": pages.shop.__class__(name="t", shell=Shell(html="<p>hi</p>"))})
    sent: list[dict] = []
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict:
        return next(messages)

    async def send(message: dict) -> None:
        sent.append(message)

    trio.run(trio_only, {"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_the_loop_key_on_a_sync_callable_is_a_definition_error() -> None:
    def sync_call() -> str:
        return "x"

    page = Page(
        name="p",
        shell=Shell(html="<p></p>"),
        queries=(Query(name="q", call=sync_call, result=str, loop="asyncio"),),
    )
    with pytest.raises(engine.PageError) as caught:
        engine.Graph.build(page)
    (problem,) = [p for p in caught.value.problems if p.severity == "error"]
    assert problem.key == "$.queries[0].loop" and problem.node == "q"
    assert "is not async" in problem.message


async def test_a_plain_fake_replaces_an_asyncio_query_under_trio() -> None:
    async def fake_products() -> list[pages.Product]:
        return [pages.Product(9, "Fake")]

    async def fake_weather() -> pages.Weather:
        return pages.Weather("Nowhere", 0.0)

    graph = engine.Graph.build(pages.shop).with_calls(
        {"products": fake_products, "weather": fake_weather}
    )
    assert graph.asyncio_queries == ()
    html = (await engine.render_to_bytes(graph)).decode()
    assert "<li>Fake</li>" in html and "Nowhere: 0.0" in html


def test_a_resource_entered_on_the_host_loop_serves_queries(drivers: Upstream) -> None:
    async def main() -> list[tuple[int, str]]:
        async with asyncio_context(aiosqlite.connect(os.environ["ENGINE_TEST_DB"])) as db:

            async def first_two() -> list[tuple[int, str]]:
                async with db.execute("select id, name from product limit 2") as cursor:
                    return [tuple(row) async for row in cursor]

            rows = await run_on_asyncio(first_two)
        assert not db._running  # closed, by the task that opened it
        return rows

    assert run_as_asyncio_guest(main) == [(1, "Kettle"), (2, "Teapot")]


async def test_run_on_asyncio_without_a_host_loop_says_so() -> None:
    async def never() -> None:
        raise AssertionError("must not run")

    with pytest.raises(RuntimeError, match="needs an asyncio loop"):
        await run_on_asyncio(never)


def test_a_batched_asyncio_query_is_closed_on_asyncio_when_the_render_stops() -> None:
    # Closing the generator runs its cleanup (a cursor, a connection: asyncio code), so it
    # must run on the host loop like every other step, here when the client goes away.
    closed: list[bool] = []

    @engine.on_asyncio
    async def endless() -> AsyncIterator[list[int]]:
        try:
            while True:
                await asyncio.sleep(0)
                yield [1]
        finally:
            closed.append(asyncio.current_task() is not None)
            await asyncio.sleep(0)  # asyncio code while closing

    page = Page(
        name="endless",
        shell=Shell(html='<!doctype html><html><body><ul><?marker name="feed"></ul></body></html>'),
        queries=(Query(name="feed", call=endless, result=list[int]),),
        fragments=(
            Fragment(target="feed", uses=("feed",), mode="append", template="<li>{{ feed.0 }}"),
        ),
    )

    async def main() -> None:
        async def leaving(data: bytes) -> None:
            if b"<li>" in data:
                raise trio.BrokenResourceError("client went away")

        with pytest.raises(trio.BrokenResourceError):
            await engine.render(page, leaving)

    run_as_asyncio_guest(main)
    assert closed == [True]
