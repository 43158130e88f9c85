"""Each definition check's error, whole: one mistake, one error naming page, node and key, with
the fix. Messages are compared in full (a check that names the wrong key, drops its hint or says
the wrong source is as broken as one that misses the mistake), one branch per test case."""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import types
import typing
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypedDict

import attrs
import msgspec
import pytest

import engine
from engine import (
    Action,
    Cache,
    Fragment,
    Graph,
    Layout,
    Loader,
    Page,
    Params,
    Query,
    Request,
    Resources,
    Response,
    Shell,
)
from engine.definition.actions import InputError
from engine.definition.convert import CONVERSION_ERRORS, converter_for
from engine.definition.decode import MAX_FILE_BYTES, FileProblem, decode_file
from engine.definition.paths import json_path_problem, path_problem
from engine.definition.refs import RefError, import_ref, parse_type
from engine.definition.signatures import (
    annotations_of,
    compatible,
    defaulted_parameters,
    describe,
    keyword_problems,
    type_name,
)
from engine.definition.validate import structure_problems
from engine.markup.templates import Expr
from tests.pages.fixtures import Item

HTML = '<!doctype html><html><head><meta charset="utf-8"></head><body>{}</body></html>'
HERE = __name__


def errors_of(page: Page) -> list[str]:
    with pytest.raises(engine.PageError) as caught:
        Graph.build(page)
    return [str(p) for p in caught.value.problems if p.severity == "error"]


def shell_page(*queries: Query, **extra: object) -> Page:
    """A page whose shell waits for each of ``queries``."""
    names = tuple(q.name for q in queries)
    return Page(
        name="p", shell=Shell(html=HTML.format(""), queries=names), queries=queries, **extra
    )


async def one() -> int:
    return 1


def sync_one() -> int:
    return 1


async def untyped_request(request) -> int:  # type: ignore[no-untyped-def]
    return 1


async def with_request(request: Request) -> int:
    return 1


async def with_response(response: Response) -> int:
    return 1


async def by_id(id: str) -> int:
    return 1


async def rows() -> AsyncIterator[int]:
    yield 1


async def users(keys: list[int]) -> list[int]:
    return keys


async def other_users(keys: list[int]) -> list[int]:
    return keys


async def no_keys() -> list[int]:
    return []


async def yielding_fetch(keys: list[int]) -> AsyncIterator[int]:
    yield 1


def sync_fetch(keys: list[int]) -> list[int]:
    return keys


async def with_users(users: object) -> int:
    return 1


async def with_both(users: object, other_users: object) -> int:
    return 1


def sync_with_users(users: object) -> int:
    return 1


async def yielding_with_users(users: object) -> AsyncIterator[int]:
    yield 1


# -- queries -------------------------------------------------------------------------------


def test_a_query_on_asyncio_must_be_async() -> None:
    assert errors_of(shell_page(Query(name="a", call=sync_one, result=int, loop="asyncio"))) == [
        f"$.queries[0].loop: error: page 'p' [a]: runs on asyncio but {HERE}:sync_one is not"
        " async: a sync callable runs in a worker thread; make it `async def` or drop"
        ' `loop = "asyncio"`'
    ]
    graph = Graph.build(shell_page(Query(name="a", call=one, result=int, loop="asyncio")))
    assert (graph.queries[0].loop, graph.asyncio_queries) == ("asyncio", ("a",))


def test_an_unannotated_request_argument_is_told_how_to_receive_it() -> None:
    assert errors_of(shell_page(Query(name="a", call=untyped_request, result=int))) == [
        f"$.queries[0].call: error: page 'p' [a]: callable {HERE}:untyped_request requires"
        " argument(s) request that nothing provides (annotate it: `request: engine.Request`"
        " receives the request, `response: engine.Response` the response head)"
    ]
    # Any other missing argument is only missing.
    assert errors_of(shell_page(Query(name="a", call=by_id, result=int))) == [
        f"$.queries[0].call: error: page 'p' [a]: callable {HERE}:by_id requires argument(s)"
        " id that nothing provides"
    ]


def test_a_request_argument_is_not_also_a_parameter() -> None:
    query = Query(name="a", call=with_request, result=int, params=("request",))
    assert errors_of(shell_page(query)) == [
        f"$.queries[0].call: error: page 'p' [a]: request of {HERE}:with_request is annotated"
        " engine.Request or engine.Response, so the engine passes that object: do not also"
        " declare it"
    ]
    graph = Graph.build(shell_page(Query(name="a", call=with_request, result=int)))
    assert graph.queries[0].context == {"request": "request"}


@pytest.mark.parametrize(
    ("first", "second", "says"),
    [
        (Params(path=("id",)), Params(query=("id",)), "the query string here but from the path"),
        (Params(header=("id",)), Params(cookie=("id",)), "a cookie here but from a header"),
        (
            ("id",),
            Params(query=("id",)),
            "the query string here but from a plain name in params (path or query string)",
        ),
        (
            Params(query=("id",)),
            ("id",),
            "a plain name in params (path or query string) here but from the query string",
        ),
    ],
)
def test_a_parameter_has_one_source_per_page(first: object, second: object, says: str) -> None:
    page = shell_page(
        Query(name="a", call=by_id, result=int, params=first),  # type: ignore[arg-type]
        Query(name="b", call=by_id, result=int, params=second),  # type: ignore[arg-type]
    )
    key = "params[0]" if isinstance(second, tuple) else f"params.{_source(second)}[0]"
    assert errors_of(page) == [
        f"$.queries[1].{key}: error: page 'p' [b]: parameter 'id' comes from {says} in query"
        " 'a': a name has one source per page; declare the same source in both or rename one"
    ]


def _source(params: object) -> str:
    assert isinstance(params, Params)
    return next(s for s in ("path", "query", "header", "cookie") if getattr(params, s))


def test_a_parameter_declared_with_two_sources_in_one_query_keeps_one() -> None:
    query = Query(name="a", call=by_id, result=int, params=Params(path=("id",), header=("id",)))
    assert errors_of(shell_page(query)) == [
        "$.queries[0].params.header[0]: error: page 'p' [a]: parameter 'id' is declared twice"
        " (the path and a header): a parameter has one source; keep one of them"
    ]


def test_the_same_parameter_from_the_same_source_in_two_queries_is_fine() -> None:
    graph = Graph.build(
        shell_page(
            Query(name="a", call=by_id, result=int, params=Params(cookie=("id",))),
            Query(name="b", call=by_id, result=int, params=Params(cookie=("id",))),
        )
    )
    assert [q.sources for q in graph.queries] == [{"id": "cookie"}, {"id": "cookie"}]


def test_only_a_query_the_shell_waits_for_may_set_the_response_head() -> None:
    page = Page(
        name="p",
        shell=Shell(html=HTML.format("")),
        queries=(Query(name="a", call=with_response, result=int, expose=True),),
    )
    assert errors_of(page) == [
        f"$.queries[0].call: error: page 'p' [a]: parameter 'response' of {HERE}:with_response"
        " is an engine.Response, but query 'a' runs after the first byte, when the head is"
        " already sent: add 'a' to shell.queries (or set headers and cookies from a shell"
        " query)"
    ]
    # A query the shell query depends on runs before the first byte too.
    page = Page(
        name="p",
        shell=Shell(html=HTML.format(""), queries=("b",)),
        queries=(
            Query(name="a", call=with_response, result=int),
            Query(name="b", call=with_a, result=int, depends_on=("a",)),
        ),
    )
    assert Graph.build(page).queries[0].context == {"response": "response"}


async def with_a(a: int) -> int:
    return a


# -- resources -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resources", "fix"),
    [
        (
            None,
            "the page declares no resources: add resources = 'package.module:attr' naming an"
            " engine.Resources that has 'db'",
        ),
        (Resources(), "the page's resources declare none; add 'db' to them or fix the name"),
        (
            Resources(cache=dict, http=dict),
            "the page's resources declare 'cache', 'http'; add 'db' to them or fix the name",
        ),
    ],
)
def test_a_query_needs_declared_resources(resources: Resources | None, fix: str) -> None:
    query = Query(name="a", call=one, result=int, resources=("cache", "db"))
    page = shell_page(query, resources=resources)
    expected = [
        f"$.queries[0].resources[1]: error: page 'p' [a]: needs resource 'db', which is not"
        f" declared: {fix}"
    ]
    if resources is None or not resources.names:  # then 'cache' is missing too, the same way
        expected.insert(0, expected[0].replace("[1]", "[0]").replace("'db'", "'cache'"))
    assert errors_of(page) == expected


def test_resources_must_name_an_engine_resources() -> None:
    query = Query(name="a", call=one, result=int)
    assert errors_of(shell_page(query, resources="engine:Graph")) == [
        "$.resources: error: page 'p': resources must name an engine.Resources, not a type:"
        " declare them as resources = engine.Resources(db=open_database, ...)"
    ]
    assert errors_of(shell_page(query, resources="engine:Grpah")) == [
        "$.resources: error: page 'p': module 'engine' has no attribute 'Grpah' (did you mean"
        " 'Graph'?)"
    ]


def test_an_actions_resources_must_be_declared() -> None:
    async def go(db: object) -> None:
        return None

    for resources, known in ((None, "none"), (Resources(cache=dict), "'cache'")):
        page = shell_page(
            Query(name="a", call=one, result=int),
            actions=(Action(name="go", call=go, resources=("db",)),),
            resources=resources,
        )
        assert errors_of(page) == [
            "$.actions[0].resources[0]: error: page 'p' [go]: needs resource 'db', which is not"
            f" declared (the page's resources: {known}); add it to the page's engine.Resources"
            " or fix the name"
        ]


def test_an_actions_callable_is_told_what_it_receives() -> None:
    class Note(msgspec.Struct):
        text: str

    async def no_input(request: Request) -> None:
        return None

    page = shell_page(
        Query(name="a", call=one, result=int),
        actions=(Action(name="add", call=no_input, input=Note),),
    )
    name = f"{HERE}:test_an_actions_callable_is_told_what_it_receives.<locals>.no_input"
    assert errors_of(page) == [
        f"$.actions[0].call: error: page 'p' [add]: callable {name} does not accept keyword"
        " argument(s) data (an action receives its input as `data`, `request: engine.Request`,"
        " `response: engine.Response` and its declared resources by name)"
    ]


