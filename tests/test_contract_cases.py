"""The contract checker on the hard cases: no false alarm on a real render, no miss on a forgery.

``tests/test_contract.py`` breaks each rule once on a plain page. These are the cases the
checker has to reason about: failures that take nested fragments down, append fragments
that fail between batches, data in the same write as the fragment using it, a fragment
that shares its name with a query, reveal-group members dropped with their parent.
Each real render must pass; each forgery must be reported as exactly its rule.
"""

from __future__ import annotations

import attrs
import pytest
import trio

from engine import Fragment, Page, Query, Shell
from engine.testing import RULES, Timeline, Violation, check_contract, render_timeline
from tests.test_contract import (
    LINK,
    PAGE,
    SHELL,
    _with_data,
    assert_reported,
    timeline_of,
    with_chunks,
)

MODES = ("out-of-order", "in-order", "buffered")


def after(delay: float, value: int = 1, *, fails: bool = False):
    async def call(**deps: object) -> int:
        await trio.sleep(delay)
        if fails:
            raise ConnectionError("backend down")
        return value

    return call


def shows(target: str, *uses: str, template: str | None = None, **options: object) -> Fragment:
    shown = template if template is not None else "".join(f"{{{{ {u} }}}}" for u in uses)
    return Fragment(target=target, uses=uses, template=shown, fallback="…", **options)


def shell(*slots: str, queries: tuple[str, ...] = ()) -> Shell:
    return Shell(
        html=SHELL.format("".join(f'<?marker name="{s}">' for s in slots)), queries=queries
    )


def chunks(timeline: Timeline) -> list[tuple[tuple[str, str], ...]]:
    return [w.chunks for w in timeline.writes]


# -- failures that take nested fragments down -------------------------------------------

# outer fails at 0.1; middle and inner sit inside it, and inner's query depends on one that
# was still running when the render ended (so it never started).
NEVER_RAN = Page(
    name="contract",
    shell=shell("outer", "after"),
    queries=(
        Query(name="a", call=after(0.1, fails=True), result=int),
        Query(name="b", call=after(0.2), result=int),
        Query(name="c", call=after(0.3), result=int, depends_on=("b",)),
        Query(name="d", call=after(0.05), result=int),
    ),
    fragments=(
        shows("outer", "a", template='<div>{{ a }}<?marker name="middle"></div>'),
        shows("middle", "b", template='<p>{{ b }}<?marker name="inner"></p>'),
        shows("inner", "c"),
        shows("after", "d"),
    ),
)
DOWN = (("failed", "outer"), ("failed", "middle"), ("failed", "inner"))


async def test_fragments_inside_a_failure_whose_queries_never_ran(autojump_clock) -> None:
    for mode in MODES:
        timeline = await render_timeline(NEVER_RAN, mode=mode)
        assert "c" not in timeline.queries  # never started: b had not resolved
        assert timeline.queries["b"].end is None  # cancelled when the render ended
        assert check_contract(timeline) == [], mode
    assert chunks(timeline) == [(("shell", ""), *DOWN, ("fragment", "after"), ("close", ""))]


# In order, inner's own data (e, 0.3) comes after outer failed (0.1), and "after" needs e
# too: inner goes down with its grandparent at 0.1, not when its data would have come.
GRANDPARENT = Page(
    name="contract",
    shell=shell("outer", "after"),
    queries=(
        Query(name="a", call=after(0.1, fails=True), result=int),
        Query(name="b", call=after(0.2), result=int),
        Query(name="e", call=after(0.3), result=int),
    ),
    fragments=(
        shows("outer", "a", template='<div>{{ a }}<?marker name="middle"></div>'),
        shows("middle", "b", template='<p>{{ b }}<?marker name="inner"></p>'),
        shows("inner", "e"),
        shows("after", "e"),
    ),
)


