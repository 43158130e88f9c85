"""Jinja2 templates read at definition time: every message names the right file and line.

What ``engine check`` finds in a Jinja2 template (where each slot is, what is included,
what cannot be read) comes from its syntax tree, including the trees of the templates it
includes; these pin the file and line each finding names, and what is read only once.
"""

from __future__ import annotations

from pathlib import Path

import engine
from engine import Fragment, Graph
from engine.testing import render_timeline

from .test_jinja import jinja, messages, page, problems_of, rendered

LOOP = (
    "a slot must appear exactly once in the rendered HTML, so it cannot be repeated, left out"
    " or rendered by a macro; move it out (its own fragment can loop or decide)"
)


def test_a_slot_is_found_on_its_own_line_inside_a_text_block() -> None:
    found = messages(
        jinja(
            "first\n{% for r in reviews %}\n\n  <?marker name='a'>\n{% endfor %}\n"
            '{% if product %}<p>\n<?marker name="b"></p>\n\n{% endif %}',
            slots="ab",
        )
    )
    assert found == [
        f"inline template:4: slot 'a' is inside a {{% for %}} loop: {LOOP}",
        f"inline template:7: slot 'b' is inside an {{% if %}}: {LOOP}",
    ]


def test_slot_takes_exactly_one_literal_name() -> None:
    found = messages(
        jinja('{{ slot("a", "b") }}\n{{ slot(3) }}\n{{ slot() }}\n{{ slot("a") }}', slots="a")
    )
    assert found == [
        f"inline template:{line}: slot() takes the slot's name as a literal string"
        for line in (1, 2, 3)
    ]


def test_declared_slots_must_agree_with_the_jinja_templates_slots() -> None:
    declared = Fragment(
        target="x", jinja_source='<div>{{ slot("inner") }}</div>', slots=("other",), fallback="…"
    )
    problems = problems_of(page(declared, Fragment(target="inner", template="1", fallback="…")))
    assert [(x.key, x.message) for x in problems] == [
        ("$.fragments[0].slots", "'slots' ['other'] disagree with the template's slots ['inner']")
    ]


def test_names_read_inside_a_macro_are_checked_like_the_templates() -> None:
    source = "{% macro show() %}{{ product.nam }}{% endmacro %}{{ show() }}"
    assert messages(jinja(source)) == [
        "inline template:1: product.nam reads 'nam', but Product has no such field"
        " (its fields: name, price)"
    ]


async def test_a_set_block_binds_its_name(autojump_clock) -> None:
    source = "{% set label %}<b>{{ product.name }}</b>{% endset %}{{ label }}"
    assert "<b>Lamp &lt;b&gt;</b>" in await rendered(Graph.build(jinja(source)))


def test_a_slot_call_in_single_quotes_has_its_context() -> None:
    graph = Graph.build(
        page(
            Fragment(target="x", jinja_source="<table>{{ slot('rows') }}</table>", fallback="…"),
            Fragment(target="rows", template="<tr><td>1</td></tr>", fallback="<tr></tr>"),
        )
    )
    assert graph.fragments[graph.fragment_index["rows"]].context == "table"


