"""Every mode's output is well-formed HTML to a real HTML5 parser (html5lib).

The only parse errors allowed are the ones the slot markers cause by design: to an
HTML parser ``<?start …>``, ``<?end>`` and ``<?marker …>`` are bogus comments
(``expected-tag-name-but-got-question-mark``), which is exactly how the runtime finds them.

html5lib 1.1 predates ``<template>`` (it parses its content in the surrounding context,
so rows inside a template are dropped): out of order, each ``<template for>`` is parsed
on its own in the context of its slot, as a browser parses template contents, and then
put in place the way the runtime does, to check the final document.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import html5lib
import pytest
import trio

from engine import Fragment, Page, Query, Shell
from engine.testing import Timeline, assert_contract, render_timeline
from engine.wire.format import RUNTIME_JS, SWAP_JS

MARKER_ERROR = "expected-tag-name-but-got-question-mark"
EOF_ERRORS = ("expected-closing-tag-but-got-eof", "eof-in-table")
MARKER = re.compile(r"<\?(?:start name=\"[^\"]+\"|end|marker name=\"[^\"]+\")>")
TEMPLATE = re.compile(r'<template for="([^"]+)">(.*?)</template>', re.DOTALL)
CALL = "<script>$E()</script>"

SHELL = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Report</title></head>'
    "<body><h1>Report</h1>"
    '<main><?marker name="outer"></main>'
    "<table><thead><tr><th>n</th></tr></thead>"
    '<tbody><?marker name="rows"></tbody></table>'
    '<ul class="items"><?marker name="items"></ul>'
    '<ol class="feed"><?marker name="feed"></ol>'
    "<footer>end</footer></body></html>"
)
# Where each slot sits: the element a template's content is parsed in (fragment context).
CONTAINER = {"outer": "main", "inner": "div", "rows": "tbody", "items": "ul", "feed": "ol"}


def sleeper(value: object, delay: float):
    async def call(**deps: object) -> object:
        await trio.sleep(delay)
        return value

    return call


async def feed():
    for batch in (["f1"], ["f2", "f3"], ["f4"]):
        await trio.sleep(0.05)
        yield batch


def _cells(rows: list[int]) -> str:
    return "".join(f"<tr><td>{r}</td></tr>" for r in rows)


def _items(items: list[str]) -> str:
    return "".join(f"<li>{i}</li>" for i in items)


def _feed(feed: list[str]) -> str:
    return _items(feed)


PAGE = Page(
    name="html5",
    shell=Shell(html=SHELL),
    queries=(
        Query(name="user", call=sleeper({"name": "Ann <admin>"}, 0.1), result=dict, expose=True),
        Query(name="detail", call=sleeper("deep & nested", 0.15), result=str),
        Query(name="items", call=sleeper(["x", "y"], 0.2), result=list[str]),
        Query(name="rows", call=sleeper([1, 2, 3], 0.3), result=list[int]),
        Query(name="feed", call=feed, result=list[str]),
    ),
    fragments=(
        Fragment(
            target="outer",
            uses=("user",),
            template='<section><h2>{{ user.name }}</h2><div class="d"><?marker name="inner">'
            "</div></section>",
            fallback="<p>loading</p>",
        ),
        Fragment(target="inner", uses=("detail",), template="<b>{{ detail }}</b>", fallback="…"),
        Fragment(
            target="rows",
            uses=("rows",),
            render=_cells,
            fallback='<tr class="skeleton"><td>…</td></tr><tr class="skeleton"><td>…</td></tr>',
            priority="low",
        ),
        Fragment(target="items", uses=("items",), render=_items, fallback="<li>…</li>"),
        Fragment(target="feed", uses=("feed",), mode="append", render=_feed, fallback="<li>…</li>"),
    ),
)


def parse(text: str, container: str | None = None, *, prefix: bool = False) -> ET.Element:
    """Parse ``text``; fail on any error that is not caused by a marker (or, in a prefix of
    the stream, by the end of what has arrived so far)."""
    parser = html5lib.HTMLParser(namespaceHTMLElements=False)
    tree = parser.parse(text) if container is None else parser.parseFragment(text, container)
    eof = [e for e in parser.errors if prefix and e[1] in EOF_ERRORS]
    assert len(eof) <= 1
    others = [e for e in parser.errors if e[1] != MARKER_ERROR and e not in eof]
    assert others == [], f"{others} in:\n{text}"
    assert len(parser.errors) - len(eof) == len(MARKER.findall(text)), "one error per marker"
    return tree


def elements(tree: ET.Element, tag: str) -> list[ET.Element]:
    return list(tree.iter(tag))


def only(tree: ET.Element, tag: str) -> ET.Element:
    [element] = elements(tree, tag)
    return element


def shape(element: ET.Element) -> list[str]:
    """The children of ``element``: tags, and markers (comments) by their text.

    Swap scripts are left out: each removes itself as it runs.
    """
    return [
        c.text if c.tag is ET.Comment else c.tag
        for c in element
        if not (c.tag == "script" and c.text == SWAP_JS)
    ]


def text(element: ET.Element) -> str:
    return "".join(element.itertext())


def without_scripts(element: ET.Element) -> str:
    for parent in list(element.iter()):
        for child in list(parent):
            if child.tag == "script":
                parent.remove(child)
    return ET.tostring(element, encoding="unicode")


def assert_one_document(tree: ET.Element) -> None:
    assert tree.tag == "html"
    for tag in ("html", "head", "body", "title", "main", "table", "tbody", "ul", "ol", "footer"):
        assert len(elements(tree, tag)) == 1, tag
    assert shape(tree) == ["head", "body"]
    assert text(only(tree, "footer")) == "end"  # nothing after the slots was swallowed


def assert_in_place(tree: ET.Element) -> None:
    """Each slot's content sits where its marker was."""
    tbody = only(tree, "tbody")
    assert shape(tbody) == ['?start name="rows"', "tr", "tr", "tr", "?end"]
    assert [text(tr) for tr in tbody.iter("tr")] == ["1", "2", "3"]
    assert not [tr for tr in tree.iter("tr") if tr.get("class") == "skeleton"]
    assert shape(only(tree, "thead")) == ["tr"]
    ul = only(tree, "ul")
    assert shape(ul) == ['?start name="items"', "li", "li", "?end"]
    assert [text(li) for li in ul.iter("li")] == ["x", "y"]
    ol = only(tree, "ol")
    assert [text(li) for li in ol.iter("li")] == ["f1", "f2", "f3", "f4"]
    assert all(li.tag == "li" for li in ol if li.tag is not ET.Comment)
    section = only(only(tree, "main"), "section")
    assert text(only(section, "h2")) == "Ann <admin>"
    div = only(section, "div")
    assert div.get("class") == "d"
    assert shape(div) == ['?start name="inner"', "b", "?end"]
    assert text(only(div, "b")) == "deep & nested"


