"""Cache outcomes on a served render's query spans (OpenTelemetry, in-memory exporter)."""

from __future__ import annotations

import trio
from servers import free_port
from test_app import call
from test_tracing import Spans, parent_of, seconds

import engine
from engine import Cache, Fragment, Page, Query, Shell
from engine.asgi import App

CALLS = 0


async def price(sku: str) -> str:
    global CALLS
    CALLS += 1
    await trio.sleep(1.0)
    return f"{sku}: 9.99"


PAGE = Page(
    name="price",
    shell=Shell(
        html='<!doctype html><html><head><meta charset="utf-8"></head><body>'
        '<p><?marker name="price"></p></body></html>'
    ),
    queries=(Query(name="price", call=price, result=str, params=("sku",), cache=Cache(ttl=60)),),
    fragments=(Fragment(target="price", uses=("price",), template="{{ price }}"),),
)


async def test_a_query_span_says_miss_then_hit_and_a_hit_takes_no_time(autojump_clock) -> None:
    global CALLS
    CALLS = 0  # tests may run twice in one process (mutmut's stats, then its clean run)
    spans = Spans()
    app = App({"/price/{sku}": PAGE}, tracing=spans.provider, cache=engine.MemoryStore())
    for _ in range(2):
        client = await call(app, "/price/a1")
        assert client.start["status"] == 200 and b"a1: 9.99" in client.body
    renders = spans.all_named("render price")
    miss, hit = spans.all_named("query price")
    assert miss.attributes["engine.cache"] == "miss" and seconds(miss) == 1.0
    assert hit.attributes["engine.cache"] == "hit" and seconds(hit) == 0.0
    assert hit.attributes["engine.query.outcome"] == "done"
    assert [parent_of(miss), parent_of(hit)] == [r.context.span_id for r in renders]
    assert CALLS == 1


async def test_a_redis_outage_is_on_the_span_and_the_page_still_renders(autojump_clock) -> None:
    global CALLS
    CALLS = 0
    spans = Spans()
    store = engine.RedisStore(f"redis://127.0.0.1:{free_port()}", retry_after=60)
    app = App({"/price/{sku}": PAGE}, tracing=spans.provider, cache=store)
    for _ in range(2):
        client = await call(app, "/price/b2")
        assert client.start["status"] == 200 and b"b2: 9.99" in client.body
    assert [s.attributes["engine.cache"] for s in spans.all_named("query price")] == [
        "unavailable",
        "unavailable",
    ]
    assert CALLS == 2
