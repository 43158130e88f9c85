"""An action's response under MockClock: ``engine.testing.render_action_timeline`` and the
contract checker read it as what it is: no shell, only what changed, over the page in place."""

from __future__ import annotations

import re

import attrs
import msgspec
import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

import engine
from engine import Action, Fragment, Page, Query, Shell
from engine.contract.trace import Write
from engine.testing import assert_contract, check_contract, render_action_timeline
from tests.strategies import Case, cases


class Add(msgspec.Struct):
    item: str
    qty: int = 1


ITEMS: list[str] = []


async def add(data: Add) -> None:
    ITEMS.append(data.item)


def _page() -> Page:
    """A badge (high priority, its data exposed) and a list that nests a count; a note that
    no action touches; the form."""

    async def items() -> list[str]:
        return list(ITEMS)

    async def total(items: list[str]) -> int:
        return len(items)

    return Page(
        name="board",
        shell=Shell(
            html='<!doctype html><meta charset="utf-8"><body><?marker name="badge">'
            '<?marker name="list"><?marker name="note"><?marker name="form"></body>'
        ),
        queries=(
            Query(name="items", call=items, result=list[str]),
            Query(name="total", call=total, result=int, depends_on=("items",), expose=True),
            Query(name="note", call=lambda: 7, result=int),
            Query(name="form", call=engine.form_state, result=engine.FormState),
        ),
        fragments=(
            Fragment(target="badge", uses=("total",), template="{{ total }}", priority="high"),
            Fragment(
                target="list",
                uses=("items",),
                render=lambda items: ",".join(items) + '<?marker name="count">',
                slots=("count",),
            ),
            Fragment(target="count", uses=("total",), template="({{ total }})"),
            Fragment(target="note", uses=("note",), template="{{ note }}"),
            Fragment(
                target="form",
                uses=("form",),
                render=lambda form: engine.html("[{{ e }}]", e=form.errors.get("qty", "")),
            ),
        ),
        actions=(Action(name="add", call=add, input=Add, invalidates=("items",)),),
    )


@pytest.fixture(autouse=True)
def _empty() -> None:
    ITEMS.clear()


async def test_only_what_changed_streams_as_soon_as_ready_with_its_data(autojump_clock) -> None:
    timeline = await render_action_timeline(
        _page(), action="add", form={"item": "milk"}, latencies={"items": 0.1, "total": 0.2}
    )
    assert_contract(timeline)
    assert ITEMS == ["milk"]
    assert timeline.order() == ["form", "badge", "list", "count"], "the note is not sent"
    assert timeline.time_of("form") == 0.0
    # The list waits for the count nested in it (inline: no fallback over shown content).
    assert timeline.time_of("list") == timeline.time_of("badge") == pytest.approx(0.3)
    html = timeline.html
    assert '<template for="list"><?start name="list">milk<?start name="count">(1)<?end>' in html
    assert html.index('data-query="total">1</script>') < html.index('<template for="badge">')
    assert html.index('<template for="badge">') < html.index('<template for="list">')
    assert "<!doctype" not in html and "note" not in html
    assert all(w.data.endswith(b"<script>$E()</script>") for w in timeline.writes if w.data)


async def test_input_that_does_not_convert_streams_the_form_alone(autojump_clock) -> None:
    timeline = await render_action_timeline(_page(), action="add", form={"item": "x", "qty": "y"})
    assert_contract(timeline)
    assert ITEMS == [] and timeline.order() == ["form"]
    assert "[Expected `int`, got `str`]" in timeline.html


async def test_the_checker_reports_what_an_action_response_must_not_do(autojump_clock) -> None:
    timeline = await render_action_timeline(_page(), action="add", form={"item": "milk"})
    last = timeline.writes[-1]
    timeline.writes.insert(
        0,
        Write(
            0.0,
            b'<!doctype html><template for="note">7</template>',
            (("shell", ""), ("fragment", "note")),
            0,
        ),
    )
    timeline.writes[-1] = last
    found = {(v.rule, v.message) for v in check_contract(timeline)}
    assert (5, "slot 'note' did not change but received ['fragment']") in found
    assert (7, "an action's response carries a shell") in found
    assert (7, "write #0 does not end with the swap script") in found


def _changed_and_sent(case: Case, invalidated: set[int]) -> tuple[set[str], set[str]]:
    """The model: changed queries (invalidated and their dependents) and the fragments an
    action response must fill (those using a changed query, and everything nested in them)."""
    changed = set(invalidated)
    grew = True
    while grew:
        grew = False
        for i, q in enumerate(case.queries):
            if i not in changed and changed.intersection(q.deps):
                changed.add(i)
                grew = True
    sent: set[int] = set()
    stack = [k for k, f in enumerate(case.fragments) if changed.intersection(f.uses)]
    while stack:
        k = stack.pop()
        sent.add(k)
        stack.extend(case.fragments[k].children)
    return {case.queries[i].name for i in changed}, {case.fragments[k].target for k in sent}


async def _noop() -> None:
    await trio.lowlevel.checkpoint()


