"""Definition-time checks: every problem at once, each naming page, node, file and key."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

import engine
from engine import Fragment, Graph, Page, Query, Shell

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
    assert "template refers to n, other, not in 'uses'" in messages(page)


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
    assert "must be a Python identifier" in messages(page)


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
    Graph.build(page)


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
    assert "empty fallback" in "\n".join(map(str, Graph.build(empty).warnings))


def test_slot_contexts_are_known_statically() -> None:
    html = SHELL.format(
        '<table><?marker name="t"></table><svg><?marker name="s"></svg>'
        '<select><?marker name="o"></select><?marker name="f">'
    )
    fragments = tuple(Fragment(target=t, template="x", fallback="") for t in "tsof")
    graph = Graph.build(Page(name="c", shell=Shell(html=html), fragments=fragments))
    assert [f.context for f in graph.fragments] == ["table", "svg", "select", "flow"]
