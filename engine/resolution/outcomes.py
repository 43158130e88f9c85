"""What the queries of one render report: events for the writer, the tracer's timeline, the
user's error hook, and which exceptions leave a query's task instead of failing the query."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal, Protocol

import msgspec
import trio

from .._errors import (
    DependencyFailed,
    NotFound,
    QueryError,
    QueryTimeout,
    Redirect,
    ResultTypeError,
    SourceExhausted,
)
from .._logs import printable
from ..definition.convert import CONVERSION_ERRORS
from ..definition.graph import QueryNode
from ..definition.signatures import type_name
from .sources import Admission

__all__ = [
    "ErrorHook",
    "Event",
    "Tracer",
    "call_error_hook",
    "checked",
    "log_failure",
    "propagates",
    "query_failure",
    "timeout_error",
]

logger = logging.getLogger("engine")

ErrorHook = Callable[[str, str, BaseException], None]
"""``on_error(page, node, exception)``: called for every query or fragment failure."""


class Tracer(Protocol):
    """Receives the timeline of one render (``engine render --trace``, tests, tracing).

    A tracer may also define ``query_note(name, key, value)``: it then receives every fact
    the data layer records with :meth:`Resolution.note` (cache outcome, batch size...).
    """

    def query_started(self, name: str, time: float) -> None: ...

    def query_batch(self, name: str, time: float, seq: int) -> None: ...

    def query_finished(
        self, name: str, time: float, outcome: str, seq: int, error: BaseException | None
    ) -> None: ...

    def wrote(self, time: float, data: bytes, chunks: list[tuple[str, str]], seq: int) -> None: ...


class Event(msgspec.Struct, frozen=True):
    """What a query task tells the writer (one per outcome, so a cheap struct)."""

    query: int
    kind: Literal["done", "failed", "batch"]
    value: Any = None
    error: QueryError | None = None


def propagates(exc: BaseException) -> bool:
    """Whether ``exc`` must leave the query's task instead of failing the query.

    Two kinds do: :class:`trio.Cancelled` is the engine's own cancellation (a timeout,
    the page deadline, the client leaving), which only its cancel scope may catch; and
    :class:`KeyboardInterrupt` means the person running the process wants it to stop.
    Every other exception, ``SystemExit``, ``GeneratorExit``, ``asyncio.CancelledError``
    and custom ``BaseException`` subclasses included, is one query's failure: code
    called for one request must not end the render, let alone the server.
    """
    if isinstance(exc, BaseExceptionGroup):
        return exc.subgroup(_PROPAGATING) is not None
    return isinstance(exc, _PROPAGATING)


_PROPAGATING = (trio.Cancelled, KeyboardInterrupt)


def checked(page: str, q: QueryNode, value: Any) -> Any:
    """``value`` converted to the query's declared result type, or its typed failure."""
    try:
        return q.convert(value)
    except CONVERSION_ERRORS as exc:
        raise ResultTypeError(
            f"returned a value that is not a valid {type_name(q.result)}: {exc}",
            page=page,
            query=q.name,
        ) from exc


def query_failure(page: str, q: QueryNode, exc: BaseException) -> QueryError:
    """What a query's call raised, as the query's failure (the exception as its cause)."""
    error = QueryError(f"{type(exc).__name__}: {exc}", page=page, query=q.name)
    error.__cause__ = exc
    return error


def log_failure(error: QueryError) -> None:
    """One line naming the page and the query; the message is escaped (it may quote what the
    client sent). A dependent's failure is only noise: the query that failed is logged."""
    if isinstance(error, DependencyFailed):
        level = logging.DEBUG
    elif isinstance(error.__cause__, (NotFound, Redirect)):
        level = logging.INFO
    else:
        level = logging.WARNING
    logger.log(level, "%s", printable(str(error), field=False))


def call_error_hook(hook: ErrorHook, page: str, node: str, error: BaseException) -> None:
    """Call the user's ``on_error``; a hook that raises is logged, never fatal to the render."""
    try:
        hook(page, node, error)
    except Exception:
        logger.exception("page %r: on_error hook raised while reporting %r", page, node)


def timeout_error(
    page: str, q: QueryNode, started: float, page_deadline: float, admission: Admission | None
) -> QueryTimeout:
    """Why ``q`` ran out of time: its own timeout or the page's deadline, and whether it was
    still waiting for a place in its source (then the source is named, with the fix)."""
    if q.timeout and started + q.timeout <= page_deadline:
        why = f"timed out after {q.timeout:g} s"
    else:
        why = "the page deadline passed"
    if admission is not None and admission.state == "waiting":
        why = f"{why} waiting for a place: {admission.source.describe()}"
        return SourceExhausted(why, page=page, query=q.name)
    return QueryTimeout(why, page=page, query=q.name)
