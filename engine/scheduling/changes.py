"""What an action's response sends: the queries it changed, and the fragments that show them.

An action invalidates some queries. Those, and every query that depends on one of them
(transitively), are *changed*: they run again. Every fragment that uses a changed query is
re-rendered; one inside another re-rendered fragment comes inline in its parent's template
(its parent waits for it, so no fallback replaces content already on the page); the others are
its own template. Fragments whose inputs did not change are not sent at all, and exposed data
goes out only for changed queries: what did not change is already on the page.

The scheduler is the out-of-order one, with the page already in place: each re-rendered
fragment goes as soon as it (with its nested re-rendered fragments) is ready, in priority then
declaration order, its changed data before or with it, and every write ends with the swap script.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from ..definition.graph import Graph
from ..wire import format as w
from .content import ShellParts
from .expand import Chunk
from .outoforder import OutOfOrder
from .state import State

__all__ = ["Changes", "ChangesSchedule"]


@attrs.frozen
class Changes:
    """The part of a page one action response re-renders."""

    queries: frozenset[int]
    """Changed queries: the invalidated ones and everything depending on them."""
    fragments: frozenset[int]
    """Re-rendered fragments: those using a changed query, and those nested in one."""
    roots: tuple[int, ...]
    """Re-rendered fragments with no re-rendered ancestor: one template each."""
    run: frozenset[int]
    """Queries the response runs: the shell's (the guards), and the inputs of the fragments."""

    @classmethod
    def of(cls, graph: Graph, invalidated: Iterable[int]) -> Changes:
        changed: set[int] = set()
        stack = list(invalidated)
        while stack:
            q = stack.pop()
            if q not in changed:
                changed.add(q)
                stack.extend(graph.queries[q].dependents)
        using = {f.index for f in graph.fragments if changed.intersection(f.uses)}
        roots = tuple(
            f for f in graph.depth_order if f in using and not _has_ancestor(graph, f, using)
        )
        fragments: set[int] = set()
        stack = list(roots)
        while stack:
            f = stack.pop()
            fragments.add(f)
            stack.extend(graph.fragments[f].children)
        run: set[int] = set()
        stack = [
            *graph.shell_queries,
            *changed,
            *(u for f in fragments for u in graph.fragments[f].uses),
        ]
        while stack:
            q = stack.pop()
            if q not in run:
                run.add(q)
                stack.extend(graph.queries[q].depends_on)
        return cls(frozenset(changed), frozenset(fragments), roots, frozenset(run))


def _has_ancestor(graph: Graph, f: int, among: set[int]) -> bool:
    parent = graph.fragments[f].parent
    while parent is not None:
        if parent in among:
            return True
        parent = graph.fragments[parent].parent
    return False


class ChangesSchedule(OutOfOrder):
    """Out-of-order scheduling of the re-rendered fragments over a page already in place."""

    def __init__(self, graph: Graph, state: State, wire: w.Wire, changes: Changes) -> None:
        super().__init__(graph, state, wire)
        self.changes = changes
        for f in graph.fragments:  # on the page already: never sent, never waited for
            if f.index not in changes.fragments:
                fragment = state.fragments[f.index]
                fragment.emitted = fragment.closed = True
        for q in graph.queries:  # unchanged data is on the page already
            if q.expose and q.index not in changes.queries:
                state.send_data_once((q.index, None))
        # A re-rendered fragment waits for the re-rendered fragments nested in it.
        # (Members of a reveal group that are not re-rendered are on the page: not waited for.)
        groups = [tuple(m for m in g if m in changes.fragments) for g in self.groups]
        groups += [tuple(self._subtree(r, set(changes.fragments))) for r in changes.roots]
        self.groups = tuple(g for g in groups if len(g) > 1)
        self.loose_data = tuple(q for q in graph.loose_data if q in changes.queries)
        self._forget_emitted()

    def start(self, shell: ShellParts | None = None) -> tuple[str, list[Chunk]]:
        """No shell: the changed data of shell queries (known now), then what is ready."""
        out: list[str] = []
        for q in self.graph.shell_queries:
            if self.graph.queries[q].expose and q in self.changes.queries:
                self.expander.data(q, None, out)
        chunks = self.expander.take()
        text, more = super().advance()
        return self._swapped("".join(out) + text), [*chunks, *more]

    def advance(self) -> tuple[str, list[Chunk]]:
        text, chunks = super().advance()
        return self._swapped(text), chunks

    def _swapped(self, text: str) -> str:
        """Every write ends with the swap script: the client cuts the stream there."""
        swap = self.wire.swap()
        return text + swap if text and not text.endswith(swap) else text
