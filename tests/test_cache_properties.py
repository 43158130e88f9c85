"""Random pages with random cached queries keep the ordering contract when warm, and a query
whose whole input chain was cached resolves at once (hypothesis, trio's MockClock).

A hit resolves synchronously, inside another query's completion or the render's start: a new
timing for the scheduler, so the contract is checked on the cold render and the warm one, in
every mode.
"""

from __future__ import annotations

import msgspec
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine import Cache, NotFound, ShellError
from engine.testing import Timeline, check_contract, render_timeline
from tests.strategies import Case, cases

MODES = ("out-of-order", "in-order", "buffered")


@settings(max_examples=60)  # each example is six renders
@given(case=cases(), data=st.data())
def test_warm_pages_keep_the_contract_and_cached_chains_resolve_at_once(
    case: Case, data: st.DataObject
) -> None:
    cacheable = [i for i, q in enumerate(case.queries) if not q.batches]
    chosen = data.draw(st.sets(st.sampled_from(cacheable)) if cacheable else st.just(set()))
    page = case.page()
    queries = tuple(
        msgspec.structs.replace(q, cache=Cache(ttl=1e6)) if i in chosen else q
        for i, q in enumerate(page.queries)
    )
    page = msgspec.structs.replace(page, queries=queries)

    async def cold_and_warm(mode: str) -> tuple[Timeline, Timeline]:
        store = engine.MemoryStore()
        timelines = [
            await render_timeline(
                page,
                latencies=case.latencies(),
                failures=case.failures(),
                mode=mode,  # type: ignore[arg-type]
                cache=store,
            )
            for _ in range(2)
        ]
        return timelines[0], timelines[1]

    for mode in MODES:
        try:
            cold, warm = trio.run(
                cold_and_warm, mode, clock=trio.testing.MockClock(autojump_threshold=0)
            )
        except (ShellError, NotFound):
            continue  # a failing shell query: nothing is cached, the page is refused
        assert check_contract(cold) == [], cold.format()
        assert check_contract(warm) == [], warm.format()
        for i in chosen:
            chain = _closure(case, i)
            done = all(cold.queries[case.queries[j].name].outcome == "done" for j in chain)
            if done and chain <= chosen:
                assert warm.queries[case.queries[i].name].end == 0.0, warm.format()


def _closure(case: Case, i: int) -> set[int]:
    """``i`` and every query it depends on, transitively."""
    seen, stack = set(), [i]
    while stack:
        j = stack.pop()
        if j not in seen:
            seen.add(j)
            stack.extend(case.queries[j].deps)
    return seen
