"""The engine's escaping is markupsafe's, value for value: only the cost differs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import markupsafe
import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from engine.markup import escaping
from engine.markup.jinja import environment


class Html:
    def __html__(self) -> str:
        return "<b>safe</b>"


class Text(str):
    """A str subclass: its own __html__, which escape must honour."""

    def __html__(self) -> str:
        return "<i>own</i>"


class Number(int):
    def __str__(self) -> str:
        return "<not a number>"


VALUES = st.one_of(
    st.text(),
    st.text(alphabet="<>&'\"abc\u2028\ud800"),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.builds(Markup, st.text()),
    st.builds(Text, st.text()),
    st.builds(Number, st.integers()),
    st.just(Html()),
    st.lists(st.text(alphabet="<&>"), max_size=3),
)


@given(VALUES)
def test_escape_is_markupsafes_escape(value: Any) -> None:
    ours, theirs = escaping.escape(value), markupsafe.escape(value)
    assert type(ours) is Markup and ours == theirs


@given(VALUES)
def test_escape_text_is_the_text_of_markupsafes_escape(value: Any) -> None:
    ours = escaping.escape_text(value)
    assert type(ours) is str and ours == str(markupsafe.escape(value))
    assert escaping._escape_text_v2(value) == ours  # what markupsafe 2 gets


@pytest.mark.skipif(escaping._inner is None, reason="markupsafe 2: its escape is C already")
def test_strings_and_numbers_skip_markupsafes_python_wrapper(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What the module is for: a str, int or float (exactly) goes straight to the C core.
    wrapped: list[Any] = []
    real = markupsafe.escape

    def escape(value: Any) -> Markup:
        wrapped.append(value)
        return real(value)

    monkeypatch.setattr(markupsafe, "escape", escape)
    values = ["<a&>", 7, -1.5, True, Markup("<b>"), None]
    texts = ["&lt;a&amp;&gt;", "7", "-1.5", "True", "<b>", "None"]
    assert [escaping.escape_text(v) for v in values] == texts
    assert [escaping.escape(v) for v in values] == texts
    assert wrapped == [True, Markup("<b>"), None] * 2


@given(st.lists(VALUES, max_size=5))
def test_engine_jinja_templates_render_what_plain_jinja_renders(values: list[Any]) -> None:
    source = "{% for v in values %}<td title='{{ v }}'>{{ v }}</td>{% endfor %}{{ m }}"
    ours = environment(Path(".")).from_string(source)
    plain = jinja2.Environment(autoescape=True).from_string(source)
    context = {"values": values, "m": Markup("<br>")}
    assert ours.render(context) == plain.render(context)


def test_engine_jinja_templates_use_the_engines_escape() -> None:
    template = environment(Path(".")).from_string("{{ v }}")
    assert template.root_render_func.__globals__["escape"] is escaping.escape
