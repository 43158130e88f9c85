"""The contract checker catches each of the eight rules on a forged timeline.

A real render keeps the contract; every test below edits a copy of its timeline in one
way that breaks exactly one rule, and checks that exactly that rule is reported.
"""

from __future__ import annotations

import attrs
import pytest
import trio

from engine import Fragment, Page, Query, Shell
from engine.testing import (
    RULES,
    Timeline,
    Violation,
    Write,
    assert_contract,
    check_contract,
    render_timeline,
)

SHELL = '<!doctype html><html><head><meta charset="utf-8"></head><body>{}</body></html>'
LINK = b'<link rel="stylesheet" href="/s.css">'


def sleeper(value: int, delay: float):
    async def call(**deps: object) -> int:
        await trio.sleep(delay)
        return value

    return call


def _fragment(target: str, use: str, **options: object) -> Fragment:
    template = f"{{{{ {use} }}}}"
    return Fragment(target=target, uses=(use,), template=template, fallback="…", **options)


SLOTS = ("outer", "hi", "lo", "ga", "gb")
PAGE = Page(
    name="contract",
    shell=Shell(html=SHELL.format("".join(f'<?marker name="{s}">' for s in SLOTS))),
    queries=(
        Query(name="a", call=sleeper(1, 0.1), result=int, expose=True),
        Query(name="b", call=sleeper(2, 0.2), result=int),
        Query(name="c", call=sleeper(3, 0.3), result=int),
        Query(name="d", call=sleeper(4, 0.4), result=int),
    ),
    fragments=(
        Fragment(
            target="outer",
            uses=("a",),
            template='<div>{{ a }}<?marker name="inner"></div>',
            fallback="…",
            stylesheets=("/s.css",),
        ),
        _fragment("inner", "a", priority="high"),
        _fragment("hi", "b", priority="high"),
        _fragment("lo", "b", priority="low"),
        _fragment("ga", "c", reveal="g"),
        _fragment("gb", "d", reveal="g"),
    ),
)

# What every mode streams for PAGE (out-of-order and in-order alike).
EXPECTED_CHUNKS = [
    (("shell", ""),),
    (("query", "a"), ("fragment", "outer"), ("fragment", "inner")),
    (("fragment", "hi"), ("fragment", "lo")),
    (("fragment", "ga"), ("fragment", "gb"), ("close", "")),
]


async def timeline_of(mode: str = "out-of-order") -> Timeline:
    timeline = await render_timeline(PAGE, mode=mode)
    assert [w.chunks for w in timeline.writes] == EXPECTED_CHUNKS
    assert check_contract(timeline) == []
    return timeline


def forge(timeline: Timeline, writes: list[Write]) -> Timeline:
    """A copy of ``timeline`` with other writes (the original is left alone)."""
    return attrs.evolve(timeline, writes=writes)


def with_chunks(timeline: Timeline, changes: dict[int, tuple[tuple[str, str], ...]]) -> Timeline:
    writes = [
        attrs.evolve(w, chunks=changes[i]) if i in changes else w
        for i, w in enumerate(timeline.writes)
    ]
    return forge(timeline, writes)


def rules(timeline: Timeline, **options: float) -> list[int]:
    return sorted({v.rule for v in check_contract(timeline, **options)})


def assert_reported(forged: Timeline, rule: int, fragment: str) -> list[Violation]:
    """Exactly ``rule`` is broken; assert_contract names it and shows the timeline."""
    found = check_contract(forged)
    assert found and {v.rule for v in found} == {rule}, found
    assert any(fragment in v.message for v in found), found
    with pytest.raises(AssertionError) as caught:
        assert_contract(forged)
    message = str(caught.value)
    assert f"rule {rule} ({RULES[rule]})" in message
    assert f"page 'contract' ({forged.mode}) broke the ordering contract" in message
    assert "timeline:\n" + forged.format() in message
    return found


