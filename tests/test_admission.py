"""Admission by priority: calls waiting for a data source's place go most urgent first.

A query's urgency is fixed when its page is built: shell queries (and what they depend on)
first, then the priority of the most urgent fragment that needs it, directly or through its
dependents, then declaration order.
"""

from __future__ import annotations

import threading

import pytest
import trio
import trio.lowlevel
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

import engine
from engine import Fragment, Page, Query, Shell, Sources
from engine.resolution.sources import Source

SHELL = '<!doctype html><html><head><meta charset="utf-8"></head><body>{}</body></html>'


def slot_html(names: list[str]) -> str:
    return SHELL.format("".join(f'<?marker name="{n}">' for n in names))


def timed_call(name: str, seconds: float, log: list[tuple[str, float]]):
    async def call(**_: object) -> str:
        log.append((name, trio.current_time()))  # runs once admitted
        await trio.sleep(seconds)
        return name

    call.__name__ = name
    return call


async def gate() -> int:
    await trio.sleep(0.5)
    return 1


def burst_page(log: list[tuple[str, float]]) -> Page:
    """20 low-priority queries fill `db` at once; the hero's query asks for a place later."""
    lows = [
        Query(name=f"low{i}", call=timed_call(f"low{i}", 1, log), result=str, source="db")
        for i in range(20)
    ]
    hero = Query(
        name="hero",
        call=timed_call("hero", 1, log),
        result=str,
        depends_on=("user",),
        source="db",
    )
    return Page(
        name="burst",
        shell=Shell(html=slot_html([f"s{i}" for i in range(20)] + ["hero"])),
        queries=(*lows, Query(name="user", call=gate, result=int), hero),
        fragments=(
            *(
                Fragment(target=f"s{i}", uses=(f"low{i}",), priority="low", template="x")
                for i in range(20)
            ),
            Fragment(target="hero", uses=("hero",), priority="high", template="{{ hero }}"),
        ),
    )


async def test_a_burst_of_low_priority_work_does_not_starve_the_high_priority_fragment(
    autojump_clock,
) -> None:
    log: list[tuple[str, float]] = []
    sources = Sources(db=2)
    await engine.render_to_bytes(burst_page(log), sources=sources)
    started = dict(log)
    # At 0.5 s the hero waits behind 18 low calls; it gets the first place freed (at 1 s).
    # In arrival order it would start at 9 s, after every low call.
    assert started["hero"] == 1.0
    assert max(started.values()) == 10.0  # the low work still all runs, two at a time
    assert trio.current_time() == 11.0
    [db] = [s for s in sources.statistics() if s.name == "db"]
    assert (db.busy, db.waiting, db.waited) == (0, 0, 19)


def shared_source_page(log: list[tuple[str, float]]) -> Page:
    """S6's shape: six queries share `db`, one fragment each; the last declared is urgent."""
    names = [f"q{i}" for i in range(6)]
    return Page(
        name="shared",
        shell=Shell(html=slot_html(names)),
        queries=tuple(
            Query(name=n, call=timed_call(n, 1, log), result=str, source="db") for n in names
        ),
        fragments=tuple(
            Fragment(target=n, uses=(n,), priority="high" if n == "q5" else "normal", template="x")
            for n in names
        ),
    )


async def test_the_first_places_go_by_urgency_whatever_order_trio_runs_the_tasks_in(
    autojump_clock,
) -> None:
    # The places free when a page starts are asked for as its queries start, most urgent first;
    # were they taken as each task first ran, trio's random start order would give them out
    # (the urgent query in the first wave one render in three here; 10 renders in a row).
    for _ in range(10):
        log: list[tuple[str, float]] = []
        start = trio.current_time()
        await engine.render_to_bytes(shared_source_page(log), sources=Sources(db=2))
        waves = sorted((at - start, name) for name, at in log)
        assert waves == [(0, "q0"), (0, "q5"), (1, "q1"), (1, "q2"), (2, "q3"), (2, "q4")]


async def test_a_cached_querys_call_waits_for_its_place_as_urgently_as_its_query(
    autojump_clock,
) -> None:
    # A cached query asks for its place only when the cache misses (not as the render starts
    # with the others), and then as urgently as its page ranks it: ahead of the low work.
    log: list[tuple[str, float]] = []
    page = Page(
        name="cached",
        shell=Shell(html=slot_html(["low0", "low1", "hero"])),
        queries=(
            *(
                Query(name=n, call=timed_call(n, 1, log), result=str, source="db")
                for n in ("low0", "low1")
            ),
            Query(
                name="hero",
                call=timed_call("hero", 1, log),
                result=str,
                source="db",
                cache=engine.Cache(ttl=60),
            ),
        ),
        fragments=(
            *(
                Fragment(target=n, uses=(n,), priority="low", template="x")
                for n in ("low0", "low1")
            ),
            Fragment(target="hero", uses=("hero",), priority="high", template="{{ hero }}"),
        ),
    )
    html = await engine.render_to_bytes(page, sources=Sources(db=1), cache=engine.MemoryStore())
    assert b'<?start name="hero">hero<?end>' in html
    assert dict(log) == {"low0": 0.0, "hero": 1.0, "low1": 2.0}


