"""The report's pictures as plain SVG text (no plotting dependency)."""

from __future__ import annotations

import math
from html import escape
from typing import Any

FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12"'
FAMILY_COLORS = {
    "engine": "#d9480f",
    "limit": "#495057",
    "react": "#1c7ed6",
    "python": "#37b24d",
}


def _nice_step(span: float, ticks: int = 8) -> float:
    raw = span / ticks
    for e in range(-3, 8):
        for m in (1, 2, 2.5, 5):
            step = m * 10**e
            if step >= raw:
                return step
    return raw


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {FONT}>'
        f'<title>{escape(title)}</title><rect width="100%" height="100%" fill="#fff"/>'
        + "".join(body)
        + "</svg>\n"
    )


def waterfall(s1: dict[str, Any], peers: list[dict[str, Any]]) -> str:
    """S1: per peer, one row per section: ideal (its own latency) vs median arrival."""
    lat = s1["latencies_ms"]
    n = len(lat)
    rows = [p for p in peers if p["name"] in s1["peers"]]
    t_max = max([max(lat)] + [s1["peers"][p["name"]]["last_byte_ms"]["median"] or 0 for p in rows])
    step = _nice_step(t_max)
    t_axis = step * math.ceil(t_max / step)
    left, right, top, lane_gap, bar = 300, 30, 50, 14, 7
    lane_h = n * bar + 6
    plot_w = 900
    width = left + plot_w + right
    height = top + len(rows) * (lane_h + lane_gap) + 60
    x = lambda ms: left + plot_w * ms / t_axis  # noqa: E731
    b: list[str] = [
        f'<text x="{left}" y="20" font-size="15" font-weight="600">S1: section arrivals '
        f"(median of {s1['peers'][rows[0]['name']]['requests'] if rows else 0}"
        " requests, fresh connection each)</text>",
        f'<text x="{left}" y="38" fill="#555">grey: each section\'s own latency (the limit); '
        "colour: when its content arrived; | first body byte; ◆ last byte</text>",
    ]
    t = 0.0
    while t <= t_axis + 1e-9:
        b.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top - 4}" y2="{height - 45}" '
            'stroke="#e9ecef"/>'
            f'<text x="{x(t):.1f}" y="{height - 30}" text-anchor="middle" fill="#555">'
            f"{t:g}</text>"
        )
        t += step
    b.append(
        f'<text x="{left + plot_w / 2}" y="{height - 10}" text-anchor="middle" fill="#333">'
        "milliseconds since connect</text>"
    )
    for k, p in enumerate(rows):
        d = s1["peers"][p["name"]]
        y0 = top + k * (lane_h + lane_gap)
        color = FAMILY_COLORS.get(p["family"], "#868e96")
        b.append(
            f'<text x="{left - 10}" y="{y0 + lane_h / 2 + 4}" text-anchor="end">'
            f"{escape(p['name'])}</text>"
        )
        for i in range(n):
            yi = y0 + 3 + i * bar
            b.append(
                f'<rect x="{left}" y="{yi}" width="{x(lat[i]) - left:.1f}" height="{bar - 2}" '
                'fill="#dee2e6"/>'
            )
            arr = d["sections_ms"][i]["median"]
            if arr is not None:
                b.append(
                    f'<rect x="{x(lat[i]):.1f}" y="{yi}" '
                    f'width="{max(1.5, x(arr) - x(lat[i])):.1f}" '
                    f'height="{bar - 2}" fill="{color}" opacity="0.35"/>'
                    f'<rect x="{x(arr) - 1:.1f}" y="{yi}" width="2.5" height="{bar - 2}" '
                    f'fill="{color}"><title>section {i}: {arr:.1f} ms (latency {lat[i]} ms)'
                    "</title></rect>"
                )
        fb = d["first_body_ms"]["median"]
        lb = d["last_byte_ms"]["median"]
        if fb is not None:
            b.append(
                f'<line x1="{x(fb):.1f}" x2="{x(fb):.1f}" y1="{y0}" y2="{y0 + lane_h}" '
                f'stroke="#000" stroke-width="1.5">'
                f"<title>first body byte {fb:.2f} ms</title></line>"
            )
        if lb is not None:
            cy = y0 + lane_h / 2
            b.append(
                f'<path d="M{x(lb):.1f},{cy - 5} l5,5 l-5,5 l-5,-5 z" fill="#000">'
                f"<title>last byte {lb:.1f} ms</title></path>"
            )
    return _svg(width, height, b, "S1 waterfall")


