"""Peer (g): the engine, serving the S1-S5 pages declared with its Python API.

Each section is one typed query (an async call that waits the scenario's latency,
``trio.sleep(0)`` included, and returns rows converted to ``list[Item]``) and one
fragment rendered by a function into the slot ``<?marker name="section-i">``, with
the fallback "Loading…" until it arrives. The pages are served by the engine's own
ASGI app, ``engine.asgi.App`` with its default options: natively under Hypercorn's trio
worker, in trio guest mode under uvicorn; with ``BENCH_QUERY_LOOP=asyncio`` (uvicorn, plain
or with its standard extras) the S1-S3 pages' data calls await ``asyncio.sleep`` instead,
declared ``loop = "asyncio"``, as a page on asyncio data libraries would be. (Before that app
existed, a bench-only wrapper around ``engine.render`` stood in; it is kept as the fallback.)

S4 (the large page) has its four fragments written as inline Jinja2 templates, or, when
``BENCH_S4_FRAGMENT=html``, as render functions built on ``engine.html``. S5 is the S2
page with every query cached (``schemas.Cache``), served once the engine has query caching.
"""

from __future__ import annotations

import os
from html import escape
from typing import Any

import msgspec

from bench import page as bp
from bench.peers import s4_jinja
from engine.asgi import App

#: Which kind of fragment renders the S4 page: ``jinja`` (inline Jinja2) or ``html``.
S4_FRAGMENT_ENV = "BENCH_S4_FRAGMENT"
#: Where the S1-S3 pages' data calls run: ``trio`` (``trio.sleep``), or ``asyncio``
#: (``loop = "asyncio"``, ``asyncio.sleep``: as a page on asyncpg or httpx), asyncio hosts only.
QUERY_LOOP_ENV = "BENCH_QUERY_LOOP"
QUERY_LOOP = os.environ.get(QUERY_LOOP_ENV, "trio")


class Item(msgspec.Struct, frozen=True):
    id: int
    name: str
    price: float


class Row(msgspec.Struct, frozen=True):
    id: str
    name: str
    qty: int
    price: float


def unavailable(server: str) -> str | None:
    """Why the engine peer cannot run here, or None."""
    try:
        import engine
    except ImportError as exc:
        return f"engine does not import: {exc}"
    if not hasattr(engine, "render"):
        return "engine.render does not exist yet"
    if server != "hypercorn-trio":
        try:
            from engine.asgi import TrioASGI  # noqa: F401
        except ImportError:
            return "engine.asgi.TrioASGI does not exist yet (needed under asyncio servers)"
    return None


# Closures, not functools.partial: the engine reads the callables' type hints, and
# typing.get_type_hints() rejects partial objects.
def _fetch(i: int, latency: float) -> Any:
    if QUERY_LOOP == "asyncio":  # what a page on asyncio data libraries declares
        import asyncio

        async def fetch_on_asyncio() -> list[dict[str, Any]]:
            await asyncio.sleep(latency)
            return bp.items(i)

        return fetch_on_asyncio
    import trio

    async def fetch() -> list[dict[str, Any]]:
        await trio.sleep(latency)  # the data call (latency 0 still yields once, as every peer)
        return bp.items(i)

    return fetch


def section_renderer(i: int, query: str) -> Any:
    def render(**values: list[Item]) -> str:
        rows = values[query]
        lis = "".join(
            f'<li><a href="/item/{r.id}">{escape(r.name)}</a>'
            f' <span class="price">${r.price:.2f}</span></li>'
            for r in rows
        )
        return f'<section {bp.MARKER_ATTR}="{i}"><h2>Section {i}</h2><ul>{lis}</ul></section>'

    return render


def shell(sections: int) -> Any:
    from schemas import Shell

    slots = "".join(f'<?marker name="section-{i}">' for i in range(sections))
    return Shell(html=bp.inorder_head() + slots + bp.TAIL)


def build_page(name: str, latencies: list[float], cache: Any = None) -> Any:
    from schemas import Fragment, Page, Query

    extra = {} if cache is None else {"cache": cache}
    queries = tuple(
        Query(name=f"q{i}", call=_fetch(i, lat), result=list[Item], loop=QUERY_LOOP, **extra)
        for i, lat in enumerate(latencies)
    )
    fragments = tuple(
        Fragment(
            target=f"section-{i}",
            uses=(f"q{i}",),
            render=section_renderer(i, f"q{i}"),
            fallback=bp.fallback_html(),
        )
        for i in range(len(latencies))
    )
    return Page(name=name, shell=shell(len(latencies)), queries=queries, fragments=fragments)


async def _table_rows() -> list[dict[str, Any]]:
    import trio

    await trio.lowlevel.checkpoint()  # the data call (latency 0, yields once as every peer's does)
    return bp.table_rows()


# The engine.html way: one small escaped template per row or item, joined by the function.
_ROW_HTML = "<tr><td>{{ r.id }}</td><td>{{ r.name }}</td><td>{{ r.qty }}</td><td>{{ p }}</td></tr>"
_ITEM_HTML = (
    '<li><a href="/item/{{ r.id }}">{{ r.name }}</a> <span class="price">${{ p }}</span></li>'
)


def _html_table(rows: list[Row]) -> str:
    from engine import html

    body = "".join([html(_ROW_HTML, r=r, p=f"{r.price:.2f}") for r in rows])
    return s4_jinja.TABLE_OPEN + body + s4_jinja.TABLE_CLOSE


def _html_section(i: int) -> Any:
    from engine import html

    def render(**values: list[Item]) -> str:
        lis = "".join([html(_ITEM_HTML, r=r, p=f"{r.price:.2f}") for r in values[f"q{i}"]])
        return f'<section {bp.MARKER_ATTR}="{i}"><h2>Section {i}</h2><ul>{lis}</ul></section>'

    return render


def build_large_page(fragment_kind: str) -> Any:
    """S4: the table in fragment 0 and the small sections, as Jinja2 or engine.html."""
    from schemas import Fragment, Page, Query

    n = bp.S4_SECTIONS
    queries = (
        Query(name="rows", call=_table_rows, result=list[Row]),
        *(Query(name=f"q{i}", call=_fetch(i, 0.0), result=list[Item]) for i in range(1, n)),
    )
    if fragment_kind == "html":
        kinds: list[dict[str, Any]] = [{"render": _html_table}]
        kinds += [{"render": _html_section(i)} for i in range(1, n)]
    else:
        kinds = [{"jinja_source": s4_jinja.engine_table()}]
        kinds += [{"jinja_source": s4_jinja.engine_section(i)} for i in range(1, n)]
    fragments = tuple(
        Fragment(
            target=f"section-{i}", uses=("rows" if i == 0 else f"q{i}",),
            fallback=bp.fallback_html(), **kind,
        )
        for i, kind in enumerate(kinds)
    )  # fmt: skip
    return Page(name="s4", shell=shell(n), queries=queries, fragments=fragments)


def cache_policy() -> Any:
    """The S5 pages' cache policy, or None while the engine has no query caching."""
    try:
        from schemas import Cache  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return None
    return Cache(ttl=3600)


PAGES = {path: build_page(path.strip("/"), lat) for path, lat in bp.ROUTES.items()}
PAGES[bp.S4_PATH] = build_large_page(os.environ.get(S4_FRAGMENT_ENV, "jinja"))
if (_policy := cache_policy()) is not None:
    PAGES[bp.S5_PATH] = build_page("s5", [0.0] * bp.S5_SECTIONS, cache=_policy)

app = App(PAGES)
ASGI_KIND = "engine.asgi.App (default options)"
