"""Escaping and safe embedding: nothing interpolated can break out of its place."""

from __future__ import annotations

import json

import pytest
from markupsafe import Markup

import engine
from engine import Fragment, Graph, Page, PageError, Query, Shell
from engine.markup.context import slot_contexts, stray_text
from engine.markup.templates import (
    Template,
    TemplateSyntaxError,
    embed_json,
    template_balance_error,
)
from engine.markup.urls import unsafe_url_placeholders

from .pages.fixtures import Product


def test_html_escapes_every_placeholder_but_markup() -> None:
    out = engine.html(
        "<p title='{{ a }}'>{{ b.c }}{{ safe }}</p>",
        a="'><script>",
        b={"c": "<b>&"},
        safe=Markup("<i>ok</i>"),
    )
    assert out == "<p title='&#39;&gt;&lt;script&gt;'>&lt;b&gt;&amp;<i>ok</i></p>"


def test_template_lookups_attributes_items_and_indexes() -> None:
    class Thing:
        name = "x"

    template = Template.parse("{{ t.name }}/{{ d.k }}/{{ l.1 }}<?marker name='s'>")
    assert template.slots == ("s",)
    assert template.render({"t": Thing(), "d": {"k": 2}, "l": [0, 9]}) == (
        'x/2/9<?marker name="s">'
    )


def test_a_mapping_is_read_by_key_before_attribute_whatever_its_type() -> None:
    from collections.abc import Mapping
    from types import MappingProxyType

    class Record(Mapping[str, str]):  # a Mapping by inheritance, with a clashing attribute
        keys_seen = "attribute"

        def __getitem__(self, key: str) -> str:
            return f"item {key}"

        def __iter__(self):  # type: ignore[no-untyped-def]
            return iter(())

        def __len__(self) -> int:
            return 0

    class Row:
        items = "attribute items"

    template = Template.parse("{{ d.items }}|{{ p.items }}|{{ m.keys_seen }}|{{ r.items }}")
    values = {"d": {"items": "key"}, "p": MappingProxyType({"items": "proxy key"}), "m": Record()}
    for _ in range(2):  # the second time from the memo of which types are mappings
        assert template.render({**values, "r": Row()}) == (
            "key|proxy key|item keys_seen|attribute items"
        )


def test_embedded_json_cannot_close_its_script() -> None:
    value = {"x": "</script><!--<script>&", "ls": "\u2028\u2029"}
    data = embed_json(value).decode()
    for forbidden in ("</script", "<!--", "&", "\u2028", "\u2029"):
        assert forbidden not in data
    assert json.loads(data) == value


def test_json_with_a_lone_surrogate_keeps_it_as_an_escape() -> None:
    # msgspec cannot write a lone surrogate as UTF-8: the fallback writes the same compact,
    # ASCII-only JSON, every key a string, so JSON.parse gives back exactly this string.
    value = {"text": "a\ud800é</script>", 7: [1.5, None]}
    data = embed_json(value)
    assert data == b'{"text":"a\\ud800\\u00e9\\u003c/script\\u003e","7":[1.5,null]}'
    assert json.loads(data) == {"text": "a\ud800é</script>", "7": [1.5, None]}


def test_template_balance() -> None:
    assert template_balance_error("<template><p></p></template>") is None
    assert template_balance_error("</template><script>x</script>") == (
        "its HTML closes a <template> it did not open"
    )
    assert template_balance_error("<template>") == "its HTML leaves a <template> unclosed"


# -- URLs from data (issue 8, item 3) -----------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " \x01javascript:alert(1)",
        "java\tscr\nipt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox",
        "blob:https://x/1",
        Markup("javascript:alert(1)"),
    ],
)
def test_safe_url_blocks_schemes_that_run_code(url: str) -> None:
    assert engine.safe_url(url) == engine.BLOCKED_URL == "about:blank#blocked"
    assert engine.html('<a href="{{ u | url }}">', u=url) == '<a href="about:blank#blocked">'


