"""Turning placed fragments into HTML text, shared by every mode.

A fragment's slot content is its rendered HTML with each nested slot either
filled in place (the child is ready now) or left as a fallback range that a later
chunk fills. Exposed query data and stylesheets go out with the first fragment
that needs them, and never twice.
"""

from __future__ import annotations

from collections.abc import Container

from ..definition.graph import FragmentNode, Graph
from ..markup.templates import Slot
from ..wire import format as w
from .content import Content, ShellParts
from .state import State

__all__ = ["Chunk", "Expander"]

Chunk = tuple[str, str]
"""``(kind, name)`` of what a write carries: shell, query, fragment, batch, end, failed."""


class Expander:
    """Writes the HTML of placed fragments, recording what each write carries."""

    def __init__(self, graph: Graph, state: State, wire: w.Wire, *, points: bool = True) -> None:
        self.graph = graph
        self.points = points
        self.state = state
        self.wire = wire
        self.chunks: list[Chunk] = []
        # Most fragments need no data or stylesheet: skip their prelude at once.
        self.needs_prelude = graph.prelude_fragments
        self.preludes: list[str] = []
        """Data and stylesheets held back to go before a template (out-of-order)."""

    def take(self) -> list[Chunk]:
        chunks, self.chunks = self.chunks, []
        return chunks

    # -- data and stylesheets ---------------------------------------------------

    def prelude(self, f: FragmentNode, out: list[str]) -> None:
        """Append the data and stylesheets ``f`` needs that are not on the wire yet."""
        if f.index not in self.needs_prelude:
            return
        state = self.state
        for u in f.uses:
            q = self.graph.queries[u]
            if not q.expose or (state.errors[u] is not None and u != f.batch_query):
                continue
            if u == f.batch_query:
                for i in range(len(state.fragments[f.index].batches)):
                    self.data(u, i, out)
            elif state.settled[u]:
                self.data(u, None, out)
        for href in f.stylesheets:
            if state.send_style_once(href):
                out.append(self.wire.stylesheet(href))

    def data(self, q: int, batch: int | None, out: list[str]) -> None:
        if not self.state.send_data_once((q, batch)):
            return
        query = self.graph.queries[q]
        value = self.state.values[q] if batch is None else self.state.raw_batches[q][batch]
        out.append(self.wire.data(query.name, value, batch))
        self.chunks.append(("query", query.name))

    # -- content ------------------------------------------------------------------

    def shell(self, parts: ShellParts, inline: Container[int], out: list[str]) -> None:
        """The expanded shell: its HTML, the fragments in ``inline`` placed in their slots and
        fallbacks in the others."""
        index = self.graph.fragment_index
        for part in parts:
            if isinstance(part, str):
                out.append(part)
            elif (f := index[part.name]) in inline:
                self.placed(f, inline, out, here=True)
            else:
                self.placeholder(f, out)

    def placed(self, f: int, inline: Container[int], out: list[str], *, here: bool) -> None:
        """``f`` inside its own start/end markers, with its prelude in place or held back."""
        node = self.graph.fragments[f]
        if f in self.needs_prelude:
            self.prelude(node, out if here else self.preludes)
        out.append(w.start(node.target))
        self.content(f, inline, out, here=here)
        out.append(w.END)

    def placeholder(self, f: int, out: list[str]) -> None:
        node = self.graph.fragments[f]
        out.extend((w.start(node.target), node.fallback, w.END))

    def content(self, f: int, inline: Container[int], out: list[str], *, here: bool) -> None:
        """The slot content of ``f``: children in ``inline`` in place, others as fallbacks."""
        node = self.graph.fragments[f]
        state = self.state.fragments[f]
        state.emitted = True
        # An append fragment that failed after some batches shows them, then its failure,
        # however late its slot is reached: every mode ends with the same content.
        if state.failure is not None and not (node.append and state.batches):
            self.failure(node, out)
            return
        self.chunks.append(("fragment", node.target))
        if node.append:
            self.batches(node, out)
            return
        content = state.content
        assert content is not None
        if len(content) == 1 and type(content[0]) is str:  # no nested slot: the common case
            out.append(content[0])
        else:
            self.pieces(content, inline, out, here=here)

    def pieces(
        self, content: Content, inline: Container[int], out: list[str], *, here: bool
    ) -> None:
        if len(content) == 1 and type(content[0]) is str:  # no nested slot: the common case
            out.append(content[0])
            return
        index = self.graph.fragment_index
        for piece in content:
            if isinstance(piece, Slot):
                child = index[piece.name]
                if child in inline:
                    self.placed(child, inline, out, here=here)
                else:
                    self.placeholder(child, out)
            else:
                out.append(piece)

    def batches(self, node: FragmentNode, out: list[str]) -> None:
        """The batches of an append fragment not yet sent, then the point for the next."""
        state = self.state.fragments[node.index]
        for batch in state.batches[state.sent :]:
            out.extend(p for p in batch if isinstance(p, str))
        if state.sent and len(state.batches) > state.sent:
            self.chunks.append(("batch", node.target))
        state.sent = len(state.batches)
        if state.failure is not None:
            self.failure(node, out)
        elif state.done:
            state.closed = True
            self.chunks.append(("end", node.target))
        elif self.points:
            out.append(w.marker(f"{node.target}.{state.sent}"))

    def failure(self, node: FragmentNode, out: list[str]) -> None:
        state = self.state.fragments[node.index]
        state.closed = True
        default = "" if state.sent else node.fallback
        out.append(w.FAILED)
        out.append(node.error if node.error is not None else default)
        self.chunks.append(("failed", node.target))
        for dropped in self.state.drop_descendants(node.index):
            self.chunks.append(("failed", self.graph.fragments[dropped].target))
