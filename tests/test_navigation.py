"""Streamed navigation, in process: the layout ranges a page with navigation writes, the
identity of layouts, and the navigation response (only what lies below the shared layout,
guards as for a GET, the ordering contract), checked on examples and on random pages."""

from __future__ import annotations

import math
import re

import msgspec
import pytest
import trio
import trio.testing
from hypothesis import given, settings

import engine
from engine import Fragment, Layout, NotFound, Page, Query, Shell, ShellError
from engine.definition.navigation import navigation_view
from engine.testing import assert_contract, check_contract, render_timeline
from tests.strategies import Case, cases

HEAD = '<!doctype html><html><head><meta charset="utf-8"></head>'


def user() -> str:
    return "ann"


def menu() -> str:
    return "menu"


def product() -> str:
    return "Tea"


def reviews() -> list[str]:
    return ["good"]


SITE = Layout(
    name="site",
    navigation=True,
    shell=Shell(
        html=HEAD + '<body><nav>{{ user }} <?marker name="menu"></nav>'
        '<main><?marker name="content"></main></body></html>',
        queries=("user",),
    ),
    queries=(
        Query(name="user", call=user, result=str),
        Query(name="menu", call=menu, result=str, expose=True),
    ),
    fragments=(
        Fragment(target="menu", uses=("menu",), template="<b>{{ menu }}</b>", fallback="…"),
    ),
)

PRODUCT = Page(
    name="product",
    layout=SITE,
    shell=Shell(
        html='<h1>{{ product }}</h1><?marker name="reviews">',
        queries=("product",),
        head="<title>{{ product }}</title>",
    ),
    queries=(
        Query(name="product", call=product, result=str),
        Query(name="reviews", call=reviews, result=list[str], expose=True),
    ),
    fragments=(
        Fragment(
            target="reviews",
            uses=("reviews", "user"),
            jinja_source="{% for r in reviews %}<p>{{ r }} ({{ user }})</p>{% endfor %}",
            fallback="<p>loading</p>",
        ),
    ),
)


def site_id(page: Page = PRODUCT, at: int = 0) -> str:
    return engine.Graph.build(page).ranges[at].id


def with_layout(page: Page, **changes: object) -> Page:
    assert isinstance(page.layout, Layout)
    return msgspec.structs.replace(page, layout=msgspec.structs.replace(page.layout, **changes))


# -- the full page -----------------------------------------------------------------------


async def test_a_page_with_navigation_marks_its_layout_ranges_and_carries_navigate_js() -> None:
    layout = site_id()
    html = (await engine.render_to_bytes(PRODUCT)).decode()
    assert (
        f'<head><meta charset="utf-8"><?start name="engine-head-{layout}"><title>Tea</title>'
        "<?end></head>"
    ) in html
    assert f'<main><?start name="engine-content-{layout}"><h1>Tea</h1>' in html
    assert html.count("<?end></main>") == 1 and "<?end><?end></main>" in html
    assert f'<script data-navigation="all">{engine.wire.format.NAVIGATE_JS}</script>' in html


async def test_without_navigation_the_document_is_byte_for_byte_as_before() -> None:
    off = with_layout(PRODUCT, navigation=None)
    html = (await engine.render_to_bytes(off)).decode()
    assert "engine-content-" not in html and "engine-head-" not in html
    assert "data-navigation" not in html
    assert '<head><meta charset="utf-8"><title>Tea</title></head>' in html
    assert engine.Graph.build(off).navigation is None


@pytest.mark.parametrize(
    ("layout", "page", "expected"),
    [(True, None, "all"), (True, False, None), ("marked", None, "marked"), (None, True, "all")],
)
async def test_the_innermost_layer_that_says_decides(layout, page, expected) -> None:
    p = msgspec.structs.replace(with_layout(PRODUCT, navigation=layout), navigation=page)
    assert engine.Graph.build(p).navigation == expected
    html = (await engine.render_to_bytes(p, mode="in-order")).decode()
    assert (f'<script data-navigation="{expected}">' in html) == (expected is not None)