@pytest.mark.parametrize(
    ("url", "written"),
    [
        ("https://example.com/?a=1&b=2", "https://example.com/?a=1&amp;b=2"),
        ("HTTP://example.com", "HTTP://example.com"),
        ("mailto:ann@example.com", "mailto:ann@example.com"),
        ("/products/1", "/products/1"),
        ("//cdn.example.com/x.png", "//cdn.example.com/x.png"),
        ("?page=2#top", "?page=2#top"),
        ('"><script>', "&#34;&gt;&lt;script&gt;"),
        ("java\x01script:x", "java\x01script:x"),  # no scheme to a browser: a relative path
        (Markup("&#106;avascript:x"), "&amp;#106;avascript:x"),  # not decoded into a scheme
        (42, "42"),
    ],
)
def test_safe_url_keeps_http_mailto_and_relative_urls_escaped(url: object, written: str) -> None:
    assert engine.safe_url(url) == written
    assert Template.parse("{{ u | url }}").render({"u": url}) == written


def test_a_template_with_jinja_syntax_or_an_unknown_filter_is_rejected() -> None:
    for text, message in (
        ("{% for r in reviews %}{{ r }}{% endfor %}", "'{% for r in reviews %}' is Jinja syntax"),
        ("{# note #}", "'{# note #}' is Jinja syntax"),
        (
            "{{ name | upper }}",
            "unknown filter 'upper' in '{{ name | upper }}': the filters are url;",
        ),
        ("{{ items[0] }}", "cannot read '{{ items[0] }}': a placeholder is a path"),
        ("{{ a.b() }}", "cannot read '{{ a.b() }}'"),
        # Statements longer than 60 characters are clipped to 57 in the message.
        ("{% if " + "x" * 80 + " %}", "'{% if " + "x" * 51 + "...' is Jinja syntax"),
        ("{% if " + "x" * 51 + " %}", "'{% if " + "x" * 51 + " %}' is Jinja syntax"),  # 60
        ("{% if " + "x" * 52 + " %}", "'{% if " + "x" * 51 + "...' is Jinja syntax"),  # 61
    ):
        with pytest.raises(TemplateSyntaxError) as caught:
            Template.parse(text)
        assert message in str(caught.value)
        assert "use a Jinja2 template (jinja = ...) or a render function" in str(caught.value)


def test_placeholders_that_decide_a_url_scheme_are_found() -> None:
    found = unsafe_url_placeholders(
        '<a href="{{ a }}">'  # the whole URL
        "<img alt=x src='{{ b.c }}'>"
        "<form action=java{{ d }}>"  # still the scheme
        '<button formaction="{{ e }}/x">'
        '<a href="{{ ok | url }}" title="{{ t }}" data-x="{{ t }}">'
        '<a href="/p/{{ id }}?q={{ q }}#{{ f }}">'  # a fixed path: no scheme to change
        '<a href="https://{{ host }}">'
        '<!-- <a href="{{ commented }}"> --><script>"<a href={{ js }}>"</script>'
    )
    assert [(u.attribute, u.placeholder) for u in found] == [
        ("href", "{{ a }}"),
        ("src", "{{ b.c }}"),
        ("action", "{{ d }}"),
        ("formaction", "{{ e }}"),
    ]
    assert "write {{ a | url }}" in str(found[0])
    [tight] = unsafe_url_placeholders('<a href="{{link}}">')
    assert str(tight).startswith("{{link}} starts the URL in href=:")
    assert "write {{ link | url }} (http(s), mailto" in str(tight)


# -- slots in a table or a select: text in a fallback would be moved out ------------------


