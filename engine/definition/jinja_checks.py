"""Definition checks of Jinja2 templates: names against ``uses``, attributes against result types.

Attributes are checked where the syntax tree shows statically which declared type an
expression has: a used query (``product.nam``), a field of it (``product.maker.nmae``),
a ``for`` variable over a list, tuple or set of a known type (``{% for r in reviews %}
{{ r.autor }}``), an index of one (``reviews[0].autor``), and ``Optional`` of those.
Records are msgspec Structs, dataclasses and attrs classes; methods and properties of
the class count as attributes; ``{% set %}`` and ``{% with %}`` of such an expression
keep its type. Values that pass through a filter, a call, a literal, a macro argument or
an include are not followed: they are checked when rendered (every
template is strict, so a missing attribute still fails, then, naming the line).
"""

from __future__ import annotations

import collections.abc
import dataclasses
import re
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import msgspec
from jinja2 import nodes

from schemas import Fragment

from ..markup.jinja import JinjaError, JinjaShell, JinjaTemplate, environment, with_markers
from ..markup.templates import Template, TemplateSyntaxError
from ..wire.format import NONCE_PLACEHOLDER
from .layouts import Flat
from .nodes import QueryNode, Report
from .signatures import type_name

__all__ = ["attribute_problems", "check_jinja_shell", "jinja_fragment"]

_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)

_UNKNOWN: Any = object()
_SEQUENCES = {
    list,
    tuple,
    set,
    frozenset,
    collections.abc.Sequence,
    collections.abc.Iterable,
    collections.abc.Collection,
    collections.abc.Set,
}


@attrs.frozen
class JinjaFragment:
    render: Callable[[Mapping[str, Any]], str]
    slots: tuple[str, ...]
    markup: str
    """The template's text with its slots as markers: where each slot sits in the HTML."""


def jinja_fragment(
    f: Fragment,
    *,
    key: str,
    directory: Path,
    used: list[QueryNode | None],
    report: Report,
) -> JinjaFragment | None:
    """Compile the Jinja template of ``f`` and check it against its ``uses``."""
    node = f.target
    field = "jinja" if f.jinja is not None else "jinja_source"
    where = f"{key}.{field}"
    file = directory / f.jinja if f.jinja is not None else None
    try:
        compiled = JinjaTemplate.compile(
            environment(*_search(directory, file)), file=file, source=f.jinja_source
        )
    except JinjaError as error:
        report.problem(str(error), node=node, key=where)
        return None
    unknown = sorted(compiled.undeclared - set(f.uses))
    if unknown and len(used) == len(f.uses):  # a misspelled name in 'uses' is reported already
        report.problem(
            f"template reads {', '.join(unknown)}, not in 'uses' (add the query to 'uses',"
            " or fix the name)",
            node=node,
            key=where,
        )
    for message in _slot_problems(compiled):
        report.problem(message, node=node, key=where)
    if f.slots and set(f.slots) != set(compiled.slots):
        report.problem(
            f"'slots' {list(f.slots)} disagree with the template's slots {list(compiled.slots)}",
            node=node,
            key=f"{key}.slots",
        )
    declared = {q.name: q.result for q in used if q is not None}
    for message in attribute_problems(compiled.trees[0][1], declared, compiled.label):
        report.problem(message, node=node, key=where)
    return JinjaFragment(compiled.render, compiled.slots, with_markers(compiled.source))


