"""Resources: declared once, entered around a render (CLI, tests), passed by name, replaced by
fakes in tests, and checked at definition time."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
import trio

import engine
from engine import Page, Query, Resources, Shell
from engine.testing import render_timeline

LOG: list[str] = []


class Client:
    """Like httpx.AsyncClient: calling the class makes an async context manager."""

    def __init__(self) -> None:
        self.open = False

    async def __aenter__(self) -> Client:
        await trio.sleep(0.1)
        self.open = True
        LOG.append("client in")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.open = False
        LOG.append("client out")


@contextlib.asynccontextmanager
async def database() -> AsyncIterator[str]:
    LOG.append("db in")
    yield "db"
    LOG.append("db out")


async def broken() -> AsyncIterator[str]:
    raise ConnectionRefusedError("no server on port 5432")
    yield "never"  # pragma: no cover


RESOURCES = Resources(db=database, http=Client, down=broken)
SHELL = Shell(html='<!doctype html><meta charset="utf-8"><p>{{ a }}</p>', queries=("a",))


async def uses(db: str, http: Client) -> str:
    LOG.append("query")
    return f"{db} open={http.open}"


PAGE = Page(
    name="res",
    shell=SHELL,
    queries=(Query(name="a", call=uses, result=str, resources=("db", "http")),),
    resources=RESOURCES,
)


@pytest.fixture(autouse=True)
def fresh_log() -> None:
    LOG.clear()


async def test_needed_resources_are_opened_around_a_render_and_closed_after(
    autojump_clock,
) -> None:
    body = await engine.render_to_bytes(PAGE)
    assert b"db open=True" in body
    # in declaration order, closed in reverse; the unused 'down' is never opened
    assert LOG == ["db in", "client in", "query", "client out", "db out"]


async def test_a_test_replaces_a_resource_with_a_fake(autojump_clock) -> None:
    fake = Client()
    fake.open = "fake"  # type: ignore[assignment]
    timeline = await render_timeline(PAGE, resources={"http": fake})
    assert b"db open=fake" in b"".join(w.data for w in timeline.writes)
    assert LOG == ["db in", "query", "db out"], "the real client is never entered"
    with pytest.raises(KeyError, match="declares no resource nope"):
        await render_timeline(PAGE, resources={"nope": 1})


async def test_a_resource_that_fails_to_open_fails_the_render_before_its_first_byte(
    autojump_clock,
) -> None:
    page = Page(
        name="down",
        shell=SHELL,
        queries=(Query(name="a", call=lambda down: down, result=str, resources=("down",)),),
        resources=RESOURCES,
    )
    sent: list[bytes] = []

    async def sink(data: bytes) -> None:
        sent.append(data)

    with pytest.raises(engine.ResourceError) as info:
        await engine.render(page, sink)
    assert info.value.status_code == 500 and sent == []
    assert "resource 'down' failed to open: ConnectionRefusedError" in str(info.value)
    assert info.value.page == "down"


def problems(page: Page) -> list[engine.Problem]:
    with pytest.raises(engine.PageError) as info:
        engine.Graph.build(page)
    return list(info.value.problems)


def test_a_query_needing_an_undeclared_resource_is_an_error() -> None:
    page = Page(
        name="p",
        shell=SHELL,
        queries=(Query(name="a", call=uses, result=str, resources=("db", "htp")),),
        resources=RESOURCES,
    )
    (problem,) = problems(page)
    assert problem.node == "a" and problem.key == "$.queries[0].resources[1]"
    assert "needs resource 'htp', which is not declared" in problem.message
    assert "declare 'db', 'http', 'down'" in problem.message


def test_resources_need_a_declaration_on_the_page() -> None:
    page = Page(
        name="p",
        shell=SHELL,
        queries=(Query(name="a", call=uses, result=str, resources=("db", "http")),),
    )
    found = problems(page)
    assert [p.key for p in found] == ["$.queries[0].resources[0]", "$.queries[0].resources[1]"]
    assert "the page declares no resources: add resources = 'package.module:attr'" in str(found[0])
    plain = Shell(html='<!doctype html><meta charset="utf-8"><p>x</p>')
    wrong = Page(name="p", shell=plain, resources="tests.context.test_resources:SHELL")
    (problem,) = problems(wrong)
    assert problem.key == "$.resources" and "not a Shell" in problem.message


def test_a_resource_named_like_a_parameter_or_missing_from_the_signature() -> None:
    page = Page(
        name="p",
        shell=SHELL,
        queries=(Query(name="a", call=uses, result=str, params=("db",), resources=("db", "http")),),
        resources=RESOURCES,
    )
    (problem,) = problems(page)
    assert problem.key == "$.queries[0].resources" and "both as parameter and as resource" in (
        problem.message
    )
    page = Page(
        name="p",
        shell=SHELL,
        queries=(Query(name="a", call=uses, result=str, resources=("db",)),),
        resources=RESOURCES,
    )
    (problem,) = problems(page)
    assert "requires argument(s) http that nothing provides" in problem.message


def test_resources_take_context_managers_and_their_factories_only() -> None:
    with pytest.raises(TypeError, match="resource 'x': expected an async context manager"):
        Resources(x=42)


async def test_a_factory_that_returns_no_context_manager_is_a_clear_error() -> None:
    with pytest.raises(engine.ResourceError, match="returned a int, not an async context manager"):
        async with Resources(x=lambda: 42).open():
            pass


async def test_a_layout_declares_resources_for_its_own_queries_and_its_pages(
    autojump_clock,
) -> None:
    async def nav(db: str) -> str:
        return f"nav from {db}"

    layout = engine.Layout(
        shell=Shell(
            html='<!doctype html><meta charset="utf-8"><nav>{{ nav }}</nav>'
            '<?marker name="content">',
            queries=("nav",),
        ),
        queries=(Query(name="nav", call=nav, result=str, resources=("db",)),),
        resources=RESOURCES,
    )
    page = Page(
        name="in-layout",
        layout=layout,
        shell=Shell(html="<p>{{ a }}</p>", queries=("a",)),
        queries=(Query(name="a", call=uses, result=str, resources=("db", "http")),),
    )
    body = await engine.render_to_bytes(page)
    assert b"<nav>nav from db</nav>" in body and b"<p>db open=True</p>" in body
    assert LOG.count("db in") == 1
