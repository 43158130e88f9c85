"""Definition checks of a page's fragments: queries used, renderers and their types."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from schemas import Fragment, Page

from ..markup.templates import Template, TemplateSyntaxError, slot_names
from ..markup.urls import unsafe_url_placeholders
from .jinja_checks import jinja_fragment
from .nodes import PRIORITIES, FragmentNode, QueryNode, Report, is_async
from .paths import path_problem
from .signatures import annotations_of, compatible, describe, keyword_problems, type_name
from .suggest import did_you_mean

__all__ = ["check_fragments"]

_RENDERERS = ("render", "template", "jinja", "jinja_source")


def check_fragments(
    page: Page,
    report: Report,
    query_index: Mapping[str, int],
    queries: list[QueryNode | None],
    directory_of: Callable[[int], Path] = lambda i: Path.cwd(),
) -> tuple[dict[str, int], list[FragmentNode | None]]:
    """Index the fragments and check each; ``None`` stands for one too broken to build.

    ``directory_of(i)`` is where fragment ``i``'s relative template paths resolve from.
    """
    checks = _FragmentChecks(page, report, directory_of)
    index = checks.index_fragments()
    fragments = [checks.fragment(i, f, query_index, queries) for i, f in enumerate(page.fragments)]
    return index, fragments


class _FragmentChecks:
    def __init__(self, page: Page, report: Report, directory_of: Callable[[int], Path]) -> None:
        self.page = page
        self.report = report
        self.directory_of = directory_of

    def index_fragments(self) -> dict[str, int]:
        index: dict[str, int] = {}
        for i, f in enumerate(self.page.fragments):
            if f.target in index:
                self.report.problem(
                    f"two fragments fill slot {f.target!r}",
                    node=f.target,
                    key=f"$.fragments[{i}].target",
                )
            else:
                index[f.target] = i
        return index

    def fragment(
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
                self.report.problem(
                    f"uses unknown query {name!r}{did_you_mean(name, index)}",
                    node=node,
                    key=f"{key}.uses[{j}]",
                )
            else:
                uses.append(index[name])
        used = [queries[u] for u in uses]
        batched = [q for q in used if q is not None and q.batched]
        batch_query: int | None = None
        if f.mode == "append":
            if len(batched) != 1:
                self.report.problem(
                    "an append fragment uses exactly one batched query (an async generator);"
                    f" found {len(batched)}",
                    node=node,
                    key=f"{key}.uses",
                )
            else:
                batch_query = batched[0].index
        elif batched:
            self.report.problem(
                f'uses batched query {batched[0].name!r}: set mode = "append"',
                node=node,
                key=f"{key}.mode",
            )
        for field, text in (("fallback", f.fallback), ("error", f.error or "")):
            if slot_names(text):
                self.report.problem(
                    f"{field} HTML must not contain slot markers: they would never be filled",
                    node=node,
                    key=f"{key}.{field}",
                )
        renderer: Callable[[Mapping[str, Any]], Any] | None
        markup = f.template
        if f.jinja is None and f.jinja_source is None:
            renderer, slots = self.renderer(f, key, used, known=len(uses) == len(f.uses))
        elif not self.exactly_one_renderer(f, key):
            return None
        else:
            directory = self.directory_of(i)
            jinja = jinja_fragment(f, key=key, directory=directory, used=used, report=self.report)
            if jinja is None:
                return None
            renderer, slots, markup = jinja.render, jinja.slots, jinja.markup
        if renderer is None:
            return None
        return FragmentNode(
            index=i,
            target=f.target,
            uses=tuple(uses),
            renderer=renderer,
            priority=PRIORITIES[f.priority] if isinstance(f.priority, str) else f.priority,
            fallback=f.fallback,
            error=f.error,
            append=f.mode == "append",
            batch_query=batch_query,
            stylesheets=f.stylesheets,
            slots=slots,
            reveal=f.reveal,
            markup=markup,
        )

    def exactly_one_renderer(self, f: Fragment, key: str) -> bool:
        chosen = [n for n in _RENDERERS if getattr(f, n) is not None]
        if len(chosen) == 1:
            return True
        found = f" (found {', '.join(chosen)})" if chosen else ""
        self.report.problem(
            f"set exactly one of {', '.join(map(repr, _RENDERERS))}{found}", node=f.target, key=key
        )
        return False

    def renderer(
        self, f: Fragment, key: str, used: list[QueryNode | None], *, known: bool
    ) -> tuple[Callable[[Mapping[str, Any]], Any] | None, tuple[str, ...]]:
        node = f.target
        if not self.exactly_one_renderer(f, key):
            return None, ()
        if f.template is not None:
            try:
                template = Template.parse(f.template)
            except TemplateSyntaxError as error:
                self.report.problem(str(error), node=node, key=f"{key}.template")
                return None, ()
            for unsafe in unsafe_url_placeholders(f.template):
                self.report.warn(str(unsafe), node=node, key=f"{key}.template")
            declared = {q.name: q.result for q in used if q is not None}
            for expr in template.exprs:
                if expr.root in declared:
                    problem = path_problem(expr, declared[expr.root], "fragment")
                    if problem is not None:
                        self.report.problem(problem, node=node, key=f"{key}.template")
            unknown = sorted(template.roots - set(f.uses))
            if unknown and known:  # a misspelled name in 'uses' is reported already
                hint = did_you_mean(unknown[0], f.uses) if len(unknown) == 1 else ""
                self.report.problem(
                    f"template refers to {', '.join(unknown)}, not in 'uses'{hint}",
                    node=node,
                    key=f"{key}.template",
                )
            if f.slots and set(f.slots) != set(template.slots):
                self.report.problem(
                    f"'slots' {list(f.slots)} disagree with the template's markers"
                    f" {list(template.slots)}",
                    node=node,
                    key=f"{key}.slots",
                )
            return template.render, template.slots
        fn = self.report.resolve_callable(f.render, node=node, key=f"{key}.render")
        if fn is None:
            return None, ()
        if is_async(fn):
            self.report.problem(
                f"renderer {describe(fn)} is async: fetch data in queries, render synchronously",
                node=node,
                key=f"{key}.render",
            )
        # With a misspelled name in 'uses', the renderer's signature would report the same
        # mistake twice more (an unknown keyword, a missing one): one mistake, one error.
        for message in keyword_problems(fn, f.uses) if known else ():
            self.report.problem(
                f"renderer {describe(fn)} {message}", node=node, key=f"{key}.render"
            )
        hints = annotations_of(fn)
        for q in used:
            if q is not None and q.name in hints and not compatible(hints[q.name], q.result):
                self.report.problem(
                    f"renderer parameter {q.name!r} is annotated {type_name(hints[q.name])} but"
                    f" query {q.name!r} declares {type_name(q.result)}",
                    node=node,
                    key=f"{key}.render",
                )

        def call_renderer(values: Mapping[str, Any]) -> Any:
            return fn(**values)

        return call_renderer, f.slots
