"""One request, one render: a nursery of queries and a writer that streams the page.

The writer is the only task that touches the sink. Query tasks report outcomes to
its unbounded inbox (a query never waits for the client); each turn the writer
takes every outcome that has arrived, asks the scheduler what it may release, and
sends it as one write. A slow client therefore delays bytes, never queries.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from typing import Any

import attrs
import trio

from schemas import Mode, Page

from ._errors import NotFound, QueryError, Redirect, ShellError
from .caching import DEFAULT_STORE, CacheStore
from .context.request import Request
from .context.resources import ResourceError
from .context.response import Response
from .definition.graph import Graph
from .resolution.bridge import require_asyncio_host
from .resolution.inbox import Inbox
from .resolution.params import request_values
from .resolution.resolve import (
    DEFAULT_SOURCES,
    ErrorHook,
    Event,
    Resolution,
    Tracer,
)
from .resolution.sources import Sources
from .scheduling.content import expand_shell
from .scheduling.expand import Chunk
from .scheduling.inorder import InOrder
from .scheduling.outoforder import OutOfOrder
from .scheduling.state import State
from .wire.encoding import encode_replacing, surrogate_path
from .wire.format import NONCE_PLACEHOLDER, Wire

__all__ = ["Sink", "as_graph", "render", "render_fragment", "render_to_bytes"]

Sink = Callable[[bytes], Awaitable[object]]
"""Where the bytes go: called once per write, in order; the first call carries the shell."""

logger = logging.getLogger("engine")

_MODES = ("out-of-order", "in-order", "buffered")
BATCH_WINDOW = 16
"""Batches a batched query may run ahead of the wire in a streaming render."""


@functools.lru_cache(maxsize=256)
def _build(page: Page) -> Graph:
    return Graph.build(page)


def as_graph(page: Page | Graph) -> Graph:
    """The checked graph of ``page`` (built once per page object)."""
    return page if isinstance(page, Graph) else _build(page)


@attrs.frozen
class _Inputs:
    """What the queries of one render receive from outside the graph."""

    params: Mapping[str, Any]
    request: Request
    response: Response
    resources: Mapping[str, Any]
    cache: CacheStore


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
    graph = as_graph(page)
    chosen = mode or graph.page.mode
    if chosen not in _MODES:
        raise ValueError(f"mode must be one of {', '.join(_MODES)}, not {chosen!r}")
    wire = Wire(nonce)
    request = _request(params, request)
    values = request_values(graph, request)
    if graph.asyncio_queries:
        require_asyncio_host(graph.name, graph.asyncio_queries)
    given = resources or {}
    if graph.resources is not None and any(name not in given for name in graph.resource_names):
        async with _resources(graph, graph.resource_names, given) as opened:
            await render(
                graph, sink, request=request, response=response, resources=opened, mode=chosen,
                nonce=nonce, tracer=tracer, on_error=on_error, sources=sources, cache=cache,
            )  # fmt: skip
        return
    # What follows holds as few frames and objects as it can: an open stream keeps them all
    # (so no context manager for resources App already passed, and the nursery opened here).
    inputs = _Inputs(values, request, response or Response(secure=request.secure), given, cache)
    writer = _Writer(graph, chosen, wire, sink, tracer, on_error, sources, inputs)
    failure: Exception | None = None
    async with trio.open_nursery() as nursery:
        try:
            await writer.page(nursery)
        except Exception as exc:  # re-raised as is, not in an ExceptionGroup (see _in_nursery)
            failure = exc
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
    only = _fragment_closure(graph, index)
    request = _request(params, request)
    values = request_values(graph, request, only=only)
    if graph.asyncio_queries:
        require_asyncio_host(graph.name, graph.asyncio_queries)
    needed = frozenset(r for q in only for r in graph.queries[q].resources)
    async with _resources(graph, needed, resources) as opened:
        head = response or Response(secure=request.secure)
        inputs = _Inputs(values, request, head, opened, cache)
        writer = _Writer(graph, "buffered", Wire(nonce), sink, tracer, on_error, sources, inputs)
        await _in_nursery(functools.partial(writer.fragment, index))


def _request(params: Mapping[str, str] | None, request: Request | None) -> Request:
    if request is None:
        return Request.build(params=params)
    if params:
        raise ValueError("pass request parameters through the request or params, not both")
    return request


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


class _Writer:
    def __init__(
        self,
        graph: Graph,
        mode: Mode,
        wire: Wire,
        sink: Sink,
        tracer: Tracer | None,
        on_error: ErrorHook | None,
        sources: Sources,
        inputs: _Inputs,
    ) -> None:
        self.graph = graph
        self.sources = sources
        self.inputs = inputs
        self.mode = mode
        self.wire = wire
        self.sink = sink
        self.tracer = tracer
        self.state = State(graph, on_error)
        self.on_error = on_error
        self.inbox = Inbox()
        self.surrogates_reported: set[int] | None = None

    def _resolution(self, nursery: trio.Nursery) -> Resolution:
        inputs = self.inputs
        return Resolution(
            self.graph,
            inputs.params,
            nursery,
            self.inbox.put,
            tracer=self.tracer,
            on_error=self.on_error,
            sources=self.sources,
            request=inputs.request,
            response=inputs.response,
            resources=inputs.resources,
            cache=inputs.cache,
        )

    def _deadline(self) -> float:
        budget = self.graph.page.deadline
        return trio.current_time() + budget if budget else math.inf

    async def page(self, nursery: trio.Nursery) -> None:
        graph, state = self.graph, self.state
        resolution = self._resolution(nursery)
        if self.mode != "buffered":
            resolution.limit_batches(BATCH_WINDOW)
        resolution.start(self._deadline())
        written = [0] * len(graph.queries)
        await self._pass_shell()
        schedule = (
            OutOfOrder(graph, state, self.wire)
            if self.mode == "out-of-order"
            else InOrder(graph, state, self.wire, one_write=self.mode == "buffered")
        )
        shell_values = {graph.queries[q].name: state.values[q] for q in graph.shell_queries}
        shell_values[NONCE_PLACEHOLDER] = self.wire.nonce or ""
        shell = expand_shell(graph, shell_values)
        held: list[tuple[str, list[Chunk]]] = [schedule.start(shell)]
        buffered = self.mode == "buffered"
        while not schedule.finished:
            if not buffered and held:
                await self._write(*_joined(held))
                held.clear()
                for q in resolution.batch_credits:
                    resolution.batches_written(q, len(state.raw_batches[q]) - written[q])
                    written[q] = len(state.raw_batches[q])
            self._apply(await self.inbox.take())
            text, chunks = schedule.advance()
            if text or chunks:
                held.append((text, chunks))
        # The closing HTML rides in the last write: one send fewer per response.
        held.append((graph.shell_tail, [("close", "")]))
        await self._write(*_joined(held))

    async def _pass_shell(self) -> None:
        """Wait for the shell queries; raise the first one's failure (its 404 or 500)."""
        graph, state = self.graph, self.state
        while not all(state.settled[q] for q in graph.shell_queries):
            self._apply(await self.inbox.take())
        for q in graph.shell_queries:
            error = state.errors[q]
            if error is not None:
                raise _shell_failure(graph, graph.queries[q].name, error)
        self._apply(self.inbox.take_nowait())

    async def fragment(self, f: int, nursery: trio.Nursery) -> None:
        graph = self.graph
        needed = _fragment_closure(graph, f)
        self._resolution(nursery).start(self._deadline(), only=needed)
        await self._pass_shell()
        walk = InOrder(graph, self.state, self.wire)
        walk.start_fragment(f)
        text, chunks = walk.advance()
        parts, events = [text], chunks
        while not walk.finished:
            self._apply(await self.inbox.take())
            text, chunks = walk.advance()
            parts.append(text)
            events.extend(chunks)
        await self._write("".join(parts), events)

    def _apply(self, events: list[Event]) -> None:
        for event in events:
            self.state.apply(event)

    async def _write(self, text: str, chunks: list[Chunk]) -> None:
        try:
            data = text.encode()
        except UnicodeEncodeError:  # a lone surrogate: rare, so found only now
            data = self._replace_surrogates(text, chunks)
        if self.tracer is not None:
            self.tracer.wrote(trio.current_time(), data, chunks, self.state.seq)
        if data:
            await self.sink(data)

    def _replace_surrogates(self, text: str, chunks: list[Chunk]) -> bytes:
        """Write lone surrogates as U+FFFD, and say which query's value held them."""
        data, first = encode_replacing(text)
        state, found = self.state, []
        reported = self.surrogates_reported = self.surrogates_reported or set()
        for q in self.graph.queries:
            if q.index in reported:
                continue
            values = state.raw_batches[q.index] if q.batched else [state.values[q.index]]
            for i, value in enumerate(values):
                path = surrogate_path(value)
                if path is not None:
                    batch = f" (batch {i})" if q.batched else ""
                    found.append(f"query {q.name!r}{batch} at {q.name}{path}")
                    reported.add(q.index)
                    break
        if not found:  # a renderer made it: name what this write carries
            found = [f"{kind} {name!r}" for kind, name in chunks if name] or ["the shell"]
        logger.warning(
            "page %r: %s: text with a lone surrogate (%s), not valid Unicode; written as U+FFFD",
            self.graph.name,
            ", ".join(found),
            first,
        )
        return data


