"""Pages for the serving and browser tests, and ``app``: them behind ``engine.asgi.App``.

``/item/{item}`` has a shell query (``missing`` → 404, ``boom`` → 500), a fast fragment, a
slow one (``?delay=`` seconds, default 1.5) and slots in a table, a list, a select and an
SVG. ``/form`` has a section that ``$E.refresh("form")`` re-renders. ``/doc/{doc}?user=``
is guarded by a shell query: only ``alice`` may read it, anyone else gets a 404. ``/big``
streams ``?count=`` blocks of 64 KB, more than socket buffers hold. ``/stats`` reports how many
queries are running, so a test can prove that aborted requests cancelled theirs.
``/broken-shell``'s template names a key its query does not return. ``/store`` binds elements
to its exposed ``cart`` (a new count per request; ``?evil=1``: hostile values) in its shell and in
a late fragment that does not use it; ``$E.refresh("box")`` brings new cart data.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import AsyncIterator

import trio

import engine
from engine.asgi import App

RUNNING = {"queries": 0}
SECRET = "hidden-4f1c-not-exposed"
_refreshes = itertools.count()
_carts = itertools.count(1)


class _Counted:
    """Counts this query as running from its start until it returns or is cancelled."""

    def __enter__(self) -> None:
        RUNNING["queries"] += 1

    def __exit__(self, *exc: object) -> None:
        RUNNING["queries"] -= 1


async def title(item: str) -> str:
    if item == "missing":
        raise engine.NotFound(f"no item {item}")
    if item == "boom":
        raise RuntimeError("the database is down")
    return f"Item {item}"


async def fast() -> dict:
    with _Counted():
        await trio.sleep(0.05)
    return {"colour": "blue", "sizes": [1, 2, 3], "internal": SECRET}


GATES: dict[str, trio.Event] = {}
"""``?gate=NAME`` holds the slow part until ``/open?gate=NAME`` (or ``delay`` at the latest):
a browser test then looks at the page while the slow part is certainly still missing."""


def _gate(name: str) -> trio.Event:
    return GATES.setdefault(name, trio.Event())


async def slow(delay: float = 1.5, gate: str = "") -> str:
    with _Counted():
        if gate:
            with trio.move_on_after(delay):
                await _gate(gate).wait()
        else:
            await trio.sleep(delay)
    return "slow part"


async def open_gate(gate: str) -> str:
    await trio.lowlevel.checkpoint()
    _gate(gate).set()
    return gate


def fast_html(fast: dict) -> str:
    return engine.html('<p id="fast">fast: {{ c }}</p>', c=fast["colour"])


def slow_html(slow: str) -> str:
    return engine.html('<p id="slow">{{ s }}</p>', s=slow)


def rows_html(fast: dict) -> str:
    return "".join(f'<tr class="row"><td>row {n}</td></tr>' for n in fast["sizes"])


def items_html(fast: dict) -> str:
    return "".join(f'<li class="item">item {n}</li>' for n in fast["sizes"])


def options_html(fast: dict) -> str:
    return "".join(f'<option class="opt">size {n}</option>' for n in fast["sizes"])


def shapes_html(fast: dict) -> str:
    # Bare SVG elements: the engine wraps a template's content in <svg> for an SVG slot.
    return '<circle id="dot" cx="20" cy="20" r="10" fill="blue"></circle>'


async def exposed(fast: dict) -> dict:
    return {"colour": fast["colour"], "sizes": fast["sizes"]}


ITEM_SHELL = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title></head><body>
<h1 id="shell">{{ title }}</h1>
<section id="fast-box"><?marker name="fast"></section>
<section id="slow-box"><?marker name="slow"></section>
<table id="table"><tbody><tr><td>head</td></tr><?marker name="rows"></tbody></table>
<ul id="list"><?marker name="items"></ul>
<select id="select"><?marker name="options"></select>
<svg id="svg" width="40" height="40"><?marker name="shapes"></svg>
</body></html>"""

FALLBACK = '<p class="fallback">loading…</p>'

