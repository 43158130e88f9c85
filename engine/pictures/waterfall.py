"""A waterfall picture of one render (``engine trace``): queries, writes, critical path."""

from __future__ import annotations

from markupsafe import escape

from ..contract.trace import Timeline

__all__ = ["critical_path", "waterfall_svg"]

_ROW, _LEFT, _WIDTH, _TOP = 22, 170, 640, 30


def critical_path(timeline: Timeline) -> list[str]:
    """The chain of queries that ends last: each step is the dependency that finished last."""
    graph, spans = timeline.graph, timeline.queries
    finished = [s for s in spans.values() if s.end is not None]
    if not finished:
        return []
    name = max(finished, key=lambda s: s.end or 0.0).name
    path = [name]
    while True:
        deps = [graph.queries[d].name for d in graph.queries[graph.query_index[name]].depends_on]
        deps = [d for d in deps if d in spans and spans[d].end is not None]
        if not deps:
            return path[::-1]
        name = max(deps, key=lambda d: spans[d].end or 0.0)
        path.append(name)


def waterfall_svg(timeline: Timeline) -> str:
    spans = sorted(timeline.queries.values(), key=lambda s: (s.start, s.name))
    end = max([s.end or s.start for s in spans] + [w.time for w in timeline.writes] + [0.001])
    scale = _WIDTH / end
    critical = set(critical_path(timeline))
    rows = len(spans) + 1
    height = _TOP + rows * _ROW + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_LEFT + _WIDTH + 40}" height="{height}"'
        ' font-family="sans-serif" font-size="12">',
        f'<text x="8" y="18" font-weight="bold">{escape(timeline.graph.name)}'
        f" ({escape(timeline.mode)}): critical path {escape(' → '.join(critical_path(timeline)))}"
        "</text>",
    ]
    for i, span in enumerate(spans):
        y = _TOP + i * _ROW
        x0 = _LEFT + span.start * scale
        x1 = _LEFT + (span.end if span.end is not None else end) * scale
        fill = (
            "#d9534f"
            if span.outcome == "failed"
            else ("#f0ad4e" if span.name in critical else "#5b8def")
        )
        out.append(f'<text x="8" y="{y + 14}">{escape(span.name)}</text>')
        out.append(
            f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 1.5):.1f}" height="{_ROW - 8}"'
            f' fill="{fill}"><title>{escape(span.name)}: {span.start * 1000:.1f}–'
            f"{(span.end or end) * 1000:.1f} ms, {escape(span.outcome)}</title></rect>"
        )
    y = _TOP + len(spans) * _ROW
    out.append(f'<text x="8" y="{y + 14}">writes</text>')
    for i, write in enumerate(timeline.writes):
        x = _LEFT + write.time * scale
        what = ", ".join(f"{k} {n}".strip() for k, n in write.chunks)
        out.append(
            f'<rect x="{x - 1:.1f}" y="{y + 2}" width="3" height="{_ROW - 6}" fill="#2e7d32">'
            f"<title>write #{i} at {write.time * 1000:.1f} ms, {len(write.data)} bytes: "
            f"{escape(what)}</title></rect>"
        )
    axis = y + _ROW + 12
    for k in range(5):
        t = end * k / 4
        x = _LEFT + t * scale
        out.append(f'<line x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" y2="{axis - 10}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{axis}" text-anchor="middle">{t * 1000:.0f} ms</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
