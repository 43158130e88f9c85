"""Client bindings checked before any request: ``data-bind`` items are found in shells and
templates as the runtime reads them, and one whose data can never reach the browser (an
unknown or unexposed query, a path no value has) is an error naming page, node, file and key."""

from __future__ import annotations

import typing
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
from engine import Fragment, Graph, Layout, Page, Query, Shell
from engine.cli import main
from engine.markup.bindings import Binding, bindings

SHELL = '<!doctype html><html><head><meta charset="utf-8"></head><body>{}</body></html>'


class Line(msgspec.Struct):
    sku: str


class Cart(msgspec.Struct, rename="camel"):
    item_count: int
    lines: list[Line]
    owner: Line | None = None
    extra: dict[str, int] = {}


class Point(typing.NamedTuple):
    x: int


async def _cart() -> Cart:
    return Cart(1, [])


async def _point() -> Point:
    return Point(1)


def page_with(
    shell: str = "", template: str | None = None, *, expose: bool = True, **fragment: object
) -> Page:
    renderer = {"template": template} if template is not None else fragment
    return Page(
        name="p",
        shell=Shell(html=SHELL.format(shell + '<?marker name="a">')),
        queries=(
            Query(name="cart", call=_cart, result=Cart, expose=expose),
            Query(name="point", call=_point, result=Point, expose=True),
        ),
        fragments=(Fragment(target="a", uses=("cart",), fallback="…", **renderer),),  # type: ignore[arg-type]
    )


def problems(page: Page, source: str | None = None) -> tuple[list[str], list[str]]:
    try:
        graph = Graph.build(page, source=source)
    except engine.PageError as error:
        found = error.problems
    else:
        found = list(graph.warnings)
    return (
        [str(p) for p in found if p.severity == "error"],
        [str(p) for p in found if p.severity == "warning"],
    )


# -- reading the items -----------------------------------------------------------------


def test_items_are_read_as_the_runtime_reads_them() -> None:
    html = (
        "<a data-bind='cart.itemCount  href:cart.url\n.empty:cart.lines' title=\"x>y\">"
        '<use data-bind="xlink:href:point.0"/><!-- <b data-bind="gone.x"> -->'
        '<script data-bind="cart.code">var s = "<i data-bind=\'fake.x\'>";</script>'
        '<p data-bind="cart.{{ key }}"></p><i data-bind="tag.name .:cart.x :cart.y">'
    )
    assert [(b.element, b.target, b.name, b.query, b.path) for b in bindings(html)] == [
        ("a", "text", "", "cart", ("itemCount",)),
        ("a", "attribute", "href", "cart", ("url",)),
        ("a", "class", "empty", "cart", ("lines",)),
        ("use", "attribute", "xlink:href", "point", ("0",)),
        ("script", "text", "", "cart", ("code",)),
        ("i", "text", "", "tag", ("name",)),
        ("i", "attribute", ".", "cart", ("x",)),
        ("i", "attribute", "", "cart", ("y",)),
    ]


def test_lines_count_through_what_is_not_read() -> None:
    html = (
        "\n<script>\nvar a = '<b data-bind=\"no.x\">';\n</script\n>"  # lines 1 to 5
        '<i data-bind="q.a">\n<!--\n\n-->'  # 5 to 8
        '<b data-bind="q.b"><style>\n</style><<!--\n--> data-bind="q.c">'  # text, not a tag
    )
    assert [(b.item, b.line) for b in bindings(html)] == [("q.a", 5), ("q.b", 8)]


@pytest.mark.parametrize(
    ("html", "items"),
    [
        ('<p data-bind="q.a" data-bind="r.b">', ["q.a"]),  # the browser keeps the first
        ('<p data-bind="{{ x }}" data-bind="r.b">', []),  # decided when rendered
        ("<p title='see data-bind=q.y' data-bind=\"q.a\">", ["q.a"]),  # text of a title
        ('<p title="a" DATA-Bind = q.x hidden>', ["q.x"]),
        ("<p data-bind>", []),
        ("<p data-binding='q.a' data-bind=''>", []),
    ],
)
def test_an_element_has_one_data_bind_read_as_the_browser_reads_it(
    html: str, items: list[str]
) -> None:
    assert [b.item for b in bindings(html)] == items