async def test_in_order_a_grandchild_goes_down_with_its_grandparent(autojump_clock) -> None:
    timeline = await render_timeline(GRANDPARENT, mode="in-order")
    assert chunks(timeline) == [
        (("shell", ""),),
        DOWN,
        (("fragment", "after"), ("close", "")),
    ]
    assert [w.time for w in timeline.writes] == [0, 0.1, 0.3]
    assert check_contract(timeline) == []
    # Held back until its own data came, it would break rule 3.
    held = with_chunks(timeline, {1: DOWN[:2], 2: (DOWN[2], *chunks(timeline)[2])})
    assert_reported(held, 3, "'inner' was ready (with all before it) for write #1")


# -- append fragments that fail between batches -----------------------------------------


def feed(*gaps: float):
    """One batch at once, then one after each gap but the last, then a failure."""

    async def call():
        yield [0]
        for gap in gaps[:-1]:
            await trio.sleep(gap)
            yield [1]
        await trio.sleep(gaps[-1])
        raise ConnectionError("feed dropped")

    return call


# The list fails at 0.3 after a batch at 0.25; "later" (0.2) and "hi" (0.3) follow it.
FEED = Page(
    name="contract",
    shell=Shell(
        html=SHELL.format('<ul><?marker name="list"></ul><?marker name="later"><?marker name="hi">')
    ),
    queries=(
        Query(name="rows", call=feed(0.25, 0.05), result=list[int]),
        Query(name="l", call=after(0.2), result=int),
        Query(name="h", call=after(0.3), result=int),
    ),
    fragments=(
        Fragment(
            target="list",
            uses=("rows",),
            mode="append",
            template="<li>{{ rows }}</li>",
            fallback="…",
            priority="low",
        ),
        shows("later", "l"),
        shows("hi", "h", priority="high"),
    ),
)


async def test_in_order_what_follows_a_failing_append_waits_for_its_failure(
    autojump_clock,
) -> None:
    timeline = await render_timeline(FEED, mode="in-order")
    assert chunks(timeline) == [
        (("shell", ""),),
        (("fragment", "list"),),
        (("batch", "list"),),
        (("failed", "list"), ("fragment", "later"), ("fragment", "hi"), ("close", "")),
    ]
    assert check_contract(timeline) == []
    # "later" was ready at 0.2 (before the batch at 0.25), but in order the list before it
    # was not complete until it failed at 0.3: holding "later" until then is no violation.


async def slow_rows():
    yield [0]
    await trio.sleep(0.4)
    yield [1]


# In order, "list" (append) also uses "title", which fails at 0.1 while rows still stream
# until 0.4: the list fails at 0.1, and "later" (ready at 0.05) follows it then.
TITLED = Page(
    name="contract",
    shell=shell("list", "later"),
    queries=(
        Query(name="title", call=after(0.1, fails=True), result=int),
        Query(name="rows", call=slow_rows, result=list[int]),
        Query(name="l", call=after(0.05), result=int),
    ),
    fragments=(
        Fragment(
            target="list",
            uses=("title", "rows"),
            mode="append",
            template="<li>{{ title }} {{ rows }}</li>",
            fallback="…",
        ),
        shows("later", "l"),
    ),
)


async def test_in_order_an_append_failing_by_another_query_does_not_wait_for_its_rows(
    autojump_clock,
) -> None:
    for mode in MODES:
        assert check_contract(await render_timeline(TITLED, mode=mode)) == [], mode
    timeline = await render_timeline(TITLED, mode="in-order")
    down, later, close = ("failed", "list"), ("fragment", "later"), ("close", "")
    assert chunks(timeline) == [(("shell", ""),), (down, later, close)]
    assert timeline.writes[1].time == pytest.approx(0.1)
    # Holding "later" back (as if the list were due only when its rows ended) breaks rule 3.
    held = with_chunks(timeline, {1: (down,)})
    held = attrs.evolve(
        held, writes=[*held.writes, attrs.evolve(timeline.writes[1], chunks=(later, close))]
    )
    assert_reported(held, 3, "'later' was ready (with all before it) for write #1")


