"""The writer of one render: query outcomes in, scheduled chunks out, one write per turn.

The writer is the only task that touches the sink. Query tasks report outcomes to
its unbounded inbox (a query never waits for the client); each turn the writer
takes every outcome that has arrived, asks the scheduler what it may release, and
sends it as one write. A slow client therefore delays bytes, never queries.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import attrs
import trio

from schemas import Mode

from ._errors import NotFound, QueryError, Redirect, ShellError
from .caching import CacheStore
from .context.request import Request
from .context.response import Response
from .definition.graph import Graph
from .resolution.inbox import Inbox
from .resolution.resolve import ErrorHook, Event, Resolution, Tracer
from .resolution.sources import Sources
from .scheduling.changes import Changes, ChangesSchedule
from .scheduling.content import expand_shell
from .scheduling.expand import Chunk
from .scheduling.inorder import InOrder
from .scheduling.outoforder import OutOfOrder
from .scheduling.state import State
from .wire.encoding import encode_replacing, surrogate_path
from .wire.format import NONCE_PLACEHOLDER, Wire

__all__ = [
    "BATCH_WINDOW",
    "Inputs",
    "Sink",
    "Writer",
    "fragment_closure",
    "page_deadline",
    "with_dependencies",
]

Sink = Callable[[bytes], Awaitable[object]]
"""Where the bytes go: called once per write, in order; the first call carries the shell.

A sink object may also have, as ``engine.asgi.App``'s responses do:

- ``write_last(data)``, a coroutine method: the last write of a whole page or an action's
  answer goes there instead, and ends the response with it (the closing bytes and the end of
  the body in one message);
- ``before_wait()``: called once, when the render first waits for a query (a page served from
  memory never does), so a server can watch for its client leaving only from then on.
"""

logger = logging.getLogger("engine")

BATCH_WINDOW = 16
"""Batches a batched query may run ahead of the wire in a streaming render."""


@attrs.frozen
class Inputs:
    """What the queries of one render receive from outside the graph."""

    params: Mapping[str, Any]
    request: Request
    response: Response
    resources: Mapping[str, Any]
    cache: CacheStore
    renew: frozenset[int] = frozenset()
    """Cached queries an action invalidated: called afresh, their entries replaced."""


def page_deadline(graph: Graph) -> float:
    """When a render of ``graph`` starting now must end (the page's ``deadline``)."""
    budget = graph.page.deadline
    return trio.current_time() + budget if budget else math.inf


class Writer:
    def __init__(
        self,
        graph: Graph,
        mode: Mode,
        wire: Wire,
        sink: Sink,
        tracer: Tracer | None,
        on_error: ErrorHook | None,
        sources: Sources,
        inputs: Inputs,
    ) -> None:
        self.graph = graph
        self.sources = sources
        self.inputs = inputs
        self.mode = mode
        self.wire = wire
        self.sink = sink
        self.write_last: Sink | None = getattr(sink, "write_last", None)
        self.tracer = tracer
        self.state = State(graph, on_error)
        self.on_error = on_error
        self.inbox = Inbox(getattr(sink, "before_wait", None))
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
            renew=inputs.renew,
        )

    def _deadline(self) -> float:
        return page_deadline(self.graph)

    async def page(self, nursery: trio.Nursery) -> None:
        graph, state = self.graph, self.state
        resolution = self._resolution(nursery)
        if self.mode != "buffered":
            resolution.limit_batches(BATCH_WINDOW)
        resolution.start(self._deadline())
        await self._pass_shell()
        schedule = (
            OutOfOrder(graph, state, self.wire)
            if self.mode == "out-of-order"
            else InOrder(graph, state, self.wire, one_write=self.mode == "buffered")
        )
        shell_values = {graph.queries[q].name: state.values[q] for q in graph.shell_queries}
        shell_values[NONCE_PLACEHOLDER] = self.wire.nonce or ""
        shell = expand_shell(graph, shell_values)
        await self._stream(resolution, schedule, schedule.start(shell), graph.shell_tail)

    async def changes(self, changes: Changes, nursery: trio.Nursery) -> None:
        """An action's response: only ``changes``, streamed out of order over the live page."""
        resolution = self._resolution(nursery)
        resolution.limit_batches(BATCH_WINDOW)
        resolution.start(self._deadline(), only=changes.run)
        await self._pass_shell()
        schedule = ChangesSchedule(self.graph, self.state, self.wire, changes)
        await self._stream(resolution, schedule, schedule.start(), "")

    async def _stream(
        self,
        resolution: Resolution,
        schedule: OutOfOrder | InOrder,
        first: tuple[str, list[Chunk]],
        tail: str,
    ) -> None:
        state = self.state
        written = [0] * len(self.graph.queries)
        held: list[tuple[str, list[Chunk]]] = [first] if first[0] or first[1] else []
        del first  # written below, then let go: a stream that waits must not hold its shell
        buffered = self.mode == "buffered"
        while not schedule.finished:
            if not buffered and held:
                await self._write(*_taken(held))
                for q in resolution.credits:
                    resolution.credits.written(q, len(state.raw_batches[q]) - written[q])
                    written[q] = len(state.raw_batches[q])
            self._apply(await self.inbox.take())
            text, chunks = schedule.advance()
            if text or chunks:
                held.append((text, chunks))
        # The closing HTML rides in the last write: one send fewer per response.
        held.append((tail, [("close", "")]))
        await self._write(*_taken(held), last=True)

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
        needed = fragment_closure(graph, f)
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
        apply = self.state.apply
        for event in events:
            apply(event)

    async def _write(self, text: str, chunks: list[Chunk], *, last: bool = False) -> None:
        try:
            data = text.encode()
        except UnicodeEncodeError:  # a lone surrogate: rare, so found only now
            data = self._replace_surrogates(text, chunks)
        del text  # the bytes are what is sent; a send that waits holds one copy, not two
        if self.tracer is not None:
            self.tracer.wrote(trio.current_time(), data, chunks, self.state.seq)
        if not data:
            return
        if last and self.write_last is not None:
            await self.write_last(data)
        else:
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


def _taken(held: list[tuple[str, list[Chunk]]]) -> tuple[str, list[Chunk]]:
    """What ``held`` says, joined, and ``held`` emptied: the caller keeps no text to wait with."""
    text, chunks = "".join(t for t, _ in held), [c for _, cs in held for c in cs]
    held.clear()
    return text, chunks


def fragment_closure(graph: Graph, f: int) -> frozenset[int]:
    """The queries a partial render of fragment ``f`` runs: the shell's (the page's guards),
    those of ``f`` and of the fragments inside it, and everything they depend on."""
    wanted = list(graph.shell_queries)
    fragments = [f]
    while fragments:
        node = graph.fragments[fragments.pop()]
        fragments.extend(node.children)
        wanted.extend(node.uses)
    return with_dependencies(graph, wanted)


def with_dependencies(graph: Graph, queries: Iterable[int]) -> frozenset[int]:
    """``queries`` and everything they depend on, transitively."""
    needed: set[int] = set()
    stack = list(queries)
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
    failure = ShellError(f"shell query {name!r} failed: {error.reason}", page=graph.name, node=name)
    failure.__cause__ = error
    return failure
