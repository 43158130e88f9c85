"""The shell and the slot tree: who contains whom, in which parser context, linked once.

Runs after queries and fragments are checked on their own; it also lints what only
the whole tree shows (empty fallbacks, text fallbacks in tables, unused queries).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs
import msgspec

from schemas import Fragment

from ..markup.context import Context, slot_contexts, stray_text
from ..markup.jinja import JinjaShell
from ..markup.templates import Template, TemplateSyntaxError, slot_names, split_slots
from ..markup.urls import unsafe_url_placeholders
from ..wire.format import NONCE_PLACEHOLDER
from .jinja_checks import check_jinja_shell
from .layouts import Flat
from .nodes import FragmentNode, QueryNode, Report
from .paths import path_problem
from .signatures import type_name
from .suggest import did_you_mean

__all__ = ["SlotTree", "declared_slots"]

_BODY_END = (re.compile(r"</body\s*>", re.IGNORECASE), re.compile(r"</html\s*>", re.IGNORECASE))
_CHARSET = re.compile(r"<meta\s[^>]*charset", re.IGNORECASE)
_STRAY_TEXT_FATE = {
    "table": "a table moves it out for good",
    "select": "a select shows only its options",
}


def declared_slots(fragment: Fragment) -> tuple[str, ...]:
    """The slots a fragment's HTML holds: its template's markers, else its ``slots``."""
    if fragment.template is not None:
        return slot_names(fragment.template)
    return fragment.slots


def _slots_key(fragment: Fragment, i: int) -> str:
    """The key that puts a slot in a fragment's HTML: its template's, else ``slots``."""
    for field in ("template", "jinja", "jinja_source"):
        if getattr(fragment, field) is not None:
            return f"$.fragments[{i}].{field}"
    return f"$.fragments[{i}].slots"


class SlotTree:
    """Checks and links the shell, the slots and the nodes of one page."""

    def __init__(self, flat: Flat, report: Report) -> None:
        self.flat = flat
        self.page = flat.page
        self.report = report
        self._tail_slots: tuple[str, ...] = ()

    def shell(
        self, index: Mapping[str, int], queries: list[QueryNode | None]
    ) -> tuple[Template | JinjaShell, str, tuple[int, ...]]:
        shell = self.page.shell
        html = shell.html
        if not _CHARSET.search(html[:1024]):
            self.report.warn(
                "the shell has no <meta charset> in its first 1024 bytes; browsers may"
                " re-parse or mis-decode a streamed page",
                key="$.shell.html",
                layer=0,
            )
        match = None
        for closing in _BODY_END:  # the last </body>, else the last </html>
            for match in closing.finditer(html):  # noqa: B007
                pass
            if match:
                break
        body, tail = (html[: match.start()], html[match.start() :]) if match else (html, "")
        self._tail_slots = slot_names(tail)
        if self._tail_slots:
            self.report.problem(
                "slot markers after </body> cannot be filled", key="$.shell.html", layer=0
            )
        shell_queries = self.shell_queries(index, queries)
        if self.flat.jinja_source is not None:
            jinja, tail = check_jinja_shell(self.flat, self.report, index, queries)
            slots_only = Template(tuple(split_slots(body)))
            return (jinja if jinja is not None else slots_only), tail, shell_queries
        template = self._parse_shell(body)
        self._warn_unsafe_urls()
        try:
            if Template.parse(tail).exprs:  # the tail goes out as written
                self.report.problem(
                    "placeholders after </body> are never filled: move them before it",
                    key="$.shell.html",
                    layer=0,
                )
        except TemplateSyntaxError as error:
            self.report.problem(str(error), key="$.shell.html", layer=0)
        self.check_paths(template, shell_queries, queries)
        self.check_roots(template, index)
        return template, tail, shell_queries

    def shell_queries(
        self, index: Mapping[str, int], queries: list[QueryNode | None]
    ) -> tuple[int, ...]:
        shell_queries: list[int] = []
        for j, name in enumerate(self.page.shell.queries):
            if name not in index:
                self.report.problem(
                    f"unknown shell query {name!r}{did_you_mean(name, index)}",
                    key=f"$.shell.queries[{j}]",
                )
                continue
            q = queries[index[name]]
            if q is not None and q.batched:
                self.report.problem(
                    f"shell query {name!r} yields batches", key=f"$.shell.queries[{j}]"
                )
            shell_queries.append(index[name])
        return tuple(shell_queries)

    def check_paths(
        self, template: Template, shell_queries: tuple[int, ...], queries: list[QueryNode | None]
    ) -> None:
        """Every ``{{ query.field }}`` of the shell exists in the query's declared type."""
        declared = {q.name: q.result for i in shell_queries if (q := queries[i]) is not None}
        for expr in template.exprs:
            if expr.root in declared:
                problem = path_problem(expr, declared[expr.root], "shell")
                if problem is not None:
                    layer = self.flat.shell_roots.get(expr.root)
                    self.report.problem(problem, key="$.shell.html", layer=layer)

    def check_roots(self, template: Template, index: Mapping[str, int]) -> None:
        """Every ``{{ name }}`` of the shell is a shell query (or the CSP nonce)."""
        shell_names = self.page.shell.queries
        unknown = sorted(template.roots - set(shell_names) - {NONCE_PLACEHOLDER})
        by_layer: dict[int, list[str]] = {}
        for name in unknown:
            by_layer.setdefault(self.flat.shell_roots.get(name, -1), []).append(name)
        for layer, names in by_layer.items():
            hint = ""
            if len(names) == 1:
                hint = (
                    f" (add {names[0]!r} to shell.queries)"
                    if names[0] in index
                    else did_you_mean(names[0], shell_names)
                )
            self.report.problem(
                f"shell refers to {', '.join(names)}, not among the shell queries{hint}",
                key="$.shell.html",
                layer=layer if layer >= 0 else None,
            )

    def shell_key(self, layer: int | None) -> str:
        """The key of a layer's shell text: ``html``, or its Jinja2 template."""
        return self.flat.layers[-1 if layer is None else layer].jinja_key or "$.shell.html"

    def _parse_shell(self, body: str) -> Template:
        """The document's template; syntax errors and unsafe URLs named in their own layer."""
        try:
            return Template.parse(body)
        except TemplateSyntaxError as error:
            folded = error
        reported = len(self.report.errors)
        for i, layer in enumerate(self.flat.layers):
            for field, text in (("html", layer.shell.html), ("head", layer.shell.head)):
                try:
                    Template.parse(text)
                except TemplateSyntaxError as error:
                    self.report.problem(str(error), key=f"$.shell.{field}", layer=i)
        if len(self.report.errors) == reported:  # only the folded document shows it
            self.report.problem(str(folded), key="$.shell.html")
        # Its slots still count, or every fragment of the shell would be reported missing too.
        return Template(tuple(split_slots(body)))

    def _warn_unsafe_urls(self) -> None:
        for i, layer in enumerate(self.flat.layers):
            for field, text in (("html", layer.shell.html), ("head", layer.shell.head)):
                for unsafe in unsafe_url_placeholders(text):
                    self.report.warn(str(unsafe), key=f"$.shell.{field}", layer=i)

    def link_slots(
        self,
        shell: Template | JinjaShell,
        fragments: list[FragmentNode | None],
        index: Mapping[str, int],
    ) -> tuple[int, ...]:
        # Slots come from each built fragment, or from what a fragment declares (its
        # template's markers or its 'slots') when its renderer failed to import: one
        # mistake, one error.
        where: dict[str, str | None] = {}  # slot -> the fragment holding it; None: the shell
        for slot in shell.slots:
            if slot in where:
                layer = self.flat.shell_slots.get(slot)
                self.report.problem(
                    f"slot {slot!r} appears twice in the shell",
                    key=self.shell_key(layer),
                    layer=layer,
                )
            where[slot] = None
        for slot in self._tail_slots:  # reported as unfillable already; not missing as well
            where.setdefault(slot, None)
        for i, f in enumerate(self.page.fragments):
            if f.target in index and index[f.target] != i:
                continue  # a second fragment for one slot is reported already
            built = fragments[i]
            for slot in built.slots if built is not None else declared_slots(f):
                if slot in where:
                    self.report.problem(
                        f"slot {slot!r} appears both in {self._place(slot, where[slot])} and in"
                        f" fragment {f.target!r}",
                        node=f.target,
                        key=_slots_key(f, i),
                    )
                    continue
                where[slot] = f.target
        for slot, owner in where.items():
            if slot not in index:
                layer = self.flat.shell_slots.get(slot) if owner is None else None
                self.report.problem(
                    f"slot {slot!r} in {self._place(slot, owner)} is filled by no fragment"
                    + did_you_mean(slot, [t for t in index if t not in where]),
                    node=slot,
                    key=self.shell_key(layer) if layer is not None else None,
                    layer=layer,
                )
        for i, f in enumerate(self.page.fragments):
            if f.target not in where:
                self.report.problem(
                    f"fills slot {f.target!r}, which appears in no shell or fragment"
                    + did_you_mean(f.target, [s for s in where if s not in index]),
                    node=f.target,
                    key=f"$.fragments[{i}].target",
                )
        self._check_slot_cycles(where, index)
        return tuple(index[s] for s in shell.slots if s in index)

    def _place(self, slot: str, owner: str | None) -> str:
        if owner is not None:
            return f"fragment {owner!r}"
        layers = self.flat.layers
        if len(layers) == 1:
            return "the shell"
        return f"the shell of {layers[self.flat.shell_slots.get(slot) or 0].label}"

    def _check_slot_cycles(self, where: Mapping[str, str | None], index: Mapping[str, int]) -> None:
        """A fragment whose HTML holds its own slot, directly or through others, can never be
        placed (and following its parents would never end)."""
        state: dict[str, int] = {}  # 1: on the chain being followed, 2: done
        for start in index:
            chain: list[str] = []
            slot: str | None = start
            while slot is not None and slot in where and slot not in state:
                state[slot] = 1
                chain.append(slot)
                slot = where[slot]
            if slot is not None and state.get(slot) == 1:
                holders = chain[chain.index(slot) :][::-1]  # each holds the next one's slot
                turn = holders.index(min(holders, key=index.__getitem__))
                cycle = holders[turn:] + holders[:turn]  # from the first declared
                path = " -> ".join([*cycle, cycle[0]])
                first = cycle[0]
                f = self.page.fragments[index[first]]
                why = (
                    f"fragment {first!r} holds its own slot, so it can never be placed):"
                    " remove the marker"
                    if len(cycle) == 1
                    else "each fragment's HTML holds the next one's slot, so none of them can"
                    " ever be placed): remove one of these markers"
                )
                self.report.problem(
                    f"slot cycle: {path} ({why}",
                    node=first,
                    key=_slots_key(f, index[first]),
                )
            for s in chain:
                state[s] = 2

    def link_queries(
        self, queries: list[QueryNode | None], fragments: list[FragmentNode | None]
    ) -> tuple[QueryNode, ...]:
        dependents: dict[int, list[int]] = {i: [] for i in range(len(queries))}
        consumers: dict[int, list[int]] = {i: [] for i in range(len(queries))}
        for q in queries:
            if q is not None:
                for d in q.depends_on:
                    dependents[d].append(q.index)
        for f in fragments:
            if f is not None:
                for u in f.uses:
                    consumers[u].append(f.index)
        return tuple(
            attrs.evolve(q, dependents=tuple(dependents[i]), consumers=tuple(consumers[i]))
            for i, q in enumerate(queries)
            if q is not None
        )

    def link_fragments(
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
            inner = slot_contexts(f.markup, own) if f.markup is not None else {}
            contexts.update({slot: inner.get(slot, own) for slot in f.slots})
        groups: dict[str, list[int]] = {}
        for node in fragments:
            if node is not None and node.reveal is not None:
                groups.setdefault(node.reveal, []).append(node.index)
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

    def lint(self, queries: tuple[QueryNode, ...], fragments: tuple[FragmentNode, ...]) -> None:
        for f in fragments:
            if not f.fallback.strip():
                self.report.warn(
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
                    self.report.warn(
                        f"slot is inside a {f.context}, where the text {text[:30]!r} of its"
                        f" {field} cannot stay ({_STRAY_TEXT_FATE[f.context]}): use"
                        f" {'rows' if f.context == 'table' else 'options'}",
                        node=f.target,
                        key=f"$.fragments[{f.index}].{field}",
                    )
        shell = set(self.page.shell.queries)
        for q in queries:
            if not (q.consumers or q.dependents or q.expose or q.name in shell):
                self.report.warn(
                    "no fragment, query or shell uses this query",
                    node=q.name,
                    key=f"$.queries[{q.index}]",
                )
            try:
                msgspec.inspect.type_info(q.result)
            except (TypeError, ValueError):
                self.report.warn(
                    f"msgspec cannot convert to {type_name(q.result)}; results are checked"
                    " with cattrs instead",
                    node=q.name,
                    key=f"$.queries[{q.index}].result",
                )
