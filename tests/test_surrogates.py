"""Lone surrogates in query values: the document still closes, and the log says whose.

``json.loads('"\\ud800"')`` and ``os.fsdecode(b"\\xff")`` both give strings that UTF-8
cannot encode. HTML gets U+FFFD in their place; exposed JSON keeps them as escapes.
"""

from __future__ import annotations

import json
import logging
import os
import re

import msgspec
import pytest
import trio

import engine
from engine import Fragment, Page, Query, Shell

MODES = ("out-of-order", "in-order", "buffered")
FROM_JSON = json.loads('"bad \\ud800 name"')
FROM_FILE_NAME = os.fsdecode(b"report-\xff.txt")
SHELL = (
    '<!doctype html><html><head><meta charset="utf-8"><title>{{ owner.name }}</title></head>'
    '<body><?marker name="files"><?marker name="feed"><?marker name="fine"></body></html>'
)


class Owner(msgspec.Struct):
    name: str


def value(result: object, delay: float = 0.0):
    async def call() -> object:
        await trio.sleep(delay)
        return result

    return call


async def feed():
    yield "first"
    await trio.sleep(0.1)
    yield FROM_JSON


PAGE = Page(
    name="files",
    shell=Shell(html=SHELL, queries=("owner",)),
    queries=(
        Query(name="owner", call=value(Owner(FROM_JSON)), result=Owner),
        Query(
            name="listing", call=value({"names": [FROM_FILE_NAME]}, 0.2), result=dict, expose=True
        ),
        Query(name="feed", call=feed, result=str),
        Query(name="fine", call=value("all good", 0.3), result=str),
    ),
    fragments=(
        Fragment(target="files", uses=("listing",), template="<p>{{ listing.names.0 }}</p>"),
        Fragment(target="feed", uses=("feed",), mode="append", template="<li>{{ feed }}</li>"),
        Fragment(target="fine", uses=("fine",), template="<p>{{ fine }}</p>"),
    ),
)


@pytest.mark.parametrize("mode", MODES)
async def test_a_lone_surrogate_is_replaced_and_the_document_closes(
    autojump_clock, mode, caplog
) -> None:
    writes: list[bytes] = []

    async def sink(data: bytes) -> None:
        writes.append(data)

    with caplog.at_level(logging.WARNING, logger="engine"):
        await engine.render(PAGE, sink, mode=mode)
    html = b"".join(writes).decode("utf-8")  # strict: every byte is valid UTF-8
    assert html.endswith("</body></html>")
    # HTML: the shell value, the fragment and the batch carry U+FFFD in place.
    assert "<title>bad \ufffd name</title>" in html
    assert "<p>report-\ufffd.txt</p>" in html
    assert "<li>first</li>" in html and "<li>bad \ufffd name</li>" in html
    assert "<p>all good</p>" in html
    # Exposed JSON: the exact string, escaped.
    [data] = re.findall(
        r'<script type="application/json" data-query="listing">(.*?)</script>', html
    )
    assert data == '{"names":["report-\\udcff.txt"]}'
    assert json.loads(data) == {"names": [FROM_FILE_NAME]}
    # The log names the page, each query and the field.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged.startswith("page 'files': query 'owner' at owner.name")
    assert "query 'listing' at listing['names'][0]" in logged
    assert "query 'feed' (batch 1) at feed" in logged
    assert "text with a lone surrogate (U+D800), not valid Unicode; written as U+FFFD" in logged


async def test_a_renderer_that_makes_a_lone_surrogate_is_named(autojump_clock, caplog) -> None:
    page = Page(
        name="p",
        shell=Shell(html='<!doctype html><meta charset="utf-8"><body><?marker name="a"></body>'),
        fragments=(Fragment(target="a", render=lambda: "x\udc80y"),),
    )
    with caplog.at_level(logging.WARNING, logger="engine"):
        html = (await engine.render_to_bytes(page, mode="in-order")).decode()
    assert "x\ufffdy" in html and html.endswith("</body>")
    assert "page 'p': fragment 'a': text with a lone surrogate (U+DC80)" in caplog.text


async def test_a_partial_render_replaces_too(autojump_clock) -> None:
    writes: list[bytes] = []

    async def sink(data: bytes) -> None:
        writes.append(data)

    await engine.render_fragment(PAGE, "files", sink)
    assert b"<p>report-\xef\xbf\xbd.txt</p>" in b"".join(writes)
