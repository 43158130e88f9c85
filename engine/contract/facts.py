"""What a recorded render shows: where each fragment went, and when it was ready.

Readiness is measured in outcome numbers (the order in which the writer learned
query results), so the contract can be checked exactly under any clock.
"""

from __future__ import annotations

from ..definition.graph import FragmentNode, Graph
from .trace import Timeline

__all__ = ["NEVER", "Facts"]

NEVER = 1 << 62
"""Readiness of what the render never waited for (a query cancelled at the end)."""


class Facts:
    """Positions and readiness derived from a timeline."""

    def __init__(self, timeline: Timeline) -> None:
        self.t = timeline
        self.g: Graph = timeline.graph
        self.changes = timeline.changes
        """An action's response: only these fragments are sent, over the page in place."""
        self.events = timeline.events
        self.first: dict[str, int] = {}
        for i, e in enumerate(self.events):
            if e.kind in ("fragment", "failed") and e.name not in self.first:
                self.first[e.name] = i
        self.failed = {e.name for e in self.events if e.kind == "failed"}
        self.dropped = {
            f.target
            for f in self.g.fragments
            if f.parent is not None and self.g.fragments[f.parent].target in self.failed
        }

    def seq(self, q: int) -> int:
        """Outcome number of query ``q``'s result; NEVER if the render did not wait for it."""
        span = self.t.queries.get(self.g.queries[q].name)
        return span.seq if span is not None and span.end is not None else NEVER

    def ready(self, f: FragmentNode) -> int:
        """Outcome number at which ``f`` had something to show (or was sure to fail)."""
        failed = [self.seq(u) for u in f.uses if u != f.batch_query and self._failed(u)]
        if failed:
            return min(failed)
        seqs = [self.seq(u) for u in f.uses if u != f.batch_query]
        if f.batch_query is not None:
            span = self.t.queries.get(self.g.queries[f.batch_query].name)
            if span is not None and span.batch_seqs:
                seqs.append(span.batch_seqs[0])
            else:
                seqs.append(self.seq(f.batch_query))
        return max(seqs, default=0)

    def _failed(self, q: int) -> bool:
        span = self.t.queries.get(self.g.queries[q].name)
        return span is not None and span.outcome == "failed"

    def complete(self, f: FragmentNode) -> int:
        """Outcome number at which ``f`` had all it will ever show."""
        if f.batch_query is None or any(self._failed(u) for u in f.uses if u != f.batch_query):
            return self.ready(f)
        return max(self.ready(f), self.seq(f.batch_query))

    def complete_or_doomed(self, f: FragmentNode) -> int:
        """In order: when ``f`` had all it will show, or was sure to go down with an ancestor."""
        return min(self.complete(f), self._doomed_at(f))

    def group_ready(self, f: FragmentNode) -> int:
        """In order: when every member of f's group could go out, ready or sure to go down.

        (Out of order, rule 3 finds the write each member could join itself: a member
        dropped with its parent joins the write that reports the drop.)
        """
        return max(self.ready_or_doomed(self.g.fragments[m]) for m in f.group)

    def ready_or_doomed(self, f: FragmentNode) -> int:
        """In order: when ``f`` itself could go out, ready or sure to go down with an ancestor."""
        return min(self.ready(f), self._doomed_at(f))

    def _doomed_at(self, f: FragmentNode) -> int:
        """When an ancestor of ``f`` was known to fail (so ``f`` can never be placed)."""
        parent = f.parent
        while parent is not None:
            node = self.g.fragments[parent]
            if node.target in self.failed and node.target not in self.dropped:
                return self.ready(node)
            parent = node.parent
        return NEVER

    def on_page(self, f: FragmentNode) -> bool:
        """Whether ``f`` was on the page before this response (an action's untouched part)."""
        return self.changes is not None and f.index not in self.changes.fragments

    def sent(self, f: FragmentNode) -> bool:
        """Whether this response must fill ``f``'s slot."""
        return self.changes is None or f.index in self.changes.fragments

    def write_of(self, target: str) -> int:
        return self.events[self.first[target]].write

    def first_write_at(self, seq: int, not_before: int = 0) -> int | None:
        for i, write in enumerate(self.t.writes):
            if i >= not_before and write.seq >= seq:
                return i
        return None

    def document_order(self) -> list[FragmentNode]:
        out: list[FragmentNode] = []

        def visit(f: int) -> None:
            out.append(self.g.fragments[f])
            for child in self.g.fragments[f].children:
                visit(child)

        for f in self.g.shell_children:
            visit(f)
        return out
