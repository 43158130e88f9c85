"""HTML text: ``{{ path }}`` templates, slot markers, safe JSON embedding.

Everything interpolated is escaped with markupsafe unless it is already markup
(``__html__``). Slots are written with the platform's own point marker,
``<?marker name="x">``; the engine expands each one per mode.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import msgspec
from markupsafe import Markup

from .escaping import escape_text
from .urls import BLOCKED_URL, safe_url

__all__ = [
    "BLOCKED_URL",
    "FILTERS",
    "INSTEAD_OF_JINJA",
    "Expr",
    "Slot",
    "Template",
    "TemplateSyntaxError",
    "embed_json",
    "html",
    "safe_url",
    "slot_names",
    "split_slots",
    "template_balance_error",
]

_PLACEHOLDER = re.compile(
    r"\{\{\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\.\d+)*)\s*(?:\|\s*([A-Za-z_]\w*)\s*)?\}\}"
)
_ANY_PLACEHOLDER = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_STATEMENT = re.compile(r"\{%.*?%\}|\{#.*?#\}", re.DOTALL)
INSTEAD_OF_JINJA = "use a Jinja2 template (jinja = ...) or a render function"
"""Where to go when ``{{ path }}`` is not enough (one place, for every message saying it)."""
MARKER = re.compile(r"""<\?marker\s+name\s*=\s*(?:"([^"]*)"|'([^']*)')\s*\??>""", re.IGNORECASE)
_TEMPLATE_TAG = re.compile(r"<(/?)template[\s>/]", re.IGNORECASE)

_JSON_ESCAPES = (
    (b"&", b"\\u0026"),
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)


class TemplateSyntaxError(ValueError):
    """Text in ``{{ }}`` or ``{% %}`` that a ``{{ path }}`` template cannot mean."""


FILTERS: Mapping[str, Callable[[Any], Markup]] = {"url": safe_url}
"""What may follow a placeholder's path: ``{{ link | url }}``."""


@attrs.frozen
class Expr:
    """A ``{{ root.attr.attr }}`` placeholder, or ``{{ root.attr | filter }}``."""

    root: str
    path: tuple[str, ...]
    filter: str | None = None

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        value = values[self.root]
        for part in self.path:
            value = value[int(part)] if part.isdigit() else _lookup(value, part)
        return value if self.filter is None else FILTERS[self.filter](value)

    def __str__(self) -> str:
        path = ".".join((self.root, *self.path))
        return f"{{{{ {path} | {self.filter} }}}}" if self.filter else f"{{{{ {path} }}}}"


@attrs.frozen
class Slot:
    """A slot marker inside HTML."""

    name: str


Part = str | Expr | Slot


@attrs.frozen
class Template:
    """HTML with placeholders and slots, parsed once at definition time."""

    parts: tuple[Part, ...]
    _render: Callable[[Mapping[str, Any]], str] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_render", _compile(self.parts))

    @classmethod
    def parse(cls, text: str) -> Template:
        parts: list[Part] = []
        for piece in split_slots(text):
            if isinstance(piece, Slot):
                parts.append(piece)
                continue
            statement = _STATEMENT.search(piece)
            if statement is not None:
                raise TemplateSyntaxError(
                    f"{_clip(statement[0])} is Jinja syntax, and {{{{ }}}} templates only"
                    f" interpolate values: {INSTEAD_OF_JINJA}"
                )
            pos = 0
            for found in _ANY_PLACEHOLDER.finditer(piece):
                match = _PLACEHOLDER.fullmatch(found[0])
                if match is None:
                    raise TemplateSyntaxError(
                        f"cannot read {_clip(found[0])}: a placeholder is a path such as"
                        f" {{{{ query.field }}}} or {{{{ query.items.0 }}}}, optionally"
                        f" {{{{ query.link | url }}}}; for more, {INSTEAD_OF_JINJA}"
                    )
                if match[2] is not None and match[2] not in FILTERS:
                    raise TemplateSyntaxError(
                        f"unknown filter {match[2]!r} in {_clip(found[0])}: the filters are"
                        f" {', '.join(FILTERS)}; for others, {INSTEAD_OF_JINJA}"
                    )
                if found.start() > pos:
                    parts.append(piece[pos : found.start()])
                root, *path = match[1].split(".")
                parts.append(Expr(root, tuple(path), match[2]))
                pos = found.end()
            if pos < len(piece):
                parts.append(piece[pos:])
        return cls(tuple(parts))

    @property
    def roots(self) -> frozenset[str]:
        return frozenset(p.root for p in self.parts if isinstance(p, Expr))

    @property
    def exprs(self) -> tuple[Expr, ...]:
        return tuple(p for p in self.parts if isinstance(p, Expr))

    @property
    def slots(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parts if isinstance(p, Slot))

    def expand(self, values: Mapping[str, Any]) -> list[str | Slot]:
        """Interpolate ``values``, keeping the slots (the shell, per request)."""
        return [
            escape_text(part.evaluate(values)) if isinstance(part, Expr) else part
            for part in self.parts
        ]

    def render(self, values: Mapping[str, Any]) -> str:
        """Interpolate ``values``, keeping slot markers as written."""
        return self._render(values)


