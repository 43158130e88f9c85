"""The shell's ``{{ }}`` placeholders: escaped in every mode, and a failing one is a clean 500.

The shell queries here declare ``typing.Any`` results on purpose: definition-time checks
cannot see through them, so these are the failures that only a render can find.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

import engine
from engine import Fragment, Page, Query, Shell
from engine.cli import main

MODES = ("out-of-order", "in-order", "buffered")


@attrs.frozen
class Team:
    name: str


def shell_page(html: str, value: object, name: str = "team") -> Page:
    async def lookup() -> Any:
        return value

    return Page(
        name="roster",
        shell=Shell(
            html='<!doctype html><html><head><meta charset="utf-8">'
            f'{html}</head><body><?marker name="body"></body></html>',
            queries=(name,),
        ),
        queries=(Query(name=name, call=lookup, result=Any),),
        fragments=(Fragment(target="body", template="<p>body</p>"),),
    )


class Unprintable:
    """A value every path step reaches, but that cannot become text."""

    def __str__(self) -> str:
        raise ValueError("not printable")


TYPO = shell_page("<title>{{ team.nam }}</title>", Team("core"))
NONE = shell_page("<title>{{ product.name }}</title>", None, name="product")


class Sink:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    async def __call__(self, data: bytes) -> None:
        self.writes.append(data)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("page", "message"),
    [
        (TYPO, "page 'roster': shell placeholder {{ team.nam }}: team (Team) has no 'nam'"),
        (
            NONE,
            "page 'roster': shell placeholder {{ product.name }}: product is None, so it has"
            " no 'name' (guard it, or raise engine.NotFound in the query)",
        ),
        (
            shell_page("<title>{{ team.3 }}</title>", ["a"]),
            "page 'roster': shell placeholder {{ team.3 }}: team (list) has no '3'",
        ),
        (
            shell_page("<title>{{ team.name.first }}</title>", Team("core")),
            "page 'roster': shell placeholder {{ team.name.first }}: team.name (str) has no"
            " 'first'",
        ),
        (
            shell_page("<title>{{ team.name.name }}</title>", Team(None)),  # type: ignore[arg-type]
            "page 'roster': shell placeholder {{ team.name.name }}: team.name is None, so it"
            " has no 'name' (guard it, or raise engine.NotFound in the query)",
        ),
        (
            shell_page("<title>{{ team.name }}: {{ team.nam }}</title>", Team("core")),
            "page 'roster': shell placeholder {{ team.nam }}: team (Team) has no 'nam'",
        ),
        (
            shell_page("<title>{{ team.name }}</title>", Team(Unprintable())),  # type: ignore[arg-type]
            "page 'roster': shell placeholder {{ team.name }}: ValueError: not printable",
        ),
    ],
    ids=["typo", "none", "index", "deeper", "none-deeper", "after-a-good-one", "not-text"],
)
async def test_a_failing_shell_placeholder_is_a_shell_error_before_any_byte(
    autojump_clock, mode, page, message
) -> None:
    sink = Sink()
    with pytest.raises(engine.ShellError) as raised:
        await engine.render(page, sink, mode=mode)
    assert str(raised.value) == message
    assert raised.value.status_code == 500 and raised.value.node in ("team", "product")
    assert sink.writes == []


@pytest.mark.parametrize("mode", MODES)
async def test_shell_values_are_escaped_in_every_mode(autojump_clock, mode) -> None:
    hostile = "</title><script>alert(1)</script>&\"'"
    page = shell_page(
        '<title>{{ team.name }}</title><meta content="{{ team.name }}">', Team(hostile)
    )
    html = (await engine.render_to_bytes(page, mode=mode)).decode()
    escaped = "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;&#34;&#39;"
    assert html.count(escaped) == 2
    assert "<script>alert(1)" not in html


def test_engine_render_prints_one_clean_line_for_a_shell_failure(capsys) -> None:
    code = main(["render", f"{__name__}:NONE"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err == (
        "error: page 'roster': shell placeholder {{ product.name }}: product is None, so it"
        " has no 'name' (guard it, or raise engine.NotFound in the query)\n"
    )


@pytest.mark.parametrize("mode", MODES)
async def test_a_failing_jinja_shell_is_a_shell_error_before_any_byte(autojump_clock, mode) -> None:
    async def lookup() -> Any:
        return None

    page = Page(
        name="roster",
        shell=Shell(
            jinja_source='<!doctype html><html><head><meta charset="utf-8">'
            "<title>{{ team.name }}</title></head><body></body></html>",
            queries=("team",),
        ),
        queries=(Query(name="team", call=lookup, result=Any),),
    )
    sink = Sink()
    with pytest.raises(engine.ShellError) as raised:
        await engine.render(page, sink, mode=mode)
    assert str(raised.value) == (
        "page 'roster': shell template: inline template:1: 'None' has no attribute 'name'"
    )
    assert sink.writes == []
