"""S4 peers: the large page as a Jinja2 template, rendered whole or streamed.

``page_app``: Starlette; the data calls are awaited one after another, then the template is
rendered whole into one ``HTMLResponse`` (Content-Length): what most Python sites do.
``stream_app``: the same template with the data calls inside it, under
``Environment(enable_async=True)``, streamed with ``generate_async`` through a
``StreamingResponse`` (one chunk per piece Jinja yields).

Both read rows as dicts (``r["id"]``: Jinja's ``r.id`` on a dict costs an AttributeError per
cell); the engine's Jinja2 fragments (``engine_table``, ``engine_section``) are the same
markup reading typed records (``r.id``). The data calls yield once through anyio, so the
same app runs under uvicorn and Hypercorn's trio worker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, StreamingResponse
from starlette.routing import Route

from bench import page

NO_STORE = {"cache-control": "no-store"}
TABLE_OPEN = (
    f'<section {page.MARKER_ATTR}="0"><h2>{page.S4_TABLE_TITLE}</h2><table><thead><tr>'
    + "".join(f"<th>{c}</th>" for c in page.S4_COLUMNS)
    + "</tr></thead><tbody>"
)
TABLE_CLOSE = "</tbody></table></section>"
HEAD = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>'
    '<link rel="stylesheet" href="{{ stylesheet }}"></head><body><h1>{{ title }}</h1>'
)
TAIL = "</body></html>"


def _item(field: str) -> str:
    return f'r["{field}"]'


def _attr(field: str) -> str:
    return f"r.{field}"


def table(rows: str, get: Callable[[str], str]) -> str:
    """The table section's template over the rows named ``rows``."""
    return (
        TABLE_OPEN
        + f"{{% for r in {rows} %}}<tr><td>{{{{ {get('id')} }}}}</td>"
        + f"<td>{{{{ {get('name')} }}}}</td><td>{{{{ {get('qty')} }}}}</td>"
        + f'<td>{{{{ "%.2f"|format({get("price")}) }}}}</td></tr>{{% endfor %}}'
        + TABLE_CLOSE
    )


def section(number: str, items: str, get: Callable[[str], str]) -> str:
    """A small section's template (``number`` and ``items`` are Jinja expressions)."""
    return (
        f'<section {page.MARKER_ATTR}="{{{{ {number} }}}}"><h2>Section {{{{ {number} }}}}</h2>'
        f'<ul>{{% for r in {items} %}}<li><a href="/item/{{{{ {get("id")} }}}}">'
        f'{{{{ {get("name")} }}}}</a> <span class="price">'
        f'${{{{ "%.2f"|format({get("price")}) }}}}</span></li>{{% endfor %}}</ul></section>'
    )


def engine_table() -> str:
    """The engine's table fragment: the query ``rows`` as typed records."""
    return table("rows", _attr)


def engine_section(i: int) -> str:
    """The engine's fragment for small section ``i``: the query ``q{i}``."""
    return section(str(i), f"q{i}", _attr)


SMALL = range(1, page.S4_SECTIONS)

whole = jinja2.Environment(autoescape=True).from_string(
    HEAD
    + table("rows", _item)
    + "{% for i, items in smalls %}"
    + section("i", "items", _item)
    + "{% endfor %}"
    + TAIL
)
streamed = jinja2.Environment(autoescape=True, enable_async=True).from_string(
    HEAD
    + "{% set rows = fetch_table() %}"
    + table("rows", _item)
    + "{% for i in small %}{% set items = fetch_items(i) %}"
    + section("i", "items", _item)
    + "{% endfor %}"
    + TAIL
)


async def fetch_table() -> list[dict[str, Any]]:
    await anyio.lowlevel.checkpoint()  # the data call
    return page.table_rows()


async def fetch_items(i: int) -> list[dict[str, Any]]:
    await anyio.lowlevel.checkpoint()  # the data call
    return page.items(i)


async def render_whole(request: Request) -> HTMLResponse:
    rows = await fetch_table()
    smalls = [(i, await fetch_items(i)) for i in SMALL]
    text = whole.render(title=page.TITLE, stylesheet=page.STYLESHEET, rows=rows, smalls=smalls)
    return HTMLResponse(text, headers=NO_STORE)


async def render_streamed(request: Request) -> StreamingResponse:
    stream = streamed.generate_async(
        title=page.TITLE,
        stylesheet=page.STYLESHEET,
        small=SMALL,
        fetch_table=fetch_table,
        fetch_items=fetch_items,
    )
    return StreamingResponse(stream, media_type="text/html; charset=utf-8", headers=NO_STORE)


page_app = Starlette(routes=[Route(page.S4_PATH, render_whole)])
stream_app = Starlette(routes=[Route(page.S4_PATH, render_streamed)])