def test_a_slot_two_includes_deep_names_the_innermost_file(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text('{% include "b.html" %}')
    (tmp_path / "b.html").write_text('<ul>{% include "c.html" %}</ul>')
    (tmp_path / "c.html").write_text('\n<li><?marker name="r"></li>')
    [message] = messages(
        jinja('{% for x in reviews %}{% include "a.html" %}{% endfor %}', slots="r"),
        tmp_path / "p.toml",
    )
    assert message == f"{tmp_path}/c.html:2: slot 'r' is inside a {{% for %}} loop: {LOOP}"


def test_a_template_that_includes_itself_is_read_twice_not_forever(tmp_path: Path) -> None:
    (tmp_path / "tree.html").write_text(
        '{% if reviews %}{% include "tree.html" %}{% endif %}<?marker name="r">'
    )
    source = tmp_path / "p.toml"
    found = messages(
        page(
            Fragment(target="x", uses=("reviews",), jinja="tree.html", fallback="…"),
            Fragment(target="r", template="r", fallback="…"),
        ),
        source,
    )
    # Read once more inside itself, no deeper: the slot is found twice, not forever.
    assert found == [
        f"{tmp_path}/tree.html:1: slot 'r' is inside an {{% if %}}: {LOOP}",
        "slot 'r' appears both in fragment 'x' and in fragment 'x'",
    ]


def test_includes_after_a_computed_one_are_still_read(tmp_path: Path) -> None:
    (tmp_path / "broken.html").write_text("{% if %}")
    [message] = messages(
        jinja('{% include product.name %}{% include "broken.html" %}'), tmp_path / "p.toml"
    )
    assert message.startswith(f"{tmp_path}/broken.html:1: template syntax error:")


def test_templates_that_cannot_be_read_say_why(tmp_path: Path) -> None:
    source = tmp_path / "p.toml"
    [message] = messages(jinja('{% include "gone.html" %}'), source)
    assert message == f"inline template: template 'gone.html' not found (looked in {tmp_path})"
    [message] = messages(page(Fragment(target="x", jinja="nope.html", fallback="…")), source)
    assert message == f"cannot read template {tmp_path}/nope.html: No such file or directory"
    (tmp_path / "latin.html").write_bytes(b"caf\xe9")
    [message] = messages(page(Fragment(target="x", jinja="latin.html", fallback="…")), source)
    assert message.startswith(
        f"template {tmp_path}/latin.html is not UTF-8: 'utf-8' codec can't decode byte 0xe9"
    )


async def test_a_template_outside_the_page_directory(tmp_path: Path, autojump_clock) -> None:
    (tmp_path / "pages").mkdir()
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "x.html").write_text('{% include "part.html" %}')
    (tmp_path / "shared" / "part.html").write_text("<b>{{ product.name }}</b>")
    fragment = Fragment(target="x", uses=("product",), jinja="../shared/x.html", fallback="…")
    graph = Graph.build(page(fragment), source=str(tmp_path / "pages" / "p.toml"))
    assert '<?start name="x"><b>Lamp &lt;b&gt;</b><?end>' in await rendered(graph)
    # Its includes resolve from the page's directory, then from its own.
    (tmp_path / "shared" / "y.html").write_text('{% include "gone.html" %}')
    moved = Fragment(target="x", jinja="../shared/y.html", fallback="…")
    [message] = messages(page(moved), tmp_path / "pages" / "p.toml")
    shared = f"{tmp_path}/pages/../shared"
    assert message == (
        f"{shared}/y.html: template 'gone.html' not found (looked in {tmp_path}/pages, {shared})"
    )


async def test_a_template_file_may_be_a_symbolic_link(tmp_path: Path, autojump_clock) -> None:
    (tmp_path / "pages").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "real.html").write_text("<i>{{ product.name }}</i>")
    (tmp_path / "pages" / "linked.html").symlink_to(tmp_path / "elsewhere" / "real.html")
    fragment = Fragment(target="x", uses=("product",), jinja="linked.html", fallback="…")
    graph = Graph.build(page(fragment), source=str(tmp_path / "pages" / "p.toml"))
    assert '<?start name="x"><i>Lamp &lt;b&gt;</i><?end>' in await rendered(graph)


async def test_a_render_error_in_a_template_file_names_its_line(
    tmp_path: Path, autojump_clock
) -> None:
    (tmp_path / "t.html").write_text("<p>\n{% for r in reviews %}\n{{ r.author.nope }}{% endfor %}")
    graph = Graph.build(
        page(Fragment(target="x", uses=("reviews",), jinja="t.html", fallback="…")),
        source=str(tmp_path / "p.toml"),
    )
    failures: list[BaseException] = []
    await render_timeline(graph, on_error=lambda page, node, error: failures.append(error))
    [error] = failures
    assert isinstance(error, engine.FragmentError)
    assert f"{tmp_path}/t.html:3: 'str object' has no attribute 'nope'" in str(error)


