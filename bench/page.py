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


# ---------------------------------------------------------------------------------------
# S4: the large page (a 1,000-row table in one section, plus a few small sections)
# ---------------------------------------------------------------------------------------
S4: dict[str, Any] = SCENARIOS["S4"]
S4_PATH: str = S4["path"]
S4_ROWS: int = S4["rows"]
#: Sections of the S4 page: 0 holds the table, 1..small_sections are S2-style sections.
S4_SECTIONS: int = 1 + S4["small_sections"]
S4_TABLE_TITLE = "Parts"
S4_COLUMNS = ("id", "name", "qty", "price")


def _row_id(k: int) -> str:
    """A 36-character UUID-shaped id, deterministic so that every peer (JS too) makes it."""
    return (
        f"{k * 2654435761 % 2**32:08x}-{k % 65536:04x}-4{k % 4096:03x}-"
        f"8{k * 7 % 4096:03x}-{k * 40503 * 65537 % 2**48:012x}"
    )


# What the database holds; each request builds its row dicts fresh from these.
_ROW_IDS = [_row_id(k) for k in range(S4_ROWS)]
# One '&' and one '<' in every name, so every cell's escaping is exercised.
_ROW_NAMES = [f"Part {k:04d} & Co <Mk {k % 9}" for k in range(S4_ROWS)]


def table_rows() -> list[dict[str, Any]]:
    """The table's rows, built fresh per call as a database row set would be."""
    return [
        {"id": _ROW_IDS[k], "name": _ROW_NAMES[k], "qty": k * 37 % 1000, "price": 5 + k % 400 / 4}
        for k in range(S4_ROWS)
    ]


def render_table(rows: list[dict[str, Any]]) -> str:
    """Section 0 of the S4 page: the table, every cell escaped."""
    body = "".join(
        f"<tr><td>{escape(r['id'])}</td><td>{escape(r['name'])}</td>"
        f"<td>{escape(str(r['qty']))}</td><td>{escape(format(r['price'], '.2f'))}</td></tr>"
        for r in rows
    )
    head = "".join(f"<th>{c}</th>" for c in S4_COLUMNS)
    return (
        f'<section {MARKER_ATTR}="0"><h2>{S4_TABLE_TITLE}</h2><table><thead><tr>{head}</tr>'
        f"</thead><tbody>{body}</tbody></table></section>"
    )


def s4_sections() -> list[str]:
    """Every section of the S4 page in document order, as every peer must render them."""
    return [render_table(table_rows())] + [
        render_section(i, items(i)) for i in range(1, S4_SECTIONS)
    ]


def s4_page() -> str:
    """The S4 page rendered whole, sections in document order (no streaming)."""
    return inorder_head() + "".join(s4_sections()) + TAIL


# ---------------------------------------------------------------------------------------
# S5: the S2 page, every query cached and warm; S6: the shared-source page
# ---------------------------------------------------------------------------------------
S5_PATH: str = SCENARIOS["S5"]["path"]
S5_SECTIONS: int = SCENARIOS["S5"]["sections"]
S6: dict[str, Any] = SCENARIOS["S6"]
S6_PATH: str = S6["path"]


def expected_sections(path: str) -> list[str]:
    """Each section's HTML as every peer must render it on ``path`` (index = section).

    S6's variants are served under its path (``/s6/admission``): the same page.
    """
    if path == S4_PATH:
        return s4_sections()
    if path == S5_PATH:
        n = S5_SECTIONS
    elif path == S6_PATH or path.startswith(S6_PATH + "/"):
        n = S6["fragments"]
    else:
        n = len(ROUTES[path])
    return [render_section(i, items(i)) for i in range(n)]
