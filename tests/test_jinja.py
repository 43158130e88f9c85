"""Jinja2 templates: compiled and checked at definition time, strict and escaped when rendered."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import msgspec
import pytest

import engine
from engine import Fragment, Graph, Page, Query, Shell
from engine.cli import main
from engine.testing import assert_contract, render_timeline

from .pages.fixtures import Product, Review
from .test_html5 import TEMPLATE, apply, parse, without_scripts

PAGES = Path(__file__).parent / "pages"
LAMP = PAGES / "jinja" / "page.toml"
HEAD = '<!doctype html><html><head><meta charset="utf-8"></head><body>'


@dataclasses.dataclass
class Maker:
    name: str
    country: str | None = None

    @property
    def label(self) -> str:
        return self.name


class Item(msgspec.Struct):
    title: str
    maker: Maker | None = None
    tags: tuple[str, ...] = ()


async def product() -> Product:
    return Product("Lamp <b>", 12.5)


async def reviews() -> list[Review]:
    return [Review("ann", "Bright & warm", 5), Review("<bob>", "ok", 3)]


async def items() -> list[Item]:
    return [Item("a", Maker("m")), Item("b")]


QUERIES = (
    Query(name="product", call=product, result=Product),
    Query(name="reviews", call=reviews, result=list[Review]),
    Query(name="items", call=items, result=list[Item]),
)


def page(*fragments: Fragment, html: str = '<?marker name="x">') -> Page:
    return Page(name="p", shell=Shell(html=HEAD + html), queries=QUERIES, fragments=fragments)


def jinja(
    source: str, uses: tuple[str, ...] = ("product", "reviews", "items"), slots: str = ""
) -> Page:
    """A page whose fragment ``x`` is ``source``, with a fragment for each of ``slots``."""
    return page(
        Fragment(target="x", uses=uses, jinja_source=source, fallback="…"),
        *(Fragment(target=s, template=s, fallback="…") for s in slots),
    )


def problems_of(p: Page, source: Path | None = None) -> list[engine.Problem]:
    with pytest.raises(engine.PageError) as caught:
        Graph.build(p, source=None if source is None else str(source))
    return [x for x in caught.value.problems if x.severity == "error"]


def messages(p: Page, source: Path | None = None) -> list[str]:
    return [x.message for x in problems_of(p, source)]


async def rendered(p: Page | Graph, mode: str = "buffered") -> str:
    timeline = await render_timeline(p, mode=mode)
    assert_contract(timeline)
    return timeline.html


# -- rendering -------------------------------------------------------------------------


async def test_a_jinja_page_file_renders_loops_macros_includes_and_nested_slots(
    autojump_clock,
) -> None:
    html = await rendered(Graph.build(engine.load(LAMP), source=str(LAMP)))
    assert "<title>Lamp &lt;b&gt;</title>" in html
    assert '<li class="odd"><span class="stars">★★★★★</span> <b>ann</b>: Bright &amp; warm</li>'
    assert '<li class="even"><span class="stars">★★★☆☆</span> <b>&lt;bob&gt;</b>: ok</li>' in html
    assert '<p class="count">2 in all</p>' in html  # the include sees the same variables
    assert '<div class="rating"><?start name="rating">4.0 of 5<?end></div>' in html


async def test_every_mode_renders_a_jinja_page_alike(autojump_clock) -> None:
    graph = Graph.build(engine.load(LAMP), source=str(LAMP))
    documents = set()
    for mode in ("out-of-order", "in-order", "buffered"):
        html = await rendered(graph, mode)
        if mode == "out-of-order":
            html = apply(TEMPLATE.sub("", html), TEMPLATE.findall(html))
        documents.add(without_scripts(parse(html)))
    assert len(documents) == 1


async def test_everything_is_escaped_and_json_is_safe_in_a_script(autojump_clock) -> None:
    html = await rendered(
        jinja(
            '{{ product.name }}<script type="application/json">{{ reviews|json }}</script>'
            "{{ '<i>'|safe }}"
        )
    )
    assert "Lamp &lt;b&gt;" in html
    assert '{"author":"\\u003cbob\\u003e","text":"ok","stars":3}' in html
    assert "<i>" in html


async def test_the_url_filter_blocks_script_urls_in_jinja_too(autojump_clock) -> None:
    html = await rendered(
        jinja(
            "{% for link in ['javascript:alert(1)', ' JaVa\tScript:x', 'https://a.example/?q=1&r=2',"
            " '/local', 'mailto:a@b.example'] %}<a href=\"{{ link|url }}\">x</a>{% endfor %}"
        )
    )
    assert html.count('href="about:blank#blocked"') == 2
    assert 'href="https://a.example/?q=1&amp;r=2"' in html
    assert 'href="/local"' in html and 'href="mailto:a@b.example"' in html
    assert "javascript" not in html.lower()


async def test_an_undefined_value_fails_the_fragment_naming_the_line(autojump_clock) -> None:
    graph = Graph.build(
        jinja("line one\n{% for p in [product] %}\n{{ p.name }}{{ p.nope }}{% endfor %}")
    )
    failures: list[tuple[str, BaseException]] = []
    await render_timeline(graph, on_error=lambda page, node, error: failures.append((node, error)))
    [(name, error)] = failures
    assert name == "x"
    assert isinstance(error, engine.FragmentError)
    assert "inline template:3: 'tests.pages.fixtures.Product object' has no attribute 'nope'" in (
        str(error)
    )


def test_templates_are_compiled_once_per_file() -> None:
    first = Graph.build(engine.load(LAMP), source=str(LAMP))
    second = Graph.build(engine.load(LAMP), source=str(LAMP))
    for i in (0, 1):  # a file, an inline template
        assert first.fragments[i].renderer.__self__.template is (  # type: ignore[attr-defined]
            second.fragments[i].renderer.__self__.template  # type: ignore[attr-defined]
        )


def test_a_slot_in_a_table_template_has_the_table_context() -> None:
    graph = Graph.build(
        page(
            Fragment(
                target="x",
                jinja_source='<table>{{ slot("rows") }}</table>',
                fallback="…",
            ),
            Fragment(target="rows", template="<tr><td>1</td></tr>", fallback="<tr></tr>"),
        )
    )
    assert graph.fragments[graph.fragment_index["rows"]].context == "table"


# -- definition-time checks ------------------------------------------------------------


def test_a_syntax_error_names_the_file_and_line(tmp_path) -> None:
    (tmp_path / "t.html").write_text("<ul>\n{% for r in reviews %}\n<li>{{ r.text }</li>\n")
    [problem] = problems_of(
        page(Fragment(target="x", uses=("reviews",), jinja="t.html", fallback="…")),
        tmp_path / "p.toml",
    )
    assert problem.key == "$.fragments[0].jinja"
    assert problem.message.startswith(
        f"{tmp_path}/t.html:3: template syntax error: unexpected '}}'"
    )


def test_a_syntax_error_in_an_included_template_names_that_file(tmp_path) -> None:
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "a.html").write_text('{% include "parts/b.html" %}')
    (tmp_path / "parts" / "b.html").write_text("ok\n{% if %}")
    [message] = messages(
        page(Fragment(target="x", jinja="parts/a.html", fallback="…")), tmp_path / "p.toml"
    )
    assert message.startswith(f"{tmp_path}/parts/b.html:2: template syntax error:")


def test_missing_templates_are_definition_errors(tmp_path) -> None:
    source = tmp_path / "p.toml"
    [message] = messages(page(Fragment(target="x", jinja="nope.html", fallback="…")), source)
    assert message.startswith(f"cannot read template {tmp_path}/nope.html:")
    [message] = messages(jinja('{% include "gone.html" %}'))
    assert message.startswith("inline template: template 'gone.html' not found (looked in")


def test_names_the_template_reads_must_be_used_queries() -> None:
    assert messages(
        jinja("{{ product.name }} {{ reviewz }} {{ range(3)|list }}", ("product",))
    ) == ["template reads reviewz, not in 'uses' (add the query to 'uses', or fix the name)"]


def test_attributes_are_checked_against_declared_result_types() -> None:
    found = messages(
        jinja(
            "{{ product.nam }}\n"
            "{% for r in reviews %}{{ r.autor }}{{ r.text.upper() }}{{ loop.index }}{% endfor %}\n"
            "{{ reviews[0].txt }} {{ product['price'] }}\n"
            "{% for i in items %}{{ i.maker.countr }}{{ i.maker.label }}{% for t in i.tags %}"
            "{{ t.x }}{% endfor %}{% endfor %}"
        )
    )
    assert found == [
        "inline template:1: product.nam reads 'nam', but Product has no"
        " such field (its fields: name, price)",
        "inline template:2: r.autor reads 'autor', but Review has no such"
        " field (its fields: author, text, stars)",
        "inline template:3: reviews[0].txt reads 'txt', but Review has no"
        " such field (its fields: author, text, stars)",
        "inline template:4: i.maker.countr reads 'countr', but Maker has no"
        " such field (its fields: name, country)",
    ]


def test_what_the_tree_does_not_show_is_not_guessed() -> None:
    Graph.build(
        jinja(
            "{% set product = 3 %}{{ product.nam }}"
            "{% macro m(reviews) %}{{ reviews.anything }}{% endmacro %}{{ m(1) }}"
            "{% for a, b in items %}{{ a.x }}{% endfor %}"
            "{% for r in reviews|reverse %}{{ r.whatever }}{% endfor %}"
            "{% with p = product %}{{ p }}{% endwith %}"
        )
    )


def test_a_slot_must_render_exactly_once() -> None:
    found = messages(
        jinja(
            '{% for r in reviews %}<?marker name="a">{% endfor %}\n'
            '{% if product %}{{ slot("b") }}{% endif %}\n'
            '{% macro m() %}{{ slot("c") }}{% endmacro %}\n'
            "{{ slot(product.name) }}",
            slots="abc",
        )
    )
    assert found == [
        "inline template:1: slot 'a' is inside a {% for %} loop: a slot must appear exactly once"
        " in the rendered HTML, so it cannot be repeated, left out or rendered by a macro;"
        " move it out (its own fragment can loop or decide)",
        "inline template:2: slot 'b' is inside an {% if %}: a slot must appear exactly once in"
        " the rendered HTML, so it cannot be repeated, left out or rendered by a macro; move it"
        " out (its own fragment can loop or decide)",
        "inline template:3: slot 'c' is inside a macro: a slot must appear exactly once in the"
        " rendered HTML, so it cannot be repeated, left out or rendered by a macro; move it out"
        " (its own fragment can loop or decide)",
        "inline template:4: slot() takes the slot's name as a literal string",
    ]


def test_a_slot_in_an_included_template_inside_a_loop(tmp_path) -> None:
    (tmp_path / "row.html").write_text('<li><?marker name="r"></li>')
    [message] = messages(
        jinja('{% for x in reviews %}{% include "row.html" %}{% endfor %}', slots="r"),
        tmp_path / "p.toml",
    )
    assert message.startswith(f"{tmp_path}/row.html:1: slot 'r' is inside a {{% for %}} loop")


def test_exactly_one_renderer() -> None:
    [message] = messages(page(Fragment(target="x", template="a", jinja_source="b", fallback="…")))
    assert message == (
        "set exactly one of 'render', 'template', 'jinja', 'jinja_source' (found template,"
        " jinja_source)"
    )


def test_engine_check_prints_the_template_file_and_line(tmp_path, capsys) -> None:
    (tmp_path / "t.html").write_text("<p>\n{{ product.nam }}</p>\n{% endif %}")
    (tmp_path / "p.toml").write_text(
        'name = "p"\n[shell]\nhtml = \'<meta charset="utf-8"><?marker name="x">\'\n'
        '[[queries]]\nname = "product"\ncall = "tests.pages.fixtures:product"\n'
        'result = "tests.pages.fixtures:Product"\n'
        '[[fragments]]\ntarget = "x"\nuses = ["product"]\njinja = "t.html"\nfallback = "…"\n'
    )
    assert main(["check", str(tmp_path / "p.toml")]) == 1
    assert capsys.readouterr().err == (
        f"{tmp_path}/p.toml:$.fragments[0].jinja: error: page 'p' [x]: {tmp_path}/t.html:3:"
        " template syntax error: Encountered unknown tag 'endif'.\n"
    )
    (tmp_path / "t.html").write_text("<p>\n{{ product.nam }}</p>\n")
    assert main(["check", str(tmp_path / "p.toml")]) == 1
    assert capsys.readouterr().err == (
        f"{tmp_path}/p.toml:$.fragments[0].jinja: error: page 'p' [x]: {tmp_path}/t.html:2:"
        " product.nam reads 'nam', but Product has no such field (its"
        " fields: name, price)\n"
    )


# -- Jinja2 shells and layouts ---------------------------------------------------------

IN_SITE = PAGES / "jinja" / "lamp_in_site.toml"
SITE_HTML = (PAGES / "jinja" / "layouts" / "site.html").resolve()


async def test_a_jinja_layout_around_an_html_page_in_every_mode(autojump_clock) -> None:
    graph = Graph.build(engine.load(IN_SITE), source=str(IN_SITE))
    documents = set()
    for mode in ("out-of-order", "in-order", "buffered"):
        timeline = await render_timeline(graph, mode=mode, nonce="abcdefgh12")
        assert_contract(timeline)
        html = timeline.html
        assert "<nav>Signed in as <b>Ann &lt;admin&gt;</b>" in html
        assert '<a href="/home">Home</a><a href="/shop">Shop</a></nav>' in html
        assert '<meta name="description" content="Lamp &lt;b&gt;"></head>' in html
        assert '<script nonce="abcdefgh12">window.site = true</script>' in html
        assert html.endswith("</body>\n</html>\n")
        if mode == "out-of-order":
            html = apply(TEMPLATE.sub("", html), TEMPLATE.findall(html))
        documents.add(without_scripts(parse(html)))
    assert len(documents) == 1
    assert "<h1>Lamp &lt;b&gt;</h1>" in documents.pop()


async def test_a_jinja_page_shell_without_layout(autojump_clock) -> None:
    shell = Shell(
        queries=("reviews",),
        jinja_source=HEAD.replace("<body>", "<title>{{ reviews|length }} reviews</title><body>")
        + "{% for r in reviews %}<p>{{ r.author }}</p>{% endfor %}"
        '<div>{{ slot("x") }}</div></body></html>',
    )
    p = msgspec.structs.replace(
        page(Fragment(target="x", template="x!", fallback="…")), shell=shell
    )
    html = await rendered(p)
    assert "<title>2 reviews</title>" in html
    assert '<p>ann</p><p>&lt;bob&gt;</p><div><?start name="x">x!<?end></div></body></html>' in html


def shell_problems(jinja_source: str, queries: tuple[str, ...] = ("product",)) -> list[str]:
    shell = Shell(queries=queries, jinja_source=jinja_source)
    p = msgspec.structs.replace(page(Fragment(target="x", template="x", fallback="…")), shell=shell)
    return messages(p)


def test_jinja_shell_mistakes() -> None:
    body = '<meta charset="utf-8">{{ slot("x") }}</body>'
    assert shell_problems("{% for i in [1] %}" + body + "{% endfor %}")[0].startswith(
        "inline template:1: slot 'x' is inside a {% for %} loop"
    )
    assert shell_problems(body + "{{ user }}") == [
        "shell template reads user, not among the shell queries",
        "after </body> a Jinja2 shell must be plain HTML: it goes out after the last fragment,"
        " when the shell queries' values are long gone",
    ]
    assert shell_problems(body.replace("</body>", "")) == [
        "a Jinja2 shell writes the document's </body> in its own text (not through extends or"
        " include): what follows it goes out after the last fragment"
    ]
    assert shell_problems("{{ product.nam }}" + body) == [
        "inline template:1: product.nam reads 'nam', but Product has no such field (its fields:"
        " name, price)"
    ]
    assert shell_problems("{% if %}" + body)[0] == (
        "inline template:1: template syntax error: Expected an expression, got 'end of statement"
        " block'"
    )


async def test_a_jinja_shell_file_includes_from_the_page_files_directory(
    tmp_path, autojump_clock
) -> None:
    # Includes resolve from the page file's directory first, then from the template's own.
    (tmp_path / "head.html").write_text("<title>{{ product.name }}</title>")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "shell.html").write_text(
        '<!doctype html><html><head><meta charset="utf-8">{% include "head.html" %}</head>'
        '<body>{{ slot("x") }}</body></html>'
    )
    (tmp_path / "p.toml").write_text(
        'name = "p"\n[shell]\njinja = "templates/shell.html"\nqueries = ["product"]\n'
        '[[queries]]\nname = "product"\ncall = "tests.test_jinja:product"\n'
        'result = "tests.test_jinja:Product"\n'
        '[[fragments]]\ntarget = "x"\ntemplate = "x!"\nfallback = "…"\n'
    )
    graph = Graph.build(engine.load(tmp_path / "p.toml"), source=str(tmp_path / "p.toml"))
    assert graph.warnings == ()
    assert "<title>Lamp &lt;b&gt;</title>" in await rendered(graph)


def test_mistakes_in_a_jinja_layout_name_its_template_and_file(tmp_path) -> None:
    (tmp_path / "site.html").write_text(
        '<meta charset="utf-8">\n{% if user %}{{ slot("content") }}{% endif %}\n'
        '<?marker name="ads"></body>'
    )
    (tmp_path / "site.toml").write_text('[shell]\njinja = "site.html"\n')
    (tmp_path / "p.toml").write_text('name = "p"\nlayout = "site.toml"\n[shell]\nhtml = "x"\n')
    found = problems_of(engine.load(tmp_path / "p.toml"), tmp_path / "p.toml")
    assert [(p.file, p.key) for p in found] == [(str(tmp_path / "site.toml"), "$.shell.jinja")] * 3
    assert [p.message for p in found] == [
        "shell template reads user, not among the shell queries",
        f"{tmp_path}/site.html:2: slot 'content' is inside an {{% if %}}: a slot must appear"
        " exactly once in the rendered HTML, so it cannot be repeated, left out or rendered by a"
        " macro; move it out (its own fragment can loop or decide)",
        "slot 'ads' in the shell of layout 'site' is filled by no fragment",
    ]


async def test_a_loaded_page_finds_its_templates_from_any_directory(tmp_path, monkeypatch) -> None:
    (tmp_path / "site" / "parts").mkdir(parents=True)
    (tmp_path / "site" / "parts" / "x.html").write_text(
        "{% for r in reviews %}{{ r.author }},{% endfor %}"
    )
    (tmp_path / "site" / "parts" / "shell.html").write_text(
        '<meta charset="utf-8"><main>{{ slot("x") }}</main></body>'
    )
    (tmp_path / "site" / "p.toml").write_text(
        'name = "p"\n[shell]\njinja = "parts/shell.html"\n'
        '[[queries]]\nname = "reviews"\ncall = "tests.pages.fixtures:reviews"\n'
        'result = "list[tests.pages.fixtures:Review]"\n'
        '[[fragments]]\ntarget = "x"\nuses = ["reviews"]\njinja = "parts/x.html"\nfallback = "…"\n'
    )
    loaded = engine.load(tmp_path / "site" / "p.toml")
    assert (loaded.shell.jinja, loaded.fragments[0].jinja) == (
        str(tmp_path / "site" / "parts" / "shell.html"),
        str(tmp_path / "site" / "parts" / "x.html"),
    )
    monkeypatch.chdir(tmp_path)
    html = await rendered(loaded)
    assert '<main><?start name="x">ann,&lt;bob&gt;,<?end></main>' in html