def assert_data(tree: ET.Element) -> None:
    [data] = [s for s in tree.iter("script") if s.get("type") == "application/json"]
    assert data.get("data-query") == "user"
    assert data.text == '{"name":"Ann \\u003cadmin\\u003e"}'


async def render(mode: str) -> Timeline:
    timeline = await render_timeline(PAGE, mode=mode)
    assert_contract(timeline)
    return timeline


@pytest.mark.parametrize("mode", ["in-order", "buffered"])
async def test_complete_documents_parse_with_everything_in_place(autojump_clock, mode) -> None:
    timeline = await render(mode)
    tree = parse(timeline.html)
    assert_one_document(tree)
    assert_in_place(tree)
    assert_data(tree)
    assert "<template" not in timeline.html
    # The page exposes data, so $E comes too: the runtime once, before the first slot, then
    # a swap script announcing what landed (after each write in order, once when buffered).
    scripts = [s.text if s.get("type") is None else s.get("type") for s in tree.iter("script")]
    swaps = scripts.count(SWAP_JS)
    assert scripts[0] == RUNTIME_JS and scripts[-1] == SWAP_JS, scripts
    assert scripts.count(RUNTIME_JS) == 1 and scripts.count("application/json") == 1
    assert swaps == (1 if mode == "buffered" else len(timeline.writes) - 1), (swaps, scripts)
    assert timeline.html.rstrip().endswith("<script>$E()</script></body></html>")


