"""Caching across requests (issue 11): expiry and stale-while-revalidate on trio's clock, single
flight, failures, hits that start no task, and pages under engine.testing's contract checks."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

import engine
from engine import Cache, Fragment, Page, Params, Query, Shell
from engine.testing import assert_contract, render_timeline
from tests.tracers import NoteTaker

SHELL = '<!doctype html><html><head><meta charset="utf-8"></head><body>{}</body></html>'


class Counter:
    """A query callable that counts its calls and answers ``value`` after ``latency``."""

    def __init__(self, latency: float = 0.0, value: str = "v") -> None:
        self.latency = latency
        self.value = value
        self.calls = 0
        self.finished = 0
        self.fail: BaseException | None = None

    async def __call__(self) -> str:
        self.calls += 1
        await trio.sleep(self.latency)
        if self.fail is not None:
            raise self.fail
        self.finished += 1
        return f"{self.value}{self.calls}"


def page_of(call: object, cache: Cache | None, *, timeout: float | None = None) -> Page:
    return Page(
        name="cached",
        shell=Shell(html=SHELL.format('<p><?marker name="a"></p>')),
        queries=(Query(name="q", call=call, result=str, cache=cache, timeout=timeout),),
        fragments=(Fragment(target="a", uses=("q",), template="[{{ q }}]", fallback="…"),),
    )


async def html_of(page: Page, **kwargs: object) -> str:
    return (await engine.render_to_bytes(page, mode="in-order", **kwargs)).decode()  # type: ignore[arg-type]


async def test_a_result_is_served_until_its_ttl_then_called_again(autojump_clock) -> None:
    call = Counter(latency=0.1)
    page = page_of(call, Cache(ttl=10))
    assert "[v1]" in await html_of(page)
    await trio.sleep(9.5)  # 9.6 s after the write: still fresh
    assert "[v1]" in await html_of(page)
    assert call.calls == 1
    await trio.sleep(0.5)  # 10.1 s: expired, and no stale window
    assert "[v2]" in await html_of(page)
    assert call.calls == 2


async def test_stale_is_served_at_once_and_refreshed_in_the_background(autojump_clock) -> None:
    call = Counter(latency=1.0)
    page = page_of(call, Cache(ttl=10, stale=30))
    await html_of(page)  # written at t = 1
    await trio.sleep(9.9)  # t = 10.9: still fresh, no refresh
    await html_of(page)
    await trio.testing.wait_all_tasks_blocked()
    assert call.calls == 1
    await trio.sleep(0.2)  # t = 11.1: stale now
    started = trio.current_time()
    assert "[v1]" in await html_of(page)  # the old value, without waiting for the call
    assert trio.current_time() == started
    await trio.testing.wait_all_tasks_blocked()
    assert call.calls == 2  # the refresh started
    assert "[v1]" in await html_of(page)  # still stale: the refresh is in the air, not twice
    assert call.calls == 2
    await trio.sleep(1.5)  # the refresh lands (it took 1 s)
    assert "[v2]" in await html_of(page)
    await trio.sleep(41)  # past ttl + stale of the refreshed entry: gone, so a miss waits
    started = trio.current_time()
    assert "[v3]" in await html_of(page)
    assert trio.current_time() == started + 1.0


async def test_a_failed_refresh_keeps_serving_the_stale_value(autojump_clock) -> None:
    call = Counter(latency=1.0)
    page = page_of(call, Cache(ttl=10, stale=30, failures=60))
    await html_of(page)
    await trio.sleep(15)
    call.fail = RuntimeError("backend down")
    assert "[v1]" in await html_of(page)
    await trio.sleep(2)  # the refresh failed: the failure must not replace the stale value
    assert "[v1]" in await html_of(page)


async def test_a_waiter_leaving_does_not_cancel_the_shared_call(autojump_clock) -> None:
    call = Counter(latency=1.0)
    page = page_of(call, Cache(ttl=60))
    seen: list[str] = []

    async def leaves_early() -> None:
        with trio.move_on_after(0.5):  # its client went away (or its own timeout passed)
            await html_of(page)
        seen.append("left")

    async def stays() -> None:
        await trio.sleep(0.1)  # joins the call the first render started
        seen.append(await html_of(page))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(leaves_early)
        nursery.start_soon(stays)
    assert seen[0] == "left"
    assert "[v1]" in seen[1]
    assert (call.calls, call.finished) == (1, 1)
    assert trio.current_time() == 1.0  # the one call, not cancelled at 0.5 s and started again


async def test_a_call_nobody_waits_for_any_more_still_fills_the_cache(autojump_clock) -> None:
    call = Counter(latency=1.0)
    page = page_of(call, Cache(ttl=60))
    with trio.move_on_after(0.5):
        await html_of(page)
    await trio.sleep(1)
    assert "[v1]" in await html_of(page)
    assert call.calls == 1


async def test_a_timeout_of_one_waiter_fails_its_render_only(autojump_clock) -> None:
    call = Counter(latency=1.0)
    page = page_of(call, Cache(ttl=60))
    impatient = Page(
        name="impatient",
        deadline=0.5,
        shell=page.shell,
        queries=(Query(name="q", call=call, result=str, cache=Cache(ttl=60, name="shared")),),
        fragments=page.fragments,
    )
    patient = Page(
        name="patient",
        shell=page.shell,
        queries=(Query(name="q", call=call, result=str, cache=Cache(ttl=60, name="shared")),),
        fragments=page.fragments,
    )
    out: dict[str, str] = {}

    async def render(p: Page) -> None:
        out[p.name] = await html_of(p)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(render, impatient)
        nursery.start_soon(render, patient)
    assert "[v1]" not in out["impatient"]  # its deadline passed: the fallback stays
    assert "[v1]" in out["patient"]
    assert call.calls == 1


async def test_a_failure_is_not_cached_by_default(autojump_clock) -> None:
    call = Counter()
    call.fail = RuntimeError("down")
    page = page_of(call, Cache(ttl=60))
    assert "[v" not in await html_of(page)
    call.fail = None
    assert "[v2]" in await html_of(page)
    assert call.calls == 2


async def test_a_failure_is_cached_for_its_own_time_when_asked(autojump_clock) -> None:
    call = Counter()
    call.fail = RuntimeError("down")
    page = page_of(call, Cache(ttl=60, failures=5))
    errors: list[str] = []
    for _ in range(2):
        await engine.render_to_bytes(page)
    call.fail = None
    await engine.render(page, _discard, on_error=lambda p, n, e: errors.append(str(e)))
    assert call.calls == 1  # the failure was served from the cache
    assert errors == ["page 'cached', query 'q': RuntimeError: down (a cached failure)"]
    await trio.sleep(5)
    assert "[v2]" in await html_of(page)


async def test_a_query_timeout_bounds_the_shared_call_and_is_never_cached(autojump_clock) -> None:
    call = Counter(latency=3.0)
    page = page_of(call, Cache(ttl=60, failures=60), timeout=1.0)
    assert "[v" not in await html_of(page)
    call.latency = 0
    assert "[v2]" in await html_of(page)


async def test_a_cached_query_whose_input_cannot_be_keyed_is_called_every_time(
    autojump_clock,
) -> None:
    # Its dependency returns an object msgpack cannot encode (an `Any` result): no key can be
    # made, so the call is made uncached, once per render, and the page still renders.
    calls = 0

    async def handle() -> Any:
        return object()

    async def label(handle: Any) -> str:
        nonlocal calls
        calls += 1
        return "labelled"

    page = Page(
        name="unkeyable",
        shell=Shell(html=SHELL.format('<?marker name="x">')),
        queries=(
            Query(name="handle", call=handle, result=Any),
            Query(
                name="label",
                call=label,
                result=str,
                depends_on=("handle",),
                cache=Cache(ttl=60),
            ),
        ),
        fragments=(Fragment(target="x", uses=("label",), template="{{ label }}"),),
    )
    store = engine.MemoryStore()
    for _ in range(2):
        with trio.fail_after(10):
            assert b"labelled" in await engine.render_to_bytes(page, cache=store)
    assert calls == 2


async def test_a_cached_not_found_stays_a_404(autojump_clock) -> None:
    calls = 0

    async def product(product_id: int) -> str:
        nonlocal calls
        calls += 1
        raise engine.NotFound(f"no product {product_id}")

    page = Page(
        name="product",
        shell=Shell(html=SHELL.format("<h1>{{ product }}</h1>"), queries=("product",)),
        queries=(
            Query(
                name="product",
                call=product,
                result=str,
                params=("product_id",),
                cache=Cache(ttl=60, failures=30),
            ),
        ),
    )
    errors: list[str] = []
    for _ in range(2):
        with pytest.raises(engine.NotFound, match="no product 7"):
            await engine.render(
                page,
                _discard,
                params={"product_id": "7"},
                on_error=lambda page, node, error: errors.append(str(error)),
            )
    assert calls == 1
    # Called, then served from memory: the query's failure reads the same both times.
    assert errors == ["page 'product', query 'product': NotFound: no product 7"] * 2


async def _discard(data: bytes) -> None:
    pass


# -- hits start no task ----------------------------------------------------------------------


class TaskCounter(trio.abc.Instrument):
    def __init__(self) -> None:
        self.names: list[str] = []

    def task_spawned(self, task: trio.lowlevel.Task) -> None:
        self.names.append(task.name)


async def test_a_fully_cached_page_resolves_without_query_tasks(autojump_clock) -> None:
    async def base() -> int:
        return 1

    async def step(**previous: int) -> int:
        return sum(previous.values()) + 1

    queries = [Query(name="q0", call=base, result=int, cache=Cache(ttl=60))]
    for i in range(1, 1000):  # a chain 1,000 deep: served iteratively, never recursively
        queries.append(
            Query(
                name=f"q{i}", call=step, result=int, depends_on=(f"q{i - 1}",), cache=Cache(ttl=60)
            )
        )
    page = Page(
        name="chain",
        shell=Shell(html=SHELL.format('<p><?marker name="a"></p>')),
        queries=tuple(queries),
        fragments=(Fragment(target="a", uses=("q999",), template="{{ q999 }}"),),
    )
    counter = TaskCounter()
    trio.lowlevel.add_instrument(counter)
    try:
        assert "1000" in await html_of(page)
        cold = [n for n in counter.names if n.startswith(("query ", "cache "))]
        counter.names.clear()
        assert "1000" in await html_of(page)
        warm = [n for n in counter.names if n.startswith(("query ", "cache "))]
    finally:
        trio.lowlevel.remove_instrument(counter)
    assert len(cold) == 2000  # each query's task, and its shared call
    assert warm == []


async def test_a_warm_page_keeps_the_ordering_contract(autojump_clock) -> None:
    async def name() -> str:
        return "ann & bob"

    async def greeting(name: str) -> str:
        return f"hello {name}"

    async def news() -> str:
        return "<b>news</b>"

    page = Page(
        name="warm",
        shell=Shell(
            html=SHELL.format(
                '<h1>{{ name }}</h1><p><?marker name="a"></p><p><?marker name="b"></p>'
            ),
            queries=("name",),
        ),
        queries=(
            Query(name="name", call=name, result=str, cache=Cache(ttl=60)),
            Query(
                name="greeting",
                call=greeting,
                result=str,
                depends_on=("name",),
                expose=True,
                cache=Cache(ttl=60),
            ),
            Query(name="news", call=news, result=str),
        ),
        fragments=(
            Fragment(target="a", uses=("greeting",), template="{{ greeting }}", fallback="…"),
            Fragment(
                target="b", uses=("news",), template="{{ news }}", fallback="…", priority="high"
            ),
        ),
    )
    latencies = {"name": 0.1, "greeting": 0.1, "news": 0.2}
    for mode in ("out-of-order", "in-order", "buffered"):
        cold = await render_timeline(page, latencies=latencies, mode=mode)
        assert_contract(cold)
        warm = await render_timeline(page, latencies=latencies, mode=mode)
        assert_contract(warm)
        assert warm.queries["greeting"].end == 0.0
        if mode == "out-of-order":
            assert cold.time_of("a") == 0.2
            assert (warm.time_of("a"), warm.time_of("b")) == (0.0, 0.2)


# -- keys hold every input ---------------------------------------------------------------------


async def test_inputs_from_every_source_and_dependencies_are_in_the_key(autojump_clock) -> None:
    calls: list[tuple[object, ...]] = []

    async def account(account_id: int) -> int:
        return account_id * 10

    async def summary(account: int, page: int, lang: str, session: str) -> str:
        calls.append((account, page, lang, session))
        return f"{account}/{page}/{lang}/{session}"

    cached = Page(
        name="summary",
        shell=Shell(html=SHELL.format('<p><?marker name="a"></p>')),
        queries=(
            Query(name="account", call=account, result=int, params=Params(path=("account_id",))),
            Query(
                name="summary",
                call=summary,
                result=str,
                depends_on=("account",),
                params=Params(query=("page",), header=("lang",), cookie=("session",)),
                cache=Cache(ttl=60),
            ),
        ),
        fragments=(Fragment(target="a", uses=("summary",), template="<{{ summary }}>"),),
    )

    async def seen(account_id: str, page: str, lang: str, session: str) -> str:
        request = engine.Request.build(
            params={"account_id": account_id, "page": page},
            headers={"lang": lang},
            cookies={"session": session},
        )
        timeline = await render_timeline(cached, request=request)
        return timeline.html

    base = ("1", "1", "en", "s1")
    assert "<10/1/en/s1>" in await seen(*base)
    for i, changed in enumerate(("2", "2", "fr", "s2")):
        inputs = list(base)
        inputs[i] = changed
        out = await seen(*inputs)
        expected = f"<{int(inputs[0]) * 10}/{inputs[1]}/{inputs[2]}/{inputs[3]}>"
        assert expected in out, (i, out)
    assert len(calls) == 5
    assert "<10/1/en/s1>" in await seen(*base)
    assert len(calls) == 5


async def test_a_version_bump_and_another_page_name_miss(autojump_clock) -> None:
    call = Counter()
    assert "[v1]" in await html_of(page_of(call, Cache(ttl=60)))
    assert "[v2]" in await html_of(page_of(call, Cache(ttl=60, version="2")))
    assert "[v1]" in await html_of(page_of(call, Cache(ttl=60)))
    assert call.calls == 2


async def test_the_memory_store_is_bounded_least_recently_used_out(autojump_clock) -> None:
    store = engine.MemoryStore(max_entries=2)
    calls: list[int] = []

    async def item(item_id: int) -> int:
        calls.append(item_id)
        return item_id

    page = Page(
        name="items",
        shell=Shell(html=SHELL.format('<p><?marker name="a"></p>')),
        queries=(
            Query(name="item", call=item, result=int, params=("item_id",), cache=Cache(ttl=60)),
        ),
        fragments=(Fragment(target="a", uses=("item",), template="{{ item }}"),),
    )
    for item_id in (1, 2, 1, 3, 1, 2):
        await engine.render_to_bytes(page, params={"item_id": str(item_id)}, cache=store)
    assert calls == [1, 2, 3, 2]  # 2 was the least recently used when 3 came
    assert len(store) == 2
    with pytest.raises(ValueError, match="max_entries"):
        engine.MemoryStore(max_entries=0)


# -- what tracing sees ------------------------------------------------------------------------


async def test_each_outcome_is_noted_for_tracing(autojump_clock) -> None:
    from engine._render import as_graph
    from engine.resolution.resolve import Resolution

    call = Counter(latency=1.0)
    graph = as_graph(page_of(call, Cache(ttl=10, stale=10)))
    store = engine.MemoryStore()

    async def outcome_of_one_resolution() -> object:
        events: list[object] = []
        tracer = NoteTaker()
        async with trio.open_nursery() as nursery:
            Resolution(graph, {}, nursery, events.append, cache=store, tracer=tracer).start()
        [(_, _, outcome)] = [note for note in tracer.notes if note[1] == "cache"]
        return outcome

    async with trio.open_nursery() as nursery:  # two at once: one starts the call, one joins
        outcomes: list[object] = []

        async def one() -> None:
            outcomes.append(await outcome_of_one_resolution())

        nursery.start_soon(one)
        nursery.start_soon(one)
    assert sorted(outcomes) == ["miss", "shared"]  # type: ignore[type-var]
    assert await outcome_of_one_resolution() == "hit"
    await trio.sleep(10)
    assert await outcome_of_one_resolution() == "stale"
    await trio.sleep(1.5)  # the refresh landed
    call.fail = RuntimeError("down")
    await trio.sleep(20)  # gone
    assert await outcome_of_one_resolution() == "miss"


def test_an_asyncio_query_is_shared_from_the_guest_run() -> None:
    import asyncio

    from engine.asgi._guest import run_as_asyncio_guest

    calls = 0

    @engine.on_asyncio
    async def rate() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)  # an asyncio library's await, on the host loop
        return f"rate{calls}"

    page = page_of(rate, Cache(ttl=60))

    async def three_renders() -> list[str]:
        out: list[str] = []

        async def one() -> None:
            out.append(await html_of(page))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(one)
            nursery.start_soon(one)
        out.append(await html_of(page))
        return out

    out = run_as_asyncio_guest(three_renders)
    assert calls == 1
    assert all("[rate1]" in html for html in out)
