"""Pictures of a page: its dependency graph as Mermaid text (``engine graph``)."""

from __future__ import annotations

from ..definition.graph import Graph

__all__ = ["mermaid"]


def mermaid(graph: Graph) -> str:
    """The page's DAG: queries (rounded), fragments (boxes), the shell, and who feeds whom.

    Solid arrows carry data; dotted arrows show which slot lies inside which HTML.
    """
    lines = ["flowchart LR", '  shell[["shell"]]']
    for q in graph.queries:
        label = q.name + (" (exposed)" if q.expose else "") + (" [batches]" if q.batched else "")
        lines.append(f'  q_{q.index}(["{label}"])')
    for f in graph.fragments:
        lines.append(f'  f_{f.index}["#{f.target} (priority {f.priority})"]')
    for q in graph.queries:
        lines.extend(f"  q_{d} --> q_{q.index}" for d in q.depends_on)
        lines.extend(f"  q_{q.index} --> f_{f}" for f in q.consumers)
    lines.extend(f"  q_{q} --> shell" for q in graph.shell_queries)
    lines.extend(f"  shell -.-> f_{f}" for f in graph.shell_children)
    for f in graph.fragments:
        lines.extend(f"  f_{f.index} -.-> f_{c}" for c in f.children)
    return "\n".join(lines) + "\n"
