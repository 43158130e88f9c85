"""Jinja2 templates: compiled once when a page is built, rendered synchronously per fragment.

Every template is autoescaped and strict: a name that is not defined raises instead
of rendering as nothing. One environment per directory (the directory of the file
that declares the template), cached, so includes and macros resolve from there and a
template shared by several pages is compiled once. Slots are the marker text itself
or ``{{ slot("name") }}``; where they sit is read from the template's syntax tree,
because a slot must appear exactly once in the rendered HTML.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import attrs
import jinja2
import jinja2.meta
from jinja2 import nodes
from markupsafe import Markup

from .escaping import escape
from .templates import MARKER, Slot, embed_json, split_slots
from .urls import safe_url

__all__ = [
    "JinjaError",
    "JinjaShell",
    "JinjaTemplate",
    "SlotUse",
    "environment",
    "slot_marker",
    "with_markers",
]


class JinjaError(Exception):
    """A template cannot be compiled or rendered; the message names the file and line."""


def slot_marker(name: str) -> Markup:
    """``{{ slot("reviews") }}``: the slot marker, as markup."""
    return Markup('<?marker name="{}">').format(name)


SLOT_CALL = re.compile(r"""\{\{-?\s*slot\(\s*(?:"([^"]*)"|'([^']*)')\s*\)\s*-?\}\}""")
"""``{{ slot("x") }}`` written literally."""


def with_markers(text: str) -> str:
    """``text`` with every literal ``{{ slot("x") }}`` written as its marker."""
    return SLOT_CALL.sub(lambda m: slot_marker(m[1] if m[1] is not None else m[2]), text)


def _json(value: Any) -> Markup:
    """``{{ value|json }}``: JSON safe inside a ``<script>`` element (msgspec types too)."""
    return Markup(embed_json(value).decode())


FILTERS: dict[str, Any] = {"json": _json, "url": safe_url}
"""Filters every engine template environment has, beside Jinja's own."""


class _Template(jinja2.Template):
    """A template whose autoescaped output uses :func:`.escaping.escape`: markupsafe's own
    escaping, a fraction of the cost per value (the output is the same, byte for byte)."""

    @classmethod
    def from_code(
        cls,
        environment: jinja2.Environment,
        code: Any,
        globals: MutableMapping[str, Any],
        uptodate: Callable[[], bool] | None = None,
    ) -> jinja2.Template:
        template = super().from_code(environment, code, globals, uptodate)
        # The compiled module's namespace: its render functions and macros look ``escape`` up
        # there, where Jinja's code put markupsafe's (``from jinja2.runtime import escape``).
        template.root_render_func.__globals__["escape"] = escape
        return template


@functools.lru_cache(maxsize=64)
def environment(*search_path: Path) -> jinja2.Environment:
    """The environment for templates declared in files of ``search_path[0]``."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(p) for p in search_path]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,
        keep_trailing_newline=False,
    )
    env.template_class = _Template
    env.filters.update(FILTERS)
    env.globals["slot"] = slot_marker
    return env


@attrs.frozen
class SlotUse:
    """A slot in a template, and the construct around it that would repeat or drop it."""

    name: str | None
    """``None``: ``slot()`` called with something other than a literal name."""
    file: str
    line: int
    inside: str | None
    """``for``, ``if``, ``macro``… or ``None`` where it renders exactly once."""


@attrs.frozen(eq=False)
class JinjaTemplate:
    """A compiled template and what its syntax tree shows."""

    template: jinja2.Template
    source: str
    label: str
    """The file (or ``inline template``) for messages."""
    trees: tuple[tuple[str, nodes.Template], ...]
    """The syntax tree of the template and of every template it includes by name."""
    slot_uses: tuple[SlotUse, ...]
    undeclared: frozenset[str]
    """Names the template (and what it includes) reads from its context."""

    @classmethod
    def compile(
        cls, env: jinja2.Environment, *, file: Path | None, source: str | None
    ) -> JinjaTemplate:
        """Compile and analyse, once per process; raise :class:`JinjaError` naming file and line.

        Like the environment's own template cache (``auto_reload`` is off), a template file
        is read once: ``engine serve --reload`` restarts the process when files change.
        """
        return _compile(env, file, source)

    @classmethod
    def _compile(
        cls, env: jinja2.Environment, file: Path | None, source: str | None
    ) -> JinjaTemplate:
        label = str(file) if file is not None else "inline template"
        try:
            if file is not None:
                text = file.read_text(encoding="utf-8")
            else:
                assert source is not None
                text = source
        except OSError as exc:
            raise JinjaError(f"cannot read template {label}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise JinjaError(f"template {label} is not UTF-8: {exc}") from None
        parsed = _parse_all(env, label, text)
        trees = tuple(parsed.values())
        names = _undeclared(trees)  # compiles each tree: before the template is compiled
        if file is None:
            template = _from_string(env, text)
        else:
            template = env.get_template(_loader_name(env, file))
        slots = tuple(_slot_uses(parsed, trees[0][1], label, None, set()))
        return cls(
            template=template,
            source=text,
            label=label,
            trees=trees,
            slot_uses=slots,
            undeclared=frozenset(names - set(env.globals)),
        )

    @property
    def slots(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.slot_uses if s.name is not None)

    def render(self, values: Mapping[str, Any]) -> str:
        try:
            return self.template.render(values)
        except jinja2.TemplateError as exc:
            raise JinjaError(f"{self.label}{_line_of(exc, self.template)}: {exc}") from exc


@functools.lru_cache(maxsize=512)
def _compile(env: jinja2.Environment, file: Path | None, source: str | None) -> JinjaTemplate:
    return JinjaTemplate._compile(env, file, source)


@functools.lru_cache(maxsize=512)
def _from_string(env: jinja2.Environment, text: str) -> jinja2.Template:
    """Inline templates, compiled once (``get_template`` caches those of files)."""
    return env.from_string(text)


def _loader_name(env: jinja2.Environment, file: Path) -> str:
    """The name under which the environment's loader finds ``file``."""
    loader = env.loader
    assert isinstance(loader, jinja2.FileSystemLoader)
    # Absolute, not resolved: a template that is a symbolic link is found where it is linked.
    absolute = Path(os.path.abspath(file))
    for root in loader.searchpath:
        try:
            return absolute.relative_to(os.path.abspath(root)).as_posix()
        except ValueError:
            continue
    raise JinjaError(f"template {file} is outside {', '.join(loader.searchpath)}")


Parsed = dict[str | None, tuple[str, nodes.Template]]
"""The label and syntax tree of a template (``None``) and of each template it names."""


def _parse_all(env: jinja2.Environment, label: str, text: str) -> Parsed:
    """Parse the template and every template it names literally (includes, imports)."""
    parsed: Parsed = {}

    def parse(name: str | None, label: str, text: str) -> None:
        try:
            tree = env.parse(text)  # errors are named by label (_syntax)
        except jinja2.TemplateSyntaxError as exc:
            raise JinjaError(_syntax(exc, label)) from None
        parsed[name] = (label, tree)
        for included in jinja2.meta.find_referenced_templates(tree):
            if included is None or included in parsed:
                continue
            try:
                source, filename, _ = env.loader.get_source(env, included)  # type: ignore[union-attr]
            except jinja2.TemplateNotFound:
                roots = ", ".join(env.loader.searchpath)  # type: ignore[union-attr]
                raise JinjaError(
                    f"{label}: template {included!r} not found (looked in {roots})"
                ) from None
            parse(included, filename or included, source)

    parse(None, label, text)
    return parsed


def _undeclared(trees: tuple[tuple[str, nodes.Template], ...]) -> set[str]:
    """Names the templates read from their context: found by compiling each one, which is
    also what finds a filter or a test that no environment has (parsing does not)."""
    names: set[str] = set()
    for label, tree in trees:
        try:
            names |= jinja2.meta.find_undeclared_variables(tree)
        except jinja2.TemplateSyntaxError as exc:
            raise JinjaError(_syntax(exc, label)) from None
    return names


def _syntax(exc: jinja2.TemplateSyntaxError, label: str) -> str:
    return f"{label}:{exc.lineno}: template syntax error: {exc.message}"


def _line_of(exc: BaseException, template: jinja2.Template) -> str:
    """``:line`` of the innermost template frame of ``exc``'s traceback, if any."""
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == (template.filename or "<template>"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return f":{line}" if line is not None else ""


_REPEATING = {
    nodes.For: "a {% for %} loop",
    nodes.If: "an {% if %}",
    nodes.Macro: "a macro",
    nodes.CallBlock: "a {% call %} block",
    nodes.FilterBlock: "a {% filter %} block",
    nodes.CondExpr: "a conditional expression",
}


def _slot_uses(
    parsed: Parsed,
    node: nodes.Node,
    label: str,
    inside: str | None,
    including: set[str],
) -> Iterator[SlotUse]:
    """Every slot under ``node``, with the innermost construct that repeats or drops it."""
    if isinstance(node, nodes.TemplateData):
        for match in MARKER.finditer(node.data):
            line = node.lineno + node.data.count("\n", 0, match.start())
            yield SlotUse(match[1] if match[1] is not None else match[2], label, line, inside)
        return
    if (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.Name)
        and node.node.name == "slot"
    ):
        literal = len(node.args) == 1 and isinstance(node.args[0], nodes.Const)
        name = node.args[0].value if literal else None  # type: ignore[attr-defined]
        yield SlotUse(name if isinstance(name, str) else None, label, node.lineno, inside)
        return
    if isinstance(node, nodes.Include) and isinstance(node.template, nodes.Const):
        name = node.template.value
        if name not in including and name in parsed:  # each literal name was parsed
            label, tree = parsed[name]
            yield from _slot_uses(parsed, tree, label, inside, including | {name})
        return
    for kind, what in _REPEATING.items():
        if isinstance(node, kind):
            inside = inside or what
            break
    for child in node.iter_child_nodes():
        yield from _slot_uses(parsed, child, label, inside, including)


@attrs.frozen
class JinjaShell:
    """A shell rendered by Jinja2 once its shell queries are known, then split at its slots."""

    template: JinjaTemplate

    @property
    def slots(self) -> tuple[str, ...]:
        return self.template.slots

    def expand(self, values: Mapping[str, Any]) -> list[str | Slot]:
        return split_slots(self.template.render(values))
