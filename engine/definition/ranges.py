"""Layout ranges: how a page that streams its navigation marks what each layout holds.

With navigation on, the folded document writes each layout's content slot as a range,
``<?start name="engine-content-ID">…<?end>``, and the heads added below that layout as
another, ``<?start name="engine-head-ID">…<?end>`` before ``</head>``. ``ID`` identifies
the layout and every layout around it (a hash of their definitions), so a client that holds
the range of a layout with the same ID holds that very layout, and a navigation response
can fill only what lies below it (docs/navigation.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import attrs
import msgspec

from ..markup.templates import Slot

__all__ = [
    "CONTENT_PREFIX",
    "HEAD_PREFIX",
    "LayoutRange",
    "PartShell",
    "content_name",
    "head_name",
    "layout_id",
    "range_end",
    "range_start",
]

CONTENT_PREFIX = "engine-content-"
HEAD_PREFIX = "engine-head-"


@attrs.frozen
class LayoutRange:
    """One layout of a page with navigation: its identity and what lies below it."""

    id: str
    label: str
    """``layout 'site'``: how messages name it."""
    slots: frozenset[str]
    """The shell slots inside its content range (filled by the layers below)."""


def content_name(layout: str) -> str:
    return CONTENT_PREFIX + layout


def head_name(layout: str) -> str:
    return HEAD_PREFIX + layout


def range_start(name: str) -> str:
    return f'<?start name="{name}">'


def range_end() -> str:
    return "<?end>"


def _reference(value: Any) -> str:
    """A callable or type of a Python-built layout, by where it is defined."""
    module = getattr(value, "__module__", None)
    name = getattr(value, "__qualname__", None)
    return f"{module}:{name}" if module and name else repr(value)


def layout_id(parent: str, *parts: Any) -> str:
    """The identity of a layout: its definition and its parent's identity, hashed."""
    digest = hashlib.sha256(parent.encode())
    for part in parts:
        digest.update(b"\0" + msgspec.json.encode(part, enc_hook=_reference))
    return digest.hexdigest()[:16]


@attrs.frozen
class PartShell:
    """The shell of a navigation view: the whole shell, expanded (every shell query's
    placeholder, as for a GET), cut to the layout's two ranges, each as the template that
    fills it."""

    whole: Any
    """The page's shell (``Template`` or ``JinjaShell``)."""
    layout: str

    def expand(self, values: Mapping[str, Any]) -> list[str | Slot]:
        parts = self.whole.expand(values)
        out: list[str | Slot] = []
        for name in (head_name(self.layout), content_name(self.layout)):
            out.append(f'<template for="{name}">')
            out.extend(_cut(parts, range_start(name)))
            out.append("</template>")
        return out


def _cut(parts: list[str | Slot], start: str) -> list[str | Slot]:
    """The range that opens with ``start``, its markers included."""
    out: list[str | Slot] = []
    depth = 0
    for part in parts:
        if isinstance(part, Slot):
            if depth:
                out.append(part)
            continue
        text, at = part, 0
        if not depth:
            found = text.find(start)
            if found < 0:
                continue
            text, at, depth = text[found:], len(start), 1
        while depth:
            opens, ends = text.find("<?start ", at), text.find(range_end(), at)
            if ends < 0:
                out.append(text)
                break
            if 0 <= opens < ends:
                depth, at = depth + 1, opens + 1
            else:
                depth, at = depth - 1, ends + len(range_end())
                if not depth:
                    out.append(text[:at])
                    return out
    return out
