"""What the writer of one render knows: query outcomes and fragment contents.

Fragments are rendered as soon as their inputs are known, so a renderer's
failure is known before the scheduler decides where the fragment goes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from typing import Any, cast

from .._errors import FragmentError, QueryError
from .._logs import printable
from ..definition.graph import FragmentNode, Graph
from ..resolution.resolve import ErrorHook, Event, call_error_hook
from .content import Content, render_content

__all__ = ["FragmentState", "State"]

logger = logging.getLogger("engine")

_NONE: frozenset[Any] = frozenset()


class FragmentState:
    """Where one fragment stands in one render.

    One is made per fragment per render, so every default lives on the class: making one
    runs no ``__init__``, and an open stream holds only what changed.
    """

    content: Content | None = None
    failure: QueryError | FragmentError | None = None
    done: bool = False
    """For an append fragment: its batched query has finished."""
    emitted: bool = False
    sent: int = 0
    """For an append fragment: batches on the wire so far."""
    closed: bool = False
    dropped: bool = False
    """Its parent failed, so its slot never reached the page."""

    batches: Sequence[Content] = ()
    """For an append fragment: its rendered batches (a list from the first one on)."""

    @property
    def settled(self) -> bool:
        return self.content is not None or self.failure is not None or self.done


class State:
    """Outcomes of one render's queries and the fragments they produce."""

    def __init__(self, graph: Graph, on_error: ErrorHook | None = None) -> None:
        self.graph = graph
        self.on_error = on_error
        n = len(graph.queries)
        self.values: list[Any] = [None] * n
        self.errors: list[QueryError | None] = [None] * n
        self.settled = [False] * n
        self.raw_batches: dict[int, list[Any]] = {q: [] for q in graph.batched_queries}
        """Per batched query: the batches it has produced so far."""
        self.fragments = [FragmentState() for _ in graph.fragments]
        # Empty until first used (most renders send neither): an empty set is 216 bytes, and
        # every open stream holds its State.
        self.data_sent: AbstractSet[tuple[int, int | None]] = _NONE
        self.styles_sent: AbstractSet[str] = _NONE
        self.seq = 0
        for f in graph.constant_fragments:
            self._refresh(graph.fragments[f])

    def apply(self, event: Event) -> None:
        self.seq += 1
        q = self.graph.queries[event.query]
        if event.kind == "batch":
            self.raw_batches[q.index].append(event.value)
        elif event.kind == "done":
            self.settled[q.index] = True
            self.values[q.index] = event.value
        else:
            self.settled[q.index] = True
            self.errors[q.index] = event.error
        for f in q.consumers:
            self._refresh(self.graph.fragments[f])

    def send_data_once(self, key: tuple[int, int | None]) -> bool:
        """Whether exposed data ``key`` (query, batch) goes out now; it never goes twice."""
        if key in self.data_sent:
            return False
        self.data_sent = set() if not self.data_sent else self.data_sent
        cast("set[tuple[int, int | None]]", self.data_sent).add(key)
        return True

    def send_style_once(self, href: str) -> bool:
        """Whether stylesheet ``href`` is linked now; it is linked once per page."""
        if href in self.styles_sent:
            return False
        self.styles_sent = set() if not self.styles_sent else self.styles_sent
        cast("set[str]", self.styles_sent).add(href)
        return True

    def ready(self, f: int) -> bool:
        """Whether fragment ``f`` has something to show (content, a batch, or a failure)."""
        state = self.fragments[f]
        return (
            state.content is not None
            or state.failure is not None
            or bool(state.batches or state.done)
        )

    def _refresh(self, f: FragmentNode) -> None:
        state = self.fragments[f.index]
        if state.failure is not None or state.content is not None:
            return
        errors, settled, names, known = self.errors, self.settled, self.graph.queries, self.values
        waiting = False
        values: dict[str, Any] = {}
        for u in f.inputs:  # a plain loop: this runs once per query outcome per consumer
            failed = errors[u]
            if failed is not None:
                # Fail fast: a failed input decides the fragment's fate, whatever is pending.
                self._fail(f, failed)
                return
            waiting = waiting or not settled[u]
            values[names[u].name] = known[u]
        if waiting:
            return
        if f.batch_query is None:
            try:
                state.content = render_content(self.graph, f, values)
            except FragmentError as exc:
                self._fail(f, exc)
            return
        name = names[f.batch_query].name
        failed = errors[f.batch_query]
        for batch in self.raw_batches[f.batch_query][len(state.batches) :]:
            try:
                content = render_content(self.graph, f, {**values, name: batch})
                if not state.batches:
                    state.batches = []
                cast("list[Content]", state.batches).append(content)
            except FragmentError as exc:
                self._fail(f, exc)
                return
        if failed is not None:
            self._fail(f, failed)
        elif self.settled[f.batch_query]:
            state.done = True

    def _fail(self, f: FragmentNode, error: QueryError | FragmentError) -> None:
        self.fragments[f.index].failure = error
        if isinstance(error, FragmentError):
            logger.warning("%s", printable(str(error), field=False), exc_info=error.__cause__)
            if self.on_error is not None:
                call_error_hook(self.on_error, self.graph.name, f.target, error)

    def drop_descendants(self, f: int) -> list[int]:
        """Mark the fragments below a failed ``f`` as never placed; return them."""
        dropped: list[int] = []
        stack = list(reversed(self.graph.fragments[f].children))
        while stack:  # in document order
            child = stack.pop()
            state = self.fragments[child]
            if not state.emitted:
                state.emitted = state.dropped = True
                dropped.append(child)
                stack.extend(reversed(self.graph.fragments[child].children))
        return dropped
