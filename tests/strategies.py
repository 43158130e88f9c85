"""Hypothesis strategies: random page graphs with latencies, priorities and failures.

Each generated case also carries an independent model of when every query settles,
so tests can compare the engine's timeline with arithmetic done here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import trio
from hypothesis import strategies as st

from schemas import Fragment, Page, Query, Shell

TICK = 0.01


@dataclass
class QuerySpec:
    name: str
    deps: list[int]
    latency: float
    fails: bool = False
    timeout: float | None = None
    batches: int = 0  # > 0: a batched query yielding that many batches
    expose: bool = False
    shell: bool = False


@dataclass
class FragmentSpec:
    target: str
    uses: list[int]
    priority: int
    parent: int | None  # index of the containing fragment, None for the shell
    reveal: str | None = None
    stylesheets: tuple[str, ...] = ()
    raises: bool = False
    append: int | None = None  # index of its batched query
    children: list[int] = field(default_factory=list)


@dataclass
class Case:
    queries: list[QuerySpec]
    fragments: list[FragmentSpec]
    deadline: float | None

    # -- the page the engine renders ---------------------------------------------

    def page(self, *, live: bool = False) -> Page:
        """The page; ``live``: its calls wait their latency and fail as the case says, as
        real data calls would (otherwise ``render_timeline`` fakes both)."""
        queries = tuple(self._query(q, live) for q in self.queries)
        fragments = tuple(self._fragment(f) for f in self.fragments)
        slots = "".join(f'<?marker name="{f.target}">' for f in self.fragments if f.parent is None)
        html = (
            f'<!doctype html><html><head><meta charset="utf-8"></head><body>{slots}</body></html>'
        )
        shell = Shell(html=html, queries=tuple(q.name for q in self.queries if q.shell))
        return Page(
            name="case",
            shell=shell,
            queries=queries,
            fragments=fragments,
            deadline=self.deadline,
        )

    def _query(self, q: QuerySpec, live: bool) -> Query:
        latency = q.latency if live else 0.0
        fails = q.fails and live

        if q.batches:

            async def call(**deps: Any) -> Any:
                for i in range(q.batches):
                    if live:
                        await trio.sleep(latency)
                    if fails:
                        raise RuntimeError(f"{q.name} failed")
                    yield [i]

            result: Any = list[int]
        else:

            async def call(**deps: Any) -> int:
                if live:
                    await trio.sleep(latency)
                if fails:
                    raise RuntimeError(f"{q.name} failed")
                return 1 + sum(deps.values())

            result = int
        return Query(
            name=q.name,
            call=call,
            result=result,
            depends_on=tuple(self.queries[d].name for d in q.deps),
            timeout=q.timeout,
            expose=q.expose,
        )

    def _fragment(self, f: FragmentSpec) -> Fragment:
        markers = "".join(f'<?marker name="{self.fragments[c].target}">' for c in f.children)

        def render(**values: Any) -> str:
            if f.raises:
                raise RuntimeError(f"renderer of {f.target} broke")
            return f"<div>{f.target}:{sorted(values)}{markers}</div>"

        return Fragment(
            target=f.target,
            uses=tuple(self.queries[u].name for u in f.uses),
            render=render,
            priority=f.priority,
            fallback=f"<i>{f.target}…</i>",
            mode="append" if f.append is not None else "replace",
            stylesheets=f.stylesheets,
            slots=tuple(self.fragments[c].target for c in f.children),
            reveal=f.reveal,
        )

    def latencies(self) -> dict[str, float]:
        return {q.name: q.latency for q in self.queries}

    def failures(self) -> dict[str, BaseException]:
        return {q.name: RuntimeError(f"{q.name} failed") for q in self.queries if q.fails}

    # -- the model ----------------------------------------------------------------

    def settle_times(self) -> list[tuple[float, bool, list[float]]]:
        """For each query: (time it settles, succeeded, times of its batches)."""
        out: list[tuple[float, bool, list[float]]] = []
        deadline = self.deadline if self.deadline is not None else math.inf
        for q in self.queries:
            deps = [out[d] for d in q.deps]
            failed = [t for t, ok, _ in deps if not ok]
            if failed:
                out.append((min(failed), False, []))
                continue
            start = max((t for t, _, _ in deps), default=0.0)
            limit = min(deadline, start + q.timeout if q.timeout is not None else math.inf)
            if q.batches and not q.fails:
                times = [start + q.latency * (i + 1) for i in range(q.batches)]
                end = times[-1]
                if end > limit:
                    out.append((limit, False, [t for t in times if t < limit]))
                else:
                    out.append((end, True, times))
                continue
            end = start + q.latency
            if end > limit:
                out.append((limit, False, []))
            else:
                out.append((end, not q.fails, []))
        return out


def _distinct_timeout(draw: st.DrawFn) -> float | None:
    if not draw(st.booleans()) or draw(st.integers(0, 3)):
        return None
    # Never equal to a sum of latencies (multiples of TICK): no ties with a deadline.
    return draw(st.integers(0, 40)) * TICK + TICK / 2


@st.composite
def cases(draw: st.DrawFn, max_queries: int = 15, max_fragments: int = 15) -> Case:
    n = draw(st.integers(1, max_queries))
    queries: list[QuerySpec] = []
    for i in range(n):
        batches = draw(st.sampled_from([0, 0, 0, 0, 1, 2, 3]))
        plain = [j for j in range(i) if not queries[j].batches]
        deps = sorted(draw(st.sets(st.sampled_from(plain), max_size=3))) if plain else []
        queries.append(
            QuerySpec(
                name=f"q{i}",
                deps=deps,
                latency=draw(st.integers(0, 20)) * TICK,
                fails=draw(st.integers(0, 9)) == 0,
                timeout=_distinct_timeout(draw),
                batches=batches,
                expose=draw(st.booleans()),
            )
        )
    shell_candidates = [i for i, q in enumerate(queries) if not q.batches]
    for i in (
        draw(st.sets(st.sampled_from(shell_candidates), max_size=2)) if shell_candidates else ()
    ):
        queries[i].shell = True
    m = draw(st.integers(1, max_fragments))
    fragments: list[FragmentSpec] = []
    batched = [i for i, q in enumerate(queries) if q.batches]
    plain = [i for i, q in enumerate(queries) if not q.batches]
    for k in range(m):
        append = draw(st.sampled_from(batched)) if batched and draw(st.booleans()) else None
        uses = sorted(draw(st.sets(st.sampled_from(plain), max_size=3))) if plain else []
        if append is not None:
            uses = sorted({*uses, append})
        appendable_parents = [j for j in range(k) if fragments[j].append is None]
        parent = draw(st.sampled_from([None, *appendable_parents]))
        fragment = FragmentSpec(
            target=f"f{k}",
            uses=uses,
            priority=draw(st.integers(-2, 2)),
            parent=parent,
            reveal=draw(st.sampled_from([None, None, None, "g1", "g2"])),
            stylesheets=tuple(draw(st.sets(st.sampled_from(["/a.css", "/b.css"]), max_size=2))),
            raises=draw(st.integers(0, 14)) == 0,
            append=append,
        )
        fragments.append(fragment)
        if parent is not None:
            fragments[parent].children.append(k)
    deadline = draw(st.sampled_from([None, None, None, 0.155, 0.305]))
    return Case(queries, fragments, deadline)


@st.composite
def tied_cases(draw: st.DrawFn) -> Case:
    """Pages where the out-of-order tiebreaks decide: 6-12 fragments, mostly roots, ready
    together (one or two queries of 1-2 ticks, nothing in the shell), two priorities (many
    equal) and two reveal groups whose members mix priorities, so units tie with other roots.
    A planted tiebreak fault shows in about one example in eight (``cases`` rarely has one)."""
    queries = [
        QuerySpec(
            name=f"q{i}",
            deps=[],
            latency=draw(st.integers(1, 2)) * TICK,
            expose=draw(st.booleans()),
        )
        for i in range(draw(st.integers(1, 2)))
    ]
    fragments: list[FragmentSpec] = []
    for k in range(draw(st.integers(6, 12))):
        nested = k > 0 and draw(st.integers(0, 3)) == 0
        parent = draw(st.sampled_from(range(k))) if nested else None
        fragments.append(
            FragmentSpec(
                target=f"f{k}",
                uses=sorted(draw(st.sets(st.integers(0, len(queries) - 1), min_size=1))),
                priority=draw(st.integers(0, 1)),
                parent=parent,
                reveal=draw(st.sampled_from([None, "g1", "g2"])),
            )
        )
        if parent is not None:
            fragments[parent].children.append(k)
    return Case(queries, fragments, deadline=None)