# -- caching -------------------------------------------------------------------------------


def test_a_cached_query_may_not_set_the_response_head() -> None:
    query = Query(name="a", call=with_response, result=int, cache=Cache(ttl=5))
    assert errors_of(shell_page(query)) == [
        f"$.queries[0].cache: error: page 'p' [a]: is cached, but {HERE}:with_response sets the"
        " response head (response: engine.Response): a cached result would skip its cookies"
        " and headers; move that into an uncached shell query or drop cache"
    ]


def test_a_cached_query_may_not_yield_batches() -> None:
    page = Page(
        name="p",
        shell=Shell(html=HTML.format('<?marker name="r">')),
        queries=(Query(name="a", call=rows, result=int, cache=Cache(ttl=5)),),
        fragments=(
            Fragment(target="r", uses=("a",), mode="append", render=lambda a: "", fallback="…"),
        ),
    )
    assert errors_of(page) == [
        f"$.queries[0].cache: error: page 'p' [a]: is cached, but {HERE}:rows yields batches:"
        " only a whole result can be cached; return the list at once or drop cache"
    ]


def test_a_cached_query_may_not_read_through_loaders() -> None:
    query = Query(
        name="a",
        call=with_both,
        result=int,
        loaders=(Loader(users), Loader(other_users)),
        cache=Cache(ttl=5),
    )
    assert errors_of(shell_page(query)) == [
        "$.queries[0].cache: error: page 'p' [a]: is cached, but it reads through loader(s)"
        " 'users', 'other_users': a loader batches the calls of one request, and a shared cached"
        " call outlives the request that started it; cache the queries that do not use it, or"
        " drop cache"
    ]


# -- loaders -------------------------------------------------------------------------------


def _loader_page(*loaders: object, call: object = with_users) -> Page:
    query = Query(name="a", call=call, result=int, loaders=loaders)  # type: ignore[arg-type]
    return shell_page(query)


def test_a_loader_must_be_an_engine_loader() -> None:
    assert errors_of(_loader_page(users)) == [
        f"$.queries[0].loaders[0]: error: page 'p' [a]: loader {HERE}:users is not an"
        " engine.Loader (function): declare it with @engine.loader() above the function, or"
        " engine.Loader(users)"
    ]
    assert errors_of(_loader_page(Loader(users), 3)) == [
        "$.queries[0].loaders[1]: error: page 'p' [a]: loader 3 is not an engine.Loader (int):"
        " name an engine.Loader"
    ]
    assert errors_of(_loader_page(f"{HERE}:users")) == [
        f"$.queries[0].loaders[0]: error: page 'p' [a]: loader '{HERE}:users' is not an"
        " engine.Loader (function): declare it with @engine.loader() above the function, or"
        " engine.Loader(users)"
    ]


def test_two_loaders_of_a_query_may_not_share_a_name() -> None:
    assert errors_of(_loader_page(Loader(users), Loader(other_users, name="users"))) == [
        "$.queries[0].loaders[1]: error: page 'p' [a]: two loaders named 'users': a query"
        " receives each loader under its name; rename one (engine.Loader(fetch, name=...))"
    ]


@pytest.mark.parametrize(
    ("fetch", "why"),
    [
        (no_keys, "no_keys must take the list of keys as its one positional argument"),
        (
            yielding_fetch,
            "yielding_fetch yields batches; a loader returns one value per key (a mapping or a"
            " list aligned with the keys)",
        ),
        (engine.on_asyncio(sync_fetch), "sync_fetch is marked asyncio but is not async"),
    ],
)
def test_a_loaders_fetch_returns_one_value_per_key(fetch: object, why: str) -> None:
    loader = Loader(fetch, name="users")  # type: ignore[arg-type]
    assert errors_of(_loader_page(loader)) == [
        f"$.queries[0].loaders[0]: error: page 'p' [a]: loader 'users': {HERE}:{why}"
    ]


def test_a_query_using_loaders_is_async_and_returns_one_value() -> None:
    assert errors_of(_loader_page(Loader(users), call=sync_with_users)) == [
        f"$.queries[0].call: error: page 'p' [a]: {HERE}:sync_with_users uses loaders but is"
        " not async: a sync query runs in a worker thread and cannot await a load; make it"
        " `async def`"
    ]
    page = Page(
        name="p",
        shell=Shell(html=HTML.format('<?marker name="r">')),
        queries=(Query(name="a", call=yielding_with_users, result=int, loaders=(Loader(users),)),),
        fragments=(
            Fragment(target="r", uses=("a",), mode="append", render=lambda a: "", fallback="…"),
        ),
    )
    assert errors_of(page) == [
        f"$.queries[0].call: error: page 'p' [a]: {HERE}:yielding_with_users yields batches;"
        " loaders serve queries that return one value (load the keys in a query of their own)"
    ]


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"fetch": 3}, "engine.Loader: fetch must be callable, not int"),
        (
            {"fetch": lambda keys: keys},
            "engine.Loader: the name '<lambda>' is not a Python identifier; queries receive the"
            " loader as a keyword argument: pass name='users'",
        ),
        (
            {"fetch": users, "name": "1st"},
            "engine.Loader: the name '1st' is not a Python identifier; queries receive the"
            " loader as a keyword argument: pass name='users'",
        ),
        (
            {"fetch": users, "source": "the-db"},
            "engine.Loader 'users': source 'the-db' is not a valid source name (a Python"
            " identifier, as in engine.Sources(db=4))",
        ),
        (
            {"fetch": users, "source": 4},
            "engine.Loader 'users': source 4 is not a valid source name (a Python identifier, as"
            " in engine.Sources(db=4))",
        ),
        *(
            (
                {"fetch": users, "max_batch": bad},
                f"engine.Loader 'users': max_batch must be an integer >= 1, not {bad!r}",
            )
            for bad in (0, True, 1.5)
        ),
    ],
)
def test_a_loader_is_checked_when_declared(arguments: dict[str, object], error: str) -> None:
    with pytest.raises((TypeError, ValueError)) as caught:
        Loader(**arguments)  # type: ignore[arg-type]
    assert str(caught.value) == error


def test_a_loader_says_what_it_is() -> None:
    assert repr(Loader(users, max_batch=1)) == "Loader('users', max_batch=1)"
    assert repr(Loader(users, name="u", source="db")) == "Loader('u', source='db')"
    declared = engine.loader(name="people", source="db", max_batch=50)(users)
    assert (declared.name, declared.source, declared.max_batch) == ("people", "db", 50)
    assert declared.fetch is users and declared.is_async and declared.loop == "trio"


# -- type expressions (refs) ---------------------------------------------------------------

_KNOWN = "None, any, bool, bytes, dict, float, frozenset, int, list, object, set, str, tuple"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty type"),
        ("   ", "empty type"),
        ("list[", "expected a type in type 'list['"),
        ("int | ", "expected a type in type 'int | '"),
        ("list[int", "expected ']' in type 'list[int'"),
        ("list[int]]", "unexpected ']' in type 'list[int]]'"),
        ("int,", "unexpected ',' in type 'int,'"),
        ("list[int] list", "unexpected 'list' in type 'list[int] list'"),
        ("[int]", "expected a type name, found '[' in '[int]'"),
        ("list[,]", "expected a type name, found ',' in 'list[,]'"),
        ("int | |", "expected a type name, found '|' in 'int | |'"),
        ("__import__('os')", "cannot read type \"__import__('os')\" at position 10"),
        ("list[int]  ;", "cannot read type 'list[int]  ;' at position 9"),
        (
            "integr",
            f"unknown type 'integr' in 'integr' (did you mean 'int'?): use one of {_KNOWN}, or"
            " 'package.module:Class'",
        ),
        (
            "list[Product]",
            f"unknown type 'Product' in 'list[Product]': use one of {_KNOWN}, or"
            " 'package.module:Class'",
        ),
        (
            "int[str]",
            "'int' takes no parameters [<class 'str'>]: type 'int' is not subscriptable",
        ),
        (
            "nowhere_at_all:Thing",
            "cannot import module 'nowhere_at_all' for 'nowhere_at_all:Thing': No module named"
            " 'nowhere_at_all'",
        ),
    ],
)
def test_a_bad_type_expression_says_where_and_why(text: str, message: str) -> None:
    with pytest.raises(RefError) as caught:
        parse_type(text)
    assert str(caught.value) == message
    expected_missing = "nowhere_at_all" if text.startswith("nowhere") else None
    assert caught.value.missing_module == expected_missing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" list[ int ] ", list[int]),
        ("dict[str,int]", dict[str, int]),
        ("int|None", int | None),
        ("tuple[int, str, ...]", tuple[int, str, ...]),
        ("set[frozenset[bytes]] | None", set[frozenset[bytes]] | None),
        ("None", type(None)),
        ("object", object),
        ("Any", Any),
    ],
)
def test_type_expressions_read_like_python(text: str, expected: object) -> None:
    assert parse_type(text) == expected


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("fixtures", "'fixtures' is not of the form 'package.module:attribute'"),
        (":Item", "':Item' is not of the form 'package.module:attribute'"),
        (
            "tests.pages.fixtures:",
            "'tests.pages.fixtures:' is not of the form 'package.module:attribute'",
        ),
        (
            "tests.pages.fixtures:Itme",
            "module 'tests.pages.fixtures' has no attribute 'Itme' (did you mean 'Item'?)",
        ),
        (
            "tests.pages.fixtures:Item.nope",
            "module 'tests.pages.fixtures' has no attribute 'Item.nope'",
        ),
    ],
)
def test_a_bad_reference_says_why(ref: str, message: str) -> None:
    with pytest.raises(RefError) as caught:
        import_ref(ref)
    assert str(caught.value) == message
    assert caught.value.missing_module is None


