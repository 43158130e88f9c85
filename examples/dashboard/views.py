"""The dashboard's fragment renderers: plain functions of typed query results."""

from __future__ import annotations

from markupsafe import Markup

import engine

from .data import DayTotal, Line, Sale, Totals


def totals(totals: Totals) -> str:
    return engine.html(
        '<div class="stat"><span class="label">Sales</span><b>{{ sales }}</b></div>'
        '<div class="stat"><span class="label">Revenue</span><b>${{ revenue }}</b></div>'
        '<div class="stat"><span class="label">Day {{ t.last_day }}</span>'
        "<b>${{ day }}</b></div>",
        t=totals,
        sales=f"{totals.sales:,}",
        revenue=f"{totals.revenue:,.0f}",
        day=f"{totals.last_day_revenue:,.0f}",
    )


def latest(latest: list[Sale]) -> str:
    return Markup("").join(
        engine.html(
            "<li><span>#{{ s.id }} {{ s.product }}, {{ s.region }}</span><b>${{ amount }}</b></li>",
            s=s,
            amount=f"{s.amount:,.2f}",
        )
        for s in latest
    )


def trend(trend: list[DayTotal]) -> str:
    """Daily revenue as SVG bars, wrapped in <svg> so the browser parses them as SVG."""
    top = max(d.revenue for d in trend) or 1
    bars = Markup("").join(
        Markup('<rect x="{}" y="{:.1f}" width="3" height="{:.1f}"></rect>').format(
            i * 4, 60 - 58 * d.revenue / top, 58 * d.revenue / top
        )
        for i, d in enumerate(trend)
    )
    return Markup('<svg class="bars" viewBox="0 0 {} 60">{}</svg>').format(len(trend) * 4, bars)


def breakdown(breakdown: list[Line]) -> str:
    return Markup("").join(
        engine.html(
            "<tr><td>{{ l.region }}</td><td>{{ l.product }}</td><td>{{ sales }}</td>"
            "<td>${{ revenue }}</td><td>${{ l.average }}</td><td>${{ l.median }}</td></tr>",
            l=line,
            sales=f"{line.sales:,}",
            revenue=f"{line.revenue:,.0f}",
        )
        for line in breakdown[:15]
    )
