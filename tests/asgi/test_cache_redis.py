"""The Redis store against a real ``redis-server``: typed values, Redis's own expiry, entries
shared between runs (workers), single flight, and an outage that never fails a page."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st
from redis_server import redis_server

import engine
from engine import Cache, Fragment, Page, Query, Shell
from engine.caching import Entry, StoreUnavailable
from engine.caching.stores import CachedFailure
from tests.test_cache_keys import each_sees_their_own, visitors

SHELL = '<!doctype html><html><head><meta charset="utf-8"></head><body>{}</body></html>'


class Item(msgspec.Struct, frozen=True):
    id: int
    name: str
    tags: tuple[str, ...] = ()


@pytest.fixture
def redis_port(tmp_path: Path) -> Iterator[int]:
    with redis_server(tmp_path) as port:
        yield port


@pytest.fixture(scope="module")
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server for every example of a property: entries outlive examples, as in production."""
    with redis_server(tmp_path_factory.mktemp("redis")) as port:
        yield f"redis://127.0.0.1:{port}"


@settings(max_examples=40)
@given(sequence=st.lists(visitors, min_size=2, max_size=8))
def test_redis_never_serves_one_visitors_value_to_another(shared_redis: str, sequence) -> None:
    async def main() -> None:
        store = engine.RedisStore(shared_redis)
        try:
            await each_sees_their_own(sequence, store)
            await trio.testing.wait_all_tasks_blocked()  # the last fills land before closing
        finally:
            await store.aclose()

    trio.run(main)


CALLS: list[int] = []


async def items(shelf: int) -> list[Item]:
    CALLS.append(shelf)
    await trio.sleep(0.05)
    return [Item(shelf, f"item <{shelf}>", ("a", "b"))]


PAGE = Page(
    name="shelf",
    shell=Shell(html=SHELL.format('<ul><?marker name="items"></ul>')),
    queries=(
        Query(
            name="items",
            call=items,
            result=list[Item],
            params=("shelf",),
            cache=Cache(ttl=60, stale=60),
        ),
    ),
    fragments=(Fragment(target="items", uses=("items",), template="{{ items }}", fallback="…"),),
)


async def shelf(store: engine.RedisStore, number: int) -> str:
    html = await engine.render_to_bytes(
        PAGE, params={"shelf": str(number)}, cache=store, mode="in-order"
    )
    return html.decode()


async def test_values_come_back_typed_and_fresh_or_stale_by_redis_ttl(redis_port: int) -> None:
    store = engine.RedisStore(f"redis://127.0.0.1:{redis_port}")
    value = [Item(1, "one", ("x",))]
    await store.write("k/fresh", Entry(value), fresh=60, stale=60)
    await store.write("k/stale", Entry(value), fresh=0, stale=60)  # stale from the start
    fresh = await store.read("k/fresh", list[Item], stale=60)
    stale = await store.read("k/stale", list[Item], stale=60)
    assert fresh is not None and fresh.fresh and fresh.entry.value == value
    assert stale is not None and not stale.fresh and stale.entry.value == value
    assert await store.read("k/fresh", list[int], stale=0) is None  # written for another type
    failure = CachedFailure("not-found", "no shelf 9")
    await store.write("k/failed", Entry(failure=failure), fresh=5, stale=0)
    found = await store.read("k/failed", list[Item], stale=0)
    assert found is not None and found.entry.failure == failure
    await store.delete("k/fresh")
    assert await store.read("k/fresh", list[Item], stale=60) is None
    ttl = await store.command([b"PTTL", b"engine:k/failed"])
    assert 0 < ttl[0] <= 5000  # Redis's own expiry: fresh + stale, in ms
    await store.aclose()