def test_a_module_failing_on_import_is_named_with_its_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    name = f"m_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{name}.py").write_text("import nowhere_inside\n")
    with pytest.raises(RefError) as caught:
        import_ref(f"{name}:x")
    assert str(caught.value) == (
        f"cannot import module {name!r} for '{name}:x': No module named 'nowhere_inside'"
    )
    assert caught.value.missing_module == "nowhere_inside"
    broken = f"b_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{broken}.py").write_text("x = 1 / 0\n")
    with pytest.raises(RefError) as caught:
        import_ref(f"{broken}:x")
    assert str(caught.value) == (
        f"importing module {broken!r} for '{broken}:x' raised ZeroDivisionError: division by zero"
    )
    assert caught.value.missing_module is None
    exiting = f"e_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{exiting}.py").write_text("import sys\nsys.exit(3)\n")
    with pytest.raises(RefError) as caught:
        import_ref(f"{exiting}:x")
    assert str(caught.value) == (
        f"importing module {exiting!r} for '{exiting}:x' called sys.exit(3): a module a page"
        " uses must not exit when imported"
    )


# -- type names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tp", "name"),
    [
        (int, "int"),
        (type(None), "None"),
        (int | None, "int | None"),
        (typing.Optional[int], "int | None"),  # noqa: UP045
        (typing.Union[int, str], "int | str"),  # noqa: UP007
        (list[int], "list[int]"),
        (typing.List[int], "list[int]"),  # noqa: UP006
        (dict[str, Item], "dict[str, Item]"),
        (tuple[int, ...], "tuple[int, ...]"),
        (list[Item] | None, "list[Item] | None"),
        (collections.abc.Sequence[int], "Sequence[int]"),
        (Literal["a", "b"], "Literal['a', 'b']"),
        (typing.Annotated[int, "x"], "Annotated[int, 'x']"),
        (Any, "Any"),
        (list, "list"),
        (Item, "Item"),
    ],
)
def test_a_type_is_named_as_its_author_wrote_it(tp: object, name: str) -> None:
    assert type_name(tp) == name


# -- template paths ------------------------------------------------------------------------


class Product(msgspec.Struct):
    name: str
    tags: list[str]

    @property
    def title(self) -> str:
        return self.name.title()


class Heading(TypedDict):
    title: str


class Point(NamedTuple):
    x: int


@dataclasses.dataclass
class Row:
    n: int


@attrs.define
class Record:
    m: int


class Pair(msgspec.Struct, array_like=True):
    a: int


UserId = typing.NewType("UserId", int)
T = typing.TypeVar("T")


@pytest.mark.parametrize(
    ("declared", "path", "problem"),
    [
        (Product, "nme", "q is Product, which has no field 'nme' (did you mean 'name'?)"),
        (Product, "name.upper", None),
        (Product, "title.anything", None),  # a property: what it returns is not declared here
        (Product, "tags.0.lower", None),
        (
            Product,
            "tags.x",
            "q.tags is list[str], which has no attribute 'x' (an item is .0, .1, ...)",
        ),
        (Product, "0", "q is Product, which has no items (.0 is for lists and tuples)"),
        (Row, "0", "q is Row, which has no items (.0 is for lists and tuples)"),
        (Record, "0", "q is Record, which has no items (.0 is for lists and tuples)"),
        (int, "0", "q is int, which has no items (.0 is for lists and tuples)"),
        (Row, "q", "q is Row, which has no field 'q'"),
        (Record, "q", "q is Record, which has no field 'q'"),
        (Point, "y", "q is Point, which has no field 'y'"),
        (Point, "0", None),
        (tuple[int, str], "1.nope", "q.1 is str, which has no attribute 'nope'"),
        (tuple[int, str], "2", "q is tuple[int, str], which has 2 items, so item 2 never exists"),
        (tuple[int, str], "3", "q is tuple[int, str], which has 2 items, so item 3 never exists"),
        (tuple[int, ...], "5.real", None),
        (tuple[int, ...], "5.nope", "q.5 is int, which has no attribute 'nope'"),
        (tuple, "x", "q is tuple, which has no attribute 'x' (an item is .0, .1, ...)"),
        (str, "0.x", "q.0 is str, which has no attribute 'x'"),
        (bytes, "0", None),
        (list, "0.x", None),
        (set[int], "0", None),
        (dict, "k.x", None),
        (
            dict[str, Product],
            "k.nme",
            "q.k is Product, which has no field 'nme' (did you mean 'name'?)",
        ),
        (
            dict[int, Product],
            "7.nme",
            "q.7 is Product, which has no field 'nme' (did you mean 'name'?)",
        ),
        (
            collections.abc.Sequence[Product],
            "0.nme",
            "q.0 is Product, which has no field 'nme' (did you mean 'name'?)",
        ),
        (Heading, "titel", "q is Heading, which has no key 'titel' (did you mean 'title'?)"),
        (Heading, "title.x", "q.title is str, which has no attribute 'x'"),
        (int, "real", None),
        (int, "nope", "q is int, which has no attribute 'nope'"),
        (Literal["a", "b"], "upper", None),
        (Literal["a"], "nope", "q is Literal['a'], which has no attribute 'nope'"),
        (Literal[1], "0", "q is Literal[1], which has no items (.0 is for lists and tuples)"),
        (
            typing.Annotated[Product, "x"],
            "nme",
            "q is Product, which has no field 'nme' (did you mean 'name'?)",
        ),
        (Product | Row, "name", "q is Row, which has no field 'name'"),
        (Any, "x", None),
        (object, "x", None),
        (T, "x", None),
        (UserId, "0", None),
        (UserId, "x", None),
    ],
)
def test_a_template_path_is_walked_through_its_declared_type(
    declared: object, path: str, problem: str | None
) -> None:
    expr = Expr("q", tuple(path.split(".")))
    found = path_problem(expr, declared, "shell")
    assert found == (None if problem is None else f"{{{{ q.{path} }}}}: {problem}")


def test_a_path_through_none_says_how_to_fix_it_where_it_is() -> None:
    shell = path_problem(Expr("q", ("name",)), Product | None, "shell")
    assert shell == (
        "{{ q.name }}: query 'q' is declared Product | None, so .name fails whenever it is"
        " None: raise engine.NotFound in the query instead of returning None (a 404), or"
        " declare the result without None"
    )
    fragment = path_problem(Expr("q", ("a", "name")), dict[str, Product | None], "fragment")
    assert fragment == (
        "{{ q.a.name }}: 'q.a' is declared Product | None, so .name fails whenever it is None:"
        " raise in the query instead of returning None (the fragment then shows its error"
        " HTML), or render with a function that handles None"
    )


@pytest.mark.parametrize(
    ("declared", "path", "problem"),
    [
        (Product, "nme", "q is Product, which has no key 'nme' (did you mean 'name'?)"),
        (Product, "tags.0", None),
        (Product, "tags.length", None),
        (Pair, "b", None),  # encoded as an array: not walked
        (Heading, "titel", "q is Heading, which has no key 'titel' (did you mean 'title'?)"),
        (Row, "q", "q is Row, which has no key 'q'"),
        (Record, "q", "q is Record, which has no key 'q'"),
        (Point, "x", None),
        (list[Product], "0.nme", "q.0 is Product, which has no key 'nme' (did you mean 'name'?)"),
        (dict[str, Product], "k.nme", None),
        (
            Product | None,
            "nme",
            "q is Product | None, which has no key 'nme' (did you mean 'name'?)",
        ),
        (Product | Row, "nme", "q is Product | Row, which has no key 'nme' (did you mean 'name'?)"),
        (Product | Row, "name", None),
        (type(None), "x", None),
        (tuple[int, str], "3", "q is tuple[int, str], which has 2 items, so item 3 never exists"),
        (int, "x", None),
        (Any, "x", None),
    ],
)
def test_a_binding_path_is_walked_through_the_json_of_its_type(
    declared: object, path: str, problem: str | None
) -> None:
    assert json_path_problem("q", path.split("."), declared) == problem


# -- page structure (validate) -------------------------------------------------------------


def _page_data(**fields: object) -> dict[str, object]:
    return {"name": "p", "shell": {"html": "x"}, **fields}


def _query(**fields: object) -> dict[str, object]:
    return {"name": "a", "call": "m:f", "result": "int", **fields}


def _fragment(**fields: object) -> dict[str, object]:
    return {"target": "t", "render": "m:f", "fallback": "x", **fields}


