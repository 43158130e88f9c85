"""Calling a fragment's renderer and checking that its HTML can be placed.

Rendered HTML is kept split at its slot markers, so every mode can expand the
slots its own way without parsing the HTML again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import FragmentError
from ..definition.graph import FragmentNode, Graph
from ..markup.templates import Slot, split_slots, template_balance_error
from ..resolution.resolve import propagates

__all__ = ["Content", "render_content"]

Content = tuple[str | Slot, ...]
"""Rendered HTML, split at its slot markers."""


def render_content(graph: Graph, f: FragmentNode, values: Mapping[str, Any]) -> Content:
    """Render ``f`` from the values of the queries it uses."""
    try:
        html = f.renderer(values)
    except BaseException as exc:  # SystemExit and friends fail the fragment too
        if propagates(exc):
            raise
        raise FragmentError(
            f"renderer raised {type(exc).__name__}: {exc}", page=graph.name, fragment=f.target
        ) from exc
    if type(html) is not str:
        if not isinstance(html, str):
            raise FragmentError(
                f"renderer returned {type(html).__name__}, expected HTML as str",
                page=graph.name,
                fragment=f.target,
            )
        html = str(html)  # markupsafe.Markup and other str subclasses
    broken = template_balance_error(html)
    if broken is not None:
        raise FragmentError(broken, page=graph.name, fragment=f.target)
    if "<?" not in html and not f.slots:  # the common case: nothing to split
        return (html,)
    pieces = tuple(split_slots(html))
    found = [p.name for p in pieces if isinstance(p, Slot)]
    if sorted(found) != sorted(f.slots):
        raise FragmentError(
            f"rendered slots {found} but the fragment declares slots {list(f.slots)}",
            page=graph.name,
            fragment=f.target,
        )
    return pieces