item = engine.Page(
    name="item",
    shell=engine.Shell(html=ITEM_SHELL, queries=("title",)),
    queries=(
        engine.Query(name="title", call=title, result=str, params=("item",)),
        engine.Query(name="fast", call=fast, result=dict),
        engine.Query(name="exposed", call=exposed, result=dict, depends_on=("fast",), expose=True),
        engine.Query(name="slow", call=slow, result=str, params=("delay", "gate")),
    ),
    fragments=(
        engine.Fragment(
            target="fast",
            uses=("fast", "exposed"),
            render=lambda fast, exposed: fast_html(fast),
            fallback=FALLBACK,
        ),
        engine.Fragment(
            target="slow", uses=("slow",), render=slow_html, fallback=FALLBACK, priority="low"
        ),
        engine.Fragment(
            target="rows",
            uses=("fast",),
            render=rows_html,
            fallback='<tr class="fallback"><td>loading…</td></tr>',
        ),
        engine.Fragment(
            target="items",
            uses=("fast",),
            render=items_html,
            fallback='<li class="fallback">loading…</li>',
        ),
        engine.Fragment(
            target="options",
            uses=("fast",),
            render=options_html,
            fallback='<option class="fallback">loading…</option>',
        ),
        engine.Fragment(
            target="shapes",
            uses=("fast",),
            render=shapes_html,
            fallback='<rect class="fallback" width="5" height="5"></rect>',
        ),
    ),
)


async def refresh_count() -> int:
    await trio.lowlevel.checkpoint()
    return next(_refreshes)


def form_html(refresh_count: int) -> str:
    return engine.html(
        '<form id="form"><label>Search <input id="q" name="q" value=""></label>'
        '<output id="count">{{ n }}</output></form>',
        n=refresh_count,
    )


form = engine.Page(
    name="form",
    shell=engine.Shell(
        html='<!doctype html><html><head><meta charset="utf-8"><title>form'
        '</title></head><body><main id="shell"><?marker name="form"></main>'
        "</body></html>"
    ),
    queries=(engine.Query(name="refresh_count", call=refresh_count, result=int),),
    fragments=(
        engine.Fragment(
            target="form",
            uses=("refresh_count",),
            render=form_html,
            fallback="<p>loading form…</p>",
        ),
    ),
)


async def running() -> int:
    await trio.lowlevel.checkpoint()
    return RUNNING["queries"]


stats = engine.Page(
    name="stats",
    shell=engine.Shell(
        html='<!doctype html><html><head><meta charset="utf-8"><title>stats'
        '</title></head><body><p id="running">{{ running }}</p></body></html>',
        queries=("running",),
    ),
    queries=(engine.Query(name="running", call=running, result=int),),
)


async def reader(doc: int, user: str) -> str:
    """The guard: only alice may read, and to anyone else the document does not exist."""
    await trio.lowlevel.checkpoint()
    if user != "alice":
        raise engine.NotFound(f"no document {doc}")
    return user


async def doc_text(doc: int) -> str:
    await trio.sleep(0.05)
    return f"{GUARDED} {doc}"


GUARDED = "guarded-text-of-document"

doc = engine.Page(
    name="doc",
    shell=engine.Shell(
        html='<!doctype html><html><head><meta charset="utf-8"><title>doc</title></head>'
        '<body><p id="reader">{{ reader }}</p><?marker name="body"></body></html>',
        queries=("reader",),
    ),
    queries=(
        engine.Query(name="reader", call=reader, result=str, params=("doc", "user")),
        engine.Query(name="text", call=doc_text, result=str, params=("doc",)),
    ),
    fragments=(
        engine.Fragment(
            target="body",
            uses=("text",),
            render=lambda text: engine.html('<p id="text">{{ t }}</p>', t=text),
            fallback="<p>loading…</p>",
        ),
    ),
)

FILLER = "<p>" + "x" * 65_000 + "</p>"


async def blocks(count: int = 400) -> AsyncIterator[int]:
    """As many 64 KB blocks as asked for: more than any socket buffer holds."""
    for block in range(count):
        await trio.lowlevel.checkpoint()
        yield block


