"""OpenTelemetry spans for renders: one per render, per query and per flush.

Imported only when an app turns tracing on, so ``opentelemetry-api`` stays optional and a
render without tracing pays nothing. Span times come from trio's clock, anchored once per
render to the wall clock: durations follow the same monotonic (or mock) clock as the
engine's own timeline and Server-Timing, and a wall-clock jump cannot make a span negative.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import Token
from typing import Any

import trio
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, Status, StatusCode

from .._errors import DependencyFailed, NotFound, QueryError, Redirect
from ..definition.graph import Graph
from ..resolution.resolve import Tracer

__all__ = ["RenderTrace", "Tracing"]

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]
AttributeValue = str | bool | int | float | list[str]

PREFIX = "engine."
"""Every attribute the engine sets is under it, the data layer's notes included."""


class Tracing:
    """An app's tracing: where its spans go (the global tracer provider, or the one given)."""

    def __init__(self, provider: trace.TracerProvider | None = None) -> None:
        self.tracer = trace.get_tracer("engine", tracer_provider=provider)

    def capture(self) -> Context:
        """The caller's context: the server's request span, if instrumentation set one."""
        return otel_context.get_current()

    def start(
        self,
        graph: Graph,
        mode: str,
        parent: Context | None,
        *,
        fragment: str | None = None,
        also: Tracer | None = None,
    ) -> RenderTrace:
        return RenderTrace(self.tracer, graph, mode, parent, fragment=fragment, also=also)


