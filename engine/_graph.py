"""From a declared :class:`schemas.Page` to a checked, indexed :class:`Graph`.

All checking happens here, at definition time, and every problem is reported at
once. The graph is immutable and shared by every render of the page.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import msgspec

from schemas import Fragment, Page, Query

from ._context import Context, slot_contexts, stray_text
from ._errors import PageError, Problem
from ._markup import Template
from ._refs import RefError, import_ref, parse_type
from ._signatures import annotations_of, compatible, describe, keyword_problems, type_name

__all__ = ["FragmentNode", "Graph", "QueryNode"]

_PRIORITIES = {"high": 1, "normal": 0, "low": -1}
_BODY_END = (re.compile(r"</body\s*>", re.IGNORECASE), re.compile(r"</html\s*>", re.IGNORECASE))
_CHARSET = re.compile(r"<meta\s[^>]*charset", re.IGNORECASE)
_ASYNC_ITER_ORIGINS = {typing.AsyncIterator, typing.AsyncIterable, typing.AsyncGenerator}


@attrs.frozen
class QueryNode:
    index: int
    name: str
    call: Callable[..., Any]
    result: Any
    depends_on: tuple[int, ...]
    params: tuple[str, ...]
    param_types: Mapping[str, Any]
    timeout: float | None
    expose: bool
    batched: bool
    is_async: bool
    dependents: tuple[int, ...] = ()
    consumers: tuple[int, ...] = ()


@attrs.frozen
class FragmentNode:
    index: int
    target: str
    uses: tuple[int, ...]
    renderer: Callable[[Mapping[str, Any]], Any]
    priority: int
    fallback: str
    error: str | None
    append: bool
    batch_query: int | None
    stylesheets: tuple[str, ...]
    slots: tuple[str, ...]
    reveal: str | None
    parent: int | None = None
    children: tuple[int, ...] = ()
    group: tuple[int, ...] = ()
    depth: int = 0
    context: Context = "flow"
    """Parser context of its slot (a function renderer's slots inherit its own)."""


@attrs.frozen
class Graph:
    """A page, checked and indexed for rendering."""

    page: Page
    queries: tuple[QueryNode, ...]
    fragments: tuple[FragmentNode, ...]
    shell: Template
    """The shell up to its closing ``</body>``; slots are expanded per mode."""
    shell_tail: str
    """``</body></html>``: goes out after the last chunk."""
    shell_queries: tuple[int, ...]
    shell_children: tuple[int, ...]
    query_index: Mapping[str, int]
    fragment_index: Mapping[str, int]
    warnings: tuple[Problem, ...] = ()
    source: str | None = None

    @property
    def name(self) -> str:
        return self.page.name

    @classmethod
    def build(cls, page: Page, *, source: str | None = None) -> Graph:
        """Check ``page`` and index it; raise :class:`PageError` listing every problem."""
        return _Builder(page, source).build()

    def with_calls(self, calls: Mapping[str, Callable[..., Any]]) -> Graph:
        """The same graph with some query callables replaced (fakes in tests)."""
        unknown = sorted(set(calls) - set(self.query_index))
        if unknown:
            raise KeyError(f"page {self.name!r} has no query {', '.join(unknown)}")
        queries = tuple(
            attrs.evolve(
                q,
                call=calls[q.name],
                is_async=_is_async(calls[q.name]),
                batched=q.batched,
            )
            if q.name in calls
            else q
            for q in self.queries
        )
        return attrs.evolve(self, queries=queries)


def _is_async(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn) or (
        inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004
    )


def _is_batched(fn: Any) -> bool:
    if inspect.isasyncgenfunction(fn):
        return True
    returns = typing.get_type_hints(fn).get("return") if callable(fn) else None
    return typing.get_origin(returns) in {getattr(t, "__origin__", t) for t in _ASYNC_ITER_ORIGINS}


class _Builder:
    def __init__(self, page: Page, source: str | None) -> None:
        self.page = page
        self.source = source
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []

    def problem(self, message: str, *, node: str | None = None, key: str | None = None) -> None:
        self.errors.append(
            Problem(page=self.page.name, node=node, file=self.source, key=key, message=message)
        )

    def warn(self, message: str, *, node: str | None = None, key: str | None = None) -> None:
        self.warnings.append(
            Problem(
                page=self.page.name,
                node=node,
                file=self.source,
                key=key,
                message=message,
                severity="warning",
            )
        )

    def build(self) -> Graph:
        page = self.page
        query_index = self._index_queries()
        queries = [self._query(i, q, query_index) for i, q in enumerate(page.queries)]
        self._check_cycles(query_index)
        self._check_dependency_types(queries, query_index)
        fragment_index = self._index_fragments()
        fragments = [self._fragment(i, f, query_index, queries) for i, f in enumerate(page.fragments)]
        shell, tail, shell_queries = self._shell(query_index, queries)
        shell_children = self._link_slots(shell, fragments, fragment_index)
        if self.errors:
            raise PageError(self.errors + self.warnings)
        built_queries = self._link_queries(queries, fragments)
        built_fragments = self._link_fragments(fragments, shell_children)
        self._lint(built_queries, built_fragments)
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
            warnings=tuple(self.warnings),
            source=self.source,
        )

    # -- queries ---------------------------------------------------------------

    def _index_queries(self) -> dict[str, int]:
        index: dict[str, int] = {}
        for i, q in enumerate(self.page.queries):
            if q.name in index:
                self.problem("duplicate query name", node=q.name, key=f"$.queries[{i}].name")
            else:
                index[q.name] = i
        return index

    def _query(self, i: int, q: Query, index: Mapping[str, int]) -> QueryNode | None:
        key = f"$.queries[{i}]"
        call = self._resolve_callable(q.call, node=q.name, key=f"{key}.call")
        result = self._resolve_type(q.result, node=q.name, key=f"{key}.result")
        depends_on: list[int] = []
        for j, dep in enumerate(q.depends_on):
            if dep == q.name:
                self.problem("depends on itself", node=q.name, key=f"{key}.depends_on[{j}]")
            elif dep not in index:
                self.problem(
                    f"depends on unknown query {dep!r}", node=q.name, key=f"{key}.depends_on[{j}]"
                )
            else:
                depends_on.append(index[dep])
        overlap = sorted(set(q.depends_on) & set(q.params))
        if overlap:
            self.problem(
                f"{', '.join(overlap)} named both as dependency and as parameter",
                node=q.name,
                key=f"{key}.params",
            )
        if call is None or result is None:
            return None
        for message in keyword_problems(call, (*q.depends_on, *q.params)):
            self.problem(f"callable {describe(call)} {message}", node=q.name, key=f"{key}.call")
        hints = annotations_of(call)
        return QueryNode(
            index=i,
            name=q.name,
            call=call,
            result=result,
            depends_on=tuple(depends_on),
            params=q.params,
            param_types={p: hints.get(p, str) for p in q.params},
            timeout=q.timeout,
            expose=q.expose,
            batched=_is_batched(call),
            is_async=_is_async(call),
        )

    def _resolve_callable(self, ref: Any, *, node: str, key: str) -> Callable[..., Any] | None:
        if isinstance(ref, str):
            try:
                ref = import_ref(ref)
            except RefError as exc:
                self.problem(str(exc), node=node, key=key)
                return None
        if not callable(ref):
            self.problem(f"{ref!r} is not callable", node=node, key=key)
            return None
        return ref

    def _resolve_type(self, ref: Any, *, node: str, key: str) -> Any:
        if isinstance(ref, str):
            try:
                return parse_type(ref)
            except RefError as exc:
                self.problem(str(exc), node=node, key=key)
                return None
        return ref

    def _check_cycles(self, index: Mapping[str, int]) -> None:
        deps = {q.name: [d for d in q.depends_on if d in index] for q in self.page.queries}
        state: dict[str, int] = {}  # 1: on the current path, 2: done
        reported: set[frozenset[str]] = set()

        def visit(name: str, path: list[str]) -> None:
            state[name] = 1
            path.append(name)
            for dep in deps.get(name, ()):
                if state.get(dep) == 1:
                    cycle = [*path[path.index(dep) :], dep]
                    if frozenset(cycle) not in reported:
                        reported.add(frozenset(cycle))
                        self.problem(f"dependency cycle: {' -> '.join(cycle)}", node=dep)
                elif dep not in state:
                    visit(dep, path)
            path.pop()
            state[name] = 2

        for name in deps:
            if name not in state:
                visit(name, [])

    def _check_dependency_types(
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
                    self.problem(
                        f"depends on {dep.name!r}, which yields batches: batched queries feed"
                        " append fragments only",
                        node=q.name,
                    )
                elif dep.name in hints and not compatible(hints[dep.name], dep.result):
                    self.problem(
                        f"parameter {dep.name!r} of {describe(q.call)} is annotated"
                        f" {type_name(hints[dep.name])} but query {dep.name!r} declares"
                        f" {type_name(dep.result)}",
                        node=q.name,
                        key=f"$.queries[{q.index}].depends_on",
                    )

    # -- fragments -------------------------------------------------------------

    def _index_fragments(self) -> dict[str, int]:
        index: dict[str, int] = {}
        for i, f in enumerate(self.page.fragments):
            if f.target in index:
                self.problem(
                    f"two fragments fill slot {f.target!r}",
                    node=f.target,
                    key=f"$.fragments[{i}].target",
                )
            else:
                index[f.target] = i
        return index

    def _fragment(
        self,
        i: int,
        f: Fragment,
        index: Mapping[str, int],
        queries: list[QueryNode | None],
    ) -> FragmentNode | None:
        key = f"$.fragments[{i}]"
        node = f.target
        uses: list[int] = []
        for j, name in enumerate(f.uses):
            if name not in index:
                self.problem(f"uses unknown query {name!r}", node=node, key=f"{key}.uses[{j}]")
            else:
                uses.append(index[name])
        used = [queries[u] for u in uses]
        batched = [q for q in used if q is not None and q.batched]
        batch_query: int | None = None
        if f.mode == "append":
            if len(batched) != 1:
                self.problem(
                    "an append fragment uses exactly one batched query (an async generator);"
                    f" found {len(batched)}",
                    node=node,
                    key=f"{key}.uses",
                )
            else:
                batch_query = batched[0].index
        elif batched:
            self.problem(
                f"uses batched query {batched[0].name!r}: set mode = \"append\"",
                node=node,
                key=f"{key}.mode",
            )
        for field, text in (("fallback", f.fallback), ("error", f.error or "")):
            if Template.parse(text).slots:
                self.problem(f"{field} HTML must not contain slot markers", node=node, key=key)
        renderer, slots = self._renderer(f, key, used)
        if renderer is None:
            return None
        return FragmentNode(
            index=i,
            target=f.target,
            uses=tuple(uses),
            renderer=renderer,
            priority=_PRIORITIES[f.priority] if isinstance(f.priority, str) else f.priority,
            fallback=f.fallback,
            error=f.error,
            append=f.mode == "append",
            batch_query=batch_query,
            stylesheets=f.stylesheets,
            slots=slots,
            reveal=f.reveal,
        )

    def _renderer(
        self, f: Fragment, key: str, used: list[QueryNode | None]
    ) -> tuple[Callable[[Mapping[str, Any]], Any] | None, tuple[str, ...]]:
        node = f.target
        if (f.render is None) == (f.template is None):
            self.problem("set exactly one of 'render' and 'template'", node=node, key=key)
            return None, ()
        if f.template is not None:
            template = Template.parse(f.template)
            unknown = sorted(template.roots - set(f.uses))
            if unknown:
                self.problem(
                    f"template refers to {', '.join(unknown)}, not in 'uses'",
                    node=node,
                    key=f"{key}.template",
                )
            if f.slots and set(f.slots) != set(template.slots):
                self.problem(
                    f"'slots' {list(f.slots)} disagree with the template's markers"
                    f" {list(template.slots)}",
                    node=node,
                    key=f"{key}.slots",
                )
            return template.render, template.slots
        fn = self._resolve_callable(f.render, node=node, key=f"{key}.render")
        if fn is None:
            return None, ()
        if _is_async(fn):
            self.problem(
                f"renderer {describe(fn)} is async: fetch data in queries, render synchronously",
                node=node,
                key=f"{key}.render",
            )
        for message in keyword_problems(fn, f.uses):
            self.problem(f"renderer {describe(fn)} {message}", node=node, key=f"{key}.render")
        hints = annotations_of(fn)
        for q in used:
            if q is not None and q.name in hints and not compatible(hints[q.name], q.result):
                self.problem(
                    f"renderer parameter {q.name!r} is annotated {type_name(hints[q.name])} but"
                    f" query {q.name!r} declares {type_name(q.result)}",
                    node=node,
                    key=f"{key}.render",
                )

        def call_renderer(values: Mapping[str, Any]) -> Any:
            return fn(**values)

        return call_renderer, f.slots

    # -- shell and slots -------------------------------------------------------

    def _shell(
        self, index: Mapping[str, int], queries: list[QueryNode | None]
    ) -> tuple[Template, str, tuple[int, ...]]:
        shell = self.page.shell
        html = shell.html
        if not _CHARSET.search(html[:1024]):
            self.warn(
                "the shell has no <meta charset> in its first 1024 bytes; browsers may"
                " re-parse or mis-decode a streamed page",
                key="$.shell.html",
            )
        match = None
        for closing in _BODY_END:  # the last </body>, else the last </html>
            for match in closing.finditer(html):  # noqa: B007
                pass
            if match:
                break
        body, tail = (html[: match.start()], html[match.start() :]) if match else (html, "")
        if Template.parse(tail).slots:
            self.problem("slot markers after </body> cannot be filled", key="$.shell.html")
        template = Template.parse(body)
        shell_queries: list[int] = []
        for j, name in enumerate(shell.queries):
            if name not in index:
                self.problem(f"unknown shell query {name!r}", key=f"$.shell.queries[{j}]")
                continue
            q = queries[index[name]]
            if q is not None and q.batched:
                self.problem(
                    f"shell query {name!r} yields batches", key=f"$.shell.queries[{j}]"
                )
            shell_queries.append(index[name])
        unknown = sorted(template.roots - set(shell.queries))
        if unknown:
            self.problem(
                f"shell refers to {', '.join(unknown)}, not among the shell queries",
                key="$.shell.html",
            )
        return template, tail, tuple(shell_queries)

    def _link_slots(
        self,
        shell: Template,
        fragments: list[FragmentNode | None],
        index: Mapping[str, int],
    ) -> tuple[int, ...]:
        where: dict[str, str] = {}
        for slot in shell.slots:
            if slot in where:
                self.problem(f"slot {slot!r} appears twice in the shell", key="$.shell.html")
            where[slot] = "the shell"
        for f in fragments:
            if f is None:
                continue
            for slot in f.slots:
                if slot in where:
                    self.problem(
                        f"slot {slot!r} appears both in {where[slot]} and in fragment {f.target!r}",
                        node=f.target,
                    )
                where[slot] = f"fragment {f.target!r}"
        for slot, place in where.items():
            if slot not in index:
                self.problem(f"slot {slot!r} in {place} is filled by no fragment", node=slot)
        for i, f in enumerate(self.page.fragments):
            if f.target not in where:
                self.problem(
                    f"fills slot {f.target!r}, which appears in no shell or fragment",
                    node=f.target,
                    key=f"$.fragments[{i}].target",
                )
        return tuple(index[s] for s in shell.slots if s in index)

    # -- links, computed once the declarations are known to be sound ------------

    def _link_queries(
        self, queries: list[QueryNode | None], fragments: list[FragmentNode | None]
    ) -> tuple[QueryNode, ...]:
        dependents: dict[int, list[int]] = {i: [] for i in range(len(queries))}
        consumers: dict[int, list[int]] = {i: [] for i in range(len(queries))}
        for q in queries:
            for d in q.depends_on:  # type: ignore[union-attr]
                dependents[d].append(q.index)  # type: ignore[union-attr]
        for f in fragments:
            for u in f.uses:  # type: ignore[union-attr]
                consumers[u].append(f.index)  # type: ignore[union-attr]
        return tuple(
            attrs.evolve(q, dependents=tuple(dependents[i]), consumers=tuple(consumers[i]))
            for i, q in enumerate(queries)
            if q is not None
        )

    def _link_fragments(
        self, fragments: list[FragmentNode | None], shell_children: tuple[int, ...]
    ) -> tuple[FragmentNode, ...]:
        by_target = {f.target: f.index for f in fragments if f is not None}
        children = {f.index: tuple(by_target[s] for s in f.slots) for f in fragments if f}
        parent: dict[int, int | None] = dict.fromkeys(shell_children)
        for owner, kids in children.items():
            parent.update(dict.fromkeys(kids, owner))
        depth: dict[int, int] = {}
        for i in range(len(fragments)):
            d, p = 0, parent.get(i)
            while p is not None:
                d, p = d + 1, parent.get(p)
            depth[i] = d
        contexts: dict[str, Context] = dict(slot_contexts(self.page.shell.html))
        for f in sorted((f for f in fragments if f), key=lambda f: depth[f.index]):
            own = contexts.get(f.target, "flow")
            template = self.page.fragments[f.index].template
            inner = slot_contexts(template, own) if template is not None else {}
            contexts.update({slot: inner.get(slot, own) for slot in f.slots})
        groups: dict[str, list[int]] = {}
        for f in fragments:
            if f is not None and f.reveal is not None:
                groups.setdefault(f.reveal, []).append(f.index)
        return tuple(
            attrs.evolve(
                f,
                parent=parent.get(f.index),
                children=children[f.index],
                group=tuple(groups[f.reveal]) if f.reveal else (f.index,),
                depth=depth[f.index],
                context=contexts.get(f.target, "flow"),
            )
            for f in fragments
            if f is not None
        )

    def _lint(self, queries: tuple[QueryNode, ...], fragments: tuple[FragmentNode, ...]) -> None:
        for f in fragments:
            if not f.fallback.strip():
                self.warn(
                    "empty fallback: while it streams (and for good, to a visitor without"
                    " JavaScript in a browser without native partial updates) the slot is blank",
                    node=f.target,
                    key=f"$.fragments[{f.index}].fallback",
                )
        for f in fragments:
            if f.context not in ("table", "select"):
                continue
            for field, html in (("fallback", f.fallback), ("error", f.error or "")):
                text = stray_text(html)
                if text:
                    self.warn(
                        f"slot is inside a {f.context}, where the text {text[:30]!r} of its"
                        f" {field} cannot stay (a table moves it out for good): use"
                        f" {'rows' if f.context == 'table' else 'options'}",
                        node=f.target,
                        key=f"$.fragments[{f.index}].{field}",
                    )
        shell = set(self.page.shell.queries)
        for q in queries:
            if not (q.consumers or q.dependents or q.expose or q.name in shell):
                self.warn(
                    "no fragment, query or shell uses this query", node=q.name,
                    key=f"$.queries[{q.index}]",
                )
            try:
                msgspec.inspect.type_info(q.result)
            except (TypeError, ValueError):
                self.warn(
                    f"msgspec cannot convert to {type_name(q.result)}; results are checked"
                    " with cattrs instead",
                    node=q.name,
                    key=f"$.queries[{q.index}].result",
                )
