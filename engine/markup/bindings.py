"""``data-bind`` items found in HTML text, read as the runtime reads them (docs/client.md).

The runtime binds an element's text (``q.path``), an attribute (``name:q.path``) or a class
(``.name:q.path``) to a path of an exposed query's value. Finding the items statically lets
the definition checks report a binding whose data can never reach the browser, and one the
runtime would refuse, before any request. Values with ``{{ }}`` or ``{% %}`` are decided when
rendered, so they are not read here.
"""

from __future__ import annotations

import re
from typing import Literal

import attrs

__all__ = ["Binding", "bindings"]

_SKIPPED = re.compile(r"<!--.*?-->", re.DOTALL)
_RAW_TEXT = re.compile(r"(<(script|style)\b[^>]*>).*?(</\2\s*>)", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"""<([A-Za-z][^\s/>]*)((?:[^<>"']|"[^"]*"|'[^']*')*)>""")
_ATTRIBUTE = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]*)))?""")
_DYNAMIC = re.compile(r"\{\{|\{%")

# The runtime's rules, word for word (engine/wire/runtime.js, bind).
_ATTRIBUTE_NAME = re.compile(r"[a-z][\w.:-]*", re.IGNORECASE | re.ASCII)
_NEVER_BOUND = {
    "style": "a strict CSP blocks style attributes; toggle a class instead",
    "srcdoc": "it is a document, not a value",
    **dict.fromkeys(
        ("attributename", "values", "from", "to", "by"),
        "an SVG animation value could turn a link into javascript:",
    ),
}

Target = Literal["text", "attribute", "class"]


@attrs.frozen
class Binding:
    """One ``data-bind`` item: what it sets, on which element, from which query and path."""

    item: str
    """As written: ``href:product.url``."""
    element: str
    target: Target
    name: str
    """The attribute or class (empty for the text)."""
    query: str
    path: tuple[str, ...]
    line: int = 1
    """Where its element starts in the text (from 1)."""

    @property
    def refused(self) -> str | None:
        """Why the runtime never applies this item, or None."""
        if self.element in ("script", "style"):
            return f"a <{self.element}> element is never bound (its text would run or style)"
        if not self.query:
            return "it names no query (write name:query.path)"
        if self.target != "attribute":
            return None
        lowered = self.name.lower()
        if not _ATTRIBUTE_NAME.fullmatch(self.name):
            return f"{self.name!r} is not an attribute name (a class is .name)"
        if lowered.startswith("on"):
            return "event handler attributes are never bound"
        reason = _NEVER_BOUND.get(lowered)
        return f"{lowered} is never bound: {reason}" if reason else None


def bindings(html: str) -> list[Binding]:
    """Every ``data-bind`` item of ``html`` whose value is written out (no placeholder)."""
    # What is dropped keeps its newlines, so that lines still count as in ``html``.
    text = _RAW_TEXT.sub(_keep_lines, _SKIPPED.sub(_keep_lines, html))
    found: list[Binding] = []
    for tag in _TAG.finditer(text):
        value = _data_bind(tag[2])
        if value is None or _DYNAMIC.search(value):
            continue
        line = text.count("\n", 0, tag.start()) + 1
        found.extend(_item(item, tag[1].lower(), line) for item in value.split())
    return found


def _data_bind(attributes: str) -> str | None:
    """An element's ``data-bind`` as the browser keeps it: the first, if it is written twice
    (``getAttribute`` reads that one); ``data-bind=`` inside another attribute's value is
    that value's text."""
    for attribute in _ATTRIBUTE.finditer(attributes):
        if attribute[1].lower() == "data-bind":
            return next((v for v in attribute.groups()[1:] if v is not None), "")
    return None


def _keep_lines(match: re.Match[str]) -> str:
    if match.re is _RAW_TEXT:
        inside = match[0][len(match[1]) : len(match[0]) - len(match[3])]
        return match[1] + "\n" * inside.count("\n") + match[3]
    return "\n" * match[0].count("\n")


def _item(item: str, element: str, line: int) -> Binding:
    name, colon, path = item.rpartition(":")
    if not colon:
        target: Target = "text"
    elif name.startswith(".") and len(name) > 1:
        target, name = "class", name[1:]
    else:
        target = "attribute"
    query, *rest = path.split(".")
    return Binding(item, element, target, name, query, tuple(rest), line)