async def test_out_of_order_a_failing_append_is_a_chunk_like_its_batches(autojump_clock) -> None:
    timeline = await render_timeline(FEED)
    assert chunks(timeline) == [
        (("shell", ""),),
        (("fragment", "list"),),
        (("fragment", "later"),),
        (("batch", "list"),),
        (("fragment", "hi"), ("failed", "list"), ("close", "")),
    ]
    assert check_contract(timeline) == []
    # Its failure (priority low) before a high-priority fragment in the same write.
    forged = with_chunks(timeline, {4: (("failed", "list"), ("fragment", "hi"), ("close", ""))})
    assert_reported(forged, 2, "'list' (priority -1) went before 'hi' (priority 1")
    # A batch of it likewise (the batch moved from write 3 to write 4, before "hi").
    moved = with_chunks(
        timeline,
        {3: (), 4: (("batch", "list"), ("fragment", "hi"), ("failed", "list"), ("close", ""))},
    )
    assert_reported(moved, 2, "'list' (priority -1) went before 'hi' (priority 1")
    ended = with_chunks(
        timeline,
        {4: (("end", "list"), ("fragment", "hi"), ("close", ""))},
    )
    assert 2 in {v.rule for v in check_contract(ended)}


# -- data in the same write as the fragments ---------------------------------------------

# The exposed query "p" shares its name with the fragment "p" that shows it.
SAME_NAME = Page(
    name="contract",
    shell=shell("q", "p"),
    queries=(
        Query(name="v", call=after(0.1), result=int),
        Query(name="p", call=after(0.1), result=int, expose=True),
    ),
    fragments=(shows("q", "v", priority="high"), shows("p", "p", priority="low")),
)


async def test_data_early_in_a_write_is_not_a_chunk_out_of_order(autojump_clock) -> None:
    timeline = await render_timeline(SAME_NAME)
    q, data, p, close = (("fragment", "q"), ("query", "p"), ("fragment", "p"), ("close", ""))
    assert chunks(timeline) == [(("shell", ""),), (q, data, p, close)]
    assert check_contract(timeline) == []
    # The data of "p" may go before "q": it is not the fragment "p" (rule 1 allows earlier).
    assert check_contract(with_chunks(timeline, {1: (data, q, p, close)})) == []
    # After a data chunk, chunks are still checked: "p" before the more urgent "q".
    swapped = with_chunks(timeline, {1: (data, p, q, close)})
    assert_reported(swapped, 2, "'p' (priority -1) went before 'q' (priority 1")


# outer holds inner; "hi" and "lo" are ready at the same time as outer.
NESTED_TIES = Page(
    name="contract",
    shell=shell("outer", "hi", "lo"),
    queries=(Query(name="a", call=after(0.1), result=int),),
    fragments=(
        shows("outer", "a", template='<div>{{ a }}<?marker name="inner"></div>'),
        shows("inner", "a"),
        shows("hi", "a", priority="high"),
        shows("lo", "a", priority="low"),
    ),
)


async def test_chunks_after_a_fragment_placed_inside_its_parent_are_checked(
    autojump_clock,
) -> None:
    timeline = await render_timeline(NESTED_TIES)
    hi, outer, inner, lo = (("fragment", n) for n in ("hi", "outer", "inner", "lo"))
    assert chunks(timeline) == [(("shell", ""),), (hi, outer, inner, lo, ("close", ""))]
    assert check_contract(timeline) == []
    forged = with_chunks(timeline, {1: (outer, inner, lo, hi, ("close", ""))})
    found = assert_reported(forged, 2, "'lo' (priority -1) went before 'hi' (priority 1")
    assert found == [
        Violation(
            2,
            "write #1 at t=0.1: 'lo' (priority -1) went before 'hi' (priority 1, declared"
            " earlier or more urgent)",
        )
    ]


# -- failures of a whole write ----------------------------------------------------------

BOTH_FAIL = Page(
    name="contract",
    shell=shell("hi", "lo"),
    queries=(Query(name="b", call=after(0.2, fails=True), result=int),),
    fragments=(shows("hi", "b", priority="high"), shows("lo", "b", priority="low")),
)


async def test_failed_chunks_go_by_priority_too(autojump_clock) -> None:
    timeline = await render_timeline(BOTH_FAIL)
    hi, lo = ("failed", "hi"), ("failed", "lo")
    assert chunks(timeline) == [(("shell", ""),), (hi, lo, ("close", ""))]
    assert check_contract(timeline) == []
    forged = with_chunks(timeline, {1: (lo, hi, ("close", ""))})
    assert_reported(forged, 2, "'lo' (priority -1) went before 'hi' (priority 1")


