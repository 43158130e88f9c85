"""Random page graphs must always keep the ordering contract, at the earliest times.

Each example is rendered in all three modes under a fresh MockClock; the timeline is
checked by the contract checker and against an independent model of query times.
"""

from __future__ import annotations

import math

import pytest
import trio
import trio.testing
from hypothesis import given, settings

from engine import NotFound, ShellError
from engine.testing import check_contract, render_timeline
from tests.strategies import Case, cases, tied_cases

MODES = ("out-of-order", "in-order", "buffered")


def _run(case: Case, mode: str):
    async def main():
        return await render_timeline(
            case.page(), latencies=case.latencies(), failures=case.failures(), mode=mode
        )

    return trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def _failed_fragments(case: Case, settle) -> set[int]:
    failed = set()
    for k, f in enumerate(case.fragments):
        plain = [u for u in f.uses if u != f.append]
        batches_failed = f.append is not None and not any(settle[f.append][1:])
        if f.raises or any(not settle[u][1] for u in plain) or batches_failed:
            failed.add(k)
    return failed


def _expected_emissions(case: Case, settle, shell_time: float) -> dict[str, float]:
    """Out-of-order: each fragment at the earliest time the contract allows."""
    failed = _failed_fragments(case, settle)
    ready: dict[int, float] = {}
    for k, f in enumerate(case.fragments):
        failing = [settle[u][0] for u in f.uses if u != f.append and not settle[u][1]]
        if failing:  # a fragment fails as soon as one of its inputs fails
            ready[k] = max(shell_time, min(failing))
            continue
        times = [settle[u][0] for u in f.uses if u != f.append]
        if f.append is not None:
            end, _, batches = settle[f.append]
            times.append(batches[0] if batches else end)
        ready[k] = max([shell_time, *times])
    dropped: set[int] = set()
    for k, f in enumerate(case.fragments):  # parents come first
        if f.parent is not None and (f.parent in failed or f.parent in dropped):
            dropped.add(k)
    emit = {k: t for k, t in ready.items() if k not in dropped}

    def value(k: int) -> float:  # a dropped fragment goes out with its failed ancestor
        parent = case.fragments[k].parent
        return value(parent) if k in dropped else emit[k]  # type: ignore[arg-type]

    changed = True
    while changed:
        changed = False
        for k in emit:
            f = case.fragments[k]
            floor = value(f.parent) if f.parent is not None else shell_time
            if f.reveal is not None:
                group = [m for m, g in enumerate(case.fragments) if g.reveal == f.reveal]
                floor = max([floor] + [value(m) for m in group])
            if floor > emit[k]:
                emit[k] = floor
                changed = True
    emit = {k: value(k) for k in range(len(case.fragments))}
    return {case.fragments[k].target: t for k, t in emit.items()}


def _first_output(settle, q: int) -> float:
    end, _, batches = settle[q]
    return batches[0] if batches else end


def _last_byte(case: Case, settle, shell_time: float) -> float:
    failed = _failed_fragments(case, settle)
    dropped: set[int] = set()
    for k, f in enumerate(case.fragments):
        if f.parent is not None and (f.parent in failed or f.parent in dropped):
            dropped.add(k)
    times = [shell_time]
    for k, f in enumerate(case.fragments):
        failing = [settle[u][0] for u in f.uses if u != f.append and not settle[u][1]]
        if k in dropped:
            continue
        if failing:
            times.append(min(failing))
        elif f.raises and f.append is not None:  # its renderer fails on the first batch
            times.extend(
                [_first_output(settle, f.append)] + [settle[u][0] for u in f.uses if u != f.append]
            )
        else:
            times.extend(settle[u][0] for u in f.uses)
    # Every exposed query is awaited: its data reaches the page once it succeeds.
    times.extend(
        settle[i][0]
        for i, q in enumerate(case.queries)
        if q.expose and not q.batches and not q.shell
    )
    return max(times)


@given(cases())
def test_random_graphs_keep_the_contract_at_the_earliest_times(case: Case) -> None:
    settle = case.settle_times()
    shell = [i for i, q in enumerate(case.queries) if q.shell]
    shell_fails = any(not settle[i][1] for i in shell)
    shell_time = max((settle[i][0] for i in shell), default=0.0)
    for mode in MODES:
        if shell_fails:
            with pytest.raises((ShellError, NotFound)):
                _run(case, mode)
            continue
        timeline = _run(case, mode)
        assert check_contract(timeline) == [], timeline.format()
        if mode != "buffered":
            assert math.isclose(timeline.writes[0].time, shell_time, abs_tol=1e-9)
        if not shell:
            assert timeline.writes[0].time == 0 or mode == "buffered"
        assert math.isclose(timeline.writes[-1].time, _last_byte(case, settle, shell_time)), (
            mode,
            timeline.format(),
        )
        if mode == "out-of-order":
            expected = _expected_emissions(case, settle, shell_time)
            for target, time in expected.items():
                assert math.isclose(timeline.time_of(target), time), (
                    target,
                    time,
                    timeline.format(),
                )


@settings(max_examples=2 * settings().max_examples)  # 300 by default
@given(tied_cases())
def test_ties_go_by_declaration_order_inside_and_between_reveal_groups(case: Case) -> None:
    """Out of order, where priority ties and reveal groups are the rule rather than the
    exception: the scheduler's declaration-order tiebreaks, checked on every write."""
    timeline = _run(case, "out-of-order")
    assert check_contract(timeline) == [], timeline.format()
