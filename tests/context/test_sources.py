"""Request parameters come only from their declared source; queries may receive the request."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine
from engine import Page, Params, Query, Request, Shell
from engine.asgi import App

SHELL = Shell(html='<!doctype html><meta charset="utf-8"><p>{{ seen }}</p>', queries=("seen",))


def page(call, params, *, name: str = "p") -> Page:
    return Page(
        name=name, shell=SHELL, queries=(Query(name="seen", call=call, result=str, params=params),)
    )


async def rendered(p: Page | engine.Graph, request: Request) -> str:
    parts: list[bytes] = []

    async def sink(data: bytes) -> None:
        parts.append(data)

    await engine.render(p, sink, request=request)
    return b"".join(parts).decode()


def account(account_id: int, page: int = 1, accept_language: str = "-", cart: str = "-") -> str:
    return f"account={account_id} page={page} lang={accept_language} cart={cart}"


EXPLICIT = page(
    account,
    Params(path=("account_id",), query=("page",), header=("accept_language",), cookie=("cart",)),
)


async def test_each_parameter_is_read_from_its_own_source() -> None:
    request = Request.build(
        headers={"Accept-Language": "fr", "Cookie": "cart=c1; other=x"},
    )
    request = Request(
        path_params={"account_id": "7"},
        query_params=engine.QueryParams([("page", "3"), ("account_id", "666")]),
        headers=request.headers,
        cookies=request.cookies,
    )
    assert "account=7 page=3 lang=fr cart=c1" in await rendered(EXPLICIT, request)


async def test_a_value_from_another_source_is_never_taken() -> None:
    # account_id only in the query string, page only in the path, the header as a cookie...
    request = Request(
        path_params={"page": "9"},
        query_params=engine.QueryParams([("account_id", "666"), ("accept_language", "xx")]),
        cookies={"accept_language": "yy", "account_id": "5"},
    )
    with pytest.raises(engine.ParameterError, match="missing request parameter 'account_id'"):
        await rendered(EXPLICIT, request)
    request = Request(
        path_params={"account_id": "1", "page": "9"},
        query_params=engine.QueryParams([("accept_language", "xx"), ("cart", "c9")]),
        cookies={"accept_language": "yy"},
    )
    assert "account=1 page=1 lang=- cart=-" in await rendered(EXPLICIT, request)


async def test_a_plain_name_is_the_path_capture_when_there_is_one_else_the_query() -> None:
    plain = page(account, ("account_id", "page"))
    both = Request(
        path_params={"account_id": "7"},
        query_params=engine.QueryParams([("account_id", "666"), ("page", "2")]),
    )
    assert "account=7 page=2" in await rendered(plain, both)
    only_query = Request(query_params=engine.QueryParams([("account_id", "8")]))
    assert "account=8 page=1" in await rendered(plain, only_query)


async def test_repeated_values_reach_a_list_parameter_and_headers_ignore_case() -> None:
    def tags(tag: list[str], x_trace: list[int]) -> str:
        return f"{tag} {x_trace}"

    p = page(tags, Params(query=("tag",), header=("x_trace",)))
    request = Request.build(headers=[("X-Trace", "1"), ("x-trace", "2")])
    request = Request(
        query_params=engine.QueryParams([("tag", "a"), ("tag", "b")]), headers=request.headers
    )
    assert "[&#39;a&#39;, &#39;b&#39;] [1, 2]" in await rendered(p, request)


async def test_missing_or_malformed_header_and_cookie_are_400() -> None:
    def needs(x_token: str, sid: int) -> str:
        return "ok"

    p = page(needs, Params(header=("x_token",), cookie=("sid",)))
    with pytest.raises(engine.ParameterError, match="header 'x-token'"):
        await rendered(p, Request.build(cookies={"sid": "1"}))
    with pytest.raises(engine.ParameterError, match="cookie 'sid'"):
        await rendered(p, Request.build(headers={"X-Token": "t"}))
    with pytest.raises(engine.ParameterError, match="'sid'='x' is not a valid int") as raised:
        await rendered(p, Request.build(headers={"X-Token": "t"}, cookies={"sid": "x"}))
    assert raised.value.node == "seen"
    assert ">ok<" in await rendered(
        p, Request.build(headers={"X-Token": "t"}, cookies={"sid": "1"})
    )


async def test_a_query_receives_the_whole_request_read_only() -> None:
    seen: list[Request] = []

    def who(request: Request) -> str:
        seen.append(request)
        return f"{request.method} {request.url} {request.client} {request.user}"

    p = Page(name="who", shell=SHELL, queries=(Query(name="seen", call=who, result=str),))
    request = Request.build(
        params={"q": "1"},
        headers={"Host": "shop.example", "Cookie": "a=1"},
        path="/x",
        client=("10.0.0.1", 5555),
        user="ann",
        session={"n": 1},
        state={"db": "pool"},
    )
    assert "GET http://shop.example/x?q=1 (&#39;10.0.0.1&#39;, 5555) ann" in await rendered(
        p, request
    )
    (got,) = seen
    assert got is request
    with pytest.raises(TypeError):
        got.headers["x"] = "y"  # type: ignore[index]
    with pytest.raises(TypeError):
        got.cookies["a"] = "2"  # type: ignore[index]
    with pytest.raises(AttributeError):
        got.method = "POST"  # type: ignore[misc]
    assert got.cookies == {"a": "1"} and got.state["db"] == "pool" and got.session == {"n": 1}
    with pytest.raises(LookupError, match="SessionMiddleware"):
        _ = Request.build().session
    with pytest.raises(LookupError, match="AuthenticationMiddleware"):
        _ = Request.build().user


# ---- definition-time checks -------------------------------------------------------------


def problems(p: Page) -> list[engine.Problem]:
    with pytest.raises(engine.PageError) as info:
        engine.Graph.build(p)
    return list(info.value.problems)


def test_a_parameter_declared_twice_in_one_query_is_an_error() -> None:
    (problem,) = problems(page(account, Params(path=("account_id",), query=("account_id",))))
    assert problem.node == "seen" and problem.key == "$.queries[0].params.query[0]"
    assert "declared twice (the path and the query string)" in problem.message
    assert "keep one of them" in problem.message


def test_one_name_with_two_sources_across_queries_is_an_error() -> None:
    p = Page(
        name="two",
        shell=SHELL,
        queries=(
            Query(name="seen", call=account, result=str, params=Params(path=("account_id",))),
            Query(name="other", call=account, result=str, params=Params(header=("account_id",))),
        ),
    )
    (problem,) = problems(p)
    assert problem.node == "other" and problem.key == "$.queries[1].params.header[0]"
    assert "comes from a header here but from the path in query 'seen'" in problem.message


def test_an_unknown_source_in_a_page_file_names_file_and_key(tmp_path: Path) -> None:
    file = tmp_path / "bad.toml"
    file.write_text(
        'name = "bad"\n[shell]\nhtml = "<p>x</p>"\n'
        '[[queries]]\nname = "a"\ncall = "tests.context.test_sources:account"\nresult = "str"\n'
        'params = { path = ["account_id"], heder = ["x"] }\n'
    )
    with pytest.raises(engine.PageError) as info:
        engine.load(file)
    (problem,) = info.value.problems
    assert problem.file == str(file) and problem.key == "$.queries[0].params.heder"
    assert "unknown key 'heder'" in problem.message and "'header'" in problem.message


def test_page_files_declare_sources_as_a_table(tmp_path: Path) -> None:
    file = tmp_path / "ok.toml"
    file.write_text(
        'name = "ok"\n[shell]\nhtml = "<p>{{ a }}</p>"\nqueries = ["a"]\n'
        '[[queries]]\nname = "a"\ncall = "tests.context.test_sources:account"\nresult = "str"\n'
        'params = { path = ["account_id"], header = ["accept_language"] }\n'
    )
    graph = engine.Graph.build(engine.load(file))
    assert graph.queries[0].sources == {"account_id": "path", "accept_language": "header"}


def test_a_route_must_capture_what_a_query_reads_from_the_path() -> None:
    with pytest.raises(engine.PageError) as info:
        App({"/account": EXPLICIT})
    (problem,) = info.value.problems
    assert problem.node == "seen" and problem.key == "$.queries[0].params.path"
    assert "route '/account' does not capture it" in problem.message
    App({"/account/{account_id}": EXPLICIT})


def test_an_unannotated_request_parameter_gets_a_hint() -> None:
    def bare(request) -> str:  # type: ignore[no-untyped-def]
        return "x"

    (problem,) = problems(
        Page(name="p", shell=SHELL, queries=(Query(name="seen", call=bare, result=str),))
    )
    assert "requires argument(s) request that nothing provides" in problem.message
    assert "annotate it: `request: engine.Request`" in problem.message


@pytest.mark.parametrize(
    ("path_params", "query", "message"),
    [
        ({}, [("page", "2")], "missing request parameter 'account_id' (path, query 'seen')"),
        ({"account_id": "1"}, [], "missing request parameter 'page' (query string, query 'seen')"),
        (None, [], "missing request parameter 'account_id' (path or query string, query 'seen')"),
    ],
)
async def test_a_missing_parameter_names_where_it_was_looked_for(
    path_params, query, message
) -> None:
    def needs(account_id: int, page: int) -> str:
        return f"{account_id} {page}"

    # None: the parameters are declared by plain name, so either source would do.
    params = ("account_id", "page") if path_params is None else None
    strict = page(needs, params or Params(path=("account_id",), query=("page",)))
    request = Request(path_params=path_params or {}, query_params=engine.QueryParams(query))
    with pytest.raises(engine.ParameterError) as raised:
        await rendered(strict, request)
    assert str(raised.value) == f"page 'p': {message}"
    assert raised.value.node == "seen"  # for on_error and the log: which query asked
