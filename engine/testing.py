"""Testing helpers: render a page with fake latencies and assert its ordering.

Run under trio's ``MockClock`` (pytest-trio's ``autojump_clock`` fixture) and the
timeline is exact and instant::

    async def test_reviews_before_recommendations(autojump_clock):
        timeline = await render_timeline(page, latencies={"reviews": 0.15, "recs": 0.3})
        assert_contract(timeline)
        assert timeline.time_of("reviews") == 0.15
        assert timeline.order() == ["reviews", "recs"]

An action's response (what the runtime gets after submitting a form) is checked the same way::

    timeline = await render_action_timeline(page, action="add", form={"item": "milk"})
    assert_contract(timeline)
    assert timeline.order() == ["list", "form", "badge"]
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import trio

from schemas import Mode, Page

from ._render import _resources, as_graph, render, render_changes
from .caching import DEFAULT_STORE, CacheStore
from .context.forms import SCOPE_TOKEN
from .context.request import Request
from .context.response import Response
from .contract.check import RULES, Violation, violations
from .contract.trace import QuerySpan, Timeline, WireEvent, Write
from .definition.actions import InputError, form_queries
from .definition.graph import Graph, QueryNode
from .definition.loaders import Loader
from .definition.navigation import navigation_view
from .resolution.resolve import DEFAULT_SOURCES, ErrorHook
from .scheduling.changes import Changes

__all__ = [
    "RULES",
    "QuerySpan",
    "Timeline",
    "Violation",
    "WireEvent",
    "Write",
    "assert_contract",
    "check_contract",
    "render_action_timeline",
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
    faked = _faked(graph, latencies, results, failures)
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


async def render_action_timeline(
    page: Page | Graph,
    *,
    action: str,
    form: Mapping[str, str | list[str]] | None = None,
    json: bytes | None = None,
    latencies: Mapping[str, float] | None = None,
    results: Mapping[str, Any] | None = None,
    failures: Mapping[str, BaseException] | None = None,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    cookies: Mapping[str, str] | None = None,
    request: Request | None = None,
    response: Response | None = None,
    resources: Mapping[str, Any] | None = None,
    nonce: str | None = None,
    on_error: ErrorHook | None = None,
    cache: CacheStore = DEFAULT_STORE,
) -> Timeline:
    """Submit ``action`` as the runtime does and return the timeline of the response.

    The input is ``form`` (fields; a list for a repeated one) or ``json`` (a body), decoded
    as the server decodes it. Then, as for the server: the page's shell queries run (its
    guards), the action runs, and what it changed streams (mode ``action``; see
    ``docs/wire.md``); with input that does not convert, only the form's fragments stream,
    with the errors. The action's own ``engine.Redirect`` (or a guard's) is raised. The
    timeline starts after the action, and its queries are faked as in
    :func:`render_timeline` (the guards' run too).
    """
    from .asgi._actions import Submitted, run_action

    graph = as_graph(page)
    node = graph.actions.get(action)
    if node is None:
        raise KeyError(f"page {graph.name!r} has no action {action!r}")
    pairs = [
        (k, v) for k, vs in (form or {}).items() for v in ([vs] if isinstance(vs, str) else vs)
    ]
    try:
        data = node.decode_json(json) if json is not None else node.decode_form(pairs)
        submitted = Submitted(node, data, None, dict(pairs))
    except InputError as invalid:
        submitted = Submitted(node, None, invalid, dict(pairs))
    faked = _faked(graph, latencies, results, failures)
    if request is None:
        request = Request.build(params=params, headers=headers, cookies=cookies)
    elif params or headers or cookies:
        raise ValueError("pass params, headers and cookies inside the request, or no request")
    if request.scope_value(SCOPE_TOKEN) is None:
        request = request.with_scope_value(SCOPE_TOKEN, "")
    head = response or Response(secure=request.secure)
    async with _resources(graph, graph.resource_names, resources) as opened:
        request = await run_action(
            faked, submitted, request, head, opened, nonce=nonce, sources=DEFAULT_SOURCES,
            cache=cache, fetch=True,
        )  # fmt: skip
        changed = form_queries(graph.queries)
        if submitted.invalid is None:
            changed = (*(graph.queries[q].name for q in node.invalidates), *changed)
        changes = Changes.of(graph, (graph.query_index[name] for name in changed))
        timeline = Timeline(faked, "action", trio.current_time(), changes=changes)
        await render_changes(
            timeline.graph, changed, _discard, request=request, response=head, resources=opened,
            nonce=nonce, tracer=timeline, on_error=on_error, cache=cache,
        )  # fmt: skip
    return timeline


def _faked(
    graph: Graph,
    latencies: Mapping[str, float] | None,
    results: Mapping[str, Any] | None,
    failures: Mapping[str, BaseException] | None,
) -> Graph:
    """``graph`` with every query made deterministic (see :func:`render_timeline`)."""
    latencies, results, failures = latencies or {}, results or {}, failures or {}
    for name in (*latencies, *results, *failures):
        if name not in graph.query_index:
            raise KeyError(f"page {graph.name!r} has no query {name!r}")
    fakes = {
        q.name: _fake(q, latencies.get(q.name, 0.0), results, failures.get(q.name))
        for q in graph.queries
    }
    return _inline_loaders(graph.with_calls(fakes))


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
            source_batches = real(**kwargs)
            try:
                async for batch in source_batches:
                    await trio.sleep(latency)
                    yield batch
            finally:  # a generator is closed; another async iterator may have no aclose
                aclose = getattr(source_batches, "aclose", None)
                if aclose is not None:
                    await aclose()

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