# -- a reveal-group member dropped with its parent --------------------------------------

# "gx" (group g) sits in "outer", which fails; "gy" (group g, high) does not wait for it.
# "x" is declared before "outer", with the same priority.
DROPPED_MEMBER = Page(
    name="contract",
    shell=shell("x", "outer", "gy"),
    queries=(
        Query(name="a", call=after(0.1, fails=True), result=int),
        Query(name="v", call=after(0.1), result=int),
    ),
    fragments=(
        shows("x", "v"),
        shows("outer", "a", template='<div>{{ a }}<?marker name="gx"></div>'),
        shows("gx", "v", reveal="g"),
        shows("gy", "v", reveal="g", priority="high"),
    ),
)


async def test_a_member_dropped_with_its_parent_ties_nothing(autojump_clock) -> None:
    timeline = await render_timeline(DROPPED_MEMBER)
    gy, x, outer, gx = ("fragment", "gy"), ("fragment", "x"), ("failed", "outer"), ("failed", "gx")
    assert chunks(timeline) == [(("shell", ""),), (gy, x, outer, gx, ("close", ""))]
    assert check_contract(timeline) == []
    # gx is not placed, so outer is not in gy's unit: outer before x is out of order.
    forged = with_chunks(timeline, {1: (gy, outer, gx, x, ("close", ""))})
    assert_reported(forged, 2, "'outer' (priority 0) went before 'x' (priority 0")


# "gx" (declared first in group g) goes down with "outer" at 0.1; "gy" is ready only at 0.3.
DROPPED_FIRST = Page(
    name="contract",
    shell=shell("outer", "gy"),
    queries=(
        Query(name="a", call=after(0.1, fails=True), result=int),
        Query(name="v", call=after(0.3), result=int),
    ),
    fragments=(
        shows("outer", "a", template='<div>{{ a }}<?marker name="gx"></div>'),
        shows("gx", "a", reveal="g"),
        shows("gy", "v", reveal="g"),
    ),
)


async def test_a_member_dropped_early_does_not_make_the_rest_of_its_group_late(
    autojump_clock,
) -> None:
    for mode in MODES:
        timeline = await render_timeline(DROPPED_FIRST, mode=mode)
        assert check_contract(timeline) == [], mode
    timeline = await render_timeline(DROPPED_FIRST)
    outer, gx, gy = ("failed", "outer"), ("failed", "gx"), ("fragment", "gy")
    assert chunks(timeline) == [(("shell", ""),), (outer, gx), (gy, ("close", ""))]
    assert [w.time for w in timeline.writes] == pytest.approx([0, 0.1, 0.3])
    # gy is still due when it is ready, not when its dropped group-mate went down: held
    # back one write further, it breaks rule 3.
    late = attrs.evolve(timeline.writes[2], chunks=(gy, ("close", "")))
    held = with_chunks(timeline, {2: ()})
    held = attrs.evolve(held, writes=[*held.writes, late])
    assert_reported(held, 3, "'gy' could go in write #2")


async def test_in_order_a_shell_query_fragment_goes_with_the_shell(autojump_clock) -> None:
    page = Page(
        name="contract",
        shell=shell("x", "y", queries=("s",)),
        queries=(
            Query(name="s", call=after(0.1), result=int),
            Query(name="t", call=after(0.2), result=int),
        ),
        fragments=(shows("x", "s"), shows("y", "t")),
    )
    for mode in ("out-of-order", "in-order"):
        timeline = await render_timeline(page, mode=mode)
        assert chunks(timeline) == [
            (("shell", ""), ("fragment", "x")),
            (("fragment", "y"), ("close", "")),
        ]
        assert check_contract(timeline) == [], mode


async def two_batches():
    yield [1]
    await trio.sleep(0.1)
    yield [2]