@pytest.mark.parametrize(
    ("data", "in_a_file", "in_python"),
    [
        (
            _page_data(qeries=[]),
            "$.qeries: error: page 'p': unknown key 'qeries' (did you mean 'queries'?)",
            "$.qeries: error: page 'p': unknown keyword argument 'qeries' (did you mean"
            " 'queries'?)",
        ),
        (
            _page_data(queries=[_query(timout=3)]),
            "$.queries[0].timout: error: page 'p' [a]: unknown key 'timout' (did you mean"
            " 'timeout'?)",
            None,
        ),
        (
            _page_data(queries=[_query(cache={"tll": 5})]),
            "$.queries[0].cache.tll: error: page 'p' [a]: unknown key 'tll' (did you mean 'ttl'?)",
            None,
        ),
        (
            _page_data(actions=[{"name": "go", "call": "m:f", "zzz": 1}]),
            "$.actions[0].zzz: error: page 'p' [go]: unknown key 'zzz' (known: name, call,"
            " input, invalidates, resources)",
            None,
        ),
        (
            _page_data(queries=[{"call": "m:f", "result": "int"}]),
            "$.queries[0].name: error: page 'p': missing required key 'name': A query name: a"
            " Python identifier (results are passed as keyword arguments).",
            None,
        ),
        (
            _page_data(fragments=[_fragment(priority="urgent")]),
            "$.fragments[0].priority: error: page 'p' [t]: invalid value 'urgent': expected one"
            " of 'high', 'low', 'normal' or an integer",
            None,
        ),
        (
            _page_data(fragments=[_fragment(priority="hihg")]),
            "$.fragments[0].priority: error: page 'p' [t]: invalid value 'hihg' (did you mean"
            " 'high'?): expected one of 'high', 'low', 'normal' or an integer",
            None,
        ),
        (
            _page_data(queries=[_query(loop="gevent")]),
            "$.queries[0].loop: error: page 'p' [a]: invalid value 'gevent': expected one of"
            " 'asyncio', 'trio'",
            None,
        ),
        (
            _page_data(navigation="yes"),
            "$.navigation: error: page 'p': invalid value 'yes': expected one of 'marked', true"
            " or false",
            None,
        ),
        (
            _page_data(queries=[_query(depends_on="b")]),
            "$.queries[0].depends_on: error: page 'p' [a]: expected a list of names, got the"
            " string 'b': write [\"b\"]",
            "$.queries[0].depends_on: error: page 'p' [a]: expected a list of names, got the"
            " string 'b': write ('b',) (a one-element tuple needs its trailing comma)",
        ),
        (
            _page_data(queries=[_query(params="id")]),
            "$.queries[0].params: error: page 'p' [a]: expected a list of names, got the string"
            " 'id': write [\"id\"]",
            None,
        ),
        (
            _page_data(shell={"html": "x", "queries": "a"}),
            "$.shell.queries: error: page 'p': expected a list of names, got the string 'a':"
            ' write ["a"]',
            None,
        ),
        (
            # A list of tables is no list of names: writing ["abc"] would not fix it.
            _page_data(queries="abc"),
            "$.queries: error: page 'p': Expected `array`, got `str`",
            None,
        ),
        (
            _page_data(queries=[_query(timeout="3")]),
            "$.queries[0].timeout: error: page 'p' [a]: expected a number, got the string '3':"
            " write 3 without quotes",
            None,
        ),
        (
            _page_data(queries=[_query(cache={"ttl": " 5.5"})]),
            "$.queries[0].cache.ttl: error: page 'p' [a]: expected a number, got the string"
            " ' 5.5': write 5.5 without quotes",
            None,
        ),
        (
            _page_data(queries=[_query(timeout="soon")]),
            "$.queries[0].timeout: error: page 'p' [a]: Expected `float | null`, got `str`",
            None,
        ),
        (
            _page_data(queries=[_query(name="a b")]),
            "$.queries[0].name: error: page 'p' [a b]: 'a b' is not a query name: a Python"
            " identifier (results are passed as keyword arguments)",
            None,
        ),
        (
            _page_data(shell="x"),
            "$.shell: error: page 'p': Expected `object`, got `str` (a table of keys)",
            None,
        ),
        ("hello", "error: page 'p': Expected `object`, got `str` (a table of keys)", None),
        (
            {"name": "p", "shell": {"html": "x"}, 1: "one"},
            "error: page 'p': Expected `str` for a key: keys are names, written as text",
            None,
        ),
    ],
)
def test_a_structure_mistake_is_explained_for_a_page_author(
    data: object, in_a_file: str, in_python: str | None
) -> None:
    def problems(python: bool) -> list[str]:
        return [str(p) for p in structure_problems(data, page="p", file=None, python=python)]

    assert problems(python=False) == [in_a_file]
    if in_python is not None:  # a hint that speaks of keys or lists is said for Python
        assert problems(python=True) == [in_python]


def test_each_nodes_first_structure_mistake_is_reported() -> None:
    data = _page_data(
        queries=[_query(timeout=3), _query(name="b", timeout="x", loop="x")],
        fragments=[_fragment(mode="apend")],
        shell={"html": "x", "queries": "b"},
    )
    assert [str(p) for p in structure_problems(data, page="p", file="p.toml", python=False)] == [
        "p.toml:$.queries[1].timeout: error: page 'p' [b]: Expected `float | null`, got `str`",
        "p.toml:$.fragments[0].mode: error: page 'p' [t]: invalid value 'apend' (did you mean"
        " 'append'?): expected one of 'append', 'replace'",
        "p.toml:$.shell.queries: error: page 'p': expected a list of names, got the string 'b':"
        ' write ["b"]',
    ]


def test_a_layouts_structure_is_checked_as_a_layout() -> None:
    data = {"content": "main", "shel": {"html": "x"}}
    assert [
        str(p) for p in structure_problems(data, Layout, page="p", file="l.toml", python=False)
    ] == ["l.toml:$.shel: error: page 'p': unknown key 'shel' (did you mean 'shell'?)"]


# -- page files (decode) -------------------------------------------------------------------


_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcd", "bcde", strict=True)
)


