"""``{{ path }}`` templates render through generated code: the same text, the same errors.

The reference is ``Template.expand``, which evaluates each placeholder part by part (the
shell's path); any template, any values, any failing step must give what it gives.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

import engine
from engine.markup.templates import BLOCKED_URL, Expr, Slot, Template, html

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
TEXT = st.text(max_size=12)  # quotes, backslashes, braces, newlines, surrogates: all literal
LEAVES = st.one_of(TEXT, st.integers(), st.floats(), st.none(), st.booleans(), TEXT.map(Markup))


def trees() -> st.SearchStrategy[Any]:
    return st.recursive(
        LEAVES,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(NAMES, inner, max_size=3),
            st.dictionaries(NAMES, inner, max_size=3).map(lambda d: SimpleNamespace(**d)),
        ),
        max_leaves=8,
    )


def paths_in(value: Any, draw: st.DrawFn) -> tuple[str, ...]:
    """A path that exists in ``value``, or one that fails at its last step."""
    path: list[str] = []
    while draw(st.booleans()):
        if isinstance(value, list) and value:
            index = draw(st.integers(0, len(value) - 1))
            path.append(str(index))
            value = value[index]
        elif isinstance(value, dict | SimpleNamespace):
            fields = value if isinstance(value, dict) else vars(value)
            name = draw(st.sampled_from(sorted(fields)) | NAMES) if fields else draw(NAMES)
            path.append(name)
            if name not in fields:
                break
            value = fields[name]
        else:
            path.append(draw(NAMES | st.integers(0, 3).map(str)))  # a step that fails
            break
    return tuple(path)


@st.composite
def templates_and_values(draw: st.DrawFn) -> tuple[Template, dict[str, Any]]:
    values = draw(st.dictionaries(NAMES, trees(), min_size=1, max_size=3))
    parts: list[str | Expr | Slot] = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["text", "expr", "slot", "url"]))
        if kind == "text":
            parts.append(draw(TEXT))
        elif kind == "slot":
            parts.append(Slot(draw(st.text(st.characters(exclude_characters='"'), max_size=8))))
        else:
            root = draw(st.sampled_from(sorted(values)) | NAMES)  # a root may be missing
            path = paths_in(values[root], draw) if root in values else ()
            parts.append(Expr(root, path, "url" if kind == "url" else None))
    return Template(tuple(parts)), values


def expanded(template: Template, values: dict[str, Any]) -> str:
    return "".join(
        f'<?marker name="{p.name}">' if isinstance(p, Slot) else p for p in template.expand(values)
    )


def outcome(render: Any, *args: Any) -> tuple[str, str]:
    try:
        return "text", render(*args)
    except Exception as exc:  # the same failure, whatever it is
        return type(exc).__name__, str(exc)


@given(templates_and_values())
def test_a_compiled_template_renders_what_its_parts_evaluate_to(
    case: tuple[Template, dict[str, Any]],
) -> None:
    template, values = case
    assert outcome(template.render, values) == outcome(expanded, template, values)


def test_names_and_text_that_look_like_code_stay_text() -> None:
    template = Template(
        (
            "'''\"\"\"\\n{x}",
            Expr("None", ("class", "0", "__import__")),
            Slot("a\\'b"),
            Expr("values", ()),
        )
    )
    values = {"None": {"class": [{"__import__": "<os>"}]}, "values": "v"}
    assert template.render(values) == '\'\'\'"""\\n{x}&lt;os&gt;<?marker name="a\\\'b">v'


def test_html_is_markup_that_is_not_escaped_again() -> None:
    out = html("<b>{{ a.0 }}</b>", a=["<i>"])
    assert type(out) is Markup and out == "<b>&lt;i&gt;</b>"
    assert engine.html("<p>{{ x }}</p>", x=out) == "<p><b>&lt;i&gt;</b></p>"


def test_a_path_as_deep_as_any_page_might_write_renders() -> None:
    deep: Any = "end<"
    for _ in range(300):
        deep = {"d": deep}
    text = "{{ v" + ".d" * 300 + " }}"
    assert html(text, v=deep) == "end&lt;"


def test_the_url_filter_applies_before_escaping() -> None:
    template = Template.parse('<a href="{{ u | url }}">{{ u }}</a><a href="{{ v.0 | url }}">')
    values = {"u": "javascript:alert(1)", "v": ["/a?b=1&c=<2>"]}
    assert template.render(values) == (
        f'<a href="{BLOCKED_URL}">javascript:alert(1)</a><a href="/a?b=1&amp;c=&lt;2&gt;">'
    )
    assert template.render(values) == expanded(template, values)
