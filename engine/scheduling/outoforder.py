"""The out-of-order scheduler: the shell at once, then each fragment as it is ready.

Each turn it releases every chunk the ordering contract allows, by construction:

* a fragment is placeable when it has content (or has failed), its parent slot is
  on the page or placed in the same turn, and every member of its reveal group is
  placeable too;
* placeable fragments whose parent is placed in the same turn go inside it, the
  others become chunks (one per reveal group), sorted by priority then declaration
  order, all in one write;
* nothing ready is held back (work-conserving).
"""

from __future__ import annotations

from ..definition.graph import Graph
from ..wire import format as w
from .content import ShellParts
from .expand import Chunk, Expander
from .state import State

__all__ = ["OutOfOrder"]


class OutOfOrder:
    def __init__(self, graph: Graph, state: State, wire: w.Wire) -> None:
        self.graph = graph
        self.state = state
        self.wire = wire
        self.expander = Expander(graph, state, wire)
        self.pending = list(graph.depth_order)
        self.groups = graph.reveal_groups
        # Exposed data goes with its first fragment; what no fragment carried (all its
        # consumers failed or none exist) goes on its own once the query succeeds.
        self.loose_data = graph.loose_data

    @property
    def finished(self) -> bool:
        states = self.state.fragments
        return (
            not self.pending
            and all(states[f].closed or states[f].dropped for f in self.graph.append_fragments)
            and all(
                self.state.errors[q] is not None or (q, None) in self.state.data_sent
                for q in self.loose_data
            )
        )

    def start(self, shell: ShellParts) -> tuple[str, list[Chunk]]:
        """The shell: ready fragments in place, fallbacks elsewhere, then the runtime."""
        out: list[str] = []
        expander = self.expander
        expander.shell(shell, self._placeable(), out)
        for q in self.graph.shell_queries:
            if self.graph.queries[q].expose:
                expander.data(q, None, out)
        self._forget_emitted()
        for q in self._loose_ready():
            expander.data(q, None, out)
        graph = self.graph
        # A navigation view fills ranges of a page whose runtime already runs.
        out.append(self.wire.swap() if graph.below else self.wire.runtime(graph.navigation))
        return "".join(out), [("shell", ""), *expander.take()]

    def advance(self) -> tuple[str, list[Chunk]]:
        """Everything releasable now, as the text of one write."""
        units = self._units()
        expander = self.expander
        released: list[tuple[tuple[int, int], str, list[Chunk]]] = []
        for key, roots, inline in units:
            body: list[str] = []
            for root in roots:
                node = self.graph.fragments[root]
                expander.prelude(node, expander.preludes)
                opening, closing = w.slot_template(node.target, node.context)
                body.append(opening)
                expander.content(root, inline, body, here=False)
                body.append(closing)
            if expander.preludes:
                body[:0] = expander.preludes
                expander.preludes.clear()
            released.append((key, "".join(body), expander.take()))
        for f in self._open_appends():
            node = self.graph.fragments[f]
            state = self.state.fragments[f]
            out: list[str] = []
            expander.prelude(node, out)
            out.append(w.template_open(f"{node.target}.{state.sent}", node.context))
            expander.batches(node, out)
            out.append(w.template_close(node.context))
            released.append(((-node.priority, node.index), "".join(out), expander.take()))
        for q in self._loose_ready():
            out = []
            expander.data(q, None, out)
            released.append(((0, -1), "".join(out), expander.take()))
        self._forget_emitted()
        if not released:
            return "", []
        released.sort(key=lambda item: item[0])
        text = "".join(t for _, t, _ in released)
        if "<template for=" in text:
            text += self.wire.swap()
        return text, [c for _, _, cs in released for c in cs]

    # -- deciding what goes now -------------------------------------------------------

    def _placeable(self) -> set[int]:
        fragments, states = self.graph.fragments, self.state.fragments
        placeable: set[int] = set()
        for f in self.pending:  # parents come before their children
            s = states[f]  # State.ready(f), inline: once per pending fragment per turn
            if s.content is None and s.failure is None and not s.batches and not s.done:
                continue
            parent = fragments[f].parent
            if parent is None or states[parent].emitted or parent in placeable:
                placeable.add(f)
        changed = bool(self.groups)
        while changed:
            changed = False
            doomed = self._doomed(placeable)
            for group in self.groups:
                # A member dropped with its failed parent no longer holds the others back.
                if any(m in placeable for m in group) and not all(
                    m in placeable or m in doomed or states[m].dropped for m in group
                ):
                    self._withdraw(group, placeable)
                    changed = True
        return placeable

    def _doomed(self, placeable: set[int]) -> set[int]:
        """Fragments that go down with a failed ancestor placed this turn."""
        fragments, states = self.graph.fragments, self.state.fragments
        doomed: set[int] = set()
        for f in self.pending:
            parent = fragments[f].parent
            if parent is not None and (
                parent in doomed or (parent in placeable and states[parent].failure is not None)
            ):
                doomed.add(f)
        return doomed

    def _withdraw(self, members: tuple[int, ...], placeable: set[int]) -> None:
        stack = list(members)
        while stack:
            f = stack.pop()
            if f in placeable:
                placeable.discard(f)
                stack.extend(self.graph.fragments[f].children)

    def _units(self) -> list[tuple[tuple[int, int], list[int], set[int]]]:
        placeable = self._placeable()
        if self.graph.nested:
            placeable -= self._doomed(placeable)  # they go down with their parent, in its unit
        if not placeable:
            return []
        fragments = self.graph.fragments
        roots = sorted(f for f in placeable if fragments[f].parent not in placeable)
        if not self.groups:  # no reveal groups: every root is its own unit
            return sorted(
                (((-fragments[r].priority, r), [r], placeable) for r in roots),
                key=lambda u: u[0],
            )
        # Roots whose placed subtrees share a reveal group form one unit (union-find).
        leader = {root: root for root in roots}

        def find(root: int) -> int:
            while leader[root] != root:
                leader[root] = leader[leader[root]]
                root = leader[root]
            return root

        by_group: dict[str, int] = {}
        for root in roots:
            for f in self._subtree(root, placeable):
                reveal = fragments[f].reveal
                if reveal is None:
                    continue
                if reveal in by_group:
                    leader[find(root)] = find(by_group[reveal])
                else:
                    by_group[reveal] = root
        grouped: dict[int, list[int]] = {}
        for root in roots:
            grouped.setdefault(find(root), []).append(root)
        members = list(grouped.values())
        units = []
        for roots_of_unit in members:
            ordered = sorted(roots_of_unit, key=lambda r: (-fragments[r].priority, r))
            top = fragments[ordered[0]]
            units.append(((-top.priority, top.index), ordered, placeable))
        units.sort(key=lambda u: u[0])
        return units

    def _subtree(self, root: int, placeable: set[int]) -> list[int]:
        out, stack = [], [root]
        while stack:
            f = stack.pop()
            out.append(f)
            stack.extend(c for c in self.graph.fragments[f].children if c in placeable)
        return out

    def _loose_ready(self) -> list[int]:
        """Exposed queries that succeeded and that no fragment still to come will carry."""
        state = self.state
        return [
            q
            for q in self.loose_data
            if state.settled[q]
            and state.errors[q] is None
            and (q, None) not in state.data_sent
            and all(state.fragments[f].emitted for f in self.graph.queries[q].consumers)
        ]

    def _open_appends(self) -> list[int]:
        states = self.state.fragments
        return [
            f
            for f in self.graph.append_fragments
            if states[f].emitted
            and not states[f].closed
            and not states[f].dropped
            and (
                len(states[f].batches) > states[f].sent
                or states[f].done
                or states[f].failure is not None
            )
        ]

    def _forget_emitted(self) -> None:
        states = self.state.fragments
        self.pending = [f for f in self.pending if not states[f].emitted]