@pytest.mark.parametrize(
    ("html", "stray"),
    [
        ("<tr><td>Loading…</td></tr>", None),
        ("Loading…", "Loading…"),
        ("  ", None),
        ("<tr><td>1</td></tr> more", "more"),
        ("<p><b>deep</b>in p</p>after", "after"),  # nested closes come back to the top
        ("a<br>b<p>c</p>d", "abd"),  # a void element holds no text
        ("x<span/>y", "xy"),  # nor does a self-closed one
        ("<TR><TD>1</TD></TR>x<BR>y", "xy"),  # tags in any case
        ("<!-- note -->wait<p>in</p>", "wait"),  # a comment is not an element
        ("</p>stray", "stray"),  # a close tag with nothing open
    ],
)
def test_stray_text_is_text_outside_every_element(html: str, stray: str | None) -> None:
    assert stray_text(html) == stray


@pytest.mark.parametrize(
    ("container", "fallback", "warned"),
    [
        ("<table><tbody>{}</tbody></table>", "<tr><td>…</td></tr>", None),
        ("<table><tbody>{}</tbody></table>", "<!-- rows --><tr></tr>Loading", "table"),
        ("<select>{}</select>", "<option>…</option>", None),
        ("<select>{}</select>", "<option>a</option><br>pick one", "select"),
        ("<div>{}</div>", "Loading", None),  # flow content keeps its text
    ],
)
def test_engine_check_warns_about_text_a_table_or_select_moves_out(
    container: str, fallback: str, warned: str | None
) -> None:
    slot = container.format('<?marker name="x">')
    page = Page(
        name="w",
        shell=Shell(html=f'<meta charset="utf-8">{slot}'),
        fragments=(Fragment(target="x", template="<tr></tr>", fallback=fallback),),
    )
    messages = [str(w) for w in Graph.build(page).warnings]
    if warned is None:
        assert messages == []
    else:
        text = "Loading" if warned == "table" else "pick one"
        fix = "rows" if warned == "table" else "options"
        [message] = messages
        assert f"slot is inside a {warned}, where the text {text!r} of its fallback" in message
        fate = (
            "a table moves it out for good"
            if warned == "table"
            else "a select shows only its options"
        )
        assert message.endswith(f"cannot stay ({fate}): use {fix}")


@pytest.mark.parametrize(
    ("html", "contexts"),
    [
        ("<table><?marker name='t'></table><?marker name='f'>", {"t": "table", "f": "flow"}),
        ('<!-- a <table> --><select><?marker name="o">', {"o": "select"}),
        ('<style>p{}</style><svg><?marker name="s"></svg>', {"s": "svg"}),
        # A close tag closes what it closes, and everything left open inside it.
        (
            '<table><tr><td><span><?marker name="a"></td><?marker name="b">',
            {"a": "flow", "b": "table"},
        ),
        ('<td><svg><g></g><?marker name="d"></svg></td>', {"d": "svg"}),
        (
            '<table><tr><td><table><tr><td>x</table><?marker name="e"></td></tr></table>',
            {"e": "flow"},
        ),
        ('<math><mi><svg></svg><?marker name="m"></mi></math>', {"m": "math"}),
        ('<svg/><img src=x><?marker name="h">', {"h": "flow"}),  # nothing left open
    ],
)
def test_slot_contexts_follow_what_is_open(html: str, contexts: dict[str, str]) -> None:
    assert slot_contexts(html) == contexts


def test_a_filtered_placeholder_is_named_whole_in_definition_errors() -> None:
    async def product() -> Product:
        return Product("Lamp", 1.0)

    page = Page(
        name="p",
        shell=Shell(html='<meta charset="utf-8"><?marker name="x">'),
        queries=(Query(name="product", call=product, result=Product),),
        fragments=(
            Fragment(
                target="x",
                uses=("product",),
                template='<a href="{{ product.nam | url }}">',
                fallback="…",
            ),
        ),
    )
    with pytest.raises(PageError) as caught:
        Graph.build(page)
    assert "{{ product.nam | url }}: product is Product" in str(caught.value)