@pytest.mark.parametrize("leaves_at", [0, 0.5, 1, 1.5, 2.5])
async def test_places_asked_for_as_queries_start_come_back_when_the_render_stops(
    autojump_clock, leaves_at: float
) -> None:
    # Granted or still queued, whether its task ran or not: nothing stays taken or waiting.
    sources = Sources(db=2)
    with trio.move_on_after(leaves_at):
        await engine.render_to_bytes(shared_source_page([]), sources=sources)
    [db] = [s for s in sources.statistics() if s.name == "db"]
    assert (db.busy, db.waiting) == (0, 0)
    log: list[tuple[str, float]] = []
    start = trio.current_time()
    await engine.render_to_bytes(shared_source_page(log), sources=sources)
    assert sorted(at - start for _, at in log) == [0, 0, 1, 1, 2, 2], "every place is free"


def echo(upstream: str) -> str:
    return upstream


def ordered_page(log: list[tuple[str, float]]) -> Page:
    def waits(name: str, **extra: object) -> Query:
        return Query(
            name=name,
            call=timed_call(name, 1, log),
            result=str,
            depends_on=("gate",),
            source="db",
            **extra,  # type: ignore[arg-type]
        )

    async def ahead(gate: int) -> str:
        return "ahead"

    return Page(
        name="ordered",
        shell=Shell(
            html=slot_html(["low", "first", "second", "high", "deep"]).replace(
                "<body>", "<body>{{ title }}"
            ),
            queries=("title",),
        ),
        queries=(
            Query(name="holder", call=timed_call("holder", 1, log), result=str, source="db"),
            Query(name="gate", call=gate, result=int),
            waits("low"),
            waits("first"),
            waits("second"),
            waits("high"),
            waits("title"),
            waits("upstream"),  # needed only through `deep`, whose fragment is the most urgent
            Query(name="deep", call=echo, result=str, depends_on=("upstream",)),
        ),
        fragments=(
            Fragment(target="low", uses=("low", "holder"), priority="low", template="x"),
            Fragment(target="first", uses=("first",), template="x"),
            Fragment(target="second", uses=("second",), template="x"),
            Fragment(target="high", uses=("high",), priority="high", template="x"),
            Fragment(target="deep", uses=("deep",), priority=5, template="x"),
        ),
    )


async def test_waiting_calls_go_shell_first_then_by_fragment_priority_then_declaration(
    autojump_clock,
) -> None:
    log: list[tuple[str, float]] = []
    await engine.render_to_bytes(ordered_page(log), sources=Sources(db=1))
    assert [name for name, _ in log] == [
        "holder",  # took the only place at 0 s; the rest asked at 0.5 s, all at once
        "title",  # the shell's: it gates the first byte
        "upstream",  # priority 5, through its dependent `deep`
        "high",
        "first",  # normal, declared before `second`
        "second",
        "low",
    ]


def test_urgency_is_computed_once_when_the_page_is_built() -> None:
    graph = engine.Graph.build(ordered_page([]))
    urgency = {q.name: q.urgency for q in graph.queries}
    # gate is needed by the shell query `title`, so it ranks with the shell.
    assert urgency["gate"][:3] == urgency["title"][:3] == (0, 0, 0)
    assert urgency["upstream"][:3] == urgency["deep"][:3] == (1, -5, 4)
    assert urgency["holder"][:3] == (1, 1, 0)  # its fragment is low priority
    least = sorted(graph.queries, key=lambda q: q.urgency)[-2:]
    assert [q.name for q in least] == ["holder", "low"]