# The list's stream ends (0.1) before its parent "outer" is placed (0.5), with "hi" and "lo".
ENDED_EARLY = Page(
    name="contract",
    shell=shell("outer", "hi", "lo"),
    queries=(
        Query(name="s", call=after(0.5), result=int),
        Query(name="rows", call=two_batches, result=list[int]),
    ),
    fragments=(
        shows("outer", "s", template='<div>{{ s }}<ul><?marker name="list"></ul></div>'),
        Fragment(target="list", uses=("rows",), mode="append", template="<li>{{ rows }}</li>"),
        shows("hi", "s", priority="high"),
        shows("lo", "s", priority="low"),
    ),
)


async def test_chunks_after_an_append_placed_with_its_end_are_checked(autojump_clock) -> None:
    timeline = await render_timeline(ENDED_EARLY)
    hi, outer, placed, end, lo = (
        ("fragment", "hi"),
        ("fragment", "outer"),
        ("fragment", "list"),
        ("end", "list"),
        ("fragment", "lo"),
    )
    close = ("close", "")
    assert chunks(timeline) == [(("shell", ""),), (hi, outer, placed, end, lo, close)]
    assert check_contract(timeline) == []
    forged = with_chunks(timeline, {1: (outer, placed, end, lo, hi, close)})
    assert_reported(forged, 2, "'lo' (priority -1) went before 'hi' (priority 1")


@pytest.mark.parametrize(
    ("mode", "again"),
    [
        ("out-of-order", b'<template for="outer"></template>'),
        ("in-order", b'<?start name="outer"><?end>'),
    ],
)
async def test_a_stylesheet_is_due_by_the_first_time_its_fragment_appears(
    autojump_clock, mode: str, again: bytes
) -> None:
    timeline = await render_timeline(PAGE, mode=mode)
    assert check_contract(timeline) == []
    # The fragment's HTML before the link, and once more after it: the first one counts.
    data = timeline.writes[1].data.replace(LINK, b"") + LINK + again
    late = _with_data(timeline, 1, data)
    assert_reported(late, 6, "stylesheet '/s.css' came after fragment(s) ['outer']")


TWO_SHEETS = Page(
    name="contract",
    shell=shell("first", "second"),
    queries=(Query(name="v", call=after(0.1), result=int),),
    fragments=(
        shows("first", "v", stylesheets=("/a.css",)),
        shows("second", "v", stylesheets=("/b.css",)),
    ),
)


async def test_every_stylesheet_is_checked_after_one_that_is_wrong(autojump_clock) -> None:
    timeline = await render_timeline(TWO_SHEETS)
    assert check_contract(timeline) == []
    a, b = b'<link rel="stylesheet" href="/a.css">', b'<link rel="stylesheet" href="/b.css">'
    data = timeline.writes[1].data
    assert data.count(a) == data.count(b) == 1
    found = check_contract(_with_data(timeline, 1, data.replace(a, a + a).replace(b, b"")))
    assert [str(v) for v in found] == [
        f"rule 6 ({RULES[6]}): stylesheet '/a.css' was linked 2 times",
        f"rule 6 ({RULES[6]}): stylesheet '/b.css' was linked 0 times",
    ]


async def test_a_slot_filled_again_does_not_hide_the_chunks_after_it(autojump_clock) -> None:
    timeline = await timeline_of()
    again = (("fragment", "outer"), ("fragment", "lo"), ("fragment", "hi"))
    found = check_contract(with_chunks(timeline, {2: again}))
    assert [v.rule for v in found] == [2, 5]
    assert "'lo' (priority -1) went before 'hi' (priority 1" in found[0].message
    assert found[1].message == "slot 'outer' received ['fragment', 'fragment']"


# "broken" (exposed) fails, so it has no data to check; "good" (exposed) comes after it.
AFTER_A_FAILED_QUERY = Page(
    name="contract",
    shell=shell("a", "b"),
    queries=(
        Query(name="broken", call=after(0.1, fails=True), result=int, expose=True),
        Query(name="good", call=after(0.2), result=int, expose=True),
    ),
    fragments=(shows("a", "broken"), shows("b", "good")),
)