@given(cases(), st.data())
def test_action_responses_keep_the_contract_and_send_exactly_what_changed(case, data) -> None:
    invalidated = data.draw(st.sets(st.integers(0, len(case.queries) - 1), max_size=3))
    names = tuple(case.queries[i].name for i in sorted(invalidated))
    page = msgspec.structs.replace(
        case.page(), actions=(Action(name="act", call=_noop, invalidates=names),)
    )
    settle = case.settle_times()
    shell_fails = any(not settle[i][1] for i, q in enumerate(case.queries) if q.shell)

    async def main():
        return await render_action_timeline(
            page, action="act", latencies=case.latencies(), failures=case.failures()
        )

    clock = trio.testing.MockClock(autojump_threshold=0)
    if shell_fails:  # the guards refuse: the action does not run, nothing streams
        with pytest.raises((engine.ShellError, engine.NotFound)):
            trio.run(main, clock=clock)
        return
    timeline = trio.run(main, clock=clock)
    assert check_contract(timeline) == [], timeline.format()
    changed, sent = _changed_and_sent(case, invalidated)
    filled = {e.name for e in timeline.events if e.kind in ("fragment", "failed")}
    assert filled == sent, timeline.format()
    data_sent = {e.name for e in timeline.events if e.kind == "query"}
    carried = {  # an append fragment sent again carries its batches (and their data) again
        case.queries[f.append].name
        for f in case.fragments
        if f.target in sent and f.append is not None
    }
    assert data_sent <= changed | carried, timeline.format()
    assert data_sent <= {q.name for q in case.queries if q.expose}, timeline.format()


async def test_changed_shell_data_goes_out_only_if_the_page_exposes_it(autojump_clock) -> None:
    """An action changing shell queries sends the exposed one's new value, never the other's:
    a query's data reaches the client only if the page says so, changed or not."""

    async def count() -> int:
        return len(ITEMS)

    async def owner() -> str:
        return "secret-" + str(len(ITEMS))

    page = Page(
        name="shellboard",
        shell=Shell(
            html='<!doctype html><body>{{ owner }}<?marker name="badge"></body>',
            queries=("count", "owner"),
        ),
        queries=(
            Query(name="count", call=count, result=int, expose=True),
            Query(name="owner", call=owner, result=str),
        ),
        fragments=(Fragment(target="badge", uses=("count",), template="{{ count }}"),),
        actions=(Action(name="add", call=add, input=Add, invalidates=("count", "owner")),),
    )
    timeline = await render_action_timeline(page, action="add", form={"item": "milk"})
    assert_contract(timeline)
    assert timeline.html == (
        '<script type="application/json" data-query="count">1</script>'
        '<template for="badge"><?start name="badge">1<?end></template><script>$E()</script>'
    )
    assert [(e.kind, e.name) for e in timeline.events] == [
        ("query", "count"),
        ("fragment", "badge"),
        ("close", ""),
    ]


def _moved(timeline, target: str, to: int):
    """``timeline`` with ``target``'s template taken out of its write and put in write ``to``
    (after what that write places, before its swap script)."""
    from tests.test_contract import forge

    template = re.compile(rf'<template for="{target}">.*?</template>'.encode(), re.S)
    swap = b"<script>$E()</script>"
    writes = list(timeline.writes)
    [source] = [i for i, w in enumerate(writes) if ("fragment", target) in w.chunks]
    moved = template.search(writes[source].data)[0]
    left = template.sub(b"", writes[source].data, count=1)
    writes[source] = attrs.evolve(
        writes[source],
        data=b"" if left == swap else left,
        chunks=tuple(c for c in writes[source].chunks if c != ("fragment", target)),
    )
    data = writes[to].data
    chunks = writes[to].chunks
    close = [c for c in chunks if c[0] == "close"]
    writes[to] = attrs.evolve(
        writes[to],
        data=data.removesuffix(swap) + moved + swap,
        chunks=(*[c for c in chunks if c[0] != "close"], ("fragment", target), *close),
    )
    return forge(timeline, writes)


async def test_the_checker_reports_an_action_fragment_held_back(autojump_clock) -> None:
    timeline = await render_action_timeline(
        _page(), action="add", form={"item": "milk"}, latencies={"items": 0.1, "total": 0.2}
    )
    assert check_contract(timeline) == []
    late = _moved(timeline, "form", 1)
    assert [(v.rule, v.message) for v in check_contract(late)] == [
        (3, "'form' could go in write #0 (t=0) but went in write #1 (t=0.3)")
    ]


async def test_the_checker_reports_an_action_response_that_starts_a_document(
    autojump_clock,
) -> None:
    timeline = await render_action_timeline(_page(), action="add", form={"item": "milk"})
    first = timeline.writes[0]
    timeline.writes[0] = attrs.evolve(first, data=b"<!DOCTYPE html>" + first.data)
    assert [(v.rule, v.message) for v in check_contract(timeline)] == [
        (7, "an action's response carries a shell")
    ]


async def test_the_checker_reports_a_reveal_group_split_in_an_action_response(
    autojump_clock,
) -> None:
    async def items() -> list[str]:
        return list(ITEMS)

    page = Page(
        name="grouped",
        shell=Shell(
            html='<!doctype html><meta charset="utf-8"><body><?marker name="a">'
            '<?marker name="b"></body>'
        ),
        queries=(Query(name="items", call=items, result=list[str]),),
        fragments=(
            Fragment(target="a", uses=("items",), template="{{ items }}", reveal="g"),
            Fragment(target="b", uses=("items",), template="{{ items }}", reveal="g"),
        ),
        actions=(Action(name="add", call=add, input=Add, invalidates=("items",)),),
    )
    timeline = await render_action_timeline(
        page, action="add", form={"item": "tea"}, latencies={"items": 0.1}
    )
    assert check_contract(timeline) == []
    [write] = [i for i, w in enumerate(timeline.writes) if ("fragment", "b") in w.chunks]
    timeline.writes.append(attrs.evolve(timeline.writes[write], time=0.5, data=b"", chunks=()))
    split = _moved(timeline, "b", len(timeline.writes) - 1)
    assert (8, f"reveal group 'g' split across writes [{write}, {write + 1}]") in {
        (v.rule, v.message) for v in check_contract(split)
    }
