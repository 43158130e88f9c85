"""The parser context each slot sits in: flow content, a table, a select, SVG or MathML.

Late content must land correctly wherever its slot is. Template contents parse in
any context, but text in a table is foster-parented out of it, options only live
in a select, and SVG elements are only SVG inside ``<svg>``. Knowing the static
ancestor chain of every slot at definition time lets ``engine check`` warn about a
fallback that would misplace, and the wire wrap SVG content so it keeps its namespace.
"""

from __future__ import annotations

import re
from typing import Literal

from .templates import MARKER

__all__ = ["Context", "slot_contexts", "stray_text"]

Context = Literal["flow", "table", "select", "svg", "math"]

_TOKEN = re.compile(
    r"<!--.*?-->|<(script|style|textarea|title)\b.*?</\1\s*>|(?P<marker>"
    + MARKER.pattern
    + r")|<(?P<close>/)?(?P<tag>[A-Za-z][A-Za-z0-9-]*)[^>]*?(?P<self>/)?>",
    re.DOTALL | re.IGNORECASE,
)
_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    ]
)
_OWN = {
    "table": "table",
    "tbody": "table",
    "thead": "table",
    "tfoot": "table",
    "tr": "table",
    "select": "select",
    "datalist": "select",
    "optgroup": "select",
    "svg": "svg",
    "math": "math",
    "td": "flow",
    "th": "flow",
    "caption": "flow",
    "foreignobject": "flow",
    "option": "flow",
}


def slot_contexts(html: str, base: Context = "flow") -> dict[str, Context]:
    """The context of each ``<?marker>`` in ``html``, itself placed in ``base``."""
    stack: list[str] = []
    found: dict[str, Context] = {}
    for match in _TOKEN.finditer(html):
        if match["marker"] is not None:
            name = match.group(3) if match.group(3) is not None else match.group(4)
            found[name] = _innermost(stack, base)
            continue
        tag = (match["tag"] or "").lower()
        if not tag:
            continue
        if match["close"]:
            if tag in stack:
                del stack[len(stack) - 1 - stack[::-1].index(tag) :]
        elif tag not in _VOID and not match["self"]:
            stack.append(tag)
    return found


def _innermost(stack: list[str], base: Context) -> Context:
    for tag in reversed(stack):
        if tag in _OWN:
            return _OWN[tag]  # type: ignore[return-value]
    return base


_TAG = re.compile(
    r"<!--.*?-->|<(?P<close>/)?(?P<tag>[A-Za-z][A-Za-z0-9-]*)[^>]*?(?P<self>/)?>", re.DOTALL
)


def stray_text(html: str) -> str | None:
    """Text outside any element: what a table foster-parents out of itself."""
    depth, pos, stray = 0, 0, []
    for match in _TAG.finditer(html):
        if depth == 0:
            stray.append(html[pos : match.start()])
        pos = match.end()
        tag = (match["tag"] or "").lower()
        if not tag or tag in _VOID or match["self"]:
            continue
        depth = max(depth - 1, 0) if match["close"] else depth + 1
    if depth == 0:
        stray.append(html[pos:])
    text = "".join(stray).strip()
    return text or None
