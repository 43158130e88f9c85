"""From a declared :class:`schemas.Page` to a checked, indexed :class:`Graph`.

All checking happens at definition time, and every problem is reported at once: the
layouts are folded into the page (``layouts``), then queries (``queries``), fragments
(``fragments``), the shell and slot tree (``slots``) are checked on the folded page. The
graph is immutable and shared by every render of the page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from schemas import Page

from .._errors import PageError, Problem
from ..context.resources import Resources
from ..markup.jinja import JinjaShell
from ..markup.templates import Template
from .actions import ActionNode, check_actions
from .bindings import check_bindings
from .fragments import check_fragments
from .inputs import check_response_users
from .layouts import Problems, flatten
from .nodes import FragmentNode, QueryNode, Report, is_async, loop_of
from .queries import check_queries
from .ranges import LayoutRange, PartShell
from .slots import SlotTree
from .validate import python_page_data, structure_problems

__all__ = ["FragmentNode", "Graph", "QueryNode", "ShellTemplate"]

ShellTemplate = Template | JinjaShell | PartShell
"""The shell: ``expand(values)`` gives its HTML, split at its slots, once shell queries resolve."""


@attrs.frozen
class Graph:
    """A page, checked and indexed for rendering (its layouts folded in)."""

    page: Page
    """The page as declared."""
    queries: tuple[QueryNode, ...]
    fragments: tuple[FragmentNode, ...]
    shell: ShellTemplate
    """The shell up to its closing ``</body>``; slots are expanded per mode."""
    shell_tail: str
    """``</body></html>``: goes out after the last chunk."""
    shell_queries: tuple[int, ...]
    shell_children: tuple[int, ...]
    query_index: Mapping[str, int]
    fragment_index: Mapping[str, int]
    warnings: tuple[Problem, ...] = ()
    source: str | None = None
    resources: Resources | None = None
    """The page's declared resources (``Page.resources``)."""
    actions: Mapping[str, ActionNode] = attrs.field(factory=dict)
    """What a POST to the page may run, by name (``Page.actions``)."""
    navigation: str | None = None
    """``"all"`` or ``"marked"``: the page streams its navigation (docs/navigation.md)."""
    ranges: tuple[LayoutRange, ...] = ()
    """With navigation: its layouts, outermost first, and the slots below each."""
    below: str | None = None
    """Set on a navigation view: the id of the layout whose content range it fills."""
    batched_queries: tuple[int, ...] = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda g: tuple(q.index for q in g.queries if q.batched), takes_self=True
        ),
    )
    resource_names: frozenset[str] = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda g: frozenset(
                [r for q in g.queries for r in q.resources]
                + [r for a in g.actions.values() for r in a.resources]
            ),
            takes_self=True,
        ),
    )
    """The resources some query or action of the page needs."""
    nested: bool = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda g: any(f.parent is not None for f in g.fragments), takes_self=True
        ),
    )
    """Some fragment fills a slot of another (flat pages skip the nesting bookkeeping)."""
    uses_loaders: bool = attrs.field(
        init=False,
        default=attrs.Factory(lambda g: any(q.loaders for q in g.queries), takes_self=True),
    )
    """Some query loads through a batched data source (``engine.Loader``)."""
    asyncio_queries: tuple[str, ...] = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda g: tuple(q.name for q in g.queries if q.loop == "asyncio"), takes_self=True
        ),
    )
    """Queries that run on asyncio: rendering the page needs an asyncio host loop."""
    root_queries: tuple[QueryNode, ...] = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda g: tuple(q for q in g.queries if not q.depends_on), takes_self=True
        ),
    )
    """Queries without dependencies: a render starts them at once."""
    param_queries: tuple[QueryNode, ...] = attrs.field(
        init=False,
        default=attrs.Factory(lambda g: tuple(q for q in g.queries if q.params), takes_self=True),
    )
    """Queries that read request parameters."""
    dependency_counts: tuple[int, ...] = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda g: tuple(len(q.depends_on) for q in g.queries), takes_self=True
        ),
    )
    """How many queries each query waits for."""
    limited: bool = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda g: any(q.source is not None or q.in_thread for q in g.queries), takes_self=True
        ),
    )
    """Some query's calls take a place in a data source (``engine.Sources``)."""
    cached: bool = attrs.field(
        init=False,
        default=attrs.Factory(lambda g: any(q.cache for q in g.queries), takes_self=True),
    )
    """Some query keeps its results across requests (``Query.cache``)."""
    # What every render of the page would otherwise work out again (its scheduler's setup).
    depth_order: tuple[int, ...] = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda g: tuple(f.index for f in sorted(g.fragments, key=lambda f: (f.depth, f.index))),
            takes_self=True,
        ),
    )
    """Fragment indexes, parents before their children (then in declaration order)."""
    reveal_groups: tuple[tuple[int, ...], ...] = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda g: tuple(
                f.group for f in g.fragments if len(f.group) > 1 and f.group[0] == f.index
            ),
            takes_self=True,
        ),
    )
    """The reveal groups of more than one fragment."""
    append_fragments: tuple[int, ...] = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda g: tuple(f.index for f in g.fragments if f.append), takes_self=True
        ),
    )
    constant_fragments: tuple[int, ...] = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda g: tuple(f.index for f in g.fragments if not f.uses), takes_self=True
        ),
    )
    """Fragments that use no query: their content is known when a render starts."""
    loose_data: tuple[int, ...] = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda g: tuple(
                q.index
                for q in g.queries
                if q.expose and not q.batched and q.index not in g.shell_queries
            ),
            takes_self=True,
        ),
    )
    """Exposed, unbatched queries outside the shell: their data may go out on its own."""
    prelude_fragments: frozenset[int] = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda g: frozenset(
                f.index
                for f in g.fragments
                if f.stylesheets or any(g.queries[u].expose for u in f.uses)
            ),
            takes_self=True,
        ),
    )
    """Fragments that may need data or a stylesheet sent before them."""

    @property
    def name(self) -> str:
        return self.page.name

    @classmethod
    def build(cls, page: Page, *, source: str | None = None) -> Graph:
        """Check ``page`` and index it; raise :class:`PageError` listing every problem."""
        return _build(page, source)

    def with_calls(self, calls: Mapping[str, Callable[..., Any]]) -> Graph:
        """The same graph with some query callables replaced (fakes in tests).

        A fake runs on trio unless it is marked ``@engine.on_asyncio`` itself, so a page
        whose queries need asyncio can be tested with plain fakes under ``trio.run``.
        """
        unknown = sorted(set(calls) - set(self.query_index))
        if unknown:
            raise KeyError(f"page {self.name!r} has no query {', '.join(unknown)}")
        queries = tuple(
            attrs.evolve(
                q,
                call=calls[q.name],
                is_async=is_async(calls[q.name]),
                loop=loop_of(calls[q.name]),
            )
            if q.name in calls
            else q
            for q in self.queries
        )
        return attrs.evolve(self, queries=queries)