def _compile(parts: tuple[Part, ...]) -> Callable[[Mapping[str, Any]], str]:
    """The template as one Python function: every path unrolled, no per-part dispatch.

    A table rendered row by row with ``engine.html`` calls it once per row, so the loop over
    parts, the ``isinstance`` checks and the digit tests per step were most of its cost. Only
    ``repr()`` of the template's text, names and steps reaches the code, and each step is its
    own statement (no nesting, however long the path).
    """
    lines = ["def render(values):"]
    pieces: list[str] = []
    filters: dict[str, Callable[[Any], Markup]] = {}
    for n, part in enumerate(parts):
        if isinstance(part, str):
            pieces.append(repr(part))
        elif isinstance(part, Slot):
            pieces.append(repr(f'<?marker name="{part.name}">'))
        else:
            lines.append(f"    v = values[{part.root!r}]")
            for step in part.path:
                get = f"v[{int(step)}]" if step.isdigit() else f"lookup(v, {step!r})"
                lines.append(f"    v = {get}")
            if part.filter is not None:
                filters[f"filter_{n}"] = FILTERS[part.filter]
                lines.append(f"    v = filter_{n}(v)")
            lines.append(f"    s{n} = escape_text(v)")
            pieces.append(f"s{n}")
    lines.append(f"    return ''.join([{', '.join(pieces)}])")
    namespace: dict[str, Any] = {"lookup": _lookup, "escape_text": escape_text, **filters}
    exec(compile("\n".join(lines), "<engine template>", "exec"), namespace)
    return namespace["render"]  # type: ignore[no-any-return]


def _clip(text: str) -> str:
    return repr(text if len(text) <= 60 else f"{text[:57]}...")


_IS_MAPPING: dict[type, bool] = {}


def _lookup(value: Any, name: str) -> Any:
    # Keys before attributes ({{ d.items }} is the key "items" of a dict). The Mapping check
    # is memoized per type: the ABC check costs more than the lookup itself, per placeholder
    # per row of a table rendered with engine.html.
    cls = type(value)
    is_mapping = _IS_MAPPING.get(cls)
    if is_mapping is None:
        is_mapping = _IS_MAPPING[cls] = issubclass(cls, Mapping)
    return value[name] if is_mapping else getattr(value, name)


_as_markup = str.__new__  # Markup(text) without Markup.__new__'s checks: text is HTML already


@functools.lru_cache(maxsize=512)
def _renderer(text: str) -> Callable[[Mapping[str, Any]], str]:
    return Template.parse(text).render


def html(template: str, /, **values: Any) -> Markup:
    """Render an HTML snippet, escaping every ``{{ placeholder }}``.

    For function renderers: ``engine.html("<li>{{ r.title }}</li>", r=review)``.
    """
    return _as_markup(Markup, _renderer(template)(values))


def split_slots(text: str) -> list[str | Slot]:
    """Split HTML at its slot markers."""
    pieces: list[str | Slot] = []
    pos = 0
    for match in MARKER.finditer(text):
        if match.start() > pos:
            pieces.append(text[pos : match.start()])
        pieces.append(Slot(match.group(1) if match.group(1) is not None else match.group(2)))
        pos = match.end()
    if pos < len(text):
        pieces.append(text[pos:])
    return pieces


def slot_names(text: str) -> tuple[str, ...]:
    return tuple(p.name for p in split_slots(text) if isinstance(p, Slot))


def template_balance_error(text: str) -> str | None:
    """Why ``text`` would break out of the ``<template>`` that carries it, if it would."""
    if "template" not in text.lower():  # the common case, several times faster than the scan
        return None
    depth = 0
    for match in _TEMPLATE_TAG.finditer(text):
        depth += -1 if match.group(1) else 1
        if depth < 0:
            return "its HTML closes a <template> it did not open"
    return "its HTML leaves a <template> unclosed" if depth else None


def embed_json(value: Any) -> bytes:
    """JSON that is safe inside ``<script type="application/json">``.

    A string holding a lone surrogate (which UTF-8 cannot carry) is written with
    ``\\ud800``-style escapes, so ``JSON.parse`` gives back exactly the string Python had.
    """
    try:
        data = msgspec.json.encode(value)
    except UnicodeEncodeError:
        builtins = msgspec.to_builtins(value, str_keys=True)
        data = json.dumps(builtins, ensure_ascii=True, separators=(",", ":")).encode()
    for raw, escaped in _JSON_ESCAPES:
        if raw in data:
            data = data.replace(raw, escaped)
    return data