async def test_the_sync_thread_limit_admits_by_priority_too() -> None:
    release = threading.Event()
    order: list[str] = []

    def blocker() -> str:
        release.wait(30)
        order.append("blocker")
        return "b"

    def worker(name: str):
        def call(ready: int) -> str:
            order.append(name)
            return name

        return call

    async def ready() -> int:
        return 1

    names = ["low", "normal", "high"]
    page = Page(
        name="threads",
        shell=Shell(html=slot_html(["b", *names])),
        queries=(
            Query(name="blocker", call=blocker, result=str),
            Query(name="ready", call=ready, result=int),
            *(Query(name=n, call=worker(n), result=str, depends_on=("ready",)) for n in names),
        ),
        fragments=(
            Fragment(target="b", uses=("blocker",), priority=-5, template="x"),
            Fragment(target="low", uses=("low",), priority="low", template="x"),
            Fragment(target="normal", uses=("normal",), template="x"),
            Fragment(target="high", uses=("high",), priority="high", template="x"),
        ),
    )
    sources = Sources(default=1)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: engine.render_to_bytes(page, sources=sources))
        with trio.fail_after(30):
            while sources.statistics()[0].waiting < 3:  # noqa: ASYNC110 (threads; no event)
                await trio.sleep(0.001)
        release.set()
    assert order == ["blocker", "high", "normal", "low"]


async def test_a_more_urgent_waiter_moves_a_queued_call_forward() -> None:
    source = Source("db", 1)
    holder = source.admission((0,))
    assert holder.try_acquire()
    admitted: list[str] = []

    async def wait(name: str, urgency: tuple[float, ...]) -> None:
        admission = calls[name] = source.admission(urgency)
        admission.request()
        await admission.granted()
        admitted.append(name)
        admission.release_on_behalf_of(admission)

    calls: dict[str, engine.resolution.sources.Admission] = {}
    async with trio.open_nursery() as nursery:
        for name, urgency in [("a", (1,)), ("b", (2,)), ("c", (3,))]:
            nursery.start_soon(wait, name, urgency)
            await trio.testing.wait_all_tasks_blocked()
        calls["c"].prioritize((0,))
        calls["a"].prioritize((5,))  # never less urgent than it was
        holder.release_on_behalf_of(holder)
    assert admitted == ["c", "a", "b"]


@given(
    limit=st.integers(1, 3),
    calls=st.lists(st.tuples(st.integers(0, 3), st.booleans()), min_size=1, max_size=12),
)
def test_places_go_by_urgency_then_arrival_and_never_exceed_the_limit(
    limit: int, calls: list[tuple[int, bool]]
) -> None:
    """Every place is taken, then calls queue with random urgencies and some give up: the
    places go to the rest, most urgent first, then in arrival order."""

    async def main() -> list[int]:
        source = Source("db", limit)
        holders = [source.admission() for _ in range(limit)]
        assert all(h.try_acquire() for h in holders)
        admitted: list[int] = []
        scopes = [trio.CancelScope() for _ in calls]

        async def wait(i: int, urgency: int) -> None:
            admission = source.admission((urgency,))
            with scopes[i]:
                admission.request()
                await admission.granted()
                assert source.statistics().busy <= limit
                admitted.append(i)
                await trio.lowlevel.checkpoint()
                admission.release_on_behalf_of(admission)

        async with trio.open_nursery() as nursery:
            for i, (urgency, _) in enumerate(calls):
                nursery.start_soon(wait, i, urgency)
                await trio.testing.wait_all_tasks_blocked()
            for i, (_, gives_up) in enumerate(calls):
                if gives_up:
                    scopes[i].cancel()
            for holder in holders:  # one at a time: each grant is then observed in order
                await trio.testing.wait_all_tasks_blocked()
                holder.release_on_behalf_of(holder)
        assert source.statistics().busy == 0
        return admitted

    admitted = trio.run(main)
    staying = [i for i, (_, gives_up) in enumerate(calls) if not gives_up]
    assert admitted == sorted(staying, key=lambda i: (calls[i][0], i))


