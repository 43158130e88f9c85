"""Testing helpers: render a page with fake latencies and assert its ordering.

Run under trio's ``MockClock`` (pytest-trio's ``autojump_clock`` fixture) and the
timeline is exact and instant::

    async def test_reviews_before_recommendations(autojump_clock):
        timeline = await render_timeline(page, latencies={"reviews": 0.15, "recs": 0.3})
        assert_contract(timeline)
        assert timeline.time_of("reviews") == 0.15
        assert timeline.order() == ["reviews", "recs"]
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import trio

from schemas import Mode, Page

from ._render import as_graph, render
from .caching import DEFAULT_STORE, CacheStore
from .context.request import Request
from .context.response import Response
from .contract.check import RULES, Violation, violations
from .contract.trace import QuerySpan, Timeline, WireEvent, Write
from .definition.graph import Graph, QueryNode
from .definition.loaders import Loader
from .definition.navigation import navigation_view
from .resolution.resolve import ErrorHook

__all__ = [
    "RULES",
    "QuerySpan",
    "Timeline",
    "Violation",
    "WireEvent",
    "Write",
    "assert_contract",
    "check_contract",
    "render_timeline",
]


async def render_timeline(
    page: Page | Graph,
    *,
    latencies: Mapping[str, float] | None = None,
    results: Mapping[str, Any] | None = None,
    failures: Mapping[str, BaseException] | None = None,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    cookies: Mapping[str, str] | None = None,
    request: Request | None = None,
    response: Response | None = None,
    resources: Mapping[str, Any] | None = None,
    mode: Mode | None = None,
    nonce: str | None = None,
    on_error: ErrorHook | None = None,
    cache: CacheStore = DEFAULT_STORE,
    navigate: str | None = None,
) -> Timeline:
    """Render ``page`` with every query made deterministic, and return its timeline.

    Each query sleeps its latency (default 0; per batch for batched queries), then
    raises its entry in ``failures``, returns its entry in ``results`` (a list of
    batches for a batched query), or else calls the real callable inline (sync ones
    too, so no worker thread escapes the mock clock; sync loaders' fetches as well).

    The request is ``request``, or one built from ``params``, ``headers`` and ``cookies``
    (``engine.Request.build`` makes one with a session or a user). ``resources`` replaces
    app resources by name with fakes (given as is, not entered); the page's other resources
    are opened around the render. Pass ``response`` to read what shell queries set on it.
    Cached queries use ``cache`` (the in-process store by default, whose entries last for the
    trio run: a second render in the same test hits what the first one stored).

    ``navigate`` renders the answer to a streamed navigation from a page holding these layouts
    (the ``X-Engine-Layout`` header: range ids, outermost first), as the server does: only what
    lies below the innermost shared layout (``timeline.graph`` is that part), out of order; or
    the whole page when it shares none.
    """
    graph = as_graph(page)
    latencies, results, failures = latencies or {}, results or {}, failures or {}
    for name in (*latencies, *results, *failures):
        if name not in graph.query_index:
            raise KeyError(f"page {graph.name!r} has no query {name!r}")
    fakes = {
        q.name: _fake(q, latencies.get(q.name, 0.0), results, failures.get(q.name))
        for q in graph.queries
    }
    faked = _inline_loaders(graph.with_calls(fakes))
    view = navigation_view(faked, navigate) if navigate is not None else None
    if view is not None:
        faked, mode = view, "out-of-order"
    timeline = Timeline(faked, mode or graph.page.mode, trio.current_time())
    if request is None:
        request = Request.build(params=params, headers=headers, cookies=cookies)
    elif params or headers or cookies:
        raise ValueError("pass params, headers and cookies inside the request, or no request")
    unknown = sorted(set(resources or {}) - set(graph.resources.names if graph.resources else ()))
    if unknown:
        raise KeyError(f"page {graph.name!r} declares no resource {', '.join(unknown)}")
    await render(
        timeline.graph,
        _discard,
        request=request,
        response=response,
        resources=resources,
        mode=mode,
        nonce=nonce,
        tracer=timeline,
        on_error=on_error,
        cache=cache,
    )
    return timeline


def _inline_loaders(graph: Graph) -> Graph:
    """The graph with each sync loader's fetch called inline, as sync queries are."""
    inline: dict[Loader[Any, Any], Loader[Any, Any]] = {}
    for q in graph.queries:
        for item in q.loaders:
            if not item.is_async and item not in inline:
                fetch = item.fetch

                async def call(keys: list[Any], fetch: Callable[..., Any] = fetch) -> Any:
                    return fetch(keys)

                inline[item] = Loader(
                    call, name=item.name, source=item.source, max_batch=item.max_batch
                )
    if not inline:
        return graph
    queries = tuple(
        attrs.evolve(q, loaders=tuple(inline.get(item, item) for item in q.loaders))
        for q in graph.queries
    )
    return attrs.evolve(graph, queries=queries)


async def _discard(data: bytes) -> None:
    """The timeline keeps every write's bytes itself."""


def _fake(
    q: QueryNode, latency: float, results: Mapping[str, Any], failure: BaseException | None
) -> Callable[..., Any]:
    real = q.call

    if q.batched:

        async def batches(**kwargs: Any) -> Any:
            source = results.get(q.name, None)
            if failure is not None:
                await trio.sleep(latency)
                raise failure
            if source is not None:
                for batch in source:
                    await trio.sleep(latency)
                    yield batch
                return
            async with contextlib.aclosing(real(**kwargs)) as source_batches:
                async for batch in source_batches:
                    await trio.sleep(latency)
                    yield batch

        return batches

    async def value(**kwargs: Any) -> Any:
        if latency or not q.loaders:  # a checkpoint would end the first step: loads batch there
            await trio.sleep(latency)
        if failure is not None:
            raise failure
        if q.name in results:
            return results[q.name]
        if q.is_async:
            return await real(**kwargs)
        return functools.partial(real, **kwargs)()

    return value


def check_contract(timeline: Timeline, *, slack: float = 0.0) -> list[Violation]:
    """Every way the render broke the ordering contract (empty if it kept it)."""
    return violations(timeline, slack=slack)


def assert_contract(timeline: Timeline, *, slack: float = 0.0) -> None:
    """Assert all eight rules of ``docs/contract.md``; the message shows the timeline.

    ``slack`` (seconds) loosens the one wall-clock comparison (shell time against its
    queries) for renders under a real clock.
    """
    found = violations(timeline, slack=slack)
    if found:
        listing = "\n".join(f"  - {v}" for v in found)
        raise AssertionError(
            f"page {timeline.graph.name!r} ({timeline.mode}) broke the ordering contract:\n"
            f"{listing}\ntimeline:\n{timeline.format()}"
        )