@pytest.mark.parametrize("mode", ["out-of-order", "in-order", "buffered"])
async def test_a_real_render_keeps_the_contract_in_every_mode(autojump_clock, mode) -> None:
    timeline = await render_timeline(PAGE, mode=mode)
    assert check_contract(timeline) == []
    assert_contract(timeline)
    if mode == "buffered":
        assert len(timeline.writes) == 1
    else:
        assert [w.chunks for w in timeline.writes] == EXPECTED_CHUNKS
        assert [w.time for w in timeline.writes] == pytest.approx([0, 0.1, 0.2, 0.4])


def test_rules_are_the_eight_of_the_contract() -> None:
    assert sorted(RULES) == list(range(1, 9))
    assert str(Violation(6, "x")) == f"rule 6 ({RULES[6]}): x"


# -- rule 1: exposed data before or with its first fragment, never twice ---------------


async def test_rule_1_data_after_the_fragment_that_uses_it(autojump_clock) -> None:
    timeline = await timeline_of()
    forged = with_chunks(
        timeline, {1: (("fragment", "outer"), ("query", "a"), ("fragment", "inner"))}
    )
    found = assert_reported(forged, 1, "'outer' went out before the data of 'a'")
    assert len(found) == 1
    assert timeline.writes[1].chunks == EXPECTED_CHUNKS[1]  # the original is untouched


async def test_rule_1_exposed_data_never_sent(autojump_clock) -> None:
    timeline = await timeline_of()
    forged = with_chunks(timeline, {1: (("fragment", "outer"), ("fragment", "inner"))})
    assert check_contract(forged) == [
        Violation(1, "data of query 'a' was sent 0 times"),
        Violation(1, "fragment 'outer' went out before the data of 'a'"),
        Violation(1, "fragment 'inner' went out before the data of 'a'"),
    ]
    assert_reported(forged, 1, "data of query 'a' was sent 0 times")


async def test_rule_1_data_sent_twice(autojump_clock) -> None:
    timeline = await timeline_of()
    forged = with_chunks(timeline, {2: (("query", "a"), *EXPECTED_CHUNKS[2])})
    assert_reported(forged, 1, "data of query 'a' was sent 2 times")


async def test_rule_1_data_of_a_query_that_is_not_exposed(autojump_clock) -> None:
    timeline = await timeline_of()
    forged = with_chunks(timeline, {2: (("query", "b"), *EXPECTED_CHUNKS[2])})
    assert_reported(forged, 1, "query 'b' is not exposed but its data was sent")


async def test_rule_1_non_exposed_data_in_the_bytes_alone(autojump_clock) -> None:
    timeline = await timeline_of()
    last = timeline.writes[-1]
    leaked = b'<script type="application/json" data-query="c">3</script>'
    forged = forge(timeline, [*timeline.writes[:-1], attrs.evolve(last, data=leaked + last.data)])
    assert_reported(forged, 1, "query 'c' is not exposed")


# -- rule 2: ready chunks by priority, then declaration order --------------------------


async def test_rule_2_equal_priorities_out_of_declaration_order(autojump_clock) -> None:
    timeline = await timeline_of()
    forged = with_chunks(timeline, {3: (("fragment", "gb"), ("fragment", "ga"), ("close", ""))})
    assert_reported(forged, 2, "'gb' (priority 0) went before 'ga' (priority 0")


def _tied(target: str, **options: object) -> Fragment:
    return _fragment(target, "v", **options)


# Five fragments ready at once: two plain ones of equal priority, and a reveal group whose
# most urgent member ties with a plain high-priority fragment declared before it.
TIES = Page(
    name="contract",
    shell=Shell(html=SHELL.format("".join(f'<?marker name="{s}">' for s in "xypqr"))),
    queries=(Query(name="v", call=sleeper(1, 0.1), result=int),),
    fragments=(
        _tied("x"),
        _tied("y"),
        _tied("p", reveal="g"),
        _tied("q", priority="high"),
        _tied("r", priority="high", reveal="g"),
    ),
)
TIED_WRITE = (
    ("fragment", "q"),  # priority 1, declared before the group's most urgent member r
    ("fragment", "r"),
    ("fragment", "p"),
    ("fragment", "x"),  # priority 0, declared before y
    ("fragment", "y"),
    ("close", ""),
)


