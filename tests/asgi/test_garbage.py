"""A finished request leaves no reference cycles: all a render made is freed by reference
counting the moment the response ends, never left for the garbage collector to find.

A cycle per request is no leak, but under load it costs more than one: the collector runs
far more often and its full collections walk tens of thousands of dead renders. Measured on
S5 under Hypercorn before the Resolution stopped handing its own bound method to the cache
lookup: 48 objects per request in a cycle (the request, the response, the nursery, every
value), a collection every 5 requests, 15% of the worker's CPU in the collector.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import actions_site
import cache_site
import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from bench import page as bench_page
from bench.peers import engine_app
from engine.asgi import App
from examples.site import db
from examples.site.app import app as example_site
from tests.strategies import Case, cases


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    path, _, query = path.partition("?")
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query.encode(), "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }  # fmt: skip


async def _request(
    app: Any, path: str, method: str = "GET", body: bytes = b"", headers=()
) -> list[dict[str, Any]]:
    """One ASGI call; the client stays connected until the response is complete."""
    asked, sent = False, []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": body, "more_body": False}
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(_scope(method, path, list(headers)), receive, send)
    return sent


async def _left_for_the_collector(app: Any, path: str, **request: Any) -> list[str]:
    """What one request left in reference cycles, by type; and its status."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # keep what a collection finds, to name it
    try:
        sent = await _request(app, path, **request)
        gc.collect()
        found = [type(o).__qualname__ for o in gc.garbage]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert sent and sent[0]["type"] == "http.response.start", sent
    return found


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()  # no collection in the middle of the request: each is measured whole
    yield
    if was_enabled:
        gc.enable()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), mode=st.sampled_from(["out-of-order", "in-order", "buffered"]))
def test_a_random_page_in_any_mode_leaves_no_cycle_behind(case: Case, mode: str) -> None:
    """Failing queries, timeouts, the page deadline, failing renderers, batches, nesting."""
    app = App({"/": case.page(live=True)})

    async def main() -> list[str]:
        return await _left_for_the_collector(app, f"/?mode={mode}")

    assert trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0)) == []


def _on_mock_clock(test: Any) -> list[str]:
    return trio.run(test, clock=trio.testing.MockClock(autojump_threshold=0))


@pytest.mark.parametrize("path", [bench_page.S5_PATH, "/s2"])
def test_the_benchmark_pages_cached_and_not_leave_no_cycle_behind(path: str) -> None:
    async def warm_then_measured() -> list[str]:
        await _request(engine_app.app, path)  # fills S5's cache: the measured render hits it
        return await _left_for_the_collector(engine_app.app, path)

    assert _on_mock_clock(warm_then_measured) == []


def test_a_cache_miss_a_shared_call_and_a_hit_leave_no_cycle_behind() -> None:
    app = App({"/stock": cache_site.stock_page}, cache=engine.MemoryStore())

    async def miss_shared_hit() -> list[str]:
        found = await _left_for_the_collector(app, "/stock")
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:  # two renders at once after the entry expired: one call, shared
            await trio.sleep(cache_site.stock_page.queries[0].cache.ttl + 1)
            async with trio.open_nursery() as nursery:
                for _ in range(2):
                    nursery.start_soon(_request, app, "/stock")
            gc.collect()
            found += [type(o).__qualname__ for o in gc.garbage]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
        return found + await _left_for_the_collector(app, "/stock")

    assert _on_mock_clock(miss_shared_hit) == []


@pytest.mark.parametrize("path", ["/", "/product/1", "/cart", "/static/site.css"])
def test_the_example_sites_pages_leave_no_cycle_behind(path, tmp_path, monkeypatch) -> None:
    """Its SQLite queries run in worker threads (a limited source), the product page's
    reviews come through a batched loader, the home page's featured list is cached."""
    monkeypatch.setattr(db, "DB_PATH", tmp_path / "acme.db")

    async def measured() -> list[str]:
        await _request(example_site, path)
        return await _left_for_the_collector(example_site, path)

    assert trio.run(measured) == []


def test_an_actions_answer_leaves_no_cycle_behind() -> None:
    actions_site.LISTS.clear()

    async def measured() -> list[str]:
        page = await _request(actions_site.app, "/boards/a")
        cookie = next(
            value.split(b";")[0]
            for name, value in page[0]["headers"]
            if name == b"set-cookie" and value.startswith(b"engine_form_token=")
        )
        token = cookie.partition(b"=")[2]
        form = b"_token=" + token + b"&_action=add&item=tea&qty=2"
        headers = [
            (b"cookie", cookie),
            (b"origin", b"http://testserver"),
            (b"x-engine-request", b"action"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(form)).encode()),
        ]
        return await _left_for_the_collector(
            actions_site.app, "/boards/a", method="POST", body=form, headers=headers
        )

    assert trio.run(measured) == []