def check_jinja_shell(
    flat: Flat, report: Report, index: Mapping[str, int], queries: list[QueryNode | None]
) -> tuple[JinjaShell | None, str]:
    """Check each layer's Jinja2 shell in its own file, then compile the folded shell.

    Returns the shell (``None`` if it cannot be built) and the plain HTML after ``</body>``.
    """
    names = flat.page.shell.queries
    known = [queries[index[n]] for n in names if n in index]
    types_ = {q.name: q.result for q in known if q is not None}
    allowed = {*names, NONCE_PLACEHOLDER}
    broken = False
    for i, layer in enumerate(flat.layers):
        texts = (layer.shell.head,) if layer.jinja_key else (layer.text, layer.shell.head)
        for text in texts:
            key = "$.shell.head" if text is layer.shell.head else "$.shell.html"
            try:
                unknown = sorted(Template.parse(text).roots - allowed)
            except TemplateSyntaxError as error:
                report.problem(str(error), key=key, layer=i)
                broken = True  # the folded shell holds the same mistake
                continue
            if unknown:
                report.problem(
                    f"shell refers to {', '.join(unknown)}, not among the shell queries",
                    key=key,
                    layer=i,
                )
        if layer.jinja_key is None:
            continue
        file = layer.jinja_file
        search = _search(layer.directory, file)
        try:
            compiled = JinjaTemplate.compile(
                environment(*search), file=file, source=layer.shell.jinja_source
            )
        except JinjaError as error:
            report.problem(str(error), key=layer.jinja_key, layer=i)
            broken = True
            continue
        unknown = sorted(compiled.undeclared - allowed)
        if unknown:
            report.problem(
                f"shell template reads {', '.join(unknown)}, not among the shell queries",
                key=layer.jinja_key,
                layer=i,
            )
        for message in _slot_problems(compiled):
            report.problem(message, key=layer.jinja_key, layer=i)
        for message in attribute_problems(compiled.trees[0][1], types_, compiled.label):
            report.problem(message, key=layer.jinja_key, layer=i)
    source = flat.jinja_source or ""
    ends = list(_BODY_END.finditer(source))
    root_key = flat.layers[0].jinja_key or "$.shell.html"
    if not ends:
        report.problem(
            "a Jinja2 shell writes the document's </body> in its own text (not through"
            " extends or include): what follows it goes out after the last fragment",
            key=root_key,
            layer=0,
        )
        return None, ""
    body, tail = source[: ends[-1].start()], source[ends[-1].start() :]
    if "{{" in tail or "{%" in tail:
        report.problem(
            "after </body> a Jinja2 shell must be plain HTML: it goes out after the last"
            " fragment, when the shell queries' values are long gone",
            key=root_key,
            layer=0,
        )
    folded = [d for layer in flat.layers for d in _search(layer.directory, layer.jinja_file)]
    try:
        compiled = JinjaTemplate.compile(
            environment(*dict.fromkeys(folded)), file=None, source=body
        )
    except JinjaError as error:
        if not broken:  # a layer's own error already says it with its file and line
            report.problem(f"the folded shell: {error}", key=root_key, layer=0)
        return None, tail
    return JinjaShell(compiled), tail


def _search(directory: Path, file: Path | None) -> tuple[Path, ...]:
    """Where a template's includes resolve: its declaring file's directory, then its own."""
    if file is None or file.parent == directory:
        return (directory,)
    return (directory, file.parent)


def _slot_problems(compiled: JinjaTemplate) -> list[str]:
    problems = []
    for use in compiled.slot_uses:
        if use.name is None:
            problems.append(
                f"{use.file}:{use.line}: slot() takes the slot's name as a literal string"
            )
        elif use.inside is not None:
            problems.append(
                f"{use.file}:{use.line}: slot {use.name!r} is inside {use.inside}: a slot must"
                " appear exactly once in the rendered HTML, so it cannot be repeated, left out"
                " or rendered by a macro; move it out (its own fragment can loop or decide)"
            )
    return problems


def attribute_problems(tree: nodes.Template, types_: Mapping[str, Any], label: str) -> list[str]:
    """Each attribute read in ``tree`` that the declared types show does not exist."""
    checker = _Checker(label)
    checker.walk(tree, {name: tp for name, tp in types_.items()})
    return checker.problems


