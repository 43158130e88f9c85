"""The in-order scheduler: the document in authored order, with no script at all.

Queries still resolve concurrently; the writer walks the document and flushes as
far as everything before the cursor is ready. The walk is a generator that yields
whenever the fragment at the cursor is not ready yet, so resuming it later is just
``next()``. Buffered mode is the same walk, written once at the end.
"""

from __future__ import annotations

from collections.abc import Generator

from ..definition.graph import Graph
from ..markup.templates import Slot
from ..wire import format as w
from .content import ShellParts
from .expand import Chunk, Expander
from .state import State

__all__ = ["InOrder"]

Walk = Generator[None, None, None]


class InOrder:
    def __init__(
        self, graph: Graph, state: State, wire: w.Wire, *, one_write: bool = False
    ) -> None:
        self.graph = graph
        self.state = state
        # In order, batches follow each other directly: no point marker between them.
        self.expander = Expander(graph, state, wire, points=False)
        self.wire = wire
        # Where exposed data is sent, so is $E (data and events): the runtime goes before
        # the first slot, and a constant swap script ends each write that brought content.
        self.with_runtime = graph.navigation is not None or any(q.expose for q in graph.queries)
        self.runtime_sent = False
        self.one_write = one_write
        """Buffered: the writes are joined into one, which needs one swap script, at its end."""
        self.news = False
        self.out: list[str] = []
        self.finished = False
        self.walk: Walk | None = None

    def start(self, shell: ShellParts) -> tuple[str, list[Chunk]]:
        self.walk = self._document(shell)
        text, chunks = self.advance()
        return text, [("shell", ""), *chunks]

    def _runtime(self) -> None:
        if self.with_runtime and not self.runtime_sent:
            self.runtime_sent = True
            self.out.append(self.wire.runtime(self.graph.navigation))

    def start_fragment(self, f: int) -> None:
        """Walk one fragment alone, as the ``<template for>`` of a partial response."""
        self.walk = self._slot(f, partial=True)

    def advance(self) -> tuple[str, list[Chunk]]:
        assert self.walk is not None
        if not self.finished:
            try:
                next(self.walk)
            except StopIteration:
                self.finished = True
        text = "".join(self.out)
        self.out.clear()
        if self.runtime_sent:
            self.news = self.news or w.END in text or w.DATA_ISLAND in text
            if self.news and (self.finished or not self.one_write):
                text += self.wire.swap()  # a slot completed, or data came: announce it
                self.news = False
        return text, self.expander.take()

    def _doomed(self, f: int) -> bool:
        """Whether ``f`` can never be placed: an ancestor's failure replaces its slot."""
        parent = self.graph.fragments[f].parent
        while parent is not None:
            if self.state.fragments[parent].failure is not None:
                return True
            parent = self.graph.fragments[parent].parent
        return False

    # -- the walk --------------------------------------------------------------

    def _document(self, shell: ShellParts) -> Walk:
        expander, graph = self.expander, self.graph
        for part in shell:
            if isinstance(part, Slot):
                self._runtime()
                yield from self._slot(graph.fragment_index[part.name])
            else:
                self.out.append(part)
        exposed = [q.index for q in graph.queries if q.expose and not q.batched]
        while not all(self.state.settled[q] for q in exposed):
            yield
        self._runtime()
        for q in exposed:
            if self.state.errors[q] is None:
                expander.data(q, None, self.out)

    def _slot(self, f: int, *, partial: bool = False) -> Walk:
        state, node = self.state, self.graph.fragments[f]
        group = (f,) if partial else node.group
        while not all(state.ready(m) or self._doomed(m) for m in group):
            yield
        expander = self.expander
        expander.prelude(node, self.out)
        if partial:
            self.out.append(w.template_open(node.target))
        self.out.append(w.start(node.target))
        fragment = state.fragments[f]
        if node.append and fragment.failure is None:
            expander.content(f, (), self.out, here=True)
            while not fragment.closed:
                yield
                expander.prelude(node, self.out)
                if len(fragment.batches) > fragment.sent or fragment.done or fragment.failure:
                    expander.batches(node, self.out)
        elif fragment.failure is not None:
            expander.content(f, (), self.out, here=True)
        else:
            fragment.emitted = True
            expander.chunks.append(("fragment", node.target))
            assert fragment.content is not None
            for piece in fragment.content:
                if isinstance(piece, Slot):
                    yield from self._slot(self.graph.fragment_index[piece.name])
                else:
                    self.out.append(piece)
        self.out.append(w.END)
        if partial:
            self.out.append(w.template_close())
