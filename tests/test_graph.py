"""Definition-time checks: every problem at once, each naming page, node, file and key."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import msgspec
import pytest

import engine
from engine import Fragment, Graph, Page, Query, Shell
from engine.definition.signatures import compatible

PAGES = Path(__file__).parent / "pages"
SHELL = '<!doctype html><html><head><meta charset="utf-8"></head><body>{}</body></html>'


def problems_of(page: Page, source: str | None = None) -> list[engine.Problem]:
    with pytest.raises(engine.PageError) as caught:
        Graph.build(page, source=source)
    return list(caught.value.problems)


def test_every_problem_of_a_broken_file_is_reported_at_once() -> None:
    source = str(PAGES / "broken.toml")
    found = problems_of(engine.load(source), source)
    text = "\n".join(map(str, found))
    for expected in (
        "dependency cycle: a -> b -> a",
        "[a]: duplicate query name",
        "cannot import module 'tests.pages.nowhere'",
        "depends on unknown query 'missing'",
        "requires argument(s) items that nothing provides",
        "renderer parameter 'count' is annotated str but query 'count' declares int",
        "slot 'orphan' in the shell is filled by no fragment",
        "fills slot 'nowhere', which appears in no shell or fragment",
    ):
        assert expected in text
    assert all(p.file == source and p.page == "broken" for p in found)
    duplicate = next(p for p in found if "duplicate" in p.message)
    assert (duplicate.node, duplicate.key) == ("a", "$.queries[2].name")
    assert str(duplicate).startswith(f"{source}:$.queries[2].name: error: page 'broken' [a]")


def messages(page: Page) -> str:
    return "\n".join(map(str, problems_of(page)))


async def _n() -> int:
    return 1


N = (Query(name="n", call=_n, result=int),)


def _page(fragments=(), queries=N, html=None) -> Page:
    slots = "".join(f'<?marker name="{f.target}">' for f in fragments if f.target != "inner")
    return Page(
        name="p",
        shell=Shell(html=html or SHELL.format(slots)),
        queries=queries,
        fragments=fragments,
    )


def test_slots_must_match_fragments_and_be_unique() -> None:
    page = _page(
        fragments=(
            Fragment(target="a", uses=("n",), template="{{ n }}", fallback="…"),
            Fragment(target="a", uses=("n",), template="{{ n }}", fallback="…"),
        )
    )
    assert "two fragments fill slot 'a'" in messages(page)
    page = _page(
        html=SHELL.format('<?marker name="x"><?marker name="x">'),
        fragments=(Fragment(target="x", template="1", fallback="…"),),
    )
    assert "slot 'x' appears twice in the shell" in messages(page)


def test_template_must_only_use_declared_queries() -> None:
    page = _page(fragments=(Fragment(target="a", template="{{ n }} {{ other.x }}", fallback="…"),))
    (problem,) = problems_of(page)
    assert (problem.key, problem.message) == (
        "$.fragments[0].template",
        "template refers to n, other, not in 'uses'",
    )


def test_nested_slots_come_from_templates_or_declarations() -> None:
    fragments = (
        Fragment(
            target="outer", uses=("n",), template='<div><?marker name="inner"></div>', fallback="…"
        ),
        Fragment(target="inner", uses=("n",), template="{{ n }}", fallback="…"),
    )
    graph = Graph.build(_page(fragments=fragments))
    outer, inner = graph.fragments
    assert (inner.parent, outer.children, inner.depth) == (0, (1,), 1)


def test_append_mode_needs_one_batched_query_and_vice_versa() -> None:
    async def batches():
        yield [1]

    queries = (
        Query(name="n", call=_n, result=int),
        Query(name="b", call=batches, result=list[int]),
    )
    page = _page(
        queries=queries, fragments=(Fragment(target="a", uses=("b",), template="x", fallback="…"),)
    )
    assert "uses batched query 'b': set mode = \"append\"" in messages(page)
    page = _page(
        queries=queries,
        fragments=(Fragment(target="a", uses=("n",), template="x", fallback="…", mode="append"),),
    )
    assert "exactly one batched query" in messages(page)


def test_async_renderers_and_bad_names_are_rejected() -> None:
    async def render(n: int) -> str:
        return ""

    page = _page(fragments=(Fragment(target="a", uses=("n",), render=render, fallback="…"),))
    assert "is async: fetch data in queries" in messages(page)
    page = _page(queries=(Query(name="bad-name", call=_n, result=int),))
    assert "'bad-name' is not a query name: a Python identifier" in messages(page)


def test_dependency_annotations_must_match_declared_results() -> None:
    async def uses_n(n: str) -> int:
        return 1

    queries = (
        Query(name="n", call=_n, result=int),
        Query(name="m", call=uses_n, result=int, depends_on=("n",)),
    )
    assert "parameter 'n' of" in messages(_page(queries=queries))


class Base(msgspec.Struct):
    x: int


class Child(Base):
    pass


def test_compatible_annotations_pass() -> None:
    async def child() -> Child:
        return Child(1)

    def render(n: Base | None, items: list) -> str:  # supertypes, optional, bare generics
        return ""

    async def items() -> list[int]:
        return []

    queries = (
        Query(name="n", call=child, result=Child),
        Query(name="items", call=items, result=list[int]),
    )
    page = _page(
        queries=queries,
        fragments=(Fragment(target="a", uses=("n", "items"), render=render, fallback="…"),),
    )
    graph = Graph.build(page)
    assert [q.result for q in graph.queries] == [Child, list[int]]
    assert graph.warnings == ()
    # and the same check refuses what does not fit, so passing above means something
    assert compatible(Base | None, Child) and compatible(list, list[int])
    assert not compatible(Child, Base) and not compatible(list[str], list[int])
    assert not compatible(Base, Base | None)
    # Generic types of different origins never fit, and an origin that is no class (a
    # Literal) is refused rather than compared as one.
    assert not compatible(set[int], list[int]) and not compatible(list[int], set[int])
    assert not compatible(list[str], typing.Literal["a"])
    assert compatible(typing.Literal["a"], typing.Literal["a"])

    def narrow(n: Child, items: list[str]) -> str:
        return ""

    narrowed = _page(
        queries=queries,
        fragments=(Fragment(target="a", uses=("n", "items"), render=narrow, fallback="…"),),
    )
    text = messages(narrowed)
    assert "renderer parameter 'n' is annotated Child but query 'n' declares Child" not in text
    assert "renderer parameter 'items' is annotated list[str] but query 'items' declares" in text


def test_warnings_do_not_fail_the_build() -> None:
    page = Page(
        name="w",
        shell=Shell(html='<table><tbody><?marker name="rows"></tbody></table>'),
        queries=(Query(name="n", call=_n, result=int), Query(name="unused", call=_n, result=int)),
        fragments=(
            Fragment(
                target="rows",
                uses=("n",),
                template="<tr><td>{{ n }}</td></tr>",
                fallback="loading…",
            ),
        ),
    )
    graph = Graph.build(page)
    text = "\n".join(map(str, graph.warnings))
    assert "no <meta charset>" in text
    assert "inside a table, where the text 'loading…'" in text
    assert "no fragment, query or shell uses this query" in text
    rows = Page(
        name="rows",
        shell=Shell(html=SHELL.format('<table><tbody><?marker name="r"></tbody></table>')),
        fragments=(
            Fragment(
                target="r", template="<tr><td>1</td></tr>", fallback="<tr><td>loading…</td></tr>"
            ),
        ),
    )
    assert Graph.build(rows).warnings == ()  # text inside cells stays in the table
    empty = _page(fragments=(Fragment(target="a", template="x"),))
    [warning] = [w for w in Graph.build(empty).warnings if "fallback" in w.message]
    assert (warning.node, warning.key) == ("a", "$.fragments[0].fallback")
    assert warning.message.startswith("empty fallback: while it streams")


@dataclasses.dataclass
class Left:
    left: int


@dataclasses.dataclass
class Right:
    right: int


def test_a_result_type_msgspec_cannot_convert_is_a_warning_naming_its_key() -> None:
    async def either() -> Left | Right:
        return Right(1)

    queries = (*N, Query(name="either", call=either, result=Left | Right))
    page = _page(
        fragments=(Fragment(target="a", uses=("n", "either"), template="{{ n }}"),),
        queries=queries,
    )
    (warning,) = [w for w in Graph.build(page).warnings if "cattrs" in w.message]
    assert (warning.node, warning.key, warning.message) == (
        "either",
        "$.queries[1].result",
        "msgspec cannot convert to Left | Right; results are checked with cattrs instead",
    )


def test_a_result_type_neither_msgspec_nor_cattrs_can_convert_is_an_error() -> None:
    """Else the page was accepted and the query failed every time it was called."""

    async def numbers() -> list[int] | tuple[int, ...]:
        return [1]

    queries = (*N, Query(name="numbers", call=numbers, result=list[int] | tuple[int, ...]))
    page = _page(
        fragments=(Fragment(target="a", uses=("n", "numbers"), template="{{ n }}"),),
        queries=queries,
    )
    with pytest.raises(engine.PageError) as caught:
        Graph.build(page)
    assert [str(p) for p in caught.value.problems if p.severity == "error"] == [
        "$.queries[1].result: error: page 'p' [numbers]: neither msgspec nor cattrs can convert"
        " to list[int] | tuple[int, ...], so no result could be checked: declare a type one of"
        " them knows (or Any to take results unchecked)"
    ]


def test_slot_contexts_are_known_statically() -> None:
    html = SHELL.format(
        '<table><?marker name="t"></table><svg><?marker name="s"></svg>'
        '<select><?marker name="o"></select><?marker name="f">'
    )
    fragments = tuple(Fragment(target=t, template="x", fallback="") for t in "tsof")
    graph = Graph.build(Page(name="c", shell=Shell(html=html), fragments=fragments))
    assert [f.context for f in graph.fragments] == ["table", "svg", "select", "flow"]


# -- checks the suite once let through (issue 8's weak-test list) ---------------------------


def test_a_query_may_not_depend_on_a_batched_query() -> None:
    async def batches():
        yield [1]

    async def total(b: list[int]) -> int:
        return 0

    queries = (
        Query(name="n", call=_n, result=int),
        Query(name="b", call=batches, result=list[int]),
        Query(name="t", call=total, result=int, depends_on=("b",)),
    )
    page = _page(
        queries=queries,
        fragments=(Fragment(target="a", uses=("t",), template="{{ t }}", fallback="…"),),
    )
    assert messages(page) == (
        "error: page 'p' [t]: depends on 'b', which yields batches: batched queries feed append"
        " fragments only"
    )


def test_a_name_may_not_be_both_a_dependency_and_a_parameter() -> None:
    async def both(n: int) -> int:
        return n

    queries = (
        Query(name="n", call=_n, result=int),
        Query(name="m", call=both, result=int, depends_on=("n",), params=("n",)),
    )
    page = _page(
        queries=queries,
        fragments=(Fragment(target="a", uses=("m",), template="{{ m }}", fallback="…"),),
    )
    assert messages(page) == (
        "$.queries[1].params: error: page 'p' [m]: n named both as dependency and as parameter"
    )


@pytest.mark.parametrize("field", ["fallback", "error"])
def test_slot_markers_in_fallback_or_error_html_are_rejected(field: str) -> None:
    html = '<p><?marker name="inner"></p>'
    fields = {"fallback": "…", field: html}
    fragment = Fragment(target="a", template="x", **fields)
    inner = Fragment(target="inner", template="y", fallback="…")
    page = _page(fragments=(fragment, inner))
    assert f"$.fragments[0].{field}: error: page 'p' [a]: {field} HTML must not contain slot" in (
        messages(page)
    )


def test_declared_slots_must_agree_with_the_template() -> None:
    inner = Fragment(target="inner", template="1", fallback="…")
    disagreeing = Fragment(
        target="a", template='<?marker name="inner">', slots=("other",), fallback="…"
    )
    assert (
        "$.fragments[0].slots: error: page 'p' [a]: 'slots' ['other'] disagree with the"
        " template's markers ['inner']"
    ) in messages(_page(fragments=(disagreeing, inner)))
    agreeing = Fragment(
        target="a", template='<?marker name="inner">', slots=("inner",), fallback="…"
    )
    assert Graph.build(_page(fragments=(agreeing, inner))).fragments[1].parent == 0


def test_the_charset_must_be_in_the_first_1024_bytes() -> None:
    def page(padding: int) -> Page:
        html = f"<!doctype html><html><head><!--{'x' * padding}--><meta charset=utf-8></head>"
        return Page(name="c", shell=Shell(html=html + "<body></body></html>"))

    prefix = len("<!doctype html><html><head><!----><meta charset")
    within = Graph.build(page(1024 - prefix))
    beyond = Graph.build(page(1024 - prefix + 1))
    assert within.warnings == ()
    assert [w.message for w in beyond.warnings] == [
        "the shell has no <meta charset> in its first 1024 bytes; browsers may re-parse or"
        " mis-decode a streamed page"
    ]


def test_slot_markers_after_the_body_are_rejected() -> None:
    page = Page(
        name="p",
        shell=Shell(html='<meta charset="utf-8"><body></body><?marker name="late"></html>'),
        fragments=(Fragment(target="late", template="x", fallback="…"),),
    )
    assert "$.shell.html: error: page 'p': slot markers after </body> cannot be filled" in (
        messages(page)
    )


def test_the_shell_is_split_at_its_last_closing_body() -> None:
    html = (
        '<!doctype html><html><head><meta charset="utf-8"></head><body>'
        '<script>document.write("</body>")</script><?marker name="a">'
        "</body></html>"
    )
    page = Page(
        name="p",
        shell=Shell(html=html),
        fragments=(Fragment(target="a", template="x", fallback="…"),),
    )
    graph = Graph.build(page)
    assert graph.shell_tail == "</body></html>"
    assert graph.shell_children == (0,)
