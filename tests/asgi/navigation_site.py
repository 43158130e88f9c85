"""Pages that stream their navigation: two pages of one layout, one of another, guards, a page
with its own script, a page that opts out. Served in process and by real servers.

``CALLS`` counts the calls of every query, so a test can see what a navigation ran.
``?delay=S`` makes each page's late fragment wait ``S`` seconds (its fallback shows first).
"""

from __future__ import annotations

import collections
import os

import trio

import engine
from engine import Fragment, Layout, Page, Query, Shell
from engine.asgi import App

CALLS: collections.Counter[str] = collections.Counter()

LINKS = (
    '<a id="to-a" href="/a">A</a> <a id="to-b" href="/b">B</a>'
    ' <a id="to-other" href="/other">other layout</a> <a id="to-broken" href="/item/0">broken</a>'
    ' <a id="to-moved" href="/item/1">moved</a> <a id="to-scripted" href="/scripted">scripted</a>'
    ' <a id="to-plain" href="/plain">plain</a> <a id="to-marked" href="/marked">marked</a>'
    ' <a id="to-top" href="#top">top</a> <a id="to-styled" href="/styled">styled</a>'
    ' <a id="to-b-off" href="/b" data-engine-nav="off">'
    "B, not streamed</a>"
    ' <form id="search" action="/b"><input name="q" value="tea"><button id="go">go</button></form>'
)


def user() -> str:
    CALLS["user"] += 1
    return "ann"


def menu() -> list[str]:
    CALLS["menu"] += 1
    return ["home", "shop"]


async def late(delay: float = 0.0) -> str:
    CALLS["late"] += 1
    await trio.sleep(delay)
    return "late content"


def heading(name: str) -> str:
    CALLS[f"heading_{name}"] += 1
    return f"Page {name.upper()}"


def title_a() -> str:
    return heading("a")


def title_b() -> str:
    return heading("b")


def item(number: int) -> int:
    """The guard of /item/{number}: 0 does not exist, 1 moved to /b."""
    if number == 0:
        raise engine.NotFound("no item 0")
    if number == 1:
        raise engine.Redirect("/b", status=303)
    return number


SITE = Layout(
    name="site",
    navigation=True,
    shell=Shell(
        html=(
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            "<style>.tall{height:3000px}</style></head>"
            '<body><header id="layout-header">Signed in as {{ user }}'
            '<nav id="menu"><?marker name="menu"></nav>'
            f"{LINKS}</header>"
            '<main id="main"><?marker name="content"></main>'
            '<footer id="layout-footer">footer</footer></body></html>'
        ),
        queries=("user",),
    ),
    queries=(
        Query(name="user", call=user, result=str),
        Query(name="menu", call=menu, result=list[str], expose=True),
    ),
    fragments=(
        Fragment(
            target="menu",
            uses=("menu",),
            jinja_source="{% for m in menu %}<span>{{ m }}</span>{% endfor %}",
            fallback="<span>…</span>",
        ),
    ),
)

OTHER = Layout(
    name="other",
    navigation=True,
    shell=Shell(
        html=(
            '<!doctype html><html lang="en"><head><meta charset="utf-8"></head>'
            f'<body><header id="other-header">{LINKS}</header>'
            '<main id="main"><?marker name="content"></main></body></html>'
        ),
    ),
)

LATE = Query(name="late", call=late, result=str, params=("delay",), expose=True)


def _page(name: str, title: Query, *, layout: Layout = SITE, **extra: object) -> Page:
    return Page(
        name=name,
        layout=layout,
        shell=Shell(
            html=(
                f'<h1 id="heading">{{{{ {title.name} }}}}</h1><div class="tall" id="tall"></div>'
                '<section id="late-section"><?marker name="late"></section>'
            ),
            queries=(title.name,),
            head=f"<title>{{{{ {title.name} }}}}</title>",
        ),
        queries=(title, LATE),
        fragments=(
            Fragment(
                target="late",
                uses=("late", "user") if layout is SITE else ("late",),
                template=f'<p id="late-done">{name}: {{{{ late }}}}</p>',
                fallback=f'<p id="late-fallback">{name}: loading</p>',
            ),
        ),
        **extra,  # type: ignore[arg-type]
    )


A = _page("a", Query(name="title_a", call=title_a, result=str))
B = _page("b", Query(name="title_b", call=title_b, result=str))
OTHER_PAGE = _page("other", Query(name="title_a", call=title_a, result=str), layout=OTHER)
ITEM = Page(
    name="item",
    layout=SITE,
    shell=Shell(html="<h1>item {{ item }}</h1>", queries=("item",)),
    queries=(Query(name="item", call=item, result=int, params=("number",)),),
)
SCRIPTED = Page(
    name="scripted",
    layout=SITE,
    shell=Shell(
        html="<h1>scripted</h1>",
        head='<script nonce="{{ csp_nonce }}">window.scripted = true</script>',
    ),
)
PLAIN = Page(name="plain", layout=SITE, navigation=False, shell=Shell(html="<h1>plain</h1>"))
MARKED = Page(
    name="marked",
    layout=SITE,
    navigation="marked",
    shell=Shell(
        html='<h1 id="heading">marked</h1><p id="top">top</p>'
        '<div data-engine-nav><a id="marked-a" href="/a">A, marked</a>'
        '<a id="unmarked-a" href="/a" data-engine-nav="off">A, opted out</a></div>',
        head="<title>marked</title>",
    ),
)

STYLED = Page(  # its fragment is ready with the shell: its stylesheet link is in the part
    name="styled",
    layout=SITE,
    shell=Shell(html='<h1 id="heading">styled</h1><?marker name="box">', head="<title>s</title>"),
    fragments=(Fragment(target="box", template='<p id="box">box</p>', stylesheets=("/box.css",)),),
)

PAGES = {
    "/a": A,
    "/b": B,
    "/other": OTHER_PAGE,
    "/item/{number}": ITEM,
    "/scripted": SCRIPTED,
    "/plain": PLAIN,
    "/marked": MARKED,
    "/styled": STYLED,
}

app = App(PAGES, csp=os.environ.get("NAVIGATION_CSP") or None)