def test_a_layout_id_changes_with_the_layout_and_with_the_layouts_around_it() -> None:
    other_page = Shell(html='<p>other page</p><?marker name="reviews">')
    same = site_id(msgspec.structs.replace(PRODUCT, shell=other_page))
    assert site_id() == same, "the page below does not change its layout's identity"
    changed_html = with_layout(
        PRODUCT, shell=Shell(html=SITE.shell.html.replace("<nav>", "<nav >"), queries=("user",))
    )
    changed_fragment = with_layout(
        PRODUCT, fragments=(msgspec.structs.replace(SITE.fragments[0], fallback="..."),)
    )
    assert len({site_id(), site_id(changed_html), site_id(changed_fragment)}) == 3
    section = Layout(
        name="section", shell=Shell(html='<section><?marker name="content"></section>'), layout=SITE
    )
    nested = msgspec.structs.replace(PRODUCT, layout=section)
    other_site = msgspec.structs.replace(
        nested, layout=msgspec.structs.replace(section, layout=changed_html.layout)
    )
    assert site_id(nested, 1) != site_id(other_site, 1), "a section inside another site"


def test_a_layout_id_changes_with_the_slot_its_page_fills() -> None:
    """Two layouts alike but for their content slot are two layouts: a client holding one
    must not get the other's part."""

    def page(content: str, other: str) -> Page:
        layout = Layout(
            name="two",
            navigation=True,
            content=content,
            shell=Shell(html=HEAD + '<body><?marker name="a"><?marker name="b"></body></html>'),
        )
        return Page(
            name="p",
            layout=layout,
            shell=Shell(html="<p>page</p>"),
            fragments=(Fragment(target=other, template="x", fallback="…"),),
        )

    assert site_id(page("a", "b")) != site_id(page("b", "a"))


def test_a_layout_id_changes_with_the_layouts_name() -> None:
    """Its name is part of its definition (messages name it): another name, another layout."""
    assert site_id(with_layout(PRODUCT, name="shop")) != site_id()


def test_a_navigation_view_is_the_same_page_below_its_layout() -> None:
    graph = engine.Graph.build(PRODUCT, source="product.toml")
    view = navigation_view(graph, site_id())
    assert view is not None
    assert (view.page, view.source, view.resources, view.actions, view.navigation) == (
        graph.page,
        "product.toml",
        graph.resources,
        graph.actions,
        "all",
    )
    assert (view.below, view.ranges, view.shell_tail) == (site_id(), (), "")
    assert [q.name for q in view.queries] == ["user", "product", "reviews"]
    assert view.query_index == {"user": 0, "product": 1, "reviews": 2}
    assert navigation_view(graph, site_id()) is view, "built once per graph and layout"