def test_two_runs_share_entries_as_two_workers_would(redis_port: int) -> None:
    CALLS.clear()
    url = f"redis://127.0.0.1:{redis_port}"

    async def worker() -> str:
        store = engine.RedisStore(url)  # a new process would build its own
        try:
            return await shelf(store, 4)
        finally:
            await store.aclose()

    first, second = trio.run(worker), trio.run(worker)
    assert CALLS == [4]
    assert "item &lt;4&gt;" in first and first == second


async def test_concurrent_renders_share_one_call(redis_port: int) -> None:
    CALLS.clear()
    store = engine.RedisStore(f"redis://127.0.0.1:{redis_port}")
    out: list[str] = []

    async def one() -> None:
        out.append(await shelf(store, 5))

    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(one)
    assert CALLS == [5]
    assert len(set(out)) == 1
    await store.aclose()


async def test_a_redis_that_never_answers_costs_a_timeout_once_then_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    CALLS.clear()
    with socket.socket() as silent:  # accepts connections (in the kernel), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        store = engine.RedisStore(f"redis://127.0.0.1:{port}", timeout=0.2, retry_after=60)
        with caplog.at_level(logging.WARNING, logger="engine"):
            for _ in range(3):
                assert "item &lt;6&gt;" in await shelf(store, 6)
        assert CALLS == [6, 6, 6]
        lines = [r.getMessage() for r in caplog.records if "unavailable" in r.getMessage()]
        assert len(lines) == 1, lines
        assert "TooSlowError" in lines[0] and "queries are called uncached" in lines[0]
        with pytest.raises(StoreUnavailable):  # within retry_after: not even tried
            await store.read("k", int, 0)
        silent.setblocking(False)
        attempts = 0
        with contextlib.suppress(BlockingIOError):
            while True:
                silent.accept()[0].close()
                attempts += 1
        assert attempts == 1, "one attempt per retry_after, not one per render"


async def test_redis_going_away_mid_run_degrades_then_recovers(tmp_path: Path) -> None:
    CALLS.clear()
    caught: list[str] = []
    handler = _ListHandler(caught)
    logging.getLogger("engine").addHandler(handler)
    try:
        with redis_server(tmp_path) as port:
            store = engine.RedisStore(f"redis://127.0.0.1:{port}", retry_after=0)
            await shelf(store, 7)
            await shelf(store, 7)
            assert CALLS == [7]
        assert "item &lt;7&gt;" in await shelf(store, 7)  # Redis is gone: called, not failed
        assert "item &lt;7&gt;" in await shelf(store, 7)
        assert CALLS == [7, 7, 7]
        assert sum("unavailable" in line for line in caught) == 1
        directory = tmp_path / "again"
        directory.mkdir()
        with redis_server(directory) as port:
            store.port = port  # the same address would come back after a restart
            await shelf(store, 7)
            await shelf(store, 7)
            assert CALLS == [7, 7, 7, 7]
            assert any("is back" in line for line in caught)
            await store.aclose()
    finally:
        logging.getLogger("engine").removeHandler(handler)


class _ListHandler(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


async def test_password_and_database_from_the_url(tmp_path: Path) -> None:
    with redis_server(tmp_path, "--requirepass", "s3cret") as port:
        store = engine.RedisStore(f"redis://:s3cret@127.0.0.1:{port}/3")
        await store.write("k", Entry(1), fresh=60, stale=0)
        found = await store.read("k", int, 0)
        assert found is not None and found.entry.value == 1
        other = engine.RedisStore(f"redis://:s3cret@127.0.0.1:{port}/0")
        assert await other.read("k", int, 0) is None  # another database
        wrong = engine.RedisStore(f"redis://:nope@127.0.0.1:{port}/3")
        with pytest.raises(StoreUnavailable):
            await wrong.read("k", int, 0)
        for s in (store, other, wrong):
            await s.aclose()


def test_bad_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="redis://host"):
        engine.RedisStore("http://localhost")
    with pytest.raises(ValueError, match="database must be a number"):
        engine.RedisStore("redis://localhost/x")
