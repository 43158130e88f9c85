"""Navigation views: the part of a page below a layout the client already shows.

A navigation request names the layouts the client holds (their range ids). When the page
shares one of them, the response fills only that layout's content range: its view is a
graph of its own, with the layers below (their shell part, their fragments, the queries
those need) and every shell query of every layer, so the guards run exactly as for a GET
and the ordering contract is checked on it like on any page. Layout-only queries and
fragments are not in it, so they neither run nor go out.
"""

from __future__ import annotations

import attrs

from .graph import Graph
from .ranges import PartShell

__all__ = ["navigation_view"]

_VIEWS: dict[tuple[int, int], tuple[Graph, Graph]] = {}
"""Views built so far, by (graph, layout): the graph is kept so its id stays its own."""


def navigation_view(graph: Graph, held: str) -> Graph | None:
    """The view of ``graph`` below the innermost of the layouts ``held`` (range ids, space
    separated, as the client sends them) that the page shares; None: answer the whole page."""
    if graph.navigation is None or graph.below is not None:
        return None
    have = set(held.split())
    for k in reversed(range(len(graph.ranges))):
        if graph.ranges[k].id in have:
            key = (id(graph), k)
            cached = _VIEWS.get(key)
            if cached is None or cached[0] is not graph:
                if len(_VIEWS) > 1024:
                    _VIEWS.clear()
                cached = _VIEWS[key] = (graph, _view(graph, k))
            return cached[1]
    return None


def _view(graph: Graph, k: int) -> Graph:
    slots = graph.ranges[k].slots
    fragments = graph.fragments
    kept: set[int] = set()
    for f in graph.depth_order:  # parents first
        parent = fragments[f].parent
        if (fragments[f].target in slots) if parent is None else (parent in kept):
            kept.add(f)
    needed: set[int] = set()
    stack = [*graph.shell_queries, *(u for f in kept for u in fragments[f].uses)]
    while stack:
        q = stack.pop()
        if q not in needed:
            needed.add(q)
            stack.extend(graph.queries[q].depends_on)
    qmap = {q: i for i, q in enumerate(sorted(needed))}
    fmap = {f: i for i, f in enumerate(sorted(kept))}
    queries = tuple(
        attrs.evolve(
            q,
            index=qmap[q.index],
            depends_on=tuple(qmap[d] for d in q.depends_on),
            dependents=tuple(qmap[d] for d in q.dependents if d in qmap),
            consumers=tuple(fmap[c] for c in q.consumers if c in fmap),
        )
        for q in graph.queries
        if q.index in qmap
    )
    kept_fragments = tuple(
        attrs.evolve(
            f,
            index=fmap[f.index],
            uses=tuple(qmap[u] for u in f.uses),
            batch_query=None if f.batch_query is None else qmap[f.batch_query],
            parent=None if f.parent is None else fmap[f.parent],
            children=tuple(fmap[c] for c in f.children),
            group=tuple(fmap[m] for m in f.group if m in fmap),
        )
        for f in fragments
        if f.index in fmap
    )
    layout = graph.ranges[k].id
    index = {f.target: f.index for f in kept_fragments}
    return Graph(
        page=graph.page,
        queries=queries,
        fragments=kept_fragments,
        shell=PartShell(graph.shell, layout),
        shell_tail="",
        shell_queries=tuple(qmap[q] for q in graph.shell_queries),
        shell_children=tuple(fmap[c] for c in graph.shell_children if c in fmap),
        query_index={q.name: q.index for q in queries},
        fragment_index=index,
        warnings=(),
        source=graph.source,
        resources=graph.resources,
        actions=graph.actions,
        navigation=graph.navigation,
        ranges=graph.ranges[k + 1 :],
        below=layout,
    )