async def test_rule_2_ties_go_by_declaration_order(autojump_clock) -> None:
    timeline = await render_timeline(TIES)
    assert [w.chunks for w in timeline.writes] == [(("shell", ""),), TIED_WRITE]
    assert check_contract(timeline) == []
    q, r, p, x, y, close = TIED_WRITE
    plain_swapped = with_chunks(timeline, {1: (q, r, p, y, x, close)})
    assert_reported(plain_swapped, 2, "'y' (priority 0) went before 'x' (priority 0")
    group_first = with_chunks(timeline, {1: (r, p, q, x, y, close)})
    assert_reported(group_first, 2, "'r' (priority 1) went before 'q' (priority 1")


async def test_rule_2_low_priority_before_high_in_one_write(autojump_clock) -> None:
    timeline = await timeline_of()
    forged = with_chunks(timeline, {2: (("fragment", "lo"), ("fragment", "hi"))})
    assert_reported(forged, 2, "'lo' (priority -1) went before 'hi' (priority 1")


async def test_rule_2_in_order_out_of_document_order(autojump_clock) -> None:
    timeline = await timeline_of("in-order")
    forged = with_chunks(timeline, {2: (("fragment", "lo"), ("fragment", "hi"))})
    assert_reported(forged, 2, "in-order fragments out of document order")


# -- rule 3: work-conserving -----------------------------------------------------------


async def test_rule_3_a_ready_fragment_held_back(autojump_clock) -> None:
    timeline = await timeline_of()
    forged = with_chunks(
        timeline,
        {
            2: (("fragment", "hi"),),
            3: (("fragment", "ga"), ("fragment", "gb"), ("fragment", "lo"), ("close", "")),
        },
    )
    assert_reported(forged, 3, "'lo' could go in write #2 (t=0.2) but went in write #3 (t=0.4)")


async def test_rule_3_in_order_held_back(autojump_clock) -> None:
    timeline = await timeline_of("in-order")
    forged = with_chunks(
        timeline,
        {
            2: (("fragment", "hi"),),
            3: (("fragment", "lo"), ("fragment", "ga"), ("fragment", "gb"), ("close", "")),
        },
    )
    assert_reported(forged, 3, "'lo' was ready (with all before it) for write #2")


async def test_rule_3_a_fragment_before_its_data_was_ready(autojump_clock) -> None:
    timeline = await timeline_of()
    forged = with_chunks(
        timeline, {1: (*EXPECTED_CHUNKS[1], ("fragment", "lo")), 2: (("fragment", "hi"),)}
    )
    assert_reported(forged, 3, "'lo' could go in write #2 (t=0.2) but went in write #1 (t=0.1)")


async def test_rule_3_in_order_a_fragment_before_its_data_was_ready(autojump_clock) -> None:
    timeline = await timeline_of("in-order")
    forged = with_chunks(timeline, {1: EXPECTED_CHUNKS[1] + EXPECTED_CHUNKS[2], 2: ()})
    found = assert_reported(forged, 3, "'hi' went out in write #1, before it")
    assert [v.message for v in found] == [
        f"{name!r} went out in write #1, before it was ready for write #2" for name in ("hi", "lo")
    ]


# -- rule 4: a nested fragment never before its parent ----------------------------------


async def test_rule_4_nested_fragment_before_its_parent(autojump_clock) -> None:
    timeline = await timeline_of()
    forged = with_chunks(
        timeline, {1: (("query", "a"), ("fragment", "inner"), ("fragment", "outer"))}
    )
    assert_reported(forged, 4, "'inner' went out before its parent 'outer'")


