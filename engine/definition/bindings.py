"""Definition checks of client bindings: each ``data-bind`` reaches data that the page sends.

An element bound to a query that does not exist, or to one that is not exposed (its JSON
never reaches the browser), would silently never update; a path that no value of the
query's declared type has, likewise. Each is an error, as a slot that no fragment fills
is: the page declares a connection that can never be made. An item the runtime refuses
(an ``on*`` attribute, ``style``, a ``<script>``) is a warning: it is ignored, by design.

Found statically in the shell of every layer (HTML, or Jinja2 source) and in fragments
declared with ``template``, ``jinja`` or ``jinja_source`` (the template's own file: not
its includes, macros or what it extends). A ``render`` function's HTML is known only
when it runs, so its bindings are not checked, nor items in a value with ``{{ }}``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from ..markup.bindings import Binding, bindings
from .layouts import Flat
from .nodes import FragmentNode, QueryNode, Report
from .paths import json_path_problem
from .suggest import did_you_mean

__all__ = ["check_bindings"]

_FIELDS = ("template", "jinja", "jinja_source")
"""Where a fragment's HTML is written, when it is known before rendering."""


def check_bindings(
    flat: Flat,
    report: Report,
    index: Mapping[str, int],
    queries: list[QueryNode | None],
    fragments: list[FragmentNode | None],
) -> None:
    for html, file, key, layer, node in _sources(flat, fragments):
        found = bindings(html)
        for binding in found:
            if binding.refused is not None:
                report.warn(
                    f"{_where(file, [binding])}data-bind item {binding.item!r} is never applied:"
                    f" {binding.refused}",
                    node=node,
                    key=key,
                    layer=layer,
                )
        by_query: dict[str, list[Binding]] = {}
        for binding in found:
            if binding.refused is None:
                by_query.setdefault(binding.query, []).append(binding)
        for name, items in by_query.items():
            for message, about in _problems(name, items, index, queries):
                report.problem(_where(file, about) + message, node=node, key=key, layer=layer)


def _sources(
    flat: Flat, fragments: list[FragmentNode | None]
) -> Iterator[tuple[str, Path | None, str, int | None, str | None]]:
    """Each HTML text that may bind: (text, its template file, key, layer, node)."""
    for i, layer in enumerate(flat.layers):
        yield layer.text, layer.jinja_file, layer.jinja_key or "$.shell.html", i, None
        yield layer.shell.head, None, "$.shell.head", i, None
    for f in fragments:
        if f is None or f.markup is None:
            continue
        declared = flat.page.fragments[f.index]
        field = next(n for n in _FIELDS if getattr(declared, n) is not None)
        file = declared.jinja and flat.directory_of_fragment(f.index) / declared.jinja
        yield f.markup, file or None, f"$.fragments[{f.index}].{field}", None, f.target


def _where(file: Path | None, about: list[Binding]) -> str:
    """``site.html:3: `` for bindings in a template file: the key alone would not find them."""
    return f"{file}:{about[0].line}: " if file is not None else ""


def _problems(
    name: str,
    items: list[Binding],
    index: Mapping[str, int],
    queries: list[QueryNode | None],
) -> Iterator[tuple[str, list[Binding]]]:
    """One mistake, one error: a query missing or unexposed is said once for all its items."""
    unique = list({b.item: b for b in reversed(items)}.values())[::-1]  # first of each item
    listed = ", ".join(repr(b.item) for b in unique)
    what = f"data-bind items {listed} bind" if len(unique) > 1 else f"data-bind item {listed} binds"
    if name not in index:
        declared = f"{what} to query {name!r}, which this page does not declare"
        yield declared + did_you_mean(name, index), unique
        return
    query = queries[index[name]]
    if query is None:  # its own error says why
        return
    if not query.expose:
        yield (
            f"{what} to query {name!r}, which is not exposed: its data never reaches the"
            f" browser, so the element would never update; set expose = true on query"
            f" {name!r} (its whole value then goes to every visitor of the page) or remove"
            " the binding",
            unique,
        )
        return
    for binding in unique:
        problem = json_path_problem(name, binding.path, query.result)
        if problem is not None:
            yield (
                f"data-bind item {binding.item!r} leads nowhere: {problem}; the element would"
                " keep its server-rendered HTML for good",
                [binding],
            )
