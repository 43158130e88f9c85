"""Guards on the bytes: each test here fails when one guard is taken out."""

from __future__ import annotations

import re

import pytest
import trio

import engine
from engine import Fragment, Page, Query, Shell
from engine.wire.format import Wire
from tests.test_contract import _with_data, assert_reported, timeline_of

MODES = ("out-of-order", "in-order", "buffered")
SHELL = '<!doctype html><html><head><meta charset="utf-8"></head><body>{}</body></html>'


def value(result: object, delay: float = 0.0):
    async def call(**dependencies: object) -> object:
        await trio.sleep(delay)
        return result

    return call


@pytest.mark.parametrize(
    "nonce",
    [
        "abcdefgh12345678\n",  # a valid nonce with a newline after it: a header injection
        'abcdefgh12345678"><script>alert(1)</script>',
        "abcdefgh 12345678",
        "abc",
        "a" * 257,
    ],
)
def test_a_nonce_is_checked_whole_not_by_its_valid_prefix(nonce: str) -> None:
    with pytest.raises(ValueError, match="a CSP nonce is 8-256 characters"):
        Wire(nonce)


def test_valid_nonces_pass() -> None:
    for nonce in ("abcdefgh", "A+/_=-09" * 32):
        assert Wire(nonce).nonce == nonce


@pytest.mark.parametrize("mode", MODES)
async def test_stylesheet_hrefs_are_escaped(autojump_clock, mode) -> None:
    href = '/s.css"><script>alert(1)</script>'
    page = Page(
        name="p",
        shell=Shell(html=SHELL.format('<?marker name="a">')),
        queries=(Query(name="q", call=value(1, 0.1), result=int),),
        fragments=(Fragment(target="a", uses=("q",), template="{{ q }}", stylesheets=(href,)),),
    )
    html = (await engine.render_to_bytes(page, mode=mode)).decode()
    assert (
        '<link rel="stylesheet" href="/s.css&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">'
        in (html)
    )
    assert "<script>alert(1)" not in html


@pytest.mark.parametrize("closing", ["</TEMPLATE>", "</Template >", "</template\n>"])
@pytest.mark.parametrize("mode", MODES)
async def test_html_that_closes_its_template_in_any_case_fails_the_fragment(
    autojump_clock, mode, closing
) -> None:
    page = Page(
        name="p",
        shell=Shell(html=SHELL.format('<?marker name="a"><?marker name="b">')),
        queries=(Query(name="q", call=value(1, 0.1), result=int),),
        fragments=(
            Fragment(target="a", uses=("q",), render=lambda q: f"x{closing}<b>escaped</b>"),
            Fragment(target="b", uses=("q",), template="fine"),
        ),
    )
    html = (await engine.render_to_bytes(page, mode=mode)).decode()
    assert "escaped" not in html and "<!--engine:failed-->" in html and "fine" in html


@pytest.mark.parametrize(("root", "context"), [("svg", "svg"), ("math", "math")])
async def test_foreign_content_templates_close_their_root(autojump_clock, root, context) -> None:
    async def feed():
        yield "b1"
        await trio.sleep(0.1)
        yield "b2"

    inner = "<circle></circle>" if root == "svg" else "<mi>x</mi>"
    page = Page(
        name="p",
        shell=Shell(
            html=SHELL.format(f'<{root}><?marker name="one"><?marker name="feed"></{root}>')
        ),
        queries=(
            Query(name="q", call=value(1, 0.1), result=int),
            Query(name="feed", call=feed, result=str),
        ),
        fragments=(
            Fragment(target="one", uses=("q",), template=inner),
            Fragment(target="feed", uses=("feed",), mode="append", template=inner),
        ),
    )
    html = (await engine.render_to_bytes(page, mode="out-of-order")).decode()
    templates = re.findall(r'<template for="([^"]+)">(.*?)</template>', html, re.DOTALL)
    assert [name for name, _ in templates] == ["feed", "one", "feed.1"]
    for _, content in templates:
        assert content.startswith(f"<{root}>") and content.endswith(f"</{root}>"), content


async def test_rule_1_data_after_its_fragment_inside_one_write(autojump_clock) -> None:
    """The checker reads byte offsets: same write, same chunk list, data moved behind."""
    timeline = await timeline_of()
    data = timeline.writes[1].data
    script = re.search(rb'<script type="application/json" data-query="a">.*?</script>', data)
    assert script is not None and script.start() < data.index(b'<template for="outer">')
    moved = data.replace(script.group(), b"") + script.group()
    assert_reported(_with_data(timeline, 1, moved), 1, "'outer' went out before the data of 'a'")


async def test_a_partial_render_runs_the_queries_of_nested_fragments(autojump_clock) -> None:
    page = Page(
        name="p",
        shell=Shell(html=SHELL.format('<?marker name="outer">')),
        queries=(
            Query(name="a", call=value("A", 0.1), result=str),
            Query(name="b", call=value("B", 0.2), result=str),
            Query(name="c", call=value("C", 0.3), result=str, depends_on=("b",)),
        ),
        fragments=(
            Fragment(
                target="outer", uses=("a",), template='<div>{{ a }}<?marker name="inner"></div>'
            ),
            Fragment(target="inner", uses=("c",), template="<i>{{ c }}</i>"),
        ),
    )
    writes: list[bytes] = []

    async def sink(data: bytes) -> None:
        writes.append(data)

    with trio.fail_after(10):
        await engine.render_fragment(page, "outer", sink)
    assert writes == [
        b'<template for="outer"><?start name="outer"><div>A'
        b'<?start name="inner"><i>C</i><?end></div><?end></template>'
    ]
    assert trio.current_time() == pytest.approx(0.5)
