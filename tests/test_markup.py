"""Escaping and safe embedding: nothing interpolated can break out of its place."""

from __future__ import annotations

import json

from markupsafe import Markup

import engine
from engine.markup.templates import Template, embed_json, template_balance_error


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


def test_embedded_json_cannot_close_its_script() -> None:
    value = {"x": "</script><!--<script>&", "ls": "\u2028\u2029"}
    data = embed_json(value).decode()
    for forbidden in ("</script", "<!--", "&", "\u2028", "\u2029"):
        assert forbidden not in data
    assert json.loads(data) == value


def test_template_balance() -> None:
    assert template_balance_error("<template><p></p></template>") is None
    assert "closes a <template>" in template_balance_error("</template><script>x</script>")
    assert "unclosed" in template_balance_error("<template>")