class _Checker:
    def __init__(self, label: str) -> None:
        self.label = label
        self.problems: list[str] = []

    def walk(self, node: nodes.Node, scope: dict[str, Any]) -> None:
        # type_of walks the expression it types (reporting its attributes once), so a value
        # that is typed is not walked again.
        if isinstance(node, nodes.For):
            inner = dict(scope, loop=_UNKNOWN)
            self.bind(node.target, _element(self.type_of(node.iter, scope)), inner)
            for child in (*node.body, *([node.test] if node.test else [])):
                self.walk(child, inner)
            for child in node.else_:
                self.walk(child, scope)
        elif isinstance(node, nodes.Macro | nodes.CallBlock):
            for default in node.defaults:
                self.walk(default, scope)
            if isinstance(node, nodes.CallBlock):
                self.walk(node.call, scope)
            inner = dict(scope, caller=_UNKNOWN, varargs=_UNKNOWN, kwargs=_UNKNOWN)
            for arg in node.args:
                inner[arg.name] = _UNKNOWN
            for child in node.body:
                self.walk(child, inner)
        elif isinstance(node, nodes.Assign):
            self.bind(node.target, self.type_of(node.node, scope), scope)
        elif isinstance(node, nodes.AssignBlock):
            for child in node.body:
                self.walk(child, scope)
            self.bind(node.target, _UNKNOWN, scope)
        elif isinstance(node, nodes.With):
            inner = dict(scope)
            for target, value in zip(node.targets, node.values, strict=False):
                self.bind(target, self.type_of(value, scope), inner)
            for child in node.body:
                self.walk(child, inner)
        elif isinstance(node, nodes.Getattr | nodes.Getitem):
            self.type_of(node, scope)
        else:
            for child in node.iter_child_nodes():
                self.walk(child, scope)

    def bind(self, target: nodes.Node, tp: Any, scope: dict[str, Any]) -> None:
        if isinstance(target, nodes.Name):
            scope[target.name] = tp
        else:  # unpacking: not followed
            for name in target.find_all(nodes.Name):
                scope[name.name] = _UNKNOWN

    def type_of(self, node: nodes.Node, scope: Mapping[str, Any]) -> Any:
        """The declared type of ``node``, or ``_UNKNOWN``; reports missing attributes."""
        if isinstance(node, nodes.Name):
            return scope.get(node.name, _UNKNOWN)
        if isinstance(node, nodes.Getattr):
            return self.attribute(node, self.type_of(node.node, scope), node.attr)
        if isinstance(node, nodes.Getitem):
            owner = self.type_of(node.node, scope)
            arg = node.arg
            if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
                return self.attribute(node, owner, arg.value)
            self.walk(arg, dict(scope))
            if isinstance(arg, nodes.Const) and isinstance(arg.value, int):
                return _element(owner)
            return _UNKNOWN
        self.walk(node, dict(scope))
        return _UNKNOWN

    def attribute(self, node: nodes.Getattr | nodes.Getitem, owner: Any, name: str) -> Any:
        owner = _unwrap_optional(owner)
        fields = _fields(owner)
        if fields is None:
            return _UNKNOWN
        if name in fields:
            return fields[name]
        if hasattr(owner, name):  # a method or a property
            return _UNKNOWN
        known = ", ".join(fields) or "none"
        self.problems.append(
            f"{self.label}:{node.lineno}: {_text(node)} reads {name!r}, but"
            f" {type_name(owner)} has no such field (its fields: {known})"
        )
        return _UNKNOWN


def _fields(tp: Any) -> dict[str, Any] | None:
    """The fields of a record type with their types; ``None`` for anything else."""
    if not isinstance(tp, type):
        return None
    try:
        if issubclass(tp, msgspec.Struct):
            return {f.name: f.type for f in msgspec.structs.fields(tp)}
        if dataclasses.is_dataclass(tp):
            hints = _hints(tp)
            return {f.name: hints.get(f.name, _UNKNOWN) for f in dataclasses.fields(tp)}
        if attrs.has(tp):
            hints = _hints(tp)
            return {f.name: hints.get(f.name, _UNKNOWN) for f in attrs.fields(tp)}
    except (TypeError, NameError):  # annotations that do not resolve: nothing to check
        return None
    return None


def _hints(tp: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(tp)
    except Exception:  # unresolvable annotations: field names are still known
        return {}


def _unwrap_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(tp) if a is not type(None)]
        return rest[0] if len(rest) == 1 else _UNKNOWN
    return tp


def _element(tp: Any) -> Any:
    tp = _unwrap_optional(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin not in _SEQUENCES or not args:
        return _UNKNOWN
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        return _UNKNOWN
    return args[0]


def _text(node: nodes.Node) -> str:
    """``r.author`` for the expression, as far as it is a dotted name."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        return f"{_text(node.node)}.{node.attr}"
    if isinstance(node, nodes.Getitem):
        arg = node.arg
        inner = repr(arg.value) if isinstance(arg, nodes.Const) else "…"
        return f"{_text(node.node)}[{inner}]"
    return "…"