def test_the_views_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Graphs come and go (a reloaded page is a new graph): past 1024 views, the views kept
    are dropped rather than grow without end."""
    graph = engine.Graph.build(PRODUCT)
    views: dict[object, object] = {(-i, 0): (None, None) for i in range(1, 1026)}
    monkeypatch.setattr("engine.definition.navigation._VIEWS", views)
    view = navigation_view(graph, site_id())
    assert view is not None
    assert views == {(id(graph), 0): (graph, view)}


def test_navigation_values_are_checked_like_every_field(tmp_path) -> None:
    file = tmp_path / "p.toml"
    file.write_text('name = "p"\nnavigation = "yes"\n[shell]\nhtml = "<p>x</p>"\n')
    with pytest.raises(engine.PageError) as caught:
        engine.Graph.build(engine.load(file), source=str(file))
    assert (
        "p.toml:$.navigation: error: page 'p': invalid value 'yes': expected one of 'marked',"
        " true or false"
    ) in str(caught.value)
    headless = with_layout(PRODUCT, shell=Shell(html='<main><?marker name="content"></main>'))
    headless = msgspec.structs.replace(headless, shell=Shell(html="<p>x</p>"))
    with pytest.raises(engine.PageError, match="navigation marks each layout's part of <head>"):
        engine.Graph.build(headless)


# -- the navigation response -------------------------------------------------------------


async def test_a_navigation_response_fills_only_what_lies_below_the_shared_layout(
    autojump_clock,
) -> None:
    layout = site_id()
    timeline = await render_timeline(PRODUCT, navigate=layout, latencies={"reviews": 1})
    assert_contract(timeline)
    first, late = timeline.writes[0].data.decode(), timeline.writes[1].data.decode()
    assert first == (
        f'<template for="engine-head-{layout}"><?start name="engine-head-{layout}">'
        "<title>Tea</title><?end></template>"
        f'<template for="engine-content-{layout}"><?start name="engine-content-{layout}">'
        '<h1>Tea</h1><?start name="reviews"><p>loading</p><?end><?end></template>'
        "<script>$E()</script>"
    ), "the page's part with its fallback, its head, the swap script: no runtime, no layout"
    assert late == (
        '<script type="application/json" data-query="reviews">["good"]</script>'
        '<template for="reviews"><?start name="reviews"><p>good (ann)</p><?end></template>'
        "<script>$E()</script>"
    )
    assert timeline.time_of("reviews") == 1
    assert sorted(timeline.queries) == ["product", "reviews", "user"], (
        "the layout's shell query runs (a guard, and the page uses it); its menu does not"
    )
    assert [f.target for f in timeline.graph.fragments] == ["reviews"]
    assert "menu" not in b"".join(w.data for w in timeline.writes).decode()


async def test_a_client_without_the_layout_gets_the_whole_page(autojump_clock) -> None:
    for held in ("", "0123456789abcdef", "  "):
        timeline = await render_timeline(PRODUCT, navigate=held)
        assert timeline.writes[0].data.startswith(b"<!doctype html>")
        assert "menu" in timeline.queries
    off = with_layout(PRODUCT, navigation=None)
    assert navigation_view(engine.Graph.build(off), site_id()) is None


async def test_guards_run_as_for_a_get(autojump_clock) -> None:
    layout = site_id()
    with pytest.raises(NotFound):
        await render_timeline(PRODUCT, navigate=layout, failures={"user": NotFound("gone")})
    with pytest.raises(NotFound):
        await render_timeline(PRODUCT, navigate=layout, failures={"product": NotFound("gone")})
    with pytest.raises(engine.Redirect):
        await render_timeline(
            PRODUCT, navigate=layout, failures={"product": engine.Redirect("/elsewhere")}
        )
    with pytest.raises(ShellError):
        await render_timeline(PRODUCT, navigate=layout, failures={"user": RuntimeError("db")})


async def test_a_nested_layout_below_the_shared_one_comes_with_its_range(autojump_clock) -> None:
    shop = Layout(
        name="shop",
        shell=Shell(
            html='<section id="shop"><?marker name="content"></section>', head="<meta name=x>"
        ),
        layout=SITE,
    )
    blog = Layout(
        name="blog", shell=Shell(html='<article><?marker name="content"></article>'), layout=SITE
    )
    in_shop = msgspec.structs.replace(PRODUCT, layout=shop)
    in_blog = msgspec.structs.replace(PRODUCT, layout=blog)
    site, shop_id = site_id(in_shop, 0), site_id(in_shop, 1)
    assert site == site_id(in_blog, 0) == site_id()
    # From a blog page (holding site and blog) to a shop page: below the site.
    timeline = await render_timeline(in_shop, navigate=f"{site} {site_id(in_blog, 1)}")
    first = timeline.writes[0].data.decode()
    assert (
        f'<?start name="engine-head-{site}"><meta name=x><?start name="engine-head-{shop_id}">'
        in first
    )
    assert f'<section id="shop"><?start name="engine-content-{shop_id}"><h1>Tea</h1>' in first
    assert_contract(timeline)
    # From another shop page: below the shop, the innermost shared layout.
    timeline = await render_timeline(in_shop, navigate=f"{site} {shop_id}")
    first = timeline.writes[0].data.decode()
    assert first.startswith(f'<template for="engine-head-{shop_id}">')
    assert '<section id="shop">' not in first and "<meta name=x>" not in first


async def test_a_layout_fragment_that_fills_a_slot_of_the_page_goes_with_the_page(
    autojump_clock,
) -> None:
    page = msgspec.structs.replace(
        PRODUCT, shell=Shell(html='<h1>x</h1><?marker name="reviews"><?marker name="aside">')
    )
    page = with_layout(
        page,
        fragments=(
            *SITE.fragments,
            Fragment(
                target="aside", uses=("user",), template="<aside>{{ user }}</aside>", fallback="."
            ),
        ),
    )
    timeline = await render_timeline(page, navigate=site_id(page))
    assert sorted(f.target for f in timeline.graph.fragments) == ["aside", "reviews"]
    assert "<aside>ann</aside>" in timeline.writes[0].data.decode()
    assert_contract(timeline)


# -- random pages ------------------------------------------------------------------------


def _below_a_layout(case: Case) -> Page:
    """The case's page as the part of a page below a layout with its own queries and
    fragments (a layout query in the shell, an exposed one for a layout fragment)."""
    page = case.page()
    slots = re.search(r"<body>(.*)</body>", page.shell.html, re.DOTALL)
    assert slots is not None
    layout = Layout(
        name="site",
        navigation=True,
        shell=Shell(
            html=HEAD
            + '<body><?marker name="nav"><main><?marker name="content"></main></body></html>',
            queries=("layout_user",),
        ),
        queries=(
            Query(name="layout_user", call=user, result=str),
            Query(name="layout_menu", call=menu, result=str, expose=True),
        ),
        fragments=(
            Fragment(
                target="nav", uses=("layout_menu",), template="{{ layout_menu }}", fallback="."
            ),
        ),
    )
    return msgspec.structs.replace(
        page,
        layout=layout,
        shell=msgspec.structs.replace(page.shell, html=slots[1], head="<title>case</title>"),
    )


def _timeline(case: Case, page: Page, navigate: str | None):
    async def main():
        return await render_timeline(
            page,
            latencies={**case.latencies(), "layout_menu": 0.05},
            failures=case.failures(),
            navigate=navigate,
        )

    return trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


@settings(deadline=None)
@given(cases(max_queries=8, max_fragments=8))
def test_random_pages_navigate_with_the_contract_at_the_same_times(case: Case) -> None:
    """A navigation response keeps the contract and sends each of the page's fragments at the
    time the whole page sends it; nothing of the layout's own goes out or runs."""
    page = _below_a_layout(case)
    layout = engine.Graph.build(page).ranges[0].id
    try:
        whole = _timeline(case, page, None)
    except (ShellError, NotFound):
        with pytest.raises((ShellError, NotFound)):
            _timeline(case, page, layout)
        return
    part = _timeline(case, page, layout)
    assert check_contract(part) == [], part.format()
    assert {f.target for f in part.graph.fragments} == {f.target for f in case.fragments}
    assert "layout_menu" not in part.queries and "layout_user" in part.queries
    sent = b"".join(w.data for w in part.writes).decode()
    assert "layout_menu" not in sent and "<!doctype" not in sent
    assert part.writes[0].data.startswith(f'<template for="engine-head-{layout}">'.encode())
    for f in case.fragments:
        if f.target in whole.graph.fragment_index and any(e.name == f.target for e in whole.events):
            assert math.isclose(part.time_of(f.target), whole.time_of(f.target)), (
                f.target,
                part.format(),
                whole.format(),
            )


async def test_a_jinja2_layout_marks_its_ranges_and_navigates_alike(autojump_clock) -> None:
    jinja = with_layout(
        PRODUCT,
        shell=Shell(
            jinja_source=HEAD + "<body>{% if user %}<nav>{{ user }}</nav>{% endif %}"
            '<?marker name="menu"><main>{{ slot("content") }}</main></body></html>',
            queries=("user",),
        ),
    )
    layout = site_id(jinja)
    whole = (await engine.render_to_bytes(jinja)).decode()
    assert f'<main><?start name="engine-content-{layout}"><h1>Tea</h1>' in whole
    timeline = await render_timeline(jinja, navigate=layout)
    assert_contract(timeline)
    first = timeline.writes[0].data.decode()
    assert first.startswith(
        f'<template for="engine-head-{layout}"><?start name="engine-head-{layout}">'
        "<title>Tea</title><?end></template>"
        f'<template for="engine-content-{layout}"><?start name="engine-content-{layout}">'
        "<h1>Tea</h1>"
    )
    assert "<nav>" not in first and "menu" not in timeline.queries
