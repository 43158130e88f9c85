"""Data sources: sync queries that hang fill only their own source, and exhaustion shows.

Under a MockClock that jumps only after 0.2 s of real idleness: worker threads run in
real time, so a clock that jumped at once would time out a 1 ms thread as if it hung.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest
import trio
import trio.testing

import engine
from engine import Fragment, Page, Query, Shell, Sources
from tests.tracers import NoteTaker

SHELL = '<!doctype html><html><head><meta charset="utf-8"></head><body>{}</body></html>'


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0.2)


@pytest.fixture
def release():
    """An event every hung call waits for; set at the end so no thread outlives the test."""
    event = threading.Event()
    yield event
    event.set()


def hung_page(release: threading.Event, source: str | None = None) -> Page:
    def hangs() -> int:
        release.wait()
        return 1

    return Page(
        name="hung",
        shell=Shell(html=SHELL.format('<?marker name="a">')),
        queries=(Query(name="stuck", call=hangs, result=int, timeout=1, source=source),),
        fragments=(Fragment(target="a", uses=("stuck",), template="{{ stuck }}"),),
    )


def quick() -> str:
    time.sleep(0.001)
    return "Quick"


OTHER = Page(
    name="other",
    shell=Shell(html=SHELL.format("<h1>{{ title }}</h1>"), queries=("title",)),
    queries=(Query(name="title", call=quick, result=str, timeout=2),),
)


async def hang(count: int, page: Page, sources: Sources) -> None:
    """Start ``count`` renders of ``page`` and return once each has given up its query."""
    async with trio.open_nursery() as nursery:
        for _ in range(count):
            nursery.start_soon(
                lambda: engine.render_to_bytes(page, mode="buffered", sources=sources)
            )


async def test_hung_calls_exhaust_their_source_visibly(clock, release, caplog) -> None:
    sources = Sources()  # 40 places in `default`, as trio's own thread limit
    with caplog.at_level(logging.WARNING, logger="engine"):
        await hang(45, hung_page(release), sources)
        assert trio.current_time() == 1  # every render finished, its query timed out
        with pytest.raises(engine.ShellError) as raised:
            await engine.render_to_bytes(OTHER, sources=sources)
    # The error names the source and its limit, and says what to do.
    cause = raised.value.__cause__
    assert isinstance(cause, engine.SourceExhausted)
    assert str(cause) == (
        "page 'other', query 'title': timed out after 2 s waiting for a place: source"
        " 'default' has all 40 places taken, 40 of them by abandoned calls still running"
        " (raise it with engine.Sources(default=N), or give slow backends a source of their"
        " own: docs/pages.md#sources)"
    )
    # One log line when the source ran full, not one per waiting call.
    full = [r for r in caplog.records if "queries wait for a place" in r.getMessage()]
    assert len(full) == 2  # the 5 extra hung calls, then `title` after they gave up
    # The counters a metrics endpoint reads.
    [stats] = sources.statistics()
    assert stats == engine.SourceStatistics(
        name="default", limit=40, busy=40, abandoned=40, waiting=0, waited=6, starved=6
    )
    # Once the hung calls return, their places are free again.
    release.set()
    with trio.fail_after(60):
        while sources.statistics()[0].busy:  # noqa: ASYNC110 (threads report back; no event)
            await trio.sleep(0.01)
    assert sources.statistics()[0].abandoned == 0
    html = (await engine.render_to_bytes(OTHER, sources=sources)).decode()
    assert "<h1>Quick</h1>" in html


async def test_a_hung_backend_in_its_own_source_starves_only_itself(clock, release) -> None:
    sources = Sources(slow=4)
    await hang(45, hung_page(release, source="slow"), sources)
    html = (await engine.render_to_bytes(OTHER, sources=sources)).decode()
    assert "<h1>Quick</h1>" in html
    slow = {s.name: s for s in sources.statistics()}["slow"]
    assert (slow.limit, slow.busy, slow.abandoned, slow.starved) == (4, 4, 4, 41)


async def test_the_limit_is_configured_per_render(clock, release) -> None:
    sources = Sources(default=50)
    await hang(45, hung_page(release), sources)
    html = (await engine.render_to_bytes(OTHER, sources=sources)).decode()
    assert "<h1>Quick</h1>" in html
    # Another render given other limits has places of its own.
    await hang(45, hung_page(release), Sources(default=45))
    assert sources.statistics()[0].busy == 45


async def test_async_queries_of_a_source_wait_their_turn(autojump_clock) -> None:
    finished: list[float] = []

    async def call() -> int:
        await trio.sleep(1)
        finished.append(trio.current_time())
        return 1

    p = Page(
        name="api",
        shell=Shell(html=SHELL.format("")),
        queries=tuple(
            Query(name=f"q{i}", call=call, result=int, source="api", expose=True) for i in range(5)
        ),
    )
    sources = Sources(api=2)
    await engine.render_to_bytes(p, sources=sources)
    assert finished == [1, 1, 2, 2, 3]
    api = {s.name: s for s in sources.statistics()}["api"]
    assert (api.busy, api.waited, api.starved) == (0, 3, 0)


async def test_a_cancelled_render_abandons_its_sync_query(clock, release) -> None:
    sources = Sources()
    p = hung_page(release)
    p = Page(
        name=p.name,
        shell=p.shell,
        fragments=p.fragments,
        queries=(
            Query(name="stuck", call=p.queries[0].call, result=int),  # no timeout: only cancel
        ),
    )
    with trio.move_on_after(5) as scope:
        await engine.render_to_bytes(p, sources=sources)
    assert scope.cancelled_caught and trio.current_time() == 5
    [stats] = sources.statistics()
    assert (stats.busy, stats.abandoned) == (1, 1)


@pytest.mark.parametrize("limit", [0, -1, 2.5, True, "4"])
def test_a_limit_is_a_positive_integer(limit) -> None:
    with pytest.raises(ValueError, match="source 'db': the limit must be an integer >= 1"):
        Sources(db=limit)


async def test_an_app_shares_its_sources_across_requests(clock, release) -> None:
    from engine.asgi import App

    sources = Sources(default=3)
    app = App({"/hung": hung_page(release), "/other": OTHER}, sources=sources)

    async def get(path: str) -> int:
        sent: list[dict] = []
        asked: list[bool] = []

        async def receive() -> dict:
            if not asked:
                asked.append(True)
                return {"type": "http.request", "body": b"", "more_body": False}
            await trio.sleep_forever()

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": "/" + path.strip("/"), "headers": []}
        scope |= {"query_string": b"", "raw_path": path.encode(), "root_path": ""}
        await app(
            scope | {"http_version": "1.1", "scheme": "http", "asgi": {"version": "3.0"}},
            receive,
            send,
        )
        return sent[0]["status"]

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(get, "/hung")
    assert await get("/other") == 500  # its shell query found `default` full
    [stats] = sources.statistics()
    assert (stats.limit, stats.abandoned, stats.starved) == (3, 3, 1)


async def test_statistics_list_every_configured_source_before_its_first_call() -> None:
    # docs/pages.md: a metrics endpoint sees each configured source, used yet or not.
    sources = Sources(db=4, search=2)
    stats = sources.statistics()
    assert [(s.name, s.limit, s.busy, s.waiting, s.waited, s.starved) for s in stats] == [
        ("default", 40, 0, 0, 0, 0),
        ("db", 4, 0, 0, 0, 0),
        ("search", 2, 0, 0, 0, 0),
    ]


async def test_a_sync_querys_wait_for_its_place_is_noted_for_tracing(clock, release) -> None:
    tracer = NoteTaker()
    page = Page(
        name="noted",
        shell=Shell(html='<!doctype html><html><body><?marker name="q"></body></html>'),
        queries=(Query(name="quick", call=quick, result=str, source="db"),),
        fragments=(Fragment(target="q", uses=("quick",), template="{{ quick }}"),),
    )
    written: list[bytes] = []

    async def sink(data: bytes) -> None:
        written.append(data)

    await engine.render(page, sink, sources=Sources(db=1), tracer=tracer)
    assert b">Quick<" in b"".join(written)
    assert tracer.notes == [("quick", "admission.wait_s", 0)]


async def test_the_wait_noted_is_from_when_the_call_began_to_wait(autojump_clock) -> None:
    # `holder` takes db's one place at 0 s for 2 s; `later` asks at 1 s: it waited 1 s.
    notes: list[tuple[str, str, object]] = []

    class Notes:
        def query_note(self, name: str, key: str, value: object) -> None:
            notes.append((name, key, value))

        def query_started(self, name: str, time: float) -> None: ...

        def query_batch(self, name: str, time: float, seq: int) -> None: ...

        def query_finished(self, *args: object) -> None: ...

        def wrote(self, *args: object) -> None: ...

    async def holder() -> str:
        await trio.sleep(2)
        return "held"

    async def gate() -> int:
        await trio.sleep(1)
        return 1

    async def later(gate: int) -> str:
        return "later"

    start = trio.current_time()
    page = Page(
        name="waits",
        shell=Shell(html='<!doctype html><html><body><?marker name="q"></body></html>'),
        queries=(
            Query(name="holder", call=holder, result=str, source="db"),
            Query(name="gate", call=gate, result=int),
            Query(name="later", call=later, result=str, source="db", depends_on=("gate",)),
        ),
        fragments=(Fragment(target="q", uses=("holder", "later"), template="{{ later }}"),),
    )

    async def sink(data: bytes) -> None:
        pass

    await engine.render(page, sink, sources=Sources(db=1), tracer=Notes())
    assert trio.current_time() - start == 2
    assert sorted(notes) == [("holder", "admission.wait_s", 0), ("later", "admission.wait_s", 1)]


async def test_a_fragment_rendered_alone_runs_only_the_queries_it_needs(autojump_clock) -> None:
    ran: list[str] = []

    def recorded(name: str):
        async def call(**_: object) -> str:
            ran.append(name)
            return name

        return call

    page = Page(
        name="alone",
        shell=Shell(
            html='<!doctype html><html><body><?marker name="x"><?marker name="y"></body></html>'
        ),
        queries=(
            Query(name="a", call=recorded("a"), result=str),
            Query(name="b", call=recorded("b"), result=str, depends_on=("a",)),
            Query(name="c", call=recorded("c"), result=str),
        ),
        fragments=(
            Fragment(target="x", uses=("a",), template="{{ a }}"),
            Fragment(target="y", uses=("b", "c"), template="{{ b }}{{ c }}"),
        ),
    )
    parts: list[bytes] = []

    async def sink(data: bytes) -> None:
        parts.append(data)

    await engine.render_fragment(page, "x", sink)
    # `b` depends on `a` but no fragment rendered here needs it, nor `c`, which needs nothing.
    assert ran == ["a"]
    assert b'<template for="x">' in b"".join(parts)
