"""S4 peer: the large page built with htpy (elements in Python, escaped by markupsafe).

Starlette on uvicorn; the data calls are awaited one after another, then the element tree is
rendered whole into one ``HTMLResponse``.
"""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
from htpy import (
    Element,
    a,
    body,
    h1,
    h2,
    head,
    html,
    li,
    link,
    meta,
    section,
    span,
    table,
    tbody,
    td,
    th,
    thead,
    title,
    tr,
    ul,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from bench import page

MARKER = {page.MARKER_ATTR: "0"}


async def fetch_table() -> list[dict[str, Any]]:
    await anyio.lowlevel.checkpoint()  # the data call
    return page.table_rows()


async def fetch_items(i: int) -> list[dict[str, Any]]:
    await anyio.lowlevel.checkpoint()  # the data call
    return page.items(i)


def table_section(rows: list[dict[str, Any]]) -> Element:
    return section(MARKER)[
        h2[page.S4_TABLE_TITLE],
        table[
            thead[tr[(th[c] for c in page.S4_COLUMNS)]],
            tbody[
                (
                    tr[td[r["id"]], td[r["name"]], td[str(r["qty"])], td[f"{r['price']:.2f}"]]
                    for r in rows
                )
            ],
        ],
    ]


def small_section(i: int, rows: list[dict[str, Any]]) -> Element:
    return section({page.MARKER_ATTR: str(i)})[
        h2[f"Section {i}"],
        ul[
            (
                li[a(href=f"/item/{r['id']}")[r["name"]], " ", span(".price")[f"${r['price']:.2f}"]]
                for r in rows
            )
        ],
    ]


async def endpoint(request: Request) -> HTMLResponse:
    rows = await fetch_table()
    smalls = [(i, await fetch_items(i)) for i in range(1, page.S4_SECTIONS)]
    doc = html(lang="en")[
        head[
            meta(charset="utf-8"), title[page.TITLE], link(rel="stylesheet", href=page.STYLESHEET)
        ],
        body[h1[page.TITLE], table_section(rows), (small_section(i, r) for i, r in smalls)],
    ]
    return HTMLResponse(str(doc), headers={"cache-control": "no-store"})


app = Starlette(routes=[Route(page.S4_PATH, endpoint)])
