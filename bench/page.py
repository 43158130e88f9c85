"""The benchmark page, shared by every Python peer: same data, same markup, same escaping.

The page is a shell (title, stylesheet link, one slot per section showing the fallback)
followed by N sections. Section ``i`` is fed by one data call with its scenario's
latency and renders ``<section data-section="i">`` holding 5 items. The client finds a
section's real content by that marker attribute, which the fallback never carries.
"""

from __future__ import annotations

import json
import os
from html import escape
from pathlib import Path
from typing import Any

SCENARIOS_PATH = Path(__file__).with_name("scenarios.json")
SCENARIOS: dict[str, Any] = json.loads(SCENARIOS_PATH.read_text(encoding="utf-8"))

PAGE = SCENARIOS["page"]
TITLE: str = PAGE["title"]
STYLESHEET: str = PAGE["stylesheet"]
ITEMS_PER_SECTION: int = PAGE["items_per_section"]
FALLBACK_TEXT: str = PAGE["fallback_text"]
MARKER_ATTR: str = PAGE["marker_attr"]


#: ``python -m bench --quick`` shortens S3's wait for its smoke run (servers read this).
S3_LATENCY_ENV = "BENCH_S3_LATENCY_MS"


def latencies_s(scenario: str) -> list[float]:
    """Per-section latencies in seconds, in declaration order."""
    s = SCENARIOS[scenario]
    if "latencies_ms" in s:
        return [ms / 1000 for ms in s["latencies_ms"]]
    if scenario == "S3":
        return [float(os.environ.get(S3_LATENCY_ENV, s["latency_ms"])) / 1000]
    return [s["latency_ms"] / 1000] * s["sections"]


#: path -> per-section latencies (seconds); every peer serves these three paths.
ROUTES: dict[str, list[float]] = {SCENARIOS[k]["path"]: latencies_s(k) for k in ("S1", "S2", "S3")}


def marker(i: int) -> bytes:
    """The bytes that prove section ``i``'s real content has arrived."""
    return f'{MARKER_ATTR}="{i}"'.encode()


def items(i: int) -> list[dict[str, Any]]:
    """Section ``i``'s data, built fresh per call as a database row set would be."""
    return [
        {"id": i * 100 + j, "name": f"Widget {i}.{j} <{TITLE[:4]}>", "price": 10 + i + j / 4}
        for j in range(ITEMS_PER_SECTION)
    ]


def render_section(i: int, rows: list[dict[str, Any]]) -> str:
    """One section's HTML, every interpolated value escaped."""
    lis = "".join(
        f'<li><a href="/item/{r["id"]}">{escape(r["name"])}</a>'
        f' <span class="price">${r["price"]:.2f}</span></li>'
        for r in rows
    )
    return f'<section {MARKER_ATTR}="{i}"><h2>Section {i}</h2><ul>{lis}</ul></section>'


HEAD = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    f"<title>{escape(TITLE)}</title>"
    f'<link rel="stylesheet" href="{escape(STYLESHEET)}">'
)
BODY_OPEN = f"<body><h1>{escape(TITLE)}</h1>"
TAIL = "</body></html>"

# The out-of-order page as written by hand: a swap function in the shell, one slot per
# section, then `<template>` + `<script>` per section as each completes.
SWAP_RUNTIME = (
    "<script>function $swap(i){var t=document.getElementById('t'+i),"
    "s=document.getElementById('s'+i);s.replaceWith(t.content);t.remove()}</script>"
)


def fallback_html() -> str:
    return f'<div class="slot">{escape(FALLBACK_TEXT)}</div>'


def ooo_shell(n: int) -> str:
    slots = "".join(f'<div id="s{i}" class="slot">{escape(FALLBACK_TEXT)}</div>' for i in range(n))
    return HEAD + SWAP_RUNTIME + "</head>" + BODY_OPEN + slots


def ooo_chunk(i: int, rows: list[dict[str, Any]]) -> str:
    return f'<template id="t{i}">{render_section(i, rows)}</template><script>$swap({i})</script>'


def inorder_head() -> str:
    return HEAD + "</head>" + BODY_OPEN


def ooo_final_page(path: str) -> bytes:
    """The out-of-order page's complete bytes, sections in completion order of their latency."""
    lat = ROUTES[path]
    order = sorted(range(len(lat)), key=lambda i: (lat[i], i))
    return (ooo_shell(len(lat)) + "".join(ooo_chunk(i, items(i)) for i in order) + TAIL).encode()
