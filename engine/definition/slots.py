"""The shell and the slot tree: who contains whom, in which parser context, linked once.

Runs after queries and fragments are checked on their own; it also lints what only
the whole tree shows (empty fallbacks, text fallbacks in tables, unused queries).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs
import msgspec

from ..markup.context import Context, slot_contexts, stray_text
from ..markup.jinja import JinjaShell
from ..markup.templates import Template
from ..wire.format import NONCE_PLACEHOLDER
from .jinja_checks import check_jinja_shell
from .layouts import Flat
from .nodes import FragmentNode, QueryNode, Report
from .signatures import type_name

__all__ = ["SlotTree"]

_BODY_END = (re.compile(r"</body\s*>", re.IGNORECASE), re.compile(r"</html\s*>", re.IGNORECASE))
_CHARSET = re.compile(r"<meta\s[^>]*charset", re.IGNORECASE)


class SlotTree:
    """Checks and links the shell, the slots and the nodes of one page."""

    def __init__(self, flat: Flat, report: Report) -> None:
        self.flat = flat
        self.page = flat.page
        self.report = report

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
        if Template.parse(tail).slots:
            self.report.problem(
                "slot markers after </body> cannot be filled", key="$.shell.html", layer=0
            )
        template = Template.parse(body)
        shell_queries = self.shell_queries(index, queries)
        if self.flat.jinja_source is None:
            self.check_roots(template)
            return template, tail, shell_queries
        jinja, tail = check_jinja_shell(self.flat, self.report, index, queries)
        return (jinja if jinja is not None else template), tail, shell_queries

    def shell_queries(
        self, index: Mapping[str, int], queries: list[QueryNode | None]
    ) -> tuple[int, ...]:
        shell_queries: list[int] = []
        for j, name in enumerate(self.page.shell.queries):
            if name not in index:
                self.report.problem(f"unknown shell query {name!r}", key=f"$.shell.queries[{j}]")
                continue
            q = queries[index[name]]
            if q is not None and q.batched:
                self.report.problem(
                    f"shell query {name!r} yields batches", key=f"$.shell.queries[{j}]"
                )
            shell_queries.append(index[name])
        return tuple(shell_queries)

    def check_roots(self, template: Template) -> None:
        """Every ``{{ name }}`` of the shell is a shell query (or the CSP nonce)."""
        unknown = sorted(template.roots - set(self.page.shell.queries) - {NONCE_PLACEHOLDER})
        by_layer: dict[int, list[str]] = {}
        for name in unknown:
            by_layer.setdefault(self.flat.shell_roots.get(name, -1), []).append(name)
        for layer, names in by_layer.items():
            self.report.problem(
                f"shell refers to {', '.join(names)}, not among the shell queries",
                key="$.shell.html",
                layer=layer if layer >= 0 else None,
            )

    def shell_key(self, layer: int | None) -> str:
        """The key of a layer's shell text: ``html``, or its Jinja2 template."""
        return self.flat.layers[-1 if layer is None else layer].jinja_key or "$.shell.html"

    def link_slots(
        self,
        shell: Template | JinjaShell,
        fragments: list[FragmentNode | None],
        index: Mapping[str, int],
    ) -> tuple[int, ...]:
        where: dict[str, str] = {}
        layers = self.flat.layers
        for slot in shell.slots:
            layer = self.flat.shell_slots.get(slot)
            if slot in where:
                self.report.problem(
                    f"slot {slot!r} appears twice in the shell",
                    key=self.shell_key(layer),
                    layer=layer,
                )
            where[slot] = (
                "the shell" if len(layers) == 1 else f"the shell of {layers[layer or 0].label}"
            )
        for f in fragments:
            if f is None:
                continue
            for slot in f.slots:
                if slot in where:
                    self.report.problem(
                        f"slot {slot!r} appears both in {where[slot]} and in fragment {f.target!r}",
                        node=f.target,
                    )
                where[slot] = f"fragment {f.target!r}"
        for slot, place in where.items():
            if slot not in index:
                layer = self.flat.shell_slots.get(slot) if place.startswith("the shell") else None
                self.report.problem(
                    f"slot {slot!r} in {place} is filled by no fragment",
                    node=slot,
                    key=self.shell_key(layer) if layer is not None else None,
                    layer=layer,
                )
        for i, declared in enumerate(self.page.fragments):
            if declared.target not in where:
                self.report.problem(
                    f"fills slot {declared.target!r}, which appears in no shell or fragment",
                    node=declared.target,
                    key=f"$.fragments[{i}].target",
                )
        return tuple(index[s] for s in shell.slots if s in index)

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
                        f" {field} cannot stay (a table moves it out for good): use"
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
