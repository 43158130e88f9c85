"""Batching within a request: loads of single keys by queries started together are one call.

Every test renders each page several times: trio randomises the order tasks run in, so a
coalescing that only held by luck would show here.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

import engine
from engine import Fragment, Graph, Page, Query, Shell, Sources
from engine.asgi._guest import run_as_asyncio_guest
from engine.cli import main
from engine.resolution.batching import Batches

SHELL = '<!doctype html><html><head><meta charset="utf-8"></head><body>{}</body></html>'
RUNS = 10


class Recorder:
    """A loader's fetch that records each call's keys; ``answer`` maps keys to the result."""

    def __init__(self, answer: Callable[[list[Any]], Any] | None = None, seconds: float = 0):
        self.calls: list[list[Any]] = []
        self.answer = answer or (lambda keys: {k: f"user{k}" for k in keys})
        self.seconds = seconds

    async def __call__(self, keys: list[Any]) -> Any:
        self.calls.append(list(keys))
        await trio.sleep(self.seconds)
        return self.answer(keys)


def make_loader(recorder: Recorder, **options: Any) -> engine.Loader[Any, Any]:
    return engine.Loader(recorder, name="users", **options)


def loading(*keys: Any, before: float = 0, many: bool = False):
    """A query that loads ``keys`` (one by one, or with load_many) and joins the values."""

    async def call(users: engine.RequestLoader[Any, str], **_: Any) -> str:
        if before:
            await trio.sleep(before)
        if many:
            return ",".join(await users.load_many(keys))
        return ",".join([await users.load(k) for k in keys])

    return call


async def ready() -> int:
    return 1


def page_of(
    users: engine.Loader[Any, Any],
    queries: Mapping[str, tuple[Callable[..., Any], tuple[str, ...]]],
    **fragment_options: Any,
) -> Page:
    """One fragment per query, rendering its value; ``queries`` maps name -> (call, deps)."""
    declared = [Query(name="ready", call=ready, result=int)]
    for name, (call, deps) in queries.items():
        declared.append(Query(name=name, call=call, result=str, depends_on=deps, loaders=(users,)))
    return Page(
        name="batching",
        shell=Shell(html=SHELL.format("".join(f'<?marker name="{n}">' for n in queries))),
        queries=tuple(declared),
        fragments=tuple(
            Fragment(
                target=name,
                uses=(name,),
                template=f"<p id={name}>{{{{ {name} }}}}</p>",
                error=f"<p id={name}>failed</p>",
                **fragment_options,
            )
            for name in queries
        ),
    )


def with_timeout(page: Page, query: str, seconds: float) -> Page:
    """``page`` with a timeout on one of its queries."""
    queries = tuple(
        msgspec.structs.replace(q, timeout=seconds) if q.name == query else q for q in page.queries
    )
    return msgspec.structs.replace(page, queries=queries)


async def render(page: Page, sources: Sources | None = None, on_error: Any = None) -> str:
    parts: list[bytes] = []

    async def collect(data: bytes) -> None:
        parts.append(data)

    await engine.render(page, collect, sources=sources or Sources(), on_error=on_error)
    return b"".join(parts).decode()


async def abandoned_threads_end(sources: Sources) -> None:
    """Wait (in real time: a thread) until ``db``'s abandoned calls end and give their places
    back."""
    with trio.fail_after(30):
        while sources.source("db").statistics().busy:  # noqa: ASYNC110 (a thread; no event)
            await trio.sleep(0.01)
    assert sources.source("db").statistics().abandoned == 0


async def test_loads_of_queries_started_together_are_one_call_with_every_key() -> None:
    for _ in range(RUNS):
        recorder = Recorder()
        users = make_loader(recorder)
        page = page_of(
            users,
            {
                "c": (loading(3), ()),
                "a": (loading(1), ()),
                "b": (loading(2, many=True), ()),
                # Started together too, later: as dependents of one query that resolved.
                "d": (loading(4), ("ready",)),
                "e": (loading(5, 6, many=True), ("ready",)),
            },
        )
        html = await render(page)
        # One call per turn; the keys in the order their queries are declared.
        assert recorder.calls == [[3, 1, 2], [4, 5, 6]]
        assert "<p id=e>user5,user6</p>" in html
        assert "<p id=a>user1</p>" in html


async def test_a_query_that_awaits_something_else_first_does_not_hold_the_others(
    autojump_clock,
) -> None:
    recorder = Recorder()
    users = make_loader(recorder)
    times: list[float] = []
    recorder.answer = lambda keys: times.append(trio.current_time()) or {k: "u" for k in keys}
    page = page_of(users, {"slow": (loading(1, before=5), ()), "quick": (loading(2), ())})
    for _ in range(RUNS):
        times.clear()
        recorder.calls.clear()
        await render(page)
        # `slow` ended its first step waiting for a sleep: `quick` went at once.
        assert recorder.calls == [[2], [1]]
        assert times == [times[0], times[0] + 5]


async def test_each_key_is_fetched_once_per_request() -> None:
    for _ in range(RUNS):
        recorder = Recorder()
        users = make_loader(recorder)
        page = page_of(
            users,
            {
                "a": (loading(1, 2), ()),  # 2: once in this turn's call, then memoized
                "b": (loading(2, 2), ()),
                "c": (loading(1), ("ready",)),  # a later turn: the value is already there
            },
        )
        html = await render(page)
        assert recorder.calls == [[1, 2]]
        assert "<p id=a>user1,user2</p>" in html
        assert "<p id=b>user2,user2</p>" in html
        assert "<p id=c>user1</p>" in html


async def test_one_key_failing_fails_only_the_queries_that_asked_for_it() -> None:
    def answer(keys: list[int]) -> dict[int, object]:
        values: dict[int, object] = {1: "user1", 2: LookupError("user 2 is gone")}
        return {k: values[k] for k in keys if k in values}  # 3 is left out

    errors: list[tuple[str, BaseException]] = []
    for _ in range(RUNS):
        recorder = Recorder(answer)
        users = make_loader(recorder)
        errors.clear()
        page = page_of(
            users,
            {"a": (loading(1), ()), "b": (loading(2), ()), "c": (loading(3), ())},
        )
        html = await render(page, on_error=lambda p, node, error: errors.append((node, error)))
        assert recorder.calls == [[1, 2, 3]]
        assert "<p id=a>user1</p>" in html
        assert "<p id=b>failed</p>" in html and "<p id=c>failed</p>" in html
        found = {node: str(error) for node, error in errors}
        assert found == {
            "b": "page 'batching', query 'b': LookupError: user 2 is gone",
            "c": "page 'batching', query 'c': loader 'users' returned no value for key 3",
        }


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (lambda keys: ["only one"], "returned 1 values for 2 keys: return one value per key"),
        (lambda keys: "ab", "returned a str: return a mapping of key to value, or a list"),
        (lambda keys: 1 / 0, "failed: ZeroDivisionError: division by zero"),
    ],
)
async def test_a_failed_call_fails_the_queries_waiting_for_it(answer, why) -> None:
    recorder = Recorder(answer)
    users = make_loader(recorder)
    page = page_of(users, {"a": (loading(1), ()), "b": (loading(2), ())})
    errors: list[tuple[str, BaseException]] = []

    async def collect(data: bytes) -> None:
        pass

    await engine.render(page, collect, on_error=lambda p, node, e: errors.append((node, e)))
    assert sorted(node for node, _ in errors) == ["a", "b"]
    assert all(why in str(error) for _, error in errors), errors


async def test_a_sequence_aligned_with_the_keys_is_an_answer_too() -> None:
    recorder = Recorder(lambda keys: [f"user{k}" for k in keys])
    users = make_loader(recorder)
    html = await render(page_of(users, {"a": (loading(1), ()), "b": (loading(2, 3), ())}))
    assert "<p id=a>user1</p>" in html and "<p id=b>user2,user3</p>" in html


async def test_max_batch_splits_a_turn_into_calls_of_at_most_that_many_keys() -> None:
    for _ in range(RUNS):
        recorder = Recorder()
        users = make_loader(recorder, max_batch=2)
        page = page_of(
            users, {"a": (loading(1, 2, 3, many=True), ()), "b": (loading(4, 5, many=True), ())}
        )
        html = await render(page)
        assert sorted(recorder.calls) == [[1, 2], [3, 4], [5]]  # three calls, started at once
        assert "<p id=b>user4,user5</p>" in html


async def test_the_calls_of_one_turn_queue_for_their_source_in_key_order() -> None:
    for _ in range(RUNS):
        recorder = Recorder()
        users = make_loader(recorder, max_batch=2, source="db")
        page = page_of(
            users, {"a": (loading(1, 2, 3, many=True), ()), "b": (loading(4, 5, many=True), ())}
        )
        await render(page, Sources(db=1))
        assert recorder.calls == [[1, 2], [3, 4], [5]]  # whatever order trio ran them in


async def test_calls_wait_for_their_source_and_go_by_the_most_urgent_query_waiting(
    autojump_clock,
) -> None:
    recorder = Recorder(seconds=1)
    users = make_loader(recorder, source="db")
    holder_started = trio.Event()

    async def holder(users: engine.RequestLoader[Any, str]) -> str:
        holder_started.set()
        return await users.load(0)

    page = page_of(
        users,
        {
            "holder": (holder, ()),  # takes the one place at 0 s, for 1 s
            # Three turns asking at 0.5 s: each is one call waiting for `db`.
            "low": (loading(1, before=0.5), ()),
            "normal": (loading(2, before=0.5), ()),
            "high": (loading(3, before=0.5), ()),
        },
    )
    priorities = {"holder": "low", "low": "low", "normal": "normal", "high": "high"}
    page = Page(
        name=page.name,
        shell=page.shell,
        queries=page.queries,
        fragments=tuple(
            Fragment(
                target=f.target, uses=f.uses, template=f.template, priority=priorities[f.target]
            )
            for f in page.fragments
        ),
    )
    sources = Sources(db=1)
    html = await render(page, sources)
    assert recorder.calls == [[0], [3], [2], [1]]
    assert trio.current_time() == 4
    assert "<p id=low>user1</p>" in html
    [db] = [s for s in sources.statistics() if s.name == "db"]
    assert (db.waited, db.busy) == (3, 0)


async def test_a_sync_fetch_runs_in_a_worker_thread() -> None:
    threads: list[str] = []

    def fetch_users(keys: list[int]) -> dict[int, str]:
        threads.append(threading.current_thread().name)
        return {k: f"user{k}" for k in keys}

    users = engine.Loader(fetch_users, name="users")
    html = await render(page_of(users, {"a": (loading(1), ()), "b": (loading(2), ())}))
    assert "<p id=b>user2</p>" in html
    assert len(threads) == 1 and threads[0] != threading.main_thread().name


async def test_a_query_that_times_out_waiting_for_a_full_source_says_so(autojump_clock) -> None:
    recorder = Recorder(seconds=10)
    users = make_loader(recorder, source="db")
    page = page_of(users, {"a": (loading(1), ()), "b": (loading(2, before=1), ())})
    page = with_timeout(page, "b", 2)
    errors: list[BaseException] = []

    async def collect(data: bytes) -> None:
        pass

    sources = Sources(db=1)
    await engine.render(page, collect, sources=sources, on_error=lambda p, n, e: errors.append(e))
    [error] = errors
    assert isinstance(error, engine.SourceExhausted)
    assert (
        "waiting for a place: source 'db' has all 1 places taken (raise it with"
        " engine.Sources(db=N), or give slow backends a source of their own"
    ) in str(error)  # and no word of abandoned calls: there are none
    # Nobody waits for b's call any more: it left the queue instead of running for nothing.
    assert recorder.calls == [[1]]


def test_loaders_are_checked_with_the_page(tmp_path) -> None:
    def not_a_loader(keys: list[int]) -> list[int]:
        return keys

    async def uses(users: Any) -> str:
        return ""

    def sync_uses(users: Any) -> str:
        return ""

    def takes_nothing() -> dict[int, int]:
        return {}

    def errors(*queries: Query) -> list[str]:
        page = Page(name="p", shell=Shell(html=SHELL.format("")), queries=queries)
        with pytest.raises(engine.PageError) as caught:
            Graph.build(page)
        return [str(p) for p in caught.value.problems if p.severity == "error"]

    users = engine.Loader(Recorder(), name="users")
    assert errors(Query(name="a", call=uses, result=str, loaders=(not_a_loader,))) == [
        "$.queries[0].loaders[0]: error: page 'p' [a]: loader tests.test_batching:"
        "test_loaders_are_checked_with_the_page.<locals>.not_a_loader is not an engine.Loader"
        " (function): declare it with @engine.loader() above the function, or"
        " engine.Loader(not_a_loader)"
    ]
    assert errors(Query(name="a", call=sync_uses, result=str, loaders=(users,))) == [
        "$.queries[0].call: error: page 'p' [a]: tests.test_batching:"
        "test_loaders_are_checked_with_the_page."
        "<locals>.sync_uses uses loaders but is not async: a sync query runs in a worker thread"
        " and cannot await a load; make it `async def`"
    ]
    [message] = errors(
        Query(
            name="a", call=uses, result=str, loaders=(engine.Loader(takes_nothing, name="users"),)
        )
    )
    assert "loader 'users': tests.test_batching:" in message
    assert "must take the list of keys as its one positional argument" in message
    [message] = errors(Query(name="a", call=uses, result=str, loaders=(users, users)))
    assert "two loaders named 'users'" in message
    [message] = errors(
        Query(name="users", call=ready, result=int),
        Query(name="a", call=uses, result=str, depends_on=("users",), loaders=(users,)),
    )
    assert "users named both as dependency and as loader" in message
    [message] = errors(Query(name="a", call=uses, result=str, loaders=("nowhere.mod:users",)))
    assert message.startswith("$.queries[0].loaders[0]: error: page 'p' [a]:")
    assert "nowhere" in message
    [message] = errors(Query(name="a", call=ready, result=str, loaders=(users,)))
    assert "does not accept keyword argument(s) users" in message


def test_a_loader_is_declared_with_valid_options() -> None:
    with pytest.raises(ValueError, match="source 'no such' is not a valid source name"):
        engine.Loader(Recorder(), name="users", source="no such")
    with pytest.raises(ValueError, match="max_batch must be an integer >= 1, not 0"):
        engine.Loader(Recorder(), name="users", max_batch=0)
    with pytest.raises(ValueError, match="the name '' is not a Python identifier"):
        engine.Loader(Recorder())
    with pytest.raises(TypeError, match="fetch must be callable"):
        engine.Loader(3)  # type: ignore[arg-type]

    @engine.loader(source="db", max_batch=50)
    def users(keys: list[int]) -> list[int]:
        return keys

    assert repr(users) == "Loader('users', source='db', max_batch=50)"


def slots(count: int) -> str:
    return SHELL.format("".join(f'<?marker name="s{i}">' for i in range(count)))


@given(
    graph=st.lists(
        st.tuples(
            st.sets(st.integers(0, 30), max_size=3),  # depends on earlier queries
            st.lists(st.integers(0, 6), min_size=1, max_size=3),  # keys it loads
            st.sampled_from([0, 0.5, 1]),  # how long it takes after its load
        ),
        min_size=1,
        max_size=8,
    )
)
def test_every_query_gets_its_values_in_at_most_one_call_per_turn(graph) -> None:
    recorder = Recorder()
    users = make_loader(recorder)
    queries: list[Query] = []
    for i, (deps, keys, seconds) in enumerate(graph):

        async def call(users: engine.RequestLoader[int, str], _k=tuple(keys), _s=seconds, **_):
            values = [await users.load(k) for k in _k]
            await trio.sleep(_s)
            return ",".join(values)

        depends_on = tuple(sorted({f"q{d % i}" for d in deps})) if i else ()
        queries.append(
            Query(name=f"q{i}", call=call, result=str, depends_on=depends_on, loaders=(users,))
        )
    page = Page(
        name="random",
        shell=Shell(
            html=SHELL.format("".join(f'<?marker name="s{i}">' for i in range(len(graph))))
        ),
        queries=tuple(queries),
        fragments=tuple(
            Fragment(target=f"s{i}", uses=(f"q{i}",), template=f"<p id=s{i}>{{{{ q{i} }}}}</p>")
            for i in range(len(graph))
        ),
    )
    turns: list[int] = []
    started = Batches.started

    def counting(self, queries):
        queries = list(queries)
        if any(q.loaders for q in queries):
            turns.append(len(queries))
        started(self, queries)

    async def main() -> str:
        return (await engine.render_to_bytes(page)).decode()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Batches, "started", counting)
        html = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    for i, (_, keys, _) in enumerate(graph):
        assert f"<p id=s{i}>{','.join(f'user{k}' for k in keys)}</p>" in html
    fetched = [k for call in recorder.calls for k in call]
    assert len(fetched) == len(set(fetched))  # each key once per request
    # Only a query's first load joins its turn's call; each later load of a new key is a
    # call of its own.
    later = sum(len(set(keys[1:]) - {keys[0]}) for _, keys, _ in graph)
    assert len(recorder.calls) <= len(turns) + later


def test_queries_on_asyncio_batch_with_those_on_trio() -> None:
    """Loads by asyncio queries (and a fetch on asyncio) coalesce as deterministically."""
    calls: list[list[int]] = []

    @engine.on_asyncio
    async def fetch_users(keys: list[int]) -> dict[int, str]:
        asyncio.current_task()  # really on asyncio: raises without a running loop
        calls.append(list(keys))
        await asyncio.sleep(0)
        return {k: f"user{k}" for k in keys}

    users = engine.Loader(fetch_users, name="users")

    @engine.on_asyncio
    async def on_asyncio(users: engine.RequestLoader[int, str], ready: int) -> str:
        first = await users.load(1)
        return first + "," + ",".join(await users.load_many([2, 3]))

    page = page_of(
        users,
        {
            "a": (on_asyncio, ("ready",)),
            "b": (loading(4), ("ready",)),
            "c": (loading(3, 1, many=True), ("ready",)),
        },
    )
    for _ in range(RUNS):
        calls.clear()
        html = run_as_asyncio_guest(render, page)
        assert "<p id=a>user1,user2,user3</p>" in html
        assert "<p id=c>user3,user1</p>" in html
        # One call for the turn (keys in declaration order), then a's second load alone.
        assert calls == [[1, 4, 3], [2]]


async def test_a_call_stays_while_any_query_waits_for_one_of_its_keys(autojump_clock) -> None:
    recorder = Recorder(seconds=5)
    users = make_loader(recorder, source="db", max_batch=1)
    page = page_of(
        users,
        {
            "holder": (loading(0), ()),  # holds the one place of `db` from 0 s to 5 s
            "patient": (loading(1, 2, many=True), ("ready",)),  # two calls, queued at 0 s
            "hasty": (loading(2), ("ready",)),  # gives up on key 2 at 1 s
        },
    )
    page = with_timeout(page, "hasty", 1)
    errors: list[BaseException] = []
    html = await render(page, Sources(db=1), on_error=lambda p, n, e: errors.append(e))
    assert "<p id=patient>user1,user2</p>" in html
    assert "<p id=hasty>failed</p>" in html
    assert [type(e) for e in errors] == [engine.SourceExhausted]
    assert sorted(recorder.calls) == [[0], [1], [2]]


def test_engine_check_names_the_file_and_the_key_of_a_loader_that_is_not_one(
    tmp_path, capsys
) -> None:
    module = f"loaders_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{module}.py").write_text(
        "async def author(users) -> str:\n    return await users.load(1)\n\n\n"
        "def users(keys):\n    return {k: str(k) for k in keys}\n"
    )
    page = tmp_path / "page.toml"
    page.write_text(
        'name = "p"\n[shell]\nhtml = "<!doctype html><html><head><meta charset=\\"utf-8\\">'
        '</head><body></body></html>"\n'
        f'[[queries]]\nname = "author"\ncall = "{module}:author"\nresult = "str"\n'
        f'loaders = ["{module}:users"]\n'
    )
    code = main(["check", str(page)])
    out, err = capsys.readouterr()
    assert code == 1
    assert (
        f"{page}:$.queries[0].loaders[0]: error: page 'p' [author]: loader '{module}:users' is"
        " not an engine.Loader (function): declare it with @engine.loader() above the function,"
        " or engine.Loader(users)"
    ) in out + err


def after(seconds: float):
    async def gate() -> int:
        await trio.sleep(seconds)
        return 1

    return gate


async def test_a_waiting_call_moves_up_when_a_more_urgent_query_asks_for_its_key(
    autojump_clock,
) -> None:
    recorder = Recorder(seconds=1)
    users = make_loader(recorder, source="db")
    page = page_of(
        users,
        {
            "holder": (loading(0), ()),  # holds the one place of `db` from 0 s to 1 s
            "low": (loading(1), ("a",)),  # queues a call for key 1 at 0.2 s
            "normal": (loading(2), ("b",)),  # queues a call for key 2 at 0.3 s
            "high": (loading(1), ("c",)),  # waits for key 1's call from 0.4 s
        },
    )
    priorities = {"holder": "low", "low": "low", "normal": "normal", "high": "high"}
    page = Page(
        name=page.name,
        shell=page.shell,
        queries=(
            *page.queries,
            Query(name="a", call=after(0.2), result=int),
            Query(name="b", call=after(0.3), result=int),
            Query(name="c", call=after(0.4), result=int),
        ),
        fragments=tuple(
            Fragment(
                target=f.target, uses=f.uses, template=f.template, priority=priorities[f.target]
            )
            for f in page.fragments
        ),
    )
    html = await render(page, Sources(db=1))
    # Key 1's call was queued as low, before key 2's normal one; `high` moved it up.
    assert recorder.calls == [[0], [1], [2]]
    assert "<p id=high>user1</p>" in html


async def test_a_sync_fetch_that_hangs_holds_its_place_until_its_thread_ends() -> None:
    release = threading.Event()

    def fetch_users(keys: list[int]) -> dict[int, str]:
        release.wait(30)
        return {k: "late" for k in keys}

    users = engine.Loader(fetch_users, name="users", source="db")
    page = page_of(users, {"a": (loading(1), ())})
    page = Page(
        name=page.name,
        shell=page.shell,
        queries=tuple(
            Query(
                name=q.name,
                call=q.call,
                result=q.result,
                loaders=q.loaders,
                timeout=0.05 if q.loaders else None,
            )
            for q in page.queries
        ),
        fragments=page.fragments,
    )
    sources = Sources(db=2)
    try:
        html = await render(page, sources)
        assert "<p id=a>failed</p>" in html
        [db] = [s for s in sources.statistics() if s.name == "db"]
        assert (db.busy, db.abandoned) == (1, 1)  # the render is over; the thread is not
    finally:
        release.set()
    await abandoned_threads_end(sources)


async def test_keys_of_a_call_every_query_gave_up_on_are_fetched_again(autojump_clock) -> None:
    # docs/data.md: a call every waiting query gave up on is cancelled, and its keys are
    # fetched again if a later query asks for them (not answered with the cancellation).
    recorder = Recorder(seconds=5)
    users = make_loader(recorder)

    async def slow_ready() -> int:
        await trio.sleep(2)
        return 1

    page = page_of(users, {"hasty": (loading(1), ()), "later": (loading(1), ("slow",))})
    page = with_timeout(page, "hasty", 1)
    page = msgspec.structs.replace(
        page, queries=(*page.queries, Query(name="slow", call=slow_ready, result=int))
    )
    errors: list[BaseException] = []
    html = await render(page, on_error=lambda p, n, e: errors.append(e))
    assert "<p id=hasty>failed</p>" in html and [type(e) for e in errors] == [engine.QueryTimeout]
    assert "<p id=later>user1</p>" in html
    assert recorder.calls == [[1], [1]]  # the first call was cancelled at 1 s


async def test_a_key_asked_for_as_its_call_is_given_up_is_fetched_again(autojump_clock) -> None:
    # The same, when the later query asks in the very turn the call is given up: the call's
    # task has not yet seen its cancellation, and the key must not be answered with it.
    # Trio runs the two wake-ups in a random order, so each of the RUNS renders tries one.
    for _ in range(RUNS):
        recorder = Recorder(seconds=5)
        users = make_loader(recorder)

        async def on_time() -> int:
            await trio.sleep(1)  # ends as `hasty` gives up
            return 1

        page = page_of(users, {"hasty": (loading(1), ()), "later": (loading(1), ("on_time",))})
        page = with_timeout(page, "hasty", 1)
        page = msgspec.structs.replace(
            page, queries=(*page.queries, Query(name="on_time", call=on_time, result=int))
        )
        errors: list[BaseException] = []
        html = await render(page, on_error=functools.partial(_collect, errors))
        assert [type(e) for e in errors] == [engine.QueryTimeout], errors
        assert "<p id=later>user1</p>" in html
        assert recorder.calls == [[1], [1]]


async def test_a_key_asked_for_before_its_call_is_given_up_is_fetched_again_when_awaited() -> None:
    # A query on asyncio asks for its keys on trio (through trio's token) and starts waiting
    # for them in a task of its own, a scheduler turn later. If meanwhile every query waiting
    # for the call gives up and the call ends, the key is fetched again for the late query,
    # not answered with the cancellation of a call it never gave up on.
    calls: list[list[int]] = []

    async def fetch(keys: list[int]) -> dict[int, str]:
        calls.append(keys)
        if len(calls) == 1:
            await trio.sleep_forever()
        return {k: f"user{k}" for k in keys}

    users = engine.Loader(fetch, name="users")
    graph = Graph.build(page_of(users, {"hasty": (loading(1), ()), "late": (loading(1), ())}))
    hasty, late = (graph.queries[graph.query_index[name]] for name in ("hasty", "late"))
    giving_up = trio.CancelScope()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            batches = Batches(graph.name, nursery, Sources(), {}, lambda *_: None)
            asked = batches.ask(hasty, users, [1])  # no cohort: the call goes out at once

            async def hasty_waits() -> None:
                with giving_up:
                    await batches.wait(hasty, users, asked)

            nursery.start_soon(hasty_waits)
            await trio.testing.wait_all_tasks_blocked()  # hasty waits, the call is in fetch
            late_asked = batches.ask(late, users, [1])  # the same call's key, not yet awaited
            giving_up.cancel()  # nobody waits for the call now: it is cancelled
            await trio.testing.wait_all_tasks_blocked()  # and has ended
            assert await batches.wait(late, users, late_asked) == ["user1"]
    assert calls == [[1], [1]]


async def test_a_load_shielded_from_the_render_ending_is_told_its_call_was_cancelled(
    autojump_clock,
) -> None:
    # When the render ends (the client left, the caller cancelled it), a call in flight ends
    # with it; a query that shielded its load from cancellation must be told so, not left
    # waiting forever for the call's answer (nor handed no value as if it were one).
    async def fetch(keys: list[int]) -> dict[int, str]:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def shielded(users: engine.RequestLoader[int, str], ready: int) -> str:
        # Shielded from the render's end, but not forever: a load left waiting fails the test.
        with trio.CancelScope(shield=True, deadline=trio.current_time() + 5):
            return await users.load(1)

    page = page_of(engine.Loader(fetch, name="users"), {"a": (shielded, ("ready",))})
    errors: list[str] = []
    with trio.move_on_after(1):
        await render(page, on_error=lambda p, n, e: errors.append(str(e)))
    assert errors == ["page 'batching', query 'a': loader 'users' was cancelled"]


def _collect(errors: list[BaseException], page: str, node: str, error: BaseException) -> None:
    errors.append(error)


@pytest.mark.parametrize(
    ("fetch", "keys", "why"),
    [
        (lambda keys: 1 / 0, [1], "loader 'users' failed: ZeroDivisionError: division by zero"),
        (lambda keys: {}, [1], "loader 'users' returned no value for key 1"),
        (lambda keys: {1: LookupError("gone")}, [1], "LookupError: gone"),
        (lambda keys: {}, [[1]], "loader 'users': key [1] is not hashable; keys are memoized"),
    ],
    ids=["call-fails", "no-value", "key-fails", "unhashable"],
)
def test_a_query_on_asyncio_fails_by_its_loads_as_one_on_trio(fetch, keys, why) -> None:
    # docs/data.md: a query on asyncio loads exactly as one on trio; so do its failures.
    async def call(keys: list[Any]) -> Any:
        return fetch(keys)

    @engine.on_asyncio
    async def on_asyncio(users: engine.RequestLoader[Any, str], ready: int) -> str:
        return ",".join(await users.load_many(keys))

    page = page_of(engine.Loader(call, name="users"), {"a": (on_asyncio, ("ready",))})
    page = with_timeout(page, "a", 30)  # a failure that never reaches the query fails it late
    errors: list[tuple[str, BaseException]] = []
    html = run_as_asyncio_guest(
        functools.partial(render, on_error=lambda p, n, e: errors.append((n, e))), page
    )
    assert "<p id=a>failed</p>" in html
    [(node, error)] = errors
    assert node == "a" and why in str(error), error


async def test_a_failed_call_is_the_cause_of_each_query_error(autojump_clock) -> None:
    # As for a query that raises, on_error gets an error whose cause is what really failed.
    users = make_loader(Recorder(lambda keys: 1 / 0))
    page = page_of(users, {"a": (loading(1), ()), "b": (loading(2), ())})
    errors: list[BaseException] = []
    await render(page, on_error=lambda p, n, e: errors.append(e))
    assert len(errors) == 2
    assert all(isinstance(error.__cause__, ZeroDivisionError) for error in errors), errors


async def test_a_call_that_holds_its_place_runs_on_when_its_queries_give_up(
    autojump_clock,
) -> None:
    # Cancelling it would not free its place any sooner than letting it finish (a thread
    # cannot be stopped; an async call may be halfway through a request): it runs to its end,
    # and a query that asks for its key meanwhile gets its answer instead of a second call.
    recorder = Recorder(seconds=5)
    users = make_loader(recorder, source="db")

    async def slow_ready() -> int:
        await trio.sleep(2)
        return 1

    page = page_of(users, {"hasty": (loading(1), ()), "later": (loading(1), ("slow",))})
    page = with_timeout(page, "hasty", 1)
    page = msgspec.structs.replace(
        page, queries=(*page.queries, Query(name="slow", call=slow_ready, result=int))
    )
    errors: list[BaseException] = []
    html = await render(page, Sources(db=1), on_error=lambda p, n, e: errors.append(e))
    assert [type(e) for e in errors] == [engine.QueryTimeout]
    assert "<p id=later>user1</p>" in html
    assert recorder.calls == [[1]]
    assert trio.current_time() == 5


async def test_a_call_waiting_for_its_place_is_dropped_when_its_queries_give_up(
    autojump_clock,
) -> None:
    recorder = Recorder(seconds=5)
    users = make_loader(recorder, source="db", max_batch=1)
    page = page_of(users, {"holder": (loading(0), ()), "hasty": (loading(1), ())})
    page = with_timeout(page, "hasty", 1)  # gives up at 1 s, its call still waiting
    sources = Sources(db=1)
    errors: list[BaseException] = []
    html = await render(page, sources, on_error=lambda p, n, e: errors.append(e))
    assert "<p id=holder>user0</p>" in html and "<p id=hasty>failed</p>" in html
    assert [type(e) for e in errors] == [engine.SourceExhausted]
    assert recorder.calls == [[0]]  # key 1's call never ran: nobody wanted it any more
    [db] = [s for s in sources.statistics() if s.name == "db"]
    assert (db.busy, db.waiting, db.waited, db.starved) == (0, 0, 1, 1)


async def test_a_render_cancelled_before_its_sync_call_starts_gives_the_place_back() -> None:
    # The caller leaves after a call was given its place, before its thread started: no
    # thread holds the place, so it is free again at once (not counted as abandoned).
    fetched: list[list[int]] = []

    def fetch_users(keys: list[int]) -> dict[int, str]:
        fetched.append(keys)
        return {k: f"user{k}" for k in keys}

    users = engine.Loader(fetch_users, name="users", source="db")
    with trio.CancelScope() as scope:

        async def leaving(users: engine.RequestLoader[int, str], **_: Any) -> str:
            scope.cancel()  # the client goes away as this query asks for its key
            return await users.load(1)

        sources = Sources(db=1)
        await render(page_of(users, {"a": (leaving, ())}), sources)
    assert scope.cancelled_caught
    assert fetched == []
    [db] = [s for s in sources.statistics() if s.name == "db"]
    assert (db.busy, db.abandoned, db.waited) == (0, 0, 0)


async def test_each_loader_memoizes_its_own_keys(autojump_clock) -> None:
    users = make_loader(Recorder())
    items = engine.Loader(Recorder(lambda keys: {k: f"item{k}" for k in keys}), name="items")

    async def both(users: engine.RequestLoader[int, str], items: engine.RequestLoader[int, str]):
        return f"{await users.load(1)},{await items.load(1)},{await users.load(1)}"

    page = Page(
        name="two-loaders",
        shell=Shell(html=SHELL.format('<?marker name="both">')),
        queries=(Query(name="both", call=both, result=str, loaders=(users, items)),),
        fragments=(Fragment(target="both", uses=("both",), template="<p>{{ both }}</p>"),),
    )
    assert "<p>user1,item1,user1</p>" in await render(page)


async def test_a_turn_sends_every_loaders_keys_though_one_loaders_went_out_already(
    autojump_clock,
) -> None:
    # `a` and `b` start together; `a` asks both loaders for key 1; before `b`'s first step
    # ends, `d` (past its own first step) asks `users` for key 1, which goes out with `d`'s
    # call. When the turn ends, nothing is left to send for `users`, but `items` still is.
    users_recorder = Recorder()
    items_recorder = Recorder(lambda keys: {k: f"item{k}" for k in keys})
    users = engine.Loader(users_recorder, name="users")
    items = engine.Loader(items_recorder, name="items")
    page = Page(
        name="turns",
        shell=Shell(html=SHELL.format("")),
        queries=tuple(
            Query(name=name, call=loading(1), result=str, loaders=(users, items)) for name in "abd"
        ),
    )
    graph = Graph.build(page)
    a, b, d = (graph.queries[graph.query_index[name]] for name in "abd")
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            batches = Batches(graph.name, nursery, Sources(), {}, lambda *_: None)
            batches.started([a, b])
            asked = batches.ask(a, users, [1]), batches.ask(a, items, [1])
            batches.ask(d, users, [1])  # goes out at once, with d's call
            batches.stepped(a)
            batches.stepped(b)  # the turn ends
            values = [
                await batches.wait(a, loader, entries)
                for loader, entries in zip((users, items), asked, strict=True)
            ]
    assert values == [["user1"], ["item1"]]
    assert users_recorder.calls == items_recorder.calls == [[1]]


def test_a_loader_call_cancelled_on_asyncio_says_it_was_the_loader() -> None:
    @engine.on_asyncio
    async def fetch_users(keys: list[int]) -> dict[int, str]:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()  # as a driver does when its connection is torn down
        await asyncio.sleep(0)
        return {}

    users = engine.Loader(fetch_users, name="users")
    errors: list[BaseException] = []
    page = page_of(users, {"a": (loading(1), ("ready",))})
    html = run_as_asyncio_guest(
        functools.partial(render, on_error=lambda p, n, e: errors.append(e)), page
    )
    assert "<p id=a>failed</p>" in html
    [error] = errors
    assert str(error) == (
        "page 'batching', query 'a': loader 'users' failed: AsyncioCancelled: the asyncio task"
        " running this loader 'users' was cancelled"
    )


async def test_a_sync_call_that_waited_for_its_place_is_abandoned_like_any_other() -> None:
    # Two calls of one turn in a source of one place: the second waits, gets the place when
    # the first returns, then hangs in its thread past its query's timeout and the render.
    release = threading.Event()

    def fetch_users(keys: list[int]) -> dict[int, str]:
        if keys == [2]:
            release.wait(30)
        return {k: f"user{k}" for k in keys}

    users = engine.Loader(fetch_users, name="users", source="db", max_batch=1)
    page = with_timeout(page_of(users, {"a": (loading(1, 2, many=True), ())}), "a", 1)
    sources = Sources(db=1)
    try:
        html = await render(page, sources)
        assert "<p id=a>failed</p>" in html
        [db] = [s for s in sources.statistics() if s.name == "db"]
        assert (db.waited, db.busy, db.abandoned) == (1, 1, 1)
    finally:
        release.set()
    await abandoned_threads_end(sources)


async def test_a_query_waiting_for_its_source_does_not_hold_its_turns_loads(autojump_clock) -> None:
    # `a` and `b` start together; `a` waits for `db`'s one place (held by `holder` for 1 s):
    # its first step has not begun, so `b`'s load goes out at once instead of waiting for it.
    recorder = Recorder()
    users = make_loader(recorder)

    async def holder() -> int:
        await trio.sleep(1)
        return 1

    page = page_of(users, {"a": (loading(1), ("ready",)), "b": (loading(2), ("ready",))})
    page = msgspec.structs.replace(
        page,
        queries=(
            *(
                msgspec.structs.replace(q, source="db") if q.name == "a" else q
                for q in page.queries
            ),
            Query(name="holder", call=holder, result=int, source="db"),
        ),
    )
    html = await render(page, Sources(db=1))
    assert "<p id=a>user1</p>" in html and "<p id=b>user2</p>" in html
    assert recorder.calls == [[2], [1]]