def _build(page: Page, source: str | None) -> Graph:
    # A page built in Python was never decoded: check its structure as a file's would be.
    name = page.name if isinstance(page.name, str) else repr(page.name)
    problems = structure_problems(
        python_page_data(page), page=name, file=source, python=source is None
    )
    if problems:
        raise PageError(problems)
    folding = Problems()
    flat = flatten(page, source, folding)
    report = Report(page.name, source, flat.locate)
    report.errors.extend(folding.located)
    for message, layer, key, node in folding.found:
        report.problem(message, node=node, key=key, layer=layer)
    if folding.chain_broken:
        raise PageError(report.errors)
    query_index, queries, resources = check_queries(flat.page, report)
    fragment_index, fragments = check_fragments(
        flat.page, report, query_index, queries, flat.directory_of_fragment
    )
    actions = check_actions(flat.page, report, query_index, queries, resources)
    tree = SlotTree(flat, report)
    shell, tail, shell_queries = tree.shell(query_index, queries)
    _check_response_users(report, queries, shell_queries)
    shell_children = tree.link_slots(shell, fragments, fragment_index)
    check_bindings(flat, report, query_index, queries, fragments)
    if report.errors:
        raise PageError(report.errors + report.warnings)
    built_queries = _rank_queries(tree.link_queries(queries, fragments), fragments, shell_queries)
    built_fragments = tree.link_fragments(fragments, shell_children)
    tree.lint(built_queries, built_fragments)
    return Graph(
        page=page,
        queries=built_queries,
        fragments=built_fragments,
        shell=shell,
        shell_tail=tail,
        shell_queries=shell_queries,
        shell_children=shell_children,
        query_index=query_index,
        fragment_index=fragment_index,
        warnings=tuple(report.warnings),
        source=source,
        resources=resources,
        actions={a.name: a for a in actions},
        navigation=flat.navigation,
        ranges=flat.ranges,
    )


def _rank_queries(
    queries: tuple[QueryNode, ...],
    fragments: Sequence[FragmentNode | None],
    shell_queries: tuple[int, ...],
) -> tuple[QueryNode, ...]:
    """Give each query its urgency, once per page: the order calls waiting for a data source
    are admitted in.

    Shell queries and what they depend on come first (they gate the first byte); then
    each query ranks as the most urgent fragment that needs it, directly or through its
    dependents (higher priority, then declaration order, as the scheduler sends them);
    queries no fragment needs come last; declaration order breaks ties.
    """
    unneeded = (2.0, 0.0, 0.0)
    best: list[tuple[float, ...]] = [unneeded] * len(queries)
    for f in fragments:
        if f is not None:
            for u in f.uses:
                best[u] = min(best[u], (1.0, float(-f.priority), float(f.index)))
    # Dependents before what they depend on: a reverse topological walk (iterative, as a
    # chain may be thousands deep).
    remaining = [len(q.dependents) for q in queries]
    ready = [q.index for q in queries if not q.dependents]
    while ready:
        q = queries[ready.pop()]
        for d in q.depends_on:
            best[d] = min(best[d], best[q.index])
            remaining[d] -= 1
            if remaining[d] == 0:
                ready.append(d)
    stack = list(shell_queries)
    while stack:
        q = queries[stack.pop()]
        if best[q.index][0] != 0.0:
            best[q.index] = (0.0, 0.0, 0.0)
            stack.extend(q.depends_on)
    return tuple(attrs.evolve(q, urgency=(*best[q.index], float(q.index))) for q in queries)


def _check_response_users(
    report: Report, queries: list[QueryNode | None], shell_queries: tuple[int, ...]
) -> None:
    """The queries the first byte waits for: the shell's and what they depend on."""
    before: set[str] = set()
    stack = list(shell_queries)
    while stack:
        q = queries[stack.pop()]
        if q is not None and q.name not in before:
            before.add(q.name)
            stack.extend(q.depends_on)
    responders = {
        q.name: (q.index, arg, q.call)
        for q in queries
        if q is not None
        for arg, kind in q.context.items()
        if kind == "response"
    }
    check_response_users(report, responders, before)