big = engine.Page(
    name="big",
    shell=engine.Shell(
        html='<!doctype html><html><head><meta charset="utf-8"><title>big</title></head>'
        '<body><h1 id="shell">big</h1><div id="blocks"><?marker name="blocks"></div>'
        "</body></html>"
    ),
    queries=(engine.Query(name="blocks", call=blocks, result=int, params=("count",)),),
    fragments=(
        engine.Fragment(
            target="blocks", uses=("blocks",), mode="append", render=lambda blocks: FILLER
        ),
    ),
)


async def meta() -> dict:
    await trio.lowlevel.checkpoint()
    return {"heading": "no title here"}


# An untyped result: no definition check can know that the shell names a missing key.
broken_shell = engine.Page(
    name="broken-shell",
    shell=engine.Shell(
        html='<!doctype html><html><head><meta charset="utf-8"><title>{{ meta.title }}</title>'
        "</head><body></body></html>",
        queries=("meta",),
    ),
    queries=(engine.Query(name="meta", call=meta, result=dict),),
)

opener = engine.Page(
    name="open",
    shell=engine.Shell(
        html='<!doctype html><html><head><meta charset="utf-8"><title>open</title></head>'
        '<body><p id="opened">{{ open_gate }}</p></body></html>',
        queries=("open_gate",),
    ),
    queries=(engine.Query(name="open_gate", call=open_gate, result=str, params=("gate",)),),
)


async def cart(evil: int = 0) -> dict:
    """A different cart on every call; with ``evil``, values that would run code if misused."""
    await trio.lowlevel.checkpoint()
    count = next(_carts)
    return {
        "count": count,
        "label": f"{count} <img src=x onerror=window.__pwned=1>" if evil else f"{count} in cart",
        "url": f" \tjava\nscript:window.__pwned={count}" if evil else f"/cart?n={count}",
        "code": "window.__pwned=1",
        "empty": count % 2 == 0,
        "lines": [{"sku": f"sku-{count}"}],
    }


async def late(delay: float = 0.3) -> str:
    await trio.sleep(delay)
    return "late"


STORE_SHELL = """<!doctype html><html><head><meta charset="utf-8"><title>store</title></head><body>
<nav id="nav"><a id="cart-link" class="cart" href="{{ cart.url | url }}"
 data-bind="cart.label href:cart.url .empty:cart.empty title:cart.lines.0.sku"
>{{ cart.label }}</a> <span id="missing" data-bind="cart.nope title:cart.lines.7.sku"
 title="kept">as rendered</span></nav>
<section id="box-slot"><?marker name="box"></section>
<section id="late-slot"><?marker name="late"></section>
</body></html>"""

store = engine.Page(
    name="store",
    shell=engine.Shell(html=STORE_SHELL, queries=("cart",)),
    queries=(
        engine.Query(name="cart", call=cart, result=dict, params=("evil",), expose=True),
        engine.Query(name="late", call=late, result=str, params=("delay",)),
    ),
    fragments=(
        engine.Fragment(
            target="box",
            uses=("cart",),
            template='<p id="box">box {{ cart.count }}</p>',
            fallback="<p>…</p>",
        ),
        engine.Fragment(
            target="late",
            uses=("late",),
            template='<p id="late">{{ late }}: <b id="late-count" data-bind="cart.count">?</b></p>',
            fallback="<p>loading…</p>",
        ),
    ),
)

PAGES = {
    "/store": store,
    "/open": opener,
    "/broken-shell": broken_shell,
    "/item/{item}": item,
    "/form": form,
    "/stats": stats,
    "/doc/{doc}": doc,
    "/big": big,
}

# Server subprocesses pick options from the environment (tests/asgi/servers.py passes it).
if os.environ.get("DEMO_ACCESS_LOG") == "1" and not logging.getLogger("engine.access").handlers:
    logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
app = App(
    PAGES,
    csp=os.environ.get("DEMO_CSP") or None,
    proxy_buffering=os.environ.get("DEMO_PROXY_BUFFERING") == "1",
    write_timeout=float(os.environ.get("DEMO_WRITE_TIMEOUT", "30")),
)