@pytest.mark.parametrize(
    ("item", "element", "refused"),
    [
        ("href:q.url", "a", None),
        (".on:q.flag", "b", None),  # a class may be called anything
        (".x:q.flag", "b", None),  # one letter is a class too
        ("title:q.t", "b", None),
        ("onclick:q.code", "b", "event handler attributes are never bound"),
        ("OnMouseOver:q.code", "b", "event handler attributes are never bound"),
        ("style:q.css", "b", "style is never bound: a strict CSP blocks style attributes;"),
        ("srcdoc:q.html", "iframe", "srcdoc is never bound: it is a document, not a value"),
        ("to:q.url", "animate", "to is never bound: an SVG animation value"),
        ("attributeName:q.a", "set", "attributename is never bound: an SVG animation value"),
        ("q.code", "script", "a <script> element is never bound"),
        ("q.css", "style", "a <style> element is never bound"),
        ("1x:q.a", "b", "'1x' is not an attribute name"),
        ("href:", "a", "it names no query"),
    ],
)
def test_what_the_runtime_refuses_is_said_why(item: str, element: str, refused: str) -> None:
    (binding,) = bindings(f'<{element} data-bind="{item}">')
    assert isinstance(binding, Binding)
    if refused is None:
        assert binding.refused is None
    else:
        assert binding.refused is not None and binding.refused.startswith(refused)


# -- the checks --------------------------------------------------------------------------


def test_bindings_to_exposed_data_that_exists_pass() -> None:
    page = page_with(
        '<b data-bind="cart.itemCount .full:cart.lines title:cart.lines.0.sku">1</b>',
        '<i data-bind="cart.owner.sku cart.extra.any point.0 cart.lines.length">x</i>',
    )
    assert problems(page) == ([], [])


def test_a_binding_to_an_unexposed_query_is_one_error_suggesting_expose() -> None:
    page = page_with(
        '<b data-bind="cart.itemCount title:cart.lines.0.sku">1</b>',
        '<i data-bind="cart.itemCount">1</i>',
        expose=False,
    )
    assert problems(page)[0] == [
        "$.shell.html: error: page 'p': data-bind items 'cart.itemCount',"
        " 'title:cart.lines.0.sku' bind to query 'cart', which is not exposed: its data never"
        " reaches the browser, so the element would never update; set expose = true on query"
        " 'cart' (its whole value then goes to every visitor of the page) or remove the"
        " binding",
        "$.fragments[0].template: error: page 'p' [a]: data-bind item 'cart.itemCount' binds"
        " to query 'cart', which is not exposed: its data never reaches the browser, so the"
        " element would never update; set expose = true on query 'cart' (its whole value then"
        " goes to every visitor of the page) or remove the binding",
    ]


def test_a_binding_to_an_unknown_query_is_an_error_with_the_nearest_name() -> None:
    (errors, _) = problems(page_with(template='<i data-bind="crat.itemCount">1</i>'))
    assert errors == [
        "$.fragments[0].template: error: page 'p' [a]: data-bind item 'crat.itemCount' binds"
        " to query 'crat', which this page does not declare (did you mean 'cart'?)"
    ]


def test_a_path_no_value_has_is_an_error_naming_the_json_keys() -> None:
    page = page_with(
        '<b data-bind="cart.item_count">1</b>',
        '<i data-bind="href:cart.lines.0.skuu">1</i><i data-bind="cart.owner.skuu">2</i>',
    )
    assert problems(page)[0] == [
        "$.shell.html: error: page 'p': data-bind item 'cart.item_count' leads nowhere: cart is"
        " Cart, which has no key 'item_count' (did you mean 'itemCount'?); the element would"
        " keep its server-rendered HTML for good",
        "$.fragments[0].template: error: page 'p' [a]: data-bind item 'href:cart.lines.0.skuu'"
        " leads nowhere: cart.lines.0 is Line, which has no key 'skuu' (did you mean 'sku'?);"
        " the element would keep its server-rendered HTML for good",
        # None on the way only leaves the element be; the key is missing for every value.
        "$.fragments[0].template: error: page 'p' [a]: data-bind item 'cart.owner.skuu' leads"
        " nowhere: cart.owner is Line | None, which has no key 'skuu' (did you mean 'sku'?);"
        " the element would keep its server-rendered HTML for good",
    ]


def test_an_item_the_runtime_refuses_is_a_warning() -> None:
    page = page_with(template='<a data-bind="onclick:cart.itemCount href:cart.itemCount">x</a>')
    assert problems(page) == (
        [],
        [
            "$.fragments[0].template: warning: page 'p' [a]: data-bind item"
            " 'onclick:cart.itemCount' is never applied: event handler attributes are never"
            " bound"
        ],
    )