async def test_data_after_a_failed_exposed_query_is_checked(autojump_clock) -> None:
    timeline = await render_timeline(AFTER_A_FAILED_QUERY)
    assert check_contract(timeline) == []
    island = b'<script type="application/json" data-query="good">1</script>'
    [index] = [i for i, w in enumerate(timeline.writes) if island in w.data]
    write = timeline.writes[index]
    twice = _with_data(timeline, index, write.data.replace(island, island + island))
    twice = with_chunks(twice, {index: (("query", "good"), *write.chunks)})
    assert [str(v) for v in check_contract(twice)] == [
        f"rule 1 ({RULES[1]}): data of query 'good' was sent 2 times"
    ]


# "gx" (group g) sits in "outer"; "gy" (group g) and "z" are ready with them, z declared last.
UNJUDGED_GROUP = Page(
    name="contract",
    shell=shell("outer", "gy", "z"),
    queries=(Query(name="v", call=after(0.1), result=int),),
    fragments=(
        shows("outer", "v", template='<div>{{ v }}<?marker name="gx"></div>'),
        shows("gx", "v", reveal="g"),
        shows("gy", "v", reveal="g"),
        shows("z", "v"),
    ),
)


async def test_fragments_after_one_whose_group_cannot_be_judged_are_still_checked(
    autojump_clock,
) -> None:
    timeline = await render_timeline(UNJUDGED_GROUP)
    outer, gx, gy = ("fragment", "outer"), ("fragment", "gx"), ("fragment", "gy")
    z, close = ("fragment", "z"), ("close", "")
    assert chunks(timeline) == [(("shell", ""),), (outer, gx, gy, z, close)]
    assert check_contract(timeline) == []
    # outer (so gx) never sent: gy's group cannot be judged for rule 3, but z, held back
    # one write, still breaks it.
    late = attrs.evolve(timeline.writes[1], chunks=(z, close))
    forged = with_chunks(timeline, {1: (gy,)})
    forged = attrs.evolve(forged, writes=[*forged.writes, late])
    found = [str(v) for v in check_contract(forged) if v.rule == 3]
    assert found == [
        f"rule 3 ({RULES[3]}): 'z' could go in write #1 (t=0.1) but went in write #2 (t=0.1)"
    ]


@pytest.mark.parametrize("mode", MODES)
async def test_data_or_a_stylesheet_inside_a_template_is_not_delivered(
    autojump_clock, mode: str
) -> None:
    # In the right place byte by byte, but inert: a <template>'s content is not in the document,
    # so no script reads that data and no stylesheet applies. (A <template for> is placed as it
    # closes: a navigation's answer holds its data so, tests/test_navigation.py.)
    timeline = await render_timeline(PAGE, mode=mode)
    assert check_contract(timeline) == []
    island = b'<script type="application/json" data-query="a">1</script>'
    for part, rule, message in (
        (island, 1, "data of query 'a' is in a <template> never placed"),
        (LINK, 6, "stylesheet '/s.css' is in a <template> never placed"),
    ):
        [index] = [i for i, w in enumerate(timeline.writes) if part in w.data]
        data = timeline.writes[index].data
        for wrapped in (
            b"<TEMPLATE>" + part + b"</template>",
            b'<template for="x"><template id="for">' + part + b"</template></template>",
        ):
            inert = _with_data(timeline, index, data.replace(part, wrapped))
            assert [str(v) for v in check_contract(inert)] == [
                f"rule {rule} ({RULES[rule]}): {message}"
            ]
        closed = _with_data(timeline, index, data.replace(part, b"<template></template>" + part))
        assert check_contract(closed) == [], "a template closed before it holds nothing"


async def test_in_order_a_slot_never_filled_does_not_stop_the_check_of_those_after_it(
    autojump_clock,
) -> None:
    timeline = await timeline_of("in-order")
    hi, lo = ("fragment", "hi"), ("fragment", "lo")
    forged = with_chunks(
        timeline, {1: (("query", "a"),), 2: (), 3: (hi, lo, ("fragment", "ga"), ("fragment", "gb"))}
    )
    found = [(v.rule, v.message) for v in check_contract(forged) if v.rule == 3]
    assert found == [
        (3, f"'{name}' was ready (with all before it) for write #2 but went out in write #3")
        for name in ("hi", "lo")
    ]
