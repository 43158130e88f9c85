"""One request, one render: the entry points that open a render's nursery and writer.

The writer itself (engine/_writer.py) streams the page; these functions build its inputs:
the request, the response, the resources and the cache, and pick the mode.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from typing import Any

import trio

from schemas import Mode, Page

from ._errors import NotFound
from ._writer import Inputs, Sink, Writer, fragment_closure, page_deadline, with_dependencies
from .caching import DEFAULT_STORE, CacheStore
from .context.request import Request
from .context.resources import ResourceError
from .context.response import Response
from .definition.graph import Graph
from .resolution.bridge import require_asyncio_host
from .resolution.outcomes import Event
from .resolution.params import request_values
from .resolution.resolve import (
    DEFAULT_SOURCES,
    ErrorHook,
    Resolution,
    Tracer,
)
from .resolution.sources import Sources
from .scheduling.changes import Changes
from .wire.format import Wire

__all__ = [
    "Sink",
    "as_graph",
    "render",
    "render_changes",
    "render_fragment",
    "render_in",
    "render_to_bytes",
    "renew_cached",
]


_MODES = ("out-of-order", "in-order", "buffered")


@functools.lru_cache(maxsize=256)
def _build(page: Page) -> Graph:
    return Graph.build(page)


def as_graph(page: Page | Graph) -> Graph:
    """The checked graph of ``page`` (built once per page object)."""
    return page if isinstance(page, Graph) else _build(page)


async def render(
    page: Page | Graph,
    sink: Sink,
    *,
    params: Mapping[str, str] | None = None,
    request: Request | None = None,
    response: Response | None = None,
    resources: Mapping[str, Any] | None = None,
    mode: Mode | None = None,
    nonce: str | None = None,
    tracer: Tracer | None = None,
    on_error: ErrorHook | None = None,
    sources: Sources = DEFAULT_SOURCES,
    cache: CacheStore = DEFAULT_STORE,
) -> None:
    """Stream ``page`` to ``sink``.

    Request parameters come from ``request`` (each from its declared source) or, for a render
    made by hand, from ``params`` (trusted values for path and query-string parameters). Shell
    queries shape ``response`` (cookies, headers, Cache-Control), which the caller sends with
    the first write. ``resources`` are open app resources by name; those the page needs and
    ``resources`` lacks are opened around this render and closed after it.

    Raises, before the first byte only: :class:`ParameterError` (400),
    :class:`NotFound` (404), :class:`Redirect` (3xx), :class:`ShellError` (500) and
    :class:`NoAsyncioHost` (500: the page has asyncio queries and no asyncio loop hosts this
    trio run). After the first byte, failures are rendered in their slots and the document
    still closes. Cancelling the caller, or a sink that raises, cancels every query still
    running. ``sources`` limits how many calls of each data source run at once (shared by
    every render given the same object; see :class:`Sources`). ``cache`` holds the results of
    queries that declare a cache policy (in process by default; ``engine.RedisStore`` to share
    them between workers).
    """
    await render_in(
        None, as_graph(page), sink, params=params, request=request, response=response,
        resources=resources, mode=mode, nonce=nonce, tracer=tracer, on_error=on_error,
        sources=sources, cache=cache,
    )  # fmt: skip


async def render_in(
    nursery: trio.Nursery | None,
    graph: Graph,
    sink: Sink,
    *,
    params: Mapping[str, str] | None = None,
    request: Request | None = None,
    response: Response | None = None,
    resources: Mapping[str, Any] | None = None,
    mode: Mode | None = None,
    nonce: str | None = None,
    tracer: Tracer | None = None,
    on_error: ErrorHook | None = None,
    sources: Sources = DEFAULT_SOURCES,
    cache: CacheStore = DEFAULT_STORE,
) -> None:
    """:func:`render`, its queries started in ``nursery`` when one is given: ``engine.asgi.App``
    gives the request's own, which also holds the watcher for the client leaving, so an open
    stream holds one nursery, not two (the caller cancels what is left when it returns)."""
    chosen = mode or graph.page.mode
    if chosen not in _MODES:
        raise ValueError(f"mode must be one of {', '.join(_MODES)}, not {chosen!r}")
    wire = Wire(nonce, actions=bool(graph.actions))
    request, values = _checked_request(graph, params, request)
    given = resources or {}
    if graph.resources is not None and any(name not in given for name in graph.resource_names):
        async with _resources(graph, graph.resource_names, given) as opened:
            await render_in(  # its queries in a nursery inside, closed before the resources
                None, graph, sink, request=request, response=response, resources=opened,
                mode=chosen, nonce=nonce, tracer=tracer, on_error=on_error, sources=sources,
                cache=cache,
            )  # fmt: skip
        return
    # What follows holds as few frames and objects as it can: an open stream keeps them all
    # (so no context manager for resources App already passed).
    inputs = Inputs(values, request, response or Response(secure=request.secure), given, cache)
    writer = Writer(graph, chosen, wire, sink, tracer, on_error, sources, inputs)
    if nursery is not None:
        await writer.page(nursery)
        return
    failure: Exception | None = None
    async with trio.open_nursery() as nursery:
        try:
            await writer.page(nursery)
        except Exception as exc:  # re-raised as is, not in an ExceptionGroup (see _in_nursery)
            failure = exc
        if nursery.child_tasks:  # (none when every query was a hit: nothing to cancel)
            nursery.cancel_scope.cancel()
    if failure is not None:
        raise failure


async def render_fragment(
    page: Page | Graph,
    target: str,
    sink: Sink,
    *,
    params: Mapping[str, str] | None = None,
    request: Request | None = None,
    response: Response | None = None,
    resources: Mapping[str, Any] | None = None,
    nonce: str | None = None,
    tracer: Tracer | None = None,
    on_error: ErrorHook | None = None,
    sources: Sources = DEFAULT_SOURCES,
    cache: CacheStore = DEFAULT_STORE,
) -> None:
    """Render one fragment (and what it needs) as ``<template for="target">``, in one write.

    This is what the browser runtime's ``$E.refresh(target)`` fetches and morphs in. The
    page's shell queries run first, exactly as for the whole page: they are its guards (a
    shell query raising :class:`NotFound` hides every fragment too), so this raises what
    :func:`render` raises before its first byte.
    """
    graph = as_graph(page)
    if target not in graph.fragment_index:
        raise NotFound(f"page has no fragment {target!r}", page=graph.name)
    index = graph.fragment_index[target]
    only = fragment_closure(graph, index)
    request, values = _checked_request(graph, params, request, only)
    needed = frozenset(r for q in only for r in graph.queries[q].resources)
    async with _resources(graph, needed, resources) as opened:
        head = response or Response(secure=request.secure)
        inputs = Inputs(values, request, head, opened, cache)
        writer = Writer(graph, "buffered", Wire(nonce), sink, tracer, on_error, sources, inputs)
        await _in_nursery(functools.partial(writer.fragment, index))


async def render_changes(
    page: Page | Graph,
    invalidated: Collection[str],
    sink: Sink,
    *,
    request: Request | None = None,
    response: Response | None = None,
    resources: Mapping[str, Any] | None = None,
    nonce: str | None = None,
    tracer: Tracer | None = None,
    on_error: ErrorHook | None = None,
    sources: Sources = DEFAULT_SOURCES,
    cache: CacheStore = DEFAULT_STORE,
) -> None:
    """Render what an action that invalidated the queries ``invalidated`` changed on the page.

    The answer to an action submitted by the runtime (docs/wire.md): the changed queries run
    again, and only the fragments using them are sent, as templates over the page in place, in
    writes that each end with the swap script (see ``scheduling.changes``). The shell queries
    run first, as the page's guards, so this raises what :func:`render` raises before its
    first byte.
    """
    graph = as_graph(page)
    unknown = sorted(set(invalidated) - set(graph.query_index))
    if unknown:
        raise KeyError(f"page {graph.name!r} has no query {', '.join(map(repr, unknown))}")
    changes = Changes.of(graph, (graph.query_index[name] for name in invalidated))
    renew = _cached(graph, invalidated)
    request, values = _checked_request(graph, None, request, changes.run)
    needed = frozenset(r for q in changes.run for r in graph.queries[q].resources)
    async with _resources(graph, needed, resources) as opened:
        head = response or Response(secure=request.secure)
        inputs = Inputs(values, request, head, opened, cache, renew)
        writer = Writer(graph, "out-of-order", Wire(nonce), sink, tracer, on_error, sources, inputs)
        await _in_nursery(functools.partial(writer.changes, changes))


async def renew_cached(
    page: Page | Graph,
    invalidated: Collection[str],
    *,
    request: Request | None = None,
    response: Response | None = None,
    resources: Mapping[str, Any] | None = None,
    sources: Sources = DEFAULT_SOURCES,
    cache: CacheStore = DEFAULT_STORE,
) -> None:
    """Call afresh the cached queries among ``invalidated`` (with what they depend on) and
    replace their entries, writing nothing to the client.

    An action answered by a redirect changed data that a cached query holds: the page the
    browser loads next must not be served the entry from before the action. (The runtime's
    streamed answer renews them as it renders, in :func:`render_changes`.) A renewal that
    fails leaves the entry as it was, logged like any query failure.
    """
    graph = as_graph(page)
    renew = _cached(graph, invalidated)
    if not renew:
        return
    only = with_dependencies(graph, renew)
    request, values = _checked_request(graph, None, request, only)
    wanted = frozenset(r for q in only for r in graph.queries[q].resources)
    async with _resources(graph, wanted, resources) as opened:
        remaining = set(renew)
        settled = trio.Event()

        def report(event: Event) -> None:
            if event.kind != "batch":
                remaining.discard(event.query)
                if not remaining:
                    settled.set()

        async with trio.open_nursery() as nursery:
            head = response or Response(secure=request.secure)
            Resolution(
                graph, values, nursery, report, sources=sources, request=request,
                response=head, resources=opened, cache=cache, renew=renew,
            ).start(page_deadline(graph), only=only)  # fmt: skip
            await settled.wait()
            nursery.cancel_scope.cancel()


def _cached(graph: Graph, names: Collection[str]) -> frozenset[int]:
    """The queries named in ``names`` that are cached across requests."""
    return frozenset(
        graph.query_index[name] for name in names if graph.queries[graph.query_index[name]].cache
    )


def _checked_request(
    graph: Graph,
    params: Mapping[str, str] | None,
    request: Request | None,
    only: frozenset[int] | None = None,
) -> tuple[Request, dict[str, Any]]:
    """The request and the parameter values of the queries a render will run (``only``, or
    all): before any byte, a missing or malformed parameter, or no asyncio host, raises."""
    if request is None:
        request = Request.build(params=params)
    elif params:
        raise ValueError("pass request parameters through the request or params, not both")
    values = request_values(graph, request, only=only)
    if graph.asyncio_queries:
        require_asyncio_host(graph.name, graph.asyncio_queries)
    return request, values


@contextlib.asynccontextmanager
async def _resources(
    graph: Graph, needed: Collection[str], given: Mapping[str, Any] | None
) -> AsyncIterator[Mapping[str, Any]]:
    """``given``, plus the needed resources it lacks, opened around the render."""
    given = given or {}
    missing = [name for name in needed if name not in given]
    if not missing or graph.resources is None:
        yield given
        return
    async with contextlib.AsyncExitStack() as stack:
        try:
            opened = await stack.enter_async_context(graph.resources.open(only=missing))
        except ResourceError as exc:
            raise ResourceError(exc.reason, page=graph.name) from exc.__cause__
        yield {**given, **opened}


async def render_to_bytes(
    page: Page | Graph,
    *,
    params: Mapping[str, str] | None = None,
    mode: Mode | None = None,
    nonce: str | None = None,
    sources: Sources = DEFAULT_SOURCES,
    cache: CacheStore = DEFAULT_STORE,
) -> bytes:
    """The whole response as bytes (for snapshots and tests)."""
    parts: list[bytes] = []

    async def collect(data: bytes) -> None:
        parts.append(data)

    await render(page, collect, params=params, mode=mode, nonce=nonce, sources=sources, cache=cache)
    return b"".join(parts)


async def _in_nursery(body: Callable[[trio.Nursery], Awaitable[None]]) -> None:
    # The body's own exception (a shell failure, a broken sink) is re-raised as is,
    # not wrapped in an ExceptionGroup: query tasks never raise out of the nursery.
    failure: Exception | None = None
    async with trio.open_nursery() as nursery:
        try:
            await body(nursery)
        except Exception as exc:
            failure = exc
        nursery.cancel_scope.cancel()
    if failure is not None:
        raise failure