@given(
    deps=st.lists(st.sets(st.integers(0, 20), max_size=3), min_size=1, max_size=10),
    fragments=st.lists(
        st.tuples(st.sets(st.integers(0, 20), min_size=1, max_size=3), st.integers(-3, 3)),
        max_size=6,
    ),
    shell=st.sets(st.integers(0, 20), max_size=2),
)
def test_a_query_ranks_as_the_most_urgent_fragment_needing_it(deps, fragments, shell) -> None:
    count = len(deps)
    depends = [sorted({d % i for d in ds}) if i else [] for i, ds in enumerate(deps)]
    uses = [sorted({u % count for u in us}) for us, _ in fragments]
    shell_queries = sorted({s % count for s in shell})

    def call(**_: object) -> int:
        return 1

    page = Page(
        name="ranked",
        shell=Shell(
            html=SHELL.format(
                "".join(f'<?marker name="f{i}">' for i in range(len(fragments)))
                + "".join(f"{{{{ q{s} }}}}" for s in shell_queries)
            ),
            queries=tuple(f"q{s}" for s in shell_queries),
        ),
        queries=tuple(
            Query(name=f"q{i}", call=call, result=int, depends_on=tuple(f"q{d}" for d in ds))
            for i, ds in enumerate(depends)
        ),
        fragments=tuple(
            Fragment(target=f"f{i}", uses=tuple(f"q{u}" for u in uses[i]), priority=p, template="x")
            for i, (_, p) in enumerate(fragments)
        ),
    )
    graph = engine.Graph.build(page)

    def upstream(roots: list[int]) -> set[int]:
        """The queries ``roots`` need, themselves included."""
        seen: set[int] = set()
        stack = list(roots)
        while stack:
            q = stack.pop()
            if q not in seen:
                seen.add(q)
                stack.extend(depends[q])
        return seen

    before_first_byte = upstream(shell_queries)
    for q in graph.queries:
        if q.index in before_first_byte:
            expected: tuple[float, ...] = (0, 0, 0)
        else:
            needing = [
                (1, -priority, f)
                for f, (_, priority) in enumerate(fragments)
                if q.index in upstream(uses[f])
            ]
            expected = min(needing, default=(2, 0, 0))
        assert q.urgency == (*expected, q.index), q.name


async def test_a_call_that_moves_up_keeps_its_arrival_among_equally_urgent_ones() -> None:
    source = Source("db", 1)
    holder = source.admission((0,))
    assert holder.try_acquire()
    admitted: list[str] = []
    calls: dict[str, engine.resolution.sources.Admission] = {}

    async def wait(name: str, urgency: tuple[float, ...]) -> None:
        admission = calls[name] = source.admission(urgency)
        admission.request()
        await admission.granted()
        admitted.append(name)
        admission.release_on_behalf_of(admission)

    async with trio.open_nursery() as nursery:
        for name, urgency in [("a", (2,)), ("b", (1,)), ("c", (3,))]:
            nursery.start_soon(wait, name, urgency)
            await trio.testing.wait_all_tasks_blocked()
        calls["a"].prioritize((1,))  # as urgent as b, and made before it: goes first
        calls["c"].prioritize((2,))
        calls["c"].prioritize((1,))  # moved up twice, to b's urgency; made after b
        holder.prioritize((-1,))  # already holds its place: nothing to move
        assert [calls[n].urgency for n in "abc"] == [(1,), (1,), (1,)]
        assert holder.urgency == (-1,)
        holder.release_on_behalf_of(holder)
    assert admitted == ["a", "b", "c"]


async def test_a_place_granted_to_a_call_that_gives_up_in_the_same_turn_passes_on() -> None:
    # A waiting call gives up (its query timed out) and, before it has run again, the place
    # it waited for is freed and granted to it: it hands the place to the next in line.
    source = Source("db", 1)
    holder = source.admission((0,))
    assert holder.try_acquire()
    admitted: list[str] = []
    gave_up = trio.CancelScope()

    async def wait(name: str, scope: trio.CancelScope) -> None:
        admission = source.admission((1,))
        with scope:
            admission.request()
            await admission.granted()
            admitted.append(name)
            admission.release_on_behalf_of(admission)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait, "a", gave_up)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(wait, "b", trio.CancelScope())
        await trio.testing.wait_all_tasks_blocked()
        gave_up.cancel()
        holder.release_on_behalf_of(holder)  # granted to `a`, which has not seen its cancel
    assert gave_up.cancelled_caught
    assert admitted == ["b"]
    stats = source.statistics()
    assert (stats.busy, stats.waiting, stats.waited, stats.starved) == (0, 0, 2, 1)


def test_sources_show_their_limits() -> None:
    assert repr(Sources(3, db=2, search=1)) == "Sources(default=3, db=2, search=1)"
    assert repr(Sources()) == "Sources(default=40)"


async def test_a_place_is_taken_and_given_back_once_by_each_borrower() -> None:
    # trio's own limiter refuses the same two misuses: a second place for one borrower, and
    # giving back a place not held. Each is a bug in the engine, named with its source.
    source = Source("db", 2)
    admission = source.admission()
    assert admission.try_acquire()
    with pytest.raises(RuntimeError) as taken:
        admission.try_acquire()
    assert str(taken.value) == f"{admission!r} already holds a place in source 'db'"
    admission.release_on_behalf_of(admission)
    with pytest.raises(RuntimeError) as given:
        admission.release_on_behalf_of(admission)
    assert str(given.value) == f"{admission!r} gives back a place it does not hold in source 'db'"
