"""Peer (g): the engine, serving the S1/S2/S3 pages declared with its Python API.

Each section is one typed query (an async call that waits the scenario's latency,
``trio.sleep(0)`` included, and returns rows converted to ``list[Item]``) and one
fragment rendered by a function into the slot ``<?marker name="section-i">``, with
the fallback "Loading…" until it arrives. The pages are served by the engine's own
ASGI app, ``engine.asgi.App`` with its default options: natively under Hypercorn's trio
worker, in trio guest mode under uvicorn. (Before that app existed, a bench-only wrapper
around ``engine.render`` stood in; it is kept as the fallback.)
"""

from __future__ import annotations

from html import escape
from typing import Any

import msgspec

from bench import page as bp
from engine.asgi import App


class Item(msgspec.Struct, frozen=True):
    id: int
    name: str
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
    import trio

    async def fetch() -> list[dict[str, Any]]:
        await trio.sleep(latency)  # the data call (latency 0 still yields once, as every peer)
        return bp.items(i)

    return fetch


def _render(i: int, query: str) -> Any:
    def render(**values: list[Item]) -> str:
        rows = values[query]
        lis = "".join(
            f'<li><a href="/item/{r.id}">{escape(r.name)}</a>'
            f' <span class="price">${r.price:.2f}</span></li>'
            for r in rows
        )
        return f'<section {bp.MARKER_ATTR}="{i}"><h2>Section {i}</h2><ul>{lis}</ul></section>'

    return render


def build_page(name: str, latencies: list[float]) -> Any:
    from schemas import Fragment, Page, Query, Shell

    slots = "".join(f'<?marker name="section-{i}">' for i in range(len(latencies)))
    shell = bp.inorder_head() + slots + bp.TAIL
    queries = tuple(
        Query(name=f"q{i}", call=_fetch(i, lat), result=list[Item])
        for i, lat in enumerate(latencies)
    )
    fragments = tuple(
        Fragment(
            target=f"section-{i}",
            uses=(f"q{i}",),
            render=_render(i, f"q{i}"),
            fallback=bp.fallback_html(),
        )
        for i in range(len(latencies))
    )
    return Page(name=name, shell=Shell(html=shell), queries=queries, fragments=fragments)


PAGES = {path: build_page(path.strip("/"), lat) for path, lat in bp.ROUTES.items()}

app = App(PAGES)
ASGI_KIND = "engine.asgi.App (default options)"