async def test_in_order_every_prefix_parses_with_what_arrived_in_place(autojump_clock) -> None:
    timeline = await render("in-order")
    chunks = [w.chunks for w in timeline.writes]
    assert chunks[1] == (("query", "user"), ("fragment", "outer"))
    assert chunks[2] == (("fragment", "inner"),)
    sent = [""]
    for write in timeline.writes:
        sent.append(sent[-1] + write.data.decode())
    # A browser shows each prefix as it arrives: each parses cleanly, content in place.
    shell, outer, inner, *_ = (parse(text, prefix=True) for text in sent[1:])
    parse(sent[-1])  # the whole stream: no end-of-file error either
    assert len(elements(shell, "body")) == 1
    assert [script.text for script in only(shell, "main")] == [RUNTIME_JS]  # before the slot
    assert text(only(only(outer, "main"), "h2")) == "Ann <admin>"
    assert_data(outer)
    assert shape(only(inner, "div")) == ['?start name="inner"', "b", "?end"]
    assert elements(inner, "tbody") and not elements(inner, "tr")[1:]  # only the header row


async def test_out_of_order_shell_templates_and_final_document(autojump_clock) -> None:
    timeline = await render("out-of-order")
    html = timeline.html
    templates = TEMPLATE.findall(html)
    assert [name for name, _ in templates] == [
        "feed",
        "outer",
        "feed.1",
        "inner",
        "feed.2",
        "items",
        "rows",
    ]
    # The document without its templates: the shell with every fallback in its slot.
    page = TEMPLATE.sub("", html)
    tree = parse(page)
    assert_one_document(tree)
    tbody = only(tree, "tbody")
    assert shape(tbody) == ['?start name="rows"', "tr", "tr", "?end"]  # rows stay in the table
    assert [tr.get("class") for tr in tbody.iter("tr")] == ["skeleton", "skeleton"]
    assert shape(only(tree, "ul")) == ['?start name="items"', "li", "?end"]
    assert_data(tree)
    # Each template's content parses cleanly in its slot's context.
    for name, content in templates:
        fragment = parse(content, CONTAINER[name.split(".")[0]])
        if name == "rows":
            assert shape(fragment) == ['?start name="rows"', "tr", "tr", "tr", "?end"]
        if name.startswith("feed"):
            assert {c.tag for c in fragment if c.tag is not ET.Comment} <= {"li"}
    # Put in place as the runtime does, the final document equals the buffered one.
    final = parse(apply(page, templates))
    assert_one_document(final)
    assert_in_place(final)
    buffered = parse((await render("buffered")).html)
    assert without_scripts(final) == without_scripts(buffered)


def apply(page: str, templates: list[tuple[str, str]]) -> str:
    """What the runtime does: each template replaces its marker or its start..end range."""
    page = page.replace(CALL, "")
    for name, content in templates:
        marker = f'<?marker name="{name}">'
        if marker in page:
            page = page.replace(marker, content, 1)
            continue
        start = page.index(f'<?start name="{name}">')
        depth, at = 0, start + 1
        for token in re.finditer(r"<\?start name=\"[^\"]+\">|<\?end>", page[at:]):
            if token[0] != "<?end>":
                depth += 1
            elif depth:
                depth -= 1
            else:
                end = at + token.end()
                break
        page = page[:start] + content + page[end:]
    return page


async def test_apply_is_a_faithful_model_of_slot_ranges() -> None:
    page = '<p><?start name="a">x<?start name="b">y<?end>z<?end></p>'
    assert apply(page, [("b", "B")]) == '<p><?start name="a">xBz<?end></p>'
    assert apply(page, [("a", "A")]) == "<p>A</p>"
    assert apply('<?marker name="m">!', [("m", "M")]) == "M!"
