"""Definition checks of a page's queries: names, callables, types, dependencies, cycles."""

from __future__ import annotations

from collections.abc import Mapping

from schemas import Page, Query

from ..context.resources import Resources
from .caching import cache_policy
from .convert import convertible
from .inputs import check_resource_names, context_arguments, declared_resources, param_sources
from .loaders import check_loaders
from .nodes import QueryNode, Report, is_async, is_batched, loop_of
from .signatures import (
    annotations_of,
    compatible,
    defaulted_parameters,
    describe,
    keyword_problems,
    type_name,
)
from .suggest import did_you_mean

__all__ = ["check_queries"]


def check_queries(
    page: Page, report: Report
) -> tuple[dict[str, int], list[QueryNode | None], Resources | None]:
    """Index the queries and check each; ``None`` stands for a query too broken to build."""
    checks = _QueryChecks(page, report)
    index = checks.index_queries()
    sources = param_sources(page, report)
    resources = declared_resources(page, report)
    queries = [checks.query(i, q, index, sources[i], resources) for i, q in enumerate(page.queries)]
    checks.check_cycles(index)
    checks.check_dependency_types(queries, index)
    return index, queries, resources


_FIELDS = {"parameter": "params", "resource": "resources", "loader": "loaders"}


class _QueryChecks:
    def __init__(self, page: Page, report: Report) -> None:
        self.page = page
        self.report = report

    def index_queries(self) -> dict[str, int]:
        index: dict[str, int] = {}
        for i, q in enumerate(self.page.queries):
            if q.name in index:
                self.report.problem("duplicate query name", node=q.name, key=f"$.queries[{i}].name")
            else:
                index[q.name] = i
        return index

    def query(
        self,
        i: int,
        q: Query,
        index: Mapping[str, int],
        sources: Mapping[str, str],
        resources: Resources | None,
    ) -> QueryNode | None:
        key = f"$.queries[{i}]"
        params = tuple(sources)
        call = self.report.resolve_callable(q.call, node=q.name, key=f"{key}.call")
        result = self.report.resolve_type(q.result, node=q.name, key=f"{key}.result")
        if result is not None and not convertible(result):
            self.report.problem(
                f"neither msgspec nor cattrs can convert to {type_name(result)}, so no result"
                " could be checked: declare a type one of them knows (or Any to take results"
                " unchecked)",
                node=q.name,
                key=f"{key}.result",
            )
        depends_on: list[int] = []
        for j, dep in enumerate(q.depends_on):
            if dep == q.name:
                self.report.problem("depends on itself", node=q.name, key=f"{key}.depends_on[{j}]")
            elif dep not in index:
                self.report.problem(
                    f"depends on unknown query {dep!r}{did_you_mean(dep, index)}",
                    node=q.name,
                    key=f"{key}.depends_on[{j}]",
                )
            else:
                depends_on.append(index[dep])
        resources_known = check_resource_names(self.report, i, q, resources)
        loaders = check_loaders(self.report, i, q, call)
        loader_names = tuple(item.name for item in loaders)
        named = (
            ("dependency", q.depends_on),
            ("parameter", params),
            ("resource", q.resources),
            ("loader", loader_names),
        )
        for a, (what_a, names_a) in enumerate(named):
            for what_b, names_b in named[a + 1 :]:
                overlap = sorted(set(names_a) & set(names_b))
                if overlap:
                    self.report.problem(
                        f"{', '.join(overlap)} named both as {what_a} and as {what_b}",
                        node=q.name,
                        key=f"{key}.{_FIELDS[what_b]}",
                    )
        if call is None or result is None:
            return None
        context = context_arguments(call)
        taken = sorted(set(context) & {*q.depends_on, *params, *q.resources, *loader_names})
        if taken:
            self.report.problem(
                f"{', '.join(taken)} of {describe(call)} is annotated engine.Request or"
                " engine.Response, so the engine passes that object: do not also declare it",
                node=q.name,
                key=f"{key}.call",
            )
        given = (*q.depends_on, *params, *q.resources, *loader_names, *context)
        # A misspelled dependency, resource or loader is reported above; the signature would
        # report it twice more.
        known = (
            len(depends_on) == len(q.depends_on)
            and resources_known
            and len(loaders) == len(q.loaders)
        )
        for message in keyword_problems(call, given) if known else ():
            if message.startswith("requires") and {"request", "response"} & set(
                message.replace(",", " ").split()
            ):
                message += (
                    " (annotate it: `request: engine.Request` receives the request,"
                    " `response: engine.Response` the response head)"
                )
            self.report.problem(
                f"callable {describe(call)} {message}", node=q.name, key=f"{key}.call"
            )
        hints = annotations_of(call)
        loop = loop_of(call, q.loop)
        if loop == "asyncio" and not is_async(call):
            self.report.problem(
                f"runs on asyncio but {describe(call)} is not async: a sync callable runs in a"
                ' worker thread; make it `async def` or drop `loop = "asyncio"`',
                node=q.name,
                key=f"{key}.loop",
            )
        batched = is_batched(call)
        cache = cache_policy(self.report, self.page.name, i, q, call, result, context, batched)
        return QueryNode(
            index=i,
            name=q.name,
            call=call,
            result=result,
            depends_on=tuple(depends_on),
            params=params,
            param_types={p: hints.get(p, str) for p in params},
            optional_params=defaulted_parameters(call) & frozenset(params),
            timeout=q.timeout,
            expose=q.expose,
            source=q.source,
            batched=batched,
            is_async=is_async(call),
            loop=loop,
            sources=sources,
            context=context,
            resources=q.resources,
            loaders=loaders,
            cache=cache,
        )

    def check_cycles(self, index: Mapping[str, int]) -> None:
        deps: dict[str, list[str]] = {}
        for q in self.page.queries:  # a duplicate name keeps its first declaration
            # a query depending on itself is reported as such, not again as a cycle
            deps.setdefault(q.name, [d for d in q.depends_on if d in index and d != q.name])
        state: dict[str, int] = {}  # 1: on the current path, 2: done
        reported: set[frozenset[str]] = set()
        # Depth-first, with an explicit stack: a chain of thousands of queries declared
        # dependents-first must not exhaust Python's recursion limit.
        for root in deps:
            if root in state:
                continue
            path: list[str] = [root]
            pending = [iter(deps[root])]
            state[root] = 1
            while pending:
                dep = next(pending[-1], None)
                if dep is None:
                    pending.pop()
                    state[path.pop()] = 2
                elif state.get(dep) == 1:
                    cycle = [*path[path.index(dep) :], dep]
                    if frozenset(cycle) not in reported:
                        reported.add(frozenset(cycle))
                        self.report.problem(f"dependency cycle: {' -> '.join(cycle)}", node=dep)
                elif dep not in state:
                    state[dep] = 1
                    path.append(dep)
                    pending.append(iter(deps.get(dep, ())))

    def check_dependency_types(
        self, queries: list[QueryNode | None], index: Mapping[str, int]
    ) -> None:
        for q in queries:
            if q is None:
                continue
            hints = annotations_of(q.call)
            for d in q.depends_on:
                dep = queries[d]
                if dep is None:
                    continue
                if dep.batched:
                    self.report.problem(
                        f"depends on {dep.name!r}, which yields batches: batched queries feed"
                        " append fragments only",
                        node=q.name,
                    )
                elif dep.name in hints and not compatible(hints[dep.name], dep.result):
                    self.report.problem(
                        f"parameter {dep.name!r} of {describe(q.call)} is annotated"
                        f" {type_name(hints[dep.name])} but query {dep.name!r} declares"
                        f" {type_name(dep.result)}",
                        node=q.name,
                        key=f"$.queries[{q.index}].depends_on",
                    )