def _joined(held: list[tuple[str, list[Chunk]]]) -> tuple[str, list[Chunk]]:
    return "".join(t for t, _ in held), [c for _, cs in held for c in cs]


def _fragment_closure(graph: Graph, f: int) -> frozenset[int]:
    """The queries a partial render of fragment ``f`` runs: the shell's (the page's guards),
    those of ``f`` and of the fragments inside it, and everything they depend on."""
    needed: set[int] = set()
    stack = list(graph.shell_queries)
    fragments = [f]
    while fragments:
        node = graph.fragments[fragments.pop()]
        fragments.extend(node.children)
        stack.extend(node.uses)
    while stack:
        q = stack.pop()
        if q not in needed:
            needed.add(q)
            stack.extend(graph.queries[q].depends_on)
    return frozenset(needed)


def _shell_failure(graph: Graph, name: str, error: QueryError) -> ShellError | NotFound | Redirect:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, NotFound):
            return NotFound(cause.reason, page=graph.name, node=name)
        if isinstance(cause, Redirect):
            return Redirect(cause.location, status=cause.status_code, page=graph.name, node=name)
        cause = cause.__cause__
    failure = ShellError(f"shell query {name!r} failed: {error}", page=graph.name, node=name)
    failure.__cause__ = error
    return failure