async def test_rule_4_in_order_is_also_out_of_document_order(autojump_clock) -> None:
    timeline = await timeline_of("in-order")
    forged = with_chunks(
        timeline, {1: (("query", "a"), ("fragment", "inner"), ("fragment", "outer"))}
    )
    assert rules(forged) == [2, 4]


@pytest.mark.parametrize("mode", ["out-of-order", "in-order"])
async def test_rule_4_a_child_placed_while_its_parent_never_was(autojump_clock, mode) -> None:
    timeline = await timeline_of(mode)
    forged = with_chunks(timeline, {1: (("query", "a"), ("fragment", "inner"))})
    assert check_contract(forged) == [
        Violation(4, "'inner' went out before its parent 'outer'"),
        Violation(5, "slot 'outer' was never filled nor marked failed"),
    ]


# -- rule 5: every slot filled once, in order, or marked failed ------------------------


async def test_rule_5_a_slot_never_filled(autojump_clock) -> None:
    timeline = await timeline_of()
    forged = with_chunks(timeline, {2: (("fragment", "hi"),)})
    assert_reported(forged, 5, "slot 'lo' was never filled nor marked failed")


async def test_rule_5_a_slot_filled_twice(autojump_clock) -> None:
    timeline = await timeline_of()
    forged = with_chunks(
        timeline, {3: (("fragment", "ga"), ("fragment", "gb"), ("fragment", "hi"), ("close", ""))}
    )
    assert_reported(forged, 5, "slot 'hi' received ['fragment', 'fragment']")


async def test_rule_5_a_slot_both_filled_and_failed(autojump_clock) -> None:
    timeline = await timeline_of()
    forged = with_chunks(
        timeline, {3: (("fragment", "ga"), ("fragment", "gb"), ("failed", "lo"), ("close", ""))}
    )
    assert_reported(forged, 5, "slot 'lo' received ['fragment', 'failed']")


async def rows():
    for batch in ([1], [2]):
        await trio.sleep(0.1)
        yield batch


LIST_PAGE = Page(
    name="contract",
    shell=Shell(html=SHELL.format('<ul><?marker name="list"></ul>')),
    queries=(Query(name="rows", call=rows, result=list[int]),),
    fragments=(
        Fragment(
            target="list",
            uses=("rows",),
            mode="append",
            template="{{ rows }}",
            fallback="<li>…</li>",
        ),
    ),
)


async def test_rule_5_an_append_slot_batch_after_its_end(autojump_clock) -> None:
    timeline = await render_timeline(LIST_PAGE)
    kinds = [(e.kind, e.name) for e in timeline.events]
    assert kinds == [
        ("shell", ""),
        ("fragment", "list"),
        ("batch", "list"),
        ("end", "list"),
        ("close", ""),
    ]
    assert check_contract(timeline) == []
    # The end of the stream before its last batch: swap the two events.
    swap = {("batch", "list"): ("end", "list"), ("end", "list"): ("batch", "list")}
    writes = [
        attrs.evolve(w, chunks=tuple(swap.get(c, c) for c in w.chunks)) for w in timeline.writes
    ]
    found = check_contract(forge(timeline, writes))
    assert {v.rule for v in found} == {5}
    assert "append slot 'list' received ['fragment', 'end', 'batch']" in found[0].message


# -- rule 6: each stylesheet once, no later than its first fragment --------------------


def _with_data(timeline: Timeline, index: int, data: bytes) -> Timeline:
    writes = list(timeline.writes)
    writes[index] = attrs.evolve(writes[index], data=data)
    return forge(timeline, writes)


@pytest.mark.parametrize("mode", ["out-of-order", "in-order", "buffered"])
async def test_rule_6_a_stylesheet_linked_twice(autojump_clock, mode) -> None:
    timeline = await render_timeline(PAGE, mode=mode)
    index = next(i for i, w in enumerate(timeline.writes) if LINK in w.data)
    assert timeline.html.count(LINK.decode()) == 1
    data = timeline.writes[index].data.replace(LINK, LINK + LINK)
    assert_reported(_with_data(timeline, index, data), 6, "stylesheet '/s.css' was linked 2 times")