def bars(
    title: str,
    subtitle: str,
    items: list[tuple[str, str, float, float | None, float | None]],
    unit: str,
) -> str:
    """Horizontal bars: (label, family, median, low, high) with a low-high whisker."""
    left, right, top, bar_h, gap = 300, 110, 50, 20, 8
    plot_w = 760
    width = left + plot_w + right
    height = top + len(items) * (bar_h + gap) + 45
    v_max = max([hi or med for _, _, med, _, hi in items] + [1e-9])
    step = _nice_step(v_max, 6)
    v_axis = step * math.ceil(v_max / step)
    x = lambda v: left + plot_w * v / v_axis  # noqa: E731
    b: list[str] = [
        f'<text x="{left}" y="20" font-size="15" font-weight="600">{escape(title)}</text>',
        f'<text x="{left}" y="38" fill="#555">{escape(subtitle)}</text>',
    ]
    v = 0.0
    while v <= v_axis + 1e-9:
        b.append(
            f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{top - 4}" y2="{height - 40}" '
            f'stroke="#e9ecef"/><text x="{x(v):.1f}" y="{height - 25}" text-anchor="middle" '
            f'fill="#555">{v:,.0f}</text>'
        )
        v += step
    b.append(
        f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle" fill="#333">'
        f"{escape(unit)}</text>"
    )
    for k, (label, family, med, lo, hi) in enumerate(items):
        y = top + k * (bar_h + gap)
        color = FAMILY_COLORS.get(family, "#868e96")
        b.append(
            f'<text x="{left - 10}" y="{y + bar_h / 2 + 4}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect x="{left}" y="{y}" width="{max(0.5, x(med) - left):.1f}" height="{bar_h}" '
            f'fill="{color}"/>'
        )
        if lo is not None and hi is not None:
            cy = y + bar_h / 2
            b.append(
                f'<line x1="{x(lo):.1f}" x2="{x(hi):.1f}" y1="{cy}" y2="{cy}" stroke="#000"/>'
                + "".join(
                    f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{cy - 4}" y2="{cy + 4}" '
                    'stroke="#000"/>'
                    for v in (lo, hi)
                )
            )
        b.append(
            f'<text x="{max(x(med), x(hi or med)) + 6:.1f}" y="{y + bar_h / 2 + 4}">'
            f"{med:,.1f}</text>"
        )
    return _svg(width, height, b, title)


def timings(
    title: str,
    subtitle: str,
    rows: list[tuple[str, str, list[tuple[str, float | None]]]],
    unit: str,
) -> str:
    """Grouped horizontal bars: per row (label, note, [(series, value)]), one bar per series."""
    series = [name for name, _ in rows[0][2]] if rows else []
    palette = ["#d9480f", "#1c7ed6", "#37b24d", "#868e96"]
    colors = {name: palette[k % len(palette)] for k, name in enumerate(series)}
    left, right, top, bar_h, gap = 360, 90, 70, 12, 12
    plot_w = 700
    group_h = bar_h * max(1, len(series))
    width = left + plot_w + right
    height = top + len(rows) * (group_h + gap) + 45
    v_max = max([v or 0.0 for _, _, vals in rows for _, v in vals] + [1e-9])
    step = _nice_step(v_max, 6)
    v_axis = step * math.ceil(v_max / step)
    x = lambda v: left + plot_w * v / v_axis  # noqa: E731
    b: list[str] = [
        f'<text x="{left}" y="20" font-size="15" font-weight="600">{escape(title)}</text>',
        f'<text x="{left}" y="38" fill="#555">{escape(subtitle)}</text>',
    ]
    lx = left
    for name in series:
        b.append(
            f'<rect x="{lx}" y="48" width="10" height="10" fill="{colors[name]}"/>'
            f'<text x="{lx + 14}" y="57">{escape(name)}</text>'
        )
        lx += 20 + 7 * len(name)
    v = 0.0
    while v <= v_axis + 1e-9:
        b.append(
            f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{top - 4}" y2="{height - 40}" '
            f'stroke="#e9ecef"/><text x="{x(v):.1f}" y="{height - 25}" text-anchor="middle" '
            f'fill="#555">{v:,.0f}</text>'
        )
        v += step
    b.append(
        f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle" fill="#333">'
        f"{escape(unit)}</text>"
    )
    for k, (label, note, vals) in enumerate(rows):
        y = top + k * (group_h + gap)
        b.append(
            f'<text x="{left - 10}" y="{y + group_h / 2 - 2}" text-anchor="end">'
            f'{escape(label)}</text><text x="{left - 10}" y="{y + group_h / 2 + 11}" '
            f'text-anchor="end" fill="#555">{escape(note)}</text>'
        )
        for j, (name, value) in enumerate(vals):
            if value is None:
                continue
            yb = y + j * bar_h
            b.append(
                f'<rect x="{left}" y="{yb}" width="{max(0.5, x(value) - left):.1f}" '
                f'height="{bar_h - 2}" fill="{colors[name]}"><title>{escape(name)}: '
                f'{value:,.1f}</title></rect><text x="{x(value) + 4:.1f}" y="{yb + bar_h - 3}" '
                f'font-size="10">{value:,.1f}</text>'
            )
    return _svg(width, height, b, title)