@pytest.mark.parametrize(
    ("name", "data", "problem", "key"),
    [
        ("page.txt", b"x", "expected a .toml, .json or .yaml file, not '.txt'", None),
        ("page", b"x", "expected a .toml, .json or .yaml file, not 'no suffix'", None),
        (
            "page.toml",
            b"",
            "the file is empty: a page needs at least 'name' and 'shell.html'",
            None,
        ),
        (
            "page.json",
            b" \n",
            "the file is empty: a page needs at least 'name' and 'shell.html'",
            None,
        ),
        ("page.toml", b"\xff\xfeh\x00", "the file is UTF-16 encoded: save it as UTF-8", None),
        ("page.toml", b"\xfe\xff\x00h", "the file is UTF-16 encoded: save it as UTF-8", None),
        (
            "page.toml",
            b'name = "a"\x00',
            "the file holds NUL bytes: it is binary, not a page file",
            None,
        ),
        (
            "page.toml",
            b'name = "a"\nx = "\xe9"\n',
            "the file is not UTF-8: byte 0xe9 at line 2, column 5 cannot be decoded; save it as"
            " UTF-8",
            None,
        ),
        (
            "page.toml",
            b'name = "a"\nname = "b"\n',
            "key 'name' is written twice (line 2): remove one",
            None,
        ),
        (
            "page.toml",
            b'[shell]\nhtml = "x"\n[shell]\nhtml = "y"\n',
            "key 'shell' is written twice (line 3): remove one",
            None,
        ),
        ("page.toml", b"name = \n", "Invalid value (at line 1, column 8)", None),
        (
            "page.json",
            b'{"a": 1,\n "b": }',
            "JSON is malformed: invalid character (line 2, column 7)",
            None,
        ),
        (
            "page.json",
            b'{"q": [{"x": 1}, {"x": 1, "x": 2}]}',
            "key 'x' is written twice in one object (JSON decoders keep only the last): remove one",
            "$.q[1].x",
        ),
        (
            "page.json",
            b"[" * 100_000 + b"]" * 100_000,
            "the file nests too deeply to read (a page is a few levels deep)",
            None,
        ),
        (
            "page.yaml",
            b"a: [1\n",
            "while parsing a flow sequence at line 1, column 4 did not find expected ',' or ']'"
            " at line 2, column 1",
            None,
        ),
        (
            "page.yml",
            b"a: 1\nb:\n  c: 1\n  c: 2\n",
            "key 'c' is written twice (line 4; YAML decoders keep only the last): remove one",
            "$.b.c",
        ),
        ("page.yaml", b"a: &x [*x]\n", "a YAML alias refers to a value that holds it", "$.a[0]"),
        (
            "page.yaml",
            _BOMB.encode(),
            "YAML aliases expand to more than 100000 values: a page is far smaller (use fewer"
            " aliases of aliases)",
            "$.e",
        ),
    ],
)
def test_a_page_file_that_cannot_be_read_says_why(
    tmp_path: Path, name: str, data: bytes, problem: str, key: str | None
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(FileProblem) as caught:
        decode_file(path)
    assert (str(caught.value), caught.value.key) == (problem, key)


def test_page_files_decode_whatever_their_suffixs_case(tmp_path: Path) -> None:
    for name, data in (
        ("a.JSON", b'{"a": [1, {"b": 2}]}'),
        ("b.yml", b"a: [1, {b: 2}]\n"),
        ("c.Toml", b"\xef\xbb\xbfa = [1, {b = 2}]\n"),
    ):
        (tmp_path / name).write_bytes(data)
        assert decode_file(tmp_path / name) == {"a": [1, {"b": 2}]}
    (tmp_path / "d.yaml").write_bytes(b"~\n")
    assert decode_file(tmp_path / "d.yaml") is None
    alias = tmp_path / "e.yaml"
    alias.write_bytes(b"a: &x [1, 2]\nb: [*x, *x]\n")
    assert decode_file(alias) == {"a": [1, 2], "b": [[1, 2], [1, 2]]}


def test_a_page_file_too_large_or_missing_says_so(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(FileProblem) as caught:
        decode_file(big)
    assert str(caught.value) == (
        "the file is 4.0 MiB; page files are limited to 4 MiB (keep large static content out of"
        " the page)"
    )
    big.write_bytes(b"#" * MAX_FILE_BYTES)
    assert decode_file(big) == {}
    with pytest.raises(FileProblem) as caught:
        decode_file(tmp_path / "missing.toml")
    assert str(caught.value) == "No such file or directory"


def test_a_dependency_cycle_is_reported_once_where_it_closes() -> None:
    async def step(**values: int) -> int:
        return 1

    queries = (
        Query(name="a", call=step, result=int, depends_on=("b",)),
        Query(name="b", call=step, result=int, depends_on=("c",)),
        Query(name="c", call=step, result=int, depends_on=("d", "b")),
        Query(name="d", call=step, result=int, depends_on=("c",)),
    )
    assert errors_of(shell_page(*queries)) == [
        "error: page 'p' [c]: dependency cycle: c -> d -> c",
        "error: page 'p' [b]: dependency cycle: b -> c -> b",
    ]


# -- the shell -----------------------------------------------------------------------------

_PLACEHOLDER = (
    "a placeholder is a path such as {{ query.field }} or {{ query.items.0 }}, optionally"
    " {{ query.link | url }}; for more, use a Jinja2 template (jinja = ...) or a render function"
)


def test_a_placeholder_syntax_error_is_keyed_in_its_own_layer_and_field() -> None:
    site = Layout(
        name="site",
        shell=Shell(html=HTML.format('<?marker name="content">'), head="<title>{{ a b }}</title>"),
    )
    page = Page(
        name="p",
        layout=site,
        shell=Shell(html="<p>{{ x.}}</p>", head="<meta {{ c d }}>"),
    )
    assert errors_of(page) == [
        f"$.layout.shell.head: error: page 'p': cannot read '{{{{ a b }}}}': {_PLACEHOLDER}",
        f"$.shell.html: error: page 'p': cannot read '{{{{ x.}}}}': {_PLACEHOLDER}",
        f"$.shell.head: error: page 'p': cannot read '{{{{ c d }}}}': {_PLACEHOLDER}",
    ]


def test_an_empty_fallback_is_a_warning_naming_its_key() -> None:
    page = Page(
        name="p",
        shell=Shell(html=HTML.format('<?marker name="a"><?marker name="b">')),
        fragments=(
            Fragment(target="a", template="1", fallback="…"),
            Fragment(target="b", template="2", fallback=" \n"),
        ),
    )
    assert [str(w) for w in Graph.build(page).warnings] == [
        "$.fragments[1].fallback: warning: page 'p' [b]: empty fallback: while it streams (and"
        " for good, to a visitor without JavaScript in a browser without native partial"
        " updates) the slot is blank"
    ]


# -- shell and slots -----------------------------------------------------------------------


async def rows_of_one() -> AsyncIterator[int]:
    yield 1


async def link() -> str:
    return "/"


QUERIES = (
    Query(name="one", call=one, result=int),
    Query(name="rows", call=rows_of_one, result=int),
    Query(name="link", call=link, result=str),
)


def fragment(target: str, **fields: object) -> Fragment:
    fields.setdefault("fallback", "…")
    if not {"render", "jinja", "jinja_source"} & fields.keys():
        fields.setdefault("template", "x")
    return Fragment(target=target, **fields)  # type: ignore[arg-type]


def slots_page(body: str, *fragments: Fragment, shell_queries: tuple[str, ...] = ()) -> Page:
    return Page(
        name="p",
        shell=Shell(html=HTML.format(body), queries=shell_queries),
        queries=QUERIES,
        fragments=fragments,
    )


@pytest.mark.parametrize(
    ("page", "errors"),
    [
        (
            slots_page("{{ one }}", shell_queries=("oen", "rows")),
            [
                "$.shell.queries[0]: error: page 'p': unknown shell query 'oen' (did you mean"
                " 'one'?)",
                "$.shell.queries[1]: error: page 'p': shell query 'rows' yields batches",
                "$.shell.html: error: page 'p': shell refers to one, not among the shell queries"
                " (add 'one' to shell.queries)",
            ],
        ),
        (
            slots_page("{{ one }}{{ rwos }}"),
            [
                "$.shell.html: error: page 'p': shell refers to one, rwos, not among the shell"
                " queries"
            ],
        ),
        (
            slots_page("{{ rwos }}", shell_queries=("rows",)),
            [
                "$.shell.queries[0]: error: page 'p': shell query 'rows' yields batches",
                "$.shell.html: error: page 'p': shell refers to rwos, not among the shell"
                " queries (did you mean 'rows'?)",
            ],
        ),
        (
            Page(
                name="p",
                shell=Shell(html=HTML.replace("</html>", "{{ one }}</html>"), queries=("one",)),
                queries=QUERIES[:1],
            ),
            [
                "$.shell.html: error: page 'p': placeholders after </body> are never filled: move"
                " them before it"
            ],
        ),
        (
            Page(
                name="p",
                shell=Shell(html=HTML.replace("</html>", '<?marker name="a"></html>')),
                fragments=(fragment("a"),),
            ),
            ["$.shell.html: error: page 'p': slot markers after </body> cannot be filled"],
        ),
        (
            slots_page('<?marker name="a"><?marker name="a">', fragment("a")),
            ["$.shell.html: error: page 'p': slot 'a' appears twice in the shell"],
        ),
        (
            slots_page(
                '<?marker name="a"><?marker name="b">',
                fragment("a", template='<?marker name="b">'),
                fragment("b"),
            ),
            [
                "$.fragments[0].template: error: page 'p' [a]: slot 'b' appears both in the shell"
                " and in fragment 'a'"
            ],
        ),
        (
            slots_page(
                '<?marker name="a"><?marker name="b">',
                fragment("a", render=lambda: "", slots=("b",)),
                fragment("b"),
            ),
            [
                "$.fragments[0].slots: error: page 'p' [a]: slot 'b' appears both in the shell and"
                " in fragment 'a'"
            ],
        ),
        (
            slots_page('<?marker name="items">', fragment("itms")),
            [
                "$.shell.html: error: page 'p' [items]: slot 'items' in the shell is filled by no"
                " fragment (did you mean 'itms'?)",
                "$.fragments[0].target: error: page 'p' [itms]: fills slot 'itms', which appears"
                " in no shell or fragment (did you mean 'items'?)",
            ],
        ),
        (
            slots_page('<?marker name="a">', fragment("a", template='<?marker name="inner">')),
            ["error: page 'p' [inner]: slot 'inner' in fragment 'a' is filled by no fragment"],
        ),
        (
            slots_page('<?marker name="a">', fragment("a"), fragment("a")),
            ["$.fragments[1].target: error: page 'p' [a]: two fragments fill slot 'a'"],
        ),
    ],
)
def test_a_shell_or_slot_mistake_is_one_error(page: Page, errors: list[str]) -> None:
    assert errors_of(page) == errors


# -- fragments -----------------------------------------------------------------------------


async def renders_async(one: int) -> str:
    return ""


def renders_text(one: str) -> str:
    return ""


def renders_x(x: int) -> str:
    return ""


@pytest.mark.parametrize(
    ("fragments", "errors"),
    [
        (
            # One misspelled name in 'uses': the template reading the right one is no second
            # error, nor is the renderer's signature.
            (
                fragment("a", uses=("oen",), template="{{ one }}"),
                fragment("b", uses=("oen",), jinja_source="{{ one }}"),
                fragment("c", uses=("oen",), render=renders_x),
            ),
            [
                f"$.fragments[{i}].uses[0]: error: page 'p' [{t}]: uses unknown query 'oen' (did"
                " you mean 'one'?)"
                for i, t in enumerate("abc")
            ],
        ),
        (
            (fragment("a", uses=("one", "rows"), template="{{ one }}"),),
            [
                "$.fragments[0].mode: error: page 'p' [a]: uses batched query 'rows': set mode"
                ' = "append"'
            ],
        ),
        (
            (fragment("a", uses=("one",), mode="append", render=lambda one: ""),),
            [
                "$.fragments[0].uses: error: page 'p' [a]: an append fragment uses exactly one"
                " batched query (an async generator); found 0"
            ],
        ),
        (
            (fragment("a", render=lambda: "", template="x", jinja_source="x"),),
            [
                "$.fragments[0]: error: page 'p' [a]: set exactly one of 'render', 'template',"
                " 'jinja', 'jinja_source' (found render, template, jinja_source)"
            ],
        ),
        (
            (fragment("a", template=None),),
            [
                "$.fragments[0]: error: page 'p' [a]: set exactly one of 'render', 'template',"
                " 'jinja', 'jinja_source'"
            ],
        ),
        (
            (fragment("a", uses=("one",), template="{{ one }} {{ x }} {{ y }}"),),
            [
                "$.fragments[0].template: error: page 'p' [a]: template refers to x, y, not in"
                " 'uses'"
            ],
        ),
        (
            (fragment("a", uses=("one",), template="{{ oen }}"),),
            [
                "$.fragments[0].template: error: page 'p' [a]: template refers to oen, not in"
                " 'uses' (did you mean 'one'?)"
            ],
        ),
        (
            (fragment("a", uses=("one",), template="{{ one.x }}"),),
            [
                "$.fragments[0].template: error: page 'p' [a]: {{ one.x }}: one is int, which has"
                " no attribute 'x'"
            ],
        ),
        (
            (fragment("a", uses=("one",), jinja_source="{{ one }} {{ x }} {{ y }}"),),
            [
                "$.fragments[0].jinja_source: error: page 'p' [a]: template reads x, y, not in"
                " 'uses' (add the query to 'uses', or fix the name)"
            ],
        ),
        (
            (fragment("a", uses=("one",), render=renders_async),),
            [
                f"$.fragments[0].render: error: page 'p' [a]: renderer {HERE}:renders_async is"
                " async: fetch data in queries, render synchronously"
            ],
        ),
        (
            (fragment("a", uses=("one",), render=renders_text),),
            [
                "$.fragments[0].render: error: page 'p' [a]: renderer parameter 'one' is annotated"
                " str but query 'one' declares int"
            ],
        ),
        (
            (fragment("a", uses=("one",), render=renders_x),),
            [
                f"$.fragments[0].render: error: page 'p' [a]: renderer {HERE}:renders_x {why}"
                for why in (
                    "does not accept keyword argument(s) one",
                    "requires argument(s) x that nothing provides",
                )
            ],
        ),
        (
            (fragment("a", uses=("one",), render=3),),
            ["$.fragments[0].render: error: page 'p' [a]: 3 is not callable"],
        ),
        (
            (fragment("a", fallback='<?marker name="x">', error='<?marker name="y">'),),
            [
                f"$.fragments[0].{field}: error: page 'p' [a]: {field} HTML must not contain slot"
                " markers: they would never be filled"
                for field in ("fallback", "error")
            ],
        ),
    ],
)
def test_a_fragment_mistake_is_one_error(
    fragments: tuple[Fragment, ...], errors: list[str]
) -> None:
    body = "".join(f'<?marker name="{f.target}">' for f in fragments)
    assert errors_of(slots_page(body, *fragments)) == errors


@pytest.mark.parametrize(
    ("body", "fallback", "error", "warnings"),
    [
        (
            '<table><?marker name="a"></table>',
            "loading, please wait for the whole table",
            "oops",
            [
                "$.fragments[0].fallback: warning: page 'p' [a]: slot is inside a table, where"
                " the text 'loading, please wait for the w' of its fallback cannot stay (a table"
                " moves it out for good): use rows",
                "$.fragments[0].error: warning: page 'p' [a]: slot is inside a table, where the"
                " text 'oops' of its error cannot stay (a table moves it out for good): use rows",
            ],
        ),
        (
            '<select><?marker name="a"></select>',
            "loading",
            None,
            [
                "$.fragments[0].fallback: warning: page 'p' [a]: slot is inside a select, where"
                " the text 'loading' of its fallback cannot stay (a select shows only its"
                " options): use options"
            ],
        ),
        ('<table><?marker name="a"></table>', "<tr><td>…</td></tr>", "<!-- x -->", []),
        ('<div><?marker name="a"></div>', "loading", "oops", []),
    ],
)
def test_text_a_table_or_select_would_move_out_is_a_warning(
    body: str, fallback: str, error: str | None, warnings: list[str]
) -> None:
    page = slots_page(body, fragment("a", fallback=fallback, error=error))
    assert [str(w) for w in Graph.build(page).warnings if w.node == "a"] == warnings


def test_an_unsafe_url_placeholder_is_a_warning_where_it_is_written() -> None:
    fix = (
        "escaping does not stop a javascript: URL from running; write {{ link | url }} (http(s),"
        " mailto and relative URLs pass, anything else becomes about:blank#blocked)"
    )
    page = Page(
        name="p",
        shell=Shell(
            html=HTML.format('<a href="{{link}}">x</a><?marker name="a">'),
            queries=("link",),
            head='<link rel="icon" href="{{ link }}">',
        ),
        queries=QUERIES[2:],
        fragments=(fragment("a", uses=("link",), template='<a href="{{ link }}">x</a>'),),
    )
    assert [str(w) for w in Graph.build(page).warnings] == [
        f"$.fragments[0].template: warning: page 'p' [a]: {{{{ link }}}} starts the URL in href=:"
        f" {fix}",
        f"$.shell.html: warning: page 'p': {{{{link}}}} starts the URL in href=: {fix}",
        f"$.shell.head: warning: page 'p': {{{{ link }}}} starts the URL in href=: {fix}",
    ]


# -- layouts -------------------------------------------------------------------------------


def test_a_layouts_content_slot_must_be_held_once() -> None:
    site = Layout(name="site", content="main", shell=Shell(html=HTML.format("<main></main>")))
    assert errors_of(Page(name="p", layout=site, shell=Shell(html="x"))) == [
        "$.layout.shell.html: error: page 'p': the shell of layout 'site' must hold its content"
        ' slot <?marker name="main"> exactly once, for the page to fill; found 0'
    ]


def test_a_misspelled_content_slot_is_one_error_with_the_slot_meant() -> None:
    site = Layout(
        name="site",
        content="main",
        shell=Shell(html=HTML.format('<main><?marker name="mian"></main><?marker name="aside">')),
    )
    page = Page(name="p", layout=site, shell=Shell(html="x"), fragments=(fragment("aside"),))
    assert errors_of(page) == [
        "$.layout.shell.html: error: page 'p': the shell of layout 'site' must hold its content"
        ' slot <?marker name="main"> exactly once, for the page to fill; found 0'
        " (did you mean 'mian'?)"
    ]


def test_a_node_declared_by_a_layout_and_its_page_is_one_error() -> None:
    site = Layout(
        name="site",
        shell=Shell(
            html=HTML.format('<?marker name="content"><?marker name="a">'), queries=("one",)
        ),
        queries=QUERIES[:1],
        fragments=(fragment("a"),),
    )
    page = Page(
        name="p",
        layout=site,
        shell=Shell(html="{{ one }}", queries=("one",)),
        queries=QUERIES[:1],
        fragments=(fragment("a"),),
    )
    assert errors_of(page) == [
        f"$.{field}[0]: error: page 'p' [{name}]: {what} is declared both by layout 'site'"
        " ($.layout) and by page 'p': rename one (a layout and its pages share one graph)"
        for field, name, what in (
            ("queries", "one", "query 'one'"),
            ("fragments", "a", "fragment for slot 'a'"),
        )
    ]


def test_a_layout_file_that_cannot_be_found_says_where_it_was_looked_for(tmp_path: Path) -> None:
    source = str(tmp_path / "p.toml")
    for ref, looked in (
        ("nowhere.toml", f" (looked at {tmp_path / 'nowhere.toml'})"),
        (str(tmp_path / "nowhere.toml"), ""),
    ):
        with pytest.raises(engine.PageError) as caught:
            Graph.build(Page(name="p", layout=ref, shell=Shell(html="x")), source=source)
        assert [str(p) for p in caught.value.problems] == [
            f"{source}:$.layout: error: page 'p': layout file {ref!r} not found{looked}"
        ]


def test_a_layout_cycle_is_named_in_the_file_that_closes_it(tmp_path: Path) -> None:
    for name, other in (("a", "b"), ("b", "a")):
        (tmp_path / f"{name}.toml").write_text(
            f'layout = "{other}.toml"\n[shell]\nhtml = \'<?marker name="content">\'\n'
        )
    with pytest.raises(engine.PageError) as caught:
        Graph.build(
            Page(name="p", layout="a.toml", shell=Shell(html="x")), source=str(tmp_path / "p.toml")
        )
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    assert [str(p) for p in caught.value.problems] == [
        f"{b}:$.layout: error: page 'p': layout cycle: {a} -> {b} -> {a}"
    ]


@pytest.mark.parametrize(
    ("write", "reason"),
    [(None, "No such file or directory"), (b"\xff\xfe<p>", "not UTF-8")],
)
def test_a_shell_template_that_cannot_be_read_is_one_error(
    tmp_path: Path, write: bytes | None, reason: str
) -> None:
    """Not also a shell without </body> and every slot filled by no fragment."""
    template = tmp_path / "shell.html"
    if write is not None:
        template.write_bytes(write)
    page = Page(
        name="p", shell=Shell(jinja=str(template)), fragments=(fragment("a"), fragment("b"))
    )
    assert errors_of(page) == [
        f"$.shell.jinja: error: page 'p': cannot read template {template}: {reason}"
    ]


def test_a_head_needs_the_documents_head() -> None:
    page = Page(
        name="p",
        shell=Shell(html='<html><body><meta charset="utf-8">x</body></html>', head="<title>t"),
    )
    assert errors_of(page) == [
        "$.shell.head: error: page 'p': 'head' adds to the document's <head>, but the document"
        " has no </head>"
    ]
    site = Layout(
        name="site",
        navigation=True,
        shell=Shell(html='<html><body><meta charset="utf-8"><?marker name="content"></body>'),
    )
    assert errors_of(Page(name="p", layout=site, shell=Shell(html="x"))) == [
        "$.layout.navigation: error: page 'p': navigation marks each layout's part of <head>, but"
        " the document has no </head>: write <head>…</head> in the outermost layout's shell"
    ]


def test_a_shell_sets_one_of_html_jinja_and_jinja_source() -> None:
    page = Page(name="p", shell=Shell(html=HTML.format("x"), jinja_source=HTML.format("y")))
    assert errors_of(page) == [
        "$.shell: error: page 'p': set one of 'html', 'jinja' and 'jinja_source' (found html,"
        " jinja_source)"
    ]


class PriceList:
    """A callable object: its ``repr`` may hold its address, its class does not."""

    async def __call__(self) -> list[int]:
        return []


def test_a_cache_policys_identity_holds_family_version_callable_and_type() -> None:
    page = shell_page(
        Query(name="a", call=one, result=int, cache=Cache(ttl=5)),
        Query(
            name="b",
            call=PriceList(),
            result=list[Item] | None,
            cache=Cache(ttl=1.5, stale=2, failures=3, name="prices", version="2"),
        ),
    )
    policies = [q.cache for q in Graph.build(page).queries]
    assert [
        (p.ttl, p.stale, p.failures, p.family, p.identity) for p in policies if p is not None
    ] == [
        (5, 0, None, "p.a", f"p.a||{HERE}:one|int"),
        (1.5, 2, 3, "prices", f"prices|2|{HERE}:PriceList|list[Item] | None"),
    ]


def test_an_actions_input_type_that_cannot_be_resolved_is_keyed_at_its_input() -> None:
    async def go(data: object) -> None:
        return None

    for ref, why in (
        (
            "integr",
            f"unknown type 'integr' in 'integr' (did you mean 'int'?): use one of {_KNOWN},"
            " or 'package.module:Class'",
        ),
        (
            "nowhere_at_all:X",
            "cannot import module 'nowhere_at_all' for 'nowhere_at_all:X': No"
            " module named 'nowhere_at_all'; modules resolve from the current directory and"
            " PYTHONPATH",
        ),
    ):
        page = shell_page(
            Query(name="a", call=one, result=int), actions=(Action(name="go", call=go, input=ref),)
        )
        assert errors_of(page) == [f"$.actions[0].input: error: page 'p' [go]: {why}"]


def test_an_input_error_says_each_field_and_the_whole() -> None:
    error = InputError({"": "Expected `object`, got `array`", "qty": "Expected `int`"})
    assert str(error) == "$: Expected `object`, got `array`; qty: Expected `int`"
    assert error.errors == {"": "Expected `object`, got `array`", "qty": "Expected `int`"}


def test_a_jinja_layouts_page_shell_is_checked_in_its_own_layer() -> None:
    site = Layout(
        name="site",
        shell=Shell(jinja_source=HTML.format('{{ slot("content") }}'), queries=("one",)),
        queries=QUERIES[:1],
    )

    def errors(html: str, head: str) -> list[str]:
        return errors_of(Page(name="p", layout=site, shell=Shell(html=html, head=head)))

    assert errors("<p>{{ nope }} {{ one }}</p>", "<title>{{ two }}</title>") == [
        f"$.shell.{field}: error: page 'p': shell refers to {name}, not among the shell queries"
        for field, name in (("html", "nope"), ("head", "two"))
    ]
    # A syntax error in a layer is one error, not also one of the folded shell.
    assert errors("<p>{{ nope. }}</p>", "<title>t</title>") == [
        f"$.shell.html: error: page 'p': cannot read '{{{{ nope. }}}}': {_PLACEHOLDER}"
    ]
    assert errors("<p>{{ nope }} {{ no }}</p>", "<title>t</title>") == [
        "$.shell.html: error: page 'p': shell refers to no, nope, not among the shell queries"
    ]
    # Plain text each layer reads alone, but Jinja2 syntax once folded into the layout's
    # template: an error of the folded shell, keyed at the layout that makes it Jinja2.
    assert errors("<p>{# x</p>", "<title>t</title>") == [
        "$.layout.shell.jinja_source: error: page 'p': the folded shell: inline template:1:"
        " template syntax error: Missing end of comment tag"
    ]


async def row_or_record() -> Row | Record:
    return Row(1)


async def maybe_product() -> Product | None:
    return None


def test_a_jinja_template_checks_only_what_a_union_of_records_shows() -> None:
    """``Product | None`` is a Product where it is read; ``Row | Record`` may be either, so
    neither's fields decide."""
    page = Page(
        name="p",
        shell=Shell(html=HTML.format('<?marker name="a">')),
        queries=(
            Query(name="either", call=row_or_record, result=Row | Record),
            Query(name="maybe", call=maybe_product, result=Product | None),
        ),
        fragments=(
            fragment(
                "a",
                uses=("either", "maybe"),
                jinja_source="{{ either.n }}{{ either.nme }}{{ maybe.nme }}{{ maybe.name }}",
            ),
        ),
    )
    assert errors_of(page) == [
        "$.fragments[0].jinja_source: error: page 'p' [a]: inline template:1: maybe.nme reads"
        " 'nme', but Product has no such field (its fields: name, tags)"
    ]


@attrs.define
class Shelf:
    product: Product


@dataclasses.dataclass
class Nothing:
    pass


async def shelf() -> Shelf:
    return Shelf(Product("Tea", []))


async def nothing() -> Nothing:
    return Nothing()


def test_a_jinja_template_reads_through_an_attrs_records_field_types() -> None:
    page = Page(
        name="p",
        shell=Shell(html=HTML.format('<?marker name="a">')),
        queries=(
            Query(name="shelf", call=shelf, result=Shelf),
            Query(name="nothing", call=nothing, result=Nothing),
        ),
        fragments=(
            fragment(
                "a",
                uses=("shelf", "nothing"),
                jinja_source="{{ shelf.product.name }}{{ shelf.product.nme }}{{ nothing.x }}",
            ),
        ),
    )
    assert errors_of(page) == [
        "$.fragments[0].jinja_source: error: page 'p' [a]: inline template:1: shelf.product.nme"
        " reads 'nme', but Product has no such field (its fields: name, tags)",
        "$.fragments[0].jinja_source: error: page 'p' [a]: inline template:1: nothing.x reads"
        " 'x', but Nothing has no such field (its fields: none)",
    ]


# -- the built graph -----------------------------------------------------------------------


async def take(**values: object) -> int:
    return 1


def test_a_graph_links_its_nodes_and_indexes_them_once() -> None:
    queries = (
        Query(name="gate", call=take, result=int),
        Query(name="title", call=take, result=int, depends_on=("gate",)),
        Query(name="news", call=take, result=int, expose=True),
        Query(name="rows", call=rows_of_one, result=int),
        Query(name="idle", call=take, result=int, expose=True, resources=("db",)),
        Query(name="deep", call=take, result=int),
        Query(name="up", call=take, result=int, depends_on=("deep",)),
    )
    fragments = (
        fragment("top", uses=("news",), template='<ul><?marker name="feed"></ul>', priority="high"),
        fragment("feed", uses=("rows",), mode="append", render=lambda rows: "", reveal="g"),
        fragment("side", template="side", reveal="g", stylesheets=("/side.css",)),
        fragment("low", uses=("up",), render=lambda up: "", priority="low"),
        fragment("table", template="<tr><td>1</td></tr>", fallback="<tr><td>…</td></tr>"),
    )
    page = Page(
        name="p",
        shell=Shell(
            html=HTML.format(
                '{{ title }}<?marker name="top"><?marker name="side"><?marker name="low">'
                '<table><?marker name="table"></table>'
            ),
            queries=("title",),
        ),
        queries=queries,
        fragments=fragments,
        resources=Resources(db=dict),
    )
    graph = Graph.build(page)
    assert [(q.name, q.depends_on, q.dependents, q.consumers) for q in graph.queries] == [
        ("gate", (), (1,), ()),
        ("title", (0,), (), ()),
        ("news", (), (), (0,)),
        ("rows", (), (), (1,)),
        ("idle", (), (), ()),
        ("deep", (), (6,), ()),
        ("up", (5,), (), (3,)),
    ]
    assert [q.urgency for q in graph.queries] == [
        (0, 0, 0, 0),
        (0, 0, 0, 1),
        (1, -1, 0, 2),
        (1, 0, 1, 3),
        (2, 0, 0, 4),
        (1, 1, 3, 5),
        (1, 1, 3, 6),
    ]
    assert [
        (f.target, f.uses, f.parent, f.children, f.group, f.depth, f.context, f.priority)
        for f in graph.fragments
    ] == [
        ("top", (2,), None, (1,), (0,), 0, "flow", 1),
        ("feed", (3,), 0, (), (1, 2), 1, "flow", 0),
        ("side", (), None, (), (1, 2), 0, "flow", 0),
        ("low", (6,), None, (), (3,), 0, "flow", -1),
        ("table", (), None, (), (4,), 0, "table", 0),
    ]
    assert (graph.fragments[1].batch_query, graph.fragments[1].inputs) == (3, ())
    assert (graph.shell_queries, graph.shell_children) == ((1,), (0, 2, 3, 4))
    assert dict(graph.query_index) == {
        "gate": 0,
        "title": 1,
        "news": 2,
        "rows": 3,
        "idle": 4,
        "deep": 5,
        "up": 6,
    }
    assert dict(graph.fragment_index) == {"top": 0, "feed": 1, "side": 2, "low": 3, "table": 4}
    assert graph.batched_queries == (3,)
    assert graph.resource_names == frozenset({"db"})
    assert (graph.nested, graph.uses_loaders, graph.cached) == (True, False, False)
    assert graph.asyncio_queries == ()
    assert graph.depth_order == (0, 2, 3, 4, 1)
    assert graph.reveal_groups == ((1, 2),)
    assert graph.append_fragments == (1,)
    assert graph.constant_fragments == (2, 4)
    assert graph.loose_data == (2, 4)
    assert graph.prelude_fragments == frozenset({0, 2})
    assert (graph.name, graph.shell_tail) == ("p", "</body></html>")


@pytest.mark.parametrize(
    ("ref", "problem"),
    [
        ("engine:Graph", "'engine:Graph' is a type, not a schemas.Page"),
        ("nothing", "expected a page file (.toml, .json, .yaml) or 'module:attribute'"),
        ("page.txt", "expected a page file (.toml, .json, .yaml) or 'module:attribute'"),
        ("engine:Nope", "module 'engine' has no attribute 'Nope'"),
        (
            "nowhere_at_all:page",
            "cannot import module 'nowhere_at_all' for 'nowhere_at_all:page': No module named"
            " 'nowhere_at_all'",
        ),
    ],
)
def test_a_page_reference_that_is_no_page_says_why(ref: str, problem: str) -> None:
    with pytest.raises(engine.PageError) as caught:
        engine.load(ref)
    assert [str(p) for p in caught.value.problems] == [f"error: page {ref!r}: {problem}"]


def test_a_layer_is_named_by_its_file_else_by_its_place(tmp_path: Path) -> None:
    query = QUERIES[0]
    outer = Layout(
        shell=Shell(html=HTML.format('<?marker name="content">'), queries=("one",)),
        queries=(query,),
    )
    inner = Layout(
        shell=Shell(html='<div><?marker name="content"></div>'), queries=(query,), layout=outer
    )
    assert errors_of(Page(name="p", layout=inner, shell=Shell(html="x"))) == [
        "$.layout.queries[0]: error: page 'p' [one]: query 'one' is declared both by layout '#2'"
        " ($.layout.layout) and by layout '#1' ($.layout): rename one (a layout and its pages"
        " share one graph)"
    ]
    site = tmp_path / "site.toml"
    site.write_text(
        "[shell]\nhtml = '" + HTML.format('<?marker name="content">') + "'\n"
        f'[[queries]]\nname = "one"\ncall = "{HERE}:one"\nresult = "int"\n'
    )
    source = str(tmp_path / "p.toml")
    page = Page(
        name="p",
        layout="site.toml",
        shell=Shell(html="{{ one }}", queries=("one",)),
        queries=(query,),
    )
    with pytest.raises(engine.PageError) as caught:
        Graph.build(page, source=source)
    assert [str(p) for p in caught.value.problems] == [
        f"{source}:$.queries[0]: error: page 'p' [one]: query 'one' is declared both by {site}"
        f" and by {source}: rename one (a layout and its pages share one graph)"
    ]


# -- signatures ----------------------------------------------------------------------------


class Base:
    pass


class Child(Base):
    pass


@pytest.mark.parametrize(
    ("annotation", "declared", "fits"),
    [
        (inspect.Parameter.empty, int, True),
        (Any, list[int], True),
        (object, int, True),
        (int, int, True),
        (int, Any, True),
        (Base, Child, True),
        (Child, Base, False),
        (int, str, False),
        (Base | None, Child, True),
        (Base, Base | None, False),
        (int | str, int | str, True),
        (int | str, int | bytes, False),
        (typing.Annotated[int, "x"], int, True),
        (typing.Annotated[int, "x"], str, False),
        (list, list[int], True),
        (collections.abc.Sequence, list[int], True),
        (dict, list[int], False),
        (list[int], list, False),
        (list[int], list[int], True),
        (collections.abc.Sequence[Base], list[Child], True),
        (list[Base], list[Child], True),
        (list[Child], list[Base], False),
        (dict[str, int], dict[str, int], True),
        (dict[str, int], dict[str, str], False),
        (tuple[int, ...], tuple[int], False),
        (set[int], list[int], False),
        (list[str], Literal["a"], False),
        (Literal["a"], Literal["a"], True),
        ("Base", Child, False),
    ],
)
def test_a_declared_type_fits_an_annotation_that_accepts_its_values(
    annotation: object, declared: object, fits: bool
) -> None:
    assert compatible(annotation, declared) is fits


def unresolved(a, b, c="x"):  # type: ignore[no-untyped-def]
    return None


# One annotation that cannot be resolved, beside real ones (not strings, as this module's are).
unresolved.__annotations__ = {"a": "Nowhere", "b": int, "c": str, "return": None}


def test_what_a_callable_accepts_is_read_from_its_signature() -> None:
    assert annotations_of(unresolved) == {"b": int, "c": str}  # the unresolvable one is left out
    assert annotations_of(renders_text) == {"one": str}
    assert defaulted_parameters(unresolved) == frozenset({"c"})
    assert keyword_problems(unresolved, ["b", "d"]) == [
        "does not accept keyword argument(s) d",
        "requires argument(s) a that nothing provides",
    ]

    def positional(a: int, /, **rest: int) -> None:
        return None

    # A keyword 'a' goes to **rest, and the positional a is missing (a TypeError when called).
    assert keyword_problems(positional, ["a", "z"]) == [
        "requires argument(s) a that nothing provides"
    ]

    def only_positional(a: int, /) -> None:
        return None

    assert keyword_problems(only_positional, ["a"]) == ["does not accept keyword argument(s) a"]
    # A builtin without a signature is trusted: nothing to read, nothing to report.
    assert (annotations_of(min), keyword_problems(min, ["x"]), defaulted_parameters(min)) == (
        {},
        [],
        frozenset(),
    )
    assert describe(unresolved) == f"{HERE}:unresolved"


def test_a_shell_name_only_the_folded_document_shows_is_keyed_in_the_page() -> None:
    # Neither layer alone holds a placeholder; the folded document reads {{ one }}.
    site = Layout(name="site", shell=Shell(html=HTML.format('<p>{{ <?marker name="content"></p>')))
    assert errors_of(Page(name="p", layout=site, shell=Shell(html="one }}"))) == [
        "$.shell.html: error: page 'p': shell refers to one, not among the shell queries"
    ]


def test_a_shell_name_is_keyed_in_the_layer_that_reads_it() -> None:
    site = Layout(name="site", shell=Shell(html=HTML.format('{{ two }}<?marker name="content">')))
    page = Page(name="p", layout=site, shell=Shell(html='{{ three }}<?marker name="aside">'))
    assert errors_of(page) == [
        "$.shell.html: error: page 'p': shell refers to three, not among the shell queries",
        "$.layout.shell.html: error: page 'p': shell refers to two, not among the shell queries",
        "$.shell.html: error: page 'p' [aside]: slot 'aside' in the shell of page 'p' is filled"
        " by no fragment",
    ]
    # A slot in the page's layer is said to be there, not in the layout's.
    page = Page(
        name="p",
        layout=site,
        shell=Shell(html='<?marker name="aside">'),
        fragments=(fragment("aside", template='<?marker name="aside">'),),
    )
    assert errors_of(page)[1:] == [
        "$.fragments[0].template: error: page 'p' [aside]: slot 'aside' appears both in the"
        " shell of page 'p' and in fragment 'aside'"
    ]


def test_a_syntax_error_after_the_body_is_reported_as_such() -> None:
    html = HTML.replace("</html>", "{{ one. }}</html>")
    assert errors_of(Page(name="p", shell=Shell(html=html))) == [
        f"$.shell.html: error: page 'p': cannot read '{{{{ one. }}}}': {_PLACEHOLDER}"
    ]


@pytest.mark.parametrize(
    "shell",
    [
        Shell(html=HTML.format("<main><?marker name='content'></main>")),
        Shell(jinja_source=HTML.format("<main>{{ slot('content') }}</main>")),
    ],
)
def test_a_layouts_content_slot_may_be_written_in_single_quotes(shell: Shell) -> None:
    site = Layout(name="site", shell=shell)
    graph = Graph.build(
        Page(
            name="p",
            layout=site,
            shell=Shell(html='<p>x</p><?marker name="a">'),
            fragments=(fragment("a"),),
        )
    )
    assert [f.target for f in graph.fragments] == ["a"]


def test_a_misspelled_action_resource_is_one_error() -> None:
    async def go(db: object) -> None:
        return None

    page = shell_page(
        Query(name="a", call=one, result=int),
        resources=Resources(db=dict),
        actions=(Action(name="go", call=go, resources=("dbb",)),),
    )
    # Not also the callable taking no 'dbb' and missing its 'db': the action is left out.
    assert errors_of(page) == [
        "$.actions[0].resources[0]: error: page 'p' [go]: needs resource 'dbb', which is not"
        " declared (the page's resources: 'db'); add it to the page's engine.Resources or fix"
        " the name"
    ]


_NO_BODY = (
    "a Jinja2 shell writes the document's </body> in its own text (not through extends or"
    " include): what follows it goes out after the last fragment"
)


def test_a_jinja2_shells_document_mistakes_are_keyed_at_the_outermost_template() -> None:
    head = '<html><head><meta charset="utf-8"></head>'
    assert errors_of(Page(name="p", shell=Shell(jinja_source=head + "x"))) == [
        f"$.shell.jinja_source: error: page 'p': {_NO_BODY}"
    ]
    after = head + "<body>x</body>{{ one }}</html>"
    page = Page(name="p", shell=Shell(jinja_source=after, queries=("one",)), queries=QUERIES[:1])
    assert errors_of(page) == [
        "$.shell.jinja_source: error: page 'p': after </body> a Jinja2 shell must be plain HTML:"
        " it goes out after the last fragment, when the shell queries' values are long gone"
    ]
    site = Layout(name="site", shell=Shell(jinja_source=head + '<body>{{ slot("content") }}'))
    assert errors_of(Page(name="p", layout=site, shell=Shell(html="x"))) == [
        f"$.layout.shell.jinja_source: error: page 'p': {_NO_BODY}"
    ]


class ProductHolder(msgspec.Struct):
    item: Product


class RowHolder(msgspec.Struct):
    item: Row


def test_a_binding_path_goes_on_through_every_member_it_reached() -> None:
    either = ProductHolder | RowHolder
    assert json_path_problem("q", ["item", "n"], either) is None  # a RowHolder's item has it
    assert json_path_problem("q", ["item", "tags"], either) is None
    assert json_path_problem("q", ["item", "zz"], either) == (
        "q.item is Product | Row, which has no key 'zz'"
    )


def test_a_jinja2_fragments_slot_mistakes_are_keyed_at_its_template() -> None:
    page = slots_page(
        '<?marker name="a">',
        fragment("a", jinja_source='{% for i in [1] %}{{ slot("b") }}{% endfor %}{{ slot(1) }}'),
        fragment("b"),
    )
    assert errors_of(page) == [
        "$.fragments[0].jinja_source: error: page 'p' [a]: inline template:1: slot 'b' is inside"
        " a {% for %} loop: a slot must appear exactly once in the rendered HTML, so it cannot be"
        " repeated, left out or rendered by a macro; move it out (its own fragment can loop or"
        " decide)",
        "$.fragments[0].jinja_source: error: page 'p' [a]: inline template:1: slot() takes the"
        " slot's name as a literal string",
    ]


def test_with_calls_replaces_only_the_queries_it_names() -> None:
    async def fake() -> int:
        return 2

    def fake_sync() -> int:
        return 3

    graph = Graph.build(
        shell_page(
            Query(name="a", call=one, result=int),
            Query(name="b", call=one, result=int, loop="asyncio"),
            Query(name="c", call=sync_one, result=int),
        )
    )
    assert graph.asyncio_queries == ("b",)
    faked = graph.with_calls({"a": fake, "b": fake_sync})
    assert [(q.call, q.is_async, q.loop) for q in faked.queries] == [
        (fake, True, "trio"),
        (fake_sync, False, "trio"),  # a fake runs on trio unless marked @engine.on_asyncio
        (sync_one, False, "trio"),
    ]
    assert faked.asyncio_queries == ()
    assert graph.queries[0].call is one, "the graph itself is unchanged"
    with pytest.raises(KeyError) as caught:
        graph.with_calls({"a": fake, "zz": fake, "yy": fake})
    assert caught.value.args == ("page 'p' has no query yy, zz",)


def test_a_page_files_own_directory_comes_first_for_its_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"shadow_{uuid.uuid4().hex[:12]}"
    elsewhere, here = tmp_path / "elsewhere", tmp_path / "here"
    for directory, value in ((elsewhere, 1), (here, 2)):
        directory.mkdir()
        (directory / f"{name}.py").write_text(f"def value() -> int:\n    return {value}\n")
    monkeypatch.syspath_prepend(str(elsewhere))
    monkeypatch.chdir(tmp_path)
    page_file = here / "p.toml"
    page_file.write_text(
        f'name = "p"\n[shell]\nhtml = \'{HTML.format("{{ v }}")}\'\nqueries = ["v"]\n'
        f'[[queries]]\nname = "v"\ncall = "{name}:value"\nresult = "int"\n'
    )
    graph = Graph.build(engine.load(page_file), source=str(page_file))
    assert graph.queries[0].call() == 2


def test_a_shell_path_problem_is_keyed_in_the_layer_that_reads_it() -> None:
    site = Layout(
        name="site",
        shell=Shell(html=HTML.format('{{ one.x }}<?marker name="content">'), queries=("one",)),
        queries=QUERIES[:1],
    )
    assert errors_of(Page(name="p", layout=site, shell=Shell(html="<p>{{ one }}</p>"))) == [
        "$.layout.shell.html: error: page 'p': {{ one.x }}: one is int, which has no attribute 'x'"
    ]


def test_a_result_is_converted_from_an_objects_attributes() -> None:
    convert = converter_for(Product)
    assert convert(types.SimpleNamespace(name="Tea", tags=["green"])) == Product("Tea", ["green"])
    assert convert({"name": "Tea", "tags": []}) == Product("Tea", [])
    with pytest.raises(CONVERSION_ERRORS):
        convert({"name": 3, "tags": []})
    anything = object()
    assert converter_for(Any)(anything) is anything


def test_a_result_msgspec_cannot_convert_is_converted_by_cattrs() -> None:
    convert = converter_for(Row | Record)  # two records: msgspec cannot tell them apart
    assert convert({"n": 1}) == Row(1)
    assert convert({"m": 2}) == Record(2)
    with pytest.raises(CONVERSION_ERRORS):
        convert(["not", "a", "record"])