def test_a_render_function_and_placeholders_are_not_read() -> None:
    page = page_with(render=lambda cart: '<i data-bind="nothing.here">1</i>')
    assert problems(page) == ([], [])
    assert problems(page_with(template='<i data-bind="{{ cart.item_count }}">1</i>')) == ([], [])


def test_jinja_templates_and_layout_shells_are_checked_in_their_own_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "cart.html").write_text(
        '<p>\n<b data-bind="cart.itemCont">{{ cart.item_count }}</b>'
    )
    (tmp_path / "site.toml").write_text(
        'name = "site"\n[shell]\nhtml = \'<!doctype html><html><head><meta charset="utf-8">'
        '</head><body><i data-bind="user.name">?</i><?marker name="content"></body></html>\'\n'
    )
    page = tmp_path / "shop.toml"
    page.write_text(
        'name = "shop"\nlayout = "site.toml"\n[shell]\nhtml = \'<?marker name="a">\'\n'
        '[[queries]]\nname = "cart"\ncall = "tests.test_binding_checks:_cart"\n'
        'result = "tests.test_binding_checks:Cart"\nexpose = true\n'
        '[[fragments]]\ntarget = "a"\nuses = ["cart"]\nfallback = "…"\njinja = "cart.html"\n'
    )
    assert main(["check", str(page)]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"{tmp_path / 'site.toml'}:$.shell.html: error: page 'shop': data-bind item"
        " 'user.name' binds to query 'user', which this page does not declare",
        f"{page}:$.fragments[0].jinja: error: page 'shop' [a]: {tmp_path / 'cart.html'}:2:"
        " data-bind item 'cart.itemCont' leads nowhere: cart is Cart, which has no key"
        " 'itemCont' (did you mean 'itemCount'?); the element would keep its server-rendered"
        " HTML for good",
    ]


def test_a_layout_binding_to_the_layouts_own_exposed_query_passes() -> None:
    site = Layout(
        name="site",
        shell=Shell(
            html=SHELL.format('<b data-bind="cart.itemCount">0</b><?marker name="content">')
        ),
        queries=(Query(name="cart", call=_cart, result=Cart, expose=True),),
    )
    page = Page(name="p", layout=site, shell=Shell(html="<p>page</p>"))
    assert problems(page) == ([], [])


async def _anything() -> dict:
    return {}


_SEGMENT = st.sampled_from(["a", "b", "0", "lines", "x_y"])
_ITEM = st.tuples(
    st.sampled_from(["", "href:", "title:", ".on:", "onclick:", "style:", "data-n:"]),
    st.sampled_from(["shown", "hidden", "ghost"]),
    st.lists(_SEGMENT, max_size=3),
)


@given(st.lists(st.lists(_ITEM, min_size=1, max_size=3), min_size=1, max_size=4))
def test_one_error_per_query_that_never_reaches_the_browser(elements: list) -> None:
    """Whatever the items: one error for each unexposed or unknown query named (per HTML
    text), one warning per refused item, and nothing about exposed untyped data."""
    html = "".join(
        '<b data-bind="{}">x</b>'.format(
            " ".join(prefix + ".".join([query, *path]) for prefix, query, path in items)
        )
        for items in elements
    )
    items = [item for element in elements for item in element]
    page = Page(
        name="p",
        shell=Shell(html=SHELL.format('<?marker name="a">')),
        queries=(
            Query(name="shown", call=_anything, result=dict, expose=True),
            Query(name="hidden", call=_anything, result=dict),
        ),
        fragments=(Fragment(target="a", uses=("shown", "hidden"), fallback="…", template=html),),
    )
    errors, warnings = problems(page)
    refused = {"onclick:", "style:"}
    named = {query for prefix, query, _ in items if prefix not in refused}
    assert len(errors) == len(named - {"shown"})
    assert len(warnings) == sum(prefix in refused for prefix, _, _ in items)


def test_a_fragment_after_a_render_function_is_still_read() -> None:
    page = Page(
        name="p",
        shell=Shell(html=SHELL.format('<?marker name="a"><?marker name="b">')),
        queries=(Query(name="cart", call=_cart, result=Cart, expose=True),),
        fragments=(
            Fragment(target="a", uses=("cart",), render=lambda cart: "", fallback="…"),
            Fragment(target="b", template='<p data-bind="crat.itemCount"></p>', fallback="…"),
        ),
    )
    assert problems(page)[0] == [
        "$.fragments[1].template: error: page 'p' [b]: data-bind item 'crat.itemCount' binds to"
        " query 'crat', which this page does not declare (did you mean 'cart'?)"
    ]