def test_names_read_by_a_template_and_by_what_it_includes_are_all_checked(
    tmp_path: Path,
) -> None:
    (tmp_path / "part.html").write_text("{{ product.name }}")
    found = messages(
        jinja('{{ reviewz }}{% include "part.html" %}', ("product",)), tmp_path / "p.toml"
    )
    assert found == [
        "template reads reviewz, not in 'uses' (add the query to 'uses', or fix the name)"
    ]


def test_an_attribute_read_where_a_value_is_bound_is_reported_once() -> None:
    """One mistake, one error: the value of a ``for``, ``set`` or ``with`` is checked once,
    and the name it binds keeps its type."""
    found = messages(
        jinja(
            "{% for r in product.rvs %}{{ r }}{% endfor %}\n"
            "{% set n = product.nme %}{% set a, b = product.prce, 1 %}\n"
            "{% with m = product.nmae %}{{ m }}{% endwith %}\n"
            "{% set p = product %}{% with q = p %}{{ q.nam }}{% endwith %}\n"
            "{% for i in items if i.ttle %}{% endfor %}{{ reviews[0]['autor'] }}"
        )
    )
    fields = {
        "Product": "name, price",
        "Item": "title, maker, tags",
        "Review": "author, text, stars",
    }
    assert found == [
        f"inline template:{line}: {expr} reads {name!r}, but {owner} has no such field (its"
        f" fields: {fields[owner]})"
        for line, expr, name, owner in (
            (1, "product.rvs", "rvs", "Product"),
            (2, "product.nme", "nme", "Product"),
            (2, "product.prce", "prce", "Product"),
            (3, "product.nmae", "nmae", "Product"),
            (4, "q.nam", "nam", "Product"),
            (5, "i.ttle", "ttle", "Item"),
            (5, "reviews[0]['autor']", "autor", "Review"),
        )
    ]


def test_a_slot_in_an_included_template_defaults_to_flow_content(tmp_path: Path) -> None:
    (tmp_path / "shell.html").write_text(
        '<!doctype html><html><head><meta charset="utf-8"></head><body><table><tr><td>'
        '<?marker name="cell"></td></tr></table>{% include "part.html" %}</body></html>'
    )
    (tmp_path / "part.html").write_text('<div>{{ slot("more") }}</div>')
    shell = engine.Shell(jinja=str(tmp_path / "shell.html"))
    graph = Graph.build(
        engine.Page(
            name="p",
            shell=shell,
            fragments=(
                Fragment(target="cell", template="1", fallback="…"),
                Fragment(target="more", template="2", fallback="…"),
            ),
        ),
        source=str(tmp_path / "p.toml"),
    )
    assert [(f.target, f.context) for f in graph.fragments] == [("cell", "flow"), ("more", "flow")]


def test_a_filter_no_environment_has_is_a_syntax_error_of_its_own_file(tmp_path: Path) -> None:
    # Parsing accepts it; compiling finds it, for the template and for what it includes.
    assert messages(jinja("ok\n{{ product.name | nope }}", uses=("product",))) == [
        "inline template:2: template syntax error: No filter named 'nope'."
    ]
    (tmp_path / "t.html").write_text('ok\n\n{{ product.name | nope }}{% include "b.html" %}')
    (tmp_path / "a.html").write_text('{% include "b.html" %}')
    (tmp_path / "b.html").write_text("x\n{{ 1 | nope }}")
    for name, where in (("t.html", "t.html:3"), ("a.html", "b.html:2")):
        fragment = Fragment(target="x", uses=("product",), jinja=name, fallback="…")
        assert messages(page(fragment), tmp_path / "p.toml") == [
            f"{tmp_path}/{where}: template syntax error: No filter named 'nope'."
        ]