class RenderTrace:
    """The spans of one render; a :class:`~engine.Tracer` that forwards to ``also``.

    Create and :meth:`finish` it in the task that runs the render: the render span is that
    task's current span in between, and the parent of every query and flush span. A query
    span is the current span of its task while it runs, so spans of instrumented libraries
    it calls (an HTTP client, a database driver) nest under it; it links to the spans of its
    dependencies. A flush span opens when the writer hands over its bytes and ends when the
    server's ``send`` for them returned (see :meth:`wrap_send`).
    """

    def __init__(
        self,
        tracer: trace.Tracer,
        graph: Graph,
        mode: str,
        parent: Context | None,
        *,
        fragment: str | None = None,
        also: Tracer | None = None,
    ) -> None:
        self._tracer = tracer
        self._graph = graph
        self._also = also
        self._wall = time.time_ns()
        self._clock = trio.current_time()
        attributes: dict[str, AttributeValue] = {"engine.page": graph.name, "engine.mode": mode}
        if fragment is not None:
            attributes["engine.fragment"] = fragment
        self.span = tracer.start_span(
            f"render {graph.name}", context=parent, start_time=self._wall, attributes=attributes
        )
        self.context = trace.set_span_in_context(self.span, parent)
        self._recording = self.span.is_recording()  # False: sampled out, so its children too
        self._task = trio.lowlevel.current_task()
        self._token = otel_context.attach(self.context)
        self._queries: dict[str, Span] = {}
        self._running: dict[str, tuple[Token[Context], trio.lowlevel.Task]] = {}
        self._ended: set[str] = set()
        self._notes: dict[str, dict[str, AttributeValue]] = {}
        self._unsent: list[Span] = []
        self._flushes = 0

    def _ns(self, clock: float) -> int:
        return self._wall + round((clock - self._clock) * 1e9)

    # -- Tracer ------------------------------------------------------------------

    def query_started(self, name: str, time: float) -> None:
        if self._also is not None:
            self._also.query_started(name, time)
        if not self._recording:
            return
        span = self._open_query(name, time)
        token = otel_context.attach(trace.set_span_in_context(span, self.context))
        self._running[name] = (token, trio.lowlevel.current_task())

    def query_batch(self, name: str, time: float, seq: int) -> None:
        if self._also is not None:
            self._also.query_batch(name, time, seq)
        span = self._queries.get(name)
        if span is not None:
            span.add_event("engine.query.batch", timestamp=self._ns(time))

    def query_finished(
        self, name: str, time: float, outcome: str, seq: int, error: BaseException | None
    ) -> None:
        if self._also is not None:
            self._also.query_finished(name, time, outcome, seq, error)
        if not self._recording:
            return
        span = self._queries.get(name) or self._open_query(name, time)  # never started
        span.set_attribute("engine.query.outcome", outcome)
        if error is not None:
            _record_failure(span, error)
        self._end_query(name, span, self._ns(time))

    def query_note(self, name: str, key: str, value: object) -> None:
        """A fact the data layer noted (``Resolution.note``): an ``engine.<key>`` attribute."""
        if not self._recording:
            return
        attribute, converted = PREFIX + key, _attribute_value(value)
        span = self._queries.get(name)
        if span is None:
            self._notes.setdefault(name, {})[attribute] = converted
        elif name not in self._ended:
            span.set_attribute(attribute, converted)

    def wrote(self, time: float, data: bytes, chunks: list[tuple[str, str]], seq: int) -> None:
        if self._also is not None:
            self._also.wrote(time, data, chunks, seq)
        if not (data and self._recording):
            return  # the writer sends nothing for it, or nothing is recorded
        fragments = [name for kind, name in chunks if kind in ("fragment", "failed")]
        attributes: dict[str, AttributeValue] = {
            "engine.flush.index": self._flushes,
            "engine.flush.bytes": len(data),
            "engine.flush.chunks": [f"{kind} {name}".rstrip() for kind, name in chunks],
        }
        if fragments:
            attributes["engine.flush.fragments"] = fragments
        self._flushes += 1
        self._unsent.append(
            self._tracer.start_span(
                "flush", context=self.context, start_time=self._ns(time), attributes=attributes
            )
        )

    # -- the server side ------------------------------------------------------------

    def wrap_send(self, send: Send) -> Send:
        """``send``, ending the flush spans whose bytes a body message carries once it returned.

        The flush span is the current span during that send, so the server instrumentation's
        own ``http send`` span nests under it.
        """
        if not self._recording:
            return send

        async def traced(message: Message) -> None:
            if not (self._unsent and message["type"] == "http.response.body" and message["body"]):
                await send(message)
                return
            flushes, self._unsent = self._unsent, []
            token = otel_context.attach(trace.set_span_in_context(flushes[-1], self.context))
            written = False
            try:
                await send(message)
                written = True
            except BaseException as exc:
                for span in flushes:
                    span.set_status(Status(StatusCode.ERROR, f"not written: {exc!r}"))
                raise
            finally:
                otel_context.detach(token)
                end = self._ns(trio.current_time())
                for span in flushes:
                    span.set_attribute("engine.flush.written", written)
                    span.end(end)

        return traced

    def finish(self, status: int | None, outcome: str) -> None:
        """End the render span, and any span the render left open (cancelled, never sent)."""
        end = self._ns(trio.current_time())
        for span in self._unsent:
            span.set_attribute("engine.flush.written", False)
            span.end(end)
        self._unsent = []
        for name, span in self._queries.items():
            if name not in self._ended:
                span.set_attribute("engine.query.outcome", "cancelled")
                span.end(end)
        self._ended.update(self._queries)
        if status is not None:
            self.span.set_attribute("http.response.status_code", status)
        self.span.set_attribute("engine.outcome", outcome)
        if (status is not None and status >= 500) or outcome == "error":
            self.span.set_status(Status(StatusCode.ERROR, outcome))
        self.span.end(end)
        if self._task is trio.lowlevel.current_task():
            otel_context.detach(self._token)

    # -- queries ---------------------------------------------------------------------

    def _open_query(self, name: str, time: float) -> Span:
        node = self._graph.queries[self._graph.query_index[name]]
        links = [
            Link(self._queries[dep.name].get_span_context())
            for dep in (self._graph.queries[d] for d in node.depends_on)
            if dep.name in self._queries
        ]
        attributes: dict[str, AttributeValue] = {"engine.query": name}
        attributes.update(self._notes.pop(name, ()))
        span = self._tracer.start_span(
            f"query {name}",
            context=self.context,
            start_time=self._ns(time),
            attributes=attributes,
            links=links,
        )
        self._queries[name] = span
        return span

    def _end_query(self, name: str, span: Span, end: int) -> None:
        self._ended.add(name)
        running = self._running.pop(name, None)
        if running is not None and running[1] is trio.lowlevel.current_task():
            otel_context.detach(running[0])
        span.end(end)


def _record_failure(span: Span, error: BaseException) -> None:
    """``error.type`` names what really failed: the query's own exception, not its wrapper.

    Its exception (with its traceback) is recorded once, on the span of the query that raised
    it; a shell query's 404 or redirect is an answer, not an error.
    """
    cause = error.__cause__ if type(error) is QueryError else None
    failed = cause if cause is not None else error
    span.set_attribute("error.type", type(failed).__qualname__)
    if isinstance(failed, NotFound | Redirect):
        return
    if isinstance(error, DependencyFailed) and isinstance(error.__cause__, QueryError):
        span.set_attribute("engine.query.failed_dependency", error.__cause__.query)
    else:
        span.record_exception(failed)
    span.set_status(Status(StatusCode.ERROR, str(error)))


def _attribute_value(value: object) -> AttributeValue:
    if isinstance(value, str | bool | int | float):
        return value
    return str(value)