async def test_rule_6_a_stylesheet_after_its_fragment(autojump_clock) -> None:
    timeline = await timeline_of()
    data = timeline.writes[1].data.replace(LINK, b"") + LINK
    assert_reported(
        _with_data(timeline, 1, data), 6, "stylesheet '/s.css' came after fragment(s) ['outer']"
    )


async def test_rule_6_a_stylesheet_never_linked(autojump_clock) -> None:
    timeline = await timeline_of()
    data = timeline.writes[1].data.replace(LINK, b"")
    assert_reported(_with_data(timeline, 1, data), 6, "stylesheet '/s.css' was linked 0 times")


# -- rule 7: shell first, closing HTML last ---------------------------------------------


async def test_rule_7_no_closing_html(autojump_clock) -> None:
    timeline = await timeline_of()
    forged = with_chunks(timeline, {3: (("fragment", "ga"), ("fragment", "gb"))})
    assert_reported(forged, 7, "the closing HTML is not the last thing sent")


async def test_rule_7_closing_html_before_the_last_chunk(autojump_clock) -> None:
    timeline = await timeline_of()
    forged = with_chunks(
        timeline,
        {2: (("fragment", "hi"), ("fragment", "lo"), ("close", "")), 3: EXPECTED_CHUNKS[3][:2]},
    )
    assert_reported(forged, 7, "the closing HTML is not the last thing sent, exactly once")


async def test_rule_7_the_shell_is_not_the_first_write(autojump_clock) -> None:
    timeline = await timeline_of()
    forged = with_chunks(timeline, {0: (), 1: (("shell", ""), *EXPECTED_CHUNKS[1])})
    assert_reported(forged, 7, "the first write is not the shell")


async def test_rule_7_the_shell_waited_and_slack_forgives_a_little(autojump_clock) -> None:
    timeline = await timeline_of()
    late = forge(timeline, [attrs.evolve(timeline.writes[0], time=0.05), *timeline.writes[1:]])
    assert_reported(late, 7, "the shell went out at t=0.05, after its queries were done at t=0")
    assert rules(late, slack=0.05) == []
    assert rules(late, slack=0.04) == [7]


# -- rule 8: a reveal group in one chunk -----------------------------------------------


async def test_rule_8_a_reveal_group_split_across_writes(autojump_clock) -> None:
    timeline = await timeline_of()
    last = timeline.writes[3]
    split = [
        *timeline.writes[:3],
        attrs.evolve(last, chunks=(("fragment", "ga"),)),
        attrs.evolve(last, chunks=(("fragment", "gb"), ("close", ""))),
    ]
    found = check_contract(forge(timeline, split))
    # Out of order, a split group also holds one member back from the write it could join.
    assert {v.rule for v in found} == {3, 8}
    split_message = next(v.message for v in found if v.rule == 8)
    assert split_message == "reveal group 'g' split across writes [3, 4]"


async def test_rule_8_in_order_a_member_before_the_rest_is_ready(autojump_clock) -> None:
    timeline = await timeline_of("in-order")
    # A write at t=0.3, when ga's data arrived and gb's had not: ga alone breaks rule 8 there.
    last = timeline.writes[3]
    alone = attrs.evolve(
        last, time=0.3, seq=timeline.queries["c"].seq, chunks=(("fragment", "ga"),)
    )
    rest = attrs.evolve(last, chunks=(("fragment", "gb"), ("close", "")))
    forged = forge(timeline, [*timeline.writes[:3], alone, rest])
    assert_reported(forged, 8, "reveal group 'g': ['ga'] went out before the rest")
    # In the write before, ga would also precede its own data: rule 3 says that part.
    early = with_chunks(timeline, {2: (*EXPECTED_CHUNKS[2], ("fragment", "ga")), 3: rest.chunks})
    assert rules(early) == [3, 8]
