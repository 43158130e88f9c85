"""One user's data is never served to another: different inputs never share a cache entry.

Properties (hypothesis): a key is a function of every input, so any two different inputs get
different keys; and a sequence of renders by visitors who differ in any input (path, query
string, header, cookie, or a dependency's value derived from them), in one process with one
store, always shows each visitor exactly the value computed from their own inputs.
"""

from __future__ import annotations

from typing import Any

import msgspec
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine import Cache, Fragment, Page, Params, Query, Shell
from engine._render import as_graph
from engine.caching.keys import cache_key

SHELL = '<!doctype html><html><head><meta charset="utf-8"></head><body>{}</body></html>'


class Account(msgspec.Struct, frozen=True):
    id: int
    tier: str


async def account(account_id: int, tier: str = "free") -> Account:
    return Account(account_id, tier)


async def statement(account: Account, page: int, lang: str, session: str) -> str:
    return f"account={account.id}/{account.tier} page={page} lang={lang} session={session}"


async def other_statement(account: Account, page: int, lang: str, session: str) -> str:
    return "a different callable with the same cache name"


def make_page(call: object, name: str) -> Page:
    return Page(
        name=name,
        shell=Shell(html=SHELL.format('<p id="s"><?marker name="s"></p>')),
        queries=(
            Query(
                name="account",
                call=account,
                result=Account,
                params=Params(path=("account_id",), query=("tier",)),
            ),
            Query(
                name="statement",
                call=call,
                result=str,
                depends_on=("account",),
                params=Params(query=("page",), header=("lang",), cookie=("session",)),
                cache=Cache(ttl=60, name="statements"),
            ),
        ),
        fragments=(Fragment(target="s", uses=("statement",), template="[{{ statement }}]"),),
    )


PAGE = make_page(statement, "statements")
OTHER = make_page(other_statement, "other")

# Small alphabets, so that visitors often share some inputs and differ in one.
visitors = st.tuples(
    st.sampled_from(["1", "2", "12"]),  # account_id (path)
    st.sampled_from([None, "free", "gold"]),  # tier (query string, optional: absent is an input)
    st.sampled_from(["1", "2"]),  # page (query string)
    st.sampled_from(["en", "fr", "en-GB"]),  # lang (header)
    st.sampled_from(["s1", "s2", "s1 "]),  # session (cookie)
    st.booleans(),  # the other page, which shares the cache name but not the callable
)


@settings(max_examples=60)  # each example is up to 12 renders
@given(st.lists(visitors, min_size=2, max_size=12))
def test_each_visitor_sees_only_values_computed_from_their_own_inputs(sequence) -> None:
    trio.run(
        each_sees_their_own,
        sequence,
        engine.MemoryStore(),
        clock=trio.testing.MockClock(autojump_threshold=0),
    )


async def each_sees_their_own(sequence: list[tuple[Any, ...]], store: engine.CacheStore) -> None:
    """Render for each visitor in turn, with one store; each must see their own value.

    Shared with the Redis tests, where entries outlive the run and even the example.
    """
    for account_id, tier, page, lang, session, other in sequence:
        params = {"account_id": account_id, "page": page}
        if tier is not None:
            params["tier"] = tier
        request = engine.Request.build(
            params=params, headers={"lang": lang}, cookies={"session": session}
        )
        html = await html_of(OTHER if other else PAGE, request, store)
        if other:
            expected = "a different callable with the same cache name"
        else:
            expected = (
                f"account={int(account_id)}/{tier or 'free'} page={page} lang={lang}"
                f" session={session}"
            )
        assert f"[{expected}]".encode() in html, (expected, html)


async def html_of(page: Page, request: engine.Request, store: engine.CacheStore) -> bytes:
    sink: list[bytes] = []

    async def collect(data: bytes) -> None:
        sink.append(data)

    await engine.render(page, collect, request=request, cache=store)
    return b"".join(sink)


inputs = st.tuples(
    # an optional parameter: absent, or present (None included: absent and None must differ)
    st.one_of(st.just(("absent",)), st.tuples(st.just("present"), st.none() | st.integers(-3, 3))),
    st.text(max_size=3),
    st.lists(st.sampled_from(["a", "b", ""]), max_size=3),
    st.builds(Account, st.integers(0, 2), st.sampled_from(["free", "gold"])),
)


@given(inputs, inputs)
def test_different_inputs_never_share_a_key(a, b) -> None:
    graph = as_graph(KEYED)
    q = graph.queries[graph.query_index["keyed"]]
    assert q.cache is not None

    def key(values: tuple[object, ...]) -> str:
        optional, text, items, dependency = values
        params = {"text": text, "items": items}
        if optional[0] == "present":
            params["optional"] = optional[1]
        return cache_key(q.cache, q, params, [dependency])

    assert (key(a) == key(b)) == (a == b)


async def keyed(base: Account, text: str, items: list[str], optional: int | None = None) -> str:
    return ""


async def base() -> Account:
    return Account(0, "free")


KEYED = Page(
    name="keyed",
    shell=Shell(html=SHELL.format("<p>{{ keyed }}</p>"), queries=("keyed",)),
    queries=(
        Query(name="base", call=base, result=Account),
        Query(
            name="keyed",
            call=keyed,
            result=str,
            depends_on=("base",),
            params=Params(query=("text", "items", "optional")),
            cache=Cache(ttl=1),
        ),
    ),
)
